--- Run a Prism mock server of the API description for contract tests.
--
--     local prism = require "spec.support.prism"
--     local ok, why = prism.available()          -- false, "... run scripts/install-prism"
--     local server = assert(prism.start{ spec = "openapi/paperspace-team-auth.yml" })
--     -- server.url == "http://127.0.0.1:PORT", server.log == path of Prism's output
--     local mark = server:mark()
--     ... talk to server.url ...
--     local reqs = server:requests_since(mark)   -- what Prism saw, with any complaint
--     server:stop()                              -- idempotent
--
-- Prism is started as `prism mock -h 127.0.0.1 -p PORT -v info --errors SPEC`.
-- How Prism 5.14.2 behaves with openapi/paperspace-team-auth.yml (checked with
-- curl; this is what the contract spec relies on):
--
-- * Routes are served at the root: `/auth/session`, not `/v1/auth/session`
--   (the `/v1` of `servers` is ignored; `/v1/...` gives 404
--   NO_PATH_MATCHED_ERROR). Clients must use `base_url = server.url`.
-- * Valid requests get static mocks built from the schemas: session -> 200
--   object `{"user":{"id":"string",...},"team":{...}}` (never `null` in
--   static mode); member/secret lists -> 200 one-element arrays; PUT member ->
--   200 member object; POST secret -> 201 `{"name":"string","dtCreated":
--   "2019-08-24T14:15:22Z"}`; GET/PATCH secret -> 200 secret; both DELETEs ->
--   204 with no body.
-- * No `Authorization: Bearer <token>` (absent, `Basic`, lowercase `bearer`,
--   empty token) -> 401 application/problem+json, type ...#UNAUTHORIZED,
--   header `WWW-Authenticate: Bearer`. Any non-empty token is accepted.
-- * Invalid bodies -> 422 application/problem+json, type
--   ...#UNPROCESSABLE_ENTITY, with a `validation` array, e.g. PUT
--   `{"isAdmin":"yes"}` -> `[{"location":["body","isAdmin"],"severity":"Error",
--   "code":"type","message":"Request body property isAdmin must be boolean"}]`;
--   PATCH `{}` / POST without `name` -> code "required", "Request body must
--   have required property 'value'" / "'name'"; a missing, empty or `null`
--   body -> "Body parameter is required". No `sl-violations` header on these.
--   Unknown body properties (`{"name":..,"value":..,"extra":1}`) are accepted.
-- * A body without `Content-Type: application/json` -> 415 ...#INVALID_CONTENT_TYPE;
--   a non-empty body on GET/DELETE -> 415; malformed JSON -> 400 `{"error":
--   {"code":"invalid_json",...}}`; `Accept: text/plain` -> 406.
-- * Unknown query parameters (`?limit=10&after=x&orderBy=name&order=asc`) are
--   accepted silently on every route: no error, no sl-violations header.
-- * A percent-encoded path segment (`/teams/t1/secrets/a%20b%2Fc`) matches
--   `{name}` like any other; an unencoded `/` (`.../secrets/a/b`) -> 404.
--   A trailing slash (`/teams/t1/users/`) -> 405.
-- * `--errors`: request errors already become 401/415/422 without it,
--   because the yml declares no 4xx response Prism could mock instead. The
--   flag additionally turns a response that violates the schema into 500
--   ...#VIOLATIONS. `sl-violations` is only set when Prism found warnings or
--   response violations (also on that 500); its value is a JSON array
--   like `[{"location":["request","query","old"],"severity":"Warning",
--   "code":"deprecated","message":"Query param old is deprecated"}]`. This yml
--   produces none, so valid requests must come back without it.
-- * Each request is logged ("Request received", "Violation: ...", "Request
--   terminated with error: ..."); `requests_since` reads those lines so a test
--   can check what Prism thought of requests it did not send itself.
-- @module support.prism

local socket = require "socket"
local http = require "socket.http"
local ltn12 = require "ltn12"
local helpers = require "spec.support.helpers"

local M = {}

--- Prism version installed by scripts/install-prism.
M.VERSION = "5.14.2"

local INSTALL_HINT = "run scripts/install-prism (or set PRISM_BIN to a prism executable)"

-- Path of the sentinel requests used to know the log is up to date; no such
-- route exists, so Prism answers 404 and logs "terminated with error".
local SYNC_PREFIX = "/__prism_support_sync/"

local function quote(s)
  return "'" .. (tostring(s):gsub("'", "'\\''")) .. "'"
end

-- os.execute in 5.4 returns true|nil, "exit"|"signal", code.
local function run(cmd)
  local ok, how, code = os.execute(cmd)
  if type(ok) == "number" then return ok == 0 end -- Lua 5.1: the wait status
  return ok == true and how == "exit" and code == 0
end

local function is_file(path)
  local f = io.open(path, "r")
  if f then
    f:close()
    return true
  end
  return false
end

local function read_file(path, offset)
  local f = io.open(path, "rb")
  if not f then return "" end
  if offset and offset > 0 then f:seek("set", offset) end
  local s = f:read("*a") or ""
  f:close()
  return s
end

-- The repository root, found from this file's own path so the module works
-- whatever directory busted runs from.
local function repo_root()
  local src = debug.getinfo(1, "S").source
  if src:sub(1, 1) == "@" then
    local root = src:sub(2):match("^(.-)/?spec/support/prism%.lua$")
    if root then return root == "" and "." or root end
  end
  return "."
end

local ROOT = repo_root()

local function resolve(path)
  if path:sub(1, 1) == "/" or is_file(path) then return path end
  return ROOT .. "/" .. path
end

--- Locate the prism executable.
-- `PRISM_BIN` (a path, or a command name on `PATH`) wins; otherwise
-- `.tools/prism/node_modules/.bin/prism` in the repository.
-- @treturn[1] string path or command
-- @treturn[2] nil
-- @treturn[2] string why not, with the install hint
function M.find_bin()
  local env = os.getenv("PRISM_BIN")
  if env and env ~= "" then
    if env:find("/", 1, true) then
      if is_file(env) then return env end
      return nil, "PRISM_BIN=" .. env .. " does not exist; " .. INSTALL_HINT
    end
    if run("command -v " .. quote(env) .. " >/dev/null 2>&1") then return env end
    return nil, "PRISM_BIN=" .. env .. " is not on PATH; " .. INSTALL_HINT
  end
  -- scripts/install-prism's launcher runs Prism under the node it chose
  -- (the system's, or one from npm when that is too old).
  local launcher = ROOT .. "/.tools/prism/prism"
  if is_file(launcher) then return launcher end
  local bin = ROOT .. "/.tools/prism/node_modules/.bin/prism"
  if is_file(bin) then return bin end
  return nil, "Prism is not installed (" .. bin .. " is missing); " .. INSTALL_HINT
end

--- Whether Prism can be started here.
-- @treturn[1] boolean true
-- @treturn[1] string the prism executable
-- @treturn[2] boolean false
-- @treturn[2] string the reason, telling the user what to run
function M.available()
  local bin, err = M.find_bin()
  if not bin then return false, err end
  -- The npm-installed launcher is a `#!/usr/bin/env node` script.
  if not run("command -v node >/dev/null 2>&1") then
    return false, "node is not on PATH, Prism needs Node.js >= 18.20.1"
  end
  return true, bin
end

--- Pick a TCP port on 127.0.0.1 that is free right now.
-- True once something answers HTTP on the port (any status: Prism answers
-- GET / with 404, which still proves it has loaded the document).
local function answers(port)
  local c = socket.tcp()
  c:settimeout(1)
  if not c:connect("127.0.0.1", port) then
    c:close()
    return false
  end
  c:send("GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
  local line = c:receive("*l")
  c:close()
  return line ~= nil and line:match("^HTTP/%d%.%d %d%d%d") ~= nil
end

local function strip_ansi(s)
  return (s:gsub("\27%[[%d;]*m", ""))
end

local Server = {}
Server.__index = Server
-- Stop Prism even when the test run ends without calling stop() (busted
-- closes the Lua state on exit, which runs pending finalizers).
Server.__gc = function(s) pcall(s.stop, s) end

-- Signal target: the whole process group when Prism got its own session,
-- so node, the watchdog and anything they spawn go too.
function Server:_target()
  return self._group and ("-" .. self.pid) or tostring(self.pid)
end

local HAVE_PROC = is_file("/proc/self/stat")

-- Whether Prism itself is running. A dead Prism can stay a zombie for a
-- while (its parent shell has exited; some container inits reap slowly), and
-- `kill -0` succeeds on zombies, so on Linux the state is read from /proc.
function Server:_running()
  if not self.pid then return false end
  if HAVE_PROC then
    local f = io.open("/proc/" .. self.pid .. "/stat", "r")
    if not f then return false end
    local stat = f:read("*l") or ""
    f:close()
    local state = stat:match("%) (%a)")
    return state ~= nil and state ~= "Z" and state ~= "X"
  end
  return run("kill -0 " .. self.pid .. " 2>/dev/null")
end

--- Stop the server and everything it started.
-- SIGTERM to the process group, SIGKILL if Prism is still running after
-- 5 s. Safe to call more than once; also run when the handle is garbage
-- collected.
-- @treturn boolean true
function Server:stop()
  if self._stopped then return true end
  self._stopped = true
  if self.pid then
    run("kill -TERM " .. self:_target() .. " 2>/dev/null")
    local deadline = socket.gettime() + 5
    while self:_running() and socket.gettime() < deadline do
      socket.sleep(0.05)
    end
    if self:_running() then run("kill -KILL " .. self:_target() .. " 2>/dev/null") end
  end
  if self._pidfile then os.remove(self._pidfile) end
  return true
end

--- The last lines of Prism's output, for failure messages.
-- @tparam[opt=30] integer n how many lines
-- @treturn string
function Server:log_tail(n)
  n = n or 30
  local lines = {}
  for line in strip_ansi(read_file(self.log)):gmatch("[^\n]+") do
    lines[#lines + 1] = line
    if #lines > n then table.remove(lines, 1) end
  end
  return table.concat(lines, "\n")
end

--- Send one HTTP request with LuaSocket, bypassing the library under test.
-- @tparam string method e.g. "PUT"
-- @tparam string path e.g. "/teams/t1/users/u1" (may include a query)
-- @tparam[opt] table opts `headers` (table) and `body` (string)
-- @treturn[1] integer status
-- @treturn[1] table headers, names in lower case
-- @treturn[1] string body
-- @treturn[2] nil
-- @treturn[2] string error
function Server:request(method, path, opts)
  opts = opts or {}
  local headers = {}
  for k, v in pairs(opts.headers or {}) do headers[k:lower()] = v end
  if opts.body then headers["content-length"] = tostring(#opts.body) end
  local chunks = {}
  local ok, status, resp_headers = http.request{
    url = self.url .. path,
    method = method,
    headers = headers,
    source = opts.body and ltn12.source.string(opts.body) or nil,
    sink = ltn12.sink.table(chunks),
  }
  if not ok then return nil, tostring(status) end
  return status, resp_headers or {}, table.concat(chunks)
end

--- Wait until Prism has logged everything about the requests made so far.
-- Prism writes its log asynchronously; a sentinel request to an unknown
-- route is logged after them, so once its last line is in the file the
-- earlier ones are too.
-- @treturn[1] boolean true
-- @treturn[2] nil
-- @treturn[2] string error
function Server:sync()
  self._sync = (self._sync or 0) + 1
  local path = SYNC_PREFIX .. self._sync
  local status, err = self:request("GET", path)
  if not status then return nil, "sync request failed: " .. tostring(err) end
  local needle = path .. " "
  local deadline = socket.gettime() + 10
  repeat
    for line in read_file(self.log, self._synced or 0):gmatch("[^\n]+") do
      if line:find(needle, 1, true) and line:find("terminated with error", 1, true) then
        return true
      end
    end
    socket.sleep(0.02)
  until socket.gettime() > deadline
  return nil, "Prism did not log " .. path .. " within 10 s"
end

--- A position in Prism's log; pass it to `requests_since`.
-- @treturn integer byte offset (after everything logged so far)
function Server:mark()
  assert(self:sync())
  local f = assert(io.open(self.log, "rb"))
  local size = f:seek("end")
  f:close()
  self._synced = size
  return size
end

-- Lines that mean Prism found something wrong with a request or with the
-- response it would have sent.
local function is_problem(line)
  return line:find("Violation:", 1, true) ~= nil
    or line:find("did not pass the validation rules", 1, true) ~= nil
    or line:find("terminated with error", 1, true) ~= nil
    or line:find("%s(error)%s") ~= nil
    or line:find("%s(fatal)%s") ~= nil
end

--- The requests Prism received since `mark`, as Prism logged them.
-- @tparam integer mark from `Server:mark`
-- @treturn table array of `{ method = "put", path = "/teams/t1/users/u1",
--   problems = { log lines }, lines = { log lines } }`; `problems` is empty
--   for a request that passed validation and got a mocked response. The
--   query string is not logged, so `path` has none.
function Server:requests_since(mark)
  assert(self:sync())
  local text = strip_ansi(read_file(self.log, mark))
  local reqs, cur = {}, nil
  for line in text:gmatch("[^\n]+") do
    local method, path = line:match("%[HTTP SERVER%]%s+(%a+)%s+(%S+).-Request received")
    if method then
      cur = { method = method:lower(), path = path, problems = {}, lines = {},
              sync = path:sub(1, #SYNC_PREFIX) == SYNC_PREFIX }
      if not cur.sync then reqs[#reqs + 1] = cur end
    end
    -- Lines before the first "Request received" belong to earlier requests.
    if cur then
      cur.lines[#cur.lines + 1] = line
      if not method and is_problem(line) then
        -- A sync request ends in its own NO_PATH_MATCHED error; any other
        -- problem logged after it came late, from the request before it,
        -- and must not be dropped.
        local owner = cur
        if cur.sync then
          owner = not line:find(SYNC_PREFIX, 1, true) and reqs[#reqs] or nil
        end
        if owner then owner.problems[#owner.problems + 1] = line end
      end
    end
  end
  return reqs
end

--- Start `prism mock` for an OpenAPI document and wait until it answers.
-- @tparam[opt] table opts
--   `spec` (default "openapi/paperspace-team-auth.yml", relative to the
--   repository or the current directory), `port` (default: a free one),
--   `log` (default: a temporary file), `timeout` in seconds (default 60,
--   Prism can be slow to start), `args` (array of extra prism arguments)
-- @treturn[1] table server: `url`, `port`, `pid`, `log`, `stop`, ...
-- @treturn[2] nil
-- @treturn[2] string why it could not start (includes the log's tail)
function M.start(opts)
  opts = opts or {}
  local ok, bin = M.available()
  if not ok then return nil, bin end
  local spec = resolve(opts.spec or "openapi/paperspace-team-auth.yml")
  if not is_file(spec) then return nil, "API description not found: " .. spec end
  local port = opts.port
  if not port then
    local err
    port, err = helpers.free_port()
    if not port then return nil, "no free port: " .. tostring(err) end
  end

  local server = setmetatable({
    url = "http://127.0.0.1:" .. port,
    port = port,
    log = opts.log or os.tmpname(),
    spec = spec,
    _pidfile = os.tmpname(),
    -- A new session makes Prism a process-group leader that can be killed
    -- as a group without touching the test runner's own group.
    _group = run("command -v setsid >/dev/null 2>&1"),
  }, Server)

  local argv = { quote(bin), "mock", "-h", "127.0.0.1", "-p", tostring(port), "-v", "info", "--errors" }
  for _, a in ipairs(opts.args or {}) do argv[#argv + 1] = quote(a) end
  argv[#argv + 1] = quote(spec)
  -- The inner shell records its pid and then becomes Prism (exec), so the
  -- pid file names Prism's pid, which is also its process-group id. In its
  -- own group it also leaves a watchdog that takes the group down once the
  -- Lua process ($PPID of os.execute's shell) is gone, so a killed test run
  -- leaves no Prism behind.
  local inner
  if server._group then
    inner = 'echo $$ > "$0"; parent=$1; shift; '
      .. '(while kill -0 "$parent" 2>/dev/null; do sleep 1; done; kill -TERM 0) </dev/null >/dev/null 2>&1 & '
      .. 'exec "$@"'
  else
    inner = 'echo $$ > "$0"; shift; exec "$@"'
  end
  local cmd = string.format('%s sh -c %s %s "$PPID" %s </dev/null >%s 2>&1 &',
    server._group and "setsid" or "", quote(inner), quote(server._pidfile),
    table.concat(argv, " "), quote(server.log))
  if not run(cmd) then
    server:stop()
    return nil, "could not run: " .. cmd
  end

  local deadline = socket.gettime() + (opts.timeout or 60)
  while not server.pid and socket.gettime() < deadline do
    server.pid = tonumber(read_file(server._pidfile):match("%d+"))
    if not server.pid then socket.sleep(0.02) end
  end
  while true do
    if server.pid and answers(port) then break end
    if not server:_running() then
      local tail = server:log_tail()
      server:stop()
      return nil, "Prism exited before answering; log " .. server.log .. ":\n" .. tail
    end
    if socket.gettime() > deadline then
      local tail = server:log_tail()
      server:stop()
      return nil, string.format("Prism did not answer on %s within %ds; log %s:\n%s",
        server.url, opts.timeout or 60, server.log, tail)
    end
    socket.sleep(0.2)
  end
  -- Let the start-up probe's log lines land before anyone takes a mark.
  local synced, err = server:sync()
  if not synced then
    server:stop()
    return nil, err
  end
  return server
end

return M
