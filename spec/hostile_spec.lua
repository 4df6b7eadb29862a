-- Careless and hostile input: refused before anything is sent, naming what
-- was wrong; and timeouts that hold whatever the network does.
local helpers = require "spec.support.helpers"
local paperspace = require "paperspace"
local core = require "paperspace.core"
local socket = require "socket"

describe("configuration refusals", function()
  local cases = {
    { { api_key = "abc\r\nX-Injected: 1" }, "paperspace.new: api_key must not contain NUL, CR or LF" },
    { { api_key = "abc\ndef" }, "paperspace.new: api_key must not contain NUL, CR or LF" },
    { { api_key = "abc\0def" }, "paperspace.new: api_key must not contain NUL, CR or LF" },
    { { user_agent = "tool\r\nX-Injected: 1" }, "paperspace.new: user_agent must not contain NUL, CR or LF" },
    { { user_agent = 5 }, "paperspace.new: user_agent must be a string, got number" },
    { { base_url = "ftp://example.com" }, "paperspace.new: base_url must start with http:// or https://" },
    { { base_url = "file:///etc/passwd" }, "paperspace.new: base_url must start with http:// or https://" },
    { { base_url = "https://example.com/v1?x=1" }, "paperspace.new: base_url must have no query, fragment or spaces" },
    { { base_url = "https://example.com/v1\r\n" }, "paperspace.new: base_url must not contain NUL, CR or LF" },
    { { timeout = 0 }, "paperspace.new: timeout must be a positive number of seconds" },
    { { connect_timeout = -3 }, "paperspace.new: connect_timeout must be a positive number of seconds" },
    { { max_retries = 1.5 }, "paperspace.new: max_retries must be an integer from 0 to 100" },
    { { max_retries = -1 }, "paperspace.new: max_retries must be an integer from 0 to 100" },
    { { max_response_bytes = 0 }, "paperspace.new: max_response_bytes must be a positive number" },
    { { tls_verify = "no" }, "paperspace.new: tls_verify must be a boolean, got string" },
    { { logger = print, loger = print }, "paperspace.new: unknown option 'loger'" },
  }
  for _, case in ipairs(cases) do
    it("refuses " .. case[2]:gsub("^paperspace.new: ", ""), function()
      local opts = { base_url = "http://127.0.0.1:9" }
      for k, v in pairs(case[1]) do opts[k] = v end
      local ok, msg = pcall(paperspace.new, opts)
      assert.is_false(ok)
      assert.equal(case[2], (msg:gsub("^[^:]+:%d+: ", "")))
      assert.not_matches("X%-Injected", msg)
    end)
  end

  it("refuses options that are not a table", function()
    assert.has_error(function() paperspace.new("key") end, "paperspace.new: options must be a table, got string")
  end)
end)

describe("the API key from the environment", function()
  it("is checked like one given in code", function()
    local config = require "paperspace.config"
    local cfg = config.resolve({}, function(name)
      return ({ PAPERSPACE_API_KEY = "env\r\nkey", PAPERSPACE_API_URL = "http://127.0.0.1:9" })[name]
    end)
    assert.has_error(function() core.new(cfg) end, "paperspace.new: api_key must not contain NUL, CR or LF")
  end)

  it("and the URL come from PAPERSPACE_API_KEY and PAPERSPACE_API_URL", function()
    local config = require "paperspace.config"
    local cfg = config.resolve({}, function(name)
      return ({ PAPERSPACE_API_KEY = "env-key", PAPERSPACE_API_URL = "http://127.0.0.1:9/v1" })[name]
    end)
    assert.equal("env-key", cfg.api_key)
    assert.equal("http://127.0.0.1:9/v1", cfg.base_url)
    cfg = config.resolve({ api_key = "given", base_url = "https://x.example" }, function() return "ignored" end)
    assert.equal("given", cfg.api_key)
    assert.equal("https://x.example", cfg.base_url)
    cfg = config.resolve({}, function() return nil end)
    assert.is_nil(cfg.api_key)
    assert.equal("https://api.paperspace.com/v1", cfg.base_url)
    assert.equal(60, cfg.timeout)
    assert.equal(10, cfg.connect_timeout)
    assert.equal(2, cfg.max_retries)
  end)

  it("set but empty, counts as unset", function()
    local config = require "paperspace.config"
    local cfg = config.resolve({}, function(name)
      return ({ PAPERSPACE_API_KEY = "", PAPERSPACE_API_URL = "" })[name]
    end)
    assert.is_nil(cfg.api_key)
    assert.equal("https://api.paperspace.com/v1", cfg.base_url)
  end)
end)

describe("hostile ids and names", function()
  local emu, client
  helpers.use_emulator({}, nil, function(e, c) emu, client = e, c end)

  local bad = {
    { "a CRLF in a team id", function(c) return c:list_team_members("team-1\r\nHost: evil") end, "team_id must not contain NUL, CR or LF" },
    { "a NUL in a user id", function(c) return c:remove_team_member("team-1", "u\0x") end, "user_id must not contain NUL, CR or LF" },
    { "a LF in a secret name", function(c) return c:team("team-1"):secret("N\n") end, "name must not contain NUL, CR or LF" },
    { "a LF in a new secret's name",
      function(c) return c:team("team-1"):create_secret("N\n", "v") end,
      "body.name must not contain NUL, CR or LF" },
    { "'..' as a user id",
      function(c) return c:update_team_member("team-1", "..", { isAdmin = true }) end,
      "user_id must not be '.' or '..'" },
    { "a boolean as a name", function(c) return c:get_team_secret("team-1", true) end, "name must be a string or an integer, got boolean" },
    { "a number as a value", function(c) return c:team("team-1"):set_secret("N", 12) end,
      "bad argument #2 to 'set_secret' (value must be a string, got number)" },
    { "a nil value", function(c) return c:team("team-1"):create_secret("N") end,
      "bad argument #2 to 'create_secret' (value must be a string, got nil)" },
    { "a string isAdmin",
      function(c) return c:team("team-1"):update_member("user-2", "false") end,
      "bad argument #2 to 'update_member' (is_admin must be a boolean, got string)" },
    { "a CRLF in a cursor",
      function(c) return c:list_team_members("team-1", { after = "x\r\ny" }) end,
      "opts.after must not contain NUL, CR or LF" },
    { "a table as order_by",
      function(c) return c:list_team_secrets("team-1", { order_by = {} }) end,
      "opts.order_by must be a string or an integer, got table" },
  }
  for _, case in ipairs(bad) do
    it("raises on " .. case[1] .. " and sends nothing", function()
      local ok, msg = pcall(case[2], client)
      assert.is_false(ok)
      assert.matches(case[3], msg, 1, true)
      assert.equal(0, #emu:requests())
    end)
  end

  it("sends odd but valid names exactly, as one segment", function()
    for _, name in ipairs { "with space", "slash/inside", "q?x=1", "hash#frag", "100%", "ünïcødé", "...", ".hidden", "a..b" } do
      assert(client:create_team_secret("team-1", { name = name, value = "v-" .. name }))
      local s = assert(client:get_team_secret("team-1", name))
      assert.equal(name, s.name)
      assert(client:delete_team_secret("team-1", name))
    end
  end)
end)

describe("connect timeouts", function()
  local server, fillers, port

  setup(function()
    -- A listener whose backlog is full: new connections are never accepted.
    server = socket.tcp()
    assert(server:bind("127.0.0.1", 0))
    assert(server:listen(0))
    local _
    _, port = server:getsockname()
    fillers = {}
    for i = 1, 3 do
      local c = socket.tcp()
      c:settimeout(0.2)
      c:connect("127.0.0.1", port)
      fillers[i] = c
    end
  end)
  teardown(function()
    for _, c in ipairs(fillers) do c:close() end
    server:close()
  end)

  it("stop at connect_timeout, as a timeout that sent nothing", function()
    local c = paperspace.new { api_key = "k", base_url = "http://127.0.0.1:" .. port, max_retries = 0,
                               connect_timeout = 0.3 }
    local _, err = c:get_session()
    c:close()
    assert.equal("timeout", err.kind)
    assert.is_false(err.request_sent)
    assert.is_true(err.elapsed >= 0.28 and err.elapsed < 1.5, "took " .. err.elapsed)
  end)

  it("apply per call, and let even a POST be retried", function()
    local c = paperspace.new { api_key = "k", base_url = "http://127.0.0.1:" .. port, connect_timeout = 30 }
    local _, err = c:create_team_secret("t", { name = "n", value = "never-sent" },
                                        { connect_timeout = 0.2, max_retries = 1 })
    c:close()
    assert.equal("timeout", err.kind)
    assert.equal(2, err.attempts)
    assert.is_true(err.retryable)
  end)
end)
