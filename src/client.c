/*
 * client.c: the client handle, a userdata owning the curl multi handle, the
 * share (connections, DNS, TLS sessions), the pool of transfers, the header
 * lists and the settings. Closed by close(), __close or __gc, whichever
 * comes first. Calls either block (call) or are started and driven by the
 * caller's loop (start, drive, take, cancel).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paperspace.h"

#define UNLIMITED_RESPONSE ((curl_off_t)1 << 62)
/* A bound for the pool's size, far above what paperspace.config allows. */
#define MAX_POOL 65535

ps_client *ps_client_check(lua_State *L, int idx) {
    ps_client *c = luaL_checkudata(L, idx, PS_CLIENT_MT);
    if (c->closed || c->close_pending)
        ps_raise(L, "paperspace: the client is closed");
    return c;
}

static void wipe(char *s) {
    volatile char *p = s;
    while (s != NULL && *p)
        *p++ = 0;
}

static void free_headers(struct curl_slist **list) {
    struct curl_slist *l;
    for (l = *list; l != NULL; l = l->next)
        wipe(l->data); /* one of them holds the API key */
    curl_slist_free_all(*list);
    *list = NULL;
}

static void free_transfer(ps_client *c, ps_transfer *t) {
    if (t == NULL)
        return;
    if (t->state == PS_RUNNING)
        curl_multi_remove_handle(c->multi, t->easy);
    ps_transfer_free(t);
}

static void client_release(ps_client *c) {
    int i;
    if (c->closed)
        return;
    c->closed = 1;
    c->close_pending = 0;
    if (c->pool != NULL) {
        for (i = 0; i <= c->max_concurrency; i++)
            free_transfer(c, c->pool[i]);
        free(c->pool);
        c->pool = NULL;
    }
    if (c->spare != NULL) {
        ps_request_free(c->spare);
        free(c->spare);
        c->spare = NULL;
    }
    while (c->extra != NULL) {
        ps_transfer *t = c->extra;
        c->extra = t->next;
        free_transfer(c, t);
    }
    /* The easy handles first, then what they used. */
    if (c->multi != NULL)
        curl_multi_cleanup(c->multi);
    ps_events_free(c);
    if (c->share != NULL)
        curl_share_cleanup(c->share);
    c->multi = NULL;
    c->share = NULL;
    free_headers(&c->headers);
    free_headers(&c->body_headers);
    wipe(c->api_key);
    free(c->api_key);
    ps_secrets_free(&c->key_forms);
    free(c->base_url);
    free(c->user_agent);
    free(c->ca_file);
    c->api_key = c->base_url = c->user_agent = c->ca_file = NULL;
}

/* The config table comes resolved from paperspace.config, which owns the
 * defaults and the checks of the options: a value missing or of another
 * type is the caller's bug (core.new called directly), not a user's. */
static int unresolved(lua_State *L, const char *key) {
    return luaL_error(L, "paperspace.core.new: config.%s is missing or invalid "
                         "(paperspace.config.resolve makes the table)", key);
}

/* Reads string field `key` of the config table (NULL when absent and
 * `optional`); raises when it holds NUL, CR or LF, which would let it forge
 * a header or a request line. */
static const char *config_string(lua_State *L, const char *key, int optional, size_t *len) {
    const char *s;
    lua_getfield(L, 1, key);
    if (optional && lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        unresolved(L, key);
    s = lua_tolstring(L, -1, len);
    if (memchr(s, '\0', *len) || memchr(s, '\r', *len) || memchr(s, '\n', *len))
        ps_raise(L, "paperspace.new: %s must not contain NUL, CR or LF", key);
    lua_pop(L, 1); /* still referenced by the config table */
    return s;
}

/* Timeouts follow the rule a call's own opts.timeout does (ps_seconds_ms). */
static long config_ms(lua_State *L, const char *key) {
    long ms;
    lua_getfield(L, 1, key);
    if (lua_type(L, -1) != LUA_TNUMBER)
        unresolved(L, key);
    if ((ms = ps_seconds_ms(L, -1)) < 0)
        ps_raise(L, "paperspace.new: %s must be a positive number of seconds", key);
    lua_pop(L, 1);
    return ms;
}

static char *copy(lua_State *L, const char *s, size_t len) {
    char *p = malloc(len + 1);
    if (p == NULL)
        ps_raise(L, "paperspace.new: not enough memory");
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

static void add_header(lua_State *L, struct curl_slist **list, const char *line) {
    struct curl_slist *l = curl_slist_append(*list, line);
    if (l == NULL)
        ps_raise(L, "paperspace.new: not enough memory");
    *list = l;
}

/* The Accept-Encoding line libcurl sends for CURLOPT_ACCEPT_ENCODING ""
 * (every encoding it decodes), written into `line`; NULL when it decodes
 * none. */
static const char *accept_encoding(char line[64]) {
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    const size_t prefix = sizeof "Accept-Encoding: " - 1;
    size_t n;
    strcpy(line, "Accept-Encoding: ");
    if (v->features & CURL_VERSION_LIBZ)
        strcat(line, "deflate, gzip, ");
#ifdef CURL_VERSION_BROTLI
    if (v->features & CURL_VERSION_BROTLI)
        strcat(line, "br, ");
#endif
#ifdef CURL_VERSION_ZSTD
    if (v->features & CURL_VERSION_ZSTD)
        strcat(line, "zstd, ");
#endif
    n = strlen(line);
    if (n == prefix)
        return NULL;
    line[n - 2] = '\0'; /* the last ", " */
    return line;
}

/* Whether the environment names a proxy libcurl may use. A CONNECT to an
 * HTTPS proxy carries the User-Agent only when CURLOPT_USERAGENT has it. */
static int proxy_in_env(void) {
    static const char *const names[] = {"http_proxy", "HTTP_PROXY", "https_proxy",
                                        "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        if (v != NULL && v[0] != '\0')
            return 1;
    }
    return 0;
}

static void set_base_url(lua_State *L, ps_client *c) {
    size_t len;
    const char *url = config_string(L, "base_url", 0, &len);
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        ps_raise(L, "paperspace.new: base_url must start with http:// or https://");
    if (strpbrk(url, "?# \t") != NULL)
        ps_raise(L, "paperspace.new: base_url must have no query, fragment or spaces");
    while (len > 0 && url[len - 1] == '/')
        len--; /* the operations' paths start with "/" */
    c->base_url = copy(L, url, len);
    c->base_len = len;
}

/* The header lists every request sends. libcurl would format its
 * User-Agent and Accept-Encoding lines again for each request (a twentieth
 * of a small call); made here once, first, they go out as the same bytes. */
static void set_headers(lua_State *L, ps_client *c) {
    size_t len;
    const char *key = config_string(L, "api_key", 1, &len);
    char ae_line[64];
    const char *ae = accept_encoding(ae_line);
    if (!proxy_in_env()) {
        lua_pushfstring(L, "User-Agent: %s", c->user_agent);
        add_header(L, &c->headers, lua_tostring(L, -1));
        add_header(L, &c->body_headers, lua_tostring(L, -1));
        lua_pop(L, 1);
        c->user_agent_in_headers = 1;
    }
    if (ae != NULL) {
        add_header(L, &c->headers, ae);
        add_header(L, &c->body_headers, ae);
    }
    if (key != NULL && len > 0) {
        luaL_Buffer b;
        c->api_key = copy(L, key, len);
        c->key_len = len;
        /* Every form a server could echo it in, for scrubbing. */
        if (!ps_secrets_add(L, &c->key_forms, PS_UPV_ENCODE, key, len))
            ps_raise(L, "paperspace.new: not enough memory");
        luaL_buffinit(L, &b);
        luaL_addstring(&b, "Authorization: Bearer ");
        luaL_addlstring(&b, key, len);
        luaL_pushresult(&b);
        add_header(L, &c->headers, lua_tostring(L, -1));
        add_header(L, &c->body_headers, lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    add_header(L, &c->headers, "Accept: application/json");
    add_header(L, &c->body_headers, "Accept: application/json");
    add_header(L, &c->body_headers, "Content-Type: application/json");
    /* The bodies are small: waiting for "100 Continue" only adds a round trip. */
    add_header(L, &c->headers, "Expect:");
    add_header(L, &c->body_headers, "Expect:");
}

static int config_count(lua_State *L, const char *key) {
    lua_Number n;
    lua_getfield(L, 1, key);
    n = lua_tonumber(L, -1);
    if (!ps_isinteger(L, -1) || n < 1 || n > MAX_POOL)
        unresolved(L, key);
    lua_pop(L, 1);
    return (int)n;
}

/* The multi handle, the share and the first transfer. Concurrent calls to
 * one host use HTTP/2 streams of one connection when the server offers
 * HTTP/2, and up to max_host_connections kept-alive connections otherwise. */
static void set_pool(lua_State *L, ps_client *c) {
    static const curl_lock_data shared[] = {CURL_LOCK_DATA_CONNECT, CURL_LOCK_DATA_DNS,
                                            CURL_LOCK_DATA_SSL_SESSION};
    size_t i;
    c->max_concurrency = config_count(L, "max_concurrency");
    c->max_host_connections = config_count(L, "max_host_connections");
    c->share = curl_share_init();
    c->multi = curl_multi_init();
    c->pool = calloc((size_t)c->max_concurrency + 1, sizeof *c->pool);
    if (c->share == NULL || c->multi == NULL || c->pool == NULL)
        ps_raise(L, "paperspace.new: could not set up libcurl (out of memory)");
    for (i = 0; i < sizeof shared / sizeof shared[0]; i++)
        if (curl_share_setopt(c->share, CURLSHOPT_SHARE, shared[i]) != CURLSHE_OK)
            ps_raise(L, "paperspace.new: libcurl cannot share connections here");
    /* libcurl's default cache size follows the number of transfers in the
     * multi handle, so it would close idle connections as a batch winds
     * down; keep every connection the host may have. */
    if (curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                          (long)c->max_host_connections) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->max_host_connections) !=
            CURLM_OK)
        ps_raise(L, "paperspace.new: could not set up libcurl's multi handle");
    c->pool[0] = ps_transfer_new(c, 0);
    if (c->pool[0] == NULL)
        ps_raise(L, "paperspace.new: could not set up libcurl");
}

/* core.new(config) -> client. config, as paperspace.config.resolve makes
 * it, every field set but the optional api_key and ca_file: base_url,
 * api_key, user_agent (the whole header value), timeout, connect_timeout
 * (seconds), max_response_bytes, tls_verify, ca_file, max_concurrency,
 * max_host_connections. */
int ps_client_new(lua_State *L) {
    ps_client *c;
    size_t len;
    const char *ua, *ca;
    luaL_checktype(L, 1, LUA_TTABLE);
    c = lua_newuserdata(L, sizeof *c);
    memset(c, 0, sizeof *c);
    /* The metatable first: if a check below raises, __gc frees what exists. */
    luaL_getmetatable(L, PS_CLIENT_MT);
    lua_setmetatable(L, -2);

    set_base_url(L, c);
    ua = config_string(L, "user_agent", 0, &len);
    c->user_agent = copy(L, ua, len);
    set_headers(L, c);
    c->timeout_ms = config_ms(L, "timeout");
    c->connect_timeout_ms = config_ms(L, "connect_timeout");
    lua_getfield(L, 1, "max_response_bytes");
    if (!(lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) >= 1))
        unresolved(L, "max_response_bytes");
    c->max_response_bytes = lua_tonumber(L, -1) < (lua_Number)UNLIMITED_RESPONSE
                                ? (curl_off_t)lua_tonumber(L, -1)
                                : UNLIMITED_RESPONSE; /* math.huge, say */
    lua_pop(L, 1);
    lua_getfield(L, 1, "tls_verify");
    if (!lua_isboolean(L, -1))
        unresolved(L, "tls_verify");
    c->tls_verify = lua_toboolean(L, -1);
    lua_pop(L, 1);
    ca = config_string(L, "ca_file", 1, &len);
    if (ca != NULL)
        c->ca_file = copy(L, ca, len);

    set_pool(L, c);
    return 1;
}

/* The operation named by argument 2 of call, start, build and check, with
 * the stack cut to its arguments (absent ones read as nil). */
static const ps_operation *check_operation(lua_State *L) {
    const char *name = luaL_checkstring(L, 2);
    const ps_operation *op = ps_operation_find(name);
    if (op == NULL)
        ps_raise(L, "paperspace: unknown operation '%s'", name);
    lua_settop(L, 2 + ps_operation_nargs(op));
    return op;
}

/* While pinned, the client is not released: close() only asks, and the
 * last unpin closes it. Pinned only where nothing raises but a memory
 * error, while user code (a finalizer) may run. */
static void pin(ps_client *c) {
    c->busy++;
}

static void unpin(ps_client *c) {
    if (--c->busy == 0 && c->close_pending)
        client_release(c);
}

/* Gives request r back: its wiped buffers serve the next call, unless
 * another request already does or the client is closed. */
static void request_release(ps_client *c, ps_request *r) {
    if (c->spare == NULL && !c->closed) {
        ps_request_wipe(r);
        c->spare = r;
    } else {
        ps_request_free(r);
        free(r);
    }
}

/* Builds the call's own request from the arguments (from index 3): checked,
 * with its URL, body and secrets, before any transfer is touched. Raises on
 * a bad argument, and when user code run meanwhile closed the client; the
 * request is given back either way. The build runs under lua_pcall, on
 * copies of the arguments. */
static ps_request *build(lua_State *L, ps_client *c, const ps_operation *op,
                         const char *fname) {
    ps_build b;
    int i, top = lua_gettop(L);
    luaL_checkstack(L, top + 2, NULL);
    b.c = c;
    b.op = op;
    b.fname = fname;
    b.r = c->spare; /* a build nested in this one (from a metamethod) makes its own */
    c->spare = NULL;
    if (b.r == NULL && (b.r = calloc(1, sizeof *b.r)) == NULL)
        ps_raise(L, "paperspace: not enough memory to build the request");
    lua_pushvalue(L, PS_UPV_BUILD);
    for (i = 1; i <= top; i++)
        lua_pushvalue(L, i);
    lua_pushlightuserdata(L, &b);
    if (lua_pcall(L, top + 1, 0, 0) != 0) {
        request_release(c, b.r);
        lua_error(L);
    }
    if (c->closed || c->close_pending) {
        request_release(c, b.r);
        ps_raise(L, "paperspace: the client was closed while the call's arguments were read");
    }
    return b.r;
}

/* Moves request r into transfer t; r is left with t's old buffers, wiped,
 * and given back. */
static void adopt(ps_client *c, ps_transfer *t, ps_request *r) {
    ps_request_move(&t->req, r);
    request_release(c, r);
}

/* Pushes `value, err, record` of done transfer t, then makes it free for
 * the next call. Meanwhile it is TAKING: user code run by the allocations
 * (a finalizer making a call) cannot reuse it. The record is this call's
 * alone; the call's secrets, which it is scrubbed of, are wiped after. */
static int take_result(lua_State *L, ps_transfer *t) {
    t->state = PS_TAKING;
    ps_response_push(L, t);
    ps_request_wipe(&t->req);
    t->state = PS_IDLE;
    return 3;
}

/* A free transfer for a blocking call: slot 0, or one of the extra ones a
 * call made from inside another (a finalizer's) needs. */
static ps_transfer *blocking_transfer(lua_State *L, ps_client *c) {
    ps_transfer *t;
    if (c->pool[0]->state == PS_IDLE)
        return c->pool[0];
    for (t = c->extra; t != NULL; t = t->next)
        if (t->state == PS_IDLE)
            return t;
    if ((t = ps_transfer_new(c, 0)) == NULL)
        ps_raise(L, "paperspace: could not set up libcurl (out of memory)");
    t->next = c->extra;
    c->extra = t;
    return t;
}

/* client:call(operation, params..., [body], [opts]) -> value, err, record
 * Runs one attempt of the operation to its end. `record` describes it:
 * {status, elapsed, method, url, path, head} (see ps_response_push). */
static int client_call(lua_State *L) {
    ps_client *c = ps_client_check(L, 1);
    const ps_operation *op = check_operation(L);
    ps_request *r = build(L, c, op, NULL);
    ps_transfer *t = blocking_transfer(L, c);
    int n;
    adopt(c, t, r);
    pin(c);
    ps_transfer_run(t);
    n = take_result(L, t);
    unpin(c);
    return n;
}

/* client:start(operation, params..., [body], [opts]) -> id | nil
 * Starts one attempt without waiting; nil when max_concurrency are running. */
static int client_start(lua_State *L) {
    ps_client *c = ps_client_check(L, 1);
    const ps_operation *op = check_operation(L);
    ps_request *r = build(L, c, op, NULL);
    ps_transfer *t = NULL;
    int i;
    for (i = 1; i <= c->max_concurrency && t == NULL; i++) {
        if (c->pool[i] == NULL && (c->pool[i] = ps_transfer_new(c, i)) == NULL)
            return ps_raise(L, "paperspace: could not set up libcurl (out of memory)");
        if (c->pool[i]->state == PS_IDLE)
            t = c->pool[i];
    }
    if (t == NULL) {
        request_release(c, r);
        return 0;
    }
    adopt(c, t, r);
    ps_transfer_start(t);
    lua_pushinteger(L, t->id);
    return 1;
}

static ps_transfer *check_id(lua_State *L, ps_client *c, int idx) {
    lua_Integer id = luaL_checkinteger(L, idx);
    if (id < 1 || id > c->max_concurrency || c->pool[id] == NULL ||
        (c->pool[id]->state != PS_RUNNING && c->pool[id]->state != PS_DONE))
        ps_raise(L, "paperspace: no started call has id %d", (int)id);
    return c->pool[id];
}

/* client:drive([wait]) -> {id, ...}, running
 * Moves started calls forward, waiting up to `wait` seconds (default 0) for
 * the network; returns the ids of those that finished, and how many run. */
static int client_drive(lua_State *L) {
    ps_client *c = ps_client_check(L, 1);
    lua_Number wait = luaL_optnumber(L, 2, 0);
    int i, n = 0, running = 0;
    pin(c);
    ps_multi_drive(c, !(wait > 0) ? 0 : wait < INT_MAX / 1000 ? (long)(wait * 1000 + 0.5) : INT_MAX);
    lua_newtable(L);
    for (i = 1; i <= c->max_concurrency; i++) {
        ps_transfer *t = c->pool[i];
        if (t == NULL)
            continue;
        if (t->state == PS_DONE) {
            lua_pushinteger(L, i);
            lua_rawseti(L, -2, ++n);
        }
        running += t->state == PS_RUNNING;
    }
    lua_pushinteger(L, running);
    unpin(c);
    return 2;
}

/* client:take(id) -> value, err, record: the result of a finished call,
 * handed over once. */
static int client_take(lua_State *L) {
    ps_client *c = ps_client_check(L, 1);
    ps_transfer *t = check_id(L, c, 2);
    int n;
    if (t->state != PS_DONE)
        return ps_raise(L, "paperspace: call %d has not finished", t->id);
    pin(c);
    n = take_result(L, t);
    unpin(c);
    return n;
}

/* client:cancel(id): stops a started call and forgets it. */
static int client_cancel(lua_State *L) {
    ps_client *c = ps_client_check(L, 1);
    ps_transfer *t = check_id(L, c, 2);
    ps_transfer_stop(t);
    ps_request_wipe(&t->req);
    t->state = PS_IDLE;
    return 0;
}

/* client:capacity() -> max_concurrency */
static int client_capacity(lua_State *L) {
    lua_pushinteger(L, ps_client_check(L, 1)->max_concurrency);
    return 1;
}

/* client:build(operation, params..., [body], [opts]) -> method, url, body
 * Checks the arguments and builds the request without sending it. */
static int client_build(lua_State *L) {
    ps_client *c = ps_client_check(L, 1);
    const ps_operation *op = check_operation(L);
    ps_request *r = build(L, c, op, NULL);
    lua_pushstring(L, op->method);
    lua_pushlstring(L, r->url.data, r->url.len);
    if (r->payload.len > 0)
        lua_pushlstring(L, r->payload.data, r->payload.len);
    else
        lua_pushnil(L);
    request_release(c, r);
    return 3;
}

/* client:check(fname, operation, params..., [body], [opts])
 * Checks the arguments as build does, reporting a wrong one as an argument
 * of function `fname` (an iterator, say, that calls the operation later). */
static int client_check(lua_State *L) {
    ps_client *c = ps_client_check(L, 1);
    char fname[64];
    const ps_operation *op;
    /* A copy: the name's string leaves the stack. */
    snprintf(fname, sizeof fname, "%s", luaL_checkstring(L, 2));
    lua_remove(L, 2);
    op = check_operation(L);
    request_release(c, build(L, c, op, fname));
    return 0;
}

/* close() and __close: inside a call (a finalizer closing the client
 * while its result is pushed), the outermost call closes it as it returns. */
static int client_close(lua_State *L) {
    ps_client *c = luaL_checkudata(L, 1, PS_CLIENT_MT);
    if (c->busy > 0)
        c->close_pending = !c->closed;
    else
        client_release(c);
    return 0;
}

/* __gc: nothing can be inside a client that is collected. */
static int client_gc(lua_State *L) {
    client_release(luaL_checkudata(L, 1, PS_CLIENT_MT));
    return 0;
}

static int client_tostring(lua_State *L) {
    ps_client *c = luaL_checkudata(L, 1, PS_CLIENT_MT);
    if (c->closed || c->close_pending)
        lua_pushliteral(L, "paperspace.core client (closed)");
    else
        lua_pushfstring(L, "paperspace.core client (%s)", c->base_url);
    return 1;
}

/* handle:watch() and handle:events(): the socket-event driving of events.c. */
static int client_watch(lua_State *L) {
    return ps_events_watch(L, ps_client_check(L, 1));
}

static int client_events(lua_State *L) {
    return ps_events_changes(L, ps_client_check(L, 1));
}

static const luaL_Reg client_methods[] = {
    {"call", client_call},
    {"start", client_start},
    {"drive", client_drive},
    {"take", client_take},
    {"cancel", client_cancel},
    {"capacity", client_capacity},
    {"build", client_build},
    {"check", client_check},
    {"close", client_close},
    {"watch", client_watch},
    {"events", client_events},
    {NULL, NULL},
};

static const luaL_Reg client_meta[] = {
    {"__gc", client_gc},
    {"__close", client_close},
    {"__tostring", client_tostring},
    {NULL, NULL},
};

/* Creates the client metatable; its functions get as upvalues the
 * PS_NUPVALUES values at the top of the stack, which stay there. */
void ps_client_open(lua_State *L) {
    int i;
    luaL_newmetatable(L, PS_CLIENT_MT);
    lua_createtable(L, 0, 12);
    for (i = 0; i < PS_NUPVALUES; i++)
        lua_pushvalue(L, -(PS_NUPVALUES + 2));
    ps_setfuncs(L, client_methods, PS_NUPVALUES);
    lua_setfield(L, -2, "__index");
    for (i = 0; i < PS_NUPVALUES; i++)
        lua_pushvalue(L, -(PS_NUPVALUES + 1));
    ps_setfuncs(L, client_meta, PS_NUPVALUES);
    lua_pop(L, 1);
}
