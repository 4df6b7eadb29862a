-- What a newcomer and CI rely on around the code: the reference builds with
-- LDoc without a warning, both rockspecs pass `luarocks lint` and agree, the
-- per-Lua runner names each Lua and ends with the overall line, the license
-- and the changelog are there.
-- spec tags: external
local helpers = require "spec.support.helpers"
local read = helpers.read
local run = helpers.run
local unpack = table.unpack or unpack -- luacheck: ignore 143

-- A rockspec of the repository, at its top or in emulator/.
local function rockspec(name)
  local f = io.open(name)
  if f then
    f:close()
    return name
  end
  return "emulator/" .. name
end

local function load_rockspec(path)
  path = rockspec(path)
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
      local out, ok = run("luarocks lint " .. rockspec(r))
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

  it("runs the files tagged SKIP_TAGS on lua5.4 only", function()
    local out, ok = run("SKIP_TAGS=external scripts/test-all-luas lua5.1 lua5.4 -- spec/bootstrap_spec.lua")
    assert.is_true(ok, out)
    assert.matches("skipped by tag: spec/bootstrap_spec.lua (external)", out, 1, true)
    assert.matches("\nlua5%.1: 0 passed, 0 failed\n", out)
    local n = tonumber(out:match("\nlua5%.4: (%d+) passed, 0 failed\n"))
    assert.is_true(n and n > 0, out)
    assert.matches("\n" .. n .. " passed, 0 failed\n$", out)
  end)

  describe("the README's layout", function()
    -- The fenced block that lists src/ and lua/paperspace/: one name a line,
    -- two spaces of indent a folder level, a folder's name ending in "/",
    -- then words about it. Returns the set of paths it names.
    local function layout()
      local readme = read("README.md")
      for block in readme:gmatch("\n```[%w]*\n(.-)\n```") do
        if block:match("^src/") and block:match("\nlua/paperspace/") then
          local named, folders = {}, {}
          for line in block:gmatch("[^\n]+") do
            local indent, name = line:match("^( *)(%S+)")
            assert(#indent % 2 == 0, "README layout: odd indent: " .. line)
            local level = #indent / 2
            assert(level == 0 or folders[level], "README layout: no folder above " .. line)
            for i = level + 1, #folders do folders[i] = nil end
            local path = table.concat(folders, "", 1, level) .. name
            named[path] = true
            if name:sub(-1) == "/" then folders[level + 1] = name end
          end
          return named
        end
      end
      error("README.md has no code block listing src/ and lua/paperspace/")
    end

    -- The files of the tree (those git tracks or would, not build output).
    local function files_under(dirs)
      local out, ok = run("git ls-files -co --exclude-standard " .. dirs .. " 2>/dev/null")
      if not ok or out == "" then
        out = assert(run("find " .. dirs .. " -type f ! -name '*.o' ! -name '*.so' | LC_ALL=C sort"))
      end
      local files = {}
      for line in out:gmatch("[^\n]+") do files[#files + 1] = line end
      return files
    end

    it("names every file of src/ and lua/paperspace/", function()
      local named, missing = layout(), {}
      local files = files_under("src lua/paperspace")
      assert.is_true(#files > 20, table.concat(files, "\n"))
      for _, f in ipairs(files) do
        if not named[f] then missing[#missing + 1] = f end
      end
      assert.same({}, missing)
    end)

    it("names no file or folder that does not exist", function()
      local gone = {}
      for path in pairs(layout()) do
        local kind = path:sub(-1) == "/" and "-d" or "-f"
        if not select(2, run("test " .. kind .. " '" .. path .. "'")) then gone[#gone + 1] = path end
      end
      table.sort(gone)
      assert.same({}, gone)
    end)
  end)
  -- The core reads one way, request -> transfer -> response -> result or
  -- error: no two files of src/ call each other, directly or round a circle.
  describe("the C core's files", function()
    local files = {}
    for name in run("ls src"):gmatch("([%w_]+)%.c") do files[#files + 1] = name end
    local defined, text = {}, {}
    for _, f in ipairs(files) do
      text[f] = read("src/" .. f .. ".c")
      -- A definition of a shared function starts a line: its type, then ps_name(.
      for line in text[f]:gmatch("[^\n]+") do
        local name = line:match("^[%a][%w_ %*]-[ %*](ps_[%w_]+)%(")
        if name and not line:match("^static") and not line:match(";%s*$") then defined[name] = f end
      end
    end
    -- calls[a][b]: a function of b.c that a.c calls
    local calls = {}
    for _, f in ipairs(files) do
      calls[f] = {}
      for name in text[f]:gmatch("(ps_[%w_]+)%s*%(") do
        local owner = defined[name]
        if owner and owner ~= f then calls[f][owner] = name end
      end
    end

    it("finds the shared functions it checks", function()
      assert.equal("request", defined.ps_request_build)
      assert.equal("raise", defined.ps_raise)
      assert.is_not_nil(calls.request.raise)
    end)

    it("form no circle", function()
      local state, path = {}, {}
      local function visit(f)
        state[f] = "open"
        path[#path + 1] = f
        for g, via in pairs(calls[f]) do
          if state[g] == "open" then
            local from = 1
            while path[from] ~= g do from = from + 1 end
            local circle = { unpack(path, from) }
            circle[#circle + 1] = g
            error("src/ files call round a circle: " .. table.concat(circle, ".c -> ") .. ".c (" .. via .. ")")
          elseif state[g] == nil then
            visit(g)
          end
        end
        path[#path] = nil
        state[f] = "done"
      end
      for _, f in ipairs(files) do
        if state[f] == nil then visit(f) end
      end
      assert.equal("done", state.errors)
      assert.is_nil(calls.errors.response)
      assert.is_not_nil(calls.response.errors)
    end)
  end)
end)
