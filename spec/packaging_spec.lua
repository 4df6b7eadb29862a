-- `luarocks make` builds and installs the library into a fresh tree, offline,
-- with no variables for curl's multiarch headers, and the installed copy works.
local emulator = require "paperspace.emulator"

local helpers = require "spec.support.helpers"
local run = helpers.run

local function rockspec()
  local p = assert(io.popen("ls *.rockspec"))
  local name = p:read("*l")
  p:close()
  return name
end

describe("the rock", function()
  local tree, emu, made, made_ok

  setup(function()
    tree = os.tmpname()
    os.remove(tree)
    emu = emulator.start {}
    made, made_ok = run(string.format("luarocks --lua-version=5.4 make --tree '%s' --deps-mode=none %s",
                                      tree, rockspec()))
  end)
  teardown(function()
    emu:stop()
    run("rm -rf '" .. tree .. "'")
    run("rm -rf src/*.o paperspace")
  end)

  it("builds and installs with luarocks make --deps-mode=none", function()
    assert.is_true(made_ok, made)
    local out, ok
    local installed = string.format(
      "LUA_PATH='%s/share/lua/5.4/?.lua;%s/share/lua/5.4/?/init.lua;;' LUA_CPATH='%s/lib/lua/5.4/?.so;;' ",
      tree, tree, tree)
    local script = [[
      local p = require "paperspace"
      assert(package.searchpath("paperspace.core", package.cpath):find(os.getenv("TREE"), 1, true))
      local c = p.new { base_url = os.getenv("URL"), api_key = os.getenv("KEY") }
      local s = assert(c:get_session())
      local m = assert(c:team(s.team.id):members())
      print(s.team.id, #m, p._VERSION)
    ]]
    out, ok = run(string.format("%s TREE='%s' URL='%s' KEY='%s' lua5.4 -e '%s'", installed, tree, emu.url,
                                emu.api_key, script))
    assert.is_true(ok, out)
    assert.matches("team%-1\t5\t%d+%.%d+%.%d+", out)
    -- The emulator and its command line come with the rock.
    out, ok = run(installed .. " lua5.4 -e 'print(require(\"paperspace.emulator\").new ~= nil)'")
    assert.is_true(ok, out)
    assert.matches("true", out)
    local _, has_bin = run("test -x '" .. tree .. "/bin/paperspace-emulator'")
    assert.is_true(has_bin)
  end)

  it("installs every Lua module of the tree", function()
    assert.is_true(made_ok, made)
    local p = assert(io.popen("cd lua && find . -name '*.lua'"))
    local missing = {}
    for file in p:lines() do
      local f = io.open(tree .. "/share/lua/5.4/" .. file:sub(3))
      if f then f:close() else missing[#missing + 1] = file end
    end
    p:close()
    assert.same({}, missing)
  end)
end)
