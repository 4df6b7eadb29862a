--- Scriptable faults for the Paperspace API emulator.
--
-- A rule matches requests by method and path and answers the next matching
-- requests with scripted responses (errors, delays, dropped connections,
-- truncated or huge bodies, redirects) instead of, or around, the real API.
--
--    { method = "GET", path = "/auth/session", times = 2,
--      responses = { { status = 503 }, { pass = true, delay = 0.2 } } }
--
-- Rule fields: `method` (optional), `path` (exact raw path, or a Lua pattern
-- when `match = "pattern"`; omitted = any path), `times` (matching requests
-- to answer; default: one per listed response; 0 = forever, cycling the
-- list), `responses` (a list, or one response; `response` is an alias; if
-- neither is given the rule's own fields describe the response).
--
-- Response fields: `status`, `headers` (name -> value, or name -> list of
-- values: the header is sent once per value), `body` (string, or table
-- encoded as JSON), `delay` (seconds), `close = "before" | "mid_body"`,
-- `html_502 = true`, `huge = N` (bytes), `redirect = URL`, `pass = true`,
-- `sequence = true` (every `{n}` in the body becomes the number of requests
-- the rule has answered, 1, 2, ...: a page whose cursor is new each time).
-- A response setting nothing but `delay` and/or `headers` passes through to
-- the real handler, delayed and/or with those headers added.
-- @module paperspace.emulator.faults

local cjson = require("cjson").new()
local http = require("paperspace.emulator.http")

local find, floor, format, upper = string.find, math.floor, string.format, string.upper
local null = cjson.null

local M = {}

--- Body of the 502 page an nginx reverse proxy sends when the upstream fails.
M.NGINX_502 = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n" ..
  "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n" ..
  "</body>\r\n</html>\r\n"

local error_codes = {
  [400] = "BAD_REQUEST", [401] = "UNAUTHORIZED", [403] = "FORBIDDEN",
  [404] = "NOT_FOUND", [405] = "METHOD_NOT_ALLOWED", [408] = "REQUEST_TIMEOUT",
  [409] = "CONFLICT", [413] = "PAYLOAD_TOO_LARGE", [422] = "UNPROCESSABLE_ENTITY",
  [429] = "TOO_MANY_REQUESTS", [500] = "INTERNAL_SERVER_ERROR", [501] = "NOT_IMPLEMENTED",
  [502] = "BAD_GATEWAY", [503] = "SERVICE_UNAVAILABLE", [504] = "GATEWAY_TIMEOUT",
}

local function default_body(status)
  if status < 400 then return "" end
  return cjson.encode({
    code = error_codes[status] or (status < 500 and "CLIENT_ERROR" or "SERVER_ERROR"),
    message = http.reasons[status] or "Error",
  })
end

-- JSON null (from the control plane) means "not set".
local function opt(t, k)
  local v = t[k]
  if v == null then return nil end
  return v
end

local is_count = http.is_count

local function normalize_response(r, where)
  if type(r) ~= "table" then return nil, where .. " must be a table" end
  local delay = opt(r, "delay")
  if delay ~= nil and (type(delay) ~= "number" or delay < 0 or delay ~= delay) then
    return nil, where .. ".delay must be a number >= 0"
  end
  local status = opt(r, "status")
  if status ~= nil then
    if not is_count(status) or status < 100 or status > 599 then
      return nil, where .. ".status must be an integer between 100 and 599"
    end
    status = floor(status)
  end
  local headers = opt(r, "headers")
  if headers ~= nil then
    if type(headers) ~= "table" then return nil, where .. ".headers must be a table" end
    local copy = {}
    for k, v in pairs(headers) do
      if type(k) == "string" and type(v) == "table" and v[1] ~= nil then
        local values = {}
        for i, x in ipairs(v) do
          if type(x) ~= "string" and type(x) ~= "number" then
            return nil, where .. ".headers must map names to strings or lists of strings"
          end
          values[i] = tostring(x)
        end
        copy[k] = values
      elseif type(k) ~= "string" or (type(v) ~= "string" and type(v) ~= "number") then
        return nil, where .. ".headers must map names to strings or lists of strings"
      else
        copy[k] = tostring(v)
      end
    end
    headers = next(copy) and copy or nil
  end
  local body = opt(r, "body")
  if type(body) == "table" then
    body = next(body) == nil and "{}" or cjson.encode(body)
  elseif body ~= nil and type(body) ~= "string" then
    return nil, where .. ".body must be a string or a table"
  end
  local close = opt(r, "close")
  if close ~= nil and close ~= "before" and close ~= "mid_body" then
    return nil, where .. '.close must be "before" or "mid_body"'
  end
  local huge = opt(r, "huge")
  if huge ~= nil then
    if not is_count(huge) then return nil, where .. ".huge must be an integer >= 0" end
    huge = floor(huge)
  end
  local redirect = opt(r, "redirect")
  if redirect ~= nil and type(redirect) ~= "string" then
    return nil, where .. ".redirect must be a URL string"
  end
  local html_502 = opt(r, "html_502") and true or false
  local pass = opt(r, "pass") and true or false
  local sequence = opt(r, "sequence")
  if sequence ~= nil and type(sequence) ~= "boolean" then
    return nil, where .. ".sequence must be a boolean"
  end

  local e = { delay = delay or 0, headers = headers, sequence = sequence or nil }
  if pass or not (status or body or close or huge or redirect or html_502) then
    e.pass = true
    return e
  end
  e.close = close
  e.ctype = "application/json"
  if html_502 then
    e.status = status or 502
    e.body = body or M.NGINX_502
    e.ctype = "text/html"
  elseif redirect then
    e.status = status or 302
    e.body = body or ""
    local h = headers or {}
    h.Location = redirect
    e.headers = h
  elseif huge then
    e.status = status or 200
    e.huge = huge
  else
    e.status = status or 200
    e.body = body or default_body(e.status)
  end
  return e
end

local Faults = {}
Faults.__index = Faults

--- Create an empty rule set.
-- @treturn table faults
function M.new()
  return setmetatable({ rules = {}, next_id = 0 }, Faults)
end

--- Add a rule (checked in the order added).
-- @tparam table rule see the module description
-- @treturn ?number rule id, or nil on error
-- @treturn ?string error message
function Faults:add(rule)
  if type(rule) ~= "table" then return nil, "fault rule must be a table" end
  local method = opt(rule, "method")
  if method ~= nil then
    if type(method) ~= "string" or method == "" then return nil, "method must be a string" end
    method = upper(method)
  end
  local path = opt(rule, "path")
  if path ~= nil and type(path) ~= "string" then return nil, "path must be a string" end
  local mode = opt(rule, "match")
  if mode ~= nil and mode ~= "exact" and mode ~= "pattern" then
    return nil, 'match must be "exact" or "pattern"'
  end
  local pattern = mode == "pattern"
  if pattern and path then
    local ok, err = pcall(find, "", path)
    if not ok then return nil, "invalid path pattern: " .. tostring(err) end
  end
  local src = opt(rule, "responses")
  if src == nil then src = opt(rule, "response") end
  if src == nil then src = rule end
  if type(src) ~= "table" then return nil, "responses must be a table" end
  local list, listed = src, true
  if src[1] == nil then
    if src ~= rule and next(src) == nil then return nil, "responses must not be empty" end
    list, listed = { src }, false
  end
  local entries = {}
  for i = 1, #list do
    local e, err = normalize_response(list[i], listed and format("responses[%d]", i) or "response")
    if not e then return nil, err end
    entries[i] = e
  end
  local times = opt(rule, "times")
  if times == nil then
    times = #entries
  elseif not is_count(times) then
    return nil, "times must be an integer >= 0"
  end
  local id = self.next_id + 1
  self.next_id = id
  local rules = self.rules
  rules[#rules + 1] = {
    id = id, method = method, path = path, pattern = pattern,
    times = floor(times), used = 0, responses = entries,
  }
  return id
end

--- Remove every rule.
function Faults:clear()
  self.rules = {}
end

--- Summary of the active rules.
-- @treturn table array of `{id, method, path, match, times, used, responses}`
function Faults:describe()
  local out = {}
  for i, r in ipairs(self.rules) do
    out[i] = {
      id = r.id, method = r.method, path = r.path,
      match = r.pattern and "pattern" or "exact",
      times = r.times, used = r.used, responses = #r.responses,
    }
  end
  return out
end

--- Find the scripted response for a request, consuming one use of the rule.
-- @tparam string method request method
-- @tparam string path raw request path (no query)
-- @treturn ?table normalized response entry (`pass`, `delay`, `status`,
--   `body`, `ctype`, `headers`, `close`, `huge`, `sequence`), or nil when no
--   rule matches
-- @treturn ?number how many requests the rule has answered, this one included
function Faults:match(method, path)
  local rules = self.rules
  local n = #rules
  if n == 0 then return nil end
  for i = 1, n do
    local r = rules[i]
    local p = r.path
    if (not r.method or r.method == method) and
      (not p or p == path or (r.pattern and find(path, p) ~= nil)) then
      local used = r.used + 1
      r.used = used
      local entries = r.responses
      local e = entries[(used - 1) % #entries + 1]
      if r.times > 0 and used >= r.times then table.remove(rules, i) end
      return e, used
    end
  end
  return nil
end

return M
