--- The task API of a client (`gather`, `spawn`, `poll`, `wait_all`, and
-- what `close` does to tasks still running), over its scheduler: the plain
-- one (`paperspace.scheduler`) or a host's (`paperspace.hosts.ngx`). The
-- client's methods check `self` and hand over to these; the arguments are
-- checked here.
-- @module paperspace.tasks
-- @local

local core = require "paperspace.core"
local errors = require "paperspace.errors"

local bad_argument = errors.bad_argument
local is_error = errors.is_error
local unpack = table.unpack or unpack -- luacheck: ignore 143

local tasks = {}

local GATHER_OPTIONS = { fail_fast = true }

--- Runs calls concurrently on `sched` and returns their results in order
-- (`client:gather`).
-- @tparam table sched the client's scheduler
-- @tparam table client the client the named operations are called on
-- @tparam table calls
-- @tparam[opt] table opts `fail_fast`
-- @tparam function operation_method `operation_method(name)`: the method of
-- operation `name`, or nil when no operation has that name
-- @treturn table the results
-- @treturn integer how many calls returned an error
function tasks.gather(sched, client, calls, opts, operation_method)
  if type(calls) ~= "table" then
    bad_argument(1, "gather", "calls must be a table, got " .. type(calls))
  end
  errors.check_options(opts, 2, "gather", GATHER_OPTIONS)
  local fail_fast = opts and opts.fail_fast
  local started, failed = {}, 0
  local cancelling = false
  local function on_done(_, err)
    if fail_fast and not cancelling and is_error(err) then
      cancelling = true
      for _, t in ipairs(started) do sched:cancel(t) end
    end
  end
  for i = 1, #calls do
    local call = calls[i]
    local fn = call
    if type(call) == "table" then
      local method = operation_method(call[1])
      if not method then
        bad_argument(1, "gather", string.format("calls[%d][1] must name an operation, got %s", i,
                                                tostring(call[1])))
      end
      fn = function() return method(client, unpack(call, 2, call.n or #call)) end
    elseif type(call) ~= "function" then
      bad_argument(1, "gather", string.format("calls[%d] must be a function or a table, got %s", i,
                                              type(call)))
    end
    local ok, task = pcall(sched.spawn, sched, fn, on_done)
    if not ok then -- a wrong argument: what already started must not go on
      for _, t in ipairs(started) do sched:cancel(t) end
      error(task, 0)
    end
    started[i] = task
  end
  sched:join(started)
  local results = {}
  for i, t in ipairs(started) do
    results[i] = t.results or { n = 0 }
    if t.raised then error(t.raised, 0) end
    if is_error(results[i][2]) then failed = failed + 1 end
  end
  return results, failed
end

--- Starts `fn` as a task on `sched`, without blocking (`client:spawn`).
-- @tparam table sched
-- @tparam function fn
-- @tparam[opt] function on_done
-- @tparam[opt] table host the libuv host of a client made with `loop`
-- @treturn paperspace.task
function tasks.spawn(sched, fn, on_done, host)
  if type(fn) ~= "function" then
    bad_argument(1, "spawn", "function expected, got " .. type(fn))
  end
  if on_done ~= nil and type(on_done) ~= "function" then
    bad_argument(2, "spawn", "function expected, got " .. type(on_done))
  end
  if host then
    local task = sched:spawn(fn, host:wrap(on_done))
    host:apply() -- the loop watches what the task started
    return task
  end
  return sched:spawn(fn, on_done)
end

--- One turn of `sched`'s loop, waiting up to `wait` seconds (`client:poll`).
-- @tparam table sched
-- @tparam[opt] number wait
-- @treturn integer how many tasks are not done
function tasks.poll(sched, wait)
  if wait ~= nil and (type(wait) ~= "number" or wait < 0) then
    bad_argument(1, "poll", "wait must be a number of seconds >= 0")
  end
  return sched:step(wait or 0)
end

--- Runs `sched`'s loop until every task is done (`client:wait_all`).
-- @tparam table sched
function tasks.wait_all(sched)
  if sched.wait_all then return sched:wait_all() end -- a host's own (nginx: this request's tasks)
  if sched:current() then
    core.raise("paperspace: wait_all inside a task would wait for that task itself; use gather")
  end
  sched:run_all()
end

return tasks
