--- The client: one per API key, holding a kept-alive connection.
--
--     local paperspace = require "paperspace"
--     local client = paperspace.new { api_key = os.getenv "PAPERSPACE_API_KEY" }
--     local secret, err = client:get_team_secret("team-1", "DATABASE_URL")
--     if not secret then print(err) end
--
-- Every method returns its result, or `nil, err` on any runtime failure (see
-- `paperspace.errors`), and raises at once on a wrong argument, sending nothing.
-- The last argument of every method is an optional `opts` table: `timeout`,
-- `connect_timeout` (seconds) and `max_retries` for that call; lists also take
-- `limit` (1 to 120 a page), `after` (a cursor), `order_by`, `order` and
-- `max_pages` (the most pages to fetch; a list with more is an error).
--
-- The operation methods are made from the C core's table of operations
-- (editors learn their types from `paperspace/types.lua`, LuaLS annotations):
--
-- @classmod paperspace.client

local core = require "paperspace.core"
local config = require "paperspace.config"
local log = require "paperspace.log"
local pager = require "paperspace.pager"
local errors = require "paperspace.errors"
local luv_host = require "paperspace.hosts.luv"
local record = require "paperspace.record"
local retry = require "paperspace.retry"
local scheduler = require "paperspace.scheduler"
local tasks = require "paperspace.tasks"
local team = require "paperspace.team"
-- Inside nginx (OpenResty), calls wait on the nginx event loop instead.
local ngx_host = require "paperspace.hosts.ngx"

local unpack = table.unpack or unpack -- luacheck: ignore 143
local bad_argument = errors.bad_argument
local check_self = errors.check_self
local check_options = errors.check_options
local annotate = record.annotate
local wire_record = record.wire
local attempt_loop = retry.run
local closed_during = retry.closed_during

local Client = {}
Client.__index = Client
Client.__name = "paperspace.client"

local client = {}

--- The current session.
-- @function Client:get_session
-- @tparam[opt] table opts
-- @treturn table|nil the session `{user = {...}, team = {...}}`; `nil, nil` when
-- nobody is logged in (the API answers JSON null)
-- @treturn[opt] table the error object

--- Every member of a team, across all pages.
-- @function Client:list_team_members
-- @param team_id
-- @tparam[opt] table opts
-- @treturn {paperspace.member,...}|nil
-- @treturn[opt] table the error object

--- Iterates over a team's members page by page; raises the error object on failure.
-- @function Client:each_team_member
-- @param team_id
-- @tparam[opt] table opts
-- @treturn function

--- Makes a member an admin, or not.
-- @function Client:update_team_member
-- @param team_id
-- @param user_id
-- @tparam table body `{isAdmin = boolean}`
-- @tparam[opt] table opts
-- @treturn paperspace.member|nil
-- @treturn[opt] table the error object

--- Removes a member from a team.
-- @function Client:remove_team_member
-- @param team_id
-- @param user_id
-- @tparam[opt] table opts
-- @treturn true|nil
-- @treturn[opt] table the error object

--- Every secret of a team (names and dates), across all pages.
-- @function Client:list_team_secrets
-- @param team_id
-- @tparam[opt] table opts
-- @treturn {paperspace.secret,...}|nil
-- @treturn[opt] table the error object

--- Iterates over a team's secrets page by page; raises the error object on failure.
-- @function Client:each_team_secret
-- @param team_id
-- @tparam[opt] table opts
-- @treturn function

--- Creates a secret.
-- @function Client:create_team_secret
-- @param team_id
-- @tparam table body `{name = string, value = string}`
-- @tparam[opt] table opts
-- @treturn paperspace.secret|nil
-- @treturn[opt] table the error object

--- One secret, by name.
-- @function Client:get_team_secret
-- @param team_id
-- @tparam string name
-- @tparam[opt] table opts
-- @treturn paperspace.secret|nil
-- @treturn[opt] table the error object

--- Replaces a secret's value.
-- @function Client:update_team_secret
-- @param team_id
-- @tparam string name
-- @tparam table body `{value = string}`
-- @tparam[opt] table opts
-- @treturn paperspace.secret|nil
-- @treturn[opt] table the error object

--- Deletes a secret.
-- @function Client:delete_team_secret
-- @param team_id
-- @tparam string name
-- @tparam[opt] table opts
-- @treturn true|nil
-- @treturn[opt] table the error object

--- Makes a client.
-- @tparam[opt] table opts `api_key` (default `$PAPERSPACE_API_KEY`), `base_url`
-- (default `$PAPERSPACE_API_URL` or the production API), `timeout` (60 s an
-- attempt), `connect_timeout` (10 s), `max_retries` (2), `user_agent` (a suffix),
-- `max_response_bytes` (32 MiB), `tls_verify` (true), `ca_file` (a PEM bundle to
-- verify the server with instead of the system's), `logger` (`function(line, record)`),
-- `max_pages` (1000: the most pages a list fetches; `math.huge` for no limit),
-- `loop` (a luv module: `vim.uv`, `vim.loop`, `require "luv"`; spawned calls then run
-- from that loop, see `spawn`), `schedule` (with `loop`: a function that every
-- `on_done` is handed to, such as `vim.schedule`)
-- @treturn paperspace.client
function client.new(opts)
  local cfg = config.resolve(opts)
  local loop, schedule = cfg.loop, cfg.schedule
  cfg.loop, cfg.schedule = nil, nil
  if loop or schedule then luv_host.check(loop, schedule) end
  local handle = core.new(cfg)
  local has_key = cfg.api_key ~= nil
  cfg.api_key = nil -- from here on the key lives only in the C core
  local emit = log.new(cfg.logger)
  cfg.logger = nil
  local self = setmetatable({
    _core = handle,
    _config = cfg,
    _has_key = has_key,
    -- false, not nil: a missing field would go through Client's __index
    -- fallback (the misspelt-method hint) on every call.
    _log = emit or false,
    _closed = false,
    _sched = (ngx_host.detect() and ngx_host.scheduler or scheduler.new)(handle),
    _teams = setmetatable({}, { __mode = "v" }),
  }, Client)
  if loop then self._host = luv_host.attach(loop, handle, self._sched, schedule) end
  return self
end

-- The options a list takes: a call's, and the list's own.
local LIST_OPTIONS = {}
for k in pairs(config.call_options) do LIST_OPTIONS[k] = true end
for k in pairs(config.list_options) do LIST_OPTIONS[k] = true end

local function check_opts(op, opts, pos, name, iterating)
  if opts == nil then return end
  check_options(opts, pos, name, op.paged and LIST_OPTIONS or config.call_options)
  if iterating and opts.raw ~= nil then
    bad_argument(pos, name, "iterators do not take opts.raw: use " .. op.name
                            .. " with raw = true, or client:last_response()")
  end
  config.check_retries(opts.max_retries, name)
  config.check_max_pages(opts.max_pages, name)
end

--- The team object for id `id`, made once per client and id.
-- @param id the team's id (a string, or an integer)
-- @treturn paperspace.team
function Client:team(id)
  check_self(self, Client, "client", "team")
  id = core.check_name(id, "team", "team_id", 1)
  local t = self._teams[id]
  if t == nil then
    t = team.new(self, id)
    self._teams[id] = t
  end
  return t
end

-- What a call returns: results get their methods (members and secrets
-- belong to the team named by the call's first argument), and the call's
-- record becomes the last response.
local function deliver(self, op, team_id, value, err, r, attempts)
  -- The last call that returned is this one, whatever user code called meanwhile.
  self._last = r or self._last
  if value == nil then return nil, err end
  if value == core.null then return nil, nil end
  if op.item == "member" or op.item == "secret" then
    -- The core has checked the id by now: the cache needs no second check.
    value, err = team.wrap(self._teams[team_id] or self:team(team_id), op.item, value, op.paged)
    if err then return nil, annotate(err, r, attempts) end
  end
  return value
end

local function define(op)
  local nparams = #op.params
  local nargs = nparams + (#op.fields > 0 and 1 or 0) + 1
  if not op.paged then
    Client[op.name] = function(self, ...)
      check_self(self, Client, "client", op.name)
      local opts = select(nargs, ...)
      check_opts(op, opts, nargs, op.name)
      local raw = type(opts) == "table" and opts.raw
      local started = raw and core.now()
      local value, err, attempts, r = attempt_loop(self, op, opts, ...)
      if raw then
        value, err = deliver(self, op, (...), value, err, r)
        return value, err, wire_record(r, err, attempts, started)
      end
      return deliver(self, op, (...), value, err, r)
    end
    return
  end
  -- A list: its path parameters, then opts. Every page is one call, whose
  -- record and attempts are kept in `args.record` and `args.attempts` (the
  -- list call's own) for describing an error the pager or the wrapping
  -- makes of that page.
  local function fetcher(self, args, stats)
    return function(page_opts)
      -- A later page, after user code closed the client: the call ends here.
      if self._closed and args.attempts then return nil, closed_during(), 0 end
      args[nparams + 1] = page_opts
      local value, err, attempts, r = attempt_loop(self, op, page_opts, unpack(args, 1, nparams + 1))
      args.record = r
      if stats then stats.pages, stats.attempts = stats.pages + 1, stats.attempts + attempts end
      args.attempts = attempts
      return value, err, attempts
    end
  end
  local function annotator(args)
    return function(err, attempts) return annotate(err, args.record, attempts or args.attempts) end
  end
  -- The arguments every page is fetched with: the path parameters as the
  -- core sends them, then opts.
  local function page_args(name, ...)
    local args = { ... }
    for i = 1, nparams do
      args[i] = core.check_name(args[i], name, op.params[i], i)
    end
    return args
  end
  Client[op.name] = function(self, ...)
    check_self(self, Client, "client", op.name)
    local opts = select(nparams + 1, ...)
    check_opts(op, opts, nparams + 1, op.name)
    local raw = type(opts) == "table" and opts.raw
    local started = raw and core.now()
    local stats = raw and { pages = 0, attempts = 0 }
    -- The first page as a plain call (the core checks its arguments): a list
    -- of one page, the common case, makes no closures and no pager state.
    local value, err, attempts, r = attempt_loop(self, op, opts, ...)
    if stats then stats.pages, stats.attempts = 1, attempts end
    if value ~= nil then
      local cursor
      value, cursor, err = pager.read(value)
      if err then
        err = annotate(err, r, attempts)
      elseif cursor ~= nil then
        local args = page_args(op.name, ...)
        args.record, args.attempts = r, attempts
        local max_pages = opts and opts.max_pages or self._config.max_pages
        value, err = pager.collect(fetcher(self, args, stats), opts, annotator(args), max_pages,
                                   value, cursor, attempts)
        r, attempts = args.record, args.attempts
      end
    end
    value, err = deliver(self, op, (...), value, err, r, attempts)
    if raw then
      local wire = wire_record(r, err, stats.attempts, started, stats.pages)
      wire.retries = stats.attempts - stats.pages
      return value, err, wire
    end
    return value, err
  end
  local each = "each_" .. op.name:gsub("^list_", ""):gsub("s$", "")
  Client[each] = function(self, ...)
    check_self(self, Client, "client", each)
    local opts = select(nparams + 1, ...)
    check_opts(op, opts, nparams + 1, each, true)
    local args = page_args(each, ...)
    -- The core's checks (limit, order, cursor) now, not at the first step.
    self._core:check(each, op.name, unpack(args, 1, nparams + 1))
    local mt = self:team(args[1])._metatables[op.item]
    local max_pages = opts and opts.max_pages or self._config.max_pages
    local next_item = pager.each(fetcher(self, args), opts, annotator(args), max_pages)
    return function()
      local item = next_item()
      if item == nil or team.is_object(item) then return item and setmetatable(item, mt) end
      error(annotate(team.not_an_object(op.item, item), args.record, args.attempts), 2)
    end
  end
end

client.operation_names = {}
for _, op in ipairs(core.operations) do
  define(op)
  client.operation_names[op.name] = true
end

-- The method of operation `name` (for gather's `{name, args...}`), or nil.
local function operation_method(name)
  return type(name) == "string" and client.operation_names[name] and rawget(Client, name) or nil
end

-- How many single-character edits turn `a` into `b` (Levenshtein).
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

-- A misspelt method raises naming the closest one, rather than Lua's bare
-- "attempt to call a nil value". Methods live in Client itself, so this runs
-- only for names that are not there: normal lookups never reach it.
setmetatable(Client, { __index = function(_, name)
  if type(name) ~= "string" or name:sub(1, 1) == "_" then return nil end
  local best, best_d
  for k, v in pairs(Client) do
    if type(v) == "function" and k:sub(1, 1) ~= "_" then
      local d = distance(name, k)
      if not best_d or d < best_d or (d == best_d and k < best) then best, best_d = k, d end
    end
  end
  local hint = best and best_d <= math.max(2, math.floor(#name / 2))
    and string.format(" (did you mean '%s'?)", best) or ""
  error(string.format("paperspace: a client has no method or field '%s'%s", name, hint), 2)
end })

--- Runs calls concurrently and returns their results in order.
--
--     local results, failed = client:gather {
--       { "get_team_secret", "team-1", "A" },
--       { "get_team_secret", "team-1", "B" },
--       function() return client:team("team-1"):set_secret("C", "v") end,
--     }
--     local a, err = results[1][1], results[1][2]
--
-- Each call is a method name with its arguments, or a function (which may
-- make several calls, one after another). At most `max_concurrency`
-- requests are in flight at once; retries and timeouts apply to each as
-- they would alone. One failure never stops the others, unless
-- `opts.fail_fast` is set: then the calls still running are cancelled
-- (their result is `nil, err` with `err.kind == "cancelled"`).
-- @tparam table calls
-- @tparam[opt] table opts `fail_fast`
-- @treturn table `results[i]` is what call i returned, as a list:
-- `{value, err}` for a method (`n` holds the count)
-- @treturn integer how many calls returned an error
function Client:gather(calls, opts)
  check_self(self, Client, "client", "gather")
  return tasks.gather(self._sched, self, calls, opts, operation_method)
end

--- Starts `fn` as a task, without blocking. On a client made with `loop`
-- (libuv), its requests go on from that loop by themselves and `on_done`
-- is called from it (through `schedule`, if given); inside nginx a task is a light
-- thread of its request and needs no poll either; otherwise they go on
-- while the caller's event loop calls `client:poll`:
--
--     local task = client:spawn(function() return client:get_session() end,
--                               function(session, err) render(session, err) end)
--     timer:start(0, 10, function() client:poll(0) end)   -- a loop without `loop`
--
-- @tparam function fn makes the calls; what it returns is the task's result
-- @tparam[opt] function on_done called once when the task ends: with that
-- result; with `nil, err` (`err.kind == "cancelled"`) when it is cancelled;
-- with `nil` and the error when `fn` raises after its first request
-- @treturn paperspace.task with `done()`, `result()` and `cancel()`
function Client:spawn(fn, on_done)
  check_self(self, Client, "client", "spawn")
  return tasks.spawn(self._sched, fn, on_done, self._host)
end

--- Moves started tasks forward: reads what the network has, waiting up to
-- `wait` seconds (default 0: never blocks), and resumes the tasks that can
-- go on. Call it from your event loop.
-- @tparam[opt] number wait
-- @treturn integer how many tasks are not done
function Client:poll(wait)
  check_self(self, Client, "client", "poll")
  return tasks.poll(self._sched, wait)
end

--- Runs the loop until every task is done, those started meanwhile (by an
-- `on_done`, say) included: what `gather` does for its own. Inside a task it
-- would wait for itself, so there it raises; use `gather` there.
function Client:wait_all()
  check_self(self, Client, "client", "wait_all")
  return tasks.wait_all(self._sched)
end

--- What the last attempt of the last call that returned got on the wire,
-- without another request. Set as a call returns: calls that user code makes
-- while one runs (a logger's, say) do not change what it reports for it.
-- @treturn table|nil `status`, `headers` (lower-case names), `request_id`,
-- `elapsed` (seconds), `method`, `url`, `path`; nil before the first call
function Client:last_response()
  check_self(self, Client, "client", "last_response")
  return self._last and record.public(self._last, true)
end

--- Closes the client and its connections. Tasks still running end as
-- cancelled; calls after this raise. Called from a task's own code (or a
-- logger or an `on_done` run inside one), that task ends as cancelled too,
-- once: the rest of its code runs, but sends nothing.
function Client:close()
  check_self(self, Client, "client", "close")
  self._closed = true
  -- An on_done that raises does not keep the others from ending, nor the
  -- client open: its error comes out once all is closed.
  local raised = self._sched:close()
  if self._host then self._host:close() end
  self._core:close()
  if raised ~= nil then error(raised, 0) end
end

Client.__close = Client.close

function Client:__tostring()
  return "paperspace.client(" .. self._config.base_url .. ")"
end

--- The client's settings, defaults included, without the API key.
-- @treturn table a copy: `base_url`, `timeout`, `connect_timeout`, `max_retries`,
-- `user_agent`, `max_response_bytes`, `tls_verify`, `ca_file`, `max_pages`,
-- `max_concurrency`, `max_host_connections`, `has_api_key`
function Client:settings()
  check_self(self, Client, "client", "settings")
  local copy = { has_api_key = self._has_key }
  for k, v in pairs(self._config) do copy[k] = v end
  return copy
end

return client
