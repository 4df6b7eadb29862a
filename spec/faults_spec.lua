-- Every fault the emulator can inject, and what the client makes of it: the
-- right kind, status, message and attempts, and no crash, hang or leak.
local helpers = require "spec.support.helpers"
local core = require "paperspace.core"

local FAST = { ["retry-after-ms"] = "1" }

describe("faults", function()
  local emu, client
  helpers.use_emulator({}, nil, function(e, c) emu, client = e, c end)

  it("a sequence of statuses with headers and bodies, then success", function()
    emu:fault { path = "/teams/team-1/users", responses = {
      { status = 500, headers = { ["retry-after-ms"] = "1", ["x-request-id"] = "req-a" },
        body = { code = "INTERNAL", message = "first" } },
      { status = 502, headers = { ["retry-after-ms"] = "1", ["x-request-id"] = "req-b" },
        body = { code = "BAD_GATEWAY", message = "second" } },
    } }
    local members, err, resp = client:list_team_members("team-1", { raw = true })
    assert.is_nil(err)
    assert.equal(5, #members)
    assert.equal(3, resp.attempts)
  end)

  it("the last error of a sequence is the one returned", function()
    emu:fault { path = "/auth/session", responses = {
      { status = 500, headers = FAST, body = { code = "INTERNAL", message = "first" } },
      { status = 502, headers = FAST, body = { code = "BAD_GATEWAY", message = "second" } },
      { status = 503, headers = FAST, body = { code = "UNAVAILABLE", message = "third" } },
    } }
    local _, err = client:get_session()
    assert.equal("server_error", err.kind)
    assert.equal(503, err.status)
    assert.equal("UNAVAILABLE", err.code)
    assert.equal("third", err.message)
    assert.equal(3, err.attempts)
  end)

  it("a delay longer than the timeout is a timeout, near the limit, on every attempt", function()
    emu:fault { path = "/auth/session", times = 3, responses = { { delay = 3 } } }
    local started = core.now()
    local _, err = client:get_session { timeout = 0.4, max_retries = 1 }
    local took = core.now() - started
    assert.equal("timeout", err.kind)
    assert.is_nil(err.status)
    assert.equal(2, err.attempts)
    assert.matches("[Tt]imed out", err.message)
    -- Each attempt stops at its own limit, not at the server's pace.
    assert.is_true(err.elapsed >= 0.38 and err.elapsed < 1.4, "attempt took " .. err.elapsed)
    assert.is_true(took < 3, "the call took " .. took)
  end)

  it("a short delay within the timeout is just slow", function()
    emu:fault { path = "/auth/session", responses = { { delay = 0.2 } } }
    local session, err = client:get_session { timeout = 5 }
    assert.is_nil(err)
    assert.equal("user-1", session.user.id)
  end)

  it("a connection closed before the answer is a connection error, retried for a GET", function()
    emu:fault { path = "/auth/session", responses = { { close = "before" }, { close = "before" } } }
    local session, err, resp = client:get_session { raw = true }
    assert.is_nil(err)
    assert.is_table(session)
    assert.equal(3, resp.attempts)
    -- libcurl itself resends once on a fresh connection when a reused one
    -- dies without an answer, so the fault must outlast that too.
    emu:fault { path = "/auth/session", times = 0, responses = { { close = "before" } } }
    local _
    _, err = client:get_session()
    emu:clear_faults()
    assert.equal("connection", err.kind)
    assert.equal(3, err.attempts)
    assert.is_true(err.request_sent)
    assert.is_number(err.curl_code)
  end)

  it("a connection closed in the middle of the body is a connection error", function()
    emu:fault { path = "/teams/team-1/users", times = 3, responses = { { close = "mid_body" } } }
    local _, err = client:list_team_members("team-1")
    assert.equal("connection", err.kind)
    assert.equal(3, err.attempts)
    assert.is_true(err.retryable)
  end)

  it("a 200 whose body is not JSON is invalid_response, not retried", function()
    emu:fault { path = "/auth/session", responses = { { status = 200, body = "{\"user\": " } } }
    local _, err = client:get_session()
    assert.equal("invalid_response", err.kind)
    assert.equal(200, err.status)
    assert.equal(1, err.attempts)
    assert.is_false(err.retryable)
  end)

  it("an HTML 502 from a proxy is a server_error that says so, retried", function()
    emu:fault { path = "/auth/session", times = 3, responses = { { html_502 = true } } }
    local _, err = client:get_session { max_retries = 2 }
    assert.equal("server_error", err.kind)
    assert.equal(502, err.status)
    assert.matches("^HTTP 502 %(text/html", err.message)
    assert.is_nil(err.body)
    assert.equal(3, err.attempts)
  end)

  it("a body over max_response_bytes is refused without reading the rest", function()
    local small = helpers.client(emu, { max_response_bytes = 64 * 1024 })
    emu:fault { path = "/teams/team-1/users", responses = { { huge = 200 * 1024 * 1024 } } }
    local started = core.now()
    local _, err = small:list_team_members("team-1")
    local took = core.now() - started
    small:close()
    assert.equal("invalid_response", err.kind)
    assert.matches("exceeds max_response_bytes %(65536 bytes%)", err.message)
    assert.equal(1, err.attempts)
    -- 200 MiB were offered; reading them all would take far longer than this.
    assert.is_true(took < 5, "took " .. took)
  end)

  it("a body under max_response_bytes is read whole", function()
    -- 1 MiB of JSON: a session with a long field.
    local pad = string.rep("x", 1024 * 1024)
    emu:fault { path = "/auth/session", responses = { { status = 200,
      body = '{"user": {"id": "user-1"}, "team": {"id": "team-1"}, "pad": "' .. pad .. '"}' } } }
    local body, err = client:get_session()
    assert.is_nil(err)
    assert.equal(#pad, #body.pad)
  end)

  it("a session that is a JSON array is an invalid_response", function()
    emu:fault { path = "/auth/session", responses = { { huge = 1024 } } }
    local body, err = client:get_session()
    assert.is_nil(body)
    assert.equal("invalid_response", err.kind)
    assert.matches("expected a JSON object %(a session%), got an array", err.message)
  end)

  it("a redirect is not followed, and the error names its Location", function()
    emu:fault { path = "/auth/session", responses = { { redirect = "http://127.0.0.1:9/steal?key" } } }
    local _, err = client:get_session()
    assert.equal("http", err.kind)
    assert.equal(302, err.status)
    assert.equal("unexpected redirect to http://127.0.0.1:9/steal?key (redirects are not followed)", err.message)
    assert.equal(1, #emu:requests())
  end)

  it("the client keeps working after every kind of fault", function()
    for _, fault in ipairs {
      { close = "before" }, { close = "mid_body" }, { html_502 = true }, { status = 200, body = "x" },
      { huge = 40 * 1024 * 1024 }, { redirect = "http://127.0.0.1:9/" },
    } do
      emu:fault { path = "/auth/session", times = 0, responses = { fault } }
      local _, err = client:get_session { max_retries = 1 }
      assert.is_not_nil(err)
      emu:clear_faults()
      local session
      session, err = client:get_session()
      assert.is_nil(err)
      assert.equal("user-1", session.user.id)
    end
  end)
end)

describe("raw responses", function()
  local emu, client
  helpers.use_emulator({}, nil, function(e, c) emu, client = e, c end)

  it("opts.raw adds what happened on the wire, without a second request", function()
    local session, err, resp = client:get_session { raw = true }
    assert.is_nil(err)
    assert.equal("user-1", session.user.id)
    assert.equal(200, resp.status)
    assert.equal("application/json", resp.headers["content-type"])
    assert.matches("^req%-%d+$", resp.request_id)
    assert.equal(1, resp.attempts)
    assert.equal(0, resp.retries)
    assert.is_true(resp.elapsed > 0)
    assert.equal("GET", resp.method)
    assert.equal("/auth/session", resp.path)
    assert.equal(1, #emu:requests())
  end)

  it("comes with failures too, and err carries the same fields", function()
    local _, err, resp = client:get_team_secret("team-1", "NOPE", { raw = true })
    assert.equal(404, resp.status)
    assert.equal(404, err.status)
    assert.equal(resp.request_id, err.request_id)
    assert.equal(1, err.attempts)
    assert.is_number(err.elapsed)
    assert.equal(err.headers["x-request-id"], resp.headers["x-request-id"])
  end)

  it("for a list, counts the pages", function()
    emu:configure { paged = true, page_size = 2 }
    local members, _, resp = client:list_team_members("team-1", { raw = true })
    emu:configure { paged = false }
    assert.equal(5, #members)
    assert.equal(3, resp.pages)
    assert.equal(200, resp.status)
  end)

  it("is refused by iterators, which have no place to return it", function()
    assert.has_error(function() client:each_team_member("team-1", { raw = true }) end,
      "bad argument #2 to 'each_team_member' (iterators do not take opts.raw: use list_team_members "
      .. "with raw = true, or client:last_response())")
  end)
end)
