/*
 * fuzz_request.c: libFuzzer target for the request builder (src/request.c)
 * through client:build, as a caller reaches it: path parameters, a body and
 * list options, any bytes.
 *
 * The input is split at its first NUL-free boundaries into a team id, a
 * name and a value (bytes 0x1f separate them; absent parts are empty). For
 * each, build either raises a "bad argument" error (an empty name, a NUL,
 * CR or LF, "." or "..", over 64 KiB) or returns a request whose URL is the
 * base URL and the percent-encoded segments, which decode back to the
 * input, and whose JSON body decodes back to the name and the value. A
 * value is never refused for its bytes. The Lua stack stays balanced.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paperspace.h"
#include <lualib.h>

static lua_State *L;

static const char driver[] =
    "local core, data = ...\n"
    "local cjson = require 'cjson'\n"
    "-- A resolved configuration, as paperspace.config makes it: the core has no defaults.\n"
    "local client = core.new { base_url = 'http://127.0.0.1:9/v1', api_key = 'fuzz-key-0123',\n"
    "  user_agent = 'fuzz', timeout = 60, connect_timeout = 10, max_response_bytes = 1048576,\n"
    "  tls_verify = true, max_concurrency = 1, max_host_connections = 1 }\n"
    "local function unescape(s)\n"
    "  return (s:gsub('%%(%x%x)', function(h) return string.char(tonumber(h, 16)) end))\n"
    "end\n"
    "local function bad(msg)\n"
    "  assert(tostring(msg):find('bad argument', 1, true), 'not an argument error: ' .. tostring(msg))\n"
    "end\n"
    "return function(data)\n"
    "  local team, name, value = data:match('^([^\\31]*)\\31?([^\\31]*)\\31?(.*)$')\n"
    "  local ok, method, url, body = pcall(client.build, client, 'create_team_secret', team,\n"
    "                                     { name = name, value = value })\n"
    "  if not ok then bad(method) else\n"
    "    assert(method == 'POST')\n"
    "    local seg = url:match('^http://127%.0%.0%.1:9/v1/teams/([^/?#]+)/secrets$')\n"
    "    assert(seg and unescape(seg) == team, 'team id not one segment: ' .. url)\n"
    "    local b = cjson.decode(body)\n"
    "    assert(b.name == name and b.value == value, 'body does not decode back')\n"
    "  end\n"
    "  ok, method, url = pcall(client.build, client, 'get_team_secret', team, name)\n"
    "  if not ok then bad(method) else\n"
    "    local t, n = url:match('^http://127%.0%.0%.1:9/v1/teams/([^/?#]+)/secrets/([^/?#]+)$')\n"
    "    assert(t and unescape(t) == team and unescape(n) == name, 'bad URL ' .. url)\n"
    "  end\n"
    "  ok, method, url = pcall(client.build, client, 'list_team_secrets', team,\n"
    "                        { after = value, order_by = name, limit = #data % 130 })\n"
    "  if not ok then bad(method) else\n"
    "    local a = url:match('[?&]after=([^&]*)')\n"
    "    assert(a and unescape(a) == value, 'bad cursor in ' .. url)\n"
    "  end\n"
    "end\n";

static void fail(const char *what) {
    fprintf(stderr, "fuzz_request: %s\n", what);
    abort();
}

static void setup(void) {
    L = luaL_newstate();
    if (L == NULL)
        fail("luaL_newstate failed");
    luaL_openlibs(L);
    if (luaL_loadstring(L, driver) != 0)
        fail(lua_tostring(L, -1));
    lua_pushcfunction(L, luaopen_paperspace_core);
    if (lua_pcall(L, 0, 1, 0) != 0)
        fail(lua_tostring(L, -1));
    if (lua_pcall(L, 1, 1, 0) != 0)
        fail(lua_tostring(L, -1));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int top;
    if (L == NULL)
        setup();
    top = lua_gettop(L);
    lua_pushvalue(L, -1);
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 1, 0, 0) != 0) {
        fprintf(stderr, "fuzz_request: %s\n", lua_tostring(L, -1));
        abort();
    }
    if (lua_gettop(L) != top)
        fail("stack unbalanced");
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}
