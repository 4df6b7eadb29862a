-- The editor annotations (lua/paperspace/types.lua, for LuaLS/EmmyLua) name
-- every public method of the client (the operation methods made at run
-- time included), of teams, members, secrets, errors and tasks, and nothing
-- that does not exist.
local helpers = require "spec.support.helpers"
local read = helpers.read
local paperspace = require "paperspace"

-- class -> { method = true } from `function Class:method(` lines.
local function annotated()
  local found = {}
  for class, name in read("lua/paperspace/types.lua"):gmatch("\nfunction ([%w_]+)[:.]([%w_]+)%(") do
    found[class] = found[class] or {}
    found[class][name] = true
  end
  return found
end

-- The public methods of an object: functions reachable through __index,
-- not starting with "_".
local function methods(obj)
  local names = {}
  local mt = getmetatable(obj)
  local index = mt and rawget(mt, "__index")
  local sources = { type(index) == "table" and index or nil }
  if type(obj) == "table" and not index then sources[1] = obj end
  for _, t in ipairs(sources) do
    for k, v in pairs(t) do
      if type(k) == "string" and type(v) == "function" and not k:match("^_") then names[k] = true end
    end
  end
  return names
end

describe("the editor annotations", function()
  local emu, client, ann
  setup(function()
    emu = helpers.emulator()
    client = helpers.client(emu)
    ann = annotated()
  end)
  teardown(function()
    client:close()
    emu:stop()
  end)

  local function same(class, real)
    local missing, extra = {}, {}
    for name in pairs(real) do
      if not (ann[class] or {})[name] then missing[#missing + 1] = name end
    end
    for name in pairs(ann[class] or {}) do
      if not real[name] then extra[#extra + 1] = name end
    end
    table.sort(missing)
    table.sort(extra)
    assert.same({}, missing, class .. ": methods without an annotation")
    assert.same({}, extra, class .. ": annotations of methods that do not exist")
  end

  it("are a ---@meta file for require 'paperspace'", function()
    assert.matches("^%-%-%-@meta paperspace\n", read("lua/paperspace/types.lua"))
  end)

  it("cover the client, operation methods included", function()
    local real = methods(client)
    for _, op in ipairs(require("paperspace.core").operations) do assert.is_true(real[op.name], op.name) end
    same("Client", real)
  end)

  it("name every option of paperspace.new, of a call and of a list", function()
    local config = require "paperspace.config"
    local types = read("lua/paperspace/types.lua")
    local function fields(class)
      local block = assert(types:match("\n%-%-%-@class paperspace%." .. class .. "[^\n]*\n(.-)\n\n"), class)
      local names = {}
      for name in block:gmatch("%-%-%-@field ([%w_]+)") do names[name] = true end
      return names
    end
    local function covers(class, options)
      local have, missing = fields(class), {}
      for k in pairs(options) do
        if not have[k] then missing[#missing + 1] = k end
      end
      table.sort(missing)
      assert.same({}, missing, class .. ": options without a field")
    end
    covers("Options", config.options)
    covers("CallOptions", config.call_options)
    covers("ListOptions", config.list_options)
  end)

  it("cover the module's functions", function()
    same("paperspace", methods(paperspace))
  end)

  it("cover teams, members, secrets, errors and tasks", function()
    local team = client:team("team-1")
    same("Team", methods(team))
    local member = assert(team:members())[1]
    same("Member", methods(member))
    local secret = assert(team:create_secret("TYPES_SPEC", "value-1"))
    same("Secret", methods(secret))
    local _, err = team:secret("NOPE")
    same("Error", methods(err))
    local task = client:spawn(function() return 1 end)
    client:wait_all()
    same("Task", methods(task))
  end)

  it("declare a class for each object, with @param and @return on every function", function()
    local text = read("lua/paperspace/types.lua")
    for _, class in ipairs { "paperspace.Client", "paperspace.Team", "paperspace.Member", "paperspace.Secret",
                             "paperspace.Error", "paperspace.Task", "paperspace.Options" } do
      assert.matches("---@class " .. class:gsub("%.", "%%.") .. "[:\n ]", text)
    end
    -- Every annotated function documents each of its parameters.
    local doc, functions = {}, 0
    for line in text:gmatch("([^\n]*)\n") do
      if line:match("^%-%-%-") then
        doc[#doc + 1] = line
      else
        local name, params = line:match("^function ([%w_]+[:.][%w_]+)%(([^)]*)%)")
        if name then
          functions = functions + 1
          local block = table.concat(doc, "\n") .. "\n"
          for p in params:gmatch("[%w_]+") do
            assert.matches("---@param " .. p .. "%??%s", block, nil, false, name .. ": no @param " .. p)
          end
          if not name:match(":cancel$") and not name:match(":close$") and not name:match(":wait_all$") then
            assert.matches("---@return ", block, 1, true, name .. ": no @return")
          end
        end
        doc = {}
      end
    end
    assert.is_true(functions >= 40, functions .. " annotated functions")
  end)
end)
