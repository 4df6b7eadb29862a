--- Drives a client's started calls from a libuv loop (`vim.uv`, `vim.loop`,
-- `require "luv"`), event-driven: the C core records which sockets libcurl
-- wants watched and when it wants its timeout, and this module mirrors them
-- with uv poll handles and one uv timer. Those handles only wake the client
-- up; each wakeup is one `scheduler:step(0)`, which moves the transfers
-- forward and resumes the tasks that can go on. Nothing runs while nothing
-- happens.
--
-- A blocking call on the same client (or `gather` outside a task) drives
-- the same multi handle from C, so the changes it makes are applied by a uv
-- prepare handle before the loop next waits.
-- @module paperspace.hosts.luv

local core = require "paperspace.core"

local luv = {}

local Host = {}
Host.__index = Host

local function check_loop(uv)
  local ok = type(uv) == "table" and type(uv.new_timer) == "function"
             and type(uv.new_prepare) == "function"
             and (type(uv.new_socket_poll) == "function" or type(uv.new_poll) == "function")
  if not ok then
    core.raise("paperspace.new: loop must be a luv module (vim.uv, vim.loop or require \"luv\"), got "
               .. type(uv))
  end
end

--- Checks the `loop` and `schedule` options of `paperspace.new`.
-- @local
function luv.check(uv, schedule)
  if uv == nil then core.raise("paperspace.new: schedule needs the loop option") end
  check_loop(uv)
  if schedule ~= nil and type(schedule) ~= "function" then
    core.raise("paperspace.new: schedule must be a function, got " .. type(schedule))
  end
end

--- Makes the core handle event-driven and attaches it to the loop `uv`.
-- @param uv the luv module
-- @param handle the client's core handle
-- @param sched the client's scheduler
-- @tparam[opt] function schedule wraps every `on_done` (vim.schedule, say)
-- @local
function luv.attach(uv, handle, sched, schedule)
  check_loop(uv)
  handle:watch()
  local self = setmetatable({
    uv = uv, core = handle, sched = sched, schedule = schedule,
    polls = {},   -- fd -> uv poll handle
    armed = nil,  -- when the timer is set to fire (core.now() seconds)
  }, Host)
  -- The handles' callbacks reach the host through a weak reference: a
  -- client dropped without close() can still be collected.
  local ref = setmetatable({ self }, { __mode = "v" })
  self.ref = ref
  self.on_event = function()
    local host = ref[1]
    if host then host:kick() end
  end
  self.timer = uv.new_timer()
  self.prepare = uv.new_prepare()
  self.prepare:start(function()
    local host = ref[1]
    if host and not host.closed then host:sync() end
  end)
  self.prepare:unref() -- it must not keep the loop alive by itself
  return self
end

local function close_handle(h)
  if not h:is_closing() then h:close() end
end

-- A uv poll handle for libcurl's socket `fd`; nil when libuv refuses it.
local function new_poll(uv, fd)
  local make = uv.new_socket_poll or uv.new_poll
  local ok, h = pcall(make, fd)
  return ok and h or nil
end

--- Applies what the core recorded: sockets to watch or drop, the timeout.
-- Returns whether a finished call waits to be handed to its task.
-- @local
function Host:apply()
  local changes, deadline, done = self.core:events()
  if changes then
    local uv, polls = self.uv, self.polls
    for i = 1, #changes, 2 do
      local fd, what = changes[i], changes[i + 1]
      local h = polls[fd]
      if what == "remove" then
        -- libcurl may already have closed fd and opened another socket
        -- with the same number: the old handle goes first.
        if h then
          polls[fd] = nil
          h:stop()
          close_handle(h)
        end
      else
        if not h then
          h = new_poll(uv, fd)
          polls[fd] = h
          if not h then self.degraded = true end
        end
        if h then h:start(what, self.on_event) end
      end
    end
  end
  -- One timer for libcurl's timeout and the earliest retry pause.
  local wake = deadline
  for _, task in ipairs(self.sched.sleepers) do
    if not wake or task.wake < wake then wake = task.wake end
  end
  if self.degraded then -- a socket libuv would not watch: poll it every 10 ms
    local soon = core.now() + 0.01
    if not wake or soon < wake then wake = soon end
  end
  if wake ~= self.armed then
    self.timer:stop()
    self.armed = wake
    if wake then
      -- libuv counts from the time its loop last read the clock, which is
      -- old when a call is spawned outside the loop's callbacks.
      if self.uv.update_time then self.uv.update_time() end
      local ms = math.ceil((wake - core.now()) * 1000)
      local ref = self.ref
      self.timer:start(ms > 0 and ms or 0, 0, function()
        local host = ref[1]
        if host then
          host.armed = nil
          host:kick()
        end
      end)
    end
  end
  return done
end

--- A wakeup: moves the transfers and tasks forward, then mirrors what
-- changed. An error raised by an `on_done` reaches the loop after that.
-- @local
function Host:kick()
  if self.closed then return end
  local ok, err = pcall(self.sched.step, self.sched, 0)
  if self.closed then return end
  if self.apply(self) and ok then
    -- A call finished during the step, in a blocking call made by a task.
    ok, err = pcall(self.sched.step, self.sched, 0)
    if not self.closed then self:apply() end
  end
  if not ok then error(err, 0) end
end

--- Before the loop waits: applies what a blocking call changed.
-- @local
function Host:sync()
  if self:apply() then self:kick() end
end

--- Wraps `on_done` with the `schedule` option, if any.
-- @local
function Host:wrap(on_done)
  local schedule = self.schedule
  if not on_done or not schedule then return on_done end
  return function(...)
    local n, args = select("#", ...), { ... }
    schedule(function() on_done((table.unpack or unpack)(args, 1, n)) end) -- luacheck: ignore 143
  end
end

--- Stops and closes every handle this host made.
-- @local
function Host:close()
  if self.closed then return end
  self.closed = true
  for fd, h in pairs(self.polls) do
    self.polls[fd] = nil
    h:stop()
    close_handle(h)
  end
  self.timer:stop()
  close_handle(self.timer)
  self.prepare:stop()
  close_handle(self.prepare)
end

return luv
