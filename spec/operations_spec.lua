-- Every operation over real HTTP against the emulator, in both of the API's
-- styles: the description's (201 on create, 204 on delete, bare arrays) and
-- production's (200 with a JSON body everywhere, paged envelopes).
local helpers = require "spec.support.helpers"
local paperspace = require "paperspace"

for _, style in ipairs { "spec", "production" } do
  describe("operations (" .. style .. " style)", function()
    local emu, client
    helpers.use_emulator({ style = style, paged = style == "production", page_size = 2 }, nil,
                         function(e, c) emu, client = e, c end)

    it("get_session returns the session", function()
      local session, err = client:get_session()
      assert.is_nil(err)
      assert.equal("user-1", session.user.id)
      assert.equal("ada@example.com", session.user.email)
      assert.equal("team-1", session.team.id)
      assert.equal("Acme", session.team.name)
    end)

    it("get_session returns nil, nil when nobody is logged in", function()
      emu:configure { logged_out = true }
      local results = table.pack(client:get_session())
      assert.equal(2, results.n)
      assert.is_nil(results[1])
      assert.is_nil(results[2])
    end)

    it("list_team_members returns every member", function()
      local members, err = client:list_team_members("team-1")
      assert.is_nil(err)
      assert.equal(5, #members)
      assert.equal("user-1", members[1].userId)
      assert.is_true(members[1].isAdmin)
      assert.equal("team-1", members[1].teamId)
      assert.is_false(members[2].isAdmin)
    end)

    it("update_team_member changes the admin status and returns the member", function()
      local member, err = client:update_team_member("team-1", "user-2", { isAdmin = true })
      assert.is_nil(err)
      assert.equal("user-2", member.userId)
      assert.is_true(member.isAdmin)
      local state = emu:state()
      local found
      for _, m in ipairs(state.members) do
        if m.userId == "user-2" then found = m end
      end
      assert.is_table(found, "user-2 is missing from the emulator's state")
      assert.is_true(found.isAdmin)
      local last = emu:requests()[#emu:requests()]
      assert.equal("PUT", last.method)
      assert.equal("/teams/team-1/users/user-2", last.path)
      assert.same({ isAdmin = true }, require("cjson").decode(last.body))
      assert.equal("application/json", last.headers["content-type"])
    end)

    it("remove_team_member returns true and removes the member", function()
      assert.is_true(client:remove_team_member("team-1", "user-3"))
      local members = assert(client:list_team_members("team-1"))
      assert.equal(4, #members)
      for _, m in ipairs(members) do assert.not_equal("user-3", m.userId) end
    end)

    it("create_team_secret stores the value and returns the secret without it", function()
      local secret, err = client:create_team_secret("team-1", { name = "TOKEN", value = "s3cr3t-value" })
      assert.is_nil(err)
      assert.equal("TOKEN", secret.name)
      assert.is_string(secret.dtCreated)
      assert.is_nil(secret.value)
      assert.equal("s3cr3t-value", emu:state().secrets.TOKEN.value)
    end)

    it("list_team_secrets lists names and dates, never values", function()
      for i = 1, 5 do
        assert(client:create_team_secret("team-1", { name = "S" .. i, value = "value-" .. i }))
      end
      local secrets, err = client:list_team_secrets("team-1")
      assert.is_nil(err)
      assert.equal(5, #secrets)
      local names = {}
      for _, s in ipairs(secrets) do
        names[#names + 1] = s.name
        assert.is_nil(s.value)
      end
      table.sort(names)
      assert.same({ "S1", "S2", "S3", "S4", "S5" }, names)
    end)

    it("get_team_secret returns one secret", function()
      assert(client:create_team_secret("team-1", { name = "ONE", value = "v1-value" }))
      local secret, err = client:get_team_secret("team-1", "ONE")
      assert.is_nil(err)
      assert.equal("ONE", secret.name)
      assert.is_nil(secret.value)
    end)

    it("update_team_secret replaces the value", function()
      assert(client:create_team_secret("team-1", { name = "ROT", value = "old-value" }))
      local secret, err = client:update_team_secret("team-1", "ROT", { value = "new-value" })
      assert.is_nil(err)
      assert.equal("ROT", secret.name)
      assert.equal("new-value", emu:state().secrets.ROT.value)
      local last = emu:requests()[#emu:requests()]
      assert.equal("PATCH", last.method)
    end)

    it("delete_team_secret returns true and deletes it", function()
      assert(client:create_team_secret("team-1", { name = "GONE", value = "bye-value" }))
      assert.is_true(client:delete_team_secret("team-1", "GONE"))
      assert.is_nil(emu:state().secrets.GONE)
      local _, err = client:get_team_secret("team-1", "GONE")
      assert.equal("not_found", err.kind)
    end)

    it("accepts integer ids and names, sent in decimal", function()
      assert(client:create_team_secret("team-1", { name = 42, value = "forty-two" }))
      local secret = assert(client:get_team_secret("team-1", 42))
      assert.equal("42", secret.name)
      local last = emu:requests()[#emu:requests()]
      assert.equal("/teams/team-1/secrets/42", last.path)
    end)

    it("returns members and secrets as objects with the API's fields", function()
      local members = assert(client:list_team_members("team-1"))
      assert.is_function(members[1].set_admin)
      local secret = assert(client:create_team_secret("team-1", { name = "OBJ", value = "obj-value" }))
      assert.is_function(secret.update)
      local fields = {}
      for k in pairs(secret) do fields[#fields + 1] = k end
      table.sort(fields)
      assert.same({ "dtCreated", "name" }, fields)
    end)

    it("keeps a JSON null field as paperspace.null", function()
      emu:fault { method = "GET", path = "/teams/team-1/users",
                  responses = { { status = 200, body = '[{"userId":"u9","email":null,"isAdmin":false}]' } } }
      local members = assert(client:list_team_members("team-1"))
      assert.equal("u9", members[1].userId)
      assert.equal(paperspace.null, members[1].email)
    end)
  end)
end
