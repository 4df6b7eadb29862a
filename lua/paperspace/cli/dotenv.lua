--- A dotenv file parser for `paperspace secrets sync`.
--
-- What the common dotenv tools accept:
--
--     # a comment
--     export NAME=value            # `export ` is optional; so is space around =
--     URL=https://x.test/a#frag    # an inline comment needs a space before `#`
--     SINGLE='kept as is: \n $X'   # no escapes in single quotes
--     DOUBLE="line 1\nline 2"      # \n \r \t \" \\ \$ are escapes in double quotes
--     PEM="-----BEGIN KEY-----
--     ...
--     -----END KEY-----"           # quoted values may span lines
--     EMPTY=
--
-- Names are letters, digits, `_`, `.` and `-`, not starting with a digit,
-- `.` or `-`. Nothing is expanded (`$OTHER` stays as it is). CRLF line ends
-- read as LF. A name given twice takes its last value. Any other line is an
-- error naming the file and the line, and never quoting it: the line may
-- hold a secret.
-- @module paperspace.cli.dotenv

local bad_argument = require("paperspace.errors").bad_argument
local dotenv = {}

local ESCAPES = { n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\", ["$"] = "$" }

-- After a closing quote only blanks and a comment may follow.
local function rest_is_empty(s)
  return s:match("^[ \t]*$") ~= nil or s:match("^[ \t]+#") ~= nil or s:match("^#") ~= nil
end

--- Parses the text of a dotenv file.
-- @tparam string text the file's contents
-- @tparam[opt="dotenv"] string source the file's name, for errors
-- @treturn table|nil the entries in the order their names first appear,
-- each `{name = string, value = string, line = integer}` (the line of the
-- name's last assignment); also `entries.values`, name -> value
-- @treturn[opt] string the error: `FILE:LINE: what is wrong`
function dotenv.parse(text, source)
  source = source or "dotenv"
  if type(text) ~= "string" then
    bad_argument(1, "parse", "string expected, got " .. type(text))
  end
  text = text:gsub("^\239\187\191", ""):gsub("\r\n", "\n")
  local entries, values, index = {}, {}, {}
  local pos, line_no, len = 1, 0, #text
  local function fail(n, what)
    return nil, string.format("%s:%d: %s", source, n, what)
  end
  while pos <= len do
    line_no = line_no + 1
    local stop = text:find("\n", pos, true) or (len + 1)
    local line = text:sub(pos, stop - 1)
    local start_line = line_no
    local next_pos = stop + 1
    local body = line:match("^[ \t]*(.-)$")
    if body ~= "" and body:sub(1, 1) ~= "#" then
      body = body:gsub("^export[ \t]+", "", 1)
      local name, blanks, after = body:match("^([%a_][%w_%.%-]*)[ \t]*=([ \t]*)(.*)$")
      if not name then
        if body:match("^[%a_][%w_%.%-]*[ \t]*$") then
          return fail(line_no, "a name without `=`: expected NAME=value")
        end
        return fail(line_no, "expected NAME=value (a name is letters, digits, _, . and -, "
                    .. "not starting with a digit)")
      end
      local value
      local q = after:sub(1, 1)
      if q == "'" or q == '"' then
        -- The value runs to the matching quote, across lines if need be.
        -- Work on the rest of the file from the opening quote.
        local abs = pos + (#line - #after)
        local src = text:sub(abs, len)
        local buf, i, n, closed = {}, 2, #src, false
        while i <= n do
          local c = src:sub(i, i)
          if c == q then
            closed = true
            break
          elseif c == "\\" and q == '"' and i < n then
            local e = src:sub(i + 1, i + 1)
            if e == "\n" then line_no = line_no + 1 end
            buf[#buf + 1] = ESCAPES[e] or ("\\" .. e)
            i = i + 2
          else
            if c == "\n" then line_no = line_no + 1 end
            buf[#buf + 1] = c
            i = i + 1
          end
        end
        if not closed then
          return fail(start_line, "the " .. (q == '"' and "double" or "single")
                      .. " quote opened here is never closed")
        end
        value = table.concat(buf)
        -- What follows the closing quote, up to the end of its line.
        local close_abs = abs + i - 1
        local eol = text:find("\n", close_abs + 1, true) or (len + 1)
        if not rest_is_empty(text:sub(close_abs + 1, eol - 1)) then
          return fail(line_no, "unexpected text after the closing quote")
        end
        next_pos = eol + 1
      else
        -- Unquoted: an inline comment starts at a `#` after a blank.
        -- Quotes inside an unquoted value are kept as they are.
        value = (blanks .. after):gsub("[ \t]+#.*$", ""):gsub("^[ \t]+", ""):gsub("[ \t]+$", "")
      end
      if index[name] then
        entries[index[name]].value, entries[index[name]].line = value, start_line
      else
        entries[#entries + 1] = { name = name, value = value, line = start_line }
        index[name] = #entries
      end
      values[name] = value
    end
    pos = next_pos
  end
  entries.values = values
  return entries
end

--- Reads and parses a dotenv file (`-` reads standard input).
-- @tparam string path
-- @treturn table|nil entries, as `parse` returns them
-- @treturn[opt] string the error, naming the file
function dotenv.read(path)
  local f, err
  if path == "-" then
    f = io.stdin
  else
    f, err = io.open(path, "rb")
    if not f then return nil, "cannot read " .. tostring(err) end
  end
  local text, rerr = f:read("*a")
  if f ~= io.stdin then f:close() end
  if not text then return nil, "cannot read " .. path .. ": " .. tostring(rerr) end
  return dotenv.parse(text, path == "-" and "stdin" or path)
end

return dotenv
