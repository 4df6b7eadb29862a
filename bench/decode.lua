--- Decoding a big list of members into objects: `cjson.decode` alone against
-- the library's own path, `core.decode` (the private lua-cjson instance every
-- response goes through) then `team.wrap` (which gives each member its
-- methods). No request is made.
--
--   lua5.4 bench/decode.lua file=build/bench/www/teams/big/users runs=15
--
-- Prints medians in milliseconds: `cjson_ms`, `library_ms`, `ratio`
-- (library / cjson), and `members`.

local common = require "common"
local cjson = require "cjson"
local paperspace = require "paperspace"
local core = require "paperspace.core"
local team_mod = require "paperspace.team"

local a = common.args(arg)
local runs = common.need(a, "runs")
local f = assert(io.open(common.need(a, "file"), "rb"))
local text = f:read("*a")
f:close()
local count = #cjson.decode(text)

-- A client only to make the team object; it never connects.
local client = paperspace.new { base_url = "http://127.0.0.1:9", api_key = "bench-key" }
local team = client:team("big")

local function plain()
  return cjson.decode(text)
end

local function library()
  return team_mod.wrap(team, "member", core.decode(text), true)
end

-- Each run starts from a collected heap, so one decoder does not pay for the
-- garbage of the other; the order alternates between runs.
local function timed(fn)
  collectgarbage("collect")
  local started = core.now()
  local value = fn()
  local seconds = core.now() - started
  common.check_members(value, count)
  return seconds * 1000
end

-- serve=1: a worker that answers bursts of `cjson.decode` alone, each from
-- a collected heap, for `bench/run` to time beside the list end to end.
if a.serve == 1 then
  common.serve(function(n)
    for _ = 1, n do common.check_members(plain(), count) end
  end, function() collectgarbage("collect") end)
  client:close()
  return
end

timed(plain)
timed(library)
local plain_ms, library_ms = {}, {}
for r = 1, runs do
  if r % 2 == 1 then
    plain_ms[r] = timed(plain)
    library_ms[r] = timed(library)
  else
    library_ms[r] = timed(library)
    plain_ms[r] = timed(plain)
  end
end
local p, l = common.median(plain_ms), common.median(library_ms)
common.emit("members", count)
common.emit("cjson_ms", p)
common.emit("library_ms", l)
common.emit("ratio", l / p)
client:close()
