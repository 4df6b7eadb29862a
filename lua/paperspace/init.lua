--- lua-paperspace: a client for the Paperspace Team and Authentication API.
--
--     local paperspace = require "paperspace"
--     local client = paperspace.new()              -- key from $PAPERSPACE_API_KEY
--     local session = assert(client:get_session())
--     for member in client:team(session.team.id):each_member() do
--       print(member.email, member.isAdmin)
--     end
--
-- @module paperspace

local core = require "paperspace.core"
local client = require "paperspace.client"
local errors = require "paperspace.errors"

local paperspace = {
  _VERSION = core.version,
  --- JSON null as it appears inside results (lua-cjson's `cjson.null`).
  null = core.null,
}

--- Makes a client; see `paperspace.client.new` for the options.
-- @function new
-- @tparam[opt] table opts
-- @treturn paperspace.client
paperspace.new = client.new

--- Whether `v` is an error object of this library.
-- @function is_error
paperspace.is_error = errors.is_error

return paperspace
