--- Resident memory of one client over many calls: `list_team_members`
-- against nginx, RSS read after 1,000 calls and after `calls`, each time
-- after a full garbage collection.
--
--   lua5.4 bench/memory.lua base=http://127.0.0.1:PORT calls=100000
--
-- Prints `rss_1000` and `rss_end` (KiB), `growth` (KiB), `lua_1000` and
-- `lua_end` (KiB of Lua heap), `calls` and `seconds`.

local common = require "common"
local paperspace = require "paperspace"
local core = require "paperspace.core"

local a = common.args(arg)
local calls = common.need(a, "calls")
local client = paperspace.new { base_url = common.need(a, "base"), api_key = "bench-key", max_retries = 0 }

local function call_until(n, from)
  for _ = from, n do
    local members, err = client:list_team_members("team-1")
    if members == nil then common.fail(tostring(err)) end
  end
end

local function settle()
  collectgarbage("collect")
  collectgarbage("collect")
  return common.rss_kib(), collectgarbage("count")
end

local started = core.now()
call_until(1000, 1)
local rss1, lua1 = settle()
call_until(calls, 1001)
local rss2, lua2 = settle()
local seconds = core.now() - started

common.emit("rss_1000", rss1)
common.emit("rss_end", rss2)
common.emit("growth", rss2 - rss1)
common.emit("lua_1000", lua1)
common.emit("lua_end", lua2)
common.emit("calls", calls)
common.emit("seconds", seconds)
client:close()
