-- Tests of paperspace.emulator over real HTTP (LuaSocket, raw sockets where
-- keep-alive or byte-level behaviour matters).
-- spec tags: children

local emulator = require("paperspace.emulator")
local socket = require("socket")
local cjson = require("cjson").new()

local DEFAULTS = { paged = false, page_size = 20, style = "spec", latency = 0, api_key = "test-key", logged_out = false }

---------------------------------------------------------------------------
-- A tiny HTTP client
---------------------------------------------------------------------------

local function connect(emu)
  local s = assert(socket.tcp())
  s:settimeout(5)
  assert(s:connect(emu.host, emu.port))
  return s
end

local function encode_request(method, path, opts)
  opts = opts or {}
  local lines = { method .. " " .. path .. " HTTP/" .. (opts.version or "1.1"), "Host: 127.0.0.1" }
  if opts.auth ~= false then
    lines[#lines + 1] = "Authorization: " .. (opts.auth or ("Bearer " .. (opts.key or "test-key")))
  end
  for k, v in pairs(opts.headers or {}) do lines[#lines + 1] = k .. ": " .. v end
  local body = opts.body
  if type(body) == "table" then body = cjson.encode(body) end
  if body and not opts.no_length then lines[#lines + 1] = "Content-Length: " .. #body end
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. (body or "")
end

local function read_response(s, method)
  local line, err = s:receive("*l")
  if not line then return nil, err end
  local r = { status = tonumber(line:match("^HTTP/1%.%d (%d%d%d)")), status_line = line, headers = {}, body = "" }
  while true do
    local h = assert(s:receive("*l"))
    if h == "" then break end
    local k, v = h:match("^([^:]+):%s*(.-)%s*$")
    r.headers[k:lower()] = v
  end
  local len = tonumber(r.headers["content-length"])
  if len and len > 0 and method ~= "HEAD" then
    local body, e, partial = s:receive(len)
    if not body then
      r.body, r.truncated, r.error = partial, true, e
      return r
    end
    r.body = body
  end
  if r.body ~= "" and (r.headers["content-type"] or ""):find("json", 1, true) then
    r.json = cjson.decode(r.body)
  end
  return r
end

local function send(s, method, path, opts)
  assert(s:send(encode_request(method, path, opts)))
  return read_response(s, method)
end

local function request(emu, method, path, opts)
  local s = connect(emu)
  local r, err = send(s, method, path, opts)
  s:close()
  return r, err
end

local function get(emu, path, opts) return request(emu, "GET", path, opts) end

local function raw_control(emu, method, path, body)
  return request(emu, method, path, { auth = false, body = body })
end

local function names_of(list, field)
  local out = {}
  for i, item in ipairs(list) do out[i] = item[field] end
  return out
end

-- Walk every page of a paged listing.
local function all_pages(emu, path, query)
  local items, pages, after = {}, 0, nil
  repeat
    local q = query or ""
    if after then q = q .. (q == "" and "" or "&") .. "after=" .. after end
    local r = get(emu, path .. (q ~= "" and ("?" .. q) or ""))
    assert.equal(200, r.status, r.body)
    pages = pages + 1
    for _, item in ipairs(r.json.items) do items[#items + 1] = item end
    if r.json.hasMore then
      assert.is_string(r.json.nextPage)
      after = r.json.nextPage
    else
      assert.equal(cjson.null, r.json.nextPage)
      after = nil
    end
  until not after or pages > 1000
  return items, pages
end

---------------------------------------------------------------------------

describe("paperspace.emulator", function()
  local emu

  lazy_setup(function()
    emu = emulator.start({ secrets = { SEEDED = "seed-value" } })
  end)

  lazy_teardown(function()
    if emu then emu:stop() end
  end)

  before_each(function()
    emu:reset()
    emu:configure(DEFAULTS)
  end)

  describe("start", function()
    it("returns a handle with the URL and key", function()
      assert.matches("^http://127%.0%.0%.1:%d+$", emu.url)
      assert.equal("test-key", emu.api_key)
      assert.equal(200, raw_control(emu, "GET", "/_emulator/health").status)
    end)

    it("raises a clear error when the child cannot start", function()
      assert.has_error(function() emulator.start({ style = "weird" }) end,
        'paperspace.emulator: could not start the emulator with ' .. emulator.interpreter() ..
        ': paperspace.emulator: style must be "spec" or "production"')
    end)

    it("raises when the port is taken", function()
      local ok, err = pcall(emulator.start, { port = emu.port })
      assert.is_false(ok)
      assert.matches("could not start the emulator", err)
      assert.matches("cannot listen", err)
    end)

    it("stops the child, and stop is idempotent", function()
      local other = emulator.start({ members = 1 })
      local r = get(other, "/teams/team-1/users")
      assert.equal(1, #r.json)
      other:stop()
      other:stop()
      local s = socket.tcp()
      s:settimeout(1)
      local ok = s:connect(other.host, other.port)
      s:close()
      assert.is_nil(ok)
      assert.has_error(function() other:requests() end, "paperspace.emulator: the emulator has been stopped")
    end)
  end)

  describe("authentication", function()
    it("rejects a missing key", function()
      local r = get(emu, "/auth/session", { auth = false })
      assert.equal(401, r.status)
      assert.same({ code = "UNAUTHORIZED", message = "Invalid or missing API key" }, r.json)
    end)

    it("rejects a wrong key", function()
      local r = get(emu, "/teams/team-1/secrets", { key = "nope" })
      assert.equal(401, r.status)
      assert.equal("UNAUTHORIZED", r.json.code)
    end)

    it("accepts the configured key, any scheme case, and a changed key", function()
      assert.equal(200, get(emu, "/auth/session", { auth = "bearer   test-key " }).status)
      emu:configure({ api_key = "other" })
      assert.equal("other", emu.api_key)
      assert.equal(401, get(emu, "/auth/session").status)
      assert.equal(200, get(emu, "/auth/session", { key = "other" }).status)
    end)

    it("sends x-request-id, Content-Type and Content-Length on every response", function()
      local a = get(emu, "/auth/session")
      local b = get(emu, "/auth/session", { auth = false })
      local na = tonumber(a.headers["x-request-id"]:match("^req%-(%d+)$"))
      local nb = tonumber(b.headers["x-request-id"]:match("^req%-(%d+)$"))
      assert.is_true(nb > na)
      assert.equal("application/json", a.headers["content-type"])
      assert.equal(#a.body, tonumber(a.headers["content-length"]))
      assert.equal(#b.body, tonumber(b.headers["content-length"]))
    end)
  end)

  describe("session", function()
    it("returns the user and team", function()
      local r = get(emu, "/auth/session")
      assert.equal(200, r.status)
      assert.same({ id = "team-1", name = "Acme", namespace = "acme" }, r.json.team)
      assert.equal("user-1", r.json.user.id)
      assert.equal("ada@example.com", r.json.user.email)
      for _, k in ipairs({ "firstName", "lastName", "defaultProduct", "theme" }) do
        assert.is_string(r.json.user[k])
      end
    end)

    it("returns null when logged out", function()
      emu:configure({ logged_out = true })
      local r = get(emu, "/auth/session")
      assert.equal(200, r.status)
      assert.equal("null", r.body)
    end)
  end)

  describe("team members", function()
    it("lists the seeded members", function()
      local r = get(emu, "/teams/team-1/users")
      assert.equal(200, r.status)
      assert.equal(5, #r.json)
      assert.same({ userId = "user-1", email = "ada@example.com", isAdmin = true, teamId = "team-1" }, r.json[1])
      assert.same({ "user-1", "user-2", "user-3", "user-4", "user-5" }, names_of(r.json, "userId"))
      for i = 2, 5 do assert.is_false(r.json[i].isAdmin) end
    end)

    it("updates admin status", function()
      local r = request(emu, "PUT", "/teams/team-1/users/user-3", { body = { isAdmin = true } })
      assert.equal(200, r.status)
      assert.same({ userId = "user-3", email = "user3@example.com", isAdmin = true, teamId = "team-1" }, r.json)
      assert.is_true(emu:state().members[3].isAdmin)
      assert.is_true(get(emu, "/teams/team-1/users").json[3].isAdmin)
    end)

    it("rejects a bad update body", function()
      for _, body in ipairs({ '{"isAdmin":"yes"}', "{}", "not json", "[true]" }) do
        local r = request(emu, "PUT", "/teams/team-1/users/user-2", { body = body })
        assert.equal(400, r.status, body)
        assert.equal("BAD_REQUEST", r.json.code)
      end
      assert.is_false(emu:state().members[2].isAdmin)
    end)

    it("answers 404 for unknown members and teams", function()
      local r = request(emu, "PUT", "/teams/team-1/users/user-99", { body = { isAdmin = true } })
      assert.equal(404, r.status)
      assert.same({ code = "NOT_FOUND", message = "Team member not found" }, r.json)
      r = get(emu, "/teams/team-9/users")
      assert.same({ code = "NOT_FOUND", message = "Team not found" }, r.json)
      assert.equal(404, request(emu, "DELETE", "/teams/team-9/users/user-1").status)
    end)

    it("removes a member with 204 in spec style", function()
      local r = request(emu, "DELETE", "/teams/team-1/users/user-2")
      assert.equal(204, r.status)
      assert.equal("", r.body)
      assert.is_nil(r.headers["content-type"])
      assert.same({ "user-1", "user-3", "user-4", "user-5" }, names_of(get(emu, "/teams/team-1/users").json, "userId"))
      assert.equal(404, request(emu, "DELETE", "/teams/team-1/users/user-2").status)
    end)

    it("removes a member with 200 {} in production style", function()
      emu:configure({ style = "production" })
      local r = request(emu, "DELETE", "/teams/team-1/users/user-2")
      assert.equal(200, r.status)
      assert.equal("{}", r.body)
      assert.equal("application/json", r.headers["content-type"])
    end)
  end)

  describe("team secrets", function()
    local function create(name, value)
      return request(emu, "POST", "/teams/team-1/secrets", { body = { name = name, value = value } })
    end

    it("creates a secret with 201 and never returns its value", function()
      local r = create("API_TOKEN", "hunter2")
      assert.equal(201, r.status)
      assert.equal("API_TOKEN", r.json.name)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$", r.json.dtCreated)
      assert.is_nil(r.json.value)
      assert.is_nil(r.body:find("hunter2", 1, true))
      assert.equal("hunter2", emu:state().secrets.API_TOKEN.value)
      local list = get(emu, "/teams/team-1/secrets")
      assert.same({ "API_TOKEN", "SEEDED" }, names_of(list.json, "name"))
      assert.is_nil(list.body:find("hunter2", 1, true))
      assert.is_nil(list.body:find("seed-value", 1, true))
    end)

    it("answers 200 with the secret in production style", function()
      emu:configure({ style = "production" })
      local r = create("A", "b")
      assert.equal(200, r.status)
      assert.equal("A", r.json.name)
      r = request(emu, "DELETE", "/teams/team-1/secrets/A")
      assert.equal(200, r.status)
      assert.same({}, r.json)
    end)

    it("refuses a duplicate with 409", function()
      local r = create("SEEDED", "x")
      assert.equal(409, r.status)
      assert.equal("CONFLICT", r.json.code)
      assert.equal("seed-value", emu:state().secrets.SEEDED.value)
    end)

    it("rejects bad create bodies with 400", function()
      local bodies = {
        "not json", "[1,2]", '"str"', "{}", '{"name":"a"}', '{"value":"b"}',
        '{"name":"","value":"b"}', '{"name":"a","value":""}', '{"name":1,"value":"b"}',
        '{"name":"a","value":null}',
      }
      for _, body in ipairs(bodies) do
        local r = request(emu, "POST", "/teams/team-1/secrets", { body = body })
        assert.equal(400, r.status, body)
        assert.equal("BAD_REQUEST", r.json.code)
        assert.is_string(r.json.message)
      end
      assert.same({ "SEEDED" }, names_of(get(emu, "/teams/team-1/secrets").json, "name"))
    end)

    it("gets, updates and deletes a secret", function()
      local created = create("K", "v1").json
      local r = get(emu, "/teams/team-1/secrets/K")
      assert.equal(200, r.status)
      assert.same(created, r.json)
      r = request(emu, "PATCH", "/teams/team-1/secrets/K", { body = { value = "v2" } })
      assert.equal(200, r.status)
      assert.same(created, r.json)
      assert.equal("v2", emu:state().secrets.K.value)
      r = request(emu, "PATCH", "/teams/team-1/secrets/K", { body = { value = 5 } })
      assert.equal(400, r.status)
      r = request(emu, "DELETE", "/teams/team-1/secrets/K")
      assert.equal(204, r.status)
      assert.equal("", r.body)
      assert.equal(404, get(emu, "/teams/team-1/secrets/K").status)
      assert.is_nil(emu:state().secrets.K)
    end)

    it("answers 404 for missing secrets and teams", function()
      local r = get(emu, "/teams/team-1/secrets/NOPE")
      assert.same({ code = "NOT_FOUND", message = "Secret not found" }, r.json)
      assert.equal(404, request(emu, "PATCH", "/teams/team-1/secrets/NOPE", { body = { value = "x" } }).status)
      assert.equal(404, request(emu, "DELETE", "/teams/team-1/secrets/NOPE").status)
      r = request(emu, "POST", "/teams/nope/secrets", { body = { name = "a", value = "b" } })
      assert.same({ code = "NOT_FOUND", message = "Team not found" }, r.json)
      assert.equal(404, get(emu, "/teams/nope/secrets/SEEDED").status)
    end)

    it("percent-decodes each path segment after splitting", function()
      local name = "a b/c?d#e%"
      assert.equal(201, create(name, "v").status)
      local path = "/teams/team-1/secrets/a%20b%2Fc%3Fd%23e%25"
      local r = get(emu, path .. "?ignored=1")
      assert.equal(200, r.status)
      assert.equal(name, r.json.name)
      assert.equal(200, request(emu, "PATCH", path, { body = { value = "w" } }).status)
      assert.equal("w", emu:state().secrets[name].value)
      local recs = emu:requests()
      assert.equal(path, recs[#recs].path)
      assert.equal(204, request(emu, "DELETE", "/teams/team-1/secrets/a%20b%2fc%3fd%23e%25").status)
      assert.is_nil(emu:state().secrets[name])
    end)
  end)

  describe("routing", function()
    it("answers 404 for unknown paths", function()
      for _, path in ipairs({ "/nope", "/teams", "/teams/team-1", "/teams/team-1/other",
        "/teams/team-1/secrets/a/b", "/auth/session/x", "/teams/team-1/secrets/" }) do
        local r = get(emu, path)
        assert.equal(404, r.status, path)
        assert.equal("NOT_FOUND", r.json.code)
      end
    end)

    it("answers 405 for a wrong method on a known path", function()
      local r = request(emu, "DELETE", "/auth/session")
      assert.equal(405, r.status)
      assert.equal("METHOD_NOT_ALLOWED", r.json.code)
      assert.equal("GET", r.headers["allow"])
      assert.equal(405, request(emu, "POST", "/teams/team-1/users").status)
      assert.equal(405, request(emu, "PUT", "/teams/team-1/secrets/SEEDED", { body = "{}" }).status)
      assert.equal("GET, PATCH, DELETE", request(emu, "POST", "/teams/team-1/secrets/SEEDED").headers["allow"])
    end)

    it("ignores the query string", function()
      assert.equal(5, #get(emu, "/teams/team-1/users?limit=1&x=y").json)
    end)
  end)

  describe("paged listings", function()
    local big

    lazy_setup(function()
      big = emulator.start({ members = 45, paged = true })
    end)

    lazy_teardown(function()
      if big then big:stop() end
    end)

    before_each(function()
      big:reset()
      big:configure({ page_size = 20, paged = true })
    end)

    it("returns items, hasMore and nextPage", function()
      local r = get(big, "/teams/team-1/users")
      assert.equal(200, r.status)
      assert.equal(20, #r.json.items)
      assert.is_true(r.json.hasMore)
      assert.is_string(r.json.nextPage)
      local items, pages = all_pages(big, "/teams/team-1/users")
      assert.equal(3, pages)
      assert.equal(45, #items)
      local seen = {}
      for i, m in ipairs(items) do
        assert.is_nil(seen[m.userId])
        seen[m.userId] = true
        if i > 1 then assert.is_true(items[i - 1].userId < m.userId) end
      end
    end)

    it("honours limit, order and orderBy", function()
      local items, pages = all_pages(big, "/teams/team-1/users", "limit=7&order=desc")
      assert.equal(7, pages)
      assert.equal(45, #items)
      for i = 2, #items do assert.is_true(items[i - 1].userId > items[i].userId) end
      items = all_pages(big, "/teams/team-1/users", "orderBy=email&limit=120")
      assert.equal(45, #items)
      for i = 2, #items do assert.is_true(items[i - 1].email < items[i].email) end
      local r = get(big, "/teams/team-1/users?limit=120")
      assert.is_false(r.json.hasMore)
      assert.equal(cjson.null, r.json.nextPage)
    end)

    it("uses the configured page size", function()
      big:configure({ page_size = 2 })
      local r = get(big, "/teams/team-1/users")
      assert.equal(2, #r.json.items)
    end)

    it("validates limit, orderBy, order and after", function()
      for _, q in ipairs({ "limit=0", "limit=121", "limit=abc", "limit=1.5", "limit=" }) do
        local r = get(big, "/teams/team-1/users?" .. q)
        assert.equal(400, r.status, q)
        assert.equal("BAD_REQUEST", r.json.code)
        assert.matches("limit", r.json.message)
      end
      assert.matches("orderBy", get(big, "/teams/team-1/users?orderBy=name").json.message)
      assert.matches("orderBy", get(big, "/teams/team-1/secrets?orderBy=userId").json.message)
      assert.matches("order", get(big, "/teams/team-1/users?order=up").json.message)
      assert.equal(400, get(big, "/teams/team-1/users?after=bogus").status)
      local cursor = get(big, "/teams/team-1/users?limit=2").json.nextPage
      assert.equal(200, get(big, "/teams/team-1/users?after=" .. cursor).status)
      assert.equal(400, get(big, "/teams/team-1/users?order=desc&after=" .. cursor).status)
      assert.equal(400, get(big, "/teams/team-1/secrets?after=" .. cursor).status)
    end)

    it("keeps cursors valid across deletions", function()
      local first = get(big, "/teams/team-1/users?limit=10").json
      local last = first.items[10].userId
      assert.equal(204, request(big, "DELETE", "/teams/team-1/users/" .. last).status)
      local second = get(big, "/teams/team-1/users?limit=10&after=" .. first.nextPage).json
      assert.is_true(second.items[1].userId > last)
      local all = all_pages(big, "/teams/team-1/users")
      assert.equal(44, #all)
    end)

    it("pages secrets by name and by dtCreated", function()
      for i = 1, 5 do
        local r = request(big, "POST", "/teams/team-1/secrets", { body = { name = "S" .. (6 - i), value = "v" } })
        assert.equal(201, r.status)
        socket.sleep(0.002)
      end
      local by_name = all_pages(big, "/teams/team-1/secrets", "limit=2")
      assert.same({ "S1", "S2", "S3", "S4", "S5" }, names_of(by_name, "name"))
      local by_time = all_pages(big, "/teams/team-1/secrets", "limit=2&orderBy=dtCreated")
      assert.same({ "S5", "S4", "S3", "S2", "S1" }, names_of(by_time, "name"))
      assert.is_nil(by_time[1].value)
    end)

    it("pages through 10,000 members, each once", function()
      local huge_team = emulator.start({ members = 10000, paged = true })
      local items, pages = all_pages(huge_team, "/teams/team-1/users", "limit=120")
      huge_team:stop()
      assert.equal(10000, #items)
      assert.equal(84, pages)
      local seen, n = {}, 0
      for _, m in ipairs(items) do
        if not seen[m.userId] then seen[m.userId], n = true, n + 1 end
      end
      assert.equal(10000, n)
      assert.is_true(seen["user-1"] and seen["user-10000"] and seen["user-5000"])
    end)

    it("returns a bare array when not paged", function()
      big:configure({ paged = false })
      local r = get(big, "/teams/team-1/users")
      assert.equal(45, #r.json)
      assert.is_nil(r.json.items)
    end)
  end)

  describe("HTTP", function()
    it("keeps connections alive", function()
      local s = connect(emu)
      for _ = 1, 3 do assert.equal(200, send(s, "GET", "/auth/session").status) end
      s:close()
      local recs = emu:requests()
      assert.equal(3, #recs)
      assert.equal(recs[1].connection, recs[2].connection)
      assert.equal(recs[1].connection, recs[3].connection)
      assert.equal(200, get(emu, "/auth/session").status)
      recs = emu:requests()
      assert.is_true(recs[4].connection > recs[3].connection)
    end)

    it("closes after Connection: close and after HTTP/1.0", function()
      for _, opts in ipairs({ { headers = { Connection = "close" } }, { version = "1.0" } }) do
        local s = connect(emu)
        local r = send(s, "GET", "/auth/session", opts)
        assert.equal(200, r.status)
        assert.equal("close", r.headers["connection"])
        local data, err = s:receive(1)
        assert.is_nil(data)
        assert.equal("closed", err)
        s:close()
      end
    end)

    it("keeps HTTP/1.0 connections alive on request", function()
      local s = connect(emu)
      local opts = { version = "1.0", headers = { Connection = "keep-alive" } }
      assert.equal("keep-alive", send(s, "GET", "/auth/session", opts).headers["connection"])
      assert.equal(200, send(s, "GET", "/auth/session", opts).status)
      s:close()
    end)

    it("answers one request at a time: one sent before the answer closes the connection after it", function()
      local s = connect(emu)
      s:send(encode_request("GET", "/teams/team-1/secrets/SEEDED") .. encode_request("GET", "/auth/session"))
      local r = read_response(s)
      assert.equal(200, r.status)
      assert.equal("close", r.headers["connection"])
      local data, err = s:receive(1)
      assert.is_nil(data)
      assert.equal("closed", err)
      s:close()
      -- Sent while a delayed answer is pending: the same.
      emu:fault({ path = "/auth/session", delay = 0.2, pass = true })
      s = connect(emu)
      s:send(encode_request("GET", "/auth/session"))
      socket.sleep(0.05)
      s:send(encode_request("GET", "/auth/session"))
      r = read_response(s)
      assert.equal(200, r.status)
      assert.equal("close", r.headers["connection"])
      data, err = s:receive(1)
      assert.is_nil(data)
      assert.equal("closed", err)
      s:close()
      assert.equal(2, #emu:requests())
      -- And the emulator still serves new connections.
      assert.equal(200, get(emu, "/auth/session").status)
    end)

    it("treats header names case-insensitively", function()
      local s = connect(emu)
      local body = '{"name":"CI","value":"v"}'
      s:send("POST /teams/team-1/secrets HTTP/1.1\r\nhost: x\r\nAUTHORIZATION: Bearer test-key\r\n" ..
        "content-LENGTH: " .. #body .. "\r\n\r\n" .. body)
      assert.equal(201, read_response(s).status)
      s:close()
    end)

    it("accepts chunked request bodies", function()
      local s = connect(emu)
      s:send("POST /teams/team-1/secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-key\r\n" ..
        "Transfer-Encoding: chunked\r\n\r\n" ..
        "a\r\n{\"name\":\"C\r\n13;ext=1\r\nH\",\"value\":\"chunk\"}\r\n0\r\n\r\n")
      local r = read_response(s)
      assert.equal(201, r.status, r.body)
      s:close()
      assert.equal("chunk", emu:state().secrets.CH.value)
      assert.equal('{"name":"CH","value":"chunk"}', emu:requests()[1].body)
    end)

    it("rejects a malformed request and survives clients that vanish", function()
      local s = connect(emu)
      s:send("garbage\r\n\r\n")
      assert.equal(400, read_response(s).status)
      s:close()
      -- Disconnect mid-headers, mid-body and before reading a delayed answer.
      s = connect(emu)
      s:send("GET /auth/sess")
      s:close()
      s = connect(emu)
      s:send("POST /teams/team-1/secrets HTTP/1.1\r\nAuthorization: Bearer test-key\r\nContent-Length: 50\r\n\r\n{")
      s:close()
      emu:fault({ path = "/auth/session", delay = 0.05, pass = true })
      s = connect(emu)
      s:send(encode_request("GET", "/auth/session"))
      s:close()
      socket.sleep(0.1)
      assert.equal(200, get(emu, "/auth/session").status)
    end)

    it("answers HEAD without a body", function()
      local s = connect(emu)
      local r = send(s, "HEAD", "/auth/session")
      assert.equal(405, r.status)
      assert.is_true(tonumber(r.headers["content-length"]) > 0)
      assert.equal(200, send(s, "GET", "/auth/session").status)
      s:close()
    end)
  end)

  describe("recording", function()
    it("records method, raw path, query, args, headers, body and connection", function()
      local s = connect(emu)
      send(s, "POST", "/teams/team-1/secrets?a=1&b=x%20y&c=p+q", { body = '{"name":"R","value":"v"}',
        headers = { ["X-Custom"] = "Yes" } })
      send(s, "GET", "/teams/team-1/users")
      s:close()
      raw_control(emu, "GET", "/_emulator/health")
      local recs = emu:requests()
      assert.equal(2, #recs)
      local r = recs[1]
      assert.equal("POST", r.method)
      assert.equal("/teams/team-1/secrets", r.path)
      assert.equal("a=1&b=x%20y&c=p+q", r.query)
      assert.same({ a = "1", b = "x y", c = "p q" }, r.args)
      assert.equal("Yes", r.headers["x-custom"])
      assert.equal("Bearer test-key", r.headers["authorization"])
      assert.equal('{"name":"R","value":"v"}', r.body)
      assert.is_number(r.connection)
      assert.equal(r.connection, recs[2].connection)
      assert.is_true(math.abs(r.time - socket.gettime()) < 5)
      assert.matches("^req%-%d+$", r.request_id)
      assert.is_nil(r.fault)
      assert.is_nil(recs[2].query)
      assert.same({}, recs[2].args)
      emu:clear_requests()
      assert.same({}, emu:requests())
    end)

    it("keeps only the newest max_records", function()
      local small = emulator.start({ max_records = 3 })
      for i = 1, 5 do get(small, "/auth/session?i=" .. i) end
      local recs = small:requests()
      small:stop()
      assert.same({ "i=3", "i=4", "i=5" }, names_of(recs, "query"))
    end)
  end)

  describe("faults", function()
    it("answers the next request with a scripted status, then passes", function()
      emu:fault({ path = "/auth/session", responses = { status = 503 } })
      local r = get(emu, "/auth/session")
      assert.equal(503, r.status)
      assert.equal("SERVICE_UNAVAILABLE", r.json.code)
      assert.matches("^req%-%d+$", r.headers["x-request-id"])
      assert.equal(200, get(emu, "/auth/session").status)
      local recs = emu:requests()
      assert.is_true(recs[1].fault)
      assert.is_nil(recs[2].fault)
    end)

    it("plays a list of responses in sequence", function()
      emu:fault({ method = "GET", path = "/auth/session", responses = {
        { status = 503 },
        { status = 429, headers = { ["Retry-After"] = "1" }, body = { code = "RATE", message = "slow down" } },
        { pass = true },
      } })
      assert.equal(503, get(emu, "/auth/session").status)
      local r = get(emu, "/auth/session")
      assert.equal(429, r.status)
      assert.equal("1", r.headers["retry-after"])
      assert.same({ code = "RATE", message = "slow down" }, r.json)
      assert.equal(200, get(emu, "/auth/session").status)
      assert.equal(200, get(emu, "/auth/session").status)
      assert.same({}, emu:faults())
    end)

    it("applies times, forever with times = 0, and filters by method", function()
      emu:fault({ method = "POST", path = "/teams/team-1/secrets", status = 500, times = 2 })
      assert.equal(200, get(emu, "/teams/team-1/secrets").status)
      assert.equal(500, request(emu, "POST", "/teams/team-1/secrets", { body = { name = "X", value = "y" } }).status)
      assert.equal(500, request(emu, "POST", "/teams/team-1/secrets", { body = { name = "X", value = "y" } }).status)
      assert.equal(201, request(emu, "POST", "/teams/team-1/secrets", { body = { name = "X", value = "y" } }).status)
      emu:fault({ path = "/auth/session", times = 0, responses = { { status = 502 }, { status = 504 } } })
      local got = {}
      for i = 1, 5 do got[i] = get(emu, "/auth/session").status end
      assert.same({ 502, 504, 502, 504, 502 }, got)
      emu:clear_faults()
      assert.equal(200, get(emu, "/auth/session").status)
    end)

    it("matches Lua patterns", function()
      emu:fault({ path = "^/teams/[^/]+/secrets/", match = "pattern", status = 418, times = 0 })
      assert.equal(418, get(emu, "/teams/team-1/secrets/SEEDED").status)
      assert.equal(418, get(emu, "/teams/x/secrets/y").status)
      assert.equal(200, get(emu, "/teams/team-1/secrets").status)
    end)

    it("closes the connection before answering", function()
      emu:fault({ path = "/auth/session", close = "before" })
      local s = connect(emu)
      local r, err = send(s, "GET", "/auth/session")
      s:close()
      assert.is_nil(r)
      assert.equal("closed", err)
      assert.equal(200, get(emu, "/auth/session").status)
    end)

    it("closes the connection in the middle of the body", function()
      emu:fault({ path = "/auth/session", close = "mid_body", body = string.rep("x", 100) })
      local s = connect(emu)
      local r = send(s, "GET", "/auth/session")
      s:close()
      assert.equal(200, r.status)
      assert.equal("100", r.headers["content-length"])
      assert.is_true(r.truncated)
      assert.equal(string.rep("x", 50), r.body)
    end)

    it("sends an nginx-style HTML 502", function()
      emu:fault({ path = "/teams/team-1/users", html_502 = true })
      local r = get(emu, "/teams/team-1/users")
      assert.equal(502, r.status)
      assert.equal("text/html", r.headers["content-type"])
      assert.matches("<html>", r.body)
      assert.matches("nginx", r.body)
    end)

    it("redirects", function()
      emu:fault({ path = "/auth/session", redirect = "http://elsewhere.invalid/auth/session" })
      local r = get(emu, "/auth/session")
      assert.equal(302, r.status)
      assert.equal("http://elsewhere.invalid/auth/session", r.headers["location"])
    end)

    it("streams a huge body without stalling other connections", function()
      local n = 3 * 1000 * 1000 + 1
      emu:fault({ path = "/teams/team-1/users", huge = n })
      local s = connect(emu)
      s:send(encode_request("GET", "/teams/team-1/users"))
      -- While that body waits to be read, other clients are served.
      local t0 = socket.gettime()
      assert.equal(200, get(emu, "/auth/session").status)
      assert.is_true(socket.gettime() - t0 < 1)
      local r = read_response(s)
      s:close()
      assert.equal(200, r.status)
      assert.equal(n, #r.body)
      assert.equal("application/json", r.headers["content-type"])
      local arr = cjson.decode(r.body)
      assert.is_true(#arr > 1000000)
    end)

    it("delays a response without blocking others", function()
      emu:fault({ path = "/teams/team-1/users", delay = 0.3, pass = true })
      local s = connect(emu)
      local t0 = socket.gettime()
      s:send(encode_request("GET", "/teams/team-1/users"))
      assert.equal(200, get(emu, "/auth/session").status)
      assert.is_true(socket.gettime() - t0 < 0.25)
      local r = read_response(s)
      s:close()
      assert.equal(200, r.status)
      assert.equal(5, #r.json)
      assert.is_true(socket.gettime() - t0 >= 0.29)
    end)

    it("treats a delay-only entry as a delayed pass-through with extra headers", function()
      emu:fault({ path = "/auth/session", delay = 0.05, headers = { ["X-Injected"] = "1" } })
      local t0 = socket.gettime()
      local r = get(emu, "/auth/session")
      assert.equal(200, r.status)
      assert.equal("1", r.headers["x-injected"])
      assert.equal("user-1", r.json.user.id)
      assert.is_true(socket.gettime() - t0 >= 0.045)
    end)

    it("rejects invalid rules", function()
      local function refused(rule)
        local ok, err = pcall(emu.fault, emu, rule)
        assert.is_false(ok)
        return tostring(err)
      end
      assert.matches("close", refused({ path = "/x", close = "sometimes" }))
      assert.matches("status", refused({ path = "/x", status = 99 }))
      assert.matches("pattern", refused({ path = "[", match = "pattern", status = 500 }))
      assert.same({}, emu:faults())
    end)

    it("is cleared by reset", function()
      emu:fault({ path = "/auth/session", status = 500, times = 0 })
      emu:reset()
      assert.equal(200, get(emu, "/auth/session").status)
    end)
  end)

  describe("latency", function()
    it("delays responses concurrently", function()
      local latency, n = 0.1, 20
      emu:configure({ latency = latency })
      local socks = {}
      local t0 = socket.gettime()
      for i = 1, n do
        socks[i] = connect(emu)
        socks[i]:send(encode_request("GET", "/teams/team-1/secrets/SEEDED"))
      end
      for i = 1, n do
        local r = read_response(socks[i])
        assert.equal(200, r.status)
        socks[i]:close()
      end
      local elapsed = socket.gettime() - t0
      assert.is_true(elapsed >= latency, "elapsed " .. elapsed)
      assert.is_true(elapsed < 10 * latency, "elapsed " .. elapsed)
      -- The control plane is never delayed.
      t0 = socket.gettime()
      emu:state()
      assert.is_true(socket.gettime() - t0 < latency)
    end)
  end)

  describe("control plane", function()
    it("resets members, secrets, records and faults but keeps options", function()
      request(emu, "DELETE", "/teams/team-1/users/user-5")
      request(emu, "POST", "/teams/team-1/secrets", { body = { name = "NEW", value = "v" } })
      emu:configure({ style = "production" })
      emu:reset()
      local st = emu:state()
      assert.equal(5, #st.members)
      assert.same({ "SEEDED" }, (function() local k = {} for n in pairs(st.secrets) do k[#k + 1] = n end return k end)())
      assert.equal("seed-value", st.secrets.SEEDED.value)
      assert.matches("Z$", st.secrets.SEEDED.dtCreated)
      assert.same({}, emu:requests())
      assert.equal(200, request(emu, "POST", "/teams/team-1/secrets", { body = { name = "B", value = "v" } }).status)
    end)

    it("validates configuration", function()
      local function refused(opts)
        local ok, err = pcall(emu.configure, emu, opts)
        assert.is_false(ok)
        return tostring(err)
      end
      assert.matches("page_size", refused({ page_size = 0 }))
      assert.matches("style", refused({ style = "other" }))
      assert.matches("unknown option bogus", refused({ bogus = true }), 1, true)
      local r = raw_control(emu, "POST", "/_emulator/config", "not json")
      assert.equal(400, r.status)
      local cfg = emu:configure({ latency = 0.01, paged = true })
      assert.equal(0.01, cfg.latency)
      assert.is_true(cfg.paged)
      assert.equal(20, cfg.page_size)
    end)

    it("serves the control routes without auth and with clear errors", function()
      assert.equal(200, raw_control(emu, "GET", "/_emulator/health").status)
      assert.equal(404, raw_control(emu, "GET", "/_emulator/nope").status)
      assert.equal(405, raw_control(emu, "PUT", "/_emulator/requests").status)
      local r = raw_control(emu, "POST", "/_emulator/faults", { status = 503, path = "/auth/session" })
      assert.equal(200, r.status)
      assert.is_number(r.json.id)
      assert.equal(1, #raw_control(emu, "GET", "/_emulator/faults").json)
      assert.equal(200, raw_control(emu, "DELETE", "/_emulator/faults").status)
      assert.equal(200, get(emu, "/auth/session").status)
      assert.equal(200, raw_control(emu, "DELETE", "/_emulator/requests").status)
      assert.equal("[]", raw_control(emu, "GET", "/_emulator/requests").body)
      assert.equal(400, raw_control(emu, "POST", "/_emulator/faults", { close = "never" }).status)
    end)
  end)

  describe("in-process server", function()
    it("serves from step() and exposes the same controls", function()
      local srv = emulator.new({ members = 2, secrets = { A = "1" } })
      assert.matches("^http://127%.0%.0%.1:%d+$", srv:url())
      local c = assert(socket.tcp())
      c:settimeout(0)
      c:connect(srv.host, srv.port)
      srv:fault({ path = "/teams/team-1/secrets/A", status = 500 })
      -- Two requests on one connection, the second after the first's answer.
      local got = ""
      for i = 1, 2 do
        local wire = encode_request("GET", "/teams/team-1/secrets/A")
        local sent = 0
        local deadline = socket.gettime() + 3
        while socket.gettime() < deadline do
          srv:step(0.01)
          if sent < #wire then
            local last, _, plast = c:send(wire, sent + 1)
            sent = last or plast or sent
          end
          local data, _, partial = c:receive(65536)
          got = got .. (data or partial or "")
          if select(2, got:gsub("HTTP/1%.1 ", "")) >= i and (i == 1 or got:find('"name":"A"', 1, true)) then break end
        end
      end
      c:close()
      assert.matches("^HTTP/1%.1 500 ", got)
      assert.matches("HTTP/1%.1 200 OK", got)
      local recs = srv:requests()
      assert.equal(2, #recs)
      assert.is_true(recs[1].fault)
      assert.equal(recs[1].connection, recs[2].connection)
      assert.equal("1", srv:state().secrets.A.value)
      assert.equal(2, #srv:state().members)
      srv:configure({ api_key = "k2" })
      assert.equal("k2", srv.api_key)
      srv:reset()
      assert.same({}, srv:requests())
      srv:close()
    end)

    it("validates options", function()
      local function refused(opts)
        local ok, err = pcall(emulator.new, opts)
        assert.is_false(ok)
        return tostring(err)
      end
      assert.matches("page_size", refused({ page_size = 0 }))
      assert.matches("bogus", refused({ bogus = 1 }))
      assert.matches("secrets", refused({ secrets = { A = 1 } }))
      assert.matches("members", refused({ members = -1 }))
      assert.matches("port must be an integer between 0 and 65535", refused({ port = 70000 }), 1, true)
      assert.matches("max_records must be an integer >= 1", refused({ max_records = 0 }), 1, true)
      assert.matches("host must be a string", refused({ host = "" }), 1, true)
      assert.matches("watch_stdin must be a boolean", refused({ watch_stdin = 1 }), 1, true)
      assert.matches("options must be a table", refused("x"), 1, true)
      -- The message blames the caller's line.
      local ok, err = pcall(function() emulator.new({ latency = -1 }) end)
      assert.is_false(ok)
      assert.matches("emulator_spec%.lua:%d+: paperspace%.emulator: latency must be a number of seconds >= 0$", err)
      -- start's own options are accepted, and ignored, by new.
      emulator.new({ lua = "nope", start_timeout = 1, control_timeout = 1, members = 0 }):close()
    end)
  end)

  describe("command line", function()
    local function run_cli(args)
      return io.popen(emulator.interpreter() .. " emulator/bin/paperspace-emulator " .. args .. " 2>&1", "r")
    end

    it("prints the URL and serves until shut down", function()
      local p = run_cli("--members 3 --paged --page-size 2 --api-key cli-key --style production --secret S=v")
      local url = p:read("*l")
      assert.matches("^http://127%.0%.0%.1:%d+$", url)
      local host, port = url:match("^http://([^:]+):(%d+)$")
      local handle = { host = host, port = tonumber(port) }
      local r = get(handle, "/teams/team-1/users", { key = "cli-key" })
      assert.equal(200, r.status)
      assert.equal(2, #r.json.items)
      assert.is_true(r.json.hasMore)
      r = request(handle, "DELETE", "/teams/team-1/secrets/S", { key = "cli-key" })
      assert.equal(200, r.status)
      assert.equal(200, raw_control(handle, "POST", "/_emulator/shutdown").status)
      assert.equal("", p:read("*a"))
      p:close()
      local s = socket.tcp()
      s:settimeout(1)
      assert.is_nil(s:connect(host, tonumber(port)))
      s:close()
    end)

    it("prints usage for --help and fails on bad arguments", function()
      local p = run_cli("--help")
      local out = p:read("*a")
      p:close()
      assert.matches("Usage: paperspace%-emulator", out)
      assert.matches("%-%-latency", out)
      p = run_cli("--bogus")
      out = p:read("*a")
      p:close()
      assert.matches("unknown argument %-%-bogus", out)
      assert.same({ port = 0, secrets = { A = "b=c" }, paged = true, latency = 0.5 },
        emulator.parse_args({ "--port=0", "--secret", "A=b=c", "--paged", "--latency", "0.5" }))
      assert.is_nil(emulator.parse_args({ "--members", "many" }))
    end)
  end)
end)
