-- The messages a newcomer meets first say what was wrong and what to do.
local socket = require "socket"
local helpers = require "spec.support.helpers"
local paperspace = require "paperspace"

local function raised(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error")
  return tostring(err)
end

describe("messages", function()
  local client
  before_each(function() client = paperspace.new { base_url = "http://127.0.0.1:9/v1", api_key = "k" } end)
  after_each(function() client:close() end)

  it("a team id that is a number but not an integer says so", function()
    local msg = raised(function() return client:team(1.5) end)
    assert.matches("team_id must be a string or an integer, got 1.5, which is not an integer", msg, 1, true)
    msg = raised(function() return client:get_team_secret(2.25, "X") end)
    assert.matches("got 2.25, which is not an integer", msg, 1, true)
    -- Other types keep naming their type.
    assert.matches("got boolean", raised(function() return client:team(true) end), 1, true)
  end)

  it("raw = true on an iterator says iterators do not take it, and what to use", function()
    local msg = raised(function() return client:each_team_member("team-1", { raw = true }) end)
    assert.matches("iterators do not take opts.raw", msg, 1, true)
    assert.matches("list_team_members with raw = true", msg, 1, true)
    msg = raised(function() return client:team("team-1"):each_secret { raw = true } end)
    assert.matches("iterators do not take opts.raw", msg, 1, true)
  end)

  it("a misspelt method names the closest one, at the caller's line", function()
    local msg = raised(function() return client:get_sesion() end)
    assert.matches("no method or field 'get_sesion' (did you mean 'get_session'?)", msg, 1, true)
    assert.matches("messages_spec.lua:%d+:", msg)
    msg = raised(function() return client:list_team_member("team-1") end)
    assert.matches("did you mean 'list_team_members'?", msg, 1, true)
    msg = raised(function() return client:each_member("team-1") end)
    assert.matches("did you mean 'each_team_member'?", msg, 1, true)
    -- Nothing close: no guess.
    msg = raised(function() return client:frobnicate_everything() end)
    assert.matches("no method or field 'frobnicate_everything'$", msg)
  end)

  it("methods and fields still resolve as before", function()
    assert.is_function(client.get_session)
    assert.is_function(client.settings)
    assert.is_nil(client._no_such_private_field)
    assert.is_table(client:settings())
  end)

  it("gather still names a call that is not an operation", function()
    local msg = raised(function() return client:gather { { "get_sesion" } } end)
    assert.matches("calls[1][1] must name an operation, got get_sesion", msg, 1, true)
  end)
end)

describe("https:// pointed at a plain-HTTP server", function()
  it("fails at once, as a TLS error naming the likely cause, when the server answers in plain text", function()
    local emu = helpers.emulator()
    local c = paperspace.new { base_url = emu.url:gsub("^http:", "https:"), api_key = emu.api_key,
                               connect_timeout = 20 }
    local started = socket.gettime()
    local v, err = c:get_session()
    local took = socket.gettime() - started
    c:close()
    emu:stop()
    assert.is_nil(v)
    assert.equal("tls", err.kind)
    assert.equal(1, err.attempts) -- never retried
    assert.matches("is it a plain-HTTP server? use an http:// base_url", tostring(err), 1, true)
    assert.is_true(took < 10, "took " .. took .. " s") -- not connect_timeout, nor 3 of them
  end)

  it("fails after one connect_timeout, not one per retry, when the server waits for a request line", function()
    -- Accepted by the kernel's backlog, never answered: the handshake stalls.
    local server = assert(socket.bind("127.0.0.1", 0))
    local _, port = server:getsockname()
    local c = paperspace.new { base_url = "https://127.0.0.1:" .. port, api_key = "k", connect_timeout = 1 }
    local v, err = c:get_session()
    c:close()
    server:close()
    assert.is_nil(v)
    assert.equal("tls", err.kind)
    assert.equal(1, err.attempts)
    assert.matches("no TLS handshake from the server", tostring(err), 1, true)
    assert.matches("is it a plain-HTTP server?", tostring(err), 1, true)
  end)
end)

describe("a body field in the wrong case", function()
  it("is named as an unknown field, not reported as a missing one", function()
    local client = paperspace.new { base_url = "http://127.0.0.1:9/v1", api_key = "k" }
    local msg = raised(function() return client:create_team_secret("team-1", { name = "N", Value = "V" }) end)
    client:close()
    assert.matches("body has an unknown field 'Value' (create_team_secret takes name and value)", msg, 1, true)
  end)
end)
