-- Behaviour a small slip in the code would break without any other spec
-- noticing: printed objects with a value in them, the loop's wait next to
-- sleeping tasks, the limits of `limit`, and repeated response headers.
local helpers = require "spec.support.helpers"
local core = require "paperspace.core"

describe("printed objects", function()
  local emu, client
  helpers.use_emulator({}, { max_retries = 0 }, function(e, c) emu, client = e, c end)

  local SECRET = "hunter2-never-printed"

  it("a secret never prints a value the server sent", function()
    emu:fault { path = "/teams/team-1/secrets/LEAKY", responses = { { status = 200,
                body = { name = "LEAKY", value = SECRET, dtCreated = "2026-01-01T00:00:00.000Z" } } } }
    local s = assert(client:get_team_secret("team-1", "LEAKY"))
    assert.equal(SECRET, s.value) -- the table holds it: the printing must not show it
    local text = tostring(s)
    assert.equal("paperspace.secret(LEAKY, created 2026-01-01T00:00:00.000Z)", text)
    assert.not_matches(SECRET, text, 1, true)
  end)

  it("a secret never prints a value set by the user's code", function()
    local s = assert(client:team("team-1"):create_secret("MINE", "v1"))
    s.value = SECRET
    s.secret = SECRET
    assert.not_matches(SECRET, tostring(s), 1, true)
    assert.matches("^paperspace%.secret%(MINE, created ", tostring(s))
  end)

  it("secrets in a list, and members, never print a value either", function()
    emu:fault { path = "/teams/team-1/secrets", responses = { { status = 200,
                body = '[{"name": "A", "value": "' .. SECRET .. '"}]' } } }
    local list = assert(client:list_team_secrets("team-1"))
    assert.equal("paperspace.secret(A)", tostring(list[1]))
    local members = assert(client:list_team_members("team-1"))
    members[1].value = SECRET
    assert.not_matches(SECRET, tostring(members[1]), 1, true)
  end)
end)

describe("the loop's wait", function()
  local emu, client
  helpers.use_emulator({}, { max_concurrency = 4 }, function(e, c) emu, client = e, c end)

  it("ends when a sleeping task must retry, not when a slow call finishes", function()
    -- Four retries 0.05 s apart next to a call that takes 4 s: the retries
    -- are done in a fraction of a second, where a loop that waits for the
    -- network alone (up to a second a turn) takes three seconds or more.
    local busy = { status = 503, headers = { ["retry-after-ms"] = "50" } }
    emu:fault { path = "/auth/session", responses = { busy, busy, busy, busy } }
    emu:fault { path = "/teams/team-1/secrets/SLOW", responses = { { delay = 4, status = 404 } } }
    local started = core.now()
    local retried_at
    local results = client:gather {
      function()
        local session, err = client:get_session { max_retries = 4 }
        retried_at = core.now() - started
        return session, err
      end,
      { "get_team_secret", "team-1", "SLOW", { max_retries = 0 } },
    }
    assert.equal("user-1", results[1][1].user.id)
    assert.equal("not_found", results[2][2].kind)
    assert.equal(6, #emu:requests())
    assert.is_true(retried_at < 1.5, string.format("the retries took %.2f s", retried_at))
  end)
end)

describe("poll", function()
  local emu, client
  helpers.use_emulator({}, nil, function(e, c) emu, client = e, c end)

  it("returns when a call started after a backoff is answered, though another call is slow", function()
    client:gather { { "get_session" }, { "get_session" } } -- two connections, kept alive
    emu:fault { path = "/auth/session", responses = { { status = 503, headers = { ["retry-after-ms"] = "100" } } } }
    emu:fault { path = "/teams/team-1/secrets/SLOW", responses = { { delay = 4, status = 404 } } }
    local slow = client:spawn(function() return client:get_team_secret("team-1", "SLOW") end)
    local task = client:spawn(function() return client:get_session() end)
    local started = core.now()
    while not task:done() and core.now() - started < 20 do client:poll(5) end
    local took = core.now() - started
    assert.equal("user-1", task:result().user.id)
    assert.is_true(took < 2, string.format("the retried call took %.2f s, waiting for the slow one", took))
    assert.is_false(slow:done())
    slow:cancel()
  end)
end)

describe("limit", function()
  local emu, client
  helpers.use_emulator({ paged = true, members = 3 }, nil, function(e, c) emu, client = e, c end)

  for _, n in ipairs { 1, 2, 119, 120 } do
    it("accepts " .. n .. " and sends it", function()
      local members = assert(client:list_team_members("team-1", { limit = n }))
      assert.equal(3, #members)
      local reqs = emu:requests()
      assert.equal(tostring(n), reqs[1].args.limit)
      for _ in client:each_team_member("team-1", { limit = n }) do end
      assert.equal(tostring(n), emu:requests()[#reqs + 1].args.limit)
    end)
  end

  for _, n in ipairs { 0, -1, 121, 1.5, 0 / 0, math.huge } do
    it("refuses " .. tostring(n) .. " before sending anything", function()
      local msg = "bad argument #2 to 'list_team_members' (opts.limit must be an integer from 1 to 120)"
      assert.has_error(function() client:list_team_members("team-1", { limit = n }) end, msg)
      assert.has_error(function() client:each_team_member("team-1", { limit = n }) end,
        (msg:gsub("list_team_members", "each_team_member")))
      assert.equal(0, #emu:requests())
    end)
  end
end)

describe("a repeated response header", function()
  local emu, client
  helpers.use_emulator({}, { max_retries = 0 }, function(e, c) emu, client = e, c end)

  it("is read as its values joined, in order", function()
    emu:fault { path = "/auth/session", responses = { { status = 400,
                headers = { ["X-Multi"] = { "first", "second", "third" } } } } }
    local _, err = client:get_session()
    assert.equal("bad_request", err.kind)
    assert.equal("first, second, third", err.headers["x-multi"])
  end)

  it("joins on a success too", function()
    emu:fault { path = "/auth/session", responses = { { headers = { ["X-Multi"] = { "a", "b" } } } } }
    local session, err, resp = client:get_session { raw = true }
    assert.is_nil(err)
    assert.equal("user-1", session.user.id)
    assert.equal("a, b", resp.headers["x-multi"])
  end)
end)
