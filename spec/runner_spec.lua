-- The runner behind `make test`: each spec file in its own process under a
-- time limit, so that a hang or a crash is a named failure and the closing
-- line still counts every file.
-- spec tags: external
local helpers = require "spec.support.helpers"

-- The busted running this spec, to run the runner's files with.
local BUSTED = arg and type(arg[0]) == "string" and arg[0]:match("busted$") and arg[0] or "/usr/bin/busted"

describe("spec/support/run.lua", function()
  local dir

  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    local files = {
      hang_spec = 'describe("h", function() it("passes", function() end) '
        .. 'it("hangs", function() while true do end end) end)',
      crash_spec = 'describe("c", function() it("passes", function() end) '
        .. 'it("exits", function() os.exit(3) end) end)',
      mixed_spec = 'describe("m", function() it("passes", function() end) '
        .. 'it("fails", function() assert.equal(1, 2) end) end)',
      fine_spec = 'describe("f", function() it("one", function() end) it("two", function() end) end)',
      tagged_spec = '-- A file with tags.\n-- spec tags: external slow\n'
        .. 'describe("t", function() it("runs", function() end) end)',
    }
    for name, text in pairs(files) do
      local f = assert(io.open(dir .. "/" .. name .. ".lua", "w"))
      f:write(text, "\n")
      f:close()
    end
  end)

  teardown(function() os.execute("rm -rf " .. dir) end)

  local function run_with(options, ...)
    local names = {}
    for i, n in ipairs { ... } do names[i] = dir .. "/" .. n .. ".lua" end
    return helpers.run(string.format("%s spec/support/run.lua --timeout 2 %s %s -- %s %s; echo \"rc=$?\"",
                                     helpers.interpreter(), options, table.concat(names, " "),
                                     helpers.interpreter(), BUSTED))
  end
  local function run(...) return run_with("", ...) end

  it("stops a file that hangs, names it, and goes on with the others", function()
    local started = os.time()
    local out = run("hang_spec", "fine_spec")
    assert.is_true(os.time() - started < 30, "the runner itself hung")
    assert.matches(dir .. "/hang_spec.lua: stopped after 2 s during 'h hangs': a hang", out, 1, true)
    assert.matches("Files that did not finish cleanly:", out, 1, true)
    -- hang_spec: one passed, then the hang; fine_spec: two passed.
    assert.matches("\n3 passed, 1 failed\nrc=1\n$", out)
    local _, summaries = out:gsub("%d+ passed, %d+ failed", "")
    assert.equal(1, summaries)
  end)

  it("names a file whose process dies, and counts the others' results", function()
    local out = run("crash_spec", "mixed_spec", "fine_spec")
    assert.matches(dir .. "/crash_spec.lua: ended without a summary (exit status 3) during 'c exits'", out, 1, true)
    assert.matches("m fails", out, 1, true)
    assert.matches("\n4 passed, 2 failed\nrc=1\n$", out)
  end)

  it("exits 0 with one closing line when every file passes", function()
    local out = run("fine_spec")
    assert.matches("^" .. dir:gsub("%p", "%%%0") .. "/fine_spec%.lua %.%.\n\n[%d.]+ s\n2 passed, 0 failed\nrc=0\n$", out)
  end)

  it("lists the slowest files, with their times, before the closing line", function()
    local out = run("fine_spec", "mixed_spec")
    local pattern = "\nslowest files: ([^\n]+)\n\n[%d.]+ s\n3 passed, 1 failed\nrc=1\n$"
    local list = assert(out:match(pattern), out)
    local d = dir:gsub("%p", "%%%0")
    assert.matches(d .. "/fine_spec%.lua [%d.]+ s", list)
    assert.matches(d .. "/mixed_spec%.lua [%d.]+ s", list)
  end)

  it("leaves out, and names, the files carrying a tag given with --skip-tag or $SPEC_SKIP_TAGS", function()
    local out = run_with("--skip-tag slow", "tagged_spec", "fine_spec")
    assert.matches("skipped by tag: " .. dir .. "/tagged_spec.lua (slow)\n", out, 1, true)
    assert.not_matches("tagged_spec.lua .", out, 1, true)
    assert.matches("\n2 passed, 0 failed\nrc=0\n$", out)

    out = run_with("", "tagged_spec", "fine_spec")
    assert.not_matches("skipped", out, 1, true)
    assert.matches("\n3 passed, 0 failed\nrc=0\n$", out)

    out = helpers.run(string.format("SPEC_SKIP_TAGS='other external' %s spec/support/run.lua %s -- %s %s",
                                    helpers.interpreter(), dir .. "/tagged_spec.lua", helpers.interpreter(), BUSTED))
    assert.matches("skipped by tag: " .. dir .. "/tagged_spec.lua (external)\n", out, 1, true)
    assert.matches("\n0 passed, 0 failed\n$", out)
  end)
end)
