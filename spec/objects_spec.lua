-- The objects: a team, its members and its secrets, with their methods.
local helpers = require "spec.support.helpers"

describe("objects", function()
  local emu, client, team
  helpers.use_emulator({}, nil, function(e, c) emu, client, team = e, c, c:team("team-1") end)

  local function count_requests() return #emu:requests() end

  it("client:team makes no request and is the same object for the same id", function()
    emu:clear_requests()
    local t = client:team("team-9")
    assert.equal(t, client:team("team-9"))
    assert.equal("team-9", t.id)
    assert.equal(0, count_requests())
    assert.equal("paperspace.team(team-9)", tostring(t))
  end)

  it("client:team refuses a bad id at once", function()
    assert.has_error(function() client:team({}) end,
      "bad argument #1 to 'team' (team_id must be a string or an integer, got table)")
    assert.has_error(function() client:team("") end)
  end)

  it("team:members and team:each_member list member objects", function()
    local members = assert(team:members())
    assert.equal(5, #members)
    local seen = {}
    for m in team:each_member() do seen[#seen + 1] = m.userId end
    assert.same({ "user-1", "user-2", "user-3", "user-4", "user-5" }, seen)
    assert.equal(team, members[1]:team())
  end)

  it("member:set_admin updates the server and the object", function()
    local members = assert(team:members())
    local m = members[2]
    assert.is_false(m.isAdmin)
    assert.equal(m, assert(m:set_admin(true)))
    assert.is_true(m.isAdmin)
    local state = emu:state()
    assert.is_true(state.members[2].isAdmin)
    assert.has_error(function() m:set_admin("yes") end)
  end)

  it("member:remove removes the member", function()
    local m = assert(team:members())[4]
    assert.is_true(m:remove())
    assert.equal(4, #assert(team:members()))
  end)

  it("team:update_member and team:remove_member work by user id", function()
    local m = assert(team:update_member("user-5", true))
    assert.is_true(m.isAdmin)
    assert.is_true(team:remove_member("user-5"))
    local _, err = team:remove_member("user-5")
    assert.equal("not_found", err.kind)
  end)

  it("members print usefully", function()
    local m = assert(team:members())[1]
    assert.equal("paperspace.member(user-1 ada@example.com admin)", tostring(m))
  end)

  it("team:create_secret, team:secret, secret:update, secret:delete", function()
    local s = assert(team:create_secret("API_TOKEN", "first-value"))
    assert.equal("API_TOKEN", s.name)
    local got = assert(team:secret("API_TOKEN"))
    assert.equal("API_TOKEN", got.name)
    assert.equal(got, assert(got:update("second-value")))
    assert.equal("second-value", emu:state().secrets.API_TOKEN.value)
    assert.is_true(got:delete())
    local _, err = team:secret("API_TOKEN")
    assert.equal("not_found", err.kind)
  end)

  it("team:create_secret fails with conflict when the secret exists", function()
    assert(team:create_secret("DUP", "one-value"))
    local s, err = team:create_secret("DUP", "two-value")
    assert.is_nil(s)
    assert.equal("conflict", err.kind)
    assert.equal(409, err.status)
    assert.equal("one-value", emu:state().secrets.DUP.value)
  end)

  it("team:set_secret creates a missing secret and updates an existing one", function()
    local s, created = team:set_secret("ENV", "v1-value")
    assert.equal("ENV", s.name)
    assert.is_true(created)
    assert.equal("v1-value", emu:state().secrets.ENV.value)
    s, created = team:set_secret("ENV", "v2-value")
    assert.equal("ENV", s.name)
    assert.is_false(created)
    assert.equal("v2-value", emu:state().secrets.ENV.value)
  end)

  it("team:set_secret updates when the secret appears between its requests", function()
    assert(team:create_secret("RACE", "theirs-value"))
    -- As if it did not exist at the first PATCH and did at the POST:
    emu:fault { method = "PATCH", path = "/teams/team-1/secrets/RACE",
                responses = { { status = 404, body = { code = "NOT_FOUND", message = "Secret not found" } } } }
    emu:fault { method = "POST", path = "/teams/team-1/secrets",
                responses = { { status = 409, body = { code = "CONFLICT", message = "Secret exists" } } } }
    local s, created = team:set_secret("RACE", "ours-value")
    assert.equal("RACE", s.name)
    assert.is_false(created)
    assert.equal("ours-value", emu:state().secrets.RACE.value)
    local methods = {}
    for _, r in ipairs(emu:requests()) do methods[#methods + 1] = r.method end
    assert.same({ "POST", "PATCH", "POST", "PATCH" }, methods)
  end)

  it("team:set_secret returns other errors as they are", function()
    emu:fault { method = "PATCH", path = "/teams/team-1/secrets/X",
                responses = { { status = 403, body = { code = "FORBIDDEN", message = "no" } } } }
    local s, err = team:set_secret("X", "x-value")
    assert.is_nil(s)
    assert.equal("permission_denied", err.kind)
  end)

  it("team:secrets and team:each_secret list secret objects without values", function()
    for _, n in ipairs { "A", "B", "C" } do assert(team:create_secret(n, "value-of-" .. n)) end
    local secrets = assert(team:secrets())
    assert.equal(3, #secrets)
    local names = {}
    for s in team:each_secret() do
      names[#names + 1] = s.name
      assert.is_function(s.delete)
    end
    assert.same({ "A", "B", "C" }, names)
  end)

  it("secrets print their name and date, never a value", function()
    local s = assert(team:create_secret("PRINTED", "hunter2-secret"))
    local text = tostring(s)
    assert.matches("^paperspace%.secret%(PRINTED, created %d%d%d%d%-", text)
    assert.not_matches("hunter2", text)
  end)

  it("the client prints its URL and never the key", function()
    local text = tostring(client)
    assert.equal("paperspace.client(" .. emu.url .. ")", text)
    assert.not_matches(emu.api_key, text, 1, true)
    assert.is_nil(client:settings().api_key)
    assert.is_true(client:settings().has_api_key)
  end)

  it("the objects' methods name themselves and their arguments in argument errors", function()
    local m = assert(team:members())[2]
    local s = assert(team:create_secret("ARGS", "v"))
    emu:clear_requests()
    for _, case in ipairs {
      { function() team:set_secret("X") end, "bad argument #2 to 'set_secret' (value must be a string, got nil)" },
      { function() team:create_secret("X", 5) end, "bad argument #2 to 'create_secret' (value must be a string, got number)" },
      { function() team:update_member("user-2", "yes") end,
        "bad argument #2 to 'update_member' (is_admin must be a boolean, got string)" },
      { function() s:update(5) end, "bad argument #1 to 'update' (value must be a string, got number)" },
      { function() m:set_admin(nil) end, "bad argument #1 to 'set_admin' (is_admin must be a boolean, got nil)" },
      { function() team.members() end, "paperspace: call team:members(...) with a colon" },
      { function() m.remove() end, "paperspace: call member:remove(...) with a colon" },
      { function() s.delete() end, "paperspace: call secret:delete(...) with a colon" },
      { function() team:set_secrets { "A", "B" } end,
        "bad argument #1 to 'set_secrets' (a table of name = value expected, got the key 1, a number; "
        .. "get_secrets takes a list)" },
    } do
      assert.has_error(case[1], case[2])
    end
    assert.equal(0, count_requests())
  end)
end)
