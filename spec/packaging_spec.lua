-- `luarocks make` of each rockspec (the library's and the emulator's, each
-- release and scm) installs what the README says, offline, with no variables
-- for curl's multiarch headers: the library's rock its modules, the C core and
-- the `paperspace` command, and nothing of the emulator; the emulator's rock
-- depends on luasocket and lua-paperspace and installs its modules and the
-- `paperspace-emulator` command. What is installed is used from `/`, from the
-- tree alone. Each rockspec is installed once, into one tree a version, which
-- the tests share.
-- spec tags: external
local emulator = require "paperspace.emulator"

local helpers = require "spec.support.helpers"
local write, quote = helpers.write, helpers.quote
local run = helpers.run

-- The rockspecs of the repository, by package and version.
local function rockspecs()
  local found = {}
  local p = assert(io.popen("ls *.rockspec emulator/*.rockspec 2>/dev/null"))
  for path in p:lines() do
    local package, version = path:match("([%w-]-)%-(%w+%.?%w*%.?%w*%-%d+)%.rockspec$")
    if package then
      found[version] = found[version] or {}
      found[version][package] = path
    end
  end
  p:close()
  return found
end

-- The Lua modules of a folder of the clone (lua/, emulator/lua/): file and name.
local function modules_of(dir)
  local list = {}
  local p = assert(io.popen("cd " .. dir .. " && find . -name '*.lua' | LC_ALL=C sort"))
  for file in p:lines() do
    file = file:sub(3)
    local name = file:gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
    list[#list + 1] = { file = file, name = name }
  end
  p:close()
  return list
end

local ROCKSPECS = rockspecs()

it("the repository has a release and an scm rockspec of the library and of the emulator", function()
  for _, version in ipairs { "0.1.0-1", "scm-1" } do
    assert.is_table(ROCKSPECS[version], version)
    assert.is_string(ROCKSPECS[version]["lua-paperspace"], "lua-paperspace " .. version)
    assert.is_string(ROCKSPECS[version]["lua-paperspace-emulator"], "lua-paperspace-emulator " .. version)
  end
end)

for _, version in ipairs { "0.1.0-1", "scm-1" } do
  local specs = ROCKSPECS[version] or {}
  local LIBRARY, EMULATOR = specs["lua-paperspace"], specs["lua-paperspace-emulator"]

  describe("the rocks " .. version .. ", made into a fresh tree,", function()
    local tree, emu, made, made_ok, emulator_made, emulator_ok, paths

    -- Runs `cmd` from / with only the tree's paths (and Lua's defaults).
    local function from_root(cmd)
      return run("cd / && env -u LUA_PATH -u LUA_CPATH " .. paths .. cmd)
    end

    setup(function()
      tree = helpers.tmpdir()
      emu = emulator.start {}
      made, made_ok = run(string.format("luarocks --lua-version=5.4 make --tree %s --deps-mode=none %s",
                                        quote(tree), LIBRARY))
      emulator_made, emulator_ok = run(string.format(
        "luarocks --lua-version=5.4 make --tree %s --deps-mode=none %s", quote(tree), EMULATOR))
      paths = string.format("LUA_PATH='%s/share/lua/5.4/?.lua;%s/share/lua/5.4/?/init.lua;;' "
                            .. "LUA_CPATH='%s/lib/lua/5.4/?.so;;' TREE='%s' ", tree, tree, tree, tree)
    end)
    teardown(function()
      emu:stop()
      run("rm -rf " .. quote(tree))
      run("rm -rf src/*.o paperspace")
    end)

    it("install with luarocks make --deps-mode=none", function()
      assert.is_true(made_ok, made)
      assert.is_true(emulator_ok, emulator_made)
    end)

    it("give a library that works from /, its core from the tree", function()
      assert.is_true(made_ok, made)
      local script = [[
        local p = require "paperspace"
        assert(package.searchpath("paperspace.core", package.cpath):find(os.getenv("TREE"), 1, true))
        local c = p.new { base_url = os.getenv("URL"), api_key = os.getenv("KEY") }
        local s = assert(c:get_session())
        local m = assert(c:team(s.team.id):members())
        print(s.team.id, #m, p._VERSION)
      ]]
      local out, ok = from_root(string.format("URL='%s' KEY='%s' lua5.4 -e %s", emu.url, emu.api_key,
                                              quote(script)))
      assert.is_true(ok, out)
      assert.matches("^team%-1\t5\t%d+%.%d+%.%d+\n$", out)
    end)

    it("install every Lua module of lua/, each of which loads from the tree", function()
      assert.is_true(made_ok, made)
      local missing, names = {}, {}
      for _, m in ipairs(modules_of("lua")) do
        local f = io.open(tree .. "/share/lua/5.4/" .. m.file)
        if f then f:close() else missing[#missing + 1] = m.file end
        -- nginx's own module is there only inside nginx (spec/openresty_spec.lua).
        if m.name ~= "paperspace.hosts.ngx" then names[#names + 1] = m.name end
      end
      assert.same({}, missing)
      assert.is_true(#names > 15)
      local script = [[
        local tree = os.getenv("TREE")
        for _, name in ipairs(arg) do
          require(name)
          local file = package.searchpath(name, package.path)
          assert(file and file:sub(1, #tree) == tree, name .. " is not the tree's: " .. tostring(file))
        end
        print("loaded " .. #arg)
      ]]
      local out, ok = from_root("lua5.4 -e " .. quote(script) .. " /dev/null " .. table.concat(names, " "))
      assert.is_true(ok, out)
      assert.equal("loaded " .. #names .. "\n", out)
    end)

    it("install the paperspace command, which starts from the tree", function()
      assert.is_true(made_ok, made)
      local out, ok = from_root(quote(tree .. "/bin/paperspace") .. " --version")
      assert.is_true(ok, out)
      assert.matches("%d+%.%d+%.%d+", out)
      out, ok = from_root(string.format("PAPERSPACE_API_URL='%s' PAPERSPACE_API_KEY='%s' %s whoami", emu.url,
                                        emu.api_key, quote(tree .. "/bin/paperspace")))
      assert.is_true(ok, out)
      assert.matches("team  team-1  Acme", out, 1, true)
    end)

    it("keep the emulator out of the library's rock", function()
      assert.is_true(made_ok, made)
      -- Every file the rock installed, as LuaRocks lists them.
      local manifest = helpers.read(string.format("%s/lib/luarocks/rocks-5.4/lua-paperspace/%s/rock_manifest",
                                                  tree, version))
      assert.is_string(manifest)
      local env = {}
      local chunk = assert((loadstring or load)(manifest, "=rock_manifest", "t", env))
      if setfenv then setfenv(chunk, env) end
      chunk()
      local files = env.rock_manifest
      assert.is_string(files.bin.paperspace)
      assert.is_string(files.lib.paperspace["core.so"])
      assert.is_string(files.lua.paperspace["init.lua"])
      assert.is_nil(files.bin["paperspace-emulator"])
      assert.is_nil(files.lua.paperspace["emulator.lua"])
      assert.is_nil(files.lua.paperspace.emulator)
      assert.not_matches("emulator", manifest, 1, true)
    end)

    it("give the emulator's rock its modules, its command and its dependencies", function()
      assert.is_true(emulator_ok, emulator_made)
      local out, ok = run("luarocks --lua-version=5.4 show --tree " .. quote(tree) .. " lua-paperspace-emulator")
      assert.is_true(ok, out)
      local modules, want = {}, {}
      for m in out:gmatch("\n%s+(paperspace%.[%w_.]+) %(") do modules[#modules + 1] = m end
      table.sort(modules)
      for _, m in ipairs(modules_of("emulator/lua")) do want[#want + 1] = m.name end
      table.sort(want)
      assert.same({ "paperspace.emulator", "paperspace.emulator.api", "paperspace.emulator.app",
                    "paperspace.emulator.faults", "paperspace.emulator.http" }, want)
      assert.same(want, modules)
      local deps = assert(out:match("\nDepends on:\n(.-)\n\n") or out:match("\nDepends on:\n(.*)$"), out)
      assert.matches("luasocket >= 3", deps, 1, true)
      assert.matches("\n?%s*lua%-paperspace[%s(]", deps)
      local _, has_bin = run("test -x " .. quote(tree .. "/bin/paperspace-emulator"))
      assert.is_true(has_bin)
      -- Its modules load from the tree, from /.
      local script = [[
        local e = require("paperspace.emulator").start {}
        local file = package.searchpath("paperspace.emulator", package.path)
        local c = require("paperspace").new { base_url = e.url, api_key = e.api_key }
        print(file:sub(1, #os.getenv("TREE")) == os.getenv("TREE"), assert(c:get_session()).team.id)
        c:close()
        e:stop()
      ]]
      out, ok = from_root("lua5.4 -e " .. quote(script))
      assert.is_true(ok, out)
      assert.equal("true\tteam-1\n", out)
    end)

    it("give a paperspace-emulator command that starts and runs a script from the tree", function()
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
end
