-- TLS: the server's certificate is verified by default; `ca_file` trusts a
-- private CA; `tls_verify = false` is an explicit, loudly warned choice.
-- Against `openssl s_server` on 127.0.0.1 with a certificate made here.
local helpers = require "spec.support.helpers"
local paperspace = require "paperspace"

local sh = helpers.execute


describe("TLS", function()
  local dir, port, pid

  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(sh("mkdir -p " .. dir))
    assert(sh(string.format("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
      .. "-addext subjectAltName=IP:127.0.0.1 -keyout %s/key.pem -out %s/cert.pem >/dev/null 2>&1", dir, dir)))
    port = assert(helpers.free_port())
    -- -www answers every request with an HTML status page: enough to show
    -- that the TLS handshake went through.
    assert(sh(string.format("openssl s_server -accept 127.0.0.1:%d -cert %s/cert.pem -key %s/key.pem -www -quiet "
      .. ">/dev/null 2>&1 & echo $! > %s/pid", port, dir, dir, dir)))
    pid = assert(io.open(dir .. "/pid")):read("*l")
    assert(helpers.wait_for_port(port, 10), "openssl s_server did not start on port " .. port)
  end)

  teardown(function()
    sh("kill " .. pid .. " 2>/dev/null")
    sh("rm -rf " .. dir)
  end)

  local function client(opts)
    local o = { api_key = "k-tls-test", base_url = "https://127.0.0.1:" .. port, max_retries = 0 }
    for k, v in pairs(opts or {}) do o[k] = v end
    return paperspace.new(o)
  end

  it("refuses a certificate it cannot verify, as a tls error, not retried", function()
    local c = client { max_retries = 2 }
    local _, err = c:get_session()
    c:close()
    assert.equal("tls", err.kind)
    assert.is_nil(err.status)
    assert.is_false(err.retryable)
    assert.equal(1, err.attempts)
  end)

  it("verifies against ca_file", function()
    local c = client { ca_file = dir .. "/cert.pem" }
    local _, err = c:get_session()
    c:close()
    -- Past TLS: the answer is s_server's HTML page, not the API's JSON.
    assert.equal("invalid_response", err.kind)
    assert.equal(200, err.status)
  end)

  it("checks the host name against the certificate", function()
    local c = client { ca_file = dir .. "/cert.pem", base_url = "https://localhost:" .. port }
    local _, err = c:get_session()
    c:close()
    assert.equal("tls", err.kind)
  end)

  it("tls_verify = false connects, and warns once per process on stderr", function()
    local script = string.format([[
      local paperspace = require "paperspace"
      for _ = 1, 2 do
        local c = paperspace.new { api_key = "k", base_url = "https://127.0.0.1:%d", tls_verify = false, max_retries = 0 }
        local _, err = c:get_session()
        print(err.kind)
        c:close()
      end
    ]], port)
    local p = assert(io.popen(string.format("LUA_PATH='%s' LUA_CPATH='%s' %s -e '%s' 2>&1",
                                            package.path, package.cpath, helpers.interpreter(), script)))
    local out = p:read("*a")
    p:close()
    local _, warnings = out:gsub("WARNING: tls_verify = false", "")
    assert.equal(1, warnings)
    local _, passed = out:gsub("invalid_response", "")
    assert.equal(2, passed)
  end)
end)
