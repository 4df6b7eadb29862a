/*
 * raise.c: programmer errors. A wrong argument or a misuse is raised at the
 * caller's line, the first frame outside the library's own directory, so
 * the message points where the mistake is. Runtime failures are not raised:
 * they are error objects (errors.c).
 */
#include <stdarg.h>
#include <string.h>

#include "paperspace.h"

/* Where the library's Lua files are: registry[LIBRARY_DIRS] is a set of
 * source prefixes ("@/usr/share/lua/5.4/paperspace/"), each the directory
 * paperspace/errors.lua was loaded from (every module of the library loads
 * it). A frame whose source starts with one is the library's, whatever the
 * file (a new one included); frames of C functions are skipped too. */
#define LIBRARY_DIRS "paperspace.library_dirs"
/* registry[TASK_CALLERS][co] is the thread that started task `co`, while its
 * first run may raise a wrong argument: a task made by the library (a
 * call of gather given as a table) has no frame of the caller's own. */
#define TASK_CALLERS "paperspace.task_callers"
/* Threads followed from a task to the thread that started it. */
#define MAX_HOPS 8

static int is_library_frame(lua_State *L, int dirs, const lua_Debug *ar) {
    int found = 0;
    if (ar->currentline < 0)
        return 1; /* a C function */
    if (!lua_istable(L, dirs))
        return 0;
    lua_pushnil(L);
    while (!found && lua_next(L, dirs)) {
        size_t len;
        const char *dir = lua_tolstring(L, -2, &len);
        lua_pop(L, 1);
        found = strncmp(ar->source, dir, len) == 0;
    }
    if (found)
        lua_pop(L, 1); /* the key lua_next left */
    return found;
}

/* Pushes "file:line: " of the first frame of thread T outside the library,
 * from `level` up; 0 (nothing pushed) when there is none. */
static int push_where(lua_State *L, lua_State *T, int level, int dirs) {
    lua_Debug ar;
    for (; lua_getstack(T, level, &ar); level++) {
        if (lua_getinfo(T, "Sl", &ar) && !is_library_frame(L, dirs, &ar)) {
            lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
            return 1;
        }
    }
    return 0;
}

/* Raises "where: message" for a programmer error such as a wrong argument,
 * "where" being the first caller outside the library: in this thread, or,
 * in a task the library made, in the thread that started it. */
int ps_raise(lua_State *L, const char *fmt, ...) {
    va_list ap;
    int dirs, callers, found, hops;
    lua_State *T = L;
    luaL_checkstack(L, 8, NULL);
    lua_getfield(L, LUA_REGISTRYINDEX, LIBRARY_DIRS);
    dirs = lua_gettop(L);
    lua_getfield(L, LUA_REGISTRYINDEX, TASK_CALLERS);
    callers = lua_gettop(L);
    found = push_where(L, T, 1, dirs);
    if (!found)
        lua_pushthread(L);
    for (hops = 0; !found && hops < MAX_HOPS && lua_istable(L, callers); hops++) {
        lua_rawget(L, callers); /* the thread at the top -> the one that started it */
        if ((T = lua_tothread(L, -1)) == NULL)
            break;
        found = push_where(L, T, 0, dirs);
    }
    if (!found)
        lua_pushliteral(L, "");
    lua_insert(L, dirs); /* "where", in place of what the search used */
    lua_settop(L, dirs);
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    lua_concat(L, 2);
    return lua_error(L);
}

/* Raises "bad argument #pos to 'fname' (message)" at the caller, as
 * luaL_argerror does, but past the library's own frames. */
int ps_argerror(lua_State *L, int pos, const char *fname, const char *fmt, ...) {
    va_list ap;
    const char *what;
    va_start(ap, fmt);
    what = lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    return ps_raise(L, "bad argument #%d to '%s' (%s)", pos, fname, what);
}

/* core.bad_argument(pos, fname, message): ps_argerror for the Lua layer. */
int ps_core_bad_argument(lua_State *L) {
    int pos = (int)luaL_checkinteger(L, 1);
    const char *fname = luaL_checkstring(L, 2);
    const char *message = luaL_checkstring(L, 3);
    return ps_argerror(L, pos, fname, "%s", message);
}

/* core.set_library_dir(source): `source` is that of a file of the library
 * (debug.getinfo's, "@.../paperspace/errors.lua"); frames of every file in
 * its directory and below are the library's from now on. */
int ps_core_set_library_dir(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    while (len > 0 && s[len - 1] != '/' && s[len - 1] != '\\')
        len--;
    if (len < 2 || s[0] != '@')
        return 0; /* not loaded from a file: only C frames are skipped */
    lua_getfield(L, LUA_REGISTRYINDEX, LIBRARY_DIRS);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, LIBRARY_DIRS);
    }
    lua_pushlstring(L, s, len);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    return 0;
}

/* core.link_task(co, [thread]): until core.unlink_task(co), a wrong
 * argument raised in coroutine `co` with no frame outside the library is
 * reported at the caller found in `thread` (default: the running one). */
int ps_core_link_task(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTHREAD);
    lua_settop(L, 2);
    if (lua_isnil(L, 2)) {
        lua_pushthread(L);
        lua_replace(L, 2);
    }
    luaL_checktype(L, 2, LUA_TTHREAD);
    lua_getfield(L, LUA_REGISTRYINDEX, TASK_CALLERS);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_createtable(L, 0, 1);
        lua_pushliteral(L, "k");
        lua_setfield(L, -2, "__mode");
        lua_setmetatable(L, -2);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, TASK_CALLERS);
    }
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_rawset(L, -3);
    return 0;
}

/* core.unlink_task(co) */
int ps_core_unlink_task(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTHREAD);
    lua_getfield(L, LUA_REGISTRYINDEX, TASK_CALLERS);
    if (lua_istable(L, -1)) {
        lua_pushvalue(L, 1);
        lua_pushnil(L);
        lua_rawset(L, -3);
    }
    return 0;
}
