-- Secrets stay secret: with a known key and known secret values, nothing a
-- full session logs, returns in an error, or prints with tostring holds them.
local helpers = require "spec.support.helpers"
local paperspace = require "paperspace"
local log = require "paperspace.log"

local KEY = "sk-live-KNOWN-KEY-0123456789abcdef"
local VALUES = { "VALUE-ALPHA-11111", "VALUE-BRAVO-22222", "VALUE-CHARLIE-33333", "VALUE-DELTA-44444" }

local dump = require "spec.support.dump"

-- The session, in a script run as a user would, printing all it gets.
local SESSION = [[
local paperspace = require "paperspace"
local KEY, V = os.getenv("KEY"), {}
for v in os.getenv("VALUES"):gmatch("[^,]+") do V[#V + 1] = v end
local dump = require "spec.support.dump"
local function show(...) for i = 1, select("#", ...) do print(dump((select(i, ...)))) end end
local client = paperspace.new { api_key = KEY, base_url = os.getenv("URL"), max_retries = 1 }
show(client, client:settings())
show(client:get_session { raw = true })
local team = client:team("team-1")
show(team:create_secret("ALPHA", V[1]))
show(team:create_secret("ALPHA", V[2]))                       -- 409, echoing the value
show(client:create_team_secret("team-1", { name = "BRAVO", value = V[2] }, { raw = true }))
show(team:set_secret("CHARLIE", V[3]))
show(team:set_secret("CHARLIE", V[4]))
show(team:secret("ALPHA"), team:secrets(), client:last_response())
for s in team:each_secret() do show(s, s:update(V[1])) end
show(client:update_team_secret("team-1", "NOPE", { value = V[3] }, { raw = true }))
show(team:members { raw = true }, team:delete_secret("ALPHA"))
show(pcall(client.create_team_secret, client, "team-1", { name = "X", value = 42 }))
local wrong = paperspace.new { api_key = KEY .. "-wrong", base_url = os.getenv("URL"), max_retries = 0 }
show(wrong:get_session())
client:close()
]]

describe("secrets stay secret", function()
  local emu

  setup(function() emu = helpers.emulator { api_key = KEY } end)
  teardown(function() emu:stop() end)
  before_each(function() emu:reset() end)

  local function assert_clean(text)
    assert.is_nil(text:find(KEY, 1, true), "the API key leaked")
    for _, v in ipairs(VALUES) do assert.is_nil(text:find(v, 1, true), "a secret value leaked: " .. v) end
  end

  it("nothing a full session prints or logs holds the key or a value", function()
    -- The server echoes what it was sent, in bodies and headers, at its worst.
    emu:fault { method = "POST", path = "/teams/team-1/secrets", responses = {
      { pass = true },
      { status = 409, headers = { ["x-echo"] = KEY .. " " .. VALUES[2] },
        body = { code = "CONFLICT", message = "ALPHA exists; you sent " .. VALUES[2] .. " with " .. KEY,
                 sent = { value = VALUES[2], nested = { KEY } } } },
      { status = 503, headers = { ["retry-after-ms"] = "1" },
        body = { message = "busy with " .. VALUES[2] } },
    } }
    emu:fault { method = "PATCH", path = "/teams/team-1/secrets/NOPE", responses = {
      { status = 404, body = { code = "NOT_FOUND", message = "no NOPE to set to " .. VALUES[3] } } } }
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write(SESSION)
    f:close()
    local cmd = string.format("KEY='%s' VALUES='%s' URL='%s' PAPERSPACE_LOG=debug LUA_PATH='%s' LUA_CPATH='%s' "
                              .. "%s %s 2>&1", KEY, table.concat(VALUES, ","), emu.url, package.path,
                              package.cpath, helpers.interpreter(), script)
    local p = assert(io.popen(cmd))
    local out = p:read("*a")
    local ok = p:close()
    os.remove(script)
    assert.is_true(ok, out)
    -- The session did what it says, and logged each attempt.
    assert.matches("paperspace: POST /teams/team%-1/secrets 409 conflict %d+ms attempt=1 request_id=req%-%d+", out)
    assert.matches("paperspace: GET /auth/session 200 %d+ms attempt=1", out)
    assert.matches("retry_in=", out)
    assert.matches("[REDACTED]", out, 1, true)
    assert.matches("paperspace.secret(ALPHA", out, 1, true)
    assert_clean(out)
  end)

  it("a logger gets one line per attempt, and no secret", function()
    local lines, records = {}, {}
    local client = paperspace.new { api_key = KEY, base_url = emu.url,
                                    logger = function(line, record)
                                      lines[#lines + 1] = line
                                      records[#records + 1] = record
                                    end }
    emu:fault { path = "/auth/session", responses = { { status = 503, headers = { ["retry-after-ms"] = "1" } } } }
    assert(client:get_session())
    assert(client:create_team_secret("team-1", { name = "L", value = VALUES[1] }))
    local _, err = client:get_team_secret("team-1", "missing")
    client:close()
    assert.equal("not_found", err.kind)
    -- debug: the retry decision; info: each attempt
    assert.equal(5, #lines)
    assert.matches("^paperspace: GET /auth/session 503 server_error %d+ms attempt=1 request_id=%S+ retry_in=0%.001s$", lines[1])
    assert.equal("debug", records[1].level)
    assert.matches("^paperspace: GET /auth/session 503 server_error %d+ms attempt=1", lines[2])
    assert.equal("info", records[2].level)
    assert.matches("^paperspace: GET /auth/session 200 %d+ms attempt=2 request_id=req%-%d+$", lines[3])
    assert.matches("^paperspace: POST /teams/team%-1/secrets 201 %d+ms attempt=1", lines[4])
    assert.matches("^paperspace: GET /teams/team%-1/secrets/missing 404 not_found %d+ms attempt=1", lines[5])
    assert_clean(table.concat(lines, "\n") .. dump(records))
  end)

  it("PAPERSPACE_LOG=info logs attempts but not retry decisions", function()
    local got = {}
    local emit = log.new(function(line) got[#got + 1] = line end,
                         function(name) return name == "PAPERSPACE_LOG" and "INFO" or nil end)
    emit { level = "debug", method = "GET", path = "/x", attempt = 1, retry_in = 1 }
    emit { level = "info", method = "GET", path = "/x", status = 200, ms = 3.4, attempt = 1 }
    assert.same({ "paperspace: GET /x 200 3ms attempt=1" }, got)
  end)

  it("logging is off unless asked for", function()
    assert.is_nil(log.new(nil, function() return nil end))
    assert.is_nil(log.new(nil, function() return "verbose" end))
  end)

  it("raw records, last_response and the odd shapes of error bodies hold no key or value", function()
    local client = paperspace.new { api_key = KEY, base_url = emu.url, max_retries = 0 }
    local team, seen = client:team("team-1"), {}
    -- A success that echoes the value in a header and the key as its request id.
    emu:fault { method = "POST", path = "/teams/team-1/secrets", responses = {
      { status = 201, headers = { ["x-echo"] = VALUES[1], ["x-request-id"] = KEY },
        body = { name = "R", dtCreated = "2026-01-01T00:00:00Z" } } } }
    local s, err, resp = client:create_team_secret("team-1", { name = "R", value = VALUES[1] }, { raw = true })
    assert.is_nil(err)
    assert.equal("R", s.name)
    assert.equal("[REDACTED]", resp.headers["x-echo"])
    assert.equal("[REDACTED]", resp.request_id)
    seen[#seen + 1] = dump(resp) .. dump(client:last_response())
    -- Error bodies: the value in a key, nested 40 deep, after a NUL, as a
    -- bare JSON string; and in the Content-Type of a body that is not JSON.
    local deep = VALUES[2]
    for _ = 1, 40 do deep = { deep } end
    local bodies = {
      { errors = { [VALUES[2]] = "is not allowed" } },
      { message = "deep", detail = deep },
      '{"message": "x\\u0000' .. VALUES[2] .. '"}',
      '"' .. VALUES[2] .. '"',
    }
    for _, body in ipairs(bodies) do
      emu:fault { method = "PATCH", path = "/teams/team-1/secrets/R", responses = { { status = 400, body = body } } }
      local _, e = team:set_secret("R", VALUES[2])
      assert.equal("bad_request", e.kind)
      seen[#seen + 1] = dump(e) .. tostring(e)
    end
    emu:fault { method = "PATCH", path = "/teams/team-1/secrets/R", responses = {
      { status = 400, headers = { ["content-type"] = "text/plain; note=" .. VALUES[3] }, body = "no" } } }
    local _, e = team:set_secret("R", VALUES[3])
    assert.equal("HTTP 400 (text/plain; note=[REDACTED] body)", e.message)
    seen[#seen + 1] = dump(e) .. tostring(e)
    client:close()
    assert_clean(table.concat(seen, "\n"))
  end)

  it("tostring of errors, objects and the client holds no key or value", function()
    local client = paperspace.new { api_key = KEY, base_url = emu.url }
    local s = assert(client:team("team-1"):create_secret("T", VALUES[4]))
    local _, err = client:team("team-1"):create_secret("T", VALUES[4])
    assert_clean(tostring(client) .. tostring(s) .. tostring(err) .. dump(err) .. dump(client:settings()))
    client:close()
  end)
end)
