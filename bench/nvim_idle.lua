-- CPU that Neovim spends while calls wait on a slow API: a call with 0.5 s
-- of latency, started again as soon as it ends, for SECONDS, in three
-- `nvim --headless` runs: an idle editor (no client), a client on Neovim's
-- loop (paperspace.new{loop = vim.loop}: event-driven), and a client driven
-- by a 10 ms timer calling client:poll(0). Prints user+sys CPU of each.
--
--   make nvim-core && LUA_PATH='lua/?.lua;lua/?/init.lua;emulator/lua/?.lua;;' LUA_CPATH='build/?.so;;' \
--     lua5.4 bench/nvim_idle.lua [SECONDS]
local emulator = require "paperspace.emulator"

local seconds = tonumber(arg[1]) or 5
local root = assert(io.popen("pwd")):read("*l")

-- Runs inside nvim: MODE is idle, loop or poll.
local SCRIPT = [[
local uv, mode, seconds = vim.loop, os.getenv("BENCH_MODE"), tonumber(os.getenv("BENCH_SECONDS"))
local calls, client, ticker = 0, nil, nil
if mode ~= "idle" then
  local paperspace = require "paperspace"
  client = paperspace.new { loop = mode == "loop" and uv or nil }
  local function again()
    client:spawn(function() return client:get_session() end, function(s)
      if s then calls = calls + 1 end
      again()
    end)
  end
  again()
  if mode == "poll" then
    ticker = uv.new_timer()
    ticker:start(10, 10, function() client:poll(0) end)
  end
end
local start = uv.getrusage()
uv.new_timer():start(seconds * 1000, 0, function()
  local r = uv.getrusage()
  local function cpu(t) return t.utime.sec + t.utime.usec / 1e6 + t.stime.sec + t.stime.usec / 1e6 end
  io.stdout:write(string.format("%-5s %6.3f s CPU in %d s, %d calls\n", mode, cpu(r) - cpu(start),
                                seconds, calls))
  os.exit(0)
end)
]]

local script = os.tmpname()
local f = assert(io.open(script, "w"))
f:write(SCRIPT)
f:close()

local emu = emulator.start { latency = 0.5 }
for _, mode in ipairs { "idle", "loop", "poll" } do
  local cmd = string.format(
    "PAPERSPACE_API_URL=%s PAPERSPACE_API_KEY=%s BENCH_MODE=%s BENCH_SECONDS=%d timeout %d " ..
    "nvim --headless -u NONE -i NONE -n --cmd 'set rtp^=%s' " ..
    "--cmd 'lua package.cpath = \"%s/build/luajit/?.so;\" .. package.cpath' " ..
    "-c 'luafile %s' </dev/null",
    emu.url, emu.api_key, mode, seconds, seconds + 30, root, root, script)
  local p = assert(io.popen(cmd))
  io.write(p:read("*a"))
  p:close()
end
emu:stop()
os.remove(script)
