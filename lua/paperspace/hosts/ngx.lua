--- OpenResty (lua-nginx-module): calls that never stall the nginx worker.
--
-- A client made inside nginx gets this scheduler in place of the plain one;
-- nothing needs to be configured. In a phase that can yield (rewrite,
-- access, content, `ngx.timer`, the `ssl_*` handlers that may yield), every
-- call starts its transfer on the client's curl multi handle and waits on
-- an `ngx.semaphore` of its own, so the worker serves other requests
-- meanwhile. One `ngx.timer` per worker, the driver, moves the transfers of
-- every client forward while any is in flight (and exits when none is, so
-- an idle worker spends no CPU); when a transfer ends it posts that call's
-- semaphore, and the call takes its result itself, in its own request.
-- No request ever resumes another request's coroutine.
--
-- `spawn` and `gather` run their functions as light threads
-- (`ngx.thread.spawn`) of the request that starts them.
--
-- `init_by_lua` and `init_worker_by_lua` cannot yield: there calls block,
-- as in plain Lua (startup only). A client that made calls in `init_by_lua`
-- (the master process) refuses calls in the workers: the workers would share
-- its connections. Phases that can neither yield nor block (`log`,
-- `header_filter`, `body_filter`, `balancer`, `set`, ...) raise an error.
-- @module paperspace.hosts.ngx

local core = require "paperspace.core"
local errors = require "paperspace.errors"
local plain = require "paperspace.scheduler"

local ngx = ngx -- luacheck: ignore 113 (nginx's global)

local M = {}

-- Phases where a call may wait on a semaphore (ngx.sleep's contexts).
local YIELDING = {
  rewrite = true, server_rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true,
}
-- Phases that may block the process: nothing is being served yet.
local BLOCKING = { init = true, init_worker = true }

-- The driver's pause between turns while transfers are in flight: short
-- after something happened, doubling up to MAX_PAUSE while nothing does.
local MIN_PAUSE, MAX_PAUSE = 0.001, 0.008
-- A finished call whose owner has not come back for its result was
-- abandoned (its request ended, its light thread was killed): its transfer
-- is freed for others after a grace time. Short when nobody was waiting on
-- its semaphore as it was posted, long when someone was (and will resume).
M.grace = { nobody = 1, waiting = 10 }

local semaphore -- ngx.semaphore, loaded on first use (it needs nginx)
local pack = table.pack or function(...) return { n = select("#", ...), ... } end
local unpack = table.unpack or unpack -- luacheck: ignore 143

--- Whether this Lua runs inside nginx's lua-nginx-module.
-- @treturn boolean
function M.detect()
  return type(ngx) == "table" and type(ngx.get_phase) == "function"
end

local function phase_error(what, phase)
  core.raise(string.format("paperspace: %s cannot run in nginx's %s phase, which can neither wait "
    .. "nor block; call it from rewrite, access or content, or from a timer (ngx.timer.at)", what,
    phase))
end

local function cancelled_error()
  return errors.new { kind = "cancelled", message = "cancelled before it finished" }
end

-- Raised inside a cancelled spawned task to end its function: the task's
-- result is already set, and the light thread must not go on.
local UNWIND = setmetatable({}, { __tostring = function() return "paperspace: task cancelled" end })

local Scheduler = {}
Scheduler.__index = Scheduler

-- done(), result() and cancel() are the plain scheduler's: cancel() reaches
-- this scheduler through task.scheduler.
local Task = plain.Task

-- The request's own thread (not a spawned task): calls made there.
local REQUEST = { request = true }

--- The scheduler of a client made inside nginx.
-- @local
function M.scheduler(handle)
  return setmetatable({
    core = handle,
    plain = plain.new(handle), -- for init and init_worker, where calls block
    waiters = {},   -- transfer id -> the call waiting for it
    -- Weak: a light thread killed with its request (ngx.exit) leaves
    -- nothing behind. Its transfer, if any, is freed by the driver.
    by_co = setmetatable({}, { __mode = "k" }), -- light thread -> spawned task, while it runs
    queue = {},     -- calls waiting for a free transfer: semaphores, queue[head..tail]
    head = 1,
    tail = 0,
    -- Weak keys and values (LuaJIT has no ephemerons): task -> task.
    tasks = setmetatable({}, { __mode = "kv" }), -- unfinished tasks and waiting calls, for close()
    count = 0,
    used_in_master = false,
  }, Scheduler)
end

local function phase_of(self, what)
  local phase = ngx.get_phase()
  if YIELDING[phase] then
    if self.used_in_master then
      core.raise("paperspace: this client made calls in init_by_lua, in the master process; "
        .. "the workers would share its connections: make the client in each worker "
        .. "(at first use, or in init_worker_by_lua)")
    end
    return true
  end
  if BLOCKING[phase] then
    if phase == "init" then self.used_in_master = true end
    return false
  end
  phase_error(what, phase)
end

local function track(self, t)
  self.tasks[t] = t
  self.count = self.count + 1
end

local function untrack(self, t)
  if self.tasks[t] then
    self.tasks[t] = nil
    self.count = self.count - 1
  end
end

-- The driver ------------------------------------------------------------------

-- active: scheduler -> true; wake: posted by a call that starts a transfer,
-- so that it is sent on this tick's turn, one turn for all started together.
local driver = { running = false, active = {}, wake = nil }

-- Posts the waiters of the transfers that finished.
local function dispatch(self, ids)
  local progressed = false
  for i = 1, #ids do
    local w = self.waiters[ids[i]]
    if w and not w.posted then
      -- count() < 0: a thread waits on it (count is resources minus waiters).
      local grace = w.sema:count() < 0 and M.grace.waiting or M.grace.nobody
      w.posted, w.reap_at, progressed = true, ngx.now() + grace, true
      w.sema:post(1)
    end
  end
  return progressed
end

-- Lets the first call in line try for a free transfer.
local function free_slot(self)
  while self.head <= self.tail do
    local place = self.queue[self.head]
    self.queue[self.head] = nil
    self.head = self.head + 1
    if not place.gone then
      place.sema:post(1)
      return
    end
  end
end

-- One turn for one client: moves its transfers, posts who can go on, frees
-- the transfers of calls nobody came back for. Returns whether it still
-- has calls, and whether anything finished.
local function turn(self)
  if next(self.waiters) == nil then return false, false end
  local progressed = dispatch(self, (self.core:drive(0)))
  local now = ngx.now()
  for id, w in pairs(self.waiters) do
    if w.posted and now > w.reap_at then
      self.waiters[id] = nil
      untrack(self, w)
      w.abandoned = true
      self.core:cancel(id)
      free_slot(self)
    end
  end
  return next(self.waiters) ~= nil, progressed
end

local function drive_loop()
  local pause = MIN_PAUSE
  driver.wake = driver.wake or semaphore.new()
  while true do
    local progressed = false
    for self in pairs(driver.active) do
      local ok, busy, moved = pcall(turn, self)
      if not ok then
        -- The client was closed under it (close() has woken its calls).
        ngx.log(ngx.ERR, "paperspace: ", tostring(busy))
        busy = false
      end
      if not busy then driver.active[self] = nil end
      progressed = progressed or moved
    end
    if next(driver.active) == nil then break end
    pause = progressed and MIN_PAUSE or math.min(pause * 2, MAX_PAUSE)
    if driver.wake:wait(pause) then pause = MIN_PAUSE end -- woken: a new transfer
  end
end

local function drive()
  local ok, err = pcall(drive_loop)
  -- No yield since the loop saw nothing in flight: a new call starts a new
  -- driver. After an error too, or the calls would wait for a dead one.
  driver.running = false
  if not ok then ngx.log(ngx.ERR, "paperspace: ", tostring(err)) end
end

-- Makes sure the driver runs; false when no timer can be had (the worker
-- is exiting, or lua_max_pending_timers is reached): the caller then moves
-- its transfers itself.
local function ensure_driver(self)
  driver.active[self] = true
  if driver.running then
    -- count() < 0: the driver waits; one post wakes it for every new call.
    if driver.wake and driver.wake:count() < 0 then driver.wake:post(1) end
    return true
  end
  local ok = ngx.timer.at(0, drive)
  driver.running = ok and true or false
  return driver.running
end

-- Calls ---------------------------------------------------------------------

local function unwind_if_cancelled(task)
  if task.cancelled then error(UNWIND, 0) end
end

-- Waits in line for a free transfer and starts `op_name` on it.
local function start_in_line(self, task, op_name, ...)
  local handle = self.core
  while self.head <= self.tail and self.queue[self.head].gone do
    self.queue[self.head] = nil
    self.head = self.head + 1
  end
  local id = self.head > self.tail and handle:start(op_name, ...)
  if id then return id end
  -- A wrong argument raises now, not once a transfer frees up.
  handle:check(op_name, op_name, ...)
  repeat
    local place = { sema = semaphore.new() }
    self.tail = self.tail + 1
    self.queue[self.tail] = place
    -- A second's wait at most: a call ahead in line that was killed never
    -- passes its turn on.
    local ok, err = place.sema:wait(1)
    place.gone = true
    if not ok and err ~= "timeout" then error("paperspace: " .. tostring(err), 0) end
    if task.cancelled then
      if ok then free_slot(self) end -- the turn goes to the next in line
      error(UNWIND, 0)
    end
    id = handle:start(op_name, ...)
  until id
  return id
end

--- The task running now: a spawned task, the request itself (where calls
-- wait without blocking), or nil where calls block (init).
-- @local
function Scheduler:current()
  if not phase_of(self, "a call") then return self.plain:current() end
  return self.by_co[coroutine.running()] or REQUEST
end

--- One attempt of `op_name`, waiting on a semaphore until it ends.
-- @local
function Scheduler:call(task, op_name, ...)
  if task.scheduler == self.plain then return self.plain:call(task, op_name, ...) end
  semaphore = semaphore or require "ngx.semaphore"
  unwind_if_cancelled(task)
  local handle = self.core
  local id = start_in_line(self, task, op_name, ...)
  local w = { id = id, sema = semaphore.new(), task = task }
  self.waiters[id] = w
  track(self, w)
  if task ~= REQUEST then task.waiter = w end
  -- The driver sends it on its next turn, later in this tick.
  local driven = ensure_driver(self)
  while not w.posted do
    if driven then
      w.sema:wait(1)
      if not w.posted and not driver.running then driven = ensure_driver(self) end
    else
      ngx.sleep(MIN_PAUSE)
      dispatch(self, (handle:drive(0)))
      driven = ensure_driver(self)
    end
  end
  if task ~= REQUEST then task.waiter = nil end
  if w.cancelled or w.abandoned then
    unwind_if_cancelled(task)
    return nil, cancelled_error()
  end
  self.waiters[id] = nil
  untrack(self, w)
  -- Taken before anything else runs: what the caller then reads of the
  -- response (logging, raw records) is its own.
  local r = pack(handle:take(id))
  free_slot(self)
  return unpack(r, 1, r.n)
end

--- Waits `seconds` (a retry's pause) without blocking the worker.
-- @local
function Scheduler:sleep(task, seconds)
  if task.scheduler == self.plain then return self.plain:sleep(task, seconds) end
  ngx.sleep(seconds)
  unwind_if_cancelled(task)
end

-- Spawned tasks ---------------------------------------------------------------

-- Per request (or timer): its tasks, and a semaphore posted when one ends.
local by_ctx = setmetatable({}, { __mode = "k" })

local function ctx_state()
  local ctx = ngx.ctx
  local s = by_ctx[ctx]
  if not s then
    s = { tasks = {}, sema = semaphore.new() }
    by_ctx[ctx] = s
  end
  return s
end

local function task_ended(self, task)
  untrack(self, task)
  task.finished = true
  if task.joiners > 0 then task.done_sema:post(task.joiners) end
  local s = task.ctx_state
  s.tasks[task] = nil
  s.sema:post(1)
end

local function run_task(self, task, fn)
  self.by_co[coroutine.running()] = task
  -- A wrong argument in its first run, with no frame of the caller's own
  -- here (a call gather was given as a table), is reported where spawn was.
  if task.spawner then core.link_task(coroutine.running(), task.spawner) end
  local r = pack(pcall(fn))
  self.by_co[coroutine.running()] = nil
  if task.finished then return end -- cancelled: its result is set
  local ok = r[1]
  if ok then
    task.results = pack(unpack(r, 2, r.n))
  else
    task.raised = r[2]
  end
  task_ended(self, task)
  if task.on_done then
    if ok then
      task.on_done(unpack(r, 2, r.n))
    elseif not task.starting then
      task.on_done(nil, task.raised)
    end
  end
end

--- Starts `fn` as a light thread of the current request; it runs until
-- its first wait.
-- @local
function Scheduler:spawn(fn, on_done)
  if not phase_of(self, "spawn") then return self.plain:spawn(fn, on_done) end
  semaphore = semaphore or require "ngx.semaphore"
  local s = ctx_state()
  local task = setmetatable({ scheduler = self, on_done = on_done, joiners = 0,
                              done_sema = semaphore.new(), ctx_state = s }, Task)
  track(self, task)
  s.tasks[task] = true
  task.starting = true
  task.spawner = coroutine.running()
  local thread, err = ngx.thread.spawn(run_task, self, task, fn)
  task.starting, task.spawner = nil, nil
  if thread then core.unlink_task(thread) end
  if not thread then
    task_ended(self, task)
    error("paperspace: could not start a light thread: " .. tostring(err), 2)
  end
  if task.raised ~= nil and task.results == nil then error(task.raised, 0) end
  return task
end

local function wait_for(task)
  while not task.finished do
    task.joiners = task.joiners + 1
    task.done_sema:wait(1)
    task.joiners = task.joiners - 1
  end
end

--- Waits until every task of the list is done.
-- @local
function Scheduler:join(tasks)
  if not phase_of(self, "gather") then return self.plain:join(tasks) end
  for i = 1, #tasks do wait_for(tasks[i]) end
end

--- Cancels a task, or a waiting call (when the client closes).
-- @local
function Scheduler:cancel(task)
  if task.scheduler == self.plain then return self.plain:cancel(task) end
  if task.sema then -- a waiting call
    local w = task
    if w.cancelled or w.abandoned then return end
    if self.waiters[w.id] == w then
      self.waiters[w.id] = nil
      pcall(self.core.cancel, self.core, w.id) -- fails only if the client is closed
      free_slot(self)
    end
    untrack(self, w)
    w.cancelled, w.posted = true, true
    w.sema:post(1)
    return
  end
  if task.finished then return end
  task.cancelled = true
  task.results = pack(nil, cancelled_error())
  task_ended(self, task)
  if task.waiter then self:cancel(task.waiter) end
  if task.on_done then task.on_done(unpack(task.results, 1, 2)) end
end

--- How many tasks of this request are not done; waits up to `wait`
-- seconds for one to end first.
-- @local
function Scheduler:step(wait)
  if not phase_of(self, "poll") then return self.plain:step(wait) end
  semaphore = semaphore or require "ngx.semaphore"
  local s = ctx_state()
  if wait and wait > 0 and next(s.tasks) ~= nil then s.sema:wait(wait) end
  local n = 0
  for _ in pairs(s.tasks) do n = n + 1 end
  return n
end

--- Waits until every task of this request is done (`client:wait_all`).
-- @local
function Scheduler:wait_all()
  if not phase_of(self, "wait_all") then
    local p = self.plain
    return p:run(function() return p.count == 0 end)
  end
  if self.by_co[coroutine.running()] then
    core.raise("paperspace: wait_all inside a task would wait for that task itself; use gather")
  end
  semaphore = semaphore or require "ngx.semaphore"
  local s = ctx_state()
  while true do
    local task = next(s.tasks)
    if not task then return end
    wait_for(task)
  end
end

--- Cancels every task and waiting call, as the client closes (the plain
-- scheduler's rule).
-- @local
Scheduler.close = plain.close

--- Outside any task: waits until `done()` is true (init only).
-- @local
function Scheduler:run(done)
  return self.plain:run(done)
end

M._driver = driver -- for the specs: whether the driver runs

return M
