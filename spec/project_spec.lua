-- What a newcomer and CI rely on around the code: the reference builds with
-- LDoc without a warning, both rockspecs pass `luarocks lint` and agree, the
-- per-Lua runner names each Lua and ends with the overall line, the license
-- and the changelog are there.
local helpers = require "spec.support.helpers"
local read = helpers.read
local run = helpers.run

local function load_rockspec(path)
  local env = {}
  local chunk = assert((loadstring or load)(read(path), "=" .. path, "t", env))
  if setfenv then setfenv(chunk, env) end
  chunk()
  return env
end

describe("the project", function()
  it("builds its LDoc reference with no warning (make docs)", function()
    local out, ok = run("make -s docs")
    assert.is_true(ok, out)
    assert.not_matches("warning", out:lower(), 1, true)
    assert.truthy(io.open("build/docs/index.html"), out)
    local client = read("build/docs/classes/paperspace.client.html")
    for _, name in ipairs { "get_session", "list_team_members", "create_team_secret", "gather", "settings" } do
      assert.matches(name, client, 1, true)
    end
  end)

  it("fails make docs on a broken doc comment", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(run("mkdir -p '" .. dir .. "'"))
    local f = assert(io.open(dir .. "/broken.lua", "w"))
    f:write("--- A module.\n-- @module broken\nlocal M = {}\n--- Takes x.\n-- @param y not its name\n"
            .. "function M.f(x) return x end\nreturn M\n")
    f:close()
    local out, ok = run(string.format("ldoc --fatalwarnings --testing -q -d '%s/out' '%s/broken.lua'", dir, dir))
    run("rm -rf '" .. dir .. "'")
    assert.is_false(ok, out)
    assert.matches("mismatch", out, 1, true)
  end)

  it("has a release and an scm rockspec that pass luarocks lint and build the same", function()
    local release, scm = "lua-paperspace-0.1.0-1.rockspec", "lua-paperspace-scm-1.rockspec"
    for _, r in ipairs { release, scm } do
      local out, ok = run("luarocks lint " .. r)
      assert.is_true(ok, r .. ": " .. out)
    end
    local a, b = load_rockspec(release), load_rockspec(scm)
    assert.equal("scm-1", b.version)
    assert.equal("main", b.source.branch)
    assert.equal(a.source.url, b.source.url)
    assert.same(a.dependencies, b.dependencies)
    assert.same(a.build, b.build)
    assert.equal("MIT", b.description.license)
  end)

  it("has the emulator's release and scm rockspecs, agreeing, on luasocket and the library", function()
    local release, scm = "lua-paperspace-emulator-0.1.0-1.rockspec", "lua-paperspace-emulator-scm-1.rockspec"
    for _, r in ipairs { release, scm } do
      local out, ok = run("luarocks lint " .. r)
      assert.is_true(ok, r .. ": " .. out)
    end
    local a, b = load_rockspec(release), load_rockspec(scm)
    local library = load_rockspec("lua-paperspace-0.1.0-1.rockspec")
    assert.equal("scm-1", b.version)
    assert.equal("main", b.source.branch)
    assert.equal(library.source.url, a.source.url)
    assert.equal(library.source.tag, a.source.tag)
    assert.equal(a.source.url, b.source.url)
    assert.same(a.dependencies, b.dependencies)
    assert.same(a.build, b.build)
    local deps = table.concat(a.dependencies, "\n")
    assert.matches("\nluasocket >= 3", deps)
    assert.matches("\nlua%-paperspace\n", deps .. "\n")
    assert.equal("paperspace-emulator", next(a.build.install.bin))
    assert.is_nil(library.build.install.bin["paperspace-emulator"])
  end)

  it("has an MIT LICENSE, as the rockspec says, and a changelog", function()
    local license = read("LICENSE")
    assert.matches("^MIT License", license)
    assert.matches("Copyright %(c%) %d+ the lua%-paperspace authors", license)
    assert.matches("^# Changelog", read("CHANGELOG.md"))
  end)

  it("runs the suite per Lua, one summary line each, the overall line last", function()
    local out, ok = run("scripts/test-all-luas lua5.1 luajit -- spec/messages_spec.lua")
    assert.is_true(ok, out)
    local a = tonumber(out:match("\nlua5%.1: (%d+) passed, 0 failed\n"))
    local b = tonumber(out:match("\nluajit: (%d+) passed, 0 failed\n"))
    assert.is_number(a, out)
    assert.is_number(b, out)
    assert.matches("\n" .. (a + b) .. " passed, 0 failed\n$", out)
  end)

  it("reports a Lua that is not installed as a failure", function()
    local out, ok = run("scripts/test-all-luas lua9.9 -- spec/messages_spec.lua")
    assert.is_false(ok)
    assert.matches("lua9.9: not installed", out, 1, true)
    assert.matches("\n0 passed, 0 failed\n$", out)
  end)
end)
