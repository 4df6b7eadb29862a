-- A task ends exactly once, whatever user code does while it runs: close
-- the client from inside the task, from a logger, from inside gather, or
-- from an on_done.
local helpers = require "spec.support.helpers"

describe("closing the client from code that runs inside a call", function()
  local emu
  setup(function() emu = helpers.emulator {} end)
  teardown(function() emu:stop() end)
  before_each(function() emu:reset() end)

  it("inside a task: on_done is called once, and the count stays at zero", function()
    local c = helpers.client(emu)
    local calls = {}
    local task = c:spawn(function()
      local s = c:get_session()
      c:close()
      return s
    end, function(value, err) calls[#calls + 1] = { value, err } end)
    for _ = 1, 50 do
      if task:done() then break end
      c:poll(0.1)
    end
    assert.is_true(task:done())
    assert.equal(1, #calls)
    assert.equal("cancelled", calls[1][2].kind)
    assert.equal(0, c._sched.count)
    local _, err = task:result()
    assert.equal("cancelled", err.kind)
  end)

  it("inside gather: each call has one result and the count stays at zero", function()
    local c = helpers.client(emu, { max_concurrency = 4 })
    emu:fault { path = "/teams/team-1/secrets/SLOW", responses = { { delay = 2, status = 404 } } }
    local results, failed = c:gather {
      function()
        c:get_session()
        c:close()
        return "closed"
      end,
      { "get_team_secret", "team-1", "SLOW" },
    }
    assert.equal(2, #results)
    assert.equal(2, failed)
    assert.equal("cancelled", results[1][2].kind)
    assert.equal("cancelled", results[2][2].kind)
    assert.equal(0, c._sched.count)
  end)

  it("from a logger, inside gather: the count never goes below zero", function()
    local c
    c = helpers.client(emu, { logger = function() c:close() end })
    emu:fault { path = "/teams/team-1/secrets/SLOW", responses = { { delay = 2, status = 404 } } }
    local done = {}
    local results, failed = c:gather {
      function()
        local s, err = c:get_session()
        done[#done + 1] = "session"
        return s, err
      end,
      { "get_team_secret", "team-1", "SLOW" },
    }
    assert.equal(2, #results)
    assert.equal(2, failed)
    for i = 1, 2 do assert.equal("cancelled", results[i][2].kind) end
    assert.equal(0, c._sched.count)
  end)

  it("from a logger while a call waits to retry: nothing more is sent", function()
    local c
    c = helpers.client(emu, { logger = function(_, record)
      if record.retry_in then c:close() end
    end })
    emu:fault { path = "/auth/session", responses = { { status = 503, headers = { ["retry-after-ms"] = "1" } },
                                                     { pass = true } } }
    local got = {}
    local task = c:spawn(function() return c:get_session() end,
                         function(value, err) got[#got + 1] = { value, err } end)
    for _ = 1, 50 do
      if task:done() then break end
      c:poll(0.1)
    end
    assert.is_true(task:done())
    assert.equal(1, #got)
    assert.equal("cancelled", got[1][2].kind)
    assert.equal(0, c._sched.count)
    assert.equal(1, #emu:requests())
  end)

  it("from an on_done: the other tasks end once, as cancelled", function()
    local c = helpers.client(emu)
    emu:fault { path = "/teams/team-1/secrets/SLOW", responses = { { delay = 2, status = 404 } } }
    local got = { first = 0, slow = 0 }
    local slow = c:spawn(function() return c:get_team_secret("team-1", "SLOW") end,
                         function(_, err)
                           got.slow = got.slow + 1
                           got.slow_err = err
                         end)
    local first = c:spawn(function() return c:get_session() end, function()
      got.first = got.first + 1
      c:close()
    end)
    for _ = 1, 50 do
      if first:done() then break end
      c:poll(0.1)
    end
    assert.is_true(first:done() and slow:done())
    assert.equal(1, got.first)
    assert.equal(1, got.slow)
    assert.equal("cancelled", got.slow_err.kind)
    assert.equal("user-1", first:result().user.id)
    assert.equal(0, c._sched.count)
  end)

  it("from an on_done that closes again while close cancels: each task ends once", function()
    local c = helpers.client(emu)
    emu:fault { path = "/teams/team-1/secrets/SLOW", times = 0, responses = { { delay = 2, status = 404 } } }
    local ends = {}
    for i = 1, 3 do
      c:spawn(function() return c:get_team_secret("team-1", "SLOW") end, function()
        ends[i] = (ends[i] or 0) + 1
        c:close()
      end)
    end
    c:poll(0.05)
    c:close()
    assert.same({ 1, 1, 1 }, ends)
    assert.equal(0, c._sched.count)
  end)

  it("a task cancelled by its own code makes no further request", function()
    local c = helpers.client(emu, { max_retries = 2 })
    emu:fault { path = "/auth/session", times = 0, responses = { { status = 503, headers = { ["retry-after-ms"] = "1" } } } }
    local results = c:gather {
      function()
        c._sched:current():cancel()
        local s, err = c:get_session()
        local inner = c:gather { { "get_session" } }
        return s, err, inner
      end,
    }
    assert.equal("cancelled", results[1][2].kind)
    assert.equal(0, #emu:requests())
    assert.equal(0, c._sched.count)
    c:close()
  end)

  it("a task inside gather that cancels itself last lets the gather return", function()
    local c = helpers.client(emu)
    emu:fault { path = "/teams/team-1/secrets/SLOW", responses = { { delay = 0.3, status = 404 } } }
    local outer = c:spawn(function()
      return c:gather {
        function()
          c:get_team_secret("team-1", "SLOW")
          c._sched:current():cancel()
          return "not this"
        end,
        { "get_session" },
      }
    end)
    c:wait_all()
    local results, failed = outer:result()
    assert.equal(1, failed)
    assert.equal("cancelled", results[1][2].kind)
    assert.equal("user-1", results[2][1].user.id)
    assert.equal(0, c._sched.count)
    c:close()
  end)
end)

describe("closing the client around nested tasks and failing callbacks", function()
  local emu
  setup(function() emu = helpers.emulator {} end)
  teardown(function() emu:stop() end)
  before_each(function() emu:reset() end)

  it("from inside a gather inside a task: every task ends once, nothing is resumed", function()
    local c = helpers.client(emu)
    emu:fault { path = "/teams/team-1/secrets/SLOW", responses = { { delay = 2, status = 404 } } }
    local outer_ends, after_gather = {}, false
    local outer = c:spawn(function()
      c:gather {
        function()
          c:get_session()
          c:close()
          return "closed"
        end,
        { "get_team_secret", "team-1", "SLOW" },
      }
      after_gather = true
      return c:get_session()
    end, function(value, err) outer_ends[#outer_ends + 1] = { value, err } end)
    for _ = 1, 50 do
      if outer:done() then break end
      c:poll(0.1)
    end
    assert.is_true(outer:done())
    assert.equal(1, #outer_ends)
    assert.equal("cancelled", outer_ends[1][2].kind)
    assert.is_false(after_gather)
    assert.equal(0, c._sched.count)
    assert.equal(2, #emu:requests())
  end)

  it("an on_done that raises during close: the others end, the client is closed, the error comes out", function()
    local c = helpers.client(emu)
    emu:fault { path = "/teams/team-1/secrets/SLOW", times = 0, responses = { { delay = 2, status = 404 } } }
    local ended = 0
    local tasks = {}
    for i = 1, 3 do
      tasks[i] = c:spawn(function() return c:get_team_secret("team-1", "SLOW") end, function()
        ended = ended + 1
        error("on_done " .. i .. " failed", 0)
      end)
    end
    c:poll(0.05)
    local ok, err = pcall(c.close, c)
    assert.is_false(ok)
    assert.matches("^on_done %d failed$", err)
    assert.equal(3, ended)
    for i = 1, 3 do assert.is_true(tasks[i]:done()) end
    assert.equal(0, c._sched.count)
    assert.has_error(function() c:get_session() end, "paperspace: the client is closed")
  end)
end)

describe("closing the client from a logger during a blocking call", function()
  local emu
  setup(function() emu = helpers.emulator { paged = true, page_size = 2 } end)
  teardown(function() emu:stop() end)
  before_each(function() emu:reset() end)

  local function assert_closed_during(err)
    assert.equal("cancelled", err.kind)
    assert.equal("the client was closed during the call", err.message)
  end

  it("before a retry: nil, err, and no further attempt", function()
    local c
    c = helpers.client(emu, { logger = function(_, record) if record.retry_in then c:close() end end })
    emu:fault { path = "/auth/session", responses = { { status = 503, headers = { ["retry-after-ms"] = "1" } } } }
    local session, err = c:get_session()
    assert.is_nil(session)
    assert_closed_during(err)
    assert.equal(1, err.attempts)
    assert.equal(1, #emu:requests())
    assert.has_error(function() c:get_session() end, "paperspace: the client is closed")
  end)

  it("between the pages of a list: nil, err from list_*, the error raised by each_*", function()
    local c
    c = helpers.client(emu, { logger = function() c:close() end })
    local members, err = c:list_team_members("team-1")
    assert.is_nil(members)
    assert_closed_during(err)
    assert.equal(1, #emu:requests())
    c = helpers.client(emu)
    emu:clear_requests()
    local seen = 0
    local ok, raised = pcall(function()
      for _ in c:each_team_member("team-1") do
        seen = seen + 1
        c:close()
      end
    end)
    assert.is_false(ok)
    assert_closed_during(raised)
    assert.equal(2, seen) -- the first page's two members
    assert.equal(1, #emu:requests())
  end)

  it("after the last attempt: the result, and its raw record", function()
    local c
    c = helpers.client(emu, { logger = function() c:close() end })
    local session, err, record = c:get_session { raw = true }
    assert.is_nil(err)
    assert.equal("user-1", session.user.id)
    assert.equal(1, record.attempts)
  end)
end)
