-- Lua 5.1 and LuaJIT (Neovim, OpenResty): the core built against their C
-- API, and the library run on them against the emulator, blocking and
-- concurrent.
-- spec tags: external
local helpers = require "spec.support.helpers"

local SCRIPT = [[
local emu = require("paperspace.emulator").start { latency = 0.02, paged = true, page_size = 2 }
local paperspace = require "paperspace"
local client = paperspace.new { api_key = emu.api_key, base_url = emu.url }
local team = client:team("team-1")
local n = 0
for _ in team:each_member() do n = n + 1 end
local calls = {}
for i = 1, 12 do calls[i] = { "get_session" } end
calls[13] = function() return #assert(team:members()) end
local results, failed = client:gather(calls)
local done = assert(team:set_secrets { A = "value-a", B = "value-b" })
local _, err = team:secret("NOPE")
local ok, msg = pcall(client.get_team_secret, client, {}, "x")
print(n, #results, failed, results[13][1], done.A, err.kind, ok, msg:match("bad argument #1 to 'get_team_secret'"))
client:close()
emu:stop()
]]

describe("Lua 5.1 and LuaJIT", function()
  setup(function()
    local out, ok = helpers.run("make -s compat")
    assert(ok, out)
  end)

  for _, lua in ipairs { { "luajit", "luajit" }, { "lua5.1", "lua5.1" } } do
    it("runs the library on " .. lua[1], function()
      local _, found = helpers.run("command -v " .. lua[1])
      assert.is_true(found, lua[1] .. " is not installed")
      local script = os.tmpname()
      local f = assert(io.open(script, "w"))
      f:write(SCRIPT)
      f:close()
      local out, ok = helpers.run(string.format(
        "LUA_PATH='lua/?.lua;lua/?/init.lua;emulator/lua/?.lua;;' LUA_CPATH='build/compat-%s/?.so;;' %s %s",
        lua[2], lua[1], script))
      os.remove(script)
      assert.is_true(ok, out)
      assert.equal("5\t13\t0\t5\tcreated\tnot_found\tfalse\tbad argument #1 to 'get_team_secret'\n", out)
    end)
  end
end)
