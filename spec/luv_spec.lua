-- A client on a libuv loop (paperspace.new{loop = uv}): spawned calls run
-- from the loop, event-driven, with no client:poll from the caller.
local helpers = require "spec.support.helpers"
local paperspace = require "paperspace"
local core = require "paperspace.core"

local has_luv, uv = pcall(require, "luv")
local describe_luv = has_luv and describe or pending

describe_luv("a client on a luv loop", function()
  local emu

  setup(function() emu = helpers.emulator() end)
  teardown(function() emu:stop() end)
  before_each(function()
    emu:reset()
    emu:configure { latency = 0 }
  end)

  local function new_client(opts)
    local o = { loop = uv, timeout = 10 }
    for k, v in pairs(opts or {}) do o[k] = v end
    return helpers.client(emu, o)
  end

  -- Runs the loop until it has nothing left to do, at most `seconds`:
  -- returns whether it ended by itself (every handle of the client closed
  -- or stopped) and how long it ran.
  local function run_loop(seconds)
    local started = core.now()
    local guard = uv.new_timer()
    local expired = false
    uv.update_time() -- the loop's clock is as old as its last run
    guard:start(math.floor(seconds * 1000), 0, function()
      expired = true
      uv.stop()
    end)
    guard:unref() -- the guard alone must not keep the loop alive
    uv.run()
    guard:stop()
    guard:close()
    uv.run("nowait") -- lets libuv finish closing what was closed
    return not expired, core.now() - started
  end

  -- A 10 ms timer standing for a UI; stopped by stop().
  local function ticker()
    local t = { n = 0, timer = uv.new_timer() }
    uv.update_time()
    t.timer:start(10, 10, function() t.n = t.n + 1 end)
    t.timer:unref()
    function t.stop()
      t.timer:stop()
      t.timer:close()
    end
    return t
  end

  it("finishes a spawned call from the loop while a timer keeps ticking", function()
    emu:configure { latency = 0.5 }
    local client = new_client()
    local ui = ticker()
    local got, got_err, ticks_at_start
    local task = client:spawn(function() return client:get_session() end, function(s, err)
      got, got_err = s, err
    end)
    ticks_at_start = ui.n
    assert.is_false(task:done()) -- spawn returned at once
    local ended, took = run_loop(10)
    ui.stop()
    assert.is_true(ended, "the loop did not end by itself")
    assert.is_nil(got_err)
    assert.equal("ada@example.com", got.user.email)
    assert.is_true(took >= 0.45, "took " .. took)
    assert.is_true(ui.n - ticks_at_start > 20, "ticks: " .. ui.n)
    client:close()
    run_loop(1)
  end)

  it("lets the loop end once calls that answer at once are done", function()
    -- One call started by another's on_done, on the kept-alive connection:
    -- no timer or socket of the client may be left to keep the loop awake.
    local client = new_client()
    local members
    client:spawn(function() return client:get_session() end, function(session)
      client:spawn(function() return client:team(session.team.id):members() end,
                   function(m) members = m end)
    end)
    local ended = run_loop(5)
    assert.is_true(ended, "the loop was still running")
    assert.equal(5, #members)
    client:close()
    run_loop(1)
  end)

  it("runs many spawned calls concurrently, more than max_concurrency", function()
    emu:configure { latency = 0.3 }
    local client = new_client { max_concurrency = 8 }
    local ok, failed = 0, 0
    for i = 1, 32 do
      client:spawn(function()
        return client:get_team_secret("team-1", "MISSING_" .. i)
      end, function(_, err)
        if err and err.kind == "not_found" then ok = ok + 1 else failed = failed + 1 end
      end)
    end
    local ended, took = run_loop(30)
    assert.is_true(ended)
    assert.equal(32, ok)
    assert.equal(0, failed)
    -- One after another they would take 32 * 0.3 s.
    assert.is_true(took < 32 * 0.3 / 2, "took " .. took)
    client:close()
    run_loop(1)
  end)

  it("waits a retry's pause on the loop's timer, not by blocking", function()
    emu:fault { path = "/auth/session",
                responses = { { status = 429, headers = { ["retry-after"] = "1" } } } }
    local client = new_client()
    local ui = ticker()
    local got, got_err
    local started = core.now()
    client:spawn(function() return client:get_session { raw = true } end, function(s, err, raw)
      got, got_err = s and raw, err
    end)
    local returned = core.now() - started
    local ended, took = run_loop(10)
    ui.stop()
    assert.is_true(ended)
    assert.is_nil(got_err)
    assert.equal(2, got.attempts)
    assert.is_true(returned < 0.5, "spawn blocked for " .. returned)
    assert.is_true(took >= 0.9, "took " .. took)
    assert.is_true(ui.n > 40, "ticks: " .. ui.n)
    client:close()
    run_loop(1)
  end)

  it("cancels a call: its handles stop and the loop ends before the answer", function()
    emu:configure { latency = 2 }
    local client = new_client()
    local got_err
    local task = client:spawn(function() return client:get_session() end, function(_, err)
      got_err = err
    end)
    local t = uv.new_timer()
    t:start(100, 0, function()
      t:close()
      task:cancel()
    end)
    local ended, took = run_loop(10)
    assert.is_true(ended)
    assert.equal("cancelled", got_err.kind)
    assert.is_true(took < 1.5, "took " .. took)
    client:close()
    run_loop(1)
  end)

  it("closes with calls in flight: they end cancelled, every handle is closed", function()
    emu:configure { latency = 2 }
    local client = new_client()
    local kinds = {}
    for _ = 1, 5 do
      client:spawn(function() return client:get_session() end, function(_, err)
        kinds[#kinds + 1] = err and err.kind
      end)
    end
    local t = uv.new_timer()
    t:start(100, 0, function()
      t:close()
      client:close()
    end)
    local ended, took = run_loop(10)
    assert.is_true(ended)
    assert.is_true(took < 1.5, "took " .. took)
    assert.same({ "cancelled", "cancelled", "cancelled", "cancelled", "cancelled" }, kinds)
    assert.has_error(function() client:get_session() end, "paperspace: the client is closed")
  end)

  it("closes from an on_done while other calls are in flight", function()
    emu:fault { path = "/secrets/", match = "pattern", times = 0, responses = { { delay = 3 } } }
    local client = new_client()
    local kinds = {}
    client:spawn(function() return client:get_session() end, function()
      kinds[#kinds + 1] = "first"
      client:close()
    end)
    for _ = 1, 3 do
      client:spawn(function() return client:get_team_secret("team-1", "NONE") end,
                   function(_, err) kinds[#kinds + 1] = err and err.kind end)
    end
    local ended, took = run_loop(10)
    assert.is_true(ended)
    assert.is_true(took < 2, "took " .. took)
    assert.same({ "first", "cancelled", "cancelled", "cancelled" }, kinds)
  end)

  it("lets a client dropped without close() be collected", function()
    local client = new_client()
    local got
    client:spawn(function() return client:get_session() end, function(s) got = s end)
    assert.is_true(run_loop(10))
    assert.equal("user-1", got.user.id)
    -- The handle owns the connections: collected, it closes them.
    local weak = setmetatable({ client = client, handle = client._core }, { __mode = "v" })
    client = nil -- luacheck: ignore 311
    collectgarbage()
    collectgarbage()
    assert.is_nil(weak.client)
    assert.is_nil(weak.handle)
  end)

  it("follows libcurl when it closes a socket and reuses its fd", function()
    -- The first connection is dropped before any answer; the retry opens
    -- a new socket, which gets the same descriptor number.
    emu:fault { path = "/auth/session", responses = { { close = "before" } } }
    local client = new_client()
    local handle = client._core
    local methods = getmetatable(handle).__index
    local events = methods.events
    local log = {}
    methods.events = function(h)
      local changes, deadline, done = events(h)
      for i = 1, changes and #changes or 0 do log[#log + 1] = changes[i] end
      return changes, deadline, done
    end
    local got, got_err
    local ok, err = pcall(function()
      client:spawn(function() return client:get_session() end, function(s, e) got, got_err = s, e end)
      return run_loop(10)
    end)
    methods.events = events
    assert.is_true(ok, err)
    assert.is_nil(got_err)
    assert.equal("user-1", got.user.id)
    assert.equal(2, #emu:requests())
    local reused
    for i = 1, #log, 2 do
      if log[i + 1] == "remove" then
        for j = i + 2, #log, 2 do
          if log[j] == log[i] and log[j + 1] ~= "remove" then reused = true end
        end
      end
    end
    assert.is_true(reused, "no fd was reused: " .. table.concat(log, " "))
    client:close()
    run_loop(1)
  end)

  it("keeps blocking calls working next to spawned ones", function()
    emu:configure { latency = 0.3 }
    local client = new_client()
    local spawned
    client:spawn(function() return client:get_session() end, function(s) spawned = s end)
    local session = assert(client:get_session()) -- drives the spawned call too
    assert.equal("user-1", session.user.id)
    local results = client:gather { { "get_session" }, { "get_session" } }
    assert.equal("user-1", results[1][1].user.id)
    local ended = run_loop(10)
    assert.is_true(ended)
    assert.equal("user-1", spawned.user.id)
    client:close()
    run_loop(1)
  end)

  it("runs gather inside a task, and blocking calls inside on_done", function()
    emu:configure { latency = 0.3 }
    local client = new_client()
    local ui = ticker()
    local gathered, blocking
    client:spawn(function()
      return client:gather {
        { "get_session" },
        { "list_team_members", "team-1" },
        function() return client:team("team-1"):secrets() end,
      }
    end, function(results)
      gathered = results
      blocking = client:get_session() -- a short freeze, inside the loop's callback
    end)
    local ended = run_loop(10)
    ui.stop()
    assert.is_true(ended)
    assert.equal("user-1", gathered[1][1].user.id)
    assert.equal(5, #gathered[2][1])
    assert.same({}, gathered[3][1])
    assert.equal("user-1", blocking.user.id)
    assert.is_true(ui.n > 0.3 / 0.01 / 2, "ticks: " .. ui.n)
    client:close()
    run_loop(1)
  end)

  it("hands on_done to the schedule option", function()
    local queued = {}
    local client = new_client { schedule = function(fn) queued[#queued + 1] = fn end }
    local got
    client:spawn(function() return client:get_session() end, function(s) got = s end)
    assert.is_true(run_loop(10))
    assert.is_nil(got)
    assert.equal(1, #queued)
    queued[1]()
    assert.equal("user-1", got.user.id)
    client:close()
    run_loop(1)
  end)

  it("refuses a loop that is not a luv module", function()
    assert.has_error(function() paperspace.new { loop = {} } end,
      "paperspace.new: loop must be a luv module (vim.uv, vim.loop or require \"luv\"), got table")
    assert.has_error(function() paperspace.new { schedule = print } end,
      "paperspace.new: schedule needs the loop option")
  end)
end)
