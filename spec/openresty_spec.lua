-- OpenResty: the library inside a real nginx with lua-nginx-module (its own
-- configuration and prefix in a temporary directory, 127.0.0.1 only, one
-- worker), against the emulator. The core is the LuaJIT build
-- (build/luajit), made here if it is missing.
-- spec tags: external
local helpers = require "spec.support.helpers"
local read, write, shell_quote = helpers.read, helpers.write, helpers.quote
local socket = require "socket"

local MODULES = { "/usr/lib/nginx/modules/ndk_http_module.so", "/usr/lib/nginx/modules/ngx_http_lua_module.so" }
local INSTALL = "install nginx, libnginx-mod-http-lua, lua-resty-core and lua-resty-lrucache " ..
                "(scripts/install-deps --test does)"

-- nginx, curl and make run without a preloaded sanitizer runtime; the core
-- nginx loads is the plain LuaJIT build.
local native = helpers.native

local function file_exists(path)
  local f = io.open(path)
  if f then f:close() end
  return f ~= nil
end

-- The module the locations use: one client per worker, made at first use.
local APP = [[
local paperspace = require "paperspace"
local app = {}
local clients = {}
local function get(name, opts)
  if not clients[name] then
    opts.api_key, opts.base_url = "test-key", "@EMU@"
    clients[name] = paperspace.new(opts)
  end
  return clients[name]
end
function app.client() return get("client", { max_retries = 0 }) end
function app.wide() return get("wide", { max_retries = 0, max_concurrency = 64 }) end
function app.single() return get("single", { max_retries = 0, max_concurrency = 1 }) end
function app.retrying() return get("retrying", { max_retries = 2 }) end
return app
]]

local CONF = [[
load_module @NDK@;
load_module @LUA@;
worker_processes 1;
pid @DIR@/nginx.pid;
error_log @DIR@/error.log info;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path @DIR@/tmp; proxy_temp_path @DIR@/tmp; fastcgi_temp_path @DIR@/tmp;
  uwsgi_temp_path @DIR@/tmp; scgi_temp_path @DIR@/tmp;
  lua_package_path "@ROOT@/lua/?.lua;@ROOT@/lua/?/init.lua;@ROOT@/examples/openresty/?.lua;@DIR@/?.lua;;";
  lua_package_cpath "@ROOT@/build/luajit/?.so;;";
  init_by_lua_block {
    local paperspace = require "paperspace"
    gate_team = require("paperspace_gate").new { teams = { "team-1" }, client = { base_url = "@EMU@" } }
    gate_admin = require("paperspace_gate").new { teams = { "team-1" }, admin = true,
                                                  client = { base_url = "@EMU@" } }
    gate_other = require("paperspace_gate").new { teams = { "team-9" }, client = { base_url = "@EMU@" } }
    -- A call in init_by_lua blocks, which is fine at startup.
    init_client = paperspace.new { api_key = "test-key", base_url = "@EMU@" }
    local session, err = init_client:get_session()
    init_email = session and session.user.email or tostring(err)
  }
  init_worker_by_lua_block {
    local c = require("paperspace").new { api_key = "test-key", base_url = "@EMU@" }
    local session, err = c:get_session()
    worker_email = session and session.user.email or tostring(err)
    c:close()
  }
  server {
    listen 127.0.0.1:@INTERNAL@;
    location / {
      content_by_lua_block {
        ngx.say("internal user=", ngx.var.http_x_paperspace_user, " team=", ngx.var.http_x_paperspace_team,
                " authorization=", ngx.var.http_authorization or "none")
      }
    }
  }
  server {
    listen 127.0.0.1:@PORT@;
    location = /ok { return 200 "ok\n"; }
    location = /session {
      content_by_lua_block {
        local s, err = require("app").client():get_session()
        ngx.say(s and s.user.email or tostring(err))
      }
    }
    location = /wide {
      content_by_lua_block {
        local s, err = require("app").wide():get_session()
        ngx.say(s and s.user.email or tostring(err))
      }
    }
    location = /spawn {
      content_by_lua_block {
        local c = require("app").client()
        local got
        local task = c:spawn(function() return c:get_session() end, function(s) got = s end)
        while c:poll(0) > 0 do ngx.sleep(0.01) end
        local s, err = task:result()
        ngx.say(s and s.user.email or tostring(err), " ", got == s)
      }
    }
    location = /gather {
      content_by_lua_block {
        local c = require("app").client()
        local r, failed = c:gather { { "get_session" }, { "get_team_secret", "team-1", "NOPE" },
                                     function() return c:get_session() end }
        ngx.say(r[1][1].user.email, " ", r[2][2].kind, " ", r[3][1].user.id, " failed=", failed)
      }
    }
    location = /blame {
      content_by_lua_block {
        local c = require("app").client()
        local ok, err = pcall(function() local _ = c:gather { { "get_team_secret", "team-1", 1.5 } } end)
        ngx.say(ok, " ", err)
      }
    }
    location = /nested {
      content_by_lua_block {
        local c = require("app").client()
        local task = c:spawn(function()
          local r = c:gather { { "get_session" }, function()
            local n = 0
            for _ in c:team("team-1"):each_member { limit = 2 } do n = n + 1 end
            return n
          end }
          return r[1][1].user.id, r[2][1]
        end)
        c:wait_all()
        local user, members = task:result()
        ngx.say(user, " ", members, " pending=", c:poll(0))
      }
    }
    location = /fail_fast {
      content_by_lua_block {
        local c = require("app").client()
        local r, failed = c:gather({ { "get_session" }, { "get_team_secret", "team-1", "NOPE" } },
                                   { fail_fast = true })
        ngx.say(r[1][2].kind, " ", r[2][2].kind, " failed=", failed)
      }
    }
    location = /keepalive {
      content_by_lua_block {
        local c = require("app").client()
        for _ = 1, 5 do assert(c:get_session()) end
        ngx.say("done")
      }
    }
    location = /abandon {
      content_by_lua_block {
        local c = require("app").single()
        local thread = ngx.thread.spawn(function() return c:get_session() end)
        ngx.thread.kill(thread)
        ngx.say("killed")
      }
    }
    location = /single {
      content_by_lua_block {
        local s, err = require("app").single():get_session()
        ngx.say(s and s.user.email or tostring(err))
      }
    }
    location = /retry {
      content_by_lua_block {
        local s, err = require("app").retrying():get_session()
        ngx.say(s and s.user.email or tostring(err))
      }
    }
    location = /timer {
      content_by_lua_block {
        local sema = require("ngx.semaphore").new()
        local got
        assert(ngx.timer.at(0, function()
          local s, err = require("app").client():get_session()
          got = s and s.user.email or tostring(err)
          sema:post(1)
        end))
        sema:wait(10)
        ngx.say(got)
      }
    }
    location = /close {
      content_by_lua_block {
        local c = require("paperspace").new { api_key = "test-key", base_url = "@EMU@" }
        local thread = ngx.thread.spawn(function() return c:get_session() end)
        local task = c:spawn(function() return c:get_session() end)
        ngx.sleep(0.1)
        c:close()
        local _, s, err = ngx.thread.wait(thread)
        local ts, terr = task:result()
        ngx.say(tostring(s), " ", err and err.kind, " ", tostring(ts), " ", terr and terr.kind)
      }
    }
    location = /init { content_by_lua_block { ngx.say(init_email, " ", worker_email) } }
    location = /driver {
      content_by_lua_block { ngx.say("running=", require("paperspace.hosts.ngx")._driver.running) }
    }
    location = /header_filter {
      content_by_lua_block { ngx.say("ok") }
      header_filter_by_lua_block {
        local c = require("app").client()
        local ok, err = pcall(c.get_session, c)
        ngx.header["X-Call"] = ok and "made" or tostring(err):sub(1, 200)
      }
    }
    location = /master {
      content_by_lua_block {
        local ok, err = pcall(init_client.get_session, init_client)
        ngx.say(ok and "called" or err)
      }
    }
    location = /log_phase {
      content_by_lua_block { ngx.say("ok") }
      log_by_lua_block { require("app").client():get_session() }
    }
    location /team/ {
      access_by_lua_block { gate_team:check() }
      proxy_pass http://127.0.0.1:@INTERNAL@/;
    }
    location /admins/ {
      access_by_lua_block { gate_admin:check() }
      proxy_pass http://127.0.0.1:@INTERNAL@/;
    }
    location /other/ {
      access_by_lua_block { gate_other:check() }
      proxy_pass http://127.0.0.1:@INTERNAL@/;
    }
  }
}
]]

-- What the spec needs, or an error saying what to install.
local function find_nginx()
  local out = native("command -v nginx || ls /usr/sbin/nginx")
  local nginx = out:match("([^\n]+)")
  if not nginx or not file_exists(nginx) then
    error("openresty spec: nginx not found; " .. INSTALL, 0)
  end
  for _, m in ipairs(MODULES) do
    if not file_exists(m) then error("openresty spec: " .. m .. " not found; " .. INSTALL, 0) end
  end
  if not file_exists("/usr/share/lua/5.1/resty/core.lua") or
     not file_exists("/usr/share/lua/5.1/resty/lrucache.lua") then
    error("openresty spec: lua-resty-core or lua-resty-lrucache not found; " .. INSTALL, 0)
  end
  local made, ok = native("make -s build/luajit/paperspace/core.so")
  if not ok then
    error("openresty spec: could not build the core for LuaJIT (install luajit2 and " ..
          "libluajit2-5.1-dev): " .. made, 0)
  end
  return nginx
end

describe("OpenResty (nginx with lua-nginx-module)", function()
  local emu, nginx, dir, base, pid, internal_port

  -- n concurrent requests to path; returns their bodies, codes and the wall time.
  local function headers_args(headers)
    local h = ""
    for k, v in pairs(headers or {}) do h = h .. " -H " .. shell_quote(k .. ": " .. v) end
    return h
  end

  local function parallel(n, path, headers)
    local script = {}
    for i = 1, n do
      script[#script + 1] = string.format("curl -s -m 30%s -o %s/out.%d -w '%%{http_code}' %s > %s/code.%d &",
                                          headers_args(headers), dir, i, shell_quote(base .. path), dir, i)
    end
    script[#script + 1] = "wait"
    local started = socket.gettime()
    native(table.concat(script, "\n"))
    local elapsed = socket.gettime() - started
    local bodies, codes = {}, {}
    for i = 1, n do
      bodies[i] = read(dir .. "/out." .. i)
      codes[i] = tonumber(read(dir .. "/code." .. i))
      os.remove(dir .. "/out." .. i)
      os.remove(dir .. "/code." .. i)
    end
    return bodies, codes, elapsed
  end

  local function get(path, headers)
    local out = native("curl -s -m 20" .. headers_args(headers) .. " -w '\\n%{http_code} %{time_total}' " ..
                            shell_quote(base .. path))
    local body, code, t = out:match("^(.*)\n(%d+) ([%d.]+)$")
    return body, tonumber(code), tonumber(t)
  end

  local function sessions()
    local n = 0
    for _, r in ipairs(emu:requests()) do
      if r.path == "/auth/session" then n = n + 1 end
    end
    return n
  end

  local function error_log() return read(dir .. "/error.log") or "" end

  setup(function()
    nginx = find_nginx()
    emu = helpers.emulator()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. shell_quote(dir .. "/tmp")))
    local port, internal = assert(helpers.free_port()), assert(helpers.free_port())
    internal_port = internal
    local root = assert(os.getenv("PWD"))
    local values = { NDK = MODULES[1], LUA = MODULES[2], DIR = dir, ROOT = root, PORT = port,
                     INTERNAL = internal, EMU = emu.url }
    local function fill(s) return (s:gsub("@(%u+)@", function(k) return tostring(values[k]) end)) end
    write(dir .. "/app.lua", fill(APP))
    write(dir .. "/nginx.conf", fill(CONF))
    local out, ok = native(string.format("%s -p %s -c %s/nginx.conf -e %s/error.log", nginx,
                                              shell_quote(dir), shell_quote(dir), shell_quote(dir)))
    assert(ok, "nginx did not start: " .. out .. "\n" .. error_log())
    assert(helpers.wait_for_port(port, 10), "nginx did not listen:\n" .. error_log())
    pid = (read(dir .. "/nginx.pid") or ""):match("%d+")
    base = "http://127.0.0.1:" .. port
    -- The master listens before the worker has run init_worker_by_lua (a
    -- blocking call): the tests start once the worker answers.
    local ready = native("curl -s -m 20 " .. shell_quote(base .. "/init"))
    assert(ready == "ada@example.com ada@example.com\n", "the worker is not ready: " .. ready .. error_log())
  end)

  teardown(function()
    if pid then os.execute("kill " .. pid) end
    if emu then emu:stop() end
    if dir then
      socket.sleep(0.2)
      os.execute("rm -rf " .. shell_quote(dir))
    end
  end)

  before_each(function()
    emu:reset()
    emu:configure { latency = 0, api_key = "test-key", paged = false }
  end)

  after_each(function()
    -- Whatever a test did, the worker never crashed and nginx raised no alert.
    local log = error_log()
    assert.is_nil(log:match("exited on signal"), log)
    assert.is_nil(log:match("%[alert%]"), log)
    assert.is_nil(log:match("%[emerg%]"), log)
  end)

  it("answers a return 200 location at once while a 0.5 s call waits in the same worker", function()
    emu:configure { latency = 0.5 }
    os.execute(string.format("unset LD_PRELOAD; curl -s -m 20 -o %s/slow.out -w '%%{time_total}' %s > %s/slow.t &",
                             dir, shell_quote(base .. "/session"), dir))
    -- The probe goes once the call has reached the API, which holds it 0.5 s.
    local deadline = socket.gettime() + 10
    repeat
      socket.sleep(0.01)
      local arrived = sessions() > 0
    until arrived or socket.gettime() > deadline
    assert.equal(1, sessions())
    local slow_done_before = read(dir .. "/slow.t") ~= ""
    local out = native("curl -s -m 20 -o /dev/null -w '%{time_total}' " .. shell_quote(base .. "/ok"))
    local probe = tonumber(out:match("([%d.]+)%s*$"))
    deadline = socket.gettime() + 20
    while read(dir .. "/slow.t") == "" and socket.gettime() < deadline do socket.sleep(0.05) end
    local slow = tonumber(read(dir .. "/slow.t"))
    assert.is_false(slow_done_before)
    assert.equal("ada@example.com\n", read(dir .. "/slow.out"))
    assert.is_true(slow >= 0.45, "the slow call took " .. tostring(slow))
    -- Blocked behind the call, it would wait for what the call has left.
    assert.is_true(probe < 0.1, "the return 200 location took " .. tostring(probe) .. " s")
  end)

  it("runs 20 concurrent calls of one worker together, not one after another", function()
    emu:configure { latency = 0.5 }
    local bodies, codes, elapsed = parallel(20, "/session")
    for i = 1, 20 do
      assert.equal(200, codes[i])
      assert.equal("ada@example.com\n", bodies[i])
    end
    assert.equal(20, sessions())
    -- One after another: 10 s. Together (8 transfers at a time by default): 1.5 s.
    assert.is_true(elapsed < 3, "20 calls took " .. elapsed .. " s")
  end)

  it("runs 20 concurrent calls in about one call's time with room for them (max_concurrency)", function()
    emu:configure { latency = 0.5 }
    local bodies, codes, elapsed = parallel(20, "/wide")
    for i = 1, 20 do
      assert.equal(200, codes[i])
      assert.equal("ada@example.com\n", bodies[i])
    end
    -- One call: 0.5 s; eight at a time would take 1.5 s.
    assert.is_true(elapsed < 1.4, "20 calls took " .. elapsed .. " s")
  end)

  it("keeps one worker-wide client safe under 20 requests each doing spawn and poll, or gather",
     function()
    emu:configure { latency = 0.05 }
    local bodies, codes = parallel(20, "/spawn")
    for i = 1, 20 do
      assert.equal(200, codes[i], bodies[i])
      assert.equal("ada@example.com true\n", bodies[i])
    end
    bodies, codes = parallel(20, "/gather")
    for i = 1, 20 do
      assert.equal(200, codes[i], bodies[i])
      assert.equal("ada@example.com not_found user-1 failed=1\n", bodies[i])
    end
  end)

  it("blames a wrong argument in a gather's call on the line of the gather", function()
    local body = get("/blame")
    assert.matches("^false content_by_lua%(nginx%.conf:%d+%):3: bad argument #2 to 'get_team_secret' %(name must", body)
  end)

  it("runs a gather inside a spawned task, with a page iterator, and waits for it with wait_all", function()
    emu:configure { latency = 0.02, paged = true }
    assert.equal("user-1 5 pending=0\n", (get("/nested")))
    local pages = 0
    for _, r in ipairs(emu:requests()) do
      if r.path == "/teams/team-1/users" then pages = pages + 1 end
    end
    assert.equal(3, pages)
  end)

  it("cancels what is still running in a fail_fast gather, without waiting for it", function()
    emu:fault { path = "/auth/session", responses = { { pass = true, delay = 3 } } }
    local body, code, t = get("/fail_fast")
    assert.equal(200, code)
    assert.equal("cancelled not_found failed=2\n", body)
    assert.is_true(t < 2, "fail_fast took " .. t .. " s")
    -- The worker goes on serving calls with the same client.
    body = get("/session")
    assert.equal("ada@example.com\n", body)
  end)

  it("makes calls from an ngx.timer, and retries with ngx.sleep between attempts", function()
    assert.equal("ada@example.com\n", (get("/timer")))
    emu:clear_requests()
    emu:fault { path = "/auth/session", responses = { { status = 503 }, { pass = true } } }
    assert.equal("ada@example.com\n", (get("/retry")))
    assert.equal(2, sessions())
  end)

  it("frees the transfer of a call whose light thread was killed", function()
    emu:configure { latency = 0.3 }
    -- The client has one transfer: the killed call holds it until it is freed.
    assert.equal("killed\n", (get("/abandon")))
    local body, code, t = get("/single")
    assert.equal(200, code)
    assert.equal("ada@example.com\n", body)
    assert.is_true(t < 5, "the next call waited " .. t .. " s")
  end)

  it("ends the calls still waiting as cancelled when their client is closed", function()
    emu:configure { latency = 0.5 }
    local body, code, t = get("/close")
    assert.equal(200, code)
    assert.equal("nil cancelled nil cancelled\n", body)
    assert.is_true(t < 0.45, "close waited for the calls: " .. t .. " s")
  end)

  it("keeps the worker's connection to the API alive between calls", function()
    assert.equal("done\n", (get("/keepalive")))
    local conns = {}
    for _, r in ipairs(emu:requests()) do conns[r.connection] = true end
    local n = 0
    for _ in pairs(conns) do n = n + 1 end
    assert.equal(1, n)
  end)

  it("lets init_by_lua and init_worker_by_lua block for a call, and refuses init's client in the workers",
     function()
    assert.equal("ada@example.com ada@example.com\n", (get("/init")))
    local body = get("/master")
    assert.matches("made calls in init_by_lua", body, 1, true)
  end)

  it("stops its driver timer once no call is in flight: an idle worker runs nothing", function()
    assert.equal("ada@example.com\n", (get("/session")))
    socket.sleep(0.2)
    assert.equal("running=false\n", (get("/driver")))
  end)

  it("gives the header_filter phase a clear error", function()
    local out = native("curl -s -D - -o /dev/null " .. shell_quote(base .. "/header_filter"))
    -- Reported where the call was made, as a wrong argument is.
    assert.matches("X%-Call: header_filter_by_lua%(nginx%.conf:%d+%):3: " ..
                   "paperspace: a call cannot run in nginx's header_filter phase", out)
  end)

  it("gives the log phase a clear error", function()
    assert.equal("ok\n", (get("/log_phase")))
    socket.sleep(0.1)
    assert.matches("paperspace: a call cannot run in nginx's log phase", error_log(), 1, true)
  end)

  describe("the README's nginx.conf", function()
    -- The README's OpenResty section, its blocks as written but for paths and
    -- ports (and nginx's temporary files, kept in the test's directory).
    local function readme_blocks()
      local section = assert(read("README.md"):match("\n## OpenResty\n(.-)\n## "), "no OpenResty section")
      local blocks = { nginx = {}, lua = {} }
      for lang, body in section:gmatch("```(%w+)\n(.-)```") do
        if blocks[lang] then table.insert(blocks[lang], body) end
      end
      return blocks
    end

    local function start_readme_nginx(conf, files)
      local d = dir .. "/readme"
      assert(os.execute("rm -rf " .. shell_quote(d) .. " && mkdir -p " .. shell_quote(d .. "/tmp")))
      local port = assert(helpers.free_port())
      local root = assert(os.getenv("PWD"))
      conf = conf:gsub("/opt/lua%-paperspace", function() return root end)
                 :gsub("/etc/nginx/lua", function() return d end)
                 :gsub("127%.0%.0%.1:8080", "127.0.0.1:" .. port)
                 :gsub("127%.0%.0%.1:9000", "127.0.0.1:" .. internal_port)
                 :gsub("http {\n", function()
                   return "http {\n" .. string.format("client_body_temp_path %s/tmp; proxy_temp_path %s/tmp; " ..
                     "fastcgi_temp_path %s/tmp; uwsgi_temp_path %s/tmp; scgi_temp_path %s/tmp;\n", d, d, d, d, d)
                 end, 1)
      write(d .. "/nginx.conf", conf)
      for name, text in pairs(files or {}) do write(d .. "/" .. name, text) end
      local out, ok = native(string.format(
        "PAPERSPACE_API_KEY=test-key PAPERSPACE_API_URL=%s %s -p %s -c %s/nginx.conf -e %s/error.log " ..
        "-g %s", shell_quote(emu.url), nginx, shell_quote(d), shell_quote(d), shell_quote(d),
        shell_quote("pid " .. d .. "/nginx.pid; env PAPERSPACE_API_URL;")))
      assert(ok, "nginx did not start: " .. out .. "\n" .. (read(d .. "/error.log") or ""))
      assert(helpers.wait_for_port(port, 10), "nginx did not listen:\n" .. (read(d .. "/error.log") or ""))
      return "http://127.0.0.1:" .. port, function()
        local p = (read(d .. "/nginx.pid") or ""):match("%d+")
        if p then os.execute("kill " .. p) end
        local log = read(d .. "/error.log") or ""
        assert.is_nil(log:match("exited on signal"), log)
        assert.is_nil(log:match("%[alert%]"), log)
      end
    end

    local function fetch(url, headers)
      local out = native("curl -s -m 20" .. headers_args(headers) .. " -w '\n%{http_code}' " .. shell_quote(url))
      local body, code = out:match("^(.*)\n(%d+)$")
      return body, tonumber(code)
    end

    it("serves the minimal example with its module-level client", function()
      local blocks = readme_blocks()
      local url, stop = start_readme_nginx(blocks.nginx[1], { ["api.lua"] = blocks.lua[1] })
      local body, code = fetch(url .. "/whoami")
      stop()
      assert.equal(200, code)
      assert.equal("ada@example.com in Acme\n", body)
    end)

    it("runs the gate as configured there", function()
      local url, stop = start_readme_nginx(readme_blocks().nginx[2])
      local body, code = fetch(url .. "/page", { Authorization = "Bearer test-key" })
      local _, refused = fetch(url .. "/page")
      stop()
      assert.equal(200, code)
      assert.equal("internal user=user-1 team=team-1 authorization=none\n", body)
      assert.equal(401, refused)
    end)
  end)

  describe("the example gate", function()
    -- Each test's key is new to the gate's cache: the emulator accepts it instead.
    local serial = 0
    local function fresh_key()
      serial = serial + 1
      local k = string.format("key-%d-%d", serial, os.time())
      emu:configure { api_key = k }
      return k, { Authorization = "Bearer " .. k }
    end

    it("admits a key of an allowed team, and passes neither the key nor forged headers on", function()
      local _, auth = fresh_key()
      auth["X-Paperspace-User"] = "user-9"
      local body, code = get("/team/page", auth)
      assert.equal(200, code)
      assert.equal("internal user=user-1 team=team-1 authorization=none\n", body)
    end)

    it("refuses a request without a key, or with a key the API refuses, with 401", function()
      local _, code = get("/team/page")
      assert.equal(401, code)
      _, code = get("/team/page", { Authorization = "Basic dXNlcjpwdw==" })
      assert.equal(401, code)
      assert.equal(0, sessions())
      local body
      for _ = 1, 3 do
        body, code = get("/team/page", { Authorization = "Bearer wrong-key" })
        assert.equal(401, code)
        assert.is_nil(body:match("internal"))
      end
      assert.equal(1, sessions()) -- the refusal is cached too
      assert.is_nil(error_log():match("wrong%-key"))
    end)

    it("answers 503 when the API cannot say, logs that without the key, and asks again next time",
       function()
      local k, auth = fresh_key()
      emu:fault { path = "/auth/session", responses = { { status = 500 }, { status = 500 } } }
      local _, code = get("/team/page", auth)
      assert.equal(503, code)
      assert.equal(2, sessions()) -- one retry
      _, code = get("/team/page", auth)
      assert.equal(200, code)
      assert.equal(3, sessions())
      local log = error_log()
      assert.matches("paperspace gate: key [%w+/=]+: paperspace: 500 server_error", log)
      assert.is_nil(log:find(k, 1, true))
    end)

    it("refuses a key of another team with 403", function()
      local _, auth = fresh_key()
      local _, code = get("/other/page", auth)
      assert.equal(403, code)
    end)

    it("admits an admin where admins are asked for, and refuses a member who is not", function()
      local _, auth = fresh_key()
      local _, code = get("/admins/page", auth)
      assert.equal(200, code)
      local c = helpers.client(emu)
      assert(c:update_team_member("team-1", "user-1", { isAdmin = false }))
      c:close()
      -- The admission is cached for its TTL; a key not seen yet is refused.
      _, code = get("/admins/page", auth)
      assert.equal(200, code)
      _, auth = fresh_key()
      _, code = get("/admins/page", auth)
      assert.equal(403, code)
    end)

    it("asks the API once per key and TTL, even for concurrent requests", function()
      emu:configure { latency = 0.3 }
      local _, auth = fresh_key()
      local bodies, codes = parallel(10, "/team/page", auth)
      for i = 1, 10 do
        assert.equal(200, codes[i], bodies[i])
        assert.equal("internal user=user-1 team=team-1 authorization=none\n", bodies[i])
      end
      assert.equal(1, sessions())
      local _, code = get("/team/again", auth)
      assert.equal(200, code)
      assert.equal(1, sessions())
    end)
  end)
end)
