--- An nginx gate (access_by_lua) in front of an internal site: it admits a
-- request only when its `Authorization: Bearer <Paperspace API key>` has a
-- session in an allowed team (and, when asked, belongs to one of that
-- team's admins). Answers 401 without a key or with a key the API refuses,
-- 403 for a key of another team (or of a member who is not an admin), 503
-- when the API cannot answer. See the README's OpenResty section.
--
--     init_by_lua_block {
--       gate = require("paperspace_gate").new { teams = { "team-1" }, ttl = 30 }
--     }
--     location / {
--       access_by_lua_block { gate:check() }
--       proxy_pass http://127.0.0.1:9000;
--     }
--
-- Each key's answer is cached for `ttl` seconds (refusals for `refusal_ttl`),
-- per worker, under an HMAC of the key: the key itself is never a cache key,
-- never logged, and removed from the request before it is passed on.
-- Concurrent requests with the same uncached key make one API call.
--
-- The API is asked with the caller's own key, so the gate needs a client
-- per key. Those clients live in a small per-worker pool (`max_clients`,
-- least recently used first out, closed when dropped): a key seen again
-- within the keep-alive time reuses its connection, and memory and
-- connections stay bounded however many keys come by. The answer cache
-- (`max_keys`) is what keeps most requests from needing a client at all.

local paperspace = require "paperspace"
local lrucache = require "resty.lrucache"
local semaphore = require "ngx.semaphore"

local ngx = ngx -- luacheck: ignore 113 (nginx's global)

local Gate = {}
Gate.__index = Gate

local gate = {}

local function check_teams(teams)
  if type(teams) ~= "table" or #teams == 0 then
    error("paperspace_gate.new: teams must be a non-empty list of team ids", 3)
  end
  local set = {}
  for _, id in ipairs(teams) do set[tostring(id)] = true end
  return set
end

--- Makes a gate.
-- @tparam table opts `teams` (the team ids admitted), `admin` (only the
-- team's admins; false), `ttl` (seconds an admission is cached; 30),
-- `refusal_ttl` (seconds a 401/403 is cached; 5), `max_keys` (answers
-- cached per worker; 10000), `max_clients` (API clients kept per worker; 32),
-- `client` (options for `paperspace.new`, without `api_key`: `base_url`,
-- `timeout`, ...), `keep_authorization` (pass the Authorization header on; false)
function gate.new(opts)
  if type(opts) ~= "table" then error("paperspace_gate.new: opts must be a table", 2) end
  -- A gate answers quickly or not at all: 10 s an attempt, one retry.
  local client_opts = { timeout = 10 }
  for k, v in pairs(opts.client or {}) do
    if k == "api_key" then error("paperspace_gate.new: the key comes from each request", 2) end
    client_opts[k] = v
  end
  local cache, err = lrucache.new(opts.max_keys or 10000)
  if not cache then error("paperspace_gate.new: " .. tostring(err), 2) end
  return setmetatable({
    teams = check_teams(opts.teams),
    admin = opts.admin == true,
    ttl = opts.ttl or 30,
    refusal_ttl = opts.refusal_ttl or 5,
    max_clients = opts.max_clients or 32,
    keep_authorization = opts.keep_authorization == true,
    client_opts = client_opts,
    -- How long a request waits for another asking about the same key.
    wait = 2 * (tonumber(client_opts.timeout) or 10) + 5,
    cache = cache,
    clients = {}, -- hash -> { client = ..., used = time, busy = n }
    nclients = 0,
    pending = {}, -- hash -> { sema = ..., waiting = n, answer = ... } while asking
    -- Cache keys are HMACs under a per-worker secret: not reversible to the
    -- key even by someone who reads the worker's memory dump offline.
    salt = nil,
  }, Gate)
end

local function key_hash(self, key)
  if not self.salt then
    local f = io.open("/dev/urandom", "rb")
    local seed = f and f:read(32)
    if f then f:close() end
    self.salt = ngx.sha1_bin((seed or "") .. tostring({}) .. ngx.now() .. ngx.worker.pid())
  end
  return ngx.hmac_sha1(self.salt, key)
end

-- A printable prefix of the hash, for logs: enough to correlate, nothing to replay.
local function label(hash)
  return ngx.encode_base64(hash):sub(1, 8)
end

-- The client for this key: kept in a pool of max_clients, the least
-- recently used idle one closed to make room.
local function client_for(self, hash, key)
  local entry = self.clients[hash]
  if not entry then
    if self.nclients >= self.max_clients then
      local oldest, oldest_hash
      for h, e in pairs(self.clients) do
        if e.busy == 0 and (not oldest or e.used < oldest.used) then oldest, oldest_hash = e, h end
      end
      if oldest then
        self.clients[oldest_hash] = nil
        self.nclients = self.nclients - 1
        oldest.client:close()
      end
    end
    local opts = { api_key = key }
    for k, v in pairs(self.client_opts) do opts[k] = v end
    local ok, client = pcall(paperspace.new, opts)
    if not ok then return nil, client end
    entry = { client = client, busy = 0 }
    self.clients[hash] = entry
    self.nclients = self.nclients + 1
  end
  entry.used = ngx.now()
  return entry
end

-- What the API says of the key behind `client`: the answer { status =
-- 200|401|403|503, user = id, team = id }, how long it may be cached (0:
-- not at all), and the error to log, if any.
local function decide(self, client)
  local session, err = client:get_session { max_retries = 1 }
  if not session then
    if err == nil or err.kind == "authentication" then
      return { status = 401 }, self.refusal_ttl -- no session, or a key the API refuses
    end
    return { status = 503 }, 0, err -- the API could not say: ask again next time
  end
  local team_id = tostring(session.team and session.team.id)
  local user_id = session.user and session.user.id
  if not self.teams[team_id] then return { status = 403 }, self.refusal_ttl end
  if self.admin then
    local members, merr = client:list_team_members(team_id, { max_retries = 1 })
    if not members then return { status = 503 }, 0, merr end
    local admin = false
    for _, m in ipairs(members) do
      if m.userId == user_id then admin = m.isAdmin == true end
    end
    if not admin then return { status = 403 }, self.refusal_ttl end
  end
  return { status = 200, user = user_id, team = team_id }, self.ttl
end

local function ask(self, hash, key)
  local entry, err = client_for(self, hash, key)
  if not entry then
    -- A key no client can be made with (holding CR or LF, say): not a key.
    ngx.log(ngx.INFO, "paperspace gate: key ", label(hash), " refused: ", tostring(err))
    return { status = 401 }, self.refusal_ttl
  end
  entry.busy = entry.busy + 1
  local ok, answer, ttl, aerr = pcall(decide, self, entry.client)
  entry.busy = entry.busy - 1
  if not ok then answer, ttl, aerr = { status = 503 }, 0, answer end
  -- The error never holds the key: the library scrubs it.
  if aerr then ngx.log(ngx.WARN, "paperspace gate: key ", label(hash), ": ", tostring(aerr)) end
  return answer, ttl
end

-- The cached answer for this key, or the API's, asked once however many
-- requests bring the same key at the same time.
local function answer_for(self, key)
  local hash = key_hash(self, key)
  local answer = self.cache:get(hash)
  if answer then return answer, hash end
  local p = self.pending[hash]
  if p then
    p.waiting = p.waiting + 1
    if p.sema:wait(self.wait) then return p.answer, hash end
    p.waiting = p.waiting - 1
    -- The request asking was ended (its client went away): ask anew.
    if self.pending[hash] == p then self.pending[hash] = nil end
    return answer_for(self, key)
  end
  p = { sema = semaphore.new(), waiting = 0 }
  self.pending[hash] = p
  local got, ttl = ask(self, hash, key)
  if ttl > 0 then self.cache:set(hash, got, ttl) end
  self.pending[hash] = nil
  p.answer = got
  if p.waiting > 0 then p.sema:post(p.waiting) end
  return got, hash
end

local function refuse(status)
  if status == 401 then ngx.header["WWW-Authenticate"] = 'Bearer realm="paperspace"' end
  return ngx.exit(status)
end

--- Admits the request or ends it with 401, 403 or 503. Call it from
-- access_by_lua. An admitted request goes on with `X-Paperspace-User` and
-- `X-Paperspace-Team` set (and no Authorization header).
function Gate:check()
  local auth = ngx.var.http_authorization
  local key = type(auth) == "string" and auth:match("^[Bb]earer +([^%s]+) *$")
  if not key then return refuse(401) end
  local answer = answer_for(self, key)
  if answer.status ~= 200 then return refuse(answer.status) end
  ngx.req.set_header("X-Paperspace-User", answer.user)
  ngx.req.set_header("X-Paperspace-Team", answer.team)
  if not self.keep_authorization then ngx.req.clear_header("Authorization") end
end

return gate
