-- Everything a value holds, as text: tables walked (keys, values, nested),
-- tostring of each object, and the team an object's metatable points to.
-- For specs that search all a program could show for something secret.
local function dump(v, seen, out)
  seen, out = seen or {}, out or {}
  if type(v) ~= "table" then
    out[#out + 1] = tostring(v)
  elseif not seen[v] then
    seen[v] = true
    out[#out + 1] = tostring(v)
    for k, x in pairs(v) do
      dump(k, seen, out)
      dump(x, seen, out)
    end
    local mt = getmetatable(v)
    if type(mt) == "table" and type(mt.team) == "table" then dump(mt.team, seen, out) end
  end
  return table.concat(out, "\n")
end

return dump
