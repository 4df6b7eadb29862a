--- A stateful local emulator of the Paperspace Team and Authentication API.
--
-- Serves the session, team member and team secret routes over HTTP/1.1 on
-- 127.0.0.1, with keep-alive, configurable latency, both listing shapes
-- (bare arrays or production-style pages), both status styles, request
-- recording and scriptable faults. Use it to test code built on the library
-- without touching the real service.
--
--    local emulator = require "paperspace.emulator"
--    local emu = emulator.start{ paged = true, secrets = { TOKEN = "s3cret" } }
--    -- point the client at emu.url with api key emu.api_key ...
--    emu:fault{ path = "/auth/session", responses = { { status = 503 }, { pass = true } } }
--    print(#emu:requests())
--    emu:stop()
--
-- `emulator.new` runs the server in this process (blocking in `serve`);
-- `emulator.start` runs it in a child process and returns a handle whose
-- methods talk to the child's control plane under `/_emulator/`.
-- @module paperspace.emulator

local cjson = require("cjson").new()
local socket = require("socket")
local http = require("paperspace.emulator.http")
local app_mod = require("paperspace.emulator.app")

local format = string.format

local M = {}

--- Library version of the emulator.
M._VERSION = "0.1.0"

--- Default options (see `new`).
M.DEFAULTS = app_mod.DEFAULTS

-- `start`'s own options, which `new` accepts and ignores so that one table
-- of options works for both.
local START_OPTIONS = { lua = true, start_timeout = true, control_timeout = true }

-- Every error the module raises goes through here, to be named after it;
-- `level` counts as `error`'s does, from the function that calls `raise`.
local function raise(msg, level)
  error("paperspace.emulator: " .. msg, (level or 1) + 1)
end

---------------------------------------------------------------------------
-- In-process server
---------------------------------------------------------------------------

local Emulator = {}
Emulator.__index = Emulator

-- Readable when the parent process closes our stdin (it exited or stopped us).
local stdin_watch = {
  getfd = function() return 0 end,
  dirty = function() return false end,
}

local function on_stdin(server)
  if io.stdin:read(1) == nil then
    server:unwatch(stdin_watch)
    server:stop()
  end
end

--- Create an emulator listening on 127.0.0.1 (not yet serving).
-- @tparam ?table opts `port`, `api_key`, `paged`, `page_size`, `style`,
--   `latency`, `members`, `secrets`, `logged_out`, `max_records`, `host`
-- @treturn table emulator object
-- @raise on invalid options or when the port cannot be bound
function M.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then raise("options must be a table", 2) end
  local config, setup = app_mod.check_options(opts, START_OPTIONS)
  if not config then raise(setup, 2) end
  local app = app_mod.new({
    config = config,
    seed = { members = setup.members, secrets = setup.secrets },
    max_records = setup.max_records,
  })
  local server, err = http.new({ host = setup.host, port = setup.port, app = app })
  if not server then raise(err, 2) end
  app.server = server
  if setup.watch_stdin then server:watch(stdin_watch, on_stdin) end
  return setmetatable({
    app = app, server = server, host = server.host, port = server.port, api_key = config.api_key,
  }, Emulator)
end

--- Base URL of the emulator.
-- @treturn string "http://127.0.0.1:PORT"
function Emulator:url()
  return "http://" .. self.host .. ":" .. self.port
end

--- Serve requests until `stop` is called or `POST /_emulator/shutdown`
-- arrives, then close the listening socket and all connections.
function Emulator:serve()
  self.server:run()
end

--- Run one iteration of the event loop (to drive the server from your own loop).
-- @tparam ?number timeout longest wait in seconds (default 1)
function Emulator:step(timeout)
  self.server:step(timeout)
end

--- Make `serve` return after the current iteration.
function Emulator:stop()
  self.server:stop()
end

--- Close the listening socket and every connection immediately.
function Emulator:close()
  self.server:close()
end

--- Recorded API requests, oldest first (fresh tables on every call).
-- @treturn table array of `{method, path, query, args, headers, body,
--   connection, time, request_id, fault}`
function Emulator:requests()
  return self.app:requests()
end

--- Forget recorded requests.
function Emulator:clear_requests()
  self.app:clear_requests()
end

--- Add a fault rule (see `paperspace.emulator.faults`).
-- @tparam table rule
-- @treturn number rule id
-- @raise on an invalid rule
function Emulator:fault(rule)
  local id, err = self.app:add_fault(rule)
  if not id then raise(err, 2) end
  return id
end

--- Remove every fault rule.
function Emulator:clear_faults()
  self.app.faults:clear()
end

--- Active fault rules.
-- @treturn table array of `{id, method, path, match, times, used, responses}`
function Emulator:faults()
  return self.app.faults:describe()
end

--- Back to the seed state (members, secrets, records, faults); options stay.
function Emulator:reset()
  self.app:reset()
end

--- Change live options (`paged`, `page_size`, `style`, `latency`, `api_key`,
-- `logged_out`). Updates `emulator.api_key` too.
-- @tparam table opts partial options
-- @treturn table all live options
-- @raise on invalid options
function Emulator:configure(opts)
  local config, err = self.app:configure(opts)
  if not config then raise(err, 2) end
  self.api_key = config.api_key
  return config
end

--- Stored members and secrets, secret values included.
-- @treturn table `{members = {...}, secrets = {NAME = {name, value, dtCreated}}}`
function Emulator:state()
  return self.app.api:state()
end

---------------------------------------------------------------------------
-- Child process
---------------------------------------------------------------------------

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function command_exists(name)
  local r = os.execute("command -v " .. name .. " >/dev/null 2>&1")
  return r == true or r == 0
end

--- The Lua interpreter running this process: the lowest negative index of
-- the global `arg` table; without one (embedded Lua, `lua -e`), the command
-- named after this Lua version ("luajit", "lua5.1", ...) if installed, else
-- "lua5.4", else "lua".
-- @treturn string
function M.interpreter()
  local a = rawget(_G, "arg")
  if type(a) == "table" then
    local i = 0
    while a[i - 1] ~= nil do i = i - 1 end
    if i < 0 and type(a[i]) == "string" and a[i] ~= "" then return a[i] end
  end
  -- The child must match this process: it gets our package.cpath.
  local own = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
  for _, name in ipairs({ own, "lua5.4" }) do
    if command_exists(name) then return name end
  end
  return "lua"
end

-- Convert integral floats decoded by cjson back to integers (Lua 5.3+).
local tointeger = math.tointeger
local function integers(v)
  if not tointeger then return v end
  local t = type(v)
  if t == "number" then return tointeger(v) or v end
  if t == "table" then
    for k, x in pairs(v) do
      local tx = type(x)
      if tx == "number" or tx == "table" then v[k] = integers(x) end
    end
  end
  return v
end

local Handle = {}
Handle.__index = Handle

local function control(self, method, path, body)
  if self.stopped then raise("the emulator has been stopped", 3) end
  local payload = body ~= nil and cjson.encode(body) or ""
  local sock = socket.tcp()
  sock:settimeout(self.control_timeout)
  local ok, err = sock:connect(self.host, self.port)
  if not ok then
    sock:close()
    raise(format("cannot reach the emulator at %s: %s", self.url, tostring(err)), 3)
  end
  sock:send(method .. " " .. path .. " HTTP/1.1\r\nHost: " .. self.host .. ":" .. self.port ..
    "\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: " .. #payload ..
    "\r\n\r\n" .. payload)
  local line
  line, err = sock:receive("*l")
  local status = line and tonumber(line:match("^HTTP/%d%.%d (%d%d%d)"))
  local length = 0
  while status do
    local h = sock:receive("*l")
    if not h or h == "" then break end
    local name, value = h:match("^([^:]+):%s*(.-)%s*$")
    if name and name:lower() == "content-length" then length = tonumber(value) or 0 end
  end
  local resp = ""
  if status and length > 0 then resp, err = sock:receive(length) end
  sock:close()
  if not status or not resp then
    raise(format("%s %s failed: %s", method, path, tostring(err)), 3)
  end
  local okd, decoded = pcall(cjson.decode, resp)
  if status ~= 200 then
    local msg = okd and type(decoded) == "table" and decoded.message or resp
    raise(format("%s %s failed (%d): %s", method, path, status, tostring(msg)), 3)
  end
  if not okd then raise("invalid control response: " .. resp, 3) end
  return integers(decoded)
end

--- Recorded API requests, oldest first.
-- @treturn table array of `{method, path, query, args, headers, body,
--   connection, time, request_id, fault}`
function Handle:requests()
  return control(self, "GET", "/_emulator/requests")
end

--- Forget recorded requests.
function Handle:clear_requests()
  control(self, "DELETE", "/_emulator/requests")
end

--- Add a fault rule (see `paperspace.emulator.faults`).
-- @tparam table rule
-- @treturn number rule id
-- @raise on an invalid rule
function Handle:fault(rule)
  return control(self, "POST", "/_emulator/faults", rule).id
end

--- Remove every fault rule.
function Handle:clear_faults()
  control(self, "DELETE", "/_emulator/faults")
end

--- Active fault rules.
-- @treturn table array of `{id, method, path, match, times, used, responses}`
function Handle:faults()
  return control(self, "GET", "/_emulator/faults")
end

--- Back to the seed state (members, secrets, records, faults); options stay.
function Handle:reset()
  control(self, "POST", "/_emulator/reset")
end

--- Change live options (`paged`, `page_size`, `style`, `latency`,
-- `api_key`, `logged_out`). Updates `handle.api_key` too.
-- @tparam table opts partial options
-- @treturn table all live options
function Handle:configure(opts)
  local config = control(self, "POST", "/_emulator/config", opts)
  self.api_key = config.api_key
  return config
end

--- Stored members and secrets, secret values included.
-- @treturn table `{members = {...}, secrets = {NAME = {name, value, dtCreated}}}`
function Handle:state()
  return control(self, "GET", "/_emulator/state")
end

--- Shut the child down and wait for it to exit. Safe to call twice.
function Handle:stop()
  if self.stopped then return end
  pcall(control, self, "POST", "/_emulator/shutdown")
  self.stopped = true
  -- Closing its stdin also makes the child exit, should the request fail.
  local pipe = self.pipe
  if pipe and io.type(pipe) == "file" then pipe:close() end
  self.pipe = nil
end

Handle.__gc = function(self) self:stop() end
Handle.__close = function(self) self:stop() end

--- Entry point of the child process started by `start` (internal).
-- @tparam string json options as JSON
function M._run_child(json)
  local ok, opts = pcall(cjson.decode, json)
  local srv
  if ok then
    opts.watch_stdin = true
    ok, srv = pcall(M.new, opts)
  else
    srv = opts
  end
  if not ok then
    io.stdout:write("error: ", (tostring(srv):gsub("\n", " ")), "\n")
    io.stdout:flush()
    os.exit(1)
  end
  io.stdout:write(srv:url(), "\n")
  io.stdout:flush()
  srv:serve()
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

--- Start an emulator in a child process and wait until it listens.
-- The child runs the same Lua interpreter (or `opts.lua`) with this
-- process's `package.path` and `package.cpath`, and exits when `stop` is
-- called, when the handle is collected, or when this process exits.
-- @tparam ?table opts options of `new`, plus `lua` (interpreter command),
--   `start_timeout` (seconds, default 10) and `control_timeout` (seconds,
--   default 10)
-- @treturn table handle with fields `url`, `api_key`, `host`, `port`
-- @raise when the child cannot start
function M.start(opts)
  opts = opts or {}
  local child = {}
  for k, v in pairs(opts) do
    if not START_OPTIONS[k] then child[k] = v end
  end
  if child.secrets and next(child.secrets) == nil then child.secrets = nil end
  local ok, json = pcall(cjson.encode, child)
  if not ok then raise("options cannot be sent to the child: " .. tostring(json), 2) end
  local lua = opts.lua or M.interpreter()
  local tmp = os.tmpname()
  local setup = format("package.path=%q package.cpath=%q", package.path, package.cpath)
  local boot = format("local ok, m = pcall(require, 'paperspace.emulator') " ..
    "if not ok then io.write('error: ', (tostring(m):gsub('\\n', ' ')), '\\n') io.flush() os.exit(1) end " ..
    "m._run_child(%q)", json)
  -- The child's stdout goes to a file we poll; its stdin is our pipe, whose
  -- end-of-file tells it to exit even if we die without calling stop().
  local cmd = format('{ %s -e %s -e %s; echo "exited $?"; } > %s',
    shell_quote(lua), shell_quote(setup), shell_quote(boot), shell_quote(tmp))
  local pipe = io.popen(cmd, "w")
  if not pipe then
    os.remove(tmp)
    raise("cannot run " .. lua, 2)
  end
  local deadline = socket.gettime() + (opts.start_timeout or 10)
  local line
  local wait = 0.002
  while true do
    local out = read_file(tmp)
    line = out and out:match("^([^\n]*)\n")
    if line or socket.gettime() > deadline then break end
    socket.sleep(wait)
    if wait < 0.02 then wait = wait * 2 end
  end
  os.remove(tmp)
  local url = line and line:match("^(http://[^%s]+)$")
  if not url then
    pipe:close()
    local why
    if not line then
      why = "no URL printed within " .. (opts.start_timeout or 10) .. " s"
    elseif line:match("^exited") then
      why = "the child " .. line .. " (see its stderr)"
    else
      why = line:gsub("^error: ", "")
    end
    raise(format("could not start the emulator with %s: %s", lua, why), 2)
  end
  local host, port = url:match("^http://([^:/]+):(%d+)")
  local handle = setmetatable({
    url = url, host = host, port = tonumber(port), pipe = pipe,
    api_key = opts.api_key or M.DEFAULTS.api_key,
    control_timeout = opts.control_timeout or 10, stopped = false,
  }, Handle)
  -- Lua 5.1/LuaJIT run __gc only for userdata.
  local newproxy = rawget(_G, "newproxy")
  if newproxy and _VERSION == "Lua 5.1" then
    local proxy = newproxy(true)
    getmetatable(proxy).__gc = function() handle:stop() end
    handle._gc = proxy
  end
  return handle
end

-- Command line ------------------------------------------------------------

local USAGE = [[
Usage: paperspace-emulator [options]
       paperspace-emulator [options] run SCRIPT.lua [ARG ...]

Runs a local emulator of the Paperspace Team and Authentication API on
127.0.0.1 and prints its URL as the first line of output.

With `run`, starts the emulator, runs SCRIPT.lua with the same Lua, its
arguments and the library's paths, with PAPERSPACE_API_URL and
PAPERSPACE_API_KEY pointing at the emulator (team "team-1", key "test-key"),
stops the emulator and exits with the script's status.

Options:
  --port N             port to listen on (default: any free port)
  --api-key KEY        accepted bearer token (default: test-key)
  --paged              production-style pages {items, hasMore, nextPage}
  --page-size N        default page size when paged (1-120, default 20)
  --style S            "spec" (201/204) or "production" (200 + JSON body)
  --members N          number of seeded team members (default 5)
  --secret NAME=VALUE  seed a secret (repeatable)
  --latency SECONDS    delay every API response (default 0)
  --logged-out         GET /auth/session returns null
  --max-records N      requests kept in the log (default 10000)
  -h, --help           show this help

Control plane (no auth): /_emulator/requests, /_emulator/faults,
/_emulator/reset, /_emulator/config, /_emulator/state, /_emulator/health,
/_emulator/shutdown.
]]
--- Usage text of the command line.
M.USAGE = USAGE

local cli_values = {
  ["--port"] = { "port", "number" },
  ["--api-key"] = { "api_key", "string" },
  ["--page-size"] = { "page_size", "number" },
  ["--style"] = { "style", "string" },
  ["--members"] = { "members", "number" },
  ["--latency"] = { "latency", "number" },
  ["--max-records"] = { "max_records", "number" },
}
local cli_flags = { ["--paged"] = "paged", ["--logged-out"] = "logged_out" }

--- Parse command-line arguments into emulator options.
-- @tparam table argv arguments (`arg`)
-- @treturn ?table options, or nil
-- @treturn ?string error message, or "help"
function M.parse_args(argv)
  local opts = { secrets = {} }
  local i, n = 1, #argv
  while i <= n do
    local a = argv[i]
    local name, inline = a:match("^(%-%-[%w-]+)=(.*)$")
    name = name or a
    if name == "-h" or name == "--help" then return nil, "help" end
    if a == "run" then
      if argv[i + 1] == nil then return nil, "run needs a script" end
      opts.run = { n = n - i }
      for j = i + 1, n do opts.run[j - i] = argv[j] end
      return opts
    end
    local value_spec = cli_values[name]
    if cli_flags[name] and not inline then
      opts[cli_flags[name]] = true
    elseif value_spec or name == "--secret" then
      local v = inline
      if not v then
        i = i + 1
        v = argv[i]
        if v == nil then return nil, name .. " needs a value" end
      end
      if name == "--secret" then
        local k, val = v:match("^([^=]+)=(.*)$")
        if not k then return nil, "--secret expects NAME=VALUE" end
        opts.secrets[k] = val
      elseif value_spec[2] == "number" then
        local num = tonumber(v)
        if not num then return nil, name .. " expects a number, got " .. v end
        opts[value_spec[1]] = num
      else
        opts[value_spec[1]] = v
      end
    else
      return nil, "unknown argument " .. a
    end
    i = i + 1
  end
  return opts
end

--- Runs `argv[1]` with the arguments that follow it against an emulator
-- started with `opts`, in a child process of the same Lua with this
-- process's module paths. Returns the script's exit status.
-- @tparam table opts emulator options
-- @tparam table argv the script, then its arguments
-- @treturn number exit status
function M.run_script(opts, argv)
  local emu = M.start(opts)
  local words = {
    "PAPERSPACE_API_URL=" .. shell_quote(emu.url),
    "PAPERSPACE_API_KEY=" .. shell_quote(emu.api_key),
    "LUA_PATH=" .. shell_quote(package.path),
    "LUA_CPATH=" .. shell_quote(package.cpath),
    shell_quote(M.interpreter()),
  }
  for i = 1, argv.n or #argv do words[#words + 1] = shell_quote(argv[i]) end
  local ok, how, code = os.execute(table.concat(words, " "))
  emu:stop()
  if type(ok) == "number" then -- Lua 5.1: the wait status
    return ok % 256 == 0 and math.floor(ok / 256) or 1
  end
  if how == "exit" then return code end
  return 1
end

--- Run the command line: print the URL, then serve until shut down.
-- @tparam table argv arguments (`arg`)
-- @treturn number exit status
function M.main(argv)
  local opts, err = M.parse_args(argv or {})
  if not opts then
    if err == "help" then
      io.stdout:write(M.USAGE)
      return 0
    end
    io.stderr:write("paperspace-emulator: ", err, "\n\n", M.USAGE)
    return 2
  end
  if opts.run then
    local script_argv = opts.run
    opts.run = nil
    local ok, status = pcall(M.run_script, opts, script_argv)
    if not ok then
      io.stderr:write("paperspace-emulator: ", tostring(status), "\n")
      return 1
    end
    return status
  end
  local ok, srv = pcall(M.new, opts)
  if not ok then
    io.stderr:write("paperspace-emulator: ", (tostring(srv):gsub("^paperspace%.emulator: ", "")), "\n")
    return 1
  end
  io.stdout:write(srv:url(), "\n")
  io.stdout:flush()
  srv:serve()
  return 0
end

return M
