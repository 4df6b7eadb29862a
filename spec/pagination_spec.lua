-- Lists in both shapes: the description's bare arrays and production's pages
-- {items, hasMore, nextPage}, read through the `after` cursor.
local helpers = require "spec.support.helpers"
local pager = require "paperspace.pager"

describe("pager.read", function()
  it("takes a bare array as the whole list", function()
    local items, cursor, err = pager.read { { a = 1 }, { a = 2 } }
    assert.same({ { a = 1 }, { a = 2 } }, items)
    assert.is_nil(cursor)
    assert.is_nil(err)
  end)

  it("reads an envelope and its cursor", function()
    local items, cursor = pager.read { items = { 1, 2 }, hasMore = true, nextPage = "c2" }
    assert.same({ 1, 2 }, items)
    assert.equal("c2", cursor)
  end)

  it("ends on hasMore = false whatever nextPage says", function()
    local _, cursor = pager.read { items = {}, hasMore = false, nextPage = "ignored" }
    assert.is_nil(cursor)
  end)

  it("refuses a page that has more but no cursor", function()
    local items, _, err = pager.read { items = { 1 }, hasMore = true }
    assert.is_nil(items)
    assert.equal("invalid_response", err.kind)
  end)

  it("refuses items that are not a list", function()
    local _, _, err = pager.read { items = "nope" }
    assert.equal("invalid_response", err.kind)
  end)
end)

describe("pager.pages", function()
  it("stops with an error when the API repeats a cursor", function()
    local calls = 0
    local next_page = pager.pages(function()
      calls = calls + 1
      return { items = { calls }, hasMore = true, nextPage = "same" }
    end)
    assert.same({ 1 }, next_page())
    local items, err = next_page()
    assert.is_nil(items)
    assert.equal("invalid_response", err.kind)
    assert.matches("cursor same twice", err.message)
    assert.is_nil(next_page())
    assert.equal(2, calls)
  end)

  it("passes the caller's options and the cursor to every page, without changing them", function()
    local seen = {}
    local opts = { limit = 2, order = "desc" }
    local next_page = pager.pages(function(o)
      seen[#seen + 1] = o
      if o.after == nil then return { items = { 1 }, hasMore = true, nextPage = "p2" } end
      return { items = { 2 }, hasMore = false }
    end, opts)
    assert.same({ 1 }, next_page())
    assert.same({ 2 }, next_page())
    assert.is_nil(next_page())
    assert.same({ { limit = 2, order = "desc" }, { limit = 2, order = "desc", after = "p2" } }, seen)
    assert.same({ limit = 2, order = "desc" }, opts)
  end)
end)

describe("paged lists against the emulator", function()
  local emu, client
  helpers.use_emulator({ paged = true, page_size = 2, members = 7, style = "production" }, nil, function(e, c) emu, client = e, c end)

  local function member_ids(list)
    local ids = {}
    for _, m in ipairs(list) do ids[#ids + 1] = m.userId end
    return ids
  end

  it("list_* returns every item across all pages", function()
    local members = assert(client:list_team_members("team-1"))
    assert.equal(7, #members)
    assert.equal(4, #emu:requests()) -- 2 + 2 + 2 + 1
    local ids = member_ids(members)
    local want = {}
    for i = 1, 7 do want[i] = "user-" .. i end
    table.sort(ids)
    assert.same(want, ids)
  end)

  it("follows nextPage through the after parameter", function()
    assert(client:list_team_members("team-1"))
    local reqs = emu:requests()
    assert.equal(4, #reqs) -- 7 members, 2 a page
    assert.is_nil(reqs[1].args.after)
    local cursors = {}
    for i = 2, #reqs do
      assert.is_string(reqs[i].args.after)
      assert.is_nil(cursors[reqs[i].args.after], "cursor sent twice")
      cursors[reqs[i].args.after] = true
    end
  end)

  it("sends limit, orderBy and order on every page", function()
    local members = assert(client:list_team_members("team-1", { limit = 3, order_by = "email", order = "desc" }))
    assert.equal(7, #members)
    local reqs = emu:requests()
    assert.equal(3, #reqs)
    for _, r in ipairs(reqs) do
      assert.equal("3", r.args.limit)
      assert.equal("email", r.args.orderBy)
      assert.equal("desc", r.args.order)
    end
    assert.equal("user7@example.com", members[1].email)
    assert.equal("ada@example.com", members[7].email)
  end)

  it("each_* fetches lazily: breaking early makes no further requests", function()
    local seen = 0
    for m in client:each_team_member("team-1") do
      seen = seen + 1
      assert.is_function(m.set_admin)
      if seen == 3 then break end
    end
    assert.equal(3, seen)
    assert.equal(2, #emu:requests())
  end)

  it("each_* visits every item once", function()
    local ids = {}
    for m in client:team("team-1"):each_member() do ids[#ids + 1] = m.userId end
    assert.equal(7, #ids)
    assert.equal(4, #emu:requests())
  end)

  it("starts from opts.after", function()
    local first = assert(client:list_team_members("team-1", { limit = 2 }))
    assert.equal(7, #first)
    local cursor = emu:requests()[2].args.after
    emu:clear_requests()
    local rest = assert(client:list_team_members("team-1", { limit = 2, after = cursor }))
    assert.equal(5, #rest)
    assert.equal(cursor, emu:requests()[1].args.after)
  end)

  it("secrets page the same way", function()
    for i = 1, 5 do assert(client:create_team_secret("team-1", { name = "P" .. i, value = "page-" .. i })) end
    emu:clear_requests()
    local secrets = assert(client:list_team_secrets("team-1"))
    assert.equal(5, #secrets)
    assert.equal(3, #emu:requests())
    local names = {}
    for s in client:team("team-1"):each_secret { order = "desc" } do names[#names + 1] = s.name end
    assert.same({ "P5", "P4", "P3", "P2", "P1" }, names)
  end)

  it("list_* returns nil, err when a later page fails, and each_* raises it", function()
    emu:fault { method = "GET", path = "/teams/team-1/users", times = 0,
                responses = { { pass = true }, { status = 500, body = { code = "INTERNAL", message = "boom" } } } }
    local members, err = client:list_team_members("team-1", { max_retries = 0 })
    assert.is_nil(members)
    assert.equal("server_error", err.kind)
    local seen = 0
    local ok, raised = pcall(function()
      for _ in client:each_team_member("team-1", { max_retries = 0 }) do seen = seen + 1 end
    end)
    assert.is_false(ok)
    assert.equal("server_error", raised.kind)
    assert.equal(2, seen)
  end)
end)

describe("lists that are not what the API promises", function()
  local emu, client
  helpers.use_emulator({ paged = true, page_size = 2, members = 5 }, { max_retries = 0 },
                       function(e, c) emu, client = e, c end)

  local function list_with(body)
    emu:fault { path = "/teams/team-1/users", responses = { { status = 200, body = body } } }
    return client:list_team_members("team-1")
  end

  for _, case in ipairs {
    { "an object with no items", '{"a": 1}', "a list came as an object with no items" },
    { "items that are an object", '{"items": {"a": 1}, "hasMore": false}', "a page's items is not a list" },
    { "an array of numbers", "[1, 2]", "a member in the list is a JSON number, not an object" },
    { "items holding null", '{"items": [{"userId": "u"}, null], "hasMore": false}',
      "a member in the list is a JSON null, not an object" },
  } do
    it("refuses " .. case[1] .. " as invalid_response, naming the response", function()
      local members, err = list_with(case[2])
      assert.is_nil(members)
      assert.equal("invalid_response", err.kind)
      assert.equal(case[3], err.message)
      assert.equal(200, err.status)
      assert.equal("GET", err.method)
      assert.equal("/teams/team-1/users", err.path)
      assert.matches("^req%-%d+$", err.request_id)
    end)
  end

  it("each_* raises the same error for an item that is not an object", function()
    emu:fault { path = "/teams/team-1/users", responses = { { status = 200, body = '[{"userId": "u"}, 7]' } } }
    local seen = {}
    local ok, err = pcall(function()
      for m in client:each_team_member("team-1") do seen[#seen + 1] = m.userId end
    end)
    assert.is_false(ok)
    assert.same({ "u" }, seen)
    assert.equal("a member in the list is a JSON number, not an object", err.message)
    assert.equal("/teams/team-1/users", err.path)
  end)

  it("a cursor met twice is an error that names the response", function()
    emu:fault { path = "/teams/team-1/users", times = 0,
                responses = { { status = 200, body = '{"items": [], "hasMore": true, "nextPage": "c1"}' } } }
    local members, err = client:list_team_members("team-1")
    assert.is_nil(members)
    assert.equal("the API returned the cursor c1 twice", err.message)
    assert.equal(200, err.status)
    assert.equal("GET", err.method)
    assert.equal(2, #emu:requests())
  end)

  it("each_* checks its options when it is called, not at the first step", function()
    assert.has_error(function() client:each_team_member("team-1", { limit = 500 }) end,
      "bad argument #2 to 'each_team_member' (opts.limit must be an integer from 1 to 120)")
    assert.has_error(function() client:each_team_secret("team-1", { order = "up" }) end,
      "bad argument #2 to 'each_team_secret' (opts.order must be \"asc\" or \"desc\")")
    assert.has_error(function() client:each_team_member("team-1", "x") end,
      "bad argument #2 to 'each_team_member' (opts must be a table, got string)")
    assert.equal(0, #emu:requests())
  end)

  it("a raw record counts the attempts of every page", function()
    emu:fault { path = "/teams/team-1/users", times = 0,
                responses = { { pass = true }, { status = 503, headers = { ["retry-after-ms"] = "1" } },
                              { pass = true }, { pass = true } } }
    local members, err, resp = client:list_team_members("team-1", { raw = true, max_retries = 1 })
    assert.is_nil(err)
    assert.equal(5, #members)
    assert.equal(3, resp.pages)
    assert.equal(4, resp.attempts)
    assert.equal(1, resp.retries)
  end)
end)

describe("bare lists against the emulator", function()
  local emu, client
  helpers.use_emulator({ paged = false, members = 30 }, nil, function(e, c) emu, client = e, c end)

  it("take one request for the whole list", function()
    local members = assert(client:list_team_members("team-1"))
    assert.equal(30, #members)
    assert.equal(1, #emu:requests())
    local n = 0
    for _ in client:each_team_member("team-1") do n = n + 1 end
    assert.equal(30, n)
    assert.equal(2, #emu:requests())
  end)
end)
