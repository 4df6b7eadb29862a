-- The configuration has one owner: paperspace.config resolves every option
-- of paperspace.new, defaults included, and client:settings() shows all of
-- it; the C core keeps no defaults of its own.
local paperspace = require "paperspace"
local config = require "paperspace.config"
local core = require "paperspace.core"

-- Options with no value unless given: the key (settings show has_api_key
-- instead), a CA bundle, and what the Lua layer keeps for itself.
local NO_DEFAULT = { api_key = true, ca_file = true, logger = true, loop = true, schedule = true }

describe("client:settings()", function()
  it("lists every option paperspace.new knows, with its effective default", function()
    local client = paperspace.new { api_key = "k-settings", base_url = "http://127.0.0.1:9" }
    local settings = client:settings()
    client:close()
    for name in pairs(config.options) do
      if not NO_DEFAULT[name] then
        assert.is_not_nil(settings[name], name .. " is missing from settings()")
      end
    end
    for name in pairs(settings) do
      assert.is_true(config.options[name] ~= nil or name == "has_api_key", name .. " is not an option")
    end
    assert.same({
      base_url = "http://127.0.0.1:9",
      timeout = 60,
      connect_timeout = 10,
      max_retries = 2,
      user_agent = config.user_agent(),
      max_response_bytes = 32 * 1024 * 1024,
      tls_verify = true,
      max_pages = 1000,
      max_concurrency = 8,
      max_host_connections = 8,
      has_api_key = true,
    }, settings)
  end)

  it("shows max_host_connections following max_concurrency, and each as given", function()
    local client = paperspace.new { base_url = "http://127.0.0.1:9", max_concurrency = 3 }
    assert.equal(3, client:settings().max_concurrency)
    assert.equal(3, client:settings().max_host_connections)
    assert.equal(3, client._core:capacity())
    client:close()
    client = paperspace.new { base_url = "http://127.0.0.1:9", max_concurrency = 5, max_host_connections = 2 }
    assert.equal(5, client:settings().max_concurrency)
    assert.equal(2, client:settings().max_host_connections)
    client:close()
  end)

  it("shows the whole User-Agent sent, the caller's suffix last", function()
    local client = paperspace.new { base_url = "http://127.0.0.1:9", user_agent = "my-ci/1.2" }
    assert.equal(config.user_agent("my-ci/1.2"), client:settings().user_agent)
    assert.matches("^lua%-paperspace/[^ ]+ %(.+; libcurl/.+%) my%-ci/1%.2$", client:settings().user_agent)
    client:close()
  end)
end)

describe("core.new", function()
  it("takes its values from the resolved configuration, with no defaults of its own", function()
    local cfg = config.resolve({ base_url = "http://127.0.0.1:9" }, function() return nil end)
    for _, name in ipairs { "user_agent", "timeout", "connect_timeout", "max_response_bytes",
                            "tls_verify", "max_concurrency", "max_host_connections" } do
      local partial = {}
      for k, v in pairs(cfg) do partial[k] = v end
      partial[name] = nil
      local ok, msg = pcall(core.new, partial)
      assert.is_false(ok, name)
      assert.matches("config%." .. name .. " is missing or invalid", msg)
    end
    core.new(cfg):close()
  end)
end)
