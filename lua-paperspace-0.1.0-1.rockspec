rockspec_format = "3.0"
package = "lua-paperspace"
version = "0.1.0-1"
source = {
  url = "git+https://github.com/lua-paperspace/lua-paperspace.git",
  tag = "v0.1.0",
}
description = {
  summary = "Client for the Paperspace Team and Authentication API, on libcurl",
  detailed = [[
    Session, team members and team secrets of the Paperspace API from Lua:
    a C core over libcurl (kept-alive connections, JSON through lua-cjson)
    behind an idiomatic Lua API with pagination iterators, objects with
    methods and structured errors. Its emulator, for testing code that
    uses it, is a rock of its own: lua-paperspace-emulator.
  ]],
  homepage = "https://github.com/lua-paperspace/lua-paperspace",
  license = "MIT",
  labels = { "paperspace", "api", "http", "curl" },
}
dependencies = {
  "lua >= 5.1, < 5.5",
  "lua-cjson >= 2.1.0",
  -- The paperspace command's (bin/paperspace).
  "argparse >= 0.7",
  "lyaml >= 6",
}
test_dependencies = {
  "busted >= 2.0",
  "luasocket >= 3.0",
}
-- Only the library is looked for: on Debian and Ubuntu curl/curl.h lives in
-- a multiarch folder that LuaRocks does not search, and the compiler finds
-- it there by itself. Set CURL_INCDIR for a curl installed elsewhere.
external_dependencies = {
  CURL = { library = "curl" },
}
build = {
  type = "builtin",
  -- The Lua modules are the lua/ folder, installed as it is; only the C
  -- module is listed.
  modules = {
    ["paperspace.core"] = {
      sources = {
        "src/buffer.c", "src/client.c", "src/core.c", "src/errors.c",
        "src/operations.c", "src/request.c", "src/response.c", "src/scrub.c", "src/transfer.c",
        "src/events.c", "src/headers.c", "src/raise.c",
      },
      libraries = { "curl" },
      incdirs = { "$(CURL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)" },
      defines = { "_POSIX_C_SOURCE=200809L" },
    },
  },
  install = {
    bin = {
      ["paperspace"] = "bin/paperspace",
    },
  },
}
