-- team:set_secrets(values, { on_done = fn }): progress as each name is done.
local helpers = require "spec.support.helpers"

describe("team:set_secrets with on_done", function()
  local emu, team
  helpers.use_emulator({}, {}, function(e, c) emu, team = e, c:team("team-1") end)

  it("is called once per name, with how it was set or the error", function()
    assert(team:create_secret("OLD", "old-value"))
    emu:fault { method = "PATCH", path = "/teams/team-1/secrets/BAD",
                responses = { { status = 403, body = { code = "FORBIDDEN", message = "no" } } } }
    local seen, count = {}, 0
    local done, failed = team:set_secrets({ OLD = "new-value", NEW = "new-one", BAD = "bad-value" }, {
      on_done = function(name, how, err)
        count = count + 1
        seen[name] = how or err.kind
      end,
    })
    assert.equal(3, count)
    assert.same({ OLD = "updated", NEW = "created", BAD = "permission_denied" }, seen)
    assert.same({ OLD = "updated", NEW = "created" }, done)
    assert.equal("permission_denied", failed.BAD.kind)
  end)

  it("refuses opts that are not a table, unknown options and an on_done that is not a function", function()
    assert.has_error(function() team:set_secrets({ A = "a" }, 1) end,
      "bad argument #2 to 'set_secrets' (opts must be a table, got number)")
    assert.has_error(function() team:set_secrets({ A = "a" }, { on_dnoe = print }) end,
      "bad argument #2 to 'set_secrets' (unknown option opts.on_dnoe)")
    assert.has_error(function() team:set_secrets({ A = "a" }, { on_done = true }) end,
      "bad argument #2 to 'set_secrets' (opts.on_done must be a function, got boolean)")
    assert.equal(0, #emu:requests())
  end)
end)
