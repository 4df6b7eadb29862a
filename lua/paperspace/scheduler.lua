--- Calls that run concurrently: each is a task, a coroutine whose requests
-- are started on the client's curl multi handle instead of blocking; the
-- task waits (yields) until its transfer finishes, and the loop resumes it.
-- So every method, with its retries and pages, runs unchanged inside a task.
--
-- The loop is either `client:gather` (which blocks until its calls are
-- done) or the caller's own event loop calling `client:poll`; those methods
-- are `paperspace.tasks`, over this.
-- @module paperspace.scheduler

local core = require "paperspace.core"
local errors = require "paperspace.errors"

local Scheduler = {}
Scheduler.__index = Scheduler

local Task = {}
Task.__index = Task
Task.__name = "paperspace.task"

local pack = table.pack or function(...) return { n = select("#", ...), ... } end
local unpack = table.unpack or unpack -- luacheck: ignore 143

local scheduler = {}

-- The result of a task that was cancelled.
local function cancelled()
  return pack(nil, errors.new { kind = "cancelled", message = "cancelled before it finished" })
end

--- A scheduler for one client's core handle.
-- @local
function scheduler.new(handle)
  return setmetatable({
    core = handle,
    capacity = handle:capacity(),
    tasks = {},    -- coroutine -> task, for the tasks not finished
    -- coroutine -> task, for every task whose code may still run: one
    -- cancelled while it runs is still the one its calls belong to.
    of = setmetatable({}, { __mode = "k" }),
    by_id = {},    -- started transfer id -> task waiting for it
    running = 0,   -- how many of those
    queue = {},    -- tasks waiting for a free transfer: queue[head..tail]
    head = 1,
    tail = 0,
    sleepers = {}, -- tasks waiting for a time (retry backoff)
    count = 0,     -- tasks not finished
  }, Scheduler)
end

--- The task running now, when it is one of ours.
-- @local
function Scheduler:current()
  local co = coroutine.running()
  return co and self.of[co]
end

--- Inside a task: starts one attempt of `op_name` and waits for its result.
-- @local
function Scheduler:call(task, op_name, ...)
  -- A task ended (cancelled, the client closed) while its own code still
  -- runs: that code goes on to its end, but sends nothing more.
  if task.finished then return nil, task.results[2] end
  local id = self.running < self.capacity and self.core:start(op_name, ...)
  if not id then
    -- A wrong argument must raise now, while the caller can still cancel
    -- what was started, not when a transfer frees up.
    self.core:check(op_name, op_name, ...)
  end
  while not id do -- max_concurrency transfers are running: wait in line
    self.tail = self.tail + 1
    self.queue[self.tail] = task
    coroutine.yield()
    if task.finished then return nil, task.results[2] end
    id = self.core:start(op_name, ...)
  end
  task.id = id
  self.by_id[id] = task
  self.running = self.running + 1
  self.started = true
  return coroutine.yield()
end

--- Inside a task: waits `seconds` without blocking the other tasks.
-- @local
function Scheduler:sleep(task, seconds)
  if task.finished then return end
  task.wake = core.now() + seconds
  self.sleepers[#self.sleepers + 1] = task
  coroutine.yield()
end

local end_task

-- Resumes the parent of `task` when it waits in `join` and every task it
-- waits for is done.
local function wake_parent(task)
  local parent = task.parent
  if parent and parent.joining and not parent.finished
     and coroutine.status(parent.co) == "suspended" and scheduler.all_done(parent.joining) then
    parent.joining = nil
    end_task(task.scheduler, parent, coroutine.resume(parent.co))
  end
end

-- Ends `task` when its code has returned or raised (`ok, ...`: what its
-- resume gave); a task that only yielded goes on.
function end_task(self, task, ok, ...)
  if coroutine.status(task.co) ~= "dead" then return end
  -- Cancelled while its own code ran (that code closed the client, say):
  -- the task has ended already, and ends only once.
  if task.finished then return end
  self.tasks[task.co] = nil
  self.count = self.count - 1
  task.finished = true
  if ok then
    task.results = pack(...)
  else
    task.raised = (...)
  end
  if task.on_done then
    -- A raise from the first run is spawn's own (a wrong argument, raised
    -- to spawn's caller); any later one ends the task like a failure.
    if ok then
      task.on_done(...)
    elseif not task.starting then
      task.on_done(nil, task.raised)
    end
  end
  wake_parent(task)
end

local function resume(self, task, ...)
  end_task(self, task, coroutine.resume(task.co, ...))
end

--- Whether every task of the list is done.
-- @local
function scheduler.all_done(tasks)
  for i = 1, #tasks do
    if not tasks[i].finished then return false end
  end
  return true
end

--- Starts `fn` as a task; it runs until its first request. Started from
-- inside a task, it is that task's child (see `join`).
-- @local
function Scheduler:spawn(fn, on_done)
  local task = setmetatable({ co = coroutine.create(fn), scheduler = self, on_done = on_done,
                              parent = self:current() }, Task)
  if task.parent and task.parent.finished then
    -- Started by a task that has ended: it ends too, before sending anything.
    task.finished, task.cancelled, task.results = true, true, cancelled()
    if on_done then on_done(unpack(task.results, 1, 2)) end
    return task
  end
  self.tasks[task.co] = task
  self.of[task.co] = task
  self.count = self.count + 1
  task.starting = true
  -- A wrong argument raised in its first run, with no frame of the
  -- caller's own in the task (a call gather was given as a table), is
  -- reported at the line that spawned it.
  core.link_task(task.co)
  resume(self, task)
  core.unlink_task(task.co)
  task.starting = nil
  if task.raised then error(task.raised, 0) end -- a programmer error: raise it now
  return task
end

-- Lets queued tasks start, as many as there are free transfers.
local function wake(self)
  while self.running < self.capacity and self.head <= self.tail do
    local task = self.queue[self.head]
    self.queue[self.head] = nil
    self.head = self.head + 1
    if not task.cancelled then resume(self, task) end
  end
end

--- One turn: moves the transfers forward, waiting up to `wait` seconds,
-- and resumes every task that can go on. Returns the number of tasks left.
-- @local
function Scheduler:step(wait)
  wait = wait or 0
  local now = core.now()
  for _, task in ipairs(self.sleepers) do
    if task.wake - now < wait then wait = math.max(task.wake - now, 0) end
  end
  -- After a call started, a turn that does not wait first: libcurl may
  -- need it before it watches the new call's connection, and a wait that
  -- came before would last until another call's answer (or its end).
  local ids
  if self.started then
    self.started = false
    ids = self.core:drive(0)
    if #ids == 0 and wait > 0 then ids = self.core:drive(wait) end
  else
    ids = self.core:drive(wait)
  end
  -- Who waits for each finished transfer, read before any task runs: a task
  -- resumed below may cancel another whose transfer is in this list, and
  -- then start a new transfer in the slot that frees.
  local waiting = {}
  for i, id in ipairs(ids) do waiting[i] = self.by_id[id] end
  for i, id in ipairs(ids) do
    local task = waiting[i]
    if task and self.by_id[id] == task then
      self.by_id[id] = nil
      self.running = self.running - 1
      -- Resumed at once, so that what it reads of its response is its own.
      resume(self, task, self.core:take(id))
    end
  end
  if #self.sleepers > 0 then
    now = core.now()
    local still, ready = {}, {}
    for _, task in ipairs(self.sleepers) do
      if not task.cancelled then
        if task.wake <= now then ready[#ready + 1] = task else still[#still + 1] = task end
      end
    end
    self.sleepers = still
    for _, task in ipairs(ready) do resume(self, task) end
  end
  wake(self)
  return self.count
end

--- Waits until every task of the list is done: inside a task by yielding
-- (the others go on), outside by running the loop.
-- @local
function Scheduler:join(tasks)
  local me = self:current()
  if me then
    if not scheduler.all_done(tasks) then
      me.joining = tasks
      coroutine.yield()
    end
    return
  end
  self:run(function() return scheduler.all_done(tasks) end)
end

--- Outside any task: runs the loop until `done()` is true.
-- @local
function Scheduler:run(done)
  while not done() do
    if self.running == 0 and #self.sleepers == 0 and self.head > self.tail then
      core.raise("paperspace: tasks are waiting for something that will not happen")
    end
    self:step(1)
  end
end

--- Outside any task: runs the loop until every task is done, those
-- started meanwhile included.
-- @local
function Scheduler:run_all()
  self:run(function() return self.count == 0 end)
end

--- Cancels a task: its transfer is stopped, and it never resumes.
-- @local
function Scheduler:cancel(task)
  if task.finished then return end
  if task.id and self.by_id[task.id] == task then
    self.by_id[task.id] = nil
    self.running = self.running - 1
    self.core:cancel(task.id)
  end
  task.cancelled = true
  self.tasks[task.co] = nil
  self.count = self.count - 1
  task.finished = true
  task.results = cancelled()
  if task.on_done then task.on_done(unpack(task.results, 1, 2)) end
  -- A parent waiting for it goes on, unless the client is closing (then
  -- the parent ends too, and must start nothing new meanwhile).
  if not self.closing then wake_parent(task) end
end

--- Cancels every task not done, as the client closes. A parent whose
-- child is cancelled here is not resumed. An `on_done` that raises does not
-- keep the others from ending: the first error raised is returned, for the
-- client to raise once all is closed. Shared with the hosts' schedulers.
-- @local
function scheduler.close(self)
  self.closing = true
  local raised
  if self.count > 0 then
    local pending = {}
    for _, task in pairs(self.tasks) do pending[#pending + 1] = task end
    for _, task in ipairs(pending) do
      local ok, err = pcall(self.cancel, self, task)
      if not ok and raised == nil then raised = err end
    end
  end
  return raised
end

Scheduler.close = scheduler.close

--- Whether the task has finished (or was cancelled).
-- @treturn boolean
function Task:done()
  return self.finished == true
end

--- What the task's function returned, once it is done: for a call, the
-- result and the error, as the method would return them.
function Task:result()
  if not self.finished then error("paperspace: the task has not finished", 2) end
  if self.raised then error(self.raised, 0) end
  return unpack(self.results, 1, self.results.n)
end

--- Stops the task; its result becomes `nil, err` with `err.kind == "cancelled"`.
function Task:cancel()
  self.scheduler:cancel(self)
end

--- The methods tasks share, whichever scheduler runs them (a host's too).
scheduler.Task = Task

return scheduler
