--- Writes the JSON files nginx serves, as the API's GET /teams/{id}/users
-- answers (a bare array of members), and prints the free ports it finds.
--
--   lua5.4 bench/fixtures.lua dir=build/bench/www big=10000
--   lua5.4 bench/fixtures.lua ports=2
--
-- `/teams/team-1/users`: 3 members; `/teams/big/users`: `big` members.

local common = require "common"

local a = common.args(arg)

-- Free ports on 127.0.0.1: bound to port 0 all at once (so they differ),
-- then released for nginx to take.
if a.ports then
  local socket = require "socket"
  local held = {}
  for i = 1, a.ports do
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    held[i] = s
    io.write(port, "\n")
  end
  for _, s in ipairs(held) do s:close() end
  return
end

local cjson = require "cjson"

local function members(team_id, n)
  local list = {}
  for i = 1, n do
    list[i] = {
      userId = "user-" .. i,
      email = "user" .. i .. "@example.com",
      isAdmin = i == 1,
      teamId = team_id,
    }
  end
  return cjson.encode(list)
end

local function write(path, text)
  assert(os.execute("mkdir -p '" .. path:match("^(.*)/[^/]+$") .. "'"))
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local dir = common.need(a, "dir")
write(dir .. "/teams/team-1/users", members("team-1", 3))
write(dir .. "/teams/big/users", members("big", common.need(a, "big")))
