--- What the benchmark's Lua programs share: their arguments, their clock and
-- how they report. Written for Lua 5.1 to 5.4, since the Lua-cURL program runs
-- under Lua 5.1.
--
-- Every program prints its results as `key value` lines on stdout, which
-- `bench/run` collects and `bench/report.lua` turns into the table. The
-- sequential-GET programs first answer bursts (see `common.serve`).
-- @module common

local common = {}

--- Reads `key=value` arguments into a table; values that look like numbers
-- become numbers.
-- @tparam table argv the program's `arg`
-- @treturn table
function common.args(argv)
  local out = {}
  for i = 1, #argv do
    local k, v = argv[i]:match("^([%w_]+)=(.*)$")
    if not k then error("bad argument '" .. argv[i] .. "' (expected key=value)", 0) end
    out[k] = tonumber(v) or v
  end
  return out
end

--- Returns argument `name`, raising when it is missing.
-- @tparam table a what `common.args` returned
-- @tparam string name
function common.need(a, name)
  local v = a[name]
  if v == nil or v == "" then error("missing argument " .. name .. "=...", 0) end
  return v
end

--- A monotonic clock in seconds: the library's own when it is built for
-- this Lua, LuaSocket's wall clock otherwise (Lua 5.1 for Lua-cURL).
-- @treturn function
function common.clock()
  local ok, core = pcall(require, "paperspace.core")
  if ok then return core.now end
  return require("socket").gettime
end

--- Prints one result line.
-- @tparam string key
-- @param value a number or a string
function common.emit(key, value)
  if type(value) == "number" then
    io.write(key, " ", string.format("%.6g", value), "\n")
  else
    io.write(key, " ", tostring(value), "\n")
  end
  io.flush()
end

--- The median of a list of numbers (the list is sorted in place).
-- @tparam table list
-- @treturn number
function common.median(list)
  table.sort(list)
  local n = #list
  if n == 0 then return nil end
  if n % 2 == 1 then return list[(n + 1) / 2] end
  return (list[n / 2] + list[n / 2 + 1]) / 2
end

--- Serves bursts of requests as `bench/run` asks for them: reads a count
-- per line on stdin, makes that many requests with `fn(n)`, and answers with
-- the seconds they took, one line per burst; stops at "quit" or end of input.
-- Every program then stays warm and connected between its bursts, and
-- `bench/run` can interleave the programs burst by burst.
-- @tparam function fn makes `n` requests
-- @tparam[opt] function before runs before each burst, untimed
-- @treturn number how many requests were made
function common.serve(fn, before)
  local now = common.clock()
  local total = 0
  for line in io.lines() do
    if line == "quit" then break end
    local n = tonumber(line)
    if not n or n < 1 then common.fail("bad burst size: " .. line) end
    if before then before() end
    local started = now()
    fn(n)
    local seconds = now() - started
    total = total + n
    io.write(string.format("%.9f\n", seconds))
    io.flush()
  end
  common.emit("requests", total)
  return total
end

--- Resident memory of this process in KiB, from /proc/self/status.
-- @treturn number
function common.rss_kib()
  local f = assert(io.open("/proc/self/status", "r"))
  local text = f:read("*a")
  f:close()
  return tonumber(text:match("VmRSS:%s*(%d+)%s*kB"))
end

--- Ends the program with a message on stderr and a failing status.
-- @tparam string message
function common.fail(message)
  io.stderr:write(message, "\n")
  os.exit(1)
end

--- Checks one decoded list of members: a table with `count` entries that
-- have a `userId`.
-- @param list what the client or the decoder returned
-- @tparam number count
-- @param err the error, if any, to show on failure
function common.check_members(list, count, err)
  if type(list) ~= "table" or #list ~= count or type(list[1]) ~= "table"
     or type(list[1].userId) ~= "string" then
    common.fail("unexpected result: " .. tostring(err or list))
  end
end

return common
