--- Calls at a fixed latency: `get_session` made `calls` times one after
-- another, then all at once with `client:gather`, against the bundled
-- emulator answering every request after `latency` seconds.
--
--   lua5.4 bench/gather.lua calls=200 latency=0.05
--
-- Prints `sequential` (seconds), then for each max_concurrency M measured
-- `gather_M` (seconds) and `speedup_M`.

local common = require "common"
local paperspace = require "paperspace"
local core = require "paperspace.core"
local emulator = require "paperspace.emulator"

local a = common.args(arg)
local calls, latency = common.need(a, "calls"), common.need(a, "latency")

local function check_session(session, err)
  if type(session) ~= "table" or type(session.user) ~= "table" then
    error("get_session failed: " .. tostring(err), 0)
  end
end

local function measure(emu)
  local function new_client(max_concurrency)
    return paperspace.new {
      base_url = emu.url, api_key = emu.api_key, max_retries = 0, max_concurrency = max_concurrency,
    }
  end

  local client = new_client()
  for _ = 1, 3 do check_session(client:get_session()) end
  local started = core.now()
  for _ = 1, calls do check_session(client:get_session()) end
  local sequential = core.now() - started
  client:close()
  common.emit("sequential", sequential)

  local batch = {}
  for i = 1, calls do batch[i] = { "get_session" } end
  -- false: max_concurrency left unset, as most users will.
  for _, max_concurrency in ipairs { false, 32 } do
    client = new_client(max_concurrency or nil)
    local m = client:settings().max_concurrency or 8 -- unset: the documented default
    -- Warm, as the sequential client was: its connections open, its code run.
    local warm = {}
    for i = 1, math.min(m, calls) do warm[i] = batch[i] end
    client:gather(warm)
    started = core.now()
    local results, failed = client:gather(batch)
    local seconds = core.now() - started
    if failed ~= 0 or #results ~= calls then error(failed .. " of the gathered calls failed", 0) end
    for i = 1, calls do check_session(results[i][1], results[i][2]) end
    client:close()
    common.emit("gather_" .. m, seconds)
    common.emit("speedup_" .. m, sequential / seconds)
  end
end

local emu = emulator.start { latency = latency, members = 3 }
local ok, err = pcall(measure, emu)
emu:stop()
if not ok then common.fail(tostring(err)) end
