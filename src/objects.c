/*
 * objects.c: gives the items of a decoded list their metatable in one pass
 * (team.wrap does it for the members and secrets of a list): a list of
 * 10,000 members costs one loop in C, not 10,000 calls from Lua.
 */
#include "paperspace.h"

/* core.set_metatables(list, mt) -> nil | i: gives `mt` to every item of the
 * array `list`, in order, while each is a JSON object (a table without an
 * item [1]: lua-cjson decodes an empty object and an empty array alike);
 * returns the index of the first item that is not one, having stopped there. */
int ps_set_metatables(lua_State *L) {
    lua_Integer i;
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    for (i = 1;; i++) {
        int object;
        lua_rawgeti(L, 1, i);
        if (lua_isnil(L, -1))
            return 0;
        object = lua_istable(L, -1);
        if (object) {
            lua_rawgeti(L, -1, 1);
            object = lua_isnil(L, -1);
            lua_pop(L, 1);
        }
        if (!object) {
            lua_pushinteger(L, i);
            return 1;
        }
        lua_pushvalue(L, 2);
        lua_setmetatable(L, -2);
        lua_pop(L, 1);
    }
}
