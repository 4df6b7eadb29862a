--- Request dispatch of the Paperspace API emulator.
--
-- Routes `/_emulator/*` to the control plane and everything else through
-- recording, fault rules, latency and finally the API handlers.
-- @module paperspace.emulator.app

local cjson = require("cjson").new()
local socket = require("socket")
local http = require("paperspace.emulator.http")
local api_mod = require("paperspace.emulator.api")
local faults_mod = require("paperspace.emulator.faults")

local floor, sub, type = math.floor, string.sub, type
local encode, decode = cjson.encode, cjson.decode
local gettime = socket.gettime
local parse_headers, parse_query = http.parse_headers, http.parse_query
local encode_list, error_body = api_mod.encode_list, api_mod.error_body

local M = {}

local JSON = "application/json"
local CONTROL_PREFIX = "/_emulator/"
local CONTROL_PREFIX_LEN = #CONTROL_PREFIX
-- Shared by requests without a query string; handlers only read it.
local NO_ARGS = setmetatable({}, { __newindex = function() error("read-only", 2) end })

---------------------------------------------------------------------------
-- Options: this table owns their defaults and their checks
---------------------------------------------------------------------------

local is_count = http.is_count

-- Each check returns the value to keep, or nil and what is wrong.
local function boolean(name)
  return function(v)
    if type(v) ~= "boolean" then return nil, name .. " must be a boolean" end
    return v
  end
end

-- The options `configure` can change while the emulator runs.
local config_checks = {
  paged = boolean("paged"),
  page_size = function(v)
    if not is_count(v) or v < 1 or v > api_mod.MAX_LIMIT then
      return nil, "page_size must be an integer between 1 and " .. api_mod.MAX_LIMIT
    end
    return floor(v)
  end,
  style = function(v)
    if v ~= "spec" and v ~= "production" then return nil, 'style must be "spec" or "production"' end
    return v
  end,
  latency = function(v)
    if type(v) ~= "number" or v < 0 or v ~= v or v == math.huge then
      return nil, "latency must be a number of seconds >= 0"
    end
    return v
  end,
  api_key = function(v)
    if type(v) ~= "string" or v == "" then return nil, "api_key must be a non-empty string" end
    return v
  end,
  logged_out = boolean("logged_out"),
}

-- The options fixed when the emulator is made: where it listens, its seed.
local setup_checks = {
  host = function(v)
    if type(v) ~= "string" or v == "" then return nil, "host must be a string" end
    return v
  end,
  port = function(v)
    if not is_count(v) or v > 65535 then return nil, "port must be an integer between 0 and 65535" end
    return floor(v)
  end,
  members = function(v)
    if not is_count(v) then return nil, "members must be an integer >= 0" end
    return floor(v)
  end,
  max_records = function(v)
    if not is_count(v) or v < 1 then return nil, "max_records must be an integer >= 1" end
    return floor(v)
  end,
  secrets = function(v)
    if type(v) ~= "table" then return nil, "secrets must be a table of name = value" end
    local copy = {}
    for k, val in pairs(v) do
      if type(k) ~= "string" or k == "" or type(val) ~= "string" then
        return nil, "secrets must map non-empty names to string values"
      end
      copy[k] = val
    end
    return copy
  end,
  watch_stdin = boolean("watch_stdin"),
}

--- Names of the options `configure` accepts.
M.CONFIG_KEYS = { "api_key", "paged", "page_size", "style", "latency", "logged_out" }

--- Default values of the live options.
M.CONFIG_DEFAULTS = {
  api_key = "test-key", paged = false, page_size = 20, style = "spec",
  latency = 0, logged_out = false,
}

--- Default values of every option of `emulator.new`: the live ones, and
-- `port` 0 (the OS chooses a free port), `members` (user-1..user-N),
-- `secrets` (NAME = value), `max_records` (the request log's cap).
M.DEFAULTS = {
  host = "127.0.0.1", port = 0, members = 5, secrets = {}, max_records = 10000, watch_stdin = false,
}
for k, v in pairs(M.CONFIG_DEFAULTS) do M.DEFAULTS[k] = v end

-- The live options in `t` and, `with_setup`, the fixed ones, checked and
-- apart; JSON null (from the control plane) counts as unset.
local function check_options(t, with_setup, ignore)
  if type(t) ~= "table" or t[1] ~= nil then return nil, "options must be an object" end
  local config, setup = {}, {}
  for k, v in pairs(t) do
    local into, check = config, config_checks[k]
    if not check and with_setup then into, check = setup, setup_checks[k] end
    if check then
      if v ~= cjson.null then
        local value, err = check(v)
        if value == nil then return nil, err end
        into[k] = value
      end
    elseif not (ignore and ignore[k]) then
      return nil, "unknown option " .. tostring(k)
    end
  end
  return config, setup
end

--- Check a partial set of live options.
-- @tparam table t options (only keys of `CONFIG_KEYS`)
-- @treturn ?table normalized copy, or nil
-- @treturn ?string error message
function M.check_config(t)
  local config, err = check_options(t, false)
  if not config then return nil, err end
  return config
end

--- Check the options of `emulator.new` and fill in the defaults.
-- @tparam table t options
-- @tparam ?table ignore names of options accepted and left out (`start`'s own)
-- @treturn ?table the live options, complete, or nil
-- @treturn table|string the fixed ones, complete, or the error message
function M.check_options(t, ignore)
  local config, setup = check_options(t, true, ignore)
  if not config then return nil, setup end
  for k, v in pairs(M.DEFAULTS) do
    local into = config_checks[k] and config or setup
    if into[k] == nil then into[k] = v end
  end
  return config, setup
end

---------------------------------------------------------------------------
-- App
---------------------------------------------------------------------------

local App = {}
App.__index = App

--- Create the dispatcher.
-- @tparam table opts `config` (live options, complete), `seed`
--   (`members`, `secrets`), `max_records`
-- @treturn table app (set `app.server` before serving)
function M.new(opts)
  local self = setmetatable({
    config = opts.config,
    faults = faults_mod.new(),
    max_records = opts.max_records or 10000,
    counter = 0,
    server = nil,
  }, App)
  self.api = api_mod.new(self.config, opts.seed)
  self:clear_requests()
  return self
end

-- Records are kept as columns of strings and numbers in a ring of
-- max_records slots: far cheaper for the garbage collector than one table
-- per request. Tables are built only when the records are read.

--- Recorded API requests, oldest first.
-- @treturn table array of `{method, path, query, args, headers, body,
--   connection, time, request_id, fault}`
function App:requests()
  local out, n = {}, 0
  local cols, max, total = self.cols, self.max_records, self.rec_count
  local first = total - max + 1
  if first < 1 then first = 1 end
  for k = first, total do
    local slot = (k - 1) % max + 1
    local query = cols.query[slot] or nil
    n = n + 1
    out[n] = {
      method = cols.method[slot], path = cols.path[slot], query = query,
      args = parse_query(query), headers = parse_headers(cols.head[slot]),
      body = cols.body[slot], connection = cols.conn[slot], time = cols.time[slot],
      request_id = "req-" .. cols.n[slot], fault = cols.fault[slot] or nil,
    }
  end
  return out
end

--- Forget every recorded request.
function App:clear_requests()
  self.cols = {
    method = {}, path = {}, query = {}, head = {}, body = {}, conn = {}, time = {}, n = {}, fault = {},
  }
  self.rec_count = 0
end

--- Add a fault rule.
-- @tparam table rule see `paperspace.emulator.faults`
-- @treturn ?number rule id
-- @treturn ?string error message
function App:add_fault(rule)
  return self.faults:add(rule)
end

--- Back to the seed state: members, secrets, records and faults (live
-- options are kept).
function App:reset()
  self.api:reset()
  self.faults:clear()
  self:clear_requests()
end

--- Change live options.
-- @tparam table t partial options
-- @treturn ?table the complete options after the change
-- @treturn ?string error message
function App:configure(t)
  local checked, err = M.check_config(t)
  if not checked then return nil, err end
  local config = self.config
  for k, v in pairs(checked) do config[k] = v end
  return config
end

local function record(self, c, req, n)
  local count = self.rec_count + 1
  self.rec_count = count
  local slot = (count - 1) % self.max_records + 1
  local cols = self.cols
  cols.method[slot] = req.method
  cols.path[slot] = req.path
  cols.query[slot] = req.query or false
  cols.head[slot] = req.head
  cols.body[slot] = req.body
  cols.conn[slot] = c.id
  cols.time[slot] = gettime()
  cols.n[slot] = n
  cols.fault[slot] = false
  return slot
end

local function merge(a, b)
  if not a then return b end
  if not b then return a end
  local out = {}
  for k, v in pairs(a) do out[k] = v end
  for k, v in pairs(b) do out[k] = v end
  return out
end

---------------------------------------------------------------------------
-- Control plane
---------------------------------------------------------------------------

local OK = '{"ok":true}'

local function body_object(req)
  local ok, obj = pcall(decode, req.body ~= "" and req.body or "{}")
  if not ok or type(obj) ~= "table" or obj[1] ~= nil then
    return nil, "request body must be a JSON object"
  end
  return obj
end

local control = {
  requests = {
    GET = function(self) return 200, encode_list(self:requests()) end,
    DELETE = function(self) self:clear_requests() return 200, OK end,
  },
  faults = {
    GET = function(self) return 200, encode_list(self.faults:describe()) end,
    POST = function(self, req)
      local rule, err = body_object(req)
      if rule then rule, err = self:add_fault(rule) end
      if not rule then return 400, error_body("BAD_REQUEST", err) end
      return 200, encode({ id = rule })
    end,
    DELETE = function(self) self.faults:clear() return 200, OK end,
  },
  reset = {
    POST = function(self) self:reset() return 200, OK end,
  },
  config = {
    GET = function(self) return 200, encode(self.config) end,
    POST = function(self, req)
      local t, err = body_object(req)
      if t then t, err = self:configure(t) end
      if not t then return 400, error_body("BAD_REQUEST", err) end
      return 200, encode(t)
    end,
  },
  state = {
    GET = function(self) return 200, self.api:state_json() end,
  },
  shutdown = {
    POST = function(self) self.shutting_down = true return 200, OK end,
  },
  health = {
    GET = function() return 200, OK end,
  },
}

local function handle_control(self, c, req, rid)
  local name = sub(req.path, CONTROL_PREFIX_LEN + 1)
  local methods = control[name]
  local status, body, extra
  if not methods then
    status, body = 404, error_body("NOT_FOUND", "Unknown control route " .. req.path)
  else
    local fn = methods[req.method]
    if fn then
      status, body = fn(self, req)
    else
      local allow = {}
      for m in pairs(methods) do allow[#allow + 1] = m end
      table.sort(allow)
      allow = table.concat(allow, ", ")
      status, body, extra = 405, error_body("METHOD_NOT_ALLOWED", "Method not allowed; use " .. allow),
        { Allow = allow }
    end
  end
  local server = self.server
  server:respond(c, req, status, body, JSON, rid, extra)
  if self.shutting_down then server:stop() end
end

---------------------------------------------------------------------------
-- Dispatch
---------------------------------------------------------------------------

--- Handle one request from the HTTP core.
-- @tparam table c connection
-- @tparam table req parsed request
function App:handle(c, req)
  local n = self.counter + 1
  self.counter = n
  local rid = "req-" .. n
  local path = req.path
  if sub(path, 1, CONTROL_PREFIX_LEN) == CONTROL_PREFIX then
    return handle_control(self, c, req, rid)
  end
  local method, query = req.method, req.query
  local args = query and parse_query(query) or NO_ARGS
  local slot = record(self, c, req, n)
  local server = self.server
  local delay = self.config.latency
  local extra
  local entry, used = self.faults:match(method, path)
  if entry then
    delay = delay + entry.delay
    if entry.pass then
      extra = entry.headers
    else
      self.cols.fault[slot] = true
      local body = entry.body
      if entry.sequence and body then body = body:gsub("{n}", tostring(used)) end
      local resp = {
        status = entry.status, body = body, ctype = entry.ctype,
        headers = entry.headers, close = entry.close, huge = entry.huge, rid = rid,
      }
      if delay > 0 then
        server:deliver_later(c, req, resp, delay)
      else
        server:deliver(c, req, resp)
      end
      return
    end
  end
  local status, body, headers = self.api:handle(req, args)
  if extra then headers = merge(headers, extra) end
  if delay > 0 then
    server:deliver_later(c, req, {
      status = status, body = body, ctype = JSON, rid = rid, headers = headers,
    }, delay)
  else
    server:respond(c, req, status, body, JSON, rid, headers)
  end
end

return M
