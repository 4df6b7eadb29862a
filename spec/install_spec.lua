-- The README's install lines work as written with Debian's packages, offline:
-- they install the library's rock and the emulator's, and `paperspace-emulator
-- run` runs a script with arguments against the emulator, from a clone and
-- from the installed rock, with no LUA_PATH set.
-- spec tags: external
local helpers = require "spec.support.helpers"
local read, write, tmpdir = helpers.read, helpers.write, helpers.tmpdir
local run = helpers.run

-- The shell block right after the "## Install" heading, as lines.
local function install_lines()
  local readme = read("README.md")
  local section = assert(readme:match("\n## Install\n(.-)\n## "), "README has an Install section")
  local block = assert(section:match("```sh\n(.-)```"), "the Install section starts with a sh block")
  local lines = {}
  for line in block:gmatch("[^\n]+") do lines[#lines + 1] = line end
  return lines
end

local ROOT = (function()
  local p = assert(io.popen("pwd"))
  local d = p:read("*l")
  p:close()
  return d
end)()

local SCRIPT = [[
local paperspace = require "paperspace"
local client = paperspace.new()
local session = assert(client:get_session())
io.write(session.team.id, " ", select("#", ...), " [", table.concat({ ... }, "|"), "]\n")
os.exit(tonumber((...)) or 0)
]]

describe("the README's install lines", function()
  local work, tree, etc, out, ok, lines

  setup(function()
    work, tree, etc = tmpdir(), tmpdir(), tmpdir()
    lines = install_lines()
    -- A copy of the clone, so that the build leaves nothing in this one.
    assert(run(string.format("cp -r src lua bin emulator *.rockspec '%s'/", work)))
    -- LuaRocks' system configuration, copied, with its system tree moved
    -- to a fresh folder: nothing outside it is written.
    assert(run(string.format("cp /etc/luarocks/*.lua '%s'/", etc)))
    for _, v in ipairs { "5.1", "5.2", "5.3", "5.4" } do
      write(etc .. "/config-" .. v .. ".lua", "rocks_trees = { [[" .. tree .. "]] }\n")
    end
    local env = string.format("HOME='%s' LUAROCKS_SYSCONFDIR='%s' ", etc, etc)
    local outs = {}
    ok = true
    for _, line in ipairs(lines) do
      if not line:match("^apt%-get ") then
        local o, k = run(string.format("cd '%s' && %s %s", work, env, line))
        outs[#outs + 1] = "$ " .. line .. "\n" .. o
        ok = ok and k
      end
    end
    out = table.concat(outs, "\n")
  end)
  teardown(function()
    run(string.format("rm -rf '%s' '%s' '%s'", work, tree, etc))
  end)

  it("name only Debian packages that are installed and that scripts/install-deps installs", function()
    local apt = assert(lines[1]:match("^apt%-get update && apt%-get install %-y (.*)$"),
                       "first line: apt-get update && apt-get install -y ...")
    local deps = read("scripts/install-deps")
    for pkg in apt:gmatch("%S+") do
      local _, installed = run("dpkg-query -W -f='${Status}' " .. pkg .. " | grep -q 'install ok installed'")
      assert.is_true(installed, pkg .. " is not installed")
      assert.matches("[%s(]" .. pkg:gsub("%-", "%%-") .. "[%s)]", deps, nil, false, pkg)
    end
  end)

  it("build and install offline for Lua 5.4, with lua-cjson from Debian and no warning", function()
    assert.is_true(ok, out)
    assert.matches("lua-cjson >= 2.1.0 (2.1.0-1 provided by VM)", out, 1, true)
    assert.not_matches("Missing dependencies", out, 1, true)
    assert.matches("is now installed in " .. tree, out, 1, true)
    assert.truthy(io.open(tree .. "/lib/lua/5.4/paperspace/core.so"), out)
  end)

  it("install the emulator's rock, with luasocket from Debian and no warning", function()
    assert.is_true(ok, out)
    assert.matches("luasocket >= 3.0 (3.1.0-1 provided by VM)", out, 1, true)
    assert.matches("depends on lua-paperspace (0.1.0-1 installed)", out, 1, true)
    assert.matches("lua-paperspace-emulator 0.1.0-1 is now installed in " .. tree, out, 1, true)
    assert.truthy(io.open(tree .. "/share/lua/5.4/paperspace/emulator.lua"), out)
    assert.truthy(io.open(tree .. "/share/lua/5.4/paperspace/emulator/http.lua"), out)
  end)

  it("leave a library that `require` finds from any directory", function()
    assert.is_true(ok, out)
    local paths = string.format("LUA_PATH='%s/share/lua/5.4/?.lua;%s/share/lua/5.4/?/init.lua;;' "
                                .. "LUA_CPATH='%s/lib/lua/5.4/?.so;;' ", tree, tree, tree)
    local o, k = run(string.format("cd / && %s lua5.4 -e 'local p = require(\"paperspace\") "
                                   .. "print(p._VERSION, package.searchpath(\"paperspace.core\", package.cpath))'",
                                   paths))
    assert.is_true(k, o)
    assert.matches("^%d+%.%d+%.%d+\t" .. tree:gsub("%p", "%%%0") .. "/lib/lua/5.4/paperspace/core.so", o)
    -- The emulator too, from the tree and not from the clone.
    o, k = run(string.format("cd / && %s lua5.4 -e 'local e = require(\"paperspace.emulator\").start {} "
                             .. "print(package.searchpath(\"paperspace.emulator\", package.path), "
                             .. "assert(require(\"paperspace\").new { base_url = e.url, api_key = e.api_key }"
                             .. ":get_session()).team.id) e:stop()'", paths))
    assert.is_true(k, o)
    assert.matches("^" .. tree:gsub("%p", "%%%0") .. "/share/lua/5.4/paperspace/emulator.lua\tteam%-1\n", o)
  end)

  it("install paperspace-emulator, whose `run` runs a script with its arguments and status", function()
    assert.is_true(ok, out)
    local script = tree .. "/my_script.lua"
    write(script, SCRIPT)
    local o, k = run(string.format("cd / && env -u LUA_PATH -u LUA_CPATH '%s/bin/paperspace-emulator' run '%s' 0 'two words' \"it's\"",
                                   tree, script))
    assert.is_true(k, o)
    assert.matches("team-1 3 [0|two words|it's]", o, 1, true)
    o = run(string.format("cd / && env -u LUA_PATH -u LUA_CPATH '%s/bin/paperspace-emulator' run '%s' 7; echo \"status=$?\"",
                             tree, script))
    assert.matches("status=7", o, 1, true)
  end)
end)

describe("paperspace-emulator run from a clone", function()
  local script
  setup(function()
    script = os.tmpname()
    write(script, SCRIPT)
  end)
  teardown(function() os.remove(script) end)

  it("needs no LUA_PATH, from any directory, and passes arguments and the exit status", function()
    local o, k = run(string.format("cd / && env -u LUA_PATH -u LUA_CPATH lua5.4 '%s/emulator/bin/paperspace-emulator' run '%s' 0 a 'b c'",
                                   ROOT, script))
    assert.is_true(k, o)
    assert.matches("team-1 3 [0|a|b c]", o, 1, true)
    o = run(string.format("cd / && env -u LUA_PATH -u LUA_CPATH lua5.4 '%s/emulator/bin/paperspace-emulator' run '%s' 5; "
                          .. "echo \"status=$?\"", ROOT, script))
    assert.matches("status=5", o, 1, true)
  end)

  it("takes the emulator's options before `run`", function()
    local s2 = os.tmpname()
    write(s2, [[
      local c = require("paperspace").new()
      print(#assert(c:list_team_members("team-1")), os.getenv("PAPERSPACE_API_KEY"))
    ]])
    local o, k = run(string.format("cd / && env -u LUA_PATH -u LUA_CPATH lua5.4 '%s/emulator/bin/paperspace-emulator' --members 9 run '%s'",
                                   ROOT, s2))
    os.remove(s2)
    assert.is_true(k, o)
    assert.matches("^9\ttest%-key", o)
  end)

  it("examples/with_emulator.lua needs no LUA_PATH either", function()
    local o, k = run(string.format("cd / && env -u LUA_PATH -u LUA_CPATH lua5.4 '%s/examples/with_emulator.lua' '%s'",
                                   ROOT, script))
    assert.is_true(k, o)
    assert.matches("team-1 0 []", o, 1, true)
  end)

  it("says what is missing without a script", function()
    local o, k = run(string.format("lua5.4 '%s/emulator/bin/paperspace-emulator' run", ROOT))
    assert.is_false(k)
    assert.matches("run needs a script", o, 1, true)
  end)
end)
