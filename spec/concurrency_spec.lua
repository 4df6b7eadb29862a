-- Concurrency: gather, spawn and poll over curl's multi interface, with the
-- same retries, timeouts and errors as single calls.
local helpers = require "spec.support.helpers"
local paperspace = require "paperspace"
local core = require "paperspace.core"
local socket = require "socket"

local FAST = { ["retry-after-ms"] = "1" }

-- PUC Lua 5.1 cannot suspend a task inside a `for` iterator (the README says
-- so and names the alternative); LuaJIT and 5.2+ can.
local PUC51 = _VERSION == "Lua 5.1" and not rawget(_G, "jit")

describe("client:gather", function()
  local emu, client
  helpers.use_emulator({ latency = 0.1 }, { max_concurrency = 8 }, function(e, c) emu, client = e, c end)

  it("returns every result in order", function()
    for _, n in ipairs { "A", "B", "C" } do
      assert(client:create_team_secret("team-1", { name = n, value = "value-" .. n }))
    end
    local results, failed = client:gather {
      { "get_team_secret", "team-1", "C" },
      { "get_team_secret", "team-1", "A" },
      { "get_session" },
      { "get_team_secret", "team-1", "B" },
      { "list_team_members", "team-1" },
    }
    assert.equal(0, failed)
    assert.equal("C", results[1][1].name)
    assert.equal("A", results[2][1].name)
    assert.equal("user-1", results[3][1].user.id)
    assert.equal("B", results[4][1].name)
    assert.equal(5, #results[5][1])
    assert.is_function(results[1][1].update) -- objects, as from single calls
  end)

  it("runs the calls at the same time, at most max_concurrency at once", function()
    local calls = {}
    for i = 1, 16 do calls[i] = { "get_session" } end
    local started = core.now()
    local results, failed = client:gather(calls)
    local took = core.now() - started
    assert.equal(16, #results)
    assert.equal(0, failed)
    -- Two waves of 8 at 0.1 s each, where 16 one after another take 1.6 s.
    assert.is_true(took < 1.5, "took " .. took)
    local reqs = emu:requests()
    table.sort(reqs, function(a, b) return a.time < b.time end)
    local first = reqs[1].time
    -- No call can end before 0.1 s, so whatever arrived before then ran at once.
    local in_first_wave = 0
    for _, r in ipairs(reqs) do
      if r.time - first < 0.095 then in_first_wave = in_first_wave + 1 end
    end
    assert.equal(8, in_first_wave)
  end)

  it("one failure never cancels the others", function()
    local results, failed = client:gather {
      { "get_team_secret", "team-1", "MISSING" },
      { "get_session" },
      { "list_team_members", "team-404" },
      { "get_session" },
    }
    assert.equal(2, failed)
    assert.is_nil(results[1][1])
    assert.equal("not_found", results[1][2].kind)
    assert.equal("user-1", results[2][1].user.id)
    assert.equal("not_found", results[3][2].kind)
    assert.equal("user-1", results[4][1].user.id)
  end)

  it("with fail_fast, cancels what is still running after the first failure", function()
    emu:fault { path = "/auth/session", times = 0, responses = { { delay = 2 } } }
    local started = core.now()
    local results, failed = client:gather({
      { "get_session" },
      { "get_team_secret", "team-1", "MISSING" },
      { "get_session" },
    }, { fail_fast = true })
    emu:clear_faults()
    assert.is_true(core.now() - started < 1.5)
    assert.equal(3, failed)
    assert.equal("cancelled", results[1][2].kind)
    assert.equal("not_found", results[2][2].kind)
    assert.equal("cancelled", results[3][2].kind)
    -- The client is fine afterwards.
    assert.is_table(client:get_session())
  end)

  it("with fail_fast, copes with failures that arrive together", function()
    local calls = {}
    for i = 1, 8 do calls[i] = { "get_team_secret", "team-1", "MISSING" .. i } end
    local results, failed = client:gather(calls, { fail_fast = true })
    assert.equal(8, failed)
    local kinds = {}
    for i = 1, 8 do kinds[results[i][2].kind] = (kinds[results[i][2].kind] or 0) + 1 end
    assert.equal(1, kinds.not_found)
    assert.equal(7, kinds.cancelled)
  end)

  it("retries each call on its own, as single calls do", function()
    emu:fault { path = "/teams/team-1/secrets/R", responses = {
      { status = 503, headers = FAST }, { status = 503, headers = FAST } } }
    assert(client:create_team_secret("team-1", { name = "R", value = "r-value" }))
    emu:fault { path = "/auth/session", responses = { { status = 503, headers = FAST } } }
    local results = client:gather {
      { "get_team_secret", "team-1", "R", { raw = true } },
      { "get_session", { max_retries = 0 } },
    }
    assert.is_nil(results[1][2])
    assert.equal("R", results[1][1].name)
    assert.equal(3, results[1][3].attempts)
    assert.is_nil(results[2][1])
    assert.equal(503, results[2][2].status)
    assert.equal(1, results[2][2].attempts)
  end)

  it("applies timeouts to each call", function()
    emu:fault { path = "/auth/session", responses = { { delay = 2 } } }
    local results = client:gather {
      { "get_session", { timeout = 0.3, max_retries = 0 } },
      { "list_team_members", "team-1" },
    }
    assert.equal("timeout", results[1][2].kind)
    assert.equal(5, #results[2][1])
  end)

  it("takes functions that make several calls in turn", function()
    local team = client:team("team-1")
    local results = client:gather {
      function()
        local s = assert(team:create_secret("F", "f-one"))
        return s:update("f-two")
      end,
      function() return team:members() end,
    }
    assert.equal("F", results[1][1].name)
    assert.equal("f-two", emu:state().secrets.F.value)
    assert.equal(5, #results[2][1])
  end)

  it("pages lists inside a call", function()
    emu:configure { paged = true, page_size = 2 }
    local results = client:gather {
      { "list_team_members", "team-1" },
      function()
        local ids = {}
        if PUC51 then -- no `for` iterator in a task there: the README's alternative
          for _, m in ipairs(assert(client:list_team_members("team-1"))) do ids[#ids + 1] = m.userId end
          return ids
        end
        for m in client:each_team_member("team-1") do ids[#ids + 1] = m.userId end
        return ids
      end,
    }
    emu:configure { paged = false }
    assert.equal(5, #results[1][1])
    assert.equal(5, #results[2][1])
  end)

  it("a wrong call cancels the calls started before it", function()
    emu:fault { path = "/auth/session", responses = { { delay = 1 } } }
    local ok = pcall(client.gather, client, { { "get_session" }, { "get_team_secret", {}, "x" } })
    assert.is_false(ok)
    assert.equal(0, client:poll(0)) -- nothing left running
  end)

  it("raises at once on a wrong call, naming it", function()
    assert.has_error(function() client:gather { { "no_such_method" } } end,
      "bad argument #1 to 'gather' (calls[1][1] must name an operation, got no_such_method)")
    assert.has_error(function() client:gather { 42 } end,
      "bad argument #1 to 'gather' (calls[1] must be a function or a table, got number)")
    assert.has_error(function() client:gather { { "get_team_secret", {}, "x" } } end,
      "bad argument #1 to 'get_team_secret' (team_id must be a string or an integer, got table)")
  end)

  it("keeps connections alive: consecutive gathers reuse them", function()
    local calls = {}
    for i = 1, 8 do calls[i] = { "get_session" } end
    client:gather(calls)
    client:gather(calls)
    client:gather(calls)
    local conns = {}
    for _, r in ipairs(emu:requests()) do conns[r.connection] = true end
    local n = 0
    for _ in pairs(conns) do n = n + 1 end
    assert.is_true(n <= 8, n .. " connections for 24 calls")
  end)
end)

describe("team:get_secrets and team:set_secrets", function()
  local emu, team
  helpers.use_emulator({ latency = 0.05 }, { max_concurrency = 16 },
                       function(e, c) emu, team = e, c:team("team-1") end)

  it("set_secrets creates and updates, concurrently", function()
    assert(team:create_secret("OLD", "old-value"))
    local values = { OLD = "new-value" }
    for i = 1, 20 do values["NEW" .. i] = "value-" .. i end
    local started = core.now()
    local done, failed = team:set_secrets(values)
    local took = core.now() - started
    assert.is_nil(failed)
    assert.equal("updated", done.OLD)
    for i = 1, 20 do assert.equal("created", done["NEW" .. i]) end
    local state = emu:state().secrets
    assert.equal("new-value", state.OLD.value)
    for i = 1, 20 do assert.equal("value-" .. i, state["NEW" .. i].value) end
    -- 21 secrets, two or three requests each at 0.05 s: concurrently well under a second.
    assert.is_true(took < 1, "took " .. took)
  end)

  it("set_secrets works inside a task too (a gather within a gather)", function()
    local results = team.client:gather {
      function() return team:set_secrets { IN1 = "in-one", IN2 = "in-two" } end,
      function() return team:get_secrets { "NOPE" } end,
    }
    assert.same({ IN1 = "created", IN2 = "created" }, results[1][1])
    assert.is_nil(results[1][2])
    assert.same({}, results[2][1])
    assert.equal("not_found", results[2][2].NOPE.kind)
    assert.equal("in-two", emu:state().secrets.IN2.value)
  end)

  it("set_secrets reports each failure by name", function()
    emu:fault { method = "PATCH", path = "/teams/team-1/secrets/BAD",
                responses = { { status = 403, body = { code = "FORBIDDEN", message = "no" } } } }
    local done, failed = team:set_secrets { GOOD = "good-value", BAD = "bad-value" }
    assert.equal("created", done.GOOD)
    assert.is_nil(done.BAD)
    assert.equal("permission_denied", failed.BAD.kind)
  end)

  it("set_secrets refuses a value that is not a string before sending anything", function()
    assert.has_error(function() team:set_secrets { A = "a", B = 2 } end,
      "bad argument #1 to 'set_secrets' (the value of B must be a string, got number)")
    assert.equal(0, #emu:requests())
  end)

  it("set_secrets and get_secrets refuse a bad name before sending anything", function()
    assert.has_error(function() team:set_secrets { GOOD = "g", ["BAD\n"] = "b" } end,
      "bad argument #1 to 'set_secrets' (a name must not contain NUL, CR or LF)")
    assert.has_error(function() team:get_secrets { "GOOD", ".." } end,
      "bad argument #1 to 'get_secrets' (names[2] must not be '.' or '..')")
    assert.equal(0, #emu:requests())
  end)

  it("get_secrets returns the found ones and the errors by name", function()
    assert(team:create_secret("X", "x-value"))
    assert(team:create_secret("Y", "y-value"))
    local found, failed = team:get_secrets { "X", "Y", "Z" }
    assert.equal("X", found.X.name)
    assert.equal("Y", found.Y.name)
    assert.is_nil(found.Z)
    assert.equal("not_found", failed.Z.kind)
  end)
end)

describe("spawn and poll, for event loops", function()
  local emu, client
  helpers.use_emulator({}, nil, function(e, c) emu, client = e, c end)

  it("spawn returns at once; poll(0) never blocks; the result arrives", function()
    assert(client:get_session()) -- the connection is open: polls only move bytes
    emu:fault { path = "/auth/session", responses = { { delay = 1.5 } } }
    local got
    local started = core.now()
    local task = client:spawn(function() return client:get_session() end,
                              function(session, err) got = { session, err } end)
    assert.is_true(core.now() - started < 0.2)
    assert.is_false(task:done())
    local turns, longest = 0, 0
    while not task:done() do
      local t0 = core.now()
      client:poll(0)
      longest = math.max(longest, core.now() - t0)
      turns = turns + 1
    end
    assert.is_true(turns > 10, "only " .. turns .. " turns of the loop")
    -- A poll that waited for the call would take the whole 1.5 s.
    assert.is_true(longest < 0.75, "poll(0) blocked for " .. longest)
    local session, err = task:result()
    assert.is_nil(err)
    assert.equal("user-1", session.user.id)
    assert.equal(session, got[1])
  end)

  it("a task can be cancelled", function()
    emu:fault { path = "/auth/session", responses = { { delay = 2 } } }
    local task = client:spawn(function() return client:get_session() end)
    client:poll(0.05)
    task:cancel()
    assert.is_true(task:done())
    local _, err = task:result()
    assert.equal("cancelled", err.kind)
    assert.equal(0, client:poll(0))
  end)

  it("closing the client cancels the tasks still running", function()
    emu:fault { path = "/auth/session", responses = { { delay = 2 } } }
    local c = helpers.client(emu)
    local task = c:spawn(function() return c:get_session() end)
    c:poll(0.05)
    c:close()
    assert.is_true(task:done())
    local _, err = task:result()
    assert.equal("cancelled", err.kind)
  end)

  it("a blocking call made meanwhile does not lose a task's result", function()
    local task = client:spawn(function() return client:list_team_members("team-1") end)
    assert.is_table(client:get_session()) -- drives the transfers too
    client:wait_all()
    assert.equal(5, #task:result())
  end)

  it("a timer keeps ticking during a slow call (libuv, as in Neovim)", function()
    local ok, uv = pcall(require, "luv")
    assert.is_true(ok, "lua-luv is needed for this spec")
    emu:fault { path = "/auth/session", responses = { { delay = 0.6 } } }
    local ticks, result = 0, nil
    client:spawn(function() return client:get_session() end,
                 function(session) result = session end)
    local ticker = uv.new_timer()
    ticker:start(0, 10, function() ticks = ticks + 1 end)
    local poller = uv.new_timer()
    poller:start(0, 5, function()
      client:poll(0)
      if result then
        ticker:stop()
        poller:stop()
      end
    end)
    uv.run()
    ticker:close()
    poller:close()
    uv.run()
    assert.equal("user-1", result.user.id)
    -- 0.6 s at one tick each 10 ms: about 60 when nothing blocks the loop.
    assert.is_true(ticks >= 30, "the timer ticked only " .. ticks .. " times")
  end)
end)

describe("max_concurrency", function()
  it("is checked when the client is made", function()
    assert.has_error(function() paperspace.new { base_url = "http://127.0.0.1:9", max_concurrency = 0 } end,
      "paperspace.new: max_concurrency must be an integer from 1 to 1000")
    assert.has_error(function() paperspace.new { base_url = "http://127.0.0.1:9", max_host_connections = 1.5 } end,
      "paperspace.new: max_host_connections must be an integer from 1 to 1000")
  end)
end)

describe("tasks, callbacks and cancellation", function()
  local emu, client
  helpers.use_emulator({}, { max_concurrency = 2 }, function(e, c) emu, client = e, c end)

  it("a fail_fast cancel does not lose a slot's finished transfer to the next call", function()
    -- The failure and a success finish in the same turn of the loop: the
    -- cancel frees the success's slot, and the task goes on to start new
    -- calls there before the loop has read that slot.
    emu:fault { path = "/teams/team-1/secrets/MISSING", responses = { { status = 404, delay = 0.2 } } }
    emu:fault { path = "/auth/session", responses = { { delay = 0.2 } } }
    local task = client:spawn(function()
      local first, failed = client:gather({
        { "get_team_secret", "team-1", "MISSING" },
        { "get_session" },
      }, { fail_fast = true })
      local results, failed2 = client:gather { { "get_session" }, { "list_team_members", "team-1" } }
      return first, failed, results, failed2
    end)
    -- Both requests on the wire, then both answers in before the next poll.
    local deadline = core.now() + 5
    while #emu:requests() < 2 and core.now() < deadline do client:poll(0.01) end
    assert.equal(2, #emu:requests())
    socket.sleep(1)
    client:wait_all()
    local first, failed, results, failed2 = task:result()
    assert.equal(2, failed)
    assert.equal("not_found", first[1][2].kind)
    assert.equal("cancelled", first[2][2].kind)
    assert.equal(0, failed2)
    assert.equal("user-1", results[1][1].user.id)
    assert.equal(5, #results[2][1])
    assert.equal(0, client:poll(0))
  end)

  it("on_done is called once however the task ends: a result, a raise, a cancel", function()
    local got = {}
    client:spawn(function() return client:get_session() end,
                 function(session, err) got.ok = { session, err } end)
    client:spawn(function()
      if PUC51 then error((select(2, client:list_team_members("team-404")))) end -- no `for` in a task there
      for _ in client:each_team_member("team-404") do end -- raises its error
    end, function(value, err) got.raised = { value, err } end)
    emu:fault { path = "/teams/team-1/secrets/SLOW", responses = { { delay = 2 } } }
    local slow = client:spawn(function() return client:get_team_secret("team-1", "SLOW") end,
                              function(value, err) got.cancelled = { value, err } end)
    client:poll(0.05)
    slow:cancel()
    client:wait_all()
    assert.equal("user-1", got.ok[1].user.id)
    assert.is_nil(got.raised[1])
    assert.equal("not_found", got.raised[2].kind)
    assert.is_nil(got.cancelled[1])
    assert.equal("cancelled", got.cancelled[2].kind)
  end)

  it("a wrong argument raised at spawn does not also reach on_done", function()
    local called = false
    assert.has_error(function()
      client:spawn(function() return client:get_team_secret("team-1", "..") end, function() called = true end)
    end, "bad argument #2 to 'get_team_secret' (name must not be '.' or '..')")
    assert.is_false(called)
  end)

  it("wait_all also waits for tasks started meanwhile by an on_done", function()
    local second
    client:spawn(function() return client:get_session() end, function()
      second = client:spawn(function() return client:list_team_members("team-1") end)
    end)
    client:wait_all()
    assert.is_true(second:done())
    assert.equal(5, #second:result())
  end)

  it("wait_all inside a task raises instead of waiting for itself", function()
    local task = client:spawn(function()
      client:get_session()
      return pcall(client.wait_all, client)
    end)
    client:wait_all()
    local ok, msg = task:result()
    assert.is_false(ok)
    assert.matches("wait_all inside a task would wait for that task itself; use gather", msg, 1, true)
  end)

  it("a wrong argument in a call waiting for a free transfer raises before anything is sent", function()
    local c = helpers.client(emu, { max_concurrency = 1 })
    assert.has_error(function()
      c:gather {
        { "update_team_member", "team-1", "user-2", { isAdmin = true } },
        { "update_team_member", "team-1", "user-3", { isAdmin = "yes" } },
      }
    end, "bad argument #3 to 'update_team_member' (body.isAdmin must be a boolean, got string)")
    c:close()
    assert.equal(0, #emu:requests())
  end)

  it("gather refuses options it does not know", function()
    assert.has_error(function() client:gather({ { "get_session" } }, { failfast = true }) end,
      "bad argument #2 to 'gather' (unknown option opts.failfast)")
    assert.equal(0, #emu:requests())
  end)

  it("poll with a very long wait still returns when a call finishes", function()
    local task = client:spawn(function() return client:get_session() end)
    while not task:done() do client:poll(3e6) end -- 3e9 ms overflows an int
    local session, err = task:result()
    assert.is_nil(err)
    assert.equal("user-1", session.user.id)
  end)
end)
