-- Contract tests: every API operation of the library is sent to a Prism mock
-- server of openapi/paperspace-team-auth.yml, which validates each request
-- against the description (method, path, parameters, security, body).
--
-- Prism must be installed (scripts/install-prism); without it these tests
-- fail rather than skip, so CI cannot pass without running them.
--
-- A request passes when (a) the library call succeeds (Prism answers an
-- invalid request with 401/415/422, which the library returns as
-- `nil, err`), and (b) Prism's own log shows exactly that one request, at the
-- expected path, with no validation complaint or `Violation:` line (the log
-- carries the same findings as the `sl-violations` response header). The
-- "negative controls" block proves with hand-made requests that Prism does
-- reject invalid ones and that the log check notices, so the positive
-- assertions cannot pass vacuously.

local cjson = require "cjson"
local prism = require "spec.support.prism"

local TEAM = "t1"
local PAGE = { limit = 10, after = "cursor-1", order_by = "name", order = "asc" }

describe("API contract (Prism mock of openapi/paperspace-team-auth.yml)", function()
  local server, client

  setup(function()
    local ok, why = prism.available()
    assert(ok, "the contract tests need the Prism mock server: " .. tostring(why))
    local err
    server, err = prism.start{ spec = "openapi/paperspace-team-auth.yml" }
    assert(server, err)
    local paperspace = require "paperspace"
    -- Prism serves the routes at its root: no "/v1" in the base URL.
    client = paperspace.new{ api_key = "test-key", base_url = server.url }
  end)

  teardown(function()
    if client then client:close() end
    if server then server:stop() end
  end)

  -- Percent escapes compare case-insensitively ("%2f" == "%2F").
  local function norm(path)
    return (path:gsub("%%%x%x", string.upper))
  end

  -- Runs `fn` (a library call) and checks that Prism saw exactly one request,
  -- `method path` (path without query), and accepted it. Returns fn's results.
  local function accepted(method, path, fn)
    local mark = server:mark()
    local res = table.pack(fn())
    local reqs = server:requests_since(mark)
    local seen = {}
    for i, r in ipairs(reqs) do seen[i] = r.method .. " " .. r.path end
    assert.are.equal(1, #reqs, "requests Prism received: [" .. table.concat(seen, ", ")
      .. "]\nlog " .. server.log .. ":\n" .. server:log_tail())
    assert.are.equal(method:lower() .. " " .. norm(path), reqs[1].method .. " " .. norm(reqs[1].path))
    assert.are.same({}, reqs[1].problems, "Prism reported:\n" .. table.concat(reqs[1].problems, "\n"))
    return table.unpack(res, 1, res.n)
  end

  local function check_member(m)
    assert.is_table(m)
    assert.is_string(m.userId)
    assert.is_string(m.email)
    assert.is_boolean(m.isAdmin)
    assert.is_string(m.teamId)
  end

  local function check_secret(s)
    assert.is_table(s)
    assert.is_string(s.name)
    assert.is_string(s.dtCreated)
    assert.is_nil(s.value, "secret values are never returned")
  end

  local function check_list(list, check)
    assert.is_table(list)
    assert.is_true(#list >= 1, "Prism mocks lists with one element")
    for _, item in ipairs(list) do check(item) end
  end

  describe("authentication", function()
    it("get_session", function()
      local s, err = accepted("GET", "/auth/session", function() return client:get_session() end)
      assert.is_nil(err, err and tostring(err))
      -- The schema is nullable, but Prism's static mock is always an object
      -- with user and team, built from the schema.
      assert.is_table(s)
      assert.is_string(s.user.id)
      assert.is_string(s.user.email)
      assert.is_string(s.team.id)
      assert.is_string(s.team.namespace)
    end)
  end)

  describe("team members", function()
    it("list_team_members", function()
      local list, err = accepted("GET", "/teams/t1/users", function()
        return client:list_team_members(TEAM)
      end)
      assert.is_nil(err, err and tostring(err))
      check_list(list, check_member)
    end)

    it("list_team_members with paging options", function()
      local list, err = accepted("GET", "/teams/t1/users", function()
        return client:list_team_members(TEAM, PAGE)
      end)
      assert.is_nil(err, err and tostring(err))
      check_list(list, check_member)
    end)

    it("update_team_member (isAdmin = true)", function()
      local m, err = accepted("PUT", "/teams/t1/users/u1", function()
        return client:update_team_member(TEAM, "u1", { isAdmin = true })
      end)
      assert.is_nil(err, err and tostring(err))
      check_member(m)
    end)

    it("update_team_member (isAdmin = false)", function()
      local m, err = accepted("PUT", "/teams/t1/users/u2", function()
        return client:update_team_member(TEAM, "u2", { isAdmin = false })
      end)
      assert.is_nil(err, err and tostring(err))
      check_member(m)
    end)

    it("remove_team_member", function()
      local ok, err = accepted("DELETE", "/teams/t1/users/u1", function()
        return client:remove_team_member(TEAM, "u1")
      end)
      assert.is_nil(err, err and tostring(err))
      assert.is_true(ok)
    end)
  end)

  describe("team secrets", function()
    it("list_team_secrets", function()
      local list, err = accepted("GET", "/teams/t1/secrets", function()
        return client:list_team_secrets(TEAM)
      end)
      assert.is_nil(err, err and tostring(err))
      check_list(list, check_secret)
    end)

    it("list_team_secrets with paging options", function()
      local list, err = accepted("GET", "/teams/t1/secrets", function()
        return client:list_team_secrets(TEAM, PAGE)
      end)
      assert.is_nil(err, err and tostring(err))
      check_list(list, check_secret)
    end)

    it("create_team_secret", function()
      local s, err = accepted("POST", "/teams/t1/secrets", function()
        return client:create_team_secret(TEAM, { name = "DB_PASSWORD", value = "s3cr3t" })
      end)
      assert.is_nil(err, err and tostring(err))
      check_secret(s)
    end)

    it("get_team_secret", function()
      local s, err = accepted("GET", "/teams/t1/secrets/DB_PASSWORD", function()
        return client:get_team_secret(TEAM, "DB_PASSWORD")
      end)
      assert.is_nil(err, err and tostring(err))
      check_secret(s)
    end)

    it("get_team_secret with a name that needs escaping", function()
      local s, err = accepted("GET", "/teams/t1/secrets/a%20b%2Fc", function()
        return client:get_team_secret(TEAM, "a b/c")
      end)
      assert.is_nil(err, err and tostring(err))
      check_secret(s)
    end)

    it("update_team_secret", function()
      local s, err = accepted("PATCH", "/teams/t1/secrets/DB_PASSWORD", function()
        return client:update_team_secret(TEAM, "DB_PASSWORD", { value = "n3w" })
      end)
      assert.is_nil(err, err and tostring(err))
      check_secret(s)
    end)

    it("update_team_secret with a name that needs escaping", function()
      local s, err = accepted("PATCH", "/teams/t1/secrets/a%20b%2Fc", function()
        return client:update_team_secret(TEAM, "a b/c", { value = "n3w" })
      end)
      assert.is_nil(err, err and tostring(err))
      check_secret(s)
    end)

    it("delete_team_secret", function()
      local ok, err = accepted("DELETE", "/teams/t1/secrets/DB_PASSWORD", function()
        return client:delete_team_secret(TEAM, "DB_PASSWORD")
      end)
      assert.is_nil(err, err and tostring(err))
      assert.is_true(ok)
    end)

    it("delete_team_secret with a name that needs escaping", function()
      local ok, err = accepted("DELETE", "/teams/t1/secrets/a%20b%2Fc", function()
        return client:delete_team_secret(TEAM, "a b/c")
      end)
      assert.is_nil(err, err and tostring(err))
      assert.is_true(ok)
    end)
  end)

  describe("negative controls", function()
    local AUTH = { Authorization = "Bearer test-key" }
    local JSON = { Authorization = "Bearer test-key", ["Content-Type"] = "application/json" }

    -- Sends a hand-made request and returns status, headers, decoded body,
    -- and what Prism logged about it.
    local function raw(method, path, headers, body)
      local mark = server:mark()
      local status, h, text = server:request(method, path, { headers = headers, body = body })
      assert(status, h)
      local reqs = server:requests_since(mark)
      assert.are.equal(1, #reqs)
      local decoded = text ~= "" and cjson.decode(text) or nil
      return status, h, decoded, reqs[1]
    end

    local function assert_rejected(expect_status, status, h, body, req)
      assert.are.equal(expect_status, status)
      assert.are.equal("application/problem+json", h["content-type"])
      assert.is_table(body)
      assert.are.equal(expect_status, body.status)
      -- The log check used by the positive tests sees the rejection too.
      assert.is_true(#req.problems > 0, "no problem logged for a rejected request")
    end

    it("a valid hand-made request passes, without sl-violations", function()
      local status, h, body, req = raw("PUT", "/teams/t1/users/u1", JSON, '{"isAdmin":true}')
      assert.are.equal(200, status)
      assert.is_nil(h["sl-violations"])
      assert.is_boolean(body.isAdmin)
      assert.are.same({}, req.problems)
    end)

    it("rejects isAdmin that is not a boolean (422)", function()
      local status, h, body, req = raw("PUT", "/teams/t1/users/u1", JSON, '{"isAdmin":"yes"}')
      assert_rejected(422, status, h, body, req)
      assert.are.same({ "body", "isAdmin" }, body.validation[1].location)
      assert.are.equal("type", body.validation[1].code)
    end)

    it("rejects a secret without value (422)", function()
      local status, h, body, req = raw("POST", "/teams/t1/secrets", JSON, '{"name":"N"}')
      assert_rejected(422, status, h, body, req)
      assert.are.equal("required", body.validation[1].code)
    end)

    it("rejects a secret without name (422)", function()
      local status, h, body, req = raw("POST", "/teams/t1/secrets", JSON, '{"value":"V"}')
      assert_rejected(422, status, h, body, req)
      assert.are.equal("required", body.validation[1].code)
    end)

    it("rejects a secret update without value (422)", function()
      local status, h, body, req = raw("PATCH", "/teams/t1/secrets/S", JSON, "{}")
      assert_rejected(422, status, h, body, req)
      assert.are.equal("required", body.validation[1].code)
    end)

    it("rejects a required body that is missing (422)", function()
      local status, h, body, req = raw("PUT", "/teams/t1/users/u1", AUTH)
      assert_rejected(422, status, h, body, req)
    end)

    it("rejects a JSON body sent without Content-Type application/json (415)", function()
      local status, h, body, req = raw("PATCH", "/teams/t1/secrets/S",
        { Authorization = "Bearer test-key", ["Content-Type"] = "text/plain" }, '{"value":"V"}')
      assert_rejected(415, status, h, body, req)
    end)

    it("rejects a request without a bearer token (401)", function()
      local status, h, body, req = raw("GET", "/teams/t1/secrets", {})
      assert_rejected(401, status, h, body, req)
      assert.are.equal("Bearer", h["www-authenticate"])
    end)

    it("serves the API at its root, not under /v1 (404)", function()
      local status, h, body, req = raw("GET", "/v1/auth/session", AUTH)
      assert_rejected(404, status, h, body, req)
    end)

    it("a rejection reaches the library as nil, err", function()
      -- Same server, wrong base path: every route is unknown to Prism.
      local paperspace = require "paperspace"
      local c = paperspace.new{ api_key = "test-key", base_url = server.url .. "/v1" }
      local v, err = c:get_session()
      c:close()
      assert.is_nil(v)
      assert.is_table(err)
      assert.are.equal(404, err.status)
      assert.is_string(err.kind)
      assert.is_string(tostring(err))
    end)
  end)
end)
