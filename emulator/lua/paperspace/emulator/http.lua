--- HTTP/1.1 server core of the Paperspace API emulator.
--
-- One `socket.select` loop drives every connection: sockets are non-blocking,
-- connections are kept alive and answer one request at a time (no client of
-- the API pipelines: bytes sent before an answer close the connection after
-- it), responses can be delayed with timers and large bodies are streamed as
-- the peer drains them.
-- The server knows nothing about the API; it hands each complete request to an
-- application object (`app:handle(conn, req)`), which answers through
-- `server:respond`, `server:deliver` or `server:deliver_later`.
--
-- Pure Lua 5.1-5.4 / LuaJIT over LuaSocket.
-- @module paperspace.emulator.http

local socket = require("socket")

local byte, find, format, gmatch, gsub, lower, match, rep, sub =
  string.byte, string.find, string.format, string.gmatch, string.gsub,
  string.lower, string.match, string.rep, string.sub
local concat = table.concat
local floor = math.floor
local gettime, select_sockets = socket.gettime, socket.select
local pcall, tostring = pcall, tostring

local M = {}

-- LuaSocket buffers 8 KiB internally; asking for that much per call drains
-- whatever the kernel holds without extra copies.
local READ_SIZE = 8192
local MAX_HEAD = 64 * 1024
local DEFAULT_MAX_BODY = 16 * 1024 * 1024
-- select() only watches descriptors below FD_SETSIZE.
local FD_SETSIZE = 1024
local DEFAULT_MAX_CONNECTIONS = 1000

--- Reason phrases for the status codes the emulator is likely to send.
M.reasons = {
  [100] = "Continue", [200] = "OK", [201] = "Created", [202] = "Accepted",
  [204] = "No Content", [301] = "Moved Permanently", [302] = "Found",
  [303] = "See Other", [304] = "Not Modified", [307] = "Temporary Redirect",
  [308] = "Permanent Redirect", [400] = "Bad Request", [401] = "Unauthorized",
  [403] = "Forbidden", [404] = "Not Found", [405] = "Method Not Allowed",
  [408] = "Request Timeout", [409] = "Conflict", [411] = "Length Required",
  [413] = "Payload Too Large", [415] = "Unsupported Media Type",
  [422] = "Unprocessable Entity", [429] = "Too Many Requests",
  [431] = "Request Header Fields Too Large", [500] = "Internal Server Error",
  [501] = "Not Implemented", [502] = "Bad Gateway", [503] = "Service Unavailable",
  [504] = "Gateway Timeout",
}
local reasons = M.reasons

-- Status lines are built once per code instead of once per response.
local status_lines = setmetatable({}, { __index = function(t, status)
  local line = "HTTP/1.1 " .. status .. " " .. (reasons[status] or "Status") .. "\r\n"
  t[status] = line
  return line
end })

--- Whether `v` is a whole number >= 0 that a double holds exactly (a
-- port, a count, a status): the one check every option of the emulator uses.
-- @param v any value
-- @treturn boolean
function M.is_count(v)
  return type(v) == "number" and v == floor(v) and v >= 0 and v < 2 ^ 53
end

---------------------------------------------------------------------------
-- Percent-decoding and query strings
---------------------------------------------------------------------------

-- "%2f", "%2F", ... -> byte, as a gsub replacement table (no closure per call).
local unhex = {}
for i = 0, 255 do
  local h = format("%02x", i)
  local c = string.char(i)
  local a, b = sub(h, 1, 1), sub(h, 2, 2)
  unhex[h] = c
  unhex[a:upper() .. b] = c
  unhex[a .. b:upper()] = c
  unhex[a:upper() .. b:upper()] = c
end

--- Percent-decode one path segment (`+` stays a plus sign).
-- Invalid escapes such as `%zz` are kept literally.
-- @tparam string s raw segment
-- @treturn string decoded segment
function M.percent_decode(s)
  if not find(s, "%", 1, true) then return s end
  return (gsub(s, "%%(%x%x)", unhex))
end
local percent_decode = M.percent_decode

--- Split a raw path on "/" and percent-decode each segment.
-- Splitting happens before decoding so `%2F` stays inside its segment.
-- @tparam string path raw path starting with "/"
-- @treturn table array of decoded segments
-- @treturn number number of segments
function M.split_path(path)
  local segs, n = {}, 0
  if byte(path, 1) ~= 47 then return segs, 0 end
  local pos = 2
  while true do
    local e = find(path, "/", pos, true)
    n = n + 1
    if not e then
      segs[n] = percent_decode(sub(path, pos))
      return segs, n
    end
    segs[n] = percent_decode(sub(path, pos, e - 1))
    pos = e + 1
  end
end

local function form_decode(s)
  if find(s, "+", 1, true) then s = gsub(s, "+", " ") end
  return percent_decode(s)
end

--- Decode an `application/x-www-form-urlencoded` query string.
-- Later duplicates win; a key without "=" maps to "".
-- @tparam ?string query raw query (without "?")
-- @treturn table name -> value
function M.parse_query(query)
  local args = {}
  if query and query ~= "" then
    for pair in gmatch(query, "[^&]+") do
      local eq = find(pair, "=", 1, true)
      if eq then
        args[form_decode(sub(pair, 1, eq - 1))] = form_decode(sub(pair, eq + 1))
      else
        args[form_decode(pair)] = ""
      end
    end
  end
  return args
end

---------------------------------------------------------------------------
-- Timers: a binary min-heap keyed by `at`
---------------------------------------------------------------------------

local function heap_push(h, e)
  local n = #h + 1
  local at = e.at
  while n > 1 do
    local p = floor(n / 2)
    local pe = h[p]
    if pe.at <= at then break end
    h[n] = pe
    n = p
  end
  h[n] = e
end

local function heap_pop(h)
  local n = #h
  local top = h[1]
  local last = h[n]
  h[n] = nil
  n = n - 1
  if n > 0 then
    local i, at = 1, last.at
    while true do
      local l = i * 2
      if l > n then break end
      local r = l + 1
      local ch = l
      if r <= n and h[r].at < h[l].at then ch = r end
      if h[ch].at >= at then break end
      h[i] = h[ch]
      i = ch
    end
    h[i] = last
  end
  return top
end

---------------------------------------------------------------------------
-- Socket sets kept dense for select(): swap-remove in O(1)
---------------------------------------------------------------------------

local function set_add(set, index, s)
  if index[s] then return end
  local n = #set + 1
  set[n] = s
  index[s] = n
end

local function set_remove(set, index, s)
  local i = index[s]
  if not i then return end
  local n = #set
  local last = set[n]
  set[i] = last
  index[last] = i
  set[n] = nil
  index[s] = nil
end

---------------------------------------------------------------------------
-- Server
---------------------------------------------------------------------------

local Server = {}
Server.__index = Server

--- Create a listening server.
-- @tparam table opts `host` (default "127.0.0.1"), `port` (0 = any free port),
--   `app` (object with `handle(app, conn, req)`), `max_body`, `max_connections`,
--   `backlog`
-- @treturn ?table server, or nil
-- @treturn ?string why it cannot listen
function M.new(opts)
  local host = opts.host or "127.0.0.1"
  local listener, err = socket.tcp()
  if not listener then return nil, "cannot make a socket: " .. tostring(err) end
  listener:setoption("reuseaddr", true)
  local ok
  ok, err = listener:bind(host, opts.port or 0)
  if not ok then
    listener:close()
    return nil, format("cannot listen on %s:%s: %s", host, tostring(opts.port or 0), tostring(err))
  end
  -- A deep backlog lets hundreds of clients connect at once without SYN retries.
  ok, err = listener:listen(opts.backlog or 1024)
  if not ok then
    listener:close()
    return nil, "cannot listen: " .. tostring(err)
  end
  listener:settimeout(0)
  local _, port = listener:getsockname()
  local self = setmetatable({
    host = host,
    port = tonumber(port),
    app = opts.app,
    listener = listener,
    max_body = opts.max_body or DEFAULT_MAX_BODY,
    max_connections = opts.max_connections or DEFAULT_MAX_CONNECTIONS,
    read_set = { listener }, read_index = { [listener] = 1 },
    write_set = {}, write_index = {},
    conns = {}, nconns = 0, next_conn_id = 0,
    timers = {},
    watchers = {},
    stopping = false, closed = false,
  }, Server)
  return self
end

--- Watch an extra readable object (anything with `getfd`), calling
-- `callback(server, obj)` when select reports it readable.
-- @param obj object with a `getfd` method
-- @tparam function callback
function Server:watch(obj, callback)
  self.watchers[obj] = callback
  set_add(self.read_set, self.read_index, obj)
end

--- Stop watching an object added with `watch`.
-- @param obj the watched object
function Server:unwatch(obj)
  self.watchers[obj] = nil
  set_remove(self.read_set, self.read_index, obj)
end

--- Close one connection (idempotent).
-- @tparam table c connection
function Server:close_conn(c)
  if c.closed then return end
  c.closed = true
  c.busy = false
  c.wbuf = nil
  local s = c.sock
  set_remove(self.read_set, self.read_index, s)
  set_remove(self.write_set, self.write_index, s)
  self.conns[s] = nil
  self.nconns = self.nconns - 1
  s:close()
  -- Accepting may have been paused at the connection cap.
  if not self.closed and not self.read_index[self.listener] then
    set_add(self.read_set, self.read_index, self.listener)
  end
end

-- Push queued output; refill from a streamed body; close when asked to.
local FILLER = rep(",0", 32768)
local FILLER_LEN = #FILLER

local function flush(self, c)
  local sock = c.sock
  while true do
    local s = c.wbuf
    if s then
      local last, err, plast = sock:send(s, c.wpos + 1)
      if not last then
        if err == "timeout" then
          c.wpos = plast or c.wpos
          if not self.write_index[sock] then set_add(self.write_set, self.write_index, sock) end
        else
          self:close_conn(c)
        end
        return
      end
      c.wbuf = nil
      c.wpos = 0
    end
    local left = c.stream_left
    if left > 0 then
      if left >= FILLER_LEN then
        c.wbuf = FILLER
        c.stream_left = left - FILLER_LEN
      else
        c.wbuf = sub(FILLER, 1, left)
        c.stream_left = 0
      end
    elseif c.stream_tail then
      c.wbuf = c.stream_tail
      c.stream_tail = nil
    else
      break
    end
  end
  if self.write_index[sock] then set_remove(self.write_set, self.write_index, sock) end
  if c.streaming then
    c.streaming = false
    c.busy = false
  end
  if c.close_after_write then self:close_conn(c) end
end

local function queue(self, c, s)
  if c.closed then return end
  if c.wbuf then
    -- Already waiting for the socket to drain: append after what is pending.
    c.wbuf = sub(c.wbuf, c.wpos + 1) .. s
    c.wpos = 0
    return
  end
  c.wbuf = s
  c.wpos = 0
  flush(self, c)
end

--- Build a status line and headers.
-- `extra` is an optional name -> value table; its entries replace the
-- defaults of the same name (case-insensitively). A value that is a list
-- sends the header once per element.
-- @tparam table req the request (for keep-alive)
-- @tparam number status
-- @tparam ?number body_len Content-Length (nil: none)
-- @tparam ?string ctype Content-Type
-- @tparam ?string rid x-request-id
-- @tparam ?table extra additional headers
-- @tparam ?boolean closing force `Connection: close`
-- @treturn string head ending with the blank line
function M.build_head(req, status, body_len, ctype, rid, extra, closing)
  local keep = req.keep_alive and not closing
  if extra then
    local lines, n, seen = { status_lines[status] }, 1, {}
    for name, value in pairs(extra) do
      local lname = lower(name)
      seen[lname] = true
      if lname == "connection" and not keep then value = "close" end
      if type(value) == "table" then
        for _, v in ipairs(value) do
          n = n + 1
          lines[n] = name .. ": " .. tostring(v) .. "\r\n"
        end
      else
        n = n + 1
        lines[n] = name .. ": " .. tostring(value) .. "\r\n"
      end
    end
    if ctype and not seen["content-type"] then
      n = n + 1
      lines[n] = "Content-Type: " .. ctype .. "\r\n"
    end
    if body_len and not seen["content-length"] then
      n = n + 1
      lines[n] = "Content-Length: " .. body_len .. "\r\n"
    end
    if rid and not seen["x-request-id"] then
      n = n + 1
      lines[n] = "x-request-id: " .. rid .. "\r\n"
    end
    if not seen["connection"] then
      if not keep then
        n = n + 1
        lines[n] = "Connection: close\r\n"
      elseif req.version == "1.0" then
        n = n + 1
        lines[n] = "Connection: keep-alive\r\n"
      end
    end
    lines[n + 1] = "\r\n"
    return concat(lines)
  end
  local head = status_lines[status]
  if ctype then head = head .. "Content-Type: " .. ctype .. "\r\n" end
  if body_len then head = head .. "Content-Length: " .. body_len .. "\r\n" end
  if rid then head = head .. "x-request-id: " .. rid .. "\r\n" end
  if not keep then
    head = head .. "Connection: close\r\n"
  elseif req.version == "1.0" then
    head = head .. "Connection: keep-alive\r\n"
  end
  return head .. "\r\n"
end
local build_head = M.build_head

local function no_body_status(status)
  return status == 204 or status == 304 or status < 200
end

local function finish_request(self, c, req)
  if not req.keep_alive then
    c.closing = true
    c.close_after_write = true
  end
  c.busy = false
  if c.close_after_write and not c.wbuf then self:close_conn(c) end
end

--- Send a complete response for `req` on connection `c`.
-- @tparam table c connection
-- @tparam table req request being answered
-- @tparam number status
-- @tparam ?string body (nil or "" for none)
-- @tparam ?string ctype Content-Type (sent only with a body unless in `extra`)
-- @tparam ?string rid x-request-id value
-- @tparam ?table extra additional headers
function Server:respond(c, req, status, body, ctype, rid, extra)
  if c.closed then return end
  local s
  if no_body_status(status) then
    s = build_head(req, status, nil, nil, rid, extra, not req.keep_alive)
  else
    body = body or ""
    if body == "" then ctype = nil end
    s = build_head(req, status, #body, ctype, rid, extra, not req.keep_alive)
    if req.method ~= "HEAD" then s = s .. body end
  end
  if not req.keep_alive then c.close_after_write = true; c.closing = true end
  queue(self, c, s)
  finish_request(self, c, req)
end

local function huge_parts(n)
  -- A valid JSON array of exactly n bytes: "[0,0,...,0]" with one optional
  -- trailing space, as head .. ",0" * k .. tail.
  if n <= 0 then return "", 0, nil end
  if n == 1 then return "0", 0, nil end
  local inner = n - 2
  if inner == 0 then return "[", 0, "]" end
  local pairs_len = inner - 1
  if pairs_len % 2 == 1 then return "[0", pairs_len - 1, " ]" end
  return "[0", pairs_len, "]"
end

--- Send a response described by a table (used for scripted faults and delays).
-- Fields: `status`, `body`, `ctype`, `rid`, `headers` (extra headers),
-- `close` ("before" | "mid_body"), `huge` (stream a JSON body of that many bytes).
-- @tparam table c connection
-- @tparam table req request being answered
-- @tparam table resp response description
function Server:deliver(c, req, resp)
  if c.closed then return end
  local mode = resp.close
  if mode == "before" then
    self:close_conn(c)
    return
  end
  local status = resp.status or 200
  if resp.huge then
    local n = resp.huge
    local head, filler, tail = huge_parts(n)
    local s = build_head(req, status, n, resp.ctype or "application/json", resp.rid,
      resp.headers, not req.keep_alive)
    if not req.keep_alive then c.close_after_write = true; c.closing = true end
    if req.method == "HEAD" then
      queue(self, c, s)
      finish_request(self, c, req)
      return
    end
    c.stream_left = filler
    c.stream_tail = tail
    c.streaming = true -- stays busy until the last byte is handed to the kernel
    queue(self, c, s .. head)
    if c.closed then return end
    if not c.streaming then finish_request(self, c, req) end
    return
  end
  if mode == "mid_body" then
    local body = resp.body
    if not body or body == "" then
      body = '{"items":[' .. rep('{"name":"truncated"},', 16) .. '{"name":"end"}]}'
    end
    -- Promise the whole body, send half of it, then hang up.
    local s = build_head(req, status, #body, resp.ctype or "application/json", resp.rid,
      resp.headers, false)
    c.closing = true
    c.close_after_write = true
    queue(self, c, s .. sub(body, 1, floor(#body / 2)))
    c.busy = false
    return
  end
  self:respond(c, req, status, resp.body, resp.ctype, resp.rid, resp.headers)
end

--- Send a response after `delay` seconds without blocking other connections.
-- @tparam table c connection
-- @tparam table req request being answered
-- @tparam table resp response description (see `deliver`)
-- @tparam number delay seconds
function Server:deliver_later(c, req, resp, delay)
  heap_push(self.timers, { at = gettime() + delay, c = c, req = req, resp = resp })
end

-- Parse one request out of c.buf; nil when incomplete (or on a fatal error,
-- after answering it).
local reject_codes = { [400] = "BAD_REQUEST", [413] = "PAYLOAD_TOO_LARGE", [431] = "HEADERS_TOO_LARGE" }

local function reject(self, c, status, message)
  c.closing = true
  c.busy = true
  local body = '{"code":"' .. reject_codes[status] .. '","message":"' .. message .. '"}'
  self:respond(c, { keep_alive = false, method = "GET" }, status, body, "application/json", nil, nil)
end

local function dechunk(buf)
  local parts, n, pos = {}, 0, 1
  while true do
    local e = find(buf, "\r\n", pos, true)
    if not e then return nil end
    local size = match(buf, "^(%x+)", pos)
    if not size or #size > 8 then return false end
    local len = tonumber(size, 16)
    pos = e + 2
    if len == 0 then
      if sub(buf, pos, pos + 1) == "\r\n" then return concat(parts), pos + 2 end
      local t = find(buf, "\r\n\r\n", pos, true)
      if not t then return nil end
      return concat(parts), t + 4
    end
    if #buf < pos + len + 1 then return nil end
    if sub(buf, pos + len, pos + len + 1) ~= "\r\n" then return false end
    n = n + 1
    parts[n] = sub(buf, pos, pos + len - 1)
    pos = pos + len + 2
  end
end

-- Header lookups search the lower-cased head for "\r\nname:" and cut the
-- value out of the original head (same offsets), so most requests never
-- build a header table.
local needles = setmetatable({}, { __index = function(t, name)
  local needle = "\r\n" .. name .. ":"
  t[name] = needle
  return needle
end })

--- Value of one request header (first occurrence), or nil.
-- @tparam table req request
-- @tparam string name lower-case header name
-- @treturn ?string value without surrounding blanks
function M.header(req, name)
  local _, e = find(req.lhead, needles[name], 1, true)
  if not e then return nil end
  -- Every header line of `head` ends with CRLF.
  return match(req.head, "^[ \t]*([^\r]-)[ \t]*\r", e + 1)
end
local header = M.header

--- Parse the header lines of a raw request head into a table with
-- lower-case names (repeated headers joined with ", ").
-- @tparam string head request line and header lines, each ending with CRLF
-- @treturn table name -> value
function M.parse_headers(head)
  local headers = {}
  for name, value in gmatch(head, "\r\n([^:\r\n]+):[ \t]*([^\r\n]*)") do
    name = lower(name)
    value = match(value, "^(.-)[ \t]*$")
    local old = headers[name]
    if old then value = old .. ", " .. value end
    headers[name] = value
  end
  return headers
end
local parse_headers = M.parse_headers

-- `req.headers` is built on first use only.
local request_mt = { __index = function(req, k)
  if k == "headers" then
    local h = parse_headers(req.head)
    req.headers = h
    return h
  end
end }

local function parse_request(self, c)
  local buf = c.buf
  local req = c.pending
  if not req then
    if buf == "" then return nil end
    local b1 = byte(buf, 1)
    if b1 == 13 or b1 == 10 then
      -- Empty lines before a request line are ignored (RFC 9112, 2.2).
      local s = find(buf, "[^\r\n]")
      if not s then c.buf = "" return nil end
      buf = sub(buf, s)
      c.buf = buf
    end
    -- A request line starts with a method; anything else (a TLS handshake
    -- from an https:// client, say) is answered at once, as HTTP servers do,
    -- rather than waited on until the client times out.
    local b = byte(buf, 1)
    if b < 65 or b > 90 then reject(self, c, 400, "Malformed request line") return nil end
    local e = find(buf, "\r\n\r\n", 1, true)
    if not e then
      if #buf > MAX_HEAD then reject(self, c, 431, "Request headers too large") end
      return nil
    end
    if e > MAX_HEAD then reject(self, c, 431, "Request headers too large") return nil end
    local method, target, version = match(buf, "^(%u+) (%S+) HTTP/(%d%.%d)\r\n")
    if not method then reject(self, c, 400, "Malformed request line") return nil end
    local head = sub(buf, 1, e + 1)
    req = setmetatable({
      method = method, target = target, version = version,
      head = head, lhead = lower(head), conn_id = c.id,
      chunked = false, length = false,
    }, request_mt)
    local conn_hdr = header(req, "connection")
    if version == "1.1" then
      req.keep_alive = not (conn_hdr and find(lower(conn_hdr), "close", 1, true))
    else
      req.keep_alive = conn_hdr and find(lower(conn_hdr), "keep-alive", 1, true) and true or false
    end
    -- Absolute-form targets (proxies) carry the path after the authority.
    if byte(target, 1) ~= 47 then
      local p = match(target, "^%a[%w+.-]*://[^/?]*(.*)$")
      if not p then reject(self, c, 400, "Malformed request target") return nil end
      target = (p == "" or byte(p, 1) == 63) and ("/" .. p) or p
    end
    local path, query = target, nil
    local q = find(target, "?", 1, true)
    if q then
      path = sub(target, 1, q - 1)
      query = sub(target, q + 1)
    end
    local hash = find(path, "#", 1, true)
    if hash then path = sub(path, 1, hash - 1) end
    req.path, req.query = path, query
    local te = header(req, "transfer-encoding")
    if te and find(lower(te), "chunked", 1, true) then
      req.chunked = true
    else
      local cl = header(req, "content-length")
      if cl then
        if not match(cl, "^%d+$") then reject(self, c, 400, "Invalid Content-Length") return nil end
        local n = tonumber(cl)
        if n > self.max_body then reject(self, c, 413, "Request body too large") return nil end
        req.length = n
      end
    end
    buf = sub(buf, e + 4)
    c.buf = buf
    c.pending = req
  end
  if req.chunked then
    local body, nxt = dechunk(buf)
    if body == nil then
      if #buf > self.max_body then reject(self, c, 413, "Request body too large") return nil end
      return nil
    end
    if body == false then reject(self, c, 400, "Malformed chunked body") return nil end
    req.body = body
    c.buf = sub(buf, nxt)
  else
    local n = req.length
    if not n or n == 0 then
      req.body = ""
    else
      local have = #buf
      if have < n then return nil end
      if have == n then
        req.body = buf
        c.buf = ""
      else
        req.body = sub(buf, 1, n)
        c.buf = sub(buf, n + 1)
      end
    end
  end
  c.pending = nil
  if c.buf ~= "" then
    -- The next request before this one's answer: answer this one and close.
    c.buf = ""
    req.keep_alive = false
  end
  return req
end

local function report(err)
  io.stderr:write("paperspace-emulator: ", tostring(err), "\n")
end

--- Dispatch the request buffered on `c` once it is complete.
-- @tparam table c connection
function Server:process(c)
  if c.closing or c.closed then return end
  if c.busy then
    -- Bytes before the answer to the request in flight: it is answered, then
    -- the connection closes (whether its head is already sent or not).
    if c.buf ~= "" then
      c.buf = ""
      c.req.keep_alive = false
      c.close_after_write = true
    end
  else
    local req = parse_request(self, c)
    if req then
      c.busy = true
      c.req = req
      local app = self.app
      local ok, err = pcall(app.handle, app, c, req)
      if not ok then
        report(err)
        if c.busy and not c.closed then
          self:respond(c, req, 500, '{"code":"INTERNAL","message":"emulator error"}',
            "application/json", nil, nil)
        end
      end
    end
  end
  if c.eof and not c.busy and not c.wbuf and not c.closed then self:close_conn(c) end
end

local function on_readable(self, c)
  local sock = c.sock
  local data, err, partial = sock:receive(READ_SIZE)
  local got
  if data then
    -- A full read: more may be waiting in LuaSocket's buffer or the kernel.
    local parts, n = { data }, 1
    repeat
      data, err, partial = sock:receive(READ_SIZE)
      n = n + 1
      parts[n] = data or partial
    until not data
    got = concat(parts)
  else
    got = partial
  end
  if got and got ~= "" then
    local buf = c.buf
    if buf == "" then c.buf = got else c.buf = buf .. got end
    if #c.buf > MAX_HEAD + self.max_body then
      self:close_conn(c)
      return
    end
  end
  if err ~= "timeout" then
    -- Peer closed (or reset): answer what is complete, then drop it.
    c.eof = true
    set_remove(self.read_set, self.read_index, sock)
  end
  self:process(c)
end

local function accept_all(self)
  local listener = self.listener
  while true do
    if self.nconns >= self.max_connections then
      set_remove(self.read_set, self.read_index, listener)
      return
    end
    local s, err = listener:accept()
    if not s then
      if err ~= "timeout" then
        -- Out of descriptors (or similar): retry a little later instead of
        -- spinning on a listener that stays readable.
        set_remove(self.read_set, self.read_index, listener)
        self.accept_retry_at = gettime() + 0.1
      end
      return
    end
    if s:getfd() >= FD_SETSIZE then
      -- select() cannot watch this descriptor; refuse the connection.
      s:close()
      return
    end
    s:settimeout(0)
    -- Small responses must not wait for Nagle/delayed-ACK interplay.
    s:setoption("tcp-nodelay", true)
    local id = self.next_conn_id + 1
    self.next_conn_id = id
    local c = {
      sock = s, id = id, buf = "", wbuf = nil, wpos = 0,
      busy = false, closing = false, closed = false, eof = false,
      close_after_write = false, stream_left = 0, stream_tail = nil,
      streaming = false, pending = nil, req = nil,
    }
    self.conns[s] = c
    self.nconns = self.nconns + 1
    set_add(self.read_set, self.read_index, s)
  end
end

local function run_timers(self, now)
  local timers = self.timers
  while timers[1] and timers[1].at <= now do
    local t = heap_pop(timers)
    local c = t.c
    if not c.closed then
      local ok, err = pcall(self.deliver, self, c, t.req, t.resp)
      if not ok then
        report(err)
        self:close_conn(c)
      elseif c.eof and not c.busy and not c.wbuf and not c.closed then
        self:close_conn(c)
      end
    end
  end
end

--- Run one iteration of the event loop.
-- @tparam ?number timeout longest wait in seconds (default 1)
function Server:step(timeout)
  if self.closed then return end
  timeout = timeout or 1
  local retry = self.accept_retry_at
  if retry then
    local now = gettime()
    if now >= retry then
      self.accept_retry_at = nil
      set_add(self.read_set, self.read_index, self.listener)
    elseif retry - now < timeout then
      timeout = retry - now
    end
  end
  local timers = self.timers
  if timers[1] then
    run_timers(self, gettime())
    if timers[1] then
      local wait = timers[1].at - gettime()
      if wait < timeout then timeout = wait > 0 and wait or 0 end
    end
  end
  local readable, writable = select_sockets(self.read_set, self.write_set, timeout)
  local conns = self.conns
  for i = 1, #writable do
    local s = writable[i]
    local c = conns[s]
    if c then
      flush(self, c)
      if c.eof and not c.busy and not c.wbuf and not c.closed then self:close_conn(c) end
    end
  end
  for i = 1, #readable do
    local s = readable[i]
    local c = conns[s]
    if c then
      on_readable(self, c)
    elseif s == self.listener then
      accept_all(self)
    else
      local cb = self.watchers[s]
      if cb then cb(self, s) end
    end
  end
  if timers[1] then run_timers(self, gettime()) end
end

--- Ask `run` to return after the current iteration (pending output is
-- flushed for up to a second first).
function Server:stop()
  self.stopping = true
end

--- Close the listener and every connection.
function Server:close()
  if self.closed then return end
  self.closed = true
  set_remove(self.read_set, self.read_index, self.listener)
  self.listener:close()
  local list = {}
  for _, c in pairs(self.conns) do list[#list + 1] = c end
  for i = 1, #list do self:close_conn(list[i]) end
  self.timers = {}
end

--- Serve until `stop` is called, then close everything.
function Server:run()
  while not self.stopping and not self.closed do
    self:step(1)
  end
  -- Let answers already queued (e.g. to the shutdown request) reach the peers.
  local deadline = gettime() + 1
  while not self.closed and #self.write_set > 0 and gettime() < deadline do
    local _, writable = select_sockets({}, self.write_set, 0.05)
    for i = 1, #writable do
      local c = self.conns[writable[i]]
      if c then flush(self, c) end
    end
  end
  self:close()
end

return M
