/*
 * errors.c: the error object. Every runtime failure of a call reaches Lua
 * through ps_error_push, as `nil, err`, made from the call's parsed
 * response (response.c), with the same fields whatever went wrong; the Lua
 * layer gives the metatable its methods. And the programmer errors: a wrong
 * argument is raised at the caller's line, past the library's own frames.
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

const char *ps_error_kind_for_status(long status) {
    switch (status) {
    case 400: return "bad_request";
    case 401: return "authentication";
    case 403: return "permission_denied";
    case 404: return "not_found";
    case 409: return "conflict";
    case 422: return "unprocessable";
    case 429: return "rate_limited";
    default: return status >= 500 && status < 600 ? "server_error" : "http";
    }
}

/* What kind of failure libcurl's `rc` is. A reply that breaks HTTP's
 * framing (a header line without a colon, a bad or conflicting
 * Content-Length, a bad chunk size, a bad status line, an encoding that does
 * not decode) is the server's fault, not the network's: invalid_response. */
const char *ps_error_kind_for_curl(CURLcode rc, const char *errbuf) {
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT: return "timeout";
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_UNSUPPORTED_PROTOCOL: /* an HTTP/0.9 reply: no status line */
        return "invalid_response";
    case CURLE_RECV_ERROR:
        /* libcurl reports a chunked body it cannot read as a receive error */
        return errbuf != NULL && strstr(errbuf, "hunk") != NULL ? "invalid_response"
                                                                : "connection";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED: return "tls";
    default: return "connection";
    }
}

static void set_string(lua_State *L, ps_transfer *t, const char *key, const char *s, size_t len) {
    if (s == NULL)
        return;
    lua_pushlstring(L, s, len);
    ps_scrub_top(L, t);
    lua_setfield(L, -2, key);
}

/* Takes the API's own code and message from an error body {code, message}. */
static void set_from_body(lua_State *L, ps_transfer *t, int body) {
    static const char *const fields[] = {"code", "message"};
    size_t i;
    if (!lua_istable(L, body))
        return;
    for (i = 0; i < 2; i++) {
        size_t len = 0;
        const char *s = NULL;
        lua_getfield(L, body, fields[i]);
        if (lua_type(L, -1) == LUA_TSTRING)
            s = lua_tolstring(L, -1, &len); /* the body table keeps it alive */
        lua_pop(L, 1);
        set_string(L, t, fields[i], s, len);
    }
}

/* "HTTP 502", and the body's type when it was not JSON (an HTML page from a
 * proxy, say), for an error body that gave no message of its own. */
static void set_default_message(lua_State *L, const ps_response *r) {
    lua_getfield(L, -1, "message");
    if (!lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if (r->body == 0 && r->content_type != NULL) {
        lua_pushlstring(L, r->content_type, r->content_type_len);
        ps_scrub_top(L, r->t);
        lua_pushfstring(L, "HTTP %d (%s body)", (int)r->status, lua_tostring(L, -1));
        lua_remove(L, -2);
    } else {
        lua_pushfstring(L, "HTTP %d", (int)r->status);
    }
    lua_setfield(L, -2, "message");
}

/* What retrying needs to know of an attempt that got no response: whether
 * any byte of the request left (if none did, even a POST is safe to send
 * again), and libcurl's own code. Plus the attempt's duration. */
static void set_wire_info(lua_State *L, const ps_response *r) {
    ps_transfer *t = r->t;
    long sent = 0;
    lua_pushnumber(L, r->elapsed);
    lua_setfield(L, -2, "elapsed");
    if (t->rc == CURLE_OK)
        return;
    lua_pushinteger(L, (lua_Integer)t->rc);
    lua_setfield(L, -2, "curl_code");
    if (curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &sent) != CURLE_OK)
        sent = 1; /* unknown: assume the worst */
    lua_pushboolean(L, sent > 0);
    lua_setfield(L, -2, "request_sent");
}

/* Pushes `nil, err` for response r (see ps_response: with r->status 0,
 * no response is reported) and returns 2. `fmt`, when not NULL, gives the
 * message, otherwise it comes from the body. */
int ps_error_push(lua_State *L, const ps_response *r, const char *kind, const char *fmt, ...) {
    ps_transfer *t = r->t;

    luaL_checkstack(L, 8, NULL);
    lua_pushnil(L);
    lua_createtable(L, 0, 12);
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, t->req.op->method);
    lua_setfield(L, -2, "method");
    ps_request_push_url(L, &t->req);
    lua_setfield(L, -2, "url");
    ps_request_push_path(L, &t->req);
    lua_setfield(L, -2, "path");
    set_wire_info(L, r);
    if (r->status > 0) {
        lua_pushinteger(L, (lua_Integer)r->status);
        lua_setfield(L, -2, "status");
        set_string(L, t, "request_id", r->request_id, r->request_id_len);
        ps_headers_push(L, &t->head);
        ps_scrub(L, t);
        lua_setfield(L, -2, "headers");
    }
    if (r->body != 0) { /* any JSON value: an object, or a string, a number, null */
        lua_pushvalue(L, r->body);
        ps_scrub(L, t);
        lua_setfield(L, -2, "body");
        set_from_body(L, t, r->body); /* scrubs what it takes */
    }
    if (fmt != NULL) { /* ours, over the body's */
        va_list ap;
        va_start(ap, fmt);
        lua_pushvfstring(L, fmt, ap);
        va_end(ap);
        ps_scrub_top(L, t);
        lua_setfield(L, -2, "message");
    }
    if (r->status > 0)
        set_default_message(L, r);
    if (r->status == 401 && t->client->api_key == NULL) {
        lua_getfield(L, -1, "message");
        lua_pushliteral(L, " (no API key configured: set PAPERSPACE_API_KEY or pass api_key "
                           "to paperspace.new)");
        lua_concat(L, 2);
        lua_setfield(L, -2, "message");
    }
    luaL_getmetatable(L, PS_ERROR_MT);
    lua_setmetatable(L, -2);
    return 2;
}
