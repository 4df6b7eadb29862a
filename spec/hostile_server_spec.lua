-- A hostile server, played byte for byte by a raw socket: broken framing,
-- echoed secrets, control bytes. Each attack gets the right `nil, err`, and
-- the client keeps working afterwards (the server's next reply is a plain
-- JSON object).
local raw_server = require "spec.support.raw_server"
local paperspace = require "paperspace"
local core = require "paperspace.core"
local errors = require "paperspace.errors"

local KEY = "sk-hostile-0123/4567+89=="
local J = '{"user":{"id":"u1"},"team":{"id":"t1"}}'

local function client_for(srv, opts)
  local o = { base_url = srv.url, api_key = KEY, max_retries = 0, timeout = 10 }
  for k, v in pairs(opts or {}) do o[k] = v end
  return paperspace.new(o)
end

-- Runs `call(client)` against a server playing `reply`, then checks that
-- the same client still works; returns what the call returned.
local function attack(reply, call, opts)
  local srv = raw_server.start({ reply })
  local client = client_for(srv, opts)
  local ok, a, b, c = pcall(call or function(cl) return cl:get_session { raw = true } end, client)
  local after, after_err = client:get_session()
  client:close()
  srv:stop()
  assert(ok, a)
  assert.is_table(after, tostring(after_err))
  assert.equal("u1", after.user.id)
  return a, b, c
end

describe("a reply that breaks HTTP's framing is invalid_response", function()
  local cases = {
    { "a header line without a colon",
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nBrokenHeaderLine\r\nContent-Length: "
        .. #J .. "\r\n\r\n" .. J },
    { "a negative Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n" .. J },
    { "two different Content-Lengths",
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: " .. #J .. "\r\n\r\n" .. J },
    { "a chunk size that is not hexadecimal",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" .. J .. "\r\n0\r\n\r\n" },
    { "no status line", "HTTQ/1.1 200 OK\r\nContent-Length: " .. #J .. "\r\n\r\n" .. J },
    { "a status code that is not a number", "HTTP/1.1 2x0 OK\r\nContent-Length: " .. #J .. "\r\n\r\n" .. J },
    { "an unknown HTTP version", "HTTP/9.1 200 OK\r\nContent-Length: " .. #J .. "\r\n\r\n" .. J },
    { "a gzip body that is not gzip",
      "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello" },
  }
  for _, case in ipairs(cases) do
    it(case[1], function()
      local value, err = attack(case[2])
      assert.is_nil(value)
      assert.equal("invalid_response", err.kind, tostring(err))
      assert.is_false(err.retryable)
    end)
  end
end)

describe("a Content-Length the body does not bear out", function()
  local cases = {
    { "a length within max_response_bytes, and a short body", "Content-Length: 30000000" },
    { "a length past max_response_bytes", "Content-Length: 900000000000" },
  }
  for _, case in ipairs(cases) do
    it(case[1] .. " fails the call alone", function()
      local value, err = attack("HTTP/1.1 200 OK\r\n" .. case[2] .. "\r\n\r\n" .. J)
      assert.is_nil(value)
      assert.is_true(errors.is_error(err), tostring(err))
    end)
  end

  it("a length past any integer: libcurl reads the body to the connection's end", function()
    local reply = "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999999999999\r\n\r\n" .. J
    for _, opts in ipairs { {}, { max_response_bytes = math.huge } } do
      local value, err = attack(reply, nil, opts)
      assert.is_nil(err)
      assert.equal("u1", value.user.id)
    end
  end)
end)

describe("a hostile server's headers", function()
  it("a 304 is not described as a redirect", function()
    local _, err = attack("HTTP/1.1 304 Not Modified\r\nLocation: http://127.0.0.1:9/x\r\n\r\n")
    assert.equal(304, err.status)
    assert.equal("http", err.kind)
    assert.not_matches("redirect", err.message)
  end)

  it("chunked trailers do not override the response's headers", function()
    local reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Request-Id: good\r\n"
      .. "Trailer: X-Request-Id, Retry-After\r\n\r\n" .. string.format("%x", #J) .. "\r\n" .. J
      .. "\r\n0\r\nX-Request-Id: evil\r\nRetry-After: 999\r\n\r\n"
    local value, err, raw = attack(reply)
    assert.is_nil(err)
    assert.equal("u1", value.user.id)
    assert.equal("good", raw.request_id)
    assert.equal("good", raw.headers["x-request-id"])
    assert.is_nil(raw.headers["retry-after"])
  end)

  it("control bytes in a request id or a message are escaped in tostring and log lines", function()
    local lines = {}
    local reply = { status = "500 Oops",
                    headers = { "X-Request-Id: abc\rFAKE \27[31mRED\7", "Content-Type: application/json" },
                    body = '{"message":"bad\\r\\nFAKE LINE \\u001b[2J\\u0007"}' }
    local _, err = attack(reply, nil, { logger = function(line) lines[#lines + 1] = line end })
    assert.equal("server_error", err.kind)
    local text = tostring(err) .. "\n" .. table.concat(lines, "\n")
    assert.matches("abc\\rFAKE \\27[31mRED\\7", tostring(err), 1, true)
    assert.matches("bad\\r\\nFAKE LINE \\27[2J\\7", tostring(err), 1, true)
    assert.is_nil(text:find("[\r\27\7]"))
    assert.is_nil(table.concat(lines):find("[%c]"))
    assert.equal(2, #lines) -- the attack and the call after it
  end)
end)

describe("a hostile server's bodies", function()
  it("a JSON array where one secret is expected is invalid_response", function()
    local value, err = attack({ headers = { "Content-Type: application/json" }, body = '[{"name":"A"}]' },
                              function(c) return c:get_team_secret("t1", "A") end)
    assert.is_nil(value)
    assert.equal("invalid_response", err.kind)
  end)

  it("a list whose items are arrays is invalid_response", function()
    local value, err = attack({ headers = { "Content-Type: application/json" }, body = '[[1,2],[3]]' },
                              function(c) return c:list_team_secrets("t1") end)
    assert.is_nil(value)
    assert.equal("invalid_response", err.kind)
  end)
end)

describe("secrets a server echoes back", function()
  local VALUE = "tok/abc+def==\"x\\y"
  -- Percent-encoded as one path segment: all but RFC 3986's unreserved characters.
  local function percent(v)
    return (v:gsub("[^A-Za-z0-9%-%._~]", function(ch) return string.format("%%%02X", ch:byte()) end))
  end
  local function forms(v)
    local json = v:gsub('[\\"/]', { ["\\"] = "\\\\", ['"'] = '\\"', ["/"] = "\\/" })
    return { v, json, percent(v) }
  end

  local function assert_clean(text, values)
    for _, v in ipairs(values) do
      for _, f in ipairs(forms(v)) do
        assert.is_nil(text:find(f, 1, true), "leaked " .. f .. " in " .. text)
      end
    end
  end

  local function dump(v, seen)
    seen = seen or {}
    if type(v) ~= "table" then return tostring(v) end
    if seen[v] then return "" end
    seen[v] = true
    local out = {}
    for k, x in pairs(v) do out[#out + 1] = dump(k, seen) .. "=" .. dump(x, seen) end
    return "{" .. table.concat(out, ",") .. "}"
  end

  it("in every form the library sent them: messages, bodies, headers, records, logs", function()
    local lines = {}
    local echo = { status = "400 Bad Request",
                   headers = { "Content-Type: application/json",
                               "X-Echo: {{body_json}} " .. percent(VALUE) .. " " .. KEY },
                   body = '{"message":"invalid request body: {{body_json}} ' .. percent(VALUE)
                     .. '","code":"{{body_json}}","echo":{"{{body_json}}":"' .. KEY:gsub("/", "\\/") .. '"}}' }
    local srv = raw_server.start({ echo })
    local client = client_for(srv, { logger = function(line, record)
      lines[#lines + 1] = line .. dump(record)
    end })
    local value, err, raw = client:create_team_secret("t1", { name = "TOKEN", value = VALUE }, { raw = true })
    local last = client:last_response()
    local sent = srv:requests()[1].body
    client:close()
    srv:stop()
    assert.is_nil(value)
    assert.equal("bad_request", err.kind)
    assert.matches('\\/', sent, 1, true) -- the encoder wrote "/" as "\/"
    assert.matches("[REDACTED]", err.message, 1, true)
    assert_clean(tostring(err) .. dump(err) .. dump(raw) .. dump(last) .. table.concat(lines, "\n"),
                 { VALUE, KEY })
  end)

  it("scrubbing a long repetitive value from a large echo takes linear time", function()
    local value = string.rep("a", 200 * 1024 - 1) .. "b"
    local echo = { status = "400 Bad Request", headers = { "Content-Type: application/json" },
                   -- 5 echoes of the 200 KB value, then 1 MiB of "a": near misses
                   -- at every position, for a search that compares from each one
                   body = '{"message":"' .. string.rep("{{body_json}}", 5) .. string.rep("a", 1024 * 1024)
                     .. '"}' }
    local srv = raw_server.start({ echo })
    local client = client_for(srv)
    local started = core.now()
    local _, err = client:create_team_secret("t1", { name = "BIG", value = value })
    local took = core.now() - started
    client:close()
    srv:stop()
    assert.equal("bad_request", err.kind)
    local _, redacted = err.message:gsub("%[REDACTED%]", "")
    assert.equal(5, redacted)
    assert.is_true(#err.message > 1024 * 1024)
    local head = err.message:sub(1, -1024 * 1024 - 1) -- the echoes, scrubbed: short
    assert.is_true(#head < 1000)
    assert.is_nil(head:find("aaaa", 1, true))
    -- 25 s with a quadratic search; well under a second with a linear one.
    assert.is_true(took < 5, "took " .. took)
  end)
end)

describe("oversized arguments", function()
  it("an id or a name over 64 KiB is refused before sending", function()
    local srv = raw_server.start({})
    local client = client_for(srv)
    local big = string.rep("n", 64 * 1024 + 1)
    local ok, msg = pcall(client.get_team_secret, client, "t1", big)
    assert.is_false(ok)
    assert.matches("bad argument #2 to 'get_team_secret' %(name is too long %(65537 bytes, at most 65536%)%)", msg)
    ok, msg = pcall(client.list_team_secrets, client, "t1", { after = big })
    assert.is_false(ok)
    assert.matches("opts.after is too long", msg)
    assert.is_table(client:get_session())
    assert.equal(1, #srv:requests())
    client:close()
    srv:stop()
  end)
end)
