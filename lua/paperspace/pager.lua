--- Pagination: both shapes a list can come in.
-- The API description returns a list as a bare JSON array; the production API
-- returns pages `{items = {...}, hasMore = true, nextPage = cursor}` and takes
-- the cursor back as the `after` query parameter. Both are read here, so the
-- rest of the library sees one sequence of items.
-- @module paperspace.pager

local core = require "paperspace.core"
local errors = require "paperspace.errors"

local null = core.null
local pager = {}

local function invalid(message)
  return errors.new { kind = "invalid_response", message = message }
end

local function as_is(err)
  return err
end

-- Whether `t` is a JSON array as lua-cjson decodes one: empty, or with a
-- first element (an object has only string keys).
local function is_array(t)
  return type(t) == "table" and (t[1] ~= nil or next(t) == nil)
end

--- Reads one decoded page.
-- @tparam table page a bare array, or an envelope `{items, hasMore, nextPage}`
-- @treturn table the items
-- @treturn[opt] string|number the cursor of the next page, nil on the last
-- @treturn[opt] table an error object when the page makes no sense
function pager.read(page)
  if type(page) ~= "table" then
    return nil, nil, invalid("a list came as a JSON " .. (page == null and "null" or type(page)))
  end
  local items = page.items
  if items == nil then
    if not is_array(page) then
      return nil, nil, invalid("a list came as an object with no items")
    end
    return page -- a bare array: the whole list at once
  end
  if not is_array(items) then
    return nil, nil, invalid("a page's items is not a list")
  end
  local more, cursor = page.hasMore, page.nextPage
  if cursor == null then cursor = nil end
  if more == true and cursor == nil then
    return nil, nil, invalid("a page says it has more but gives no nextPage cursor")
  end
  if more == false or more == nil or more == null then cursor = nil end
  return items, cursor
end

-- The options of a page: the caller's own when no cursor is needed (no
-- copy for the common single page), else a copy with `after` set.
local function page_opts(opts, cursor)
  if cursor == nil or (opts and opts.after == cursor) then return opts end
  local o = {}
  if opts then for k, v in pairs(opts) do o[k] = v end end
  o.after = cursor
  return o
end

--- Iterates over pages lazily: each call of the returned function fetches the
-- next page, so a loop that stops early makes no further requests.
-- @tparam function fetch `fetch(opts)` returns a decoded page, or `nil, err`
-- @tparam[opt] table opts the list options; `opts.after` starts the first page
-- @tparam[opt] function describe adds the response's details to an error
-- made here (a page that makes no sense)
-- @tparam[opt] table seen cursors already met (a cursor met twice is an error)
-- @treturn function returns the next page's items and whether more follow,
-- `nil` when done, or `nil, err`
function pager.pages(fetch, opts, describe, seen)
  local cursor, done = opts and opts.after, false
  describe = describe or as_is
  return function()
    if done then return nil end
    local page, err = fetch(page_opts(opts, cursor))
    if page == nil then
      done = true
      return nil, err
    end
    local items, nxt
    items, nxt, err = pager.read(page)
    if err then
      done = true
      return nil, describe(err)
    end
    if nxt ~= nil then
      seen = seen or {}
      if seen[nxt] then
        done = true
        return nil, describe(invalid("the API returned the cursor " .. tostring(nxt) .. " twice"))
      end
      seen[nxt] = true
    end
    cursor, done = nxt, nxt == nil
    return items, not done
  end
end

--- Fetches every page and returns all items in one array.
-- @tparam function fetch as for `pages`
-- @tparam[opt] table opts
-- @tparam[opt] function describe as for `pages`
-- @treturn table|nil every item, or nil
-- @treturn[opt] table the error object
function pager.collect(fetch, opts, describe)
  describe = describe or as_is
  -- The first page by hand: most lists are one page (every bare array is),
  -- and then nothing more is made than the decoded list itself.
  local page, err = fetch(opts)
  if page == nil then return nil, err end
  local all, cursor
  all, cursor, err = pager.read(page)
  if err then return nil, describe(err) end
  if cursor == nil then return all end
  local next_page = pager.pages(fetch, page_opts(opts, cursor), describe, { [cursor] = true })
  local n = #all
  while true do
    local items
    items, err = next_page()
    if items == nil then
      if err then return nil, err end
      return all
    end
    for i = 1, #items do all[n + i] = items[i] end
    n = n + #items
  end
end

--- Iterates over every item, page by page, for use in a generic `for`.
-- A failure raises the error object (a loop has no other way to say it).
-- @tparam function fetch as for `pages`
-- @tparam[opt] table opts
-- @tparam[opt] function describe as for `pages`
-- @treturn function the iterator
function pager.each(fetch, opts, describe)
  local next_page = pager.pages(fetch, opts, describe)
  local items, i = {}, 0
  return function()
    i = i + 1
    while items[i] == nil do
      local err
      items, err = next_page()
      if items == nil then
        if err then error(err, 2) end
        return nil
      end
      i = 1
    end
    return items[i]
  end
end

return pager
