-- The other ways a call could wait inside nginx, measured by bench/openresty
-- against the library's own (libcurl's multi driven by an ngx.timer, each
-- call waiting on an ngx.semaphore). Prototypes for the benchmark only:
-- one operation (GET /auth/session), no retries, no error objects.
--
-- cosocket: the request written by hand on ngx.socket.tcp, with the
-- cosocket keep-alive pool; the floor of what a cosocket transport costs.
-- thread: the library's blocking call made in nginx's thread pool
-- (ngx.run_worker_thread), one client per pool thread's Lua VM.
local M = {}

local ngx = ngx -- luacheck: ignore 113 (nginx's global)

local cjson -- loaded in nginx

-- Reads a response to a GET: the status, and the body by Content-Length.
local function read_response(sock)
  local line, err = sock:receive("*l")
  if not line then return nil, err end
  local status = tonumber(line:match("^HTTP/1%.%d (%d%d%d)"))
  if not status then return nil, "bad status line" end
  local length
  while true do
    local h
    h, err = sock:receive("*l")
    if not h then return nil, err end
    if h == "" then break end
    local name, value = h:match("^([^:]+):%s*(.-)%s*$")
    if name and name:lower() == "content-length" then length = tonumber(value) end
  end
  if not length then return nil, "no Content-Length" end
  local body
  body, err = sock:receive(length)
  if not body then return nil, err end
  return status, body
end

--- GET /auth/session over a cosocket from the keep-alive pool.
function M.cosocket_session(host, port, key)
  cjson = cjson or require("cjson.safe").new()
  local sock = ngx.socket.tcp()
  sock:settimeouts(10000, 60000, 60000)
  local ok, err = sock:connect(host, port)
  if not ok then return nil, err end
  ok, err = sock:send("GET /auth/session HTTP/1.1\r\nHost: " .. host .. ":" .. port ..
                      "\r\nAuthorization: Bearer " .. key .. "\r\nAccept: application/json\r\n" ..
                      "User-Agent: lua-paperspace-bench\r\n\r\n")
  if not ok then
    sock:close()
    return nil, err
  end
  local status, body = read_response(sock)
  if not status then
    sock:close()
    return nil, body
  end
  sock:setkeepalive(60000, 256)
  if status ~= 200 then return nil, "status " .. status end
  return cjson.decode(body)
end

local thread_clients = {} -- per pool thread Lua VM and API: connections stay alive

--- Runs in nginx's thread pool: the library's blocking call.
function M.thread_session(base_url, key)
  local client = thread_clients[base_url]
  if not client then
    client = require("paperspace").new { base_url = base_url, api_key = key, max_retries = 0 }
    thread_clients[base_url] = client
  end
  local session, err = client:get_session()
  if not session then return nil, tostring(err) end
  return session.user.email
end

local clients = {} -- the library's: one per worker and API

--- The gateway's handler: one session call to API `which` made the `way` way.
function M.handle(way, which, apis)
  local api = apis[which]
  local base = "http://" .. api.host .. ":" .. api.port
  local session, email, err
  if way == "lib" then
    local c = clients[base]
    if not c then
      -- As many calls in flight as the thread pool has threads: every way
      -- is allowed the same concurrency.
      c = require("paperspace").new { base_url = base, api_key = "test-key", max_retries = 0,
                                      max_concurrency = 64 }
      clients[base] = c
    end
    session, err = c:get_session()
  elseif way == "cosocket" then
    session, err = M.cosocket_session(api.host, api.port, "test-key")
  else
    local ok
    ok, email, err = ngx.run_worker_thread("paperspace", "ngx_alternatives", "thread_session", base,
                                           "test-key")
    if not ok then email, err = nil, email end
  end
  email = email or session and session.user.email
  if not email then
    ngx.status = 502
    ngx.say(tostring(err))
    return
  end
  ngx.say(email)
end

return M
