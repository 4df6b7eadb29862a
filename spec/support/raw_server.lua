--- A scripted raw HTTP server for the specs: a child process on
-- 127.0.0.1:<ephemeral port> that answers each connection with the next
-- scripted reply, byte for byte, then closes it. Lets a spec play a hostile
-- or broken server (bad framing, echoed secrets, control bytes in headers)
-- that a well-behaved HTTP server library would refuse to send.
--
--     local raw = require "spec.support.raw_server"
--     local srv = raw.start { "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}" }
--     local client = paperspace.new { base_url = srv.url, api_key = "k" }
--     ...
--     srv:stop()
--
-- A reply is a string (sent as it is) or a table `{status = "400 Bad Request",
-- headers = {"Content-Type: application/json", ...}, body = "..."}`, sent
-- with a Content-Length and `Connection: close`. In a table's body,
-- `{{body}}` is replaced by the request's body as it came, and
-- `{{body_json}}` by the request's body escaped as the content of a JSON
-- string (how a server echoes it inside a JSON message); `repeat = n` makes
-- the body n copies of its text. Once the script is used up, every further
-- connection gets `default` (a small JSON session object unless given).
-- `srv:requests()` returns what was received: `{method, target, body}` each.

local socket = require "socket"

local raw = {}

local DEFAULT = {
  status = "200 OK",
  headers = { "Content-Type: application/json" },
  body = '{"user":{"id":"u1","email":"a@example.com"},"team":{"id":"t1"}}',
}

local function json_escape(s)
  return (s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    return string.format("\\u%04x", c:byte())
  end))
end

local function render(reply, body)
  if type(reply) == "string" then return reply end
  local text = reply.body or ""
  text = text:gsub("{{body_json}}", function() return json_escape(body) end)
  text = text:gsub("{{body}}", function() return body end)
  if reply["repeat"] then text = text:rep(reply["repeat"]) end
  local lines = { "HTTP/1.1 " .. (reply.status or "200 OK") }
  for _, h in ipairs(reply.headers or {}) do lines[#lines + 1] = h end
  lines[#lines + 1] = "Content-Length: " .. #text
  lines[#lines + 1] = "Connection: close"
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. text
end

-- Reads one request: its line, headers and a Content-Length body.
local function read_request(conn)
  local line = conn:receive("*l")
  if not line then return nil end
  local method, target = line:match("^(%S+) (%S+)")
  local length = 0
  while true do
    local h = conn:receive("*l")
    if h == nil or h == "" then break end
    local n = h:match("^[Cc]ontent%-[Ll]ength:%s*(%d+)")
    if n then length = tonumber(n) end
  end
  local body = length > 0 and conn:receive(length) or ""
  return { method = method, target = target, body = body or "" }
end

local function send_all(conn, data)
  local i = 1
  while i <= #data do
    local last, err, partial = conn:send(data, i)
    if not last then
      if err ~= "timeout" then return end
      i = (partial or i - 1) + 1
    else
      i = last + 1
    end
  end
end

-- The child: serves the script in `script_file`, writes its port to
-- `port_file` and each request to `log_file`.
local function serve(script_file, port_file, log_file)
  local script = dofile(script_file)
  local server = assert(socket.bind("127.0.0.1", 0))
  local _, port = server:getsockname()
  local f = assert(io.open(port_file .. ".tmp", "w"))
  f:write(port)
  f:close()
  assert(os.rename(port_file .. ".tmp", port_file))
  local n = 0
  while true do
    local conn = server:accept()
    if conn then
      conn:settimeout(10)
      local req = read_request(conn)
      if req then
        n = n + 1
        local log = io.open(log_file, "a")
        if log then
          log:write(string.format("{method=%q, target=%q, body=%q},\n", req.method or "",
                                  req.target or "", req.body))
          log:close()
        end
        send_all(conn, render(script.replies[n] or script.default or DEFAULT, req.body))
      end
      conn:close()
    end
  end
end

local Server = {}
Server.__index = Server

--- Starts a server playing `replies` (then `opts.default`).
-- @treturn table `url`, `port`, `requests()`, `stop()`
function raw.start(replies, opts)
  opts = opts or {}
  local helpers = require "spec.support.helpers"
  local base = os.tmpname()
  local script_file, port_file, log_file = base .. ".script", base .. ".port", base .. ".log"
  local f = assert(io.open(script_file, "w"))
  local function dump(v)
    if type(v) == "string" then return string.format("%q", v) end
    if type(v) == "number" then return tostring(v) end
    local parts = {}
    for k, x in pairs(v) do parts[#parts + 1] = "[" .. dump(k) .. "]=" .. dump(x) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  f:write("return ", dump({ replies = replies, default = opts.default }))
  f:close()
  local here = debug.getinfo(1, "S").source:sub(2)
  local cmd = string.format("%s %q serve %q %q %q >/dev/null 2>&1 & echo $!",
                            helpers.interpreter(), here, script_file, port_file, log_file)
  local p = assert(io.popen(cmd))
  local pid = tonumber(p:read("*l"))
  p:close()
  local deadline = socket.gettime() + 20
  local port
  repeat
    local pf = io.open(port_file)
    if pf then
      port = tonumber(pf:read("*a"))
      pf:close()
    end
    if not port then socket.sleep(0.02) end
  until port or socket.gettime() > deadline
  local self = setmetatable({ pid = pid, port = port, base = base, log_file = log_file,
                              files = { base, script_file, port_file, log_file } }, Server)
  if not port then
    self:stop()
    error("raw_server: the server did not start")
  end
  self.url = "http://127.0.0.1:" .. port
  return self
end

--- What the server received so far, in order.
function Server:requests()
  local f = io.open(self.log_file)
  if not f then return {} end
  local text = f:read("*a")
  f:close()
  return assert((loadstring or load)("return {" .. text .. "}"))() -- luacheck: ignore 113
end

function Server:stop()
  if self.pid then
    os.execute("kill " .. self.pid .. " 2>/dev/null")
    self.pid = nil
  end
  for _, name in ipairs(self.files) do os.remove(name) end
end

if arg and arg[1] == "serve" and tostring(arg[0]):match("raw_server%.lua$") then
  serve(arg[2], arg[3], arg[4])
end

return raw
