-- Shared by the specs: an emulator per describe block and clients for it.
local emulator = require "paperspace.emulator"
local paperspace = require "paperspace"
local socket = require "socket"

local helpers = {}

--- Starts an emulator with `opts`; stopped by the returned handle's stop().
function helpers.emulator(opts)
  return emulator.start(opts or {})
end

--- A client for the emulator `emu`, with the emulator's key unless `opts`
-- says otherwise.
function helpers.client(emu, opts)
  local o = { api_key = emu.api_key, base_url = emu.url, timeout = 10 }
  for k, v in pairs(opts or {}) do o[k] = v end
  return paperspace.new(o)
end

--- For a describe block: an emulator started once (with `emu_opts`), reset
-- before each test (its seed data and its options, so that no test depends
-- on another's), and a fresh client (with `client_opts`) for each test,
-- closed after it. `bind(emu, client)` hands them to the block's locals.
function helpers.use_emulator(emu_opts, client_opts, bind)
  -- busted gives its functions to spec files, not to the modules they load.
  local busted = require "busted"
  local emu, client, options
  busted.setup(function()
    emu = helpers.emulator(emu_opts)
    options = {}
    for k, v in pairs(emu:configure {}) do options[k] = v end
  end)
  busted.teardown(function() emu:stop() end)
  busted.before_each(function()
    emu:reset()
    emu:configure(options)
    client = helpers.client(emu, client_opts)
    bind(emu, client)
  end)
  busted.after_each(function() client:close() end)
end

--- A string quoted for the shell, as one word.
function helpers.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- The contents of the file at `path`, or nil when it cannot be read.
function helpers.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

--- Writes `s` to the file at `path`; returns the path.
function helpers.write(path, s)
  local f = assert(io.open(path, "wb"))
  assert(f:write(s))
  f:close()
  return path
end

--- A new empty folder under the system's temporary folder.
function helpers.tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(helpers.execute("mkdir -p " .. helpers.quote(d)), "could not make " .. d)
  return d
end

--- Runs a shell command; returns its output (stderr too) and whether it
-- exited with 0. The status is read from the output, as Lua 5.1's
-- `close` of a pipe does not give it.
function helpers.run(cmd)
  local p = assert(io.popen("{ " .. cmd .. "\n} 2>&1; echo \"<exit:$?>\""))
  local out = p:read("*a")
  p:close()
  local code = tonumber(out:match("<exit:(%d+)>\n?$"))
  return out:gsub("<exit:%d+>\n?$", ""), code == 0
end

--- helpers.run for programs the host's sanitizer runtime must stay out of:
-- `make sanitize` preloads it into every process, and nginx, nvim, curl,
-- make and luarocks' compiler are not built for it (curl hangs under it).
function helpers.native(cmd)
  return helpers.run("unset LD_PRELOAD; {\n" .. cmd .. "\n}")
end

--- Runs a shell command without capturing it; returns whether it exited
-- with 0 (`os.execute` answers differently in Lua 5.1 and 5.2+).
function helpers.execute(cmd)
  local ok, how, code = os.execute(cmd)
  if type(ok) == "number" then return ok == 0 end
  return ok == true and (how == nil or how == "exit") and (code == nil or code == 0)
end

--- Runs a shell command without capturing it; returns its exit status
-- (128 + the signal's number when a signal ended it), on every Lua.
function helpers.exit_code(cmd)
  local a, how, code = os.execute(cmd)
  if type(a) == "number" then -- Lua 5.1 and LuaJIT: the wait status
    return a % 256 == 0 and math.floor(a / 256) or 128 + a % 128
  end
  return how == "signal" and 128 + code or code
end

--- Waits up to `seconds` for something to accept connections on
-- 127.0.0.1:`port`; returns whether it did.
function helpers.wait_for_port(port, seconds)
  local deadline = socket.gettime() + seconds
  repeat
    local c = socket.connect("127.0.0.1", port)
    if c then
      c:close()
      return true
    end
    socket.sleep(0.05)
  until socket.gettime() > deadline
  return false
end

--- A port on 127.0.0.1 that is free now: binds port 0, reads what the
-- kernel chose, closes the socket. Another process could take it before
-- the caller binds it; on loopback that is unlikely.
-- @treturn integer|nil the port, or nil and the error
function helpers.free_port()
  local s, err = socket.tcp()
  if not s then return nil, err end
  local ok, berr = s:bind("127.0.0.1", 0)
  if not ok then
    s:close()
    return nil, berr
  end
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

--- The command that runs this Lua interpreter, for child processes.
function helpers.interpreter()
  local i = -1
  while arg[i - 1] do i = i - 1 end
  return arg[i] or "lua5.4"
end

return helpers
