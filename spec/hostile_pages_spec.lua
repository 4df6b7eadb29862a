-- A server's pages cannot make a list raise, loop forever or grow without
-- bound: a cursor the client cannot send back, a cursor met twice and a list
-- longer than max_pages are each an invalid_response error, returned.
local helpers = require "spec.support.helpers"
local paperspace = require "paperspace"
local core = require "paperspace.core"

local USERS = "/teams/team-1/users"
local SECRETS = "/teams/team-1/secrets"

-- nextPage as the server writes it (JSON text), and what the error must say.
local HOSTILE = {
  { "NaN", "NaN", "a JSON number that cannot be sent back as an integer" },
  { "1e999", "1e999", "a JSON number that cannot be sent back as an integer" },
  { "-1e999", "-1e999", "a JSON number that cannot be sent back as an integer" },
  { "1.5", "1.5", "a JSON number that cannot be sent back as an integer (1.5)" },
  { "1e300", "1e300", "a JSON number that cannot be sent back as an integer" },
  { "{}", "{}", "an empty JSON object or array, not a string" },
  { "an object", '{"a": 1}', "a JSON object, not a string" },
  { "an array", '["c1"]', "a JSON array, not a string" },
  { "true", "true", "a JSON boolean, not a string" },
  { "false", "false", "a JSON boolean, not a string" },
  { '""', '""', "a JSON string that must not be empty" },
  { '"."', '"."', "a JSON string that must not be '.' or '..'" },
  { '".."', '".."', "a JSON string that must not be '.' or '..'" },
  { '"a\\nb"', '"a\\nb"', "a JSON string that must not contain NUL, CR or LF" },
  { '"a\\rb"', '"a\\rb"', "a JSON string that must not contain NUL, CR or LF" },
  { '"a\\u0000b"', '"a\\u0000b"', "a JSON string that must not contain NUL, CR or LF" },
}

local function page(cursor_json)
  return '{"items": [{"userId": "u1", "email": "u1@example.com"}], "hasMore": true, "nextPage": '
    .. cursor_json .. '}'
end

local function assert_cursor_error(err, want, path)
  assert.is_true(paperspace.is_error(err), "not an error object: " .. tostring(err))
  assert.equal("invalid_response", err.kind)
  assert.matches("the API's nextPage cursor is ", err.message, 1, true)
  assert.matches(want, err.message, 1, true)
  assert.equal(200, err.status)
  assert.equal("GET", err.method)
  assert.equal(path, err.path:match("^[^?]*"))
  assert.matches("^req%-%d+$", err.request_id)
  assert.equal(1, err.attempts)
  assert.not_matches("bad argument", tostring(err))
end

describe("a hostile nextPage", function()
  local emu, client
  helpers.use_emulator({ paged = true, page_size = 2 }, { max_retries = 0 },
                       function(e, c) emu, client = e, c end)

  for _, case in ipairs(HOSTILE) do
    it("(" .. case[1] .. ") is nil, err from list_* and team:members(), and the client goes on", function()
      emu:fault { path = USERS, times = 2, responses = { { status = 200, body = page(case[2]) } } }
      local members, err = client:list_team_members("team-1")
      assert.is_nil(members)
      assert_cursor_error(err, case[3], USERS)
      members, err = client:team("team-1"):members()
      assert.is_nil(members)
      assert_cursor_error(err, case[3], USERS)
      assert.equal(2, #emu:requests())
      assert.equal(5, #assert(client:list_team_members("team-1")))
    end)
  end

  it("from team:secrets() and each_team_secret is the same error", function()
    emu:fault { path = SECRETS, times = 2, responses = { { status = 200,
                body = '{"items": [{"name": "A"}], "hasMore": true, "nextPage": 2.5}' } } }
    local secrets, err = client:team("team-1"):secrets()
    assert.is_nil(secrets)
    assert_cursor_error(err, "(2.5)", SECRETS)
    local names = {}
    local ok, raised = pcall(function()
      for s in client:each_team_secret("team-1") do names[#names + 1] = s.name end
    end)
    assert.is_false(ok)
    assert.same({}, names)
    assert_cursor_error(raised, "(2.5)", SECRETS)
  end)

  for _, case in ipairs { HOSTILE[1], HOSTILE[6], HOSTILE[9], HOSTILE[13], HOSTILE[14] } do
    it("(" .. case[1] .. ") in each_* raises the error object, not an argument error", function()
      emu:fault { path = USERS, responses = { { status = 200, body = page(case[2]) } } }
      local seen = 0
      local ok, raised = pcall(function()
        for _ in client:team("team-1"):each_member() do seen = seen + 1 end
      end)
      assert.is_false(ok)
      assert.equal(0, seen) -- a page that cannot be followed is refused whole
      assert_cursor_error(raised, case[3], USERS)
    end)

    it("(" .. case[1] .. ") inside gather keeps the other results", function()
      emu:fault { path = USERS, responses = { { status = 200, body = page(case[2]) } } }
      local results, failed = client:gather {
        { "get_session" },
        { "list_team_members", "team-1" },
        function() return client:team("team-1"):secret("NONE") end,
      }
      assert.equal(2, failed)
      assert.equal("user-1", results[1][1].user.id)
      assert.is_nil(results[2][1])
      assert_cursor_error(results[2][2], case[3], USERS)
      assert.equal("not_found", results[3][2].kind)
    end)
  end

  it("an integer cursor is sent back as it is", function()
    emu:fault { path = USERS, responses = {
      { status = 200, body = '{"items": [{"userId": "u1"}], "hasMore": true, "nextPage": 7}' },
      { status = 200, body = '{"items": [{"userId": "u2"}], "hasMore": false, "nextPage": null}' } } }
    local members = assert(client:list_team_members("team-1"))
    assert.equal(2, #members)
    assert.equal("7", emu:requests()[2].args.after)
  end)

  it("a cursor met twice is caught, also when it is the caller's own after", function()
    emu:fault { path = USERS, responses = { { status = 200, body = page('"start"') } } }
    local members, err = client:list_team_members("team-1", { after = "start" })
    assert.is_nil(members)
    assert.equal("the API returned the cursor start twice", err.message)
    assert.equal(1, #emu:requests())
  end)

  it("a repeated cursor is quoted with its control bytes escaped", function()
    emu:fault { path = USERS, times = 0, responses = { { status = 200, body = page('"c\\u001b[31m"') } } }
    local _, err = client:list_team_members("team-1")
    assert.equal("the API returned the cursor c\\027[31m twice", err.message)
    assert.equal(2, #emu:requests())
  end)
end)

describe("a list that never ends", function()
  local emu, client
  helpers.use_emulator({ paged = true }, { max_retries = 0, max_pages = 5 },
                       function(e, c) emu, client = e, c end)

  -- Every page has more, with a cursor never seen before.
  local function endless(path, item)
    emu:fault { path = path, times = 0, responses = { { status = 200, sequence = true,
                body = '{"items": [' .. (item or "") .. '], "hasMore": true, "nextPage": "c{n}"}' } } }
  end

  local function assert_too_many(err, max_pages, path)
    assert.equal("invalid_response", err.kind)
    assert.equal(string.format("the list has more than max_pages (%d) pages: "
                               .. "set a larger max_pages to read further", max_pages), err.message)
    assert.equal(200, err.status)
    assert.equal(path, err.path:match("^[^?]*"))
    assert.equal(1, err.attempts)
  end

  it("stops at the client's max_pages", function()
    endless(USERS, '{"userId": "u{n}"}')
    local members, err = client:list_team_members("team-1")
    assert.is_nil(members)
    assert_too_many(err, 5, USERS)
    assert.equal(5, #emu:requests())
  end)

  it("stops at a call's max_pages, which wins over the client's", function()
    endless(SECRETS, '{"name": "S{n}"}')
    local secrets, err = client:team("team-1"):secrets { max_pages = 3 }
    assert.is_nil(secrets)
    assert_too_many(err, 3, SECRETS)
    assert.equal(3, #emu:requests())
    emu:clear_requests()
    secrets, err = client:list_team_secrets("team-1", { max_pages = 8 })
    assert.is_nil(secrets)
    assert_too_many(err, 8, SECRETS)
    assert.equal(8, #emu:requests())
  end)

  it("max_pages = 1 fetches one page", function()
    endless(USERS)
    local _, err = client:list_team_members("team-1", { max_pages = 1 })
    assert_too_many(err, 1, USERS)
    assert.equal(1, #emu:requests())
  end)

  it("each_* stops at max_pages too, after the items it could read", function()
    endless(USERS, '{"userId": "u{n}"}')
    local ids = {}
    local ok, err = pcall(function()
      for m in client:each_team_member("team-1", { max_pages = 4 }) do ids[#ids + 1] = m.userId end
    end)
    assert.is_false(ok)
    assert.same({ "u1", "u2", "u3", "u4" }, ids)
    assert_too_many(err, 4, USERS)
    assert.equal(4, #emu:requests())
  end)

  it("inside gather, the other calls' results are kept", function()
    endless(USERS)
    local results, failed = client:gather { { "list_team_members", "team-1" }, { "get_session" } }
    assert.equal(1, failed)
    assert_too_many(results[1][2], 5, USERS)
    assert.equal("user-1", results[2][1].user.id)
  end)

  it("the default is 1000 pages", function()
    local c = helpers.client(emu, { max_retries = 0 })
    assert.equal(1000, c:settings().max_pages)
    endless(USERS)
    local _, err = c:list_team_members("team-1")
    c:close()
    assert_too_many(err, 1000, USERS)
    assert.equal(1000, #emu:requests())
  end)

  it("each_* over full pages holds one page at a time", function()
    local items = {}
    for i = 1, 120 do items[i] = string.format('{"userId": "user-{n}-%d", "email": "%s"}', i, ("x"):rep(40)) end
    endless(USERS, table.concat(items, ","))
    collectgarbage()
    local base, peak, n = collectgarbage("count"), 0, 0
    local ok, err = pcall(function()
      for _ in client:each_team_member("team-1", { max_pages = 100 }) do
        n = n + 1
        if n % 600 == 0 then peak = math.max(peak, collectgarbage("count") - base) end
      end
    end)
    assert.is_false(ok)
    assert_too_many(err, 100, USERS)
    assert.equal(12000, n)
    assert.equal(100, #emu:requests())
    -- 12,000 members held at once would be several MB; one page is ~40 KB.
    assert.is_true(peak < 4096, string.format("%.0f KB more memory in use", peak))
  end)

  it("max_pages is checked: an integer >= 1, or math.huge", function()
    assert.has_error(function() helpers.client(emu, { max_pages = 0 }) end,
      "paperspace.new: max_pages must be an integer >= 1, or math.huge")
    assert.has_error(function() helpers.client(emu, { max_pages = 2.5 }) end,
      "paperspace.new: max_pages must be an integer >= 1, or math.huge")
    assert.has_error(function() helpers.client(emu, { max_pages = "10" }) end,
      "paperspace.new: max_pages must be a number, got string")
    assert.has_error(function() client:list_team_members("team-1", { max_pages = 0 / 0 }) end,
      "list_team_members: max_pages must be an integer >= 1, or math.huge")
    assert.has_error(function() client:each_team_member("team-1", { max_pages = -1 }) end,
      "each_team_member: max_pages must be an integer >= 1, or math.huge")
    assert.has_error(function() client:get_team_secret("team-1", "A", { max_pages = 3 }) end,
      "bad argument #3 to 'get_team_secret' (unknown option opts.max_pages)")
    assert.equal(0, #emu:requests())
    local c = helpers.client(emu, { max_pages = math.huge })
    assert.equal(5, #assert(c:list_team_members("team-1")))
    c:close()
  end)
end)

describe("items that are not objects", function()
  local emu, client
  helpers.use_emulator({}, { max_retries = 0 }, function(e, c) emu, client = e, c end)

  it("an array among the items is invalid_response, not a half-built object", function()
    emu:fault { path = SECRETS, times = 2, responses = { { status = 200, body = '[{"name": "A"}, ["B"]]' } } }
    local secrets, err = client:team("team-1"):secrets()
    assert.is_nil(secrets)
    assert.equal("invalid_response", err.kind)
    assert.equal("a secret in the list is a JSON array, not an object", err.message)
    assert.equal(SECRETS, err.path)
    assert.equal(1, err.attempts)
    local names = {}
    local ok, raised = pcall(function()
      for s in client:each_team_secret("team-1") do names[#names + 1] = tostring(s) end
    end)
    assert.is_false(ok)
    assert.same({ "paperspace.secret(A)" }, names)
    assert.equal("a secret in the list is a JSON array, not an object", raised.message)
    assert.equal(1, raised.attempts)
  end)
end)

describe("pager.check_cursor", function()
  it("accepts what the client can send back, as it will be sent", function()
    assert.equal("c1", require("paperspace.pager").check_cursor("c1"))
    assert.equal("7", require("paperspace.pager").check_cursor(7.0))
    assert.equal("-3", require("paperspace.pager").check_cursor(-3))
    assert.is_nil((require("paperspace.pager").check_cursor(core.null)))
  end)
end)
