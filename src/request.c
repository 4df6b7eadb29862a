/*
 * request.c: a call's own request. Checks the call's arguments against its
 * operation's row and builds, with no curl handle and nothing shared with
 * other calls, the URL from the base URL and percent-encoded path segments,
 * the query of a paged list, the JSON body, and copies of the secret values
 * it carries. Bad arguments raise before anything is sent.
 *
 * Reading the arguments may run user code (a metamethod of the body or the
 * options, a finalizer), which may make other calls or close the client:
 * the request is the call's own (client.c builds it under lua_pcall, and
 * frees and wipes it if a check raises), and nothing of the client is read
 * after the first argument is.
 */
#include <stdio.h>
#include <string.h>

#include "paperspace.h"

#define MAX_LIMIT 120

static void out_of_memory(lua_State *L) {
    ps_raise(L, "paperspace: not enough memory to build the request");
}

/* An id or a name: a non-empty string, or an integer written in decimal.
 * Returns it as a string, replacing the value at `idx`; raises naming
 * argument `pos` of function `fname` otherwise. */
const char *ps_check_name(lua_State *L, const char *fname, int idx, int pos, const char *what,
                          size_t *len) {
    const char *s;
    if (lua_type(L, idx) == LUA_TNUMBER && ps_isinteger(L, idx)) {
        char num[32];
        snprintf(num, sizeof num, "%lld", ps_tolonglong(L, idx));
        lua_pushstring(L, num);
        lua_replace(L, idx);
    } else if (lua_type(L, idx) == LUA_TNUMBER) {
        ps_argerror(L, pos, fname, "%s must be a string or an integer, got %s, which is not an integer",
                  what, lua_tostring(L, idx));
    } else if (lua_type(L, idx) != LUA_TSTRING) {
        ps_argerror(L, pos, fname, "%s must be a string or an integer, got %s", what,
                  luaL_typename(L, idx));
    }
    s = lua_tolstring(L, idx, len);
    if (*len == 0)
        ps_argerror(L, pos, fname, "%s must not be empty", what);
    if (*len > PS_MAX_NAME)
        ps_argerror(L, pos, fname, "%s is too long (%d bytes, at most %d)", what,
                  *len > (size_t)0x7fffffff ? 0x7fffffff : (int)*len, PS_MAX_NAME);
    if (memchr(s, '\0', *len) || memchr(s, '\r', *len) || memchr(s, '\n', *len))
        ps_argerror(L, pos, fname, "%s must not contain NUL, CR or LF", what);
    /* Escaped or not, a "." or ".." segment may be resolved by a proxy or
     * server into a different path: refuse rather than guess. */
    if ((*len == 1 && s[0] == '.') || (*len == 2 && s[0] == '.' && s[1] == '.'))
        ps_argerror(L, pos, fname, "%s must not be '.' or '..'", what);
    return s;
}

static void build_path(lua_State *L, ps_request *t, const ps_operation *op, int base) {
    const char *p = op->path;
    int n = 0, oom = 0;
    while (*p) {
        const char *open = strchr(p, '{');
        size_t lit = open ? (size_t)(open - p) : strlen(p);
        if (!ps_buf_append(&t->url, p, lit))
            out_of_memory(L);
        if (open == NULL)
            break;
        {
            const char *close = strchr(open, '}');
            char what[32];
            size_t len;
            const char *s;
            snprintf(what, sizeof what, "%.*s", (int)(close - open - 1), open + 1);
            s = ps_check_name(L, t->fname, base + n, n + 1, what, &len);
            ps_escape_segment(&t->url, s, len, &oom);
            if (oom)
                out_of_memory(L);
            n++;
            p = close + 1;
        }
    }
}

/* Appends "<sep><key>=<value>" with the value percent-encoded. */
static void add_query(lua_State *L, ps_request *t, const char *key, const char *v, size_t len) {
    int oom = 0;
    if (!ps_buf_addstr(&t->url, strchr(t->url.data + t->path_at, '?') ? "&" : "?") ||
        !ps_buf_addstr(&t->url, key) || !ps_buf_addstr(&t->url, "="))
        out_of_memory(L);
    ps_escape_segment(&t->url, v, len, &oom);
    if (oom)
        out_of_memory(L);
}

static void build_query(lua_State *L, ps_request *t, int idx, int pos) {
    static const struct {
        const char *option, *param;
    } text_params[] = {{"after", "after"}, {"order_by", "orderBy"}};
    size_t i, len;
    lua_getfield(L, idx, "limit");
    if (!lua_isnil(L, -1)) {
        lua_Number n = lua_tonumber(L, -1);
        char num[16];
        if (lua_type(L, -1) != LUA_TNUMBER || !ps_isinteger(L, -1) || n < 1 || n > MAX_LIMIT)
            ps_argerror(L, pos, t->fname, "opts.limit must be an integer from 1 to %d", MAX_LIMIT);
        snprintf(num, sizeof num, "%d", (int)n);
        add_query(L, t, "limit", num, strlen(num));
    }
    lua_pop(L, 1);
    for (i = 0; i < sizeof text_params / sizeof text_params[0]; i++) {
        char what[32];
        lua_getfield(L, idx, text_params[i].option);
        if (!lua_isnil(L, -1)) {
            const char *s;
            snprintf(what, sizeof what, "opts.%s", text_params[i].option);
            s = ps_check_name(L, t->fname, lua_gettop(L), pos, what, &len);
            add_query(L, t, text_params[i].param, s, len);
        }
        lua_pop(L, 1);
    }
    lua_getfield(L, idx, "order");
    if (!lua_isnil(L, -1)) {
        const char *s = lua_tolstring(L, -1, &len);
        if (lua_type(L, -1) != LUA_TSTRING || (strcmp(s, "asc") != 0 && strcmp(s, "desc") != 0))
            ps_argerror(L, pos, t->fname, "opts.order must be \"asc\" or \"desc\"");
        add_query(L, t, "order", s, len);
    }
    lua_pop(L, 1);
}

/* The number of seconds at `idx` as milliseconds (at least 1), or -1 when
 * it is not a positive number of seconds up to a year. */
long ps_seconds_ms(lua_State *L, int idx) {
    lua_Number s = lua_tonumber(L, idx);
    if (lua_type(L, idx) != LUA_TNUMBER || !(s > 0) || s > 86400 * 365)
        return -1;
    return s * 1000 < 1 ? 1 : (long)(s * 1000 + 0.5);
}

/* Option `key` of the options table at `idx`, a timeout in seconds, as
 * milliseconds; `fallback` when absent. */
static long check_seconds(lua_State *L, const ps_request *r, int idx, int pos,
                          const char *key, long fallback) {
    long ms = fallback;
    lua_getfield(L, idx, key);
    if (!lua_isnil(L, -1) && (ms = ps_seconds_ms(L, -1)) < 0)
        ps_argerror(L, pos, r->fname, "opts.%s must be a positive number of seconds", key);
    lua_pop(L, 1);
    return ms;
}

/* Copies the secret value at the top of the stack, in every form the
 * library may send it in, for scrubbing what comes back. */
static void keep_secret(lua_State *L, ps_request *r) {
    size_t len;
    const char *v = lua_tolstring(L, -1, &len);
    if (!ps_secrets_add(L, &r->secrets, PS_UPV_ENCODE, v, len))
        out_of_memory(L);
}

/* Copies the body's known fields, checked and converted, into a new table
 * and encodes it with lua-cjson. Unknown fields are refused: a typo such as
 * `is_admin` must not be silently dropped. */
static void build_body(lua_State *L, ps_request *t, const ps_operation *op, int idx, int pos) {
    const ps_field *f;
    const char *json;
    size_t len;
    if (!lua_istable(L, idx))
        ps_argerror(L, pos, t->fname, "body must be a table, got %s", luaL_typename(L, idx));
    /* Unknown fields first: `Value` for `value` is named as the typo it is,
     * not reported as a missing `value`. */
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        for (f = op->fields; f->name != NULL; f++)
            if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), f->name) == 0)
                break;
        if (f->name == NULL) {
            lua_pushvalue(L, -1); /* tostring on a copy keeps lua_next's key intact */
            ps_argerror(L, pos, t->fname, "body has an unknown field '%s' (%s takes %s%s%s)",
                      lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                     : luaL_typename(L, -1),
                      op->name, op->fields[0].name, op->fields[1].name ? " and " : "",
                      op->fields[1].name ? op->fields[1].name : "");
        }
    }
    lua_createtable(L, 0, PS_MAX_FIELDS);
    for (f = op->fields; f->name != NULL; f++) {
        char what[40];
        snprintf(what, sizeof what, "body.%s", f->name);
        lua_getfield(L, idx, f->name);
        if (lua_isnil(L, -1))
            ps_argerror(L, pos, t->fname, "%s is required", what);
        if (f->type == PS_FIELD_BOOLEAN && !lua_isboolean(L, -1))
            ps_argerror(L, pos, t->fname, "%s must be a boolean, got %s", what, luaL_typename(L, -1));
        if (f->type == PS_FIELD_STRING && lua_type(L, -1) != LUA_TSTRING)
            ps_argerror(L, pos, t->fname, "%s must be a string, got %s", what, luaL_typename(L, -1));
        if (f->type == PS_FIELD_NAME)
            ps_check_name(L, t->fname, lua_gettop(L), pos, what, &len);
        if (f->secret)
            keep_secret(L, t);
        lua_setfield(L, -2, f->name);
    }
    lua_pushvalue(L, PS_UPV_ENCODE);
    lua_insert(L, -2);
    lua_call(L, 1, 1);
    json = lua_tolstring(L, -1, &len);
    if (json == NULL || !ps_buf_append(&t->payload, json, len))
        out_of_memory(L);
    lua_pop(L, 1);
}

/* Called under lua_pcall, so that the caller frees the request if a check
 * raises: as client methods are, with a ps_build as a light userdata after
 * their arguments. */
int ps_request_build_protected(lua_State *L) {
    ps_build *b = lua_touserdata(L, -1);
    lua_pop(L, 1);
    ps_request_build(L, b->r, b->c, b->op, 3, b->fname);
    return 0;
}

/* Builds op's request into r from the arguments starting at stack index
 * `base`: path parameters, then the body (when the operation has one), then
 * an optional options table. A wrong argument is reported as one of function
 * `fname` (NULL: the operation's own name). Client `c` is read before any
 * argument is: user code run by the checks may close it. */
void ps_request_build(lua_State *L, ps_request *r, ps_client *c, const ps_operation *op,
                      int base, const char *fname) {
    int nparams = ps_operation_nparams(op);
    int has_body = op->fields[0].name != NULL;
    int opts = base + nparams + has_body;
    int opts_pos = nparams + has_body + 1;

    r->op = op;
    r->fname = fname != NULL ? fname : op->name;
    r->timeout_ms = c->timeout_ms;
    r->connect_timeout_ms = c->connect_timeout_ms;
    r->path_at = c->base_len;
    if (!ps_buf_append(&r->url, c->base_url, c->base_len))
        out_of_memory(L);
    c = NULL; /* from here on, user code may run */
    build_path(L, r, op, base);
    if (!lua_isnoneornil(L, opts)) {
        long timeout = r->timeout_ms, connect_timeout = r->connect_timeout_ms;
        luaL_checktype(L, opts, LUA_TTABLE); /* the client's check_opts names the mistake */
        if (op->paged)
            build_query(L, r, opts, opts_pos);
        r->timeout_ms = check_seconds(L, r, opts, opts_pos, "timeout", timeout);
        r->connect_timeout_ms =
            check_seconds(L, r, opts, opts_pos, "connect_timeout", connect_timeout);
    }
    /* The body last: once its secret is encoded, nothing can refuse the call
     * and leave it behind in the payload. */
    if (has_body)
        build_body(L, r, op, base + nparams, nparams + 1);
}

/* Moves request src into dst (a transfer's): dst's buffers, wiped, go to
 * src, which the caller frees. */
void ps_request_move(ps_request *dst, ps_request *src) {
    ps_request old = *dst;
    ps_request_wipe(&old);
    *dst = *src;
    *src = old;
}

/* Forgets what r holds, overwriting its payload and secrets; keeps memory. */
void ps_request_wipe(ps_request *r) {
    r->url.len = 0;
    ps_buf_wipe(&r->payload);
    ps_secrets_wipe(&r->secrets);
}

/* URLs and paths longer than this are shown cut, with their length: one
 * built from a huge cursor must not fill a log or a terminal. */
#define MAX_URL_SHOWN 2048

/* Pushes the `len` bytes at `s`, cut to MAX_URL_SHOWN. */
static void push_shown(lua_State *L, const char *s, size_t len) {
    if (len <= MAX_URL_SHOWN) {
        lua_pushlstring(L, s, len);
        return;
    }
    lua_pushlstring(L, s, MAX_URL_SHOWN);
    lua_pushfstring(L, "... (%d bytes)", len > (size_t)0x7fffffff ? 0x7fffffff : (int)len);
    lua_concat(L, 2);
}

/* Pushes the request's URL, as shown in errors and records. */
void ps_request_push_url(lua_State *L, const ps_request *r) {
    push_shown(L, r->url.data, r->url.len);
}

/* Pushes the request's path (and query), as shown in errors and records. */
void ps_request_push_path(lua_State *L, const ps_request *r) {
    push_shown(L, r->url.data + r->path_at, r->url.len - r->path_at);
}

void ps_request_free(ps_request *r) {
    ps_buf_free(&r->url);
    ps_buf_free(&r->payload);
    ps_secrets_free(&r->secrets);
}
