/*
 * compat.h: the few Lua C API calls that differ between Lua 5.1 (and
 * LuaJIT), 5.2, 5.3 and 5.4. The rest of the core is written against the
 * names defined here, so it builds unchanged on every one of them.
 */
#ifndef PAPERSPACE_COMPAT_H
#define PAPERSPACE_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM >= 502
#define ps_setfuncs(L, l, n) luaL_setfuncs(L, l, n)
#else
/* LuaJIT declares some 5.2 functions and PUC 5.1 none; our own static
 * version avoids depending on which. */
static inline void ps_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
    luaL_checkstack(L, nup + 1, "too many upvalues");
    for (; l->name != NULL; l++) {
        int i;
        for (i = 0; i < nup; i++)
            lua_pushvalue(L, -nup);
        lua_pushcclosure(L, l->func, nup);
        lua_setfield(L, -(nup + 2), l->name);
    }
    lua_pop(L, nup);
}
#endif

#if LUA_VERSION_NUM >= 503
/* A number with an integer value, 10.0 included, as on 5.1 and LuaJIT. */
static inline int ps_isinteger(lua_State *L, int i) {
    int isnum = 0;
    if (lua_type(L, i) == LUA_TNUMBER)
        (void)lua_tointegerx(L, i, &isnum);
    return isnum;
}
#define ps_tolonglong(L, i) ((long long)lua_tointeger(L, i))
#else
/* Before 5.3 every number is a double: an integer is one that converts to
 * long long and back unchanged (checked in range first: the cast of a
 * double outside it is undefined). */
static inline int ps_isinteger(lua_State *L, int i) {
    lua_Number n;
    if (lua_type(L, i) != LUA_TNUMBER)
        return 0;
    n = lua_tonumber(L, i);
    return n >= -9223372036854775808.0 && n < 9223372036854775808.0 &&
           n == (lua_Number)(long long)n;
}
#define ps_tolonglong(L, i) ((long long)lua_tonumber(L, i))
#endif

#endif
