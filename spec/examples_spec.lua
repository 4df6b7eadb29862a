-- The examples run as the README says, against the bundled emulator, and
-- never print a secret's value.
-- spec tags: children
local helpers = require "spec.support.helpers"
local run = helpers.run

local interpreter = helpers.interpreter

local function with_emulator(...)
  local env = string.format("LUA_PATH='%s' LUA_CPATH='%s' ", package.path, package.cpath)
  return run(env .. interpreter() .. " examples/with_emulator.lua " .. table.concat({ ... }, " "))
end

describe("examples", function()
  it("quickstart walks through session, members and secrets", function()
    local out, ok = with_emulator("examples/quickstart.lua")
    assert.is_true(ok, out)
    assert.matches("Logged in as ada@example.com on team Acme %(team%-1%)", out)
    assert.matches("paperspace.member(user-1 ada@example.com admin)", out, 1, true)
    assert.matches("created  paperspace.secret(QUICKSTART_TOKEN, created ", out, 1, true)
    assert.matches("missing  paperspace: 404 not_found:", out, 1, true)
    assert.matches("deleted  QUICKSTART_TOKEN", out, 1, true)
    assert.not_matches("first value", out, 1, true)
    assert.not_matches("second value", out, 1, true)
  end)

  it("ci_secrets creates, then on a second run updates, without printing values", function()
    local out, ok = with_emulator("examples/ci_secrets.lua", "examples/ci_secrets.lua")
    assert.is_true(ok, out)
    assert.matches("created  DATABASE_URL.*updated  DATABASE_URL", out)
    assert.matches("team team%-1 now has 3 secrets", out)
    assert.not_matches("postgres://", out, 1, true)
    assert.not_matches("tok-123", out, 1, true)
  end)

  it("audit_admins reports the admins", function()
    local out, ok = with_emulator("examples/audit_admins.lua")
    assert.is_true(ok, out)
    assert.matches("team team%-1: 6 members, 1 admins", out)
    assert.matches("ada@example.com%s+ok", out)
  end)

  it("neovim_luv keeps its UI timer running while calls are in flight", function()
    -- Each request takes 0.3 s: a loop blocked on the network would draw
    -- next to no frames between starting a call and showing its result.
    local emu = helpers.emulator { latency = 0.3 }
    local out, ok = run(string.format("PAPERSPACE_API_URL='%s' PAPERSPACE_API_KEY='%s' LUA_PATH='%s' LUA_CPATH='%s' %s %s",
                                      emu.url, emu.api_key, package.path, package.cpath, interpreter(),
                                      "examples/neovim_luv.lua"))
    emu:stop()
    assert.is_true(ok, out)
    local started = tonumber(out:match("%[frame +(%d+)%] started get_session"))
    local shown = tonumber(out:match("%[frame +(%d+)%] session: ada@example.com on team team%-1"))
    local listed = tonumber(out:match("%[frame +(%d+)%] 5 members, 1 admins"))
    assert.is_true(shown - started >= 10, out)
    assert.is_true(listed - shown >= 10, out)
    assert.is_true(tonumber(out:match("the UI timer ran (%d+) frames while the calls were in flight")) >= listed)
  end)

  it("the runner fails when a script fails", function()
    local tmp = os.tmpname()
    local f = assert(io.open(tmp, "w"))
    f:write("os.exit(3)\n")
    f:close()
    local out, ok = with_emulator(tmp)
    os.remove(tmp)
    assert.is_false(ok)
    assert.matches("FAILED", out)
  end)
end)
