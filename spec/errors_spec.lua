-- Runtime failures: `nil, err` with a structured error object, for every
-- status the API can answer and every way a request can fail.
local helpers = require "spec.support.helpers"
local paperspace = require "paperspace"
local errors = require "paperspace.errors"

describe("error objects", function()
  local emu, client
  helpers.use_emulator({}, { max_retries = 0 }, function(e, c) emu, client = e, c end)

  local kinds = {
    { 400, "bad_request" }, { 401, "authentication" }, { 403, "permission_denied" },
    { 404, "not_found" }, { 409, "conflict" }, { 422, "unprocessable" },
    { 429, "rate_limited" }, { 500, "server_error" }, { 502, "server_error" },
    { 503, "server_error" }, { 418, "http" }, { 451, "http" },
  }
  for _, case in ipairs(kinds) do
    local status, kind = case[1], case[2]
    it("maps " .. status .. " to " .. kind .. " with the API's code and message", function()
      emu:fault { path = "/auth/session",
                  responses = { { status = status, headers = { ["x-request-id"] = "req-e" .. status },
                                  body = { code = "CODE_" .. status, message = "Message " .. status } } } }
      local value, err = client:get_session()
      assert.is_nil(value)
      assert.is_true(errors.is_error(err))
      assert.is_true(paperspace.is_error(err))
      assert.equal(kind, err.kind)
      assert.is_true(err:is(kind))
      assert.equal(status, err.status)
      assert.equal("CODE_" .. status, err.code)
      assert.equal("Message " .. status, err.message)
      assert.equal("req-e" .. status, err.request_id)
      assert.equal("GET", err.method)
      assert.equal(emu.url .. "/auth/session", err.url)
      assert.equal("/auth/session", err.path)
      assert.same({ code = "CODE_" .. status, message = "Message " .. status }, err.body)
      assert.equal("req-e" .. status, err.headers["x-request-id"])
      assert.equal(1, err.attempts)
      assert.equal(string.format("paperspace: %d %s: Message %d (GET /auth/session, request req-e%d)",
                                 status, kind, status, status), tostring(err))
    end)
  end

  it("reads well in one line for a real 404", function()
    local _, err = client:get_team_secret("team-1", "X")
    assert.equal("not_found", err.kind)
    assert.equal("NOT_FOUND", err.code)
    assert.matches("^paperspace: 404 not_found: .+ %(GET /teams/team%-1/secrets/X, request req%-%d+%)$",
                   tostring(err))
  end)

  it("says HTTP <status> and the body type when the error body is not JSON", function()
    emu:fault { path = "/auth/session", responses = { { html_502 = true } } }
    local _, err = client:get_session()
    assert.equal("server_error", err.kind)
    assert.equal(502, err.status)
    assert.is_nil(err.body)
    assert.is_nil(err.code)
    assert.matches("^HTTP 502 %(text/html", err.message)
  end)

  it("names the Location of a redirect, which is never followed", function()
    emu:fault { path = "/auth/session", responses = { { redirect = "http://127.0.0.1:9/elsewhere" } } }
    local _, err = client:get_session()
    assert.equal("http", err.kind)
    assert.equal(302, err.status)
    assert.matches("http://127.0.0.1:9/elsewhere", err.message, 1, true)
    assert.equal(1, #emu:requests())
  end)

  it("explains a 401 when no key was configured, naming PAPERSPACE_API_KEY", function()
    local anon = paperspace.new { base_url = emu.url, api_key = "", max_retries = 0 }
    local _, err = anon:get_session()
    anon:close()
    assert.equal("authentication", err.kind)
    assert.matches("no API key configured", err.message)
    assert.matches("PAPERSPACE_API_KEY", err.message)
  end)

  it("does not blame a missing key when a wrong one was sent", function()
    local wrong = paperspace.new { base_url = emu.url, api_key = "wrong-key", max_retries = 0 }
    local _, err = wrong:get_session()
    wrong:close()
    assert.equal("authentication", err.kind)
    assert.not_matches("PAPERSPACE_API_KEY", err.message)
    assert.not_matches("wrong%-key", tostring(err))
  end)

  for _, case in ipairs { { '"boom"', "boom" }, { "42", 42 }, { "null", paperspace.null }, { "[1, 2]", { 1, 2 } } } do
    it("keeps an error body that is JSON but not an object: " .. case[1], function()
      emu:fault { path = "/auth/session", responses = { { status = 500, body = case[1] } } }
      local _, err = client:get_session()
      assert.equal("server_error", err.kind)
      assert.equal(500, err.status)
      assert.same(case[2], err.body)
      assert.equal("HTTP 500", err.message)
      assert(client:get_session()) -- and the client goes on
    end)
  end

  it("invalid_response: a 200 whose body is not JSON", function()
    emu:fault { path = "/auth/session", responses = { { status = 200, body = "<html>hi</html>" } } }
    local _, err = client:get_session()
    assert.equal("invalid_response", err.kind)
    assert.equal(200, err.status)
    assert.matches("not valid JSON", err.message)
  end)

  it("invalid_response: a 200 with an empty body where JSON was promised", function()
    emu:fault { path = "/teams/team-1/secrets/E", responses = { { status = 200, body = "" } } }
    local _, err = client:get_team_secret("team-1", "E")
    assert.equal("invalid_response", err.kind)
    assert.matches("empty", err.message)
  end)

  it("invalid_response: null where an object was promised", function()
    emu:fault { path = "/teams/team-1/secrets/N", responses = { { status = 200, body = "null" } } }
    local _, err = client:get_team_secret("team-1", "N")
    assert.equal("invalid_response", err.kind)
  end)

  it("treats any 2xx as success, with or without a body", function()
    emu:fault { method = "DELETE", path = "/teams/team-1/secrets/A", responses = { { status = 200, body = "{}" } } }
    emu:fault { method = "DELETE", path = "/teams/team-1/secrets/B", responses = { { status = 202, body = "" } } }
    emu:fault { method = "DELETE", path = "/teams/team-1/secrets/C", responses = { { status = 204 } } }
    assert.is_true(client:delete_team_secret("team-1", "A"))
    assert.is_true(client:delete_team_secret("team-1", "B"))
    assert.is_true(client:delete_team_secret("team-1", "C"))
    emu:fault { method = "POST", path = "/teams/team-1/secrets",
                responses = { { status = 201, body = { name = "Z", dtCreated = "2026-01-01T00:00:00.000Z" } } } }
    local s = assert(client:create_team_secret("team-1", { name = "Z", value = "zzzz" }))
    assert.equal("Z", s.name)
  end)

  it("connection: nothing listening", function()
    local dead = paperspace.new { api_key = "k", base_url = "http://127.0.0.1:9", max_retries = 0 }
    local _, err = dead:get_session()
    dead:close()
    assert.equal("connection", err.kind)
    assert.is_nil(err.status)
    assert.matches("^paperspace: connection: .+ %(GET /auth/session%)$", tostring(err))
  end)

  it("timeout: a response slower than the timeout", function()
    emu:fault { path = "/auth/session", responses = { { delay = 2, status = 200, body = "null" } } }
    local _, err = client:get_session { timeout = 0.3 }
    assert.equal("timeout", err.kind)
  end)

  it("never puts the key or the secret value in an error", function()
    local key = emu.api_key
    emu:fault { method = "POST", path = "/teams/team-1/secrets",
                responses = { { status = 400, headers = { ["x-echo"] = "value=super-secret-value" },
                                body = { code = "BAD", message = "bad value super-secret-value for key " .. key,
                                         detail = { echoed = "super-secret-value" } } } } }
    local _, err = client:create_team_secret("team-1", { name = "S", value = "super-secret-value" })
    assert.equal("bad_request", err.kind)
    local everything = tostring(err) .. err.message .. err.body.detail.echoed .. err.headers["x-echo"] .. err.url
    assert.not_matches("super-secret-value", everything, 1, true)
    assert.not_matches(key, everything, 1, true)
    assert.matches("[REDACTED]", err.message, 1, true)
  end)
end)
