-- How requests are built and sent: URLs, percent-encoding, headers, bodies,
-- argument checks (which send nothing) and the kept-alive connection.
local helpers = require "spec.support.helpers"
local core = require "paperspace.core"
local paperspace = require "paperspace"
local cjson = require "cjson"

describe("percent-encoding of a path segment", function()
  -- Seen where a user sees it: the path of the error of a call to a port
  -- that refuses connections.
  local function path_of(name)
    local c = paperspace.new { api_key = "k-123456", base_url = "http://127.0.0.1:1", max_retries = 0 }
    local value, err = c:get_team_secret("t", name)
    c:close()
    assert.is_nil(value)
    return err.path
  end

  it("keeps only RFC 3986's unreserved characters", function()
    assert.equal("/teams/t/secrets/a%20b%2Fc%3Fd%23e%25", path_of("a b/c?d#e%"))
    assert.equal("/teams/t/secrets/AZaz09-._~", path_of("AZaz09-._~"))
    assert.equal("/teams/t/secrets/%C3%A9t%C3%A9", path_of("été"))
    assert.equal("/teams/t/secrets/%2B%26%3D%3B%40%5C%09%7F", path_of("+&=;@\\\t\127"))
  end)
end)

describe("building requests", function()
  local client
  before_each(function()
    client = paperspace.new { api_key = "k-123456", base_url = "https://api.example.com/v1/" }
  end)
  after_each(function() client:close() end)

  local function build(...) return client._core:build(...) end

  it("joins the base URL (trailing slash dropped) and the path", function()
    local method, url = build("get_session")
    assert.equal("GET", method)
    assert.equal("https://api.example.com/v1/auth/session", url)
  end)

  it("makes each id or name exactly one segment", function()
    local _, url = build("get_team_secret", "t/1", "a b/c?d#e%")
    assert.equal("https://api.example.com/v1/teams/t%2F1/secrets/a%20b%2Fc%3Fd%23e%25", url)
    _, url = build("update_team_member", "t1", "../x", { isAdmin = false })
    assert.equal("https://api.example.com/v1/teams/t1/users/..%2Fx", url)
  end)

  it("refuses '.' and '..' so no segment can climb out of its place", function()
    assert.has_error(function() build("get_team_secret", "t1", "..") end,
      "bad argument #2 to 'get_team_secret' (name must not be '.' or '..')")
    assert.has_error(function() build("list_team_members", ".") end,
      "bad argument #1 to 'list_team_members' (team_id must not be '.' or '..')")
  end)

  it("encodes the list options as the API's query parameters", function()
    local _, url = build("list_team_secrets", "t1",
      { limit = 50, after = "c/1 2", order_by = "dtCreated", order = "desc" })
    assert.equal("https://api.example.com/v1/teams/t1/secrets?limit=50&after=c%2F1%202&orderBy=dtCreated&order=desc", url)
  end)

  it("encodes bodies as JSON with only the operation's fields", function()
    local method, _, body = build("create_team_secret", "t1", { name = "N", value = "line1\nline2 \"q\"" })
    assert.equal("POST", method)
    assert.same({ name = "N", value = "line1\nline2 \"q\"" }, cjson.decode(body))
    method, _, body = build("update_team_member", "t1", "u1", { isAdmin = false })
    assert.equal("PUT", method)
    assert.same({ isAdmin = false }, cjson.decode(body))
    method, _, body = build("update_team_secret", "t1", "N", { value = "" })
    assert.equal("PATCH", method)
    assert.same({ value = "" }, cjson.decode(body))
    method, _, body = build("delete_team_secret", "t1", "N")
    assert.equal("DELETE", method)
    assert.is_nil(body)
  end)
end)

describe("argument errors", function()
  local emu, client
  helpers.use_emulator({}, nil, function(e, c) emu, client = e, c end)

  local cases = {
    { "a table for an id", function(c) return c:get_team_secret({}, "x") end,
      "bad argument #1 to 'get_team_secret' (team_id must be a string or an integer, got table)" },
    { "an empty id", function(c) return c:list_team_members("") end,
      "bad argument #1 to 'list_team_members' (team_id must not be empty)" },
    { "a fractional number for an id", function(c) return c:remove_team_member("t", 1.5) end,
      "bad argument #2 to 'remove_team_member' (user_id must be a string or an integer, got 1.5, which is not an integer)" },
    { "a newline in a name", function(c) return c:get_team_secret("team-1", "A\nB") end,
      "bad argument #2 to 'get_team_secret' (name must not contain NUL, CR or LF)" },
    { "a missing secret value", function(c) return c:create_team_secret("team-1", { name = "A" }) end,
      "bad argument #2 to 'create_team_secret' (body.value is required)" },
    { "a number for a secret value", function(c) return c:create_team_secret("team-1", { name = "A", value = 5 }) end,
      "bad argument #2 to 'create_team_secret' (body.value must be a string, got number)" },
    { "a non-boolean isAdmin", function(c) return c:update_team_member("team-1", "user-1", { isAdmin = "true" }) end,
      "bad argument #3 to 'update_team_member' (body.isAdmin must be a boolean, got string)" },
    { "a misspelt body field", function(c) return c:update_team_member("team-1", "user-1", { is_admin = true, isAdmin = true }) end,
      "bad argument #3 to 'update_team_member' (body has an unknown field 'is_admin' (update_team_member takes isAdmin))" },
    { "a missing body", function(c) return c:update_team_secret("team-1", "A") end,
      "bad argument #3 to 'update_team_secret' (body must be a table, got nil)" },
    { "a limit over 120", function(c) return c:list_team_secrets("team-1", { limit = 121 }) end,
      "bad argument #2 to 'list_team_secrets' (opts.limit must be an integer from 1 to 120)" },
    { "an unknown order", function(c) return c:list_team_secrets("team-1", { order = "up" }) end,
      "bad argument #2 to 'list_team_secrets' (opts.order must be \"asc\" or \"desc\")" },
    { "an unknown option", function(c) return c:get_session { timout = 3 } end,
      "bad argument #1 to 'get_session' (unknown option opts.timout)" },
    { "a negative timeout", function(c) return c:get_session { timeout = -1 } end,
      "bad argument #1 to 'get_session' (opts.timeout must be a positive number of seconds)" },
    { "opts that are not a table", function(c) return c:get_team_secret("team-1", "A", "fast") end,
      "bad argument #3 to 'get_team_secret' (opts must be a table, got string)" },
    { "list options on a single call", function(c) return c:get_team_secret("team-1", "A", { limit = 5 }) end,
      "bad argument #3 to 'get_team_secret' (unknown option opts.limit)" },
    { "opts that are a number", function(c) return c:get_session(5) end,
      "bad argument #1 to 'get_session' (opts must be a table, got number)" },
    { "list opts that are a boolean", function(c) return c:list_team_members("team-1", true) end,
      "bad argument #2 to 'list_team_members' (opts must be a table, got boolean)" },
    { "a method called with a dot", function(c) return c.get_session() end,
      "paperspace: call client:get_session(...) with a colon" },
  }

  for _, case in ipairs(cases) do
    it("raises at once, naming the argument, for " .. case[1] .. ", and sends nothing", function()
      local ok, msg = pcall(case[2], client)
      assert.is_false(ok)
      assert.is_string(msg)
      -- Reported at the caller's line, not inside the library.
      assert.matches("^spec/request_spec%.lua:%d+: ", msg)
      assert.equal(case[3], msg:gsub("^spec/request_spec%.lua:%d+: ", ""))
      assert.equal(0, #emu:requests())
    end)
  end
end)

describe("what goes on the wire", function()
  local emu, client
  helpers.use_emulator({}, { user_agent = "my-ci/1.2" }, function(e, c) emu, client = e, c end)

  it("sends the bearer key, Accept, and the User-Agent with its suffix", function()
    assert(client:get_session())
    local r = emu:requests()[1]
    assert.equal("Bearer " .. emu.api_key, r.headers["authorization"])
    assert.equal("application/json", r.headers["accept"])
    assert.is_nil(r.headers["content-type"])
    local lua = type(jit) == "table" and jit.version or _VERSION
    assert.equal(string.format("lua-paperspace/%s (%s; libcurl/%s) my-ci/1.2",
      paperspace._VERSION, lua, core.curl_version), r.headers["user-agent"])
  end)

  it("offers the encodings libcurl decodes, each once, on every method", function()
    assert(client:get_session())
    assert(client:create_team_secret("team-1", { name = "AE", value = "ae-value" }))
    assert(client:delete_team_secret("team-1", "AE"))
    for _, r in ipairs(emu:requests()) do
      local offered, seen = r.headers["accept-encoding"], {}
      assert.is_string(offered)
      for token in offered:gmatch("[^,%s]+") do
        assert.is_nil(seen[token], "offered twice: " .. offered)
        seen[token] = true
      end
      assert.is_true(seen.gzip, offered) -- Debian's libcurl decodes gzip
    end
  end)

  it("sends Content-Type only with a body", function()
    assert(client:create_team_secret("team-1", { name = "CT", value = "ct-value" }))
    assert(client:delete_team_secret("team-1", "CT"))
    local reqs = emu:requests()
    assert.equal("application/json", reqs[1].headers["content-type"])
    assert.is_nil(reqs[2].headers["content-type"])
    assert.equal("", reqs[2].body)
  end)

  it("round-trips a name that needs every kind of escaping", function()
    local name = "a b/c?d#e%"
    assert(client:create_team_secret("team-1", { name = name, value = "weird-value" }))
    local s = assert(client:get_team_secret("team-1", name))
    assert.equal(name, s.name)
    local r = emu:requests()[2]
    assert.equal("/teams/team-1/secrets/a%20b%2Fc%3Fd%23e%25", r.path)
    assert.is_nil(r.query)
  end)

  it("sends no Authorization header when no key is configured", function()
    local anon = paperspace.new { base_url = emu.url, api_key = "" }
    local _, err = anon:get_session()
    anon:close()
    assert.is_nil(emu:requests()[1].headers["authorization"])
    assert.equal("authentication", err.kind)
  end)

  it("keeps one TCP connection alive across many calls of every kind", function()
    for i = 1, 20 do
      assert(client:get_session())
      assert(client:list_team_members("team-1"))
      assert(client:create_team_secret("team-1", { name = "K" .. i, value = "keep-" .. i }))
      assert(client:update_team_secret("team-1", "K" .. i, { value = "kept-" .. i }))
      assert(client:delete_team_secret("team-1", "K" .. i))
    end
    local reqs = emu:requests()
    assert.equal(100, #reqs)
    for _, r in ipairs(reqs) do assert.equal(reqs[1].connection, r.connection) end
  end)

  it("gives each client its own connection", function()
    local other = helpers.client(emu)
    assert(client:get_session())
    assert(other:get_session())
    other:close()
    local reqs = emu:requests()
    assert.not_equal(reqs[1].connection, reqs[2].connection)
  end)

  it("reports what the last attempt got on the wire", function()
    assert(client:get_session())
    local r = client:last_response()
    assert.equal(200, r.status)
    assert.equal("GET", r.method)
    assert.equal(emu.url .. "/auth/session", r.url)
    assert.matches("^req%-%d+$", r.request_id)
    assert.equal(r.request_id, r.headers["x-request-id"])
    assert.is_number(r.elapsed)
  end)

  it("never mixes the record of one call with the request of a refused one", function()
    assert(client:get_session())
    assert.has_error(function() client:list_team_members("t1", { limit = 500 }) end)
    local r = client:last_response()
    assert.is_true(r == nil or r.path == "/auth/session")
    assert(client:list_team_members("team-1"))
    r = client:last_response()
    assert.equal("/teams/team-1/users", r.path)
    assert.equal(200, r.status)
  end)

  it("build neither sends nor changes the last record", function()
    assert(client:get_session())
    emu:clear_requests()
    local method, url = client._core:build("list_team_members", "team-1", { limit = 3 })
    assert.equal("GET", method)
    assert.equal(emu.url .. "/teams/team-1/users?limit=3", url)
    assert.equal("/auth/session", client:last_response().path)
    assert.equal(0, #emu:requests())
  end)
end)

describe("numbers", function()
  local emu
  setup(function() emu = helpers.emulator() end)
  teardown(function() emu:stop() end)

  it("an integer id above 2^53 is sent exactly", function()
    if math.type == nil then return end -- every number is a double before 5.3
    local client = helpers.client(emu)
    local _, url = client._core:build("get_team_secret", 9007199254740993, "x")
    assert.equal(emu.url .. "/teams/9007199254740993/secrets/x", url)
    client:close()
  end)

  it("a float with an integer value is an integer, on every Lua", function()
    local client = helpers.client(emu)
    local _, url = client._core:build("list_team_members", 10.0, { limit = 5.0 })
    assert.equal(emu.url .. "/teams/10/users?limit=5", url)
    client:close()
  end)

  it("max_response_bytes = math.huge means no limit", function()
    local client = helpers.client(emu, { max_response_bytes = math.huge })
    local session, err = client:get_session()
    assert.is_nil(err)
    assert.equal("user-1", session.user.id)
    client:close()
  end)
end)

describe("a closed client", function()
  it("raises a clear error on every call, and closing twice is fine", function()
    local client = paperspace.new { api_key = "k", base_url = "http://127.0.0.1:9" }
    client:close()
    client:close()
    assert.has_error(function() client:get_session() end, "paperspace: the client is closed")
    assert.has_error(function() client:team("t"):secrets() end, "paperspace: the client is closed")
  end)

  it("closes at the end of a <close> scope on Lua 5.4", function()
    if _VERSION ~= "Lua 5.4" then return end
    local chunk = assert(load([[
      local paperspace = ...
      local c <close> = paperspace.new { api_key = "k", base_url = "http://127.0.0.1:9" }
      return c
    ]]))
    local c = chunk(paperspace)
    assert.has_error(function() c:get_session() end, "paperspace: the client is closed")
  end)
end)
