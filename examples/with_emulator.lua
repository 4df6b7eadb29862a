-- Runs scripts against the bundled emulator of the API:
--
--   lua5.4 examples/with_emulator.lua SCRIPT.lua [SCRIPT.lua ...]
--
-- starts `paperspace.emulator` on a free port of 127.0.0.1, runs each script
-- with PAPERSPACE_API_URL and PAPERSPACE_API_KEY pointing at it, and stops it.
-- Exits non-zero if any script failed. This is how `make quickstart` works.
-- To run one script of your own, with arguments, use the emulator's command
-- line instead: `paperspace-emulator run my_script.lua arg1 arg2`.

-- From a clone, find the library, its emulator and `make`'s core next to
-- this script, unless LUA_PATH and LUA_CPATH say where they are.
local here = (arg and arg[0] or ""):match("^(.*)[/\\][^/\\]*$") or "."
if not os.getenv("LUA_PATH") then
  package.path = here .. "/../lua/?.lua;" .. here .. "/../lua/?/init.lua;"
                 .. here .. "/../emulator/lua/?.lua;" .. package.path
end
if not os.getenv("LUA_CPATH") then package.cpath = here .. "/../build/?.so;" .. package.cpath end

local emulator = require "paperspace.emulator"

local function interpreter()
  local i = -1
  while arg[i - 1] do i = i - 1 end
  return arg[i] or "lua5.4"
end

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local emu = emulator.start { members = 6, paged = true, page_size = 4, style = "production" }
local env = table.concat({
  "PAPERSPACE_API_URL=" .. quote(emu.url),
  "PAPERSPACE_API_KEY=" .. quote(emu.api_key),
  "LUA_PATH=" .. quote(package.path),
  "LUA_CPATH=" .. quote(package.cpath),
}, " ")

local failed = 0
for _, script in ipairs(arg) do
  print(string.format("\n== %s (emulator at %s)", script, emu.url))
  local ok = os.execute(env .. " " .. quote(interpreter()) .. " " .. quote(script))
  if ok ~= true and ok ~= 0 then
    failed = failed + 1
    print("== " .. script .. " FAILED")
  end
end
emu:stop()
os.exit(failed == 0 and 0 or 1)
