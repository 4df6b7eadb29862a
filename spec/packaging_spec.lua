-- `luarocks make` builds and installs the library into a fresh tree, offline,
-- with no variables for curl's multiarch headers, and the installed copy works;
-- the emulator is a rock of its own, installed beside it, whose command starts
-- from that tree with no LUA_PATH.
-- spec tags: external
local emulator = require "paperspace.emulator"

local helpers = require "spec.support.helpers"
local write = helpers.write
local run = helpers.run

local LIBRARY, EMULATOR = "lua-paperspace-0.1.0-1.rockspec", "lua-paperspace-emulator-0.1.0-1.rockspec"

describe("the rock", function()
  local tree, emu, made, made_ok

  setup(function()
    tree = os.tmpname()
    os.remove(tree)
    emu = emulator.start {}
    made, made_ok = run(string.format("luarocks --lua-version=5.4 make --tree '%s' --deps-mode=none %s",
                                      tree, LIBRARY))
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
    -- The emulator and its command are the other rock's.
    out = run("find '" .. tree .. "' -path '*emulator*'")
    assert.equal("", out)
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

describe("the emulator's rock", function()
  local tree, made, made_ok, emulator_made, emulator_ok

  setup(function()
    tree = os.tmpname()
    os.remove(tree)
    made, made_ok = run(string.format("luarocks --lua-version=5.4 make --tree '%s' --deps-mode=none %s",
                                      tree, LIBRARY))
    emulator_made, emulator_ok = run(string.format(
      "luarocks --lua-version=5.4 make --tree '%s' --deps-mode=none %s", tree, EMULATOR))
  end)
  teardown(function()
    run("rm -rf '" .. tree .. "'")
    run("rm -rf src/*.o paperspace")
  end)

  it("installs its modules and its command beside the library's, and nothing of the library", function()
    assert.is_true(made_ok, made)
    assert.is_true(emulator_ok, emulator_made)
    local out, ok = run("luarocks --lua-version=5.4 show --tree '" .. tree .. "' lua-paperspace-emulator")
    assert.is_true(ok, out)
    local modules = {}
    for m in out:gmatch("\n%s+(paperspace%.[%w_.]+) %(") do modules[#modules + 1] = m end
    table.sort(modules)
    assert.same({ "paperspace.emulator", "paperspace.emulator.api", "paperspace.emulator.app",
                  "paperspace.emulator.faults", "paperspace.emulator.http" }, modules)
    local p = assert(io.popen("cd emulator/lua && find . -name '*.lua'"))
    for file in p:lines() do
      assert.truthy(io.open(tree .. "/share/lua/5.4/" .. file:sub(3)), file)
    end
    p:close()
    local _, has_bin = run("test -x '" .. tree .. "/bin/paperspace-emulator'")
    assert.is_true(has_bin)
  end)

  it("has a command that starts and runs a script from that tree, with no LUA_PATH", function()
    assert.is_true(made_ok, made)
    assert.is_true(emulator_ok, emulator_made)
    local script = os.tmpname()
    write(script, [[
      local c = require("paperspace").new()
      local where = package.searchpath("paperspace.core", package.cpath)
      print(assert(c:get_session()).team.id, where:sub(1, #os.getenv("TREE")) == os.getenv("TREE"))
    ]])
    local out, ok = run(string.format("cd / && env -u LUA_PATH -u LUA_CPATH TREE='%s' '%s/bin/paperspace-emulator' run '%s'",
                                      tree, tree, script))
    os.remove(script)
    assert.is_true(ok, out)
    assert.matches("^team%-1\ttrue\n", out)
    out, ok = run(string.format("cd / && env -u LUA_PATH -u LUA_CPATH '%s/bin/paperspace-emulator' --help", tree))
    assert.is_true(ok, out)
    assert.matches("Usage: paperspace-emulator", out, 1, true)
  end)
end)
