-- Runs every spec file in its own busted process under a time limit, so
-- that a hang or a crash is a named failure of that file and the other
-- files still run; then prints one closing line, "N passed, N failed".
--
--   lua5.4 spec/support/run.lua [--timeout SECONDS] [--skip-tag TAG]... [FILE...] -- COMMAND...
--
-- COMMAND runs busted (`lua5.4 /usr/bin/busted`, perhaps under valgrind or
-- with --cpath); this appends `-o spec/support/summary.lua FILE` to it. The
-- files are every spec/*_spec.lua unless some are named. The limit is per
-- file (default $SPEC_TIMEOUT, else 300 s): a file that has not finished by
-- then is stopped with everything it started, and counts as one failure.
--
-- A spec file carries tags on a line of its opening comment,
--     -- spec tags: external
-- and --skip-tag TAG (or $SPEC_SKIP_TAGS, tags separated by spaces) leaves
-- out the files that carry TAG, naming them. `external`: the file tests
-- programs that load their own build of the library (nvim, nginx, a LuaRocks
-- tree, the core built for another Lua), so running it under valgrind, the
-- sanitizers or another Lua tests nothing more (see the Makefile).
--
-- With more than one file, the five slowest and their times are listed
-- before the closing line.

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function usage(msg)
  io.stderr:write("spec/support/run.lua: ", msg, "\n",
                  "usage: run.lua [--timeout SECONDS] [FILE...] -- COMMAND...\n")
  os.exit(2)
end

local timeout = tonumber(os.getenv("SPEC_TIMEOUT") or "") or 300
local files, command, skip_tags = {}, {}, {}
do
  local i, seen_dashes = 1, false
  for tag in (os.getenv("SPEC_SKIP_TAGS") or ""):gmatch("%S+") do skip_tags[tag] = true end
  while arg[i] do
    local a = arg[i]
    if seen_dashes then
      command[#command + 1] = quote(a)
    elseif a == "--" then
      seen_dashes = true
    elseif a == "--skip-tag" then
      i = i + 1
      if not arg[i] then usage("--skip-tag takes a tag") end
      skip_tags[arg[i]] = true
    elseif a == "--timeout" then
      i = i + 1
      timeout = tonumber(arg[i])
      if not timeout or timeout <= 0 then usage("--timeout takes a number of seconds > 0") end
    else
      files[#files + 1] = a
    end
    i = i + 1
  end
  if #command == 0 then usage("no command after --") end
end

if #files == 0 then
  local p = assert(io.popen("find spec -name '*_spec.lua' | LC_ALL=C sort"))
  for line in p:lines() do files[#files + 1] = line end
  p:close()
end

-- The tags a spec file declares on a "-- spec tags: a b" line of its
-- opening comment.
local function tags_of(file)
  local tags, f = {}, io.open(file)
  if not f then return tags end
  for line in f:lines() do
    if line:sub(1, 2) ~= "--" then break end
    local list = line:match("^%-%- spec tags:(.*)$")
    if list then
      for tag in list:gmatch("[%w_-]+") do tags[tag] = true end
    end
  end
  f:close()
  return tags
end

do
  local kept, skipped = {}, {}
  for _, file in ipairs(files) do
    local why
    for tag in pairs(tags_of(file)) do
      if skip_tags[tag] then why = tag end
    end
    if why then skipped[#skipped + 1] = file .. " (" .. why .. ")" else kept[#kept + 1] = file end
  end
  if #skipped > 0 then
    io.write("skipped by tag: ", table.concat(skipped, ", "), "\n")
  end
  files = kept
end

local function now()
  local p = io.popen("date +%s.%N")
  local t = p and tonumber(p:read("*l"))
  if p then p:close() end
  return t or os.time()
end

local function out(s)
  io.write(s)
  io.flush()
end

-- Where the summary handler writes the name of the test that is running.
local current_path = os.tmpname()

local function read_current()
  local f = io.open(current_path)
  local name = f and f:read("*a")
  if f then f:close() end
  return name ~= "" and name or nil
end

local total = { passed = 0, failed = 0, skipped = 0 }
local named = {} -- failures no test reported: a hang, a crash, an exit status
local started = now()
local took = {} -- { file, seconds } for each file

for _, file in ipairs(files) do
  -- `timeout` stops the whole process group: busted and what it started.
  os.remove(current_path)
  local cmd = string.format("SPEC_CURRENT=%s timeout -k 10 %s %s -o spec/support/summary.lua %s 2>&1; "
                            .. "echo \"@@exit $?\"", quote(current_path), tostring(timeout),
                            table.concat(command, " "), quote(file))
  local file_started = now()
  local p = assert(io.popen(cmd))
  local held, counts, status, marks = {}, nil, nil, { passed = 0, failed = 0 }
  local function take(line)
    local passed, failed, rest = line:match("^(%d+) passed, (%d+) failed(.*)$")
    if passed then
      -- The file's own closing lines (a blank, its time, this) give way to ours.
      counts = { passed = tonumber(passed), failed = tonumber(failed),
                 skipped = tonumber(rest:match("(%d+) skipped") or 0) }
      held = {}
    elseif line == "" or line:match("^%d+%.%d s$") then
      held[#held + 1] = line
    else
      for _, h in ipairs(held) do out(h .. "\n") end
      held = {}
      if line:sub(1, #file + 1) == file .. " " then
        local m = line:sub(#file + 2)
        local _, dots = m:gsub("%.", "")
        local _, bad = m:gsub("[FE]", "")
        marks.passed, marks.failed = marks.passed + dots, marks.failed + bad
      end
      out(line .. "\n")
    end
  end
  for line in p:lines() do
    -- The exit status comes last, after a line the file may have left open.
    local before, code = line:match("^(.-)@@exit (%d+)$")
    if code then
      status = tonumber(code)
      if before ~= "" then take(before) end
    else
      take(line)
    end
  end
  p:close()
  took[#took + 1] = { file, now() - file_started }
  for _, h in ipairs(held) do out(h .. "\n") end
  local why
  local running = read_current()
  local during = running and string.format(" during '%s'", running) or ""
  if status == 124 or status == 137 then
    why = string.format("stopped after %s s%s: a hang (the time limit is --timeout or $SPEC_TIMEOUT)",
                        timeout, during)
  elseif not counts then
    why = string.format("ended without a summary (exit status %s)%s: a crash?", tostring(status), during)
  elseif status ~= 0 and counts.failed == 0 then
    why = string.format("exited with status %s although every test passed", tostring(status))
  end
  counts = counts or { passed = marks.passed, failed = marks.failed, skipped = 0 }
  if why then
    counts.failed = counts.failed + 1
    named[#named + 1] = file .. ": " .. why
    out(file .. ": " .. why .. "\n")
  end
  for k, v in pairs(counts) do total[k] = total[k] + v end
end

os.remove(current_path)
if #named > 0 then
  out("\nFiles that did not finish cleanly:\n")
  for _, n in ipairs(named) do out("  " .. n .. "\n") end
end
table.sort(took, function(a, b) return a[2] > b[2] end)
local slowest = {}
for i = 1, math.min(5, #took) do slowest[i] = string.format("%s %.1f s", took[i][1], took[i][2]) end
if #slowest > 1 then out("\nslowest files: " .. table.concat(slowest, ", ") .. "\n") end
local line = string.format("%d passed, %d failed", total.passed, total.failed)
if total.skipped > 0 then line = line .. string.format(", %d skipped", total.skipped) end
out(string.format("\n%.1f s\n%s\n", now() - started, line))
os.exit(total.failed == 0 and 0 or 1)
