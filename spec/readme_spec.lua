-- Every ```lua block of the documentation runs as written against the
-- emulator (its seeded team "team-1", key "test-key"), each in its own Lua
-- process with PAPERSPACE_API_URL and PAPERSPACE_API_KEY set and the
-- emulator reset before it; a block that raises or exits non-zero fails.
--
-- A block deliberately not run has, on the line right before its fence,
--     <!-- not run: REASON -->
-- and gets a test of its own that checks a reason is given: each one is
-- listed in the output, none is skipped silently.
-- spec tags: children
local helpers = require "spec.support.helpers"
local read = helpers.read

-- The documentation: the README, the changelog, docs/ and any Markdown
-- under examples/.
local function documents()
  local docs = {}
  local p = assert(io.popen("ls README.md CHANGELOG.md 2>/dev/null; "
                            .. "find docs examples -name '*.md' 2>/dev/null | sort"))
  for name in p:lines() do docs[#docs + 1] = name end
  p:close()
  return docs
end

--- The fenced code blocks of a Markdown text: for each, its language, first
-- line number, code, and the reason given by a `<!-- not run: ... -->` line
-- right before its fence (or false when the line is there without a reason).
local function blocks(text)
  local found, lines = {}, {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  local i = 1
  while i <= #lines do
    local fence, lang = lines[i]:match("^(%s*```+)%s*([%w_+-]*)")
    if fence then
      local b = { lang = lang:lower(), line = i, code = {} }
      local before = lines[i - 1] or ""
      if before:match("^%s*<!%-%-%s*not run") then
        b.not_run = before:match("^%s*<!%-%-%s*not run:%s*(.-)%s*%-%->%s*$") or false
        if b.not_run == "" then b.not_run = false end
      end
      i = i + 1
      while i <= #lines and not lines[i]:match("^%s*```+%s*$") do
        b.code[#b.code + 1] = lines[i]
        i = i + 1
      end
      b.code = table.concat(b.code, "\n") .. "\n"
      found[#found + 1] = b
    end
    i = i + 1
  end
  return found
end

describe("the documentation's Lua blocks", function()
  local emu, script

  setup(function()
    emu = helpers.emulator()
    script = os.tmpname() .. ".lua"
  end)
  teardown(function()
    emu:stop()
    os.remove(script)
  end)

  it("include the README's, and its quick start is there", function()
    local n = 0
    for _, b in ipairs(blocks(read("README.md"))) do
      if b.lang == "lua" then n = n + 1 end
    end
    assert.is_true(n >= 10, "README.md has " .. n .. " lua blocks")
  end)

  for _, doc in ipairs(documents()) do
    for _, b in ipairs(blocks(read(doc))) do
      local where = doc .. ":" .. b.line
      if b.lang == "lua" and b.not_run ~= nil then
        it(where .. " is not run, and says why: " .. tostring(b.not_run), function()
          assert.is_string(b.not_run, where .. ": write <!-- not run: REASON --> with a reason")
          assert.is_true(#b.not_run >= 10, where .. ": the reason is too short to tell why")
        end)
      elseif b.lang == "lua" then
        it(where .. " runs against the emulator", function()
          emu:reset()
          local f = assert(io.open(script, "w"))
          f:write(b.code)
          f:close()
          local cmd = string.format(
            "cd '%s' && PAPERSPACE_API_URL='%s' PAPERSPACE_API_KEY='%s' LUA_PATH='%s' LUA_CPATH='%s' "
            .. "timeout 60 %s '%s' </dev/null",
            os.getenv("PWD") or ".", emu.url, emu.api_key, package.path, package.cpath,
            helpers.interpreter(), script)
          local out, ok = helpers.run(cmd)
          assert.is_true(ok, where .. " failed:\n" .. out .. "\n--- the block:\n" .. b.code)
        end)
      end
    end
  end
end)

describe("the not-run marker", function()
  it("is read from the line right before a fence, with its reason", function()
    local bs = blocks(table.concat({
      "text", "<!-- not run: needs Neovim's vim.uv -->", "```lua", "vim.cmd 'x'", "```",
      "", "<!-- not run -->", "```lua", "x()", "```",
      "<!-- not run: -->", "```lua", "y()", "```",
      "```lua", "print(1)", "```",
    }, "\n"))
    assert.equal(4, #bs)
    assert.equal("needs Neovim's vim.uv", bs[1].not_run)
    assert.equal(false, bs[2].not_run)
    assert.equal(false, bs[3].not_run)
    assert.is_nil(bs[4].not_run)
    assert.equal("print(1)\n", bs[4].code)
    assert.equal(15, bs[4].line)
  end)
end)
