rockspec_format = "3.0"
package = "lua-paperspace-emulator"
version = "0.1.0-1"
source = {
  url = "git+https://github.com/lua-paperspace/lua-paperspace.git",
  tag = "v0.1.0",
}
description = {
  summary = "A local, stateful emulator of the Paperspace Team and Authentication API",
  detailed = [[
    The whole Paperspace Team and Authentication API on 127.0.0.1, over
    LuaSocket: a seeded team with members, secrets kept in memory, bearer-key
    checks, the API's statuses and error bodies, either list shape and
    scriptable faults, for testing code that uses lua-paperspace. The
    paperspace-emulator command serves it, or runs a script against it.
  ]],
  homepage = "https://github.com/lua-paperspace/lua-paperspace",
  license = "MIT",
  labels = { "paperspace", "api", "testing", "emulator" },
}
dependencies = {
  "lua >= 5.1, < 5.5",
  "luasocket >= 3.0",
  "lua-cjson >= 2.1.0",
  -- `paperspace-emulator run` runs scripts with the library's paths.
  "lua-paperspace",
}
-- The emulator is the emulator/ folder of the library's repository; "none"
-- rather than "builtin", which would also install the library's own lua/.
build = {
  type = "none",
  install = {
    lua = {
      ["paperspace.emulator"] = "emulator/lua/paperspace/emulator.lua",
      ["paperspace.emulator.api"] = "emulator/lua/paperspace/emulator/api.lua",
      ["paperspace.emulator.app"] = "emulator/lua/paperspace/emulator/app.lua",
      ["paperspace.emulator.faults"] = "emulator/lua/paperspace/emulator/faults.lua",
      ["paperspace.emulator.http"] = "emulator/lua/paperspace/emulator/http.lua",
    },
    bin = {
      ["paperspace-emulator"] = "emulator/bin/paperspace-emulator",
    },
  },
}
