-- A busted output handler: one line a spec file with a mark a test, the
-- failures in full, then the closing line "N passed, N failed".
-- Used as `busted -o spec/support/summary.lua`.
local pretty = require "pl.pretty"

return function(options)
  local busted = require "busted"
  local handler = require("busted.outputHandlers.base")()
  local current_file

  local function out(s)
    io.write(s)
    io.flush()
  end

  local function describe(t)
    local message = t.message
    if type(message) ~= "string" then
      message = message == nil and "nil error" or pretty.write(message)
    end
    local where = t.trace and t.trace.short_src and
      (t.trace.short_src .. ":" .. tostring(t.trace.currentline)) or "?"
    local text = string.format("\n%s\n  %s\n  %s\n", t.name or "(outside a test)", where,
                               message:gsub("\n", "\n  "))
    if options.verbose and t.trace and t.trace.traceback then
      text = text .. t.trace.traceback .. "\n"
    end
    return text
  end

  -- spec/support/run.lua names the test a file was running when it had to
  -- stop it: the name of each test is written here as it starts.
  local current_path = os.getenv("SPEC_CURRENT")

  handler.testStart = function(element)
    local file = element.trace and element.trace.short_src
    if file ~= current_file then
      out((current_file and "\n" or "") .. file .. " ")
      current_file = file
    end
    if current_path then
      local f = io.open(current_path, "w")
      if f then
        f:write(handler.getFullName(element))
        f:close()
      end
    end
    return nil, true
  end

  handler.testEnd = function(_, _, status)
    out(({ success = ".", pending = "-", failure = "F", error = "E" })[status] or "?")
    return nil, true
  end

  handler.suiteEnd = function()
    out("\n")
    for _, list in ipairs { handler.failures, handler.errors } do
      for _, t in ipairs(list) do out(describe(t)) end
    end
    local failed = handler.failuresCount + handler.errorsCount
    local line = string.format("%d passed, %d failed", handler.successesCount, failed)
    if handler.pendingsCount > 0 then
      line = line .. string.format(", %d skipped", handler.pendingsCount)
    end
    out(string.format("\n%.1f s\n%s\n", handler.getDuration(), line))
    return nil, true
  end

  busted.subscribe({ "test", "start" }, handler.testStart, { predicate = handler.cancelOnPending })
  busted.subscribe({ "test", "end" }, handler.testEnd, { predicate = handler.cancelOnPending })
  busted.subscribe({ "suite", "end" }, handler.suiteEnd)
  return handler
end
