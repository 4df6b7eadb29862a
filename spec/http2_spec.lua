-- Concurrent calls to a server that offers HTTP/2 share one connection's
-- streams; against HTTP/1.1 they keep at most max_host_connections alive.
-- nginx (HTTPS, HTTP/2) and the emulator (HTTP/1.1), on 127.0.0.1.
local helpers = require "spec.support.helpers"
local paperspace = require "paperspace"
local socket = require "socket"


local CONF = [[
daemon off;
master_process off;
worker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log;
events { worker_connections 64; }
http {
  default_type application/json;
  log_format calls '$connection $server_protocol $request_uri';
  access_log %s/access.log calls;
  client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s; uwsgi_temp_path %s; scgi_temp_path %s;
  server {
    listen 127.0.0.1:%d ssl http2;
    ssl_certificate %s/cert.pem;
    ssl_certificate_key %s/key.pem;
    root %s/www;
  }
}
]]

describe("HTTP/2", function()
  local dir, port, pid

  setup(function()
    local _, has = helpers.run("command -v nginx || test -x /usr/sbin/nginx")
    assert(has, "nginx is needed for this spec (apt-get install nginx)")
    dir = os.tmpname()
    os.remove(dir)
    assert(select(2, helpers.run("mkdir -p " .. dir .. "/www/teams/t/secrets")))
    assert(select(2, helpers.run(string.format("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
      .. "-days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout %s/key.pem -out %s/cert.pem", dir, dir))))
    for i = 1, 16 do
      local f = assert(io.open(string.format("%s/www/teams/t/secrets/S%d", dir, i), "w"))
      f:write(string.format('{"name":"S%d","dtCreated":"2026-01-01T00:00:00Z"}', i))
      f:close()
    end
    port = assert(helpers.free_port())
    local f = assert(io.open(dir .. "/nginx.conf", "w"))
    f:write(CONF:format(dir, dir, dir, dir, dir, dir, dir, dir, port, dir, dir, dir))
    f:close()
    local nginx = io.open("/usr/sbin/nginx") and "/usr/sbin/nginx" or "nginx"
    assert(select(2, helpers.run(string.format(
      "%s -p %s -c %s/nginx.conf >/dev/null 2>&1 & echo $! > %s/started", nginx, dir, dir, dir))))
    pid = assert(io.open(dir .. "/started")):read("*l")
    assert(helpers.wait_for_port(port, 10), "nginx did not start on port " .. port)
  end)

  teardown(function()
    helpers.run("kill " .. pid)
    helpers.run("rm -rf " .. dir)
  end)

  it("multiplexes concurrent calls over one connection", function()
    local client = paperspace.new { api_key = "k-h2", base_url = "https://127.0.0.1:" .. port,
                                    ca_file = dir .. "/cert.pem", max_retries = 0 }
    local team = client:team("t")
    local names = {}
    for i = 1, 16 do names[i] = "S" .. i end
    local found, failed = team:get_secrets(names)
    assert.is_nil(failed)
    for i = 1, 16 do assert.equal("S" .. i, found["S" .. i].name) end
    client:close()
    -- nginx logs a request once its stream is finalized, which may be just
    -- after the client has read the response: give the log a moment.
    local log
    for _ = 1, 100 do
      log = assert(io.open(dir .. "/access.log")):read("*a")
      if select(2, log:gsub("\n", "")) >= 16 then break end
      socket.sleep(0.02)
    end
    local conns, lines = {}, 0
    for line in log:gmatch("[^\n]+") do
      local conn, proto = line:match("^(%d+) (%S+)")
      assert.equal("HTTP/2.0", proto)
      conns[conn] = true
      lines = lines + 1
    end
    assert.equal(16, lines)
    local n = 0
    for _ in pairs(conns) do n = n + 1 end
    assert.equal(1, n)
  end)
end)

describe("HTTP/1.1", function()
  local emu, client
  helpers.use_emulator({ latency = 0.05 }, { max_concurrency = 8, max_host_connections = 2 },
                       function(e, c) emu, client = e, c end)

  it("keeps to max_host_connections, however many calls run at once", function()
    local calls = {}
    for i = 1, 16 do calls[i] = { "get_session" } end
    local _, failed = client:gather(calls)
    assert.equal(0, failed)
    local conns, n = {}, 0
    for _, r in ipairs(emu:requests()) do
      if not conns[r.connection] then conns[r.connection], n = true, n + 1 end
    end
    assert.equal(2, n)
  end)
end)
