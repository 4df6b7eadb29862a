-- A wrong argument is reported at the caller's own file and line, however
-- many of the library's files it went through (the scheduler's, a team's,
-- an iterator's), and only the library's files are passed over.
local helpers = require "spec.support.helpers"
local paperspace = require "paperspace"

local HERE = debug.getinfo(1, "S").short_src

-- The message `fn` raises. (The calls in the functions below are not
-- tail calls, which would leave no frame of theirs to blame.)
local function raised(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error")
  return tostring(err)
end

local function at(line)
  return HERE .. ":" .. line .. ": "
end

describe("a wrong argument", function()
  local client
  before_each(function()
    client = paperspace.new { base_url = "http://127.0.0.1:9/v1", api_key = "k", max_retries = 0 }
  end)
  after_each(function() client:close() end)

  it("through gather, given a call as a table, blames the line of gather", function()
    local line = debug.getinfo(1, "l").currentline + 1
    local msg = raised(function() local _ = client:gather { { "get_team_secret", "t1", 1.5 } } end)
    assert.equal(at(line) .. "bad argument #2 to 'get_team_secret' (name must be a string or an "
                 .. "integer, got 1.5, which is not an integer)", msg)
  end)

  it("through gather, given a call as a table that waits in line, blames the line of gather", function()
    local calls = {}
    for i = 1, 20 do calls[i] = { "get_team_secret", "t1", "N" .. i } end
    calls[21] = { "get_team_secret", "t1", 2.5 }
    local line = debug.getinfo(1, "l").currentline + 1
    local msg = raised(function() local _ = client:gather(calls) end)
    assert.equal(at(line), msg:sub(1, #at(line)))
    assert.matches("bad argument #2 to 'get_team_secret'", msg, 1, true)
  end)

  it("through gather, given a function, blames the line in that function", function()
    local line = debug.getinfo(1, "l").currentline + 1
    local msg = raised(function() local _ = client:gather { function() local _ = client:get_team_secret("t1", {}) end } end)
    assert.equal(at(line), msg:sub(1, #at(line)))
    assert.matches("bad argument #2 to 'get_team_secret'", msg, 1, true)
  end)

  it("through spawn blames the line in the spawned function", function()
    local line = debug.getinfo(1, "l").currentline + 1
    local msg = raised(function() local _ = client:spawn(function() local _ = client:list_team_secrets("t1", { limit = 0 }) end) end)
    assert.equal(at(line) .. "bad argument #2 to 'list_team_secrets' (opts.limit must be an integer from 1 to 120)", msg)
  end)

  it("through an each_* iterator blames its caller and names the iterator", function()
    local line = debug.getinfo(1, "l").currentline + 1
    local msg = raised(function() local _ = client:each_team_secret("t1", { order = "up" }) end)
    assert.equal(at(line) .. "bad argument #2 to 'each_team_secret' (opts.order must be \"asc\" or \"desc\")", msg)
  end)

  it("through a team's method blames the line that called it", function()
    local team = client:team("t1")
    local line = debug.getinfo(1, "l").currentline + 1
    local msg = raised(function() local _ = team:secret(true) end)
    assert.equal(at(line), msg:sub(1, #at(line)))
    line = debug.getinfo(1, "l").currentline + 1
    msg = raised(function() local _ = team:each_member { limit = 500 } end)
    assert.equal(at(line) .. "bad argument #2 to 'each_team_member' (opts.limit must be an integer from 1 to 120)", msg)
    line = debug.getinfo(1, "l").currentline + 1
    msg = raised(function() local _ = client:gather { function() local _ = team:update_member("u1", "yes") end } end)
    assert.equal(at(line), msg:sub(1, #at(line)))
  end)
end)

describe("core.bad_argument", function()
  local core = require "paperspace.core"

  it("formats an argument error as luaL_argerror does, at the caller's line", function()
    local line = debug.getinfo(1, "l").currentline + 1
    local msg = raised(function() core.bad_argument(2, "set_thing", "value must be a string, got nil") end)
    assert.equal(at(line) .. "bad argument #2 to 'set_thing' (value must be a string, got nil)", msg)
  end)
end)

describe("the library's frames", function()
  -- A script named like one of the library's files, in a folder named
  -- `paperspace` of its own, run against the
  -- library from a clone (a relative path) and from an installed rock's
  -- tree (an absolute one): its own line is blamed, never skipped.
  local root, script
  setup(function()
    root = helpers.tmpdir()
    assert(helpers.execute("mkdir -p " .. helpers.quote(root .. "/share/lua/paperspace") .. " "
                           .. helpers.quote(root .. "/mine/paperspace")))
    assert(helpers.execute("cp -R lua/paperspace/. " .. helpers.quote(root .. "/share/lua/paperspace/")))
    script = helpers.write(root .. "/mine/paperspace/client.lua", table.concat({
      'local paperspace = require "paperspace"',
      'local client = paperspace.new { base_url = "http://127.0.0.1:9/v1", api_key = "k" }',
      'local ok, err = pcall(client.gather, client, { { "get_team_secret", "t1", 1.5 } })',
      'print(err)',
      'ok, err = pcall(function() local _ = client:each_team_member("t1", { limit = 0 }) end)',
      'print(err)',
    }, "\n") .. "\n")
  end)
  teardown(function() helpers.execute("rm -rf " .. helpers.quote(root)) end)

  local function run(lua_path)
    local out, ok = helpers.run("LUA_PATH=" .. helpers.quote(lua_path) .. " LUA_CPATH="
                                .. helpers.quote(package.cpath) .. " " .. helpers.interpreter() .. " "
                                .. helpers.quote(script))
    assert.is_true(ok, out)
    return out
  end

  local function assert_blamed(out)
    assert.matches(script .. ":3: bad argument #2 to 'get_team_secret'", out, 1, true)
    assert.matches(script .. ":5: bad argument #2 to 'each_team_member'", out, 1, true)
  end

  it("are found from a clone", function()
    assert_blamed(run("./lua/?.lua;./lua/?/init.lua;;"))
  end)

  it("are found from an installed tree", function()
    assert_blamed(run(root .. "/share/lua/?.lua;" .. root .. "/share/lua/?/init.lua;;"))
  end)
end)
