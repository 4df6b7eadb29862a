--- Sequential GETs with lua-paperspace: `client:list_team_members("team-1")`
-- on one client, which decodes each body into member objects.
--
--   lua5.4 bench/rate_client.lua base=http://127.0.0.1:PORT warmup=N [ca=cert.pem]
--     [team=big members=10000 collect=1 probe=NAME]
--
-- Then answers bursts on stdin (see `common.serve`). `team` and `members`
-- list another team; `collect=1` starts each burst from a collected heap;
-- `probe` names the request that tells nginx's log this client's protocol.

local common = require "common"
local paperspace = require "paperspace"

local a = common.args(arg)

local client = paperspace.new {
  base_url = common.need(a, "base"),
  api_key = "bench-key",
  ca_file = a.ca,
  max_retries = 0, -- a failure must show, not be hidden by a retry
}

local team, count = a.team or "team-1", a.members or 3

for _ = 1, a.warmup or 0 do
  local members, err = client:list_team_members(team)
  common.check_members(members, count, err)
end

common.serve(function(n)
  for _ = 1, n do
    local members, err = client:list_team_members(team)
    if members == nil then common.fail(tostring(err)) end
  end
end, a.collect == 1 and function() collectgarbage("collect") end or nil)

-- Tells nginx's probe log which protocol this client spoke, on which connection.
common.check_members(client:list_team_members("probe-" .. (a.probe or "client")), 3)
client:close()
