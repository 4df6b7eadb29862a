--- Output of `paperspace`: aligned tables for people, JSON for programs.
-- @module paperspace.cli.output

local cjson = require "cjson"

local output = {}

local ARRAY = {}

--- Marks `t` as a JSON array (so that an empty one prints as `[]`).
-- @tparam table t
-- @treturn table t
function output.array(t)
  return setmetatable(t, ARRAY)
end

-- A table decoded from a JSON array: keys 1..n and nothing else.
local function is_sequence(t)
  local n = #t
  if n == 0 then return false end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n
end

local function encode(v, out)
  local tv = type(v)
  if tv == "table" and v ~= cjson.null then
    if getmetatable(v) == ARRAY or is_sequence(v) then
      out[#out + 1] = "["
      for i = 1, #v do
        if i > 1 then out[#out + 1] = "," end
        encode(v[i], out)
      end
      out[#out + 1] = "]"
    else
      -- Keys in order: the same data prints the same way every time.
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = tostring(k) end
      table.sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = cjson.encode(k)
        out[#out + 1] = ":"
        encode(v[k], out)
      end
      out[#out + 1] = "}"
    end
  elseif tv == "string" or tv == "number" or tv == "boolean" or v == cjson.null then
    out[#out + 1] = cjson.encode(v)
  else
    out[#out + 1] = "null"
  end
end

--- One JSON document for `v`: tables made by `output.array` and non-empty
-- sequences are arrays, any other table an object.
-- @param v
-- @treturn string
function output.json(v)
  local out = {}
  encode(v, out)
  return table.concat(out)
end

--- What a server sent, made safe for a terminal: no control characters
-- (an escape sequence in an email could rewrite the screen).
-- @param v
-- @treturn string
function output.clean(v)
  if v == nil or v == cjson.null then return "-" end
  return (tostring(v):gsub("[%c\127]", "?"))
end

--- Aligned columns with a header line.
-- @tparam {string,...} header
-- @tparam {{string,...},...} rows cells, already cleaned
-- @treturn string the lines, each ending in a newline
function output.table(header, rows)
  local widths = {}
  for i, h in ipairs(header) do widths[i] = #h end
  for _, row in ipairs(rows) do
    for i, cell in ipairs(row) do
      if #cell > widths[i] then widths[i] = #cell end
    end
  end
  local lines = {}
  local function add(cells)
    local parts = {}
    for i, cell in ipairs(cells) do
      parts[i] = i < #cells and (cell .. string.rep(" ", widths[i] - #cell)) or cell
    end
    lines[#lines + 1] = table.concat(parts, "  ")
  end
  add(header)
  for _, row in ipairs(rows) do add(row) end
  return table.concat(lines, "\n") .. "\n"
end

return output
