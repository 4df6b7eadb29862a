--- Team and authentication routes of the Paperspace API emulator.
--
-- Holds the in-memory state (one team, its members and secrets, the session)
-- and answers API requests with `status, body, extra_headers`. Sorted views
-- and the unpaged JSON lists are cached and rebuilt only after a change, so
-- paging through 10,000 members stays cheap.
-- @module paperspace.emulator.api

local cjson = require("cjson").new()
local socket = require("socket")
local http = require("paperspace.emulator.http")

local format, gsub, match = string.format, string.gsub, string.match
local floor = math.floor
local sort = table.sort
local encode, decode = cjson.encode, cjson.decode
local header, split_path = http.header, http.split_path

local M = {}

--- Identifier of the single team the emulator knows.
M.TEAM_ID = "team-1"

--- The team returned in the session.
M.TEAM = { id = "team-1", name = "Acme", namespace = "acme" }

--- The logged-in user returned in the session.
M.USER = {
  id = "user-1", email = "ada@example.com", firstName = "Ada",
  lastName = "Lovelace", defaultProduct = "GRADIENT", theme = "light",
}

--- Largest accepted `limit` query parameter.
M.MAX_LIMIT = 120

local function error_body(code, message)
  return encode({ code = code, message = message })
end
M.error_body = error_body

local UNAUTHORIZED = error_body("UNAUTHORIZED", "Invalid or missing API key")
local TEAM_NOT_FOUND = error_body("NOT_FOUND", "Team not found")
local MEMBER_NOT_FOUND = error_body("NOT_FOUND", "Team member not found")
local SECRET_NOT_FOUND = error_body("NOT_FOUND", "Secret not found")

-- cjson turns an empty table into "{}"; lists must stay arrays.
local function encode_list(t)
  if t[1] == nil then return "[]" end
  return encode(t)
end
M.encode_list = encode_list

--- Format a time as ISO-8601 UTC with milliseconds ("2026-11-23T09:00:00.000Z").
-- @tparam number t seconds since the epoch
-- @treturn string
function M.iso8601(t)
  -- Work in whole milliseconds so that t = base + k/1000 never rounds down.
  local total = floor(t * 1000 + 0.5)
  local s = floor(total / 1000)
  return os.date("!%Y-%m-%dT%H:%M:%S", s) .. format(".%03dZ", total - s * 1000)
end
local iso8601 = M.iso8601

---------------------------------------------------------------------------
-- Cursors: "<kind>.<orderBy>.<order>.<hex key>.<hex id>", URL-safe as is
---------------------------------------------------------------------------

local to_hex, from_hex = {}, {}
for i = 0, 255 do
  local c, h = string.char(i), format("%02x", i)
  to_hex[c] = h
  from_hex[h] = c
  from_hex[h:upper()] = c
end

local function hex(s) return (gsub(s, ".", to_hex)) end
local function unhex(s) return (gsub(s, "%x%x", from_hex)) end

-- Sort orders per listing: primary field plus a unique tie-breaker.
local function comparator(field, id)
  if field == id then
    return function(a, b) return a[field] < b[field] end
  end
  return function(a, b)
    local x, y = a[field], b[field]
    if x ~= y then return x < y end
    return a[id] < b[id]
  end
end

local LISTS = {
  members = {
    tag = "m", default = "userId", names = "userId, email",
    fields = {
      userId = { field = "userId", id = "userId", cmp = comparator("userId", "userId") },
      email = { field = "email", id = "userId", cmp = comparator("email", "userId") },
    },
  },
  secrets = {
    tag = "s", default = "name", names = "name, dtCreated",
    fields = {
      name = { field = "name", id = "name", cmp = comparator("name", "name") },
      dtCreated = { field = "dtCreated", id = "name", cmp = comparator("dtCreated", "name") },
    },
  },
}

-- First index whose key is > (p, id) (strict) or >= (p, id).
local function bound(arr, field, idf, p, id, strict)
  local lo, hi = 1, #arr + 1
  while lo < hi do
    local mid = floor((lo + hi) / 2)
    local item = arr[mid]
    local x = item[field]
    local above
    if x ~= p then
      above = x > p
    elseif strict then
      above = item[idf] > id
    else
      above = item[idf] >= id
    end
    if above then hi = mid else lo = mid + 1 end
  end
  return lo
end

---------------------------------------------------------------------------
-- State
---------------------------------------------------------------------------

local Api = {}
Api.__index = Api

--- Create the API state.
-- @tparam table config live options shared with the emulator
--   (`api_key`, `paged`, `page_size`, `style`, `logged_out`)
-- @tparam table seed `members` (count) and `secrets` (name -> value)
-- @treturn table api
function M.new(config, seed)
  local self = setmetatable({
    config = config,
    seed = seed,
    session_json = encode({ user = M.USER, team = M.TEAM }),
  }, Api)
  self:reset()
  return self
end

local function invalidate(self, kind, keep_order)
  self.json_cache[kind] = nil
  if not keep_order then self.sorted_cache[kind] = {} end
end

--- Restore the seed members and secrets.
function Api:reset()
  self.members, self.secrets = {}, {}
  self.sorted_cache = { members = {}, secrets = {} }
  self.json_cache = {}
  local members = self.members
  for i = 1, self.seed.members or 5 do
    local id = "user-" .. i
    -- user-1 is the session's user, the team's admin.
    local email = i == 1 and M.USER.email or ("user" .. i .. "@example.com")
    members[id] = { userId = id, email = email, isAdmin = i == 1, teamId = M.TEAM_ID }
  end
  -- Seeded secrets get distinct creation times in name order, so ordering
  -- by dtCreated is well defined.
  local names = {}
  for name in pairs(self.seed.secrets or {}) do names[#names + 1] = name end
  sort(names)
  local base = os.time()
  for i = 1, #names do
    local name = names[i]
    self:put_secret(name, self.seed.secrets[name], iso8601(base + (i - 1) / 1000))
  end
end

--- Store a secret (overwriting any previous one of that name).
-- @tparam string name
-- @tparam string value
-- @tparam ?string dt_created creation time (default now)
-- @treturn table the stored record
function Api:put_secret(name, value, dt_created)
  dt_created = dt_created or iso8601(socket.gettime())
  local rec = {
    name = name, value = value, dtCreated = dt_created,
    view = { name = name, dtCreated = dt_created },
  }
  self.secrets[name] = rec
  invalidate(self, "secrets")
  return rec
end

--- Items of one listing sorted by `order_by` (ascending), cached.
-- @tparam string kind "members" or "secrets"
-- @tparam string order_by field name
-- @treturn table array of records
function Api:sorted(kind, order_by)
  local cache = self.sorted_cache[kind]
  local arr = cache[order_by]
  if arr then return arr end
  arr = {}
  local n = 0
  for _, item in pairs(self[kind]) do
    n = n + 1
    arr[n] = item
  end
  sort(arr, LISTS[kind].fields[order_by].cmp)
  cache[order_by] = arr
  return arr
end

local function view_of(kind, item)
  if kind == "secrets" then return item.view end
  return item
end

--- Everything stored, secret values included (for tests).
-- @treturn table `{members = {...}, secrets = {NAME = {name, value, dtCreated}}}`
function Api:state()
  local members = {}
  local sorted = self:sorted("members", "userId")
  for i = 1, #sorted do
    local m = sorted[i]
    members[i] = { userId = m.userId, email = m.email, isAdmin = m.isAdmin, teamId = m.teamId }
  end
  local secrets = {}
  for name, rec in pairs(self.secrets) do
    secrets[name] = { name = name, value = rec.value, dtCreated = rec.dtCreated }
  end
  return { members = members, secrets = secrets }
end

--- `state()` as JSON (members always an array, secrets always an object).
-- @treturn string
function Api:state_json()
  local st = self:state()
  local secrets = next(st.secrets) and encode(st.secrets) or "{}"
  return '{"members":' .. encode_list(st.members) .. ',"secrets":' .. secrets .. '}'
end

---------------------------------------------------------------------------
-- Listing
---------------------------------------------------------------------------

local function bad_request(message)
  return 400, error_body("BAD_REQUEST", message)
end

local function list_all(self, kind)
  local json = self.json_cache[kind]
  if json then return 200, json end
  local spec = LISTS[kind]
  local arr = self:sorted(kind, spec.default)
  local items = {}
  for i = 1, #arr do items[i] = view_of(kind, arr[i]) end
  json = encode_list(items)
  self.json_cache[kind] = json
  return 200, json
end

local function list_page(self, kind, args)
  local spec = LISTS[kind]
  local limit = self.config.page_size
  local v = args.limit
  if v ~= nil then
    local n = match(v, "^%d+$") and tonumber(v)
    if not n or n < 1 or n > M.MAX_LIMIT then
      return bad_request(format("Invalid limit %q: must be an integer between 1 and %d", v, M.MAX_LIMIT))
    end
    limit = n
  end
  local order_by, order = args.orderBy, args.order
  if order_by ~= nil and not spec.fields[order_by] then
    return bad_request(format("Invalid orderBy %q: must be one of %s", order_by, spec.names))
  end
  if order ~= nil and order ~= "asc" and order ~= "desc" then
    return bad_request(format("Invalid order %q: must be asc or desc", order))
  end
  local after, cursor_key, cursor_id = args.after, nil, nil
  if after ~= nil and after ~= "" then
    local tag, ob, ord, hkey, hid = match(after, "^(%a)%.(%a+)%.(%a+)%.(%x*)%.(%x*)$")
    if not tag or tag ~= spec.tag or not spec.fields[ob] or (ord ~= "asc" and ord ~= "desc")
      or #hkey % 2 == 1 or #hid % 2 == 1 or hid == "" then
      return bad_request(format("Invalid after cursor %q", after))
    end
    if (order_by and order_by ~= ob) or (order and order ~= ord) then
      return bad_request(format("Cursor %q was issued for orderBy=%s&order=%s", after, ob, ord))
    end
    order_by, order = ob, ord
    cursor_key, cursor_id = unhex(hkey), unhex(hid)
  end
  order_by = order_by or spec.default
  order = order or "asc"
  local f = spec.fields[order_by]
  local field, idf = f.field, f.id
  local arr = self:sorted(kind, order_by)
  local n = #arr
  local items, count, last = {}, 0, nil
  local has_more
  if order == "asc" then
    local i = cursor_key and bound(arr, field, idf, cursor_key, cursor_id, true) or 1
    while i <= n and count < limit do
      last = arr[i]
      count = count + 1
      items[count] = view_of(kind, last)
      i = i + 1
    end
    has_more = i <= n
  else
    local i = cursor_key and (bound(arr, field, idf, cursor_key, cursor_id, false) - 1) or n
    while i >= 1 and count < limit do
      last = arr[i]
      count = count + 1
      items[count] = view_of(kind, last)
      i = i - 1
    end
    has_more = i >= 1
  end
  local next_page = "null"
  if has_more then
    next_page = '"' .. spec.tag .. "." .. order_by .. "." .. order .. "." ..
      hex(last[field]) .. "." .. hex(last[idf]) .. '"'
  end
  return 200, '{"items":' .. encode_list(items) .. ',"hasMore":' ..
    (has_more and "true" or "false") .. ',"nextPage":' .. next_page .. '}'
end

local function list(self, kind, args)
  if self.config.paged then return list_page(self, kind, args) end
  return list_all(self, kind)
end

---------------------------------------------------------------------------
-- Routes
---------------------------------------------------------------------------

local function decode_object(body)
  local ok, obj = pcall(decode, body)
  if not ok then return nil, "Request body must be valid JSON" end
  if type(obj) ~= "table" or obj[1] ~= nil then return nil, "Request body must be a JSON object" end
  return obj
end

local function non_empty_string(v)
  return type(v) == "string" and v ~= ""
end

local function not_allowed(allow)
  return 405, error_body("METHOD_NOT_ALLOWED", "Method not allowed; use " .. allow), { Allow = allow }
end

local function deleted(self)
  if self.config.style == "production" then return 200, "{}" end
  return 204, nil
end

local function members_route(self, method, args)
  if method ~= "GET" then return not_allowed("GET") end
  return list(self, "members", args)
end

local function member_route(self, method, user_id, body)
  if method ~= "PUT" and method ~= "DELETE" then return not_allowed("PUT, DELETE") end
  local member = self.members[user_id]
  if not member then return 404, MEMBER_NOT_FOUND end
  if method == "DELETE" then
    self.members[user_id] = nil
    invalidate(self, "members")
    return deleted(self)
  end
  local obj, err = decode_object(body)
  if not obj then return bad_request(err) end
  if type(obj.isAdmin) ~= "boolean" then return bad_request("isAdmin must be a boolean") end
  member.isAdmin = obj.isAdmin
  invalidate(self, "members", true)
  return 200, encode(member)
end

local function secrets_route(self, method, args, body)
  if method == "GET" then return list(self, "secrets", args) end
  if method ~= "POST" then return not_allowed("GET, POST") end
  local obj, err = decode_object(body)
  if not obj then return bad_request(err) end
  local name, value = obj.name, obj.value
  if not non_empty_string(name) then return bad_request("name must be a non-empty string") end
  if not non_empty_string(value) then return bad_request("value must be a non-empty string") end
  if self.secrets[name] then
    return 409, error_body("CONFLICT", "Secret '" .. name .. "' already exists")
  end
  local rec = self:put_secret(name, value)
  return self.config.style == "production" and 200 or 201, encode(rec.view)
end

local function secret_route(self, method, name, body)
  if method ~= "GET" and method ~= "PATCH" and method ~= "DELETE" then
    return not_allowed("GET, PATCH, DELETE")
  end
  local rec = self.secrets[name]
  if not rec then return 404, SECRET_NOT_FOUND end
  if method == "GET" then return 200, encode(rec.view) end
  if method == "DELETE" then
    self.secrets[name] = nil
    invalidate(self, "secrets")
    return deleted(self)
  end
  local obj, err = decode_object(body)
  if not obj then return bad_request(err) end
  if not non_empty_string(obj.value) then return bad_request("value must be a non-empty string") end
  rec.value = obj.value
  return 200, encode(rec.view)
end

local function not_found(path)
  return 404, error_body("NOT_FOUND", "No route for " .. path)
end

--- Answer one API request.
-- @tparam table req request (`method`, `path`, `head`, `body`)
-- @tparam table args decoded query parameters
-- @treturn number status
-- @treturn ?string JSON body (nil for none)
-- @treturn ?table extra response headers
function Api:handle(req, args)
  local config = self.config
  local auth = header(req, "authorization")
  if auth ~= "Bearer " .. config.api_key then
    -- Slow path: other spellings of the scheme, extra blanks.
    local token = auth and match(auth, "^[Bb][Ee][Aa][Rr][Ee][Rr]%s+(.-)%s*$")
    if token ~= config.api_key then return 401, UNAUTHORIZED end
  end
  local path, method = req.path, req.method
  local segs, n = split_path(path)
  local s1 = segs[1]
  if s1 == "auth" then
    if n == 2 and segs[2] == "session" then
      if method ~= "GET" then return not_allowed("GET") end
      if config.logged_out then return 200, "null" end
      return 200, self.session_json
    end
  elseif s1 == "teams" and (n == 3 or n == 4) and segs[2] ~= "" and segs[n] ~= "" then
    local what = segs[3]
    if what == "users" or what == "secrets" then
      local known_team = segs[2] == M.TEAM_ID
      if what == "users" then
        if n == 3 then
          if method == "GET" and not known_team then return 404, TEAM_NOT_FOUND end
          return members_route(self, method, args)
        end
        if not known_team and (method == "PUT" or method == "DELETE") then return 404, TEAM_NOT_FOUND end
        return member_route(self, method, segs[4], req.body)
      end
      if n == 3 then
        if not known_team and (method == "GET" or method == "POST") then return 404, TEAM_NOT_FOUND end
        return secrets_route(self, method, args, req.body)
      end
      if not known_team and (method == "GET" or method == "PATCH" or method == "DELETE") then
        return 404, TEAM_NOT_FOUND
      end
      return secret_route(self, method, segs[4], req.body)
    end
  end
  return not_found(path)
end

return M
