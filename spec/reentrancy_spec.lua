-- User code that runs inside a call: metamethods of the body and options,
-- __gc finalizers, the logger, on_done, gather's functions. Whatever it does
-- (close the client, make another call, raise), the process does not crash,
-- no request is sent twice or replaced, and the outer call either completes
-- or fails with a clear error.
local helpers = require "spec.support.helpers"
local raw_server = require "spec.support.raw_server"

local function count(reqs, method, path)
  local n = 0
  for _, r in ipairs(reqs) do
    if r.method == method and r.path == path then n = n + 1 end
  end
  return n
end

-- A call made from inside another raises "closed" once the client is
-- closed; anything else it raises is a failure of the spec.
local function closed_or_ok(ok, msg)
  if not ok then assert.matches("closed", tostring(msg)) end
end

-- Makes the garbage collector run in small, eager cycles, so that
-- finalizers run at allocations inside calls, whatever the heap the other
-- specs left; returns a function that restores the previous settings.
local function eager_gc()
  -- Lua 5.1 and LuaJIT cannot tell whether the collector runs: it does.
  local has_state, running = pcall(collectgarbage, "isrunning")
  running = not has_state or running
  collectgarbage("restart")
  -- Lua 5.4 may be in generational mode, where the pause does not apply.
  local ok, mode = pcall(collectgarbage, "incremental")
  local pause = collectgarbage("setpause", 0)
  local stepmul = collectgarbage("setstepmul", _VERSION == "Lua 5.4" and 100 or 1000)
  -- A cycle now, so that the next one starts at once: the pause applies
  -- from the end of a cycle on.
  collectgarbage("collect")
  return function()
    collectgarbage("setpause", pause)
    collectgarbage("setstepmul", stepmul)
    if ok and mode == "generational" then collectgarbage("generational") end
    collectgarbage("collect")
    if not running then collectgarbage("stop") end
  end
end

-- Runs `action` once, in the first garbage collection cycle that ends after
-- `trigger.arm()`: a finalizer that plants a new one each cycle until
-- `trigger.live` is false. With eager cycles, that is at an allocation
-- during what the spec does next: a call, mostly inside the core when the
-- response is large.
local function gc_trigger(action)
  local trigger = { armed = false, live = true }
  function trigger.arm()
    collectgarbage("collect") -- runs the finalizer due now, before arming
    trigger.armed = true
  end
  local function plant()
    -- Lua 5.1 and LuaJIT run __gc for userdata only.
    local obj = newproxy and newproxy(true) or {} -- luacheck: ignore 113
    local mt = newproxy and getmetatable(obj) or {}
    mt.__gc = function()
      if not trigger.live then return end
      if trigger.armed then
        trigger.armed = false
        action()
      end
      plant()
    end
    if not newproxy then setmetatable(obj, mt) end -- luacheck: ignore 113
  end
  plant()
  return trigger
end

-- Where the collectors of Lua 5.2 and 5.3 pace their cycles, the planted
-- finalizer does not land inside the core's work within the rounds these
-- specs can afford: the two that need it to are run on 5.1, LuaJIT and 5.4
-- (and under make sanitize and make valgrind, on 5.4).
local it_closing = (_VERSION == "Lua 5.2" or _VERSION == "Lua 5.3") and pending or it

describe("a client closed by user code inside a call", function()
  local emu, client
  helpers.use_emulator({}, { max_retries = 0 }, function(e, c) emu, client = e, c end)

  it("from the body's __index: no crash, no request, a clear error", function()
    local body = setmetatable({}, { __index = function(_, k)
      client:close()
      return k == "name" and "N1" or "v"
    end })
    local ok, msg = pcall(client.create_team_secret, client, "team-1", body)
    assert.is_false(ok)
    assert.matches("closed while", tostring(msg))
    assert.equal(0, #emu:requests())
    assert.has_error(function() client:get_session() end)
  end)

  it("from the body's __index, inside gather", function()
    local body = setmetatable({}, { __index = function(_, k)
      client:close()
      return k == "name" and "N1" or "v"
    end })
    local ok, msg = pcall(client.gather, client, {
      function() return client:create_team_secret("team-1", body) end,
    })
    closed_or_ok(ok, msg)
    assert.equal(0, count(emu:requests(), "POST", "/teams/team-1/secrets"))
  end)

  it("from the options' __index", function()
    local opts = setmetatable({}, { __index = function() client:close() end })
    local ok, msg = pcall(client.list_team_secrets, client, "team-1", opts)
    closed_or_ok(ok, msg)
    assert.is_false(ok)
    assert.equal(0, #emu:requests())
  end)

  it_closing("from a __gc finalizer while calls run: every call completes or raises 'closed'", function()
    finally(eager_gc())
    local results = { value = 0, closed = 0 }
    for _ = 1, 15 do
      local c = helpers.client(emu, { max_retries = 0 })
      local trigger = gc_trigger(function() c:close() end)
      trigger.arm()
      for _ = 1, 5 do
        local ok, v, err = pcall(c.get_session, c)
        if ok then
          assert.is_table(v, tostring(err))
          results.value = results.value + 1
        else
          assert.matches("closed", tostring(v))
          results.closed = results.closed + 1
          break
        end
      end
      trigger.live = false
      c:close()
    end
    assert.is_true(results.value > 0)
  end)
end)

describe("a call made by user code inside a call", function()
  local emu, client
  helpers.use_emulator({}, { max_retries = 0 }, function(e, c) emu, client = e, c end)

  it("from the body's __index does not replace the request being built", function()
    local nested = false
    local body = setmetatable({}, { __index = function(_, k)
      if not nested then
        nested = true
        assert(client:delete_team_secret("team-1", "OTHER") == nil)
      end
      return ({ name = "MADE", value = "made-value" })[k]
    end })
    local secret, err = client:create_team_secret("team-1", body)
    assert.is_nil(err)
    assert.equal("MADE", secret.name)
    local reqs = emu:requests()
    assert.equal(1, count(reqs, "DELETE", "/teams/team-1/secrets/OTHER"))
    assert.equal(1, count(reqs, "POST", "/teams/team-1/secrets"))
    assert.equal(2, #reqs)
    assert.equal("MADE", client:get_team_secret("team-1", "MADE").name)
  end)

  it("from the options' __index, on a list", function()
    local nested = false
    local opts = setmetatable({}, { __index = function(_, k)
      if not nested and k == "limit" then
        nested = true
        assert(client:get_session())
      end
    end })
    local list, err = client:list_team_secrets("team-1", opts)
    assert.is_nil(err)
    assert.is_table(list)
    local reqs = emu:requests()
    assert.equal(1, count(reqs, "GET", "/auth/session"))
    assert.equal(1, count(reqs, "GET", "/teams/team-1/secrets"))
  end)

  it("from a __gc finalizer while calls run: each gets its own result", function()
    finally(eager_gc())
    local nested = 0
    local trigger = gc_trigger(function()
      local s = client:get_team_secret("team-1", "MISSING")
      nested = nested + 1
      assert(s == nil)
    end)
    finally(function() trigger.live = false end)
    for _ = 1, 20 do
      trigger.arm()
      local session = assert(client:get_session())
      assert.is_table(session.user)
      local _, err = client:get_team_secret("team-1", "NOPE")
      assert.equal("/teams/team-1/secrets/NOPE", err.path)
    end
    assert.is_true(nested > 0)
  end)

  it("from on_done", function()
    local got
    client:spawn(function() return client:get_session() end, function(session)
      got = { session, client:get_team_secret("team-1", "NOPE") }
    end)
    client:wait_all()
    assert.is_table(got[1].user)
    assert.is_nil(got[2])
  end)
end)

describe("each call's record", function()
  local emu, client
  local inner
  helpers.use_emulator({}, { max_retries = 0, logger = function(_, record)
    if inner and not inner.busy and record.path ~= "/teams/team-1/secrets" then
      inner.busy = true
      inner.list = inner.client:list_team_secrets("team-1")
      inner.busy = false
    end
  end }, function(e, c)
    emu, client = e, c
    inner = { client = c }
  end)

  it("is not changed by a call the logger makes", function()
    local session, err, raw = client:get_session { raw = true }
    assert.is_nil(err)
    assert.is_table(session)
    assert.is_table(inner.list) -- the logger's own call happened
    local reqs = emu:requests()
    assert.equal("/auth/session", reqs[1].path)
    assert.equal("/auth/session", raw.path)
    assert.equal("GET", raw.method)
    assert.equal(200, raw.status)
    assert.equal(reqs[1].request_id, raw.request_id)
    assert.equal(reqs[1].request_id, raw.headers["x-request-id"])
    local last = client:last_response()
    assert.equal("/auth/session", last.path)
    assert.equal(reqs[1].request_id, last.request_id)
  end)

  it("of a failure is the failure's, whatever the logger does", function()
    local _, err, raw = client:get_team_secret("team-1", "NOPE", { raw = true })
    assert.equal("not_found", err.kind)
    assert.equal("/teams/team-1/secrets/NOPE", raw.path)
    assert.equal(404, raw.status)
    assert.equal("/teams/team-1/secrets/NOPE", client:last_response().path)
  end)
end)

describe("a finalizer run while a call's result is pushed", function()
  -- A session of 500 fields: most of a call's allocations, and so most
  -- garbage collection steps, happen while the core decodes it. (Eager
  -- cycles over the whole test runner's heap make every allocation cost a
  -- cycle: a larger body or more rounds would only make this spec slow.)
  local fields = {}
  for i = 1, 500 do fields[i] = string.format('"field%d":"value %d"', i, i) end
  local BIG = { headers = { "Content-Type: application/json" },
                body = '{"user":{"id":"u1"},' .. table.concat(fields, ",") .. "}" }
  local srv
  setup(function() srv = raw_server.start({}, { default = BIG }) end)
  teardown(function() srv:stop() end)

  local function client()
    return require("paperspace").new { base_url = srv.url, api_key = "key-0123", max_retries = 0 }
  end

  local function check_session(s)
    assert.is_table(s)
    assert.equal("u1", s.user.id)
    assert.equal("value 500", s.field500)
  end

  it_closing("closing the client: the call completes, then the client is closed", function()
    finally(eager_gc())
    local deferred = 0
    -- At least 8 rounds; more until a finalizer ran inside a call (each Lua's
    -- collector paces its cycles differently), 40 at most.
    for round = 1, 40 do
      if round > 8 and deferred > 0 then break end
      local c = client()
      local closed = false
      local trigger = gc_trigger(function() closed = true; c:close() end)
      trigger.arm()
      local ok, v, err = pcall(c.get_session, c)
      trigger.live = false
      if ok then
        check_session(v, err)
        if closed then
          deferred = deferred + 1
          assert.has_error(function() c:get_session() end, "paperspace: the client is closed")
        end
      else
        assert.matches("closed", v)
      end
      c:close()
    end
    assert.is_true(deferred > 0, "no finalizer ran inside a call")
  end)

  it("making a call: each call gets its own result", function()
    finally(eager_gc())
    local c = client()
    local nested = 0
    local trigger = gc_trigger(function()
      check_session(c:get_session())
      nested = nested + 1
    end)
    finally(function() trigger.live = false end)
    for round = 1, 40 do
      if round > 8 and nested > 0 then break end
      trigger.arm()
      check_session(c:get_session())
    end
    c:close()
    assert.is_true(nested > 0)
  end)
end)
