--- Pagination: both shapes a list can come in.
-- The API description returns a list as a bare JSON array; the production API
-- returns pages `{items = {...}, hasMore = true, nextPage = cursor}` and takes
-- the cursor back as the `after` query parameter. Both are read here, so the
-- rest of the library sees one sequence of items.
-- @module paperspace.pager

local config = require "paperspace.config"
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

-- A server's string as a message may quote it: control bytes escaped, and
-- no more than 64 bytes of it.
local function quote(s)
  local q = s:sub(1, 64):gsub("[%c\127\\]", function(c) return string.format("\\%03d", c:byte()) end)
  return #s > 64 and q .. "..." or q
end

-- Whether `t` is a JSON array as lua-cjson decodes one: empty, or with a
-- first element (an object has only string keys).
local function is_array(t)
  return type(t) == "table" and (t[1] ~= nil or next(t) == nil)
end

-- What a decoded JSON value is, in words.
local function json_type(v)
  if v == null then return "JSON null" end
  if type(v) == "table" then
    if next(v) == nil then return "an empty JSON object or array" end
    return is_array(v) and "a JSON array" or "a JSON object"
  end
  return "a JSON " .. type(v)
end

--- Checks a cursor the API sent: one the client can send back as `after`.
-- The core's rules for what can go in a URL are the ones applied.
-- @param cursor the decoded `nextPage`
-- @treturn string|nil the cursor as it will be sent
-- @treturn[opt] table an `invalid_response` error naming what is wrong
function pager.check_cursor(cursor)
  local t = type(cursor)
  if t ~= "string" and t ~= "number" then
    return nil, invalid("the API's nextPage cursor is " .. json_type(cursor) .. ", not a string")
  end
  local ok, sent = pcall(core.check_name, cursor, "nextPage", "cursor", 1)
  if ok then return sent end
  if t == "number" then
    return nil, invalid("the API's nextPage cursor is a JSON number that cannot be sent back as an "
                        .. "integer (" .. tostring(cursor) .. ")")
  end
  local why = tostring(sent):match("%(cursor (.*)%)$") or "cannot be sent back"
  return nil, invalid("the API's nextPage cursor is a JSON string that " .. why)
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

-- The cursors met so far, as sent: at first the caller's own `after`.
local function first_seen(opts)
  local seen, after = {}, opts and opts.after
  if after ~= nil then
    local ok, sent = pcall(core.check_name, after, "list", "after", 1)
    if ok then seen[sent] = true end
  end
  return seen
end

local function too_many(max_pages)
  return invalid(string.format("the list has more than max_pages (%d) pages: "
                               .. "set a larger max_pages to read further", max_pages))
end

-- Checks the cursor `nxt` a page gave before it is followed: one the client
-- can send, never met before.
local function follow(nxt, seen)
  local sent, err = pager.check_cursor(nxt)
  if not sent then return nil, err end
  if seen[sent] then
    return nil, invalid("the API returned the cursor " .. quote(sent) .. " twice")
  end
  seen[sent] = true
  return true
end

--- Iterates over pages lazily: each call of the returned function fetches the
-- next page, so a loop that stops early makes no further requests.
-- @tparam function fetch `fetch(opts)` returns a decoded page, or `nil, err`;
-- a third value, the attempts that page took, goes to `annotate`
-- @tparam[opt] table opts the list options; `opts.after` starts the first page
-- @tparam[opt] function annotate `annotate(err, attempts)` adds the response's
-- details to an error made here (a page that makes no sense)
-- @tparam[opt] number max_pages the most pages to fetch (default 1000);
-- a list with more is an error
-- @treturn function returns the next page's items and whether more follow,
-- `nil` when done, or `nil, err`
function pager.pages(fetch, opts, annotate, max_pages)
  local cursor, done, n, seen = opts and opts.after, false, 0, first_seen(opts)
  annotate = annotate or as_is
  max_pages = max_pages or config.defaults.max_pages
  local attempts
  return function()
    if done then return nil end
    if n >= max_pages then -- a page said there is more: the list is longer than allowed
      done = true
      return nil, annotate(too_many(max_pages), attempts)
    end
    local page, err
    page, err, attempts = fetch(page_opts(opts, cursor))
    n = n + 1
    if page == nil then
      done = true
      return nil, err
    end
    local items, nxt
    items, nxt, err = pager.read(page)
    if not err and nxt ~= nil then
      local _
      _, err = follow(nxt, seen)
    end
    if err then
      done = true
      return nil, annotate(err, attempts)
    end
    cursor, done = nxt, nxt == nil
    return items, not done
  end
end

--- Fetches every page and returns all items in one array.
-- @tparam function fetch as for `pages`
-- @tparam[opt] table opts
-- @tparam[opt] function annotate as for `pages`
-- @tparam[opt] number max_pages as for `pages`
-- @tparam[opt] table all the first page's items, when the caller fetched and
-- read it already (most lists are one page: it then needs no `fetch` at all)
-- @param[opt] cursor that first page's cursor
-- @tparam[opt] integer attempts the attempts that first page took
-- @treturn table|nil every item, or nil
-- @treturn[opt] table the error object
function pager.collect(fetch, opts, annotate, max_pages, all, cursor, attempts)
  annotate = annotate or as_is
  max_pages = max_pages or config.defaults.max_pages
  local page, err
  if all == nil then
    page, err, attempts = fetch(opts)
    if page == nil then return nil, err end
    all, cursor, err = pager.read(page)
    if err then return nil, annotate(err, attempts) end
  end
  if cursor == nil then return all end
  local seen, pages, n = first_seen(opts), 1, #all
  local _
  while true do
    _, err = follow(cursor, seen)
    if not err and pages >= max_pages then err = too_many(max_pages) end
    if err then return nil, annotate(err, attempts) end
    page, err, attempts = fetch(page_opts(opts, cursor))
    if page == nil then return nil, err end
    pages = pages + 1
    local items
    items, cursor, err = pager.read(page)
    if err then return nil, annotate(err, attempts) end
    for i = 1, #items do all[n + i] = items[i] end
    n = n + #items
    if cursor == nil then return all end
  end
end

--- Iterates over every item, page by page, for use in a generic `for`.
-- A failure raises the error object (a loop has no other way to say it).
-- @tparam function fetch as for `pages`
-- @tparam[opt] table opts
-- @tparam[opt] function annotate as for `pages`
-- @tparam[opt] number max_pages as for `pages`
-- @treturn function the iterator
function pager.each(fetch, opts, annotate, max_pages)
  local next_page = pager.pages(fetch, opts, annotate, max_pages)
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
