-- The dotenv parser of `paperspace secrets sync`, on files dotenv tools accept
-- and on files they refuse.
local dotenv = require "paperspace.cli.dotenv"

local function parsed(text)
  local entries, err = dotenv.parse(text, "t.env")
  assert(entries, err)
  local got = {}
  for i, e in ipairs(entries) do got[i] = { e.name, e.value } end
  return got
end

describe("dotenv.parse", function()
  local cases = {
    { "plain", "A=1\nB=two\n", { { "A", "1" }, { "B", "two" } } },
    { "no final newline", "A=1", { { "A", "1" } } },
    { "export prefix", "export A=1\nexport\tB=2\n", { { "A", "1" }, { "B", "2" } } },
    { "blanks around = and the line", "  A = 1  \n", { { "A", "1" } } },
    { "comments and blank lines", "# c\n\n   # indented\nA=1\n\n", { { "A", "1" } } },
    { "inline comment after a blank", "A=1 # one\nB=2\t# two\n", { { "A", "1" }, { "B", "2" } } },
    { "# without a blank before it is part of the value", "URL=https://x.test/p#frag\n",
      { { "URL", "https://x.test/p#frag" } } },
    { "single quotes: no escapes, no expansion", "A='a\\nb $HOME # not a comment'\n",
      { { "A", "a\\nb $HOME # not a comment" } } },
    { "double quotes: escapes", 'A="t\\tn\\nq\\"b\\\\d\\$"\n', { { "A", 't\tn\nq"b\\d$' } } },
    { "double quotes: unknown escapes stay", 'A="\\x\\w"\n', { { "A", "\\x\\w" } } },
    { "comment after a quoted value", 'A="x # y" # z\nB=\'q\'  \n', { { "A", "x # y" }, { "B", "q" } } },
    { "multi-line double quotes", 'KEY="-----BEGIN-----\nabc\n-----END-----"\nB=2\n',
      { { "KEY", "-----BEGIN-----\nabc\n-----END-----" }, { "B", "2" } } },
    { "multi-line single quotes", "A='1\n2'\n", { { "A", "1\n2" } } },
    { "CRLF line ends", "A=1\r\nB=\"x\r\ny\"\r\n# c\r\n", { { "A", "1" }, { "B", "x\ny" } } },
    { "empty values", "A=\nB=''\nC=\"\"\nD= # c\n", { { "A", "" }, { "B", "" }, { "C", "" }, { "D", "" } } },
    { "duplicates: the last wins, in first-seen order", "A=1\nB=2\nA=3\n", { { "A", "3" }, { "B", "2" } } },
    { "= inside the value", "A=b=c==\n", { { "A", "b=c==" } } },
    { "quotes inside an unquoted value", "A=it's \"x\"\n", { { "A", "it's \"x\"" } } },
    { "UTF-8 BOM and UTF-8 values", "\239\187\191A=h\195\169\n", { { "A", "h\195\169" } } },
    { "names with . - and digits", "a.b-c_1=x\n_X=y\n", { { "a.b-c_1", "x" }, { "_X", "y" } } },
    { "$ is not expanded", "A=$B ${C}\n", { { "A", "$B ${C}" } } },
  }
  for _, case in ipairs(cases) do
    it(case[1], function()
      assert.same(case[3], parsed(case[2]))
    end)
  end

  it("records the line of each name's last assignment", function()
    local entries = assert(dotenv.parse('A="1\n2"\nB=x\nA=3\n', "t.env"))
    assert.equal(4, entries[1].line)
    assert.equal(3, entries[2].line)
    assert.same({ A = "3", B = "x" }, entries.values)
  end)

  local bad = {
    { "a line without =", "A=1\nJUSTANAME\n", "t.env:2: a name without `=`" },
    { "a line of words", "A=1\n\nsecret words here\n", "t.env:3: expected NAME=value" },
    { "a name starting with a digit", "1A=x\n", "t.env:1: expected NAME=value" },
    { "a name with a space", "MY KEY=x\n", "t.env:1: expected NAME=value" },
    { "an unclosed double quote", "A=1\nB=\"abc\nC=2\n", "t.env:2: the double quote opened here is never closed" },
    { "an unclosed single quote", "A='abc\n", "t.env:1: the single quote opened here is never closed" },
    { "text after the closing quote", "A=1\nB=\"x\"y\n", "t.env:2: unexpected text after the closing quote" },
    { "text after a multi-line value, on its last line", 'A="1\n2\n3"z\n', "t.env:3: unexpected text" },
    { "CRLF does not shift line numbers", "A=1\r\n\r\nbad line\r\n", "t.env:3:" },
    { "export alone", "export\n", "t.env:1: a name without `=`" },
  }
  for _, case in ipairs(bad) do
    it("refuses " .. case[1] .. ", naming the line and quoting none of it", function()
      local entries, err = dotenv.parse(case[2], "t.env")
      assert.is_nil(entries)
      assert.equal(1, select(2, err:gsub("\n", "\n")) + 1, "one line")
      assert.equal(case[3], err:sub(1, #case[3]))
      for word in case[2]:gmatch("[%w]+") do
        if #word >= 3 and not ("expected NAME value name quote opened here never closed double single "
          .. "unexpected text after closing without letters digits starting with digit"):find(word, 1, true) then
          assert.is_nil(err:find(word, 1, true), "the error quotes '" .. word .. "': " .. err)
        end
      end
    end)
  end

  it("raises on a text that is not a string", function()
    assert.has_error(function() dotenv.parse(nil) end, "bad argument #1 to 'parse' (string expected, got nil)")
  end)

  it("reads a file, and names a file it cannot read", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write("A=1\n")
    f:close()
    assert.same({ A = "1" }, assert(dotenv.read(path)).values)
    os.remove(path)
    local entries, err = dotenv.read(path)
    assert.is_nil(entries)
    assert.matches(path, err, 1, true)
  end)
end)
