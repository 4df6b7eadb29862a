/*
 * core.c: luaopen_paperspace_core, the C module behind `paperspace`.
 * It holds a private lua-cjson instance, so that a user's cjson settings
 * never change how the API's JSON is read or written.
 */
#include <errno.h>
#include <time.h>

#include "paperspace.h"

/* core.check_name(value, fname, what, pos) -> value as a string, checked as
 * an id or a name is before it goes into a path; raises naming `what` as
 * argument `pos` of function `fname`. */
static int core_check_name(lua_State *L) {
    const char *fname = luaL_checkstring(L, 2);
    const char *what = luaL_checkstring(L, 3);
    int pos = (int)luaL_checkinteger(L, 4);
    size_t len;
    lua_settop(L, 4);
    ps_check_name(L, fname, 1, pos, what, &len);
    lua_settop(L, 1);
    return 1;
}

/* core.headers(head) -> {name = value}: the header block of a call's
 * record as a table with lower-case names, repeated headers joined. */
static int core_headers(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    ps_buf head;
    head.data = (char *)s; /* only read */
    head.len = len;
    head.cap = len + 1;
    ps_headers_push(L, &head);
    return 1;
}

/* core.header(head, name) -> the value of header `name` (case-insensitive)
 * in a record's header block, or nil. */
static int core_header(lua_State *L) {
    size_t len, vlen;
    const char *s = luaL_checklstring(L, 1, &len), *v;
    const char *name = luaL_checkstring(L, 2);
    ps_buf head;
    head.data = (char *)s; /* only read */
    head.len = len;
    head.cap = len + 1;
    v = ps_header_find(&head, name, &vlen);
    if (v == NULL)
        return 0;
    lua_pushlstring(L, v, vlen);
    return 1;
}

/* core.raise(message): raises it at the first caller outside the library. */
static int core_raise(lua_State *L) {
    return ps_raise(L, "%s", luaL_checkstring(L, 1));
}

/* core.sleep(seconds): waits, for the pause between retries. */
static int core_sleep(lua_State *L) {
    lua_Number s = luaL_checknumber(L, 1);
    struct timespec ts;
    if (!(s > 0))
        return 0;
    if (s > 86400)
        s = 86400; /* retry waits are capped far below; keeps the cast defined */
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (lua_Number)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    return 0;
}

/* core.now() -> seconds on a monotonic clock, for measuring durations. */
static int core_now(lua_State *L) {
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return luaL_error(L, "paperspace: clock_gettime failed");
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

static const luaL_Reg core_functions[] = {
    {"new", ps_client_new},
    {"check_name", core_check_name},
    {"header", core_header},
    {"headers", core_headers},
    {"raise", core_raise},
    {"bad_argument", ps_core_bad_argument},
    {"set_library_dir", ps_core_set_library_dir},
    {"link_task", ps_core_link_task},
    {"unlink_task", ps_core_unlink_task},
    {"sleep", core_sleep},
    {"now", core_now},
    {"set_metatables", ps_set_metatables},
    {NULL, NULL},
};

/* Pushes decode, encode and null of a new lua-cjson instance. */
static void push_cjson(lua_State *L) {
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson.safe");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "new");
    lua_call(L, 0, 1);
    lua_getfield(L, -1, "decode");
    lua_getfield(L, -2, "encode");
    lua_getfield(L, -3, "null");
    lua_remove(L, -4);
    lua_remove(L, -4);
}

static void push_versions(lua_State *L) {
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    lua_pushliteral(L, PS_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, v->version);
    lua_setfield(L, -2, "curl_version");
    lua_pushstring(L, v->ssl_version ? v->ssl_version : "");
    lua_setfield(L, -2, "ssl_version");
    lua_pushboolean(L, (v->features & CURL_VERSION_HTTP2) != 0);
    lua_setfield(L, -2, "http2");
}

int luaopen_paperspace_core(lua_State *L) {
    int i;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return luaL_error(L, "paperspace: libcurl failed to initialise");
    /* The upvalues (PS_UPV_*): decode, encode, null, and the request
     * builder, a closure over the first three. */
    push_cjson(L);
    lua_pushvalue(L, -3);
    lua_pushvalue(L, -3);
    lua_pushvalue(L, -3);
    lua_pushcclosure(L, ps_request_build_protected, 3);
    ps_client_open(L);

    lua_createtable(L, 0, 20);
    for (i = 0; i < PS_NUPVALUES; i++)
        lua_pushvalue(L, -(PS_NUPVALUES + 1));
    ps_setfuncs(L, core_functions, PS_NUPVALUES);
    ps_operations_push(L);
    lua_setfield(L, -2, "operations");
    luaL_newmetatable(L, PS_ERROR_MT);
    lua_setfield(L, -2, "error_metatable");
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "null");
    /* The decoder responses go through, for benchmarks and tools. */
    lua_pushvalue(L, -5);
    lua_setfield(L, -2, "decode");
    push_versions(L);
    return 1;
}
