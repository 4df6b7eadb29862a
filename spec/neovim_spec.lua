-- The library inside real Neovim (`nvim --headless`, LuaJIT, its own libuv
-- loop) against the emulator: spawned calls run from Neovim's loop with no
-- client:poll, the example plugin's commands work, :checkhealth reports.
-- Every nvim run is bounded by `timeout`: a hang fails, it does not stall.
-- spec tags: external
local helpers = require "spec.support.helpers"
local quote = helpers.quote

local REPO = assert(io.popen("pwd")):read("*l")
local CORE = "build/luajit/paperspace/core.so"
local LIMIT = 60 -- seconds an nvim run may take (valgrind and a loaded machine included)

local have_nvim = select(2, helpers.run("command -v nvim")) and
                  select(2, helpers.run("pkg-config --exists luajit"))
local describe_nvim = have_nvim and describe or pending

-- Runs nvim headless with the repository (and the example plugin) on its
-- runtimepath and the LuaJIT build of the core on package.cpath; `env`
-- adds environment variables, `args` nvim arguments. Returns the output
-- and whether nvim exited with 0 by itself within `limit` (LIMIT) seconds.
local function nvim(env, args, limit)
  local setup = string.format("lua package.path = %q .. package.path; package.cpath = %q .. package.cpath",
                              REPO .. "/lua/?.lua;" .. REPO .. "/lua/?/init.lua;",
                              REPO .. "/build/luajit/?.so;")
  local vars = {}
  for k, v in pairs(env or {}) do vars[#vars + 1] = k .. "=" .. quote(v) end
  local cmd = string.format("env -u PAPERSPACE_API_KEY -u PAPERSPACE_API_URL %s timeout -k 5 %d " ..
                            "nvim --headless -u NONE -i NONE -n --cmd %s --cmd %s %s </dev/null",
                            table.concat(vars, " "), limit or LIMIT,
                            quote("set rtp^=" .. REPO .. "," .. REPO .. "/examples/nvim"),
                            quote(setup), args)
  return helpers.run(cmd)
end

describe_nvim("in Neovim", function()
  local emu, env

  setup(function()
    -- The core for Neovim's LuaJIT (`make test` builds it; this is for a
    -- spec run on its own).
    local out, ok = helpers.run("make -s LUA_PC=luajit BUILD=build/luajit " .. CORE)
    assert(ok, out)
    emu = helpers.emulator { secrets = { DATABASE_URL = "postgres://very-secret", API_TOKEN = "tok-secret" } }
    env = { PAPERSPACE_API_URL = emu.url, PAPERSPACE_API_KEY = emu.api_key }
  end)
  teardown(function() emu:stop() end)
  before_each(function()
    emu:reset()
    emu:configure { latency = 0 }
  end)

  it("finishes a spawned call with no poll while a 10 ms timer keeps ticking", function()
    emu:configure { latency = 0.5 }
    local out, ok = nvim(env, "-c " .. quote("luafile spec/support/nvim/spawn_ticks.lua"))
    assert.is_true(ok, out)
    local spawned = tonumber(out:match("SPAWNED after ([%d.]+) s"))
    local email, ticks, elapsed = out:match("RESULT email=(%S+) ticks=(%d+) elapsed=([%d.]+)")
    assert.equal("ada@example.com", email, out)
    assert.is_true(spawned < 0.3, out) -- spawn returned at once
    assert.is_true(tonumber(elapsed) >= 0.45, out)
    assert.is_true(tonumber(ticks) > 20, out)
    assert.equal(1, #emu:requests())
  end)

  it("runs the example plugin's commands without blocking", function()
    emu:configure { latency = 0.2 }
    local out, ok = nvim(env, "-c " .. quote("luafile spec/support/nvim/plugin.lua"))
    assert.is_true(ok, out)
    assert.matches("RETURNED session=0", out, 1, true)
    assert.matches("SESSION Paperspace: ada@example.com on team Acme (team-1)", out, 1, true)
    assert.matches("BUFFER paperspace://secrets/team-1", out, 1, true)
    assert.matches("LINE # 2 secrets of team team-1", out, 1, true)
    assert.matches("LINE API_TOKEN ", out, 1, true)
    assert.matches("LINE DATABASE_URL ", out, 1, true)
    assert.matches("ERROR Paperspace: paperspace: 404", out, 1, true)
    assert.not_matches("very-secret", out, 1, true)
    assert.not_matches("tok-secret", out, 1, true)
  end)

  it("the luv example refuses to run a loop inside Neovim instead of hanging it", function()
    local out, ok = nvim(env, "-c 'luafile examples/neovim_luv.lua' -c 'qa!'", 20)
    assert.is_true(ok, out)
    assert.matches("examples/neovim_luv.lua runs its own libuv loop: in Neovim, see examples/nvim/", out, 1, true)
    assert.equal(0, #emu:requests())
  end)

  it(":checkhealth paperspace reports versions, TLS, the key's presence and the URL", function()
    local report = os.tmpname()
    local out, ok = nvim(env, "-c 'checkhealth paperspace' -c " .. quote("w! " .. report) .. " -c 'qa!'")
    local f = assert(io.open(report))
    local text = f:read("*a")
    f:close()
    assert.is_true(ok, out)
    local core = require "paperspace.core"
    assert.matches("OK: lua-paperspace " .. core.version .. " (LuaJIT", text, 1, true)
    assert.matches("OK: libcurl " .. core.curl_version, text, 1, true)
    assert.matches("OK: TLS: " .. core.ssl_version, text, 1, true)
    assert.matches("OK: API key: set", text, 1, true)
    assert.matches("base URL: " .. emu.url, text, 1, true)
    assert.not_matches(emu.api_key, text, 1, true)

    out, ok = nvim({}, "-c 'checkhealth paperspace' -c " .. quote("w! " .. report) .. " -c 'qa!'")
    f = assert(io.open(report))
    text = f:read("*a")
    f:close()
    os.remove(report)
    assert.is_true(ok, out)
    assert.matches("WARNING: API key: not set", text, 1, true)
    assert.matches("base URL: https://api.paperspace.com/v1", text, 1, true)
  end)
end)
