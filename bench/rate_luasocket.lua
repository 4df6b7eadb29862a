--- Sequential GETs with LuaSocket's `socket.http` (plain HTTP) or LuaSec's
-- `ssl.https` (HTTPS), each body decoded with lua-cjson, as a user of those
-- libraries would write it. Both open a new connection for every request
-- (and over HTTPS make a new TLS handshake): they have no keep-alive.
--
--   lua5.4 bench/rate_luasocket.lua url=http://127.0.0.1:PORT/teams/team-1/users warmup=N
--     [ca=cert.pem] [nodelay=1]
--
-- With `nodelay=1`, every socket gets TCP_NODELAY (which neither library
-- sets): LuaSec writes a request in several small TLS records, and without
-- it Nagle's algorithm holds the later ones until the server's delayed ACK.
--
-- Then answers bursts on stdin (see `common.serve`).

local common = require "common"
local cjson = require "cjson"
local ltn12 = require "ltn12"
local socket = require "socket"

local a = common.args(arg)
if a.nodelay == 1 then
  -- LuaSocket and LuaSec both make their sockets with socket.tcp(), whose
  -- descriptor only exists once connected; tcp4() makes it at once (the
  -- servers here are on 127.0.0.1), so the option can be set before.
  socket.tcp = function()
    local s, err = socket.tcp4()
    if s then assert(s:setoption("tcp-nodelay", true)) end
    return s, err
  end
end
local url, ca = common.need(a, "url"), a.ca

local request
if url:match("^https:") then
  local https = require "ssl.https"
  request = function(t)
    t.cafile, t.verify, t.protocol = ca, "peer", "any"
    return https.request(t)
  end
else
  request = require("socket.http").request
end

local headers = { authorization = "Bearer bench-key", accept = "application/json" }

local function get(target)
  local chunks = {}
  local ok, status = request { url = target, headers = headers, sink = ltn12.sink.table(chunks) }
  if ok == nil or status ~= 200 then common.fail("GET " .. target .. ": " .. tostring(status)) end
  return cjson.decode(table.concat(chunks))
end

for _ = 1, a.warmup or 0 do common.check_members(get(url), 3) end

common.serve(function(n)
  for _ = 1, n do get(url) end
end)

local probe = a.nodelay == 1 and "/teams/probe-luasocket-nodelay/" or "/teams/probe-luasocket/"
common.check_members(get((url:gsub("/teams/team%-1/", probe))), 3)
