--- Sequential GETs with Lua-cURL as Debian packages it (`lua-curl`, the
-- `curl.easy_init()` / `curl.OPT_*` API, built for Lua 5.1 and 5.2): one easy
-- handle reused, so its connection stays alive; each body buffered in a
-- table and decoded with lua-cjson.
--
--   lua5.1 bench/rate_luacurl.lua url=http://127.0.0.1:PORT/teams/team-1/users warmup=N [ca=cert.pem]
--
-- Then answers bursts on stdin (see `common.serve`); prints `version` at the end.

local common = require "common"
local cjson = require "cjson"
local curl = require "curl"

local a = common.args(arg)
local url, ca = common.need(a, "url"), a.ca

local easy = curl.easy_init()
local chunks, nchunks = {}, 0
easy:setopt(curl.OPT_URL, url)
easy:setopt(curl.OPT_HTTPHEADER, { "Authorization: Bearer bench-key", "Accept: application/json" })
easy:setopt(curl.OPT_USERAGENT, "lua-curl")
easy:setopt(curl.OPT_NOSIGNAL, 1)
easy:setopt(curl.OPT_FAILONERROR, 1) -- this API has no getinfo: a 4xx/5xx must fail perform
easy:setopt(curl.OPT_WRITEFUNCTION, function(data)
  nchunks = nchunks + 1
  chunks[nchunks] = data
  return #data
end)
if ca then
  easy:setopt(curl.OPT_CAINFO, ca)
  easy:setopt(curl.OPT_SSL_VERIFYPEER, 1)
  easy:setopt(curl.OPT_SSL_VERIFYHOST, 2)
end

local function get()
  chunks, nchunks = {}, 0
  local ok, err = easy:perform()
  if not ok then common.fail("GET " .. url .. ": " .. tostring(err)) end
  return cjson.decode(table.concat(chunks, "", 1, nchunks))
end

for _ = 1, a.warmup or 0 do common.check_members(get(), 3) end

common.serve(function(n)
  for _ = 1, n do get() end
end)

common.emit("version", (curl.version():gsub(" .*", "")))
easy:setopt(curl.OPT_URL, (url:gsub("/teams/team%-1/", "/teams/probe-luacurl/")))
common.check_members(get(), 3)
