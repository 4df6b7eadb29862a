-- Retries end to end against the emulator's scripted faults.
local helpers = require "spec.support.helpers"
local paperspace = require "paperspace"

-- A fast retry: the server asks for 1 ms, so the specs do not sleep.
local FAST = { ["retry-after-ms"] = "1" }

local function unavailable(n, extra)
  local list = {}
  for i = 1, n do
    list[i] = { status = 503, headers = FAST, body = { code = "UNAVAILABLE", message = "try later" } }
  end
  if extra then list[#list + 1] = extra end
  return list
end

describe("retries", function()
  local emu, client
  helpers.use_emulator({}, nil, function(e, c) emu, client = e, c end)

  local function methods()
    local list = {}
    for _, r in ipairs(emu:requests()) do list[#list + 1] = r.method end
    return list
  end

  it("retries a 503 twice by default and then succeeds", function()
    emu:fault { path = "/auth/session", responses = unavailable(2) }
    local session, err, resp = client:get_session { raw = true }
    assert.is_nil(err)
    assert.equal("user-1", session.user.id)
    assert.equal(3, resp.attempts)
    assert.equal(2, resp.retries)
    assert.equal(200, resp.status)
    assert.equal(3, #emu:requests())
  end)

  it("gives up after max_retries and says how many attempts were made", function()
    emu:fault { path = "/auth/session", responses = unavailable(5) }
    local _, err = client:get_session()
    assert.equal("server_error", err.kind)
    assert.equal(3, err.attempts)
    assert.is_true(err.retryable)
    assert.matches("3 attempts%)$", tostring(err))
    assert.equal(3, #emu:requests())
  end)

  it("takes max_retries per client and per call", function()
    emu:fault { path = "/auth/session", responses = unavailable(10) }
    local c = helpers.client(emu, { max_retries = 4 })
    local _, err = c:get_session()
    c:close()
    assert.equal(5, err.attempts)
    emu:clear_requests()
    _, err = client:get_session { max_retries = 0 }
    assert.equal(1, err.attempts)
    assert.equal(1, #emu:requests())
  end)

  it("retries 408, 429, 500, 502 and 504 too", function()
    for _, status in ipairs { 408, 429, 500, 502, 504 } do
      emu:reset()
      emu:fault { path = "/auth/session", responses = { { status = status, headers = FAST } } }
      local session, err, resp = client:get_session { raw = true }
      assert.is_nil(err, status)
      assert.is_table(session)
      assert.equal(2, resp.attempts, status)
    end
  end)

  it("never retries other 4xx", function()
    for _, status in ipairs { 400, 401, 403, 404, 409, 422 } do
      emu:reset()
      emu:fault { path = "/auth/session", responses = { { status = status, headers = FAST } } }
      local _, err = client:get_session()
      assert.equal(status, err.status)
      assert.equal(1, err.attempts)
      assert.is_false(err.retryable)
      assert.equal(1, #emu:requests())
    end
  end)

  it("obeys x-should-retry either way", function()
    emu:fault { path = "/auth/session",
                responses = { { status = 400, headers = { ["x-should-retry"] = "true", ["retry-after-ms"] = "1" } } } }
    assert.is_table(client:get_session())
    assert.equal(2, #emu:requests())
    emu:reset()
    emu:fault { path = "/auth/session", responses = { { status = 503, headers = { ["x-should-retry"] = "false" } } } }
    local _, err = client:get_session()
    assert.equal(1, err.attempts)
    assert.is_false(err.retryable)
  end)

  it("waits what Retry-After asks", function()
    emu:fault { path = "/auth/session", responses = { { status = 429, headers = { ["retry-after"] = "1" } } } }
    local _, err, resp = client:get_session { raw = true }
    assert.is_nil(err)
    assert.equal(2, resp.attempts)
    assert.is_true(resp.elapsed >= 0.95, "elapsed " .. resp.elapsed)
  end)

  it("backs off when the server says nothing", function()
    emu:fault { path = "/auth/session", responses = { { status = 502 } } }
    local _, err, resp = client:get_session { raw = true }
    assert.is_nil(err)
    -- The first backoff is 0.5 s less up to a quarter of jitter.
    assert.is_true(resp.elapsed >= 0.37, "elapsed " .. resp.elapsed)
  end)

  describe("a POST (creating a secret)", function()
    it("is retried after 429 and 503: the server refused it without acting", function()
      emu:fault { method = "POST", path = "/teams/team-1/secrets",
                  responses = { { status = 429, headers = FAST }, { status = 503, headers = FAST } } }
      local secret, err, resp = client:create_team_secret("team-1", { name = "P", value = "post-value" }, { raw = true })
      assert.is_nil(err)
      assert.equal("P", secret.name)
      assert.equal(3, resp.attempts)
      assert.equal("post-value", emu:state().secrets.P.value)
    end)

    it("is not retried after a 500 or 502: it may have been carried out", function()
      for _, status in ipairs { 500, 502 } do
        emu:reset()
        emu:fault { method = "POST", path = "/teams/team-1/secrets", responses = { { status = status, headers = FAST } } }
        local _, err = client:create_team_secret("team-1", { name = "P", value = "post-value" })
        assert.equal(status, err.status)
        assert.equal(1, err.attempts)
        assert.same({ "POST" }, methods())
      end
    end)

    it("is not retried when the connection drops after the request was sent", function()
      emu:fault { method = "POST", path = "/teams/team-1/secrets", responses = { { close = "before" } } }
      local _, err = client:create_team_secret("team-1", { name = "P", value = "post-value" })
      assert.equal("connection", err.kind)
      assert.is_true(err.request_sent)
      assert.equal(1, err.attempts)
      assert.same({ "POST" }, methods())
    end)

    it("is retried when nothing could connect: the request never left", function()
      local dead = paperspace.new { api_key = "k-dead", base_url = "http://127.0.0.1:9", max_retries = 2 }
      local _, err = dead:create_team_secret("t", { name = "P", value = "post-value" }, { max_retries = 1 })
      dead:close()
      assert.equal("connection", err.kind)
      assert.is_false(err.request_sent)
      assert.equal(2, err.attempts)
    end)
  end)

  describe("a DELETE", function()
    it("whose retry answers 404 after a timeout is a success: the first attempt deleted it", function()
      assert(client:create_team_secret("team-1", { name = "D", value = "delete-me" }))
      -- The first DELETE is carried out, but its answer comes too late.
      emu:fault { method = "DELETE", path = "/teams/team-1/secrets/D", responses = { { delay = 1.5 } } }
      local ok, err, resp = client:delete_team_secret("team-1", "D", { timeout = 0.3, raw = true })
      assert.is_nil(err)
      assert.is_true(ok)
      assert.equal(2, resp.attempts)
      assert.is_nil(emu:state().secrets.D)
    end)

    it("whose retry answers 404 after a 503 is an error that says why", function()
      emu:fault { method = "DELETE", path = "/teams/team-1/secrets/NONE", responses = { { status = 503, headers = FAST } } }
      local ok, err = client:delete_team_secret("team-1", "NONE")
      assert.is_nil(ok)
      assert.equal("not_found", err.kind)
      assert.equal(2, err.attempts)
      assert.is_false(err.retryable)
      assert.matches("an earlier attempt got 503 server_error, which cannot have deleted it", err.message, 1, true)
    end)

    it("whose 404 comes after a timeout and then a 503 is still a success", function()
      -- No D3 on the server: as if the timed-out first attempt had deleted it.
      emu:fault { method = "DELETE", path = "/teams/team-1/secrets/D3",
                  responses = { { delay = 1.5 }, { status = 503, headers = FAST } } }
      local ok, err, resp = client:delete_team_secret("team-1", "D3", { timeout = 0.3, raw = true })
      assert.is_nil(err)
      assert.is_true(ok)
      assert.equal(3, resp.attempts)
    end)

    it("whose retry answers 404 after a 502 is a success: the gateway may have passed it on", function()
      -- No D2 on the server: as if the API had deleted it behind the 502.
      emu:fault { method = "DELETE", path = "/teams/team-1/secrets/D2", responses = {
        { status = 502, headers = FAST } } }
      local ok, err, resp = client:delete_team_secret("team-1", "D2", { raw = true })
      assert.is_nil(err)
      assert.is_true(ok)
      assert.equal(2, resp.attempts)
    end)

    it("answered 404 at once is an error", function()
      local ok, err = client:delete_team_secret("team-1", "NEVER")
      assert.is_nil(ok)
      assert.equal("not_found", err.kind)
      assert.equal(1, err.attempts)
    end)
  end)

  it("retries each page of a list on its own", function()
    emu:configure { paged = true, page_size = 2 }
    emu:fault { path = "/teams/team-1/users", times = 0,
                responses = { { pass = true }, { status = 503, headers = FAST }, { pass = true } } }
    local members, err, resp = client:list_team_members("team-1", { raw = true })
    emu:configure { paged = false }
    assert.is_nil(err)
    assert.equal(5, #members)
    assert.equal(3, resp.pages)
  end)
end)
