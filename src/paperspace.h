/*
 * paperspace.h: what the files of the core share.
 *
 *   operations.c  the table of API operations
 *   request.c     a call's own request: checks its arguments, builds its URL
 *                 and JSON body, copies the secrets it carries; no curl
 *   transfer.c    sends a built request on the client's curl multi handle
 *   headers.c     reads a response's header block: one header, or all
 *   response.c    a finished attempt, read once: its result, or its error
 *                 through errors.c; and its record
 *   errors.c      the error object, pushed as `nil, err` in one place
 *   raise.c       programmer errors, raised at the caller's line
 *   scrub.c       removes the API key and secret values from server bytes
 *   client.c      the client handle: settings, connection pool, transfers
 *   events.c      the multi handle driven by socket events (event loops)
 *   core.c        luaopen_paperspace_core
 */
#ifndef PAPERSPACE_H
#define PAPERSPACE_H

#include <stddef.h>

/* Without libcurl's headers, stop at once with one line that says what to
 * install: a missing include is fatal, where #error would let a cascade of
 * follow-on errors bury it. */
#if defined(__has_include)
#if !__has_include(<curl/curl.h>)
#include "libcurl development files not found: install libcurl4-openssl-dev (Debian, Ubuntu) or libcurl-devel (Fedora), or set CURL_INCDIR"
#endif
#endif
#include <curl/curl.h>

#include "compat.h"

int luaopen_paperspace_core(lua_State *L);

#define PS_VERSION "0.1.0"
#define PS_CLIENT_MT "paperspace.client"
#define PS_ERROR_MT "paperspace.error"

/* Upvalues shared by core.new and the client methods: the private
 * lua-cjson instance, and ps_request_build_protected as a closure over the
 * first three. */
#define PS_UPV_DECODE lua_upvalueindex(1)
#define PS_UPV_ENCODE lua_upvalueindex(2)
#define PS_UPV_NULL lua_upvalueindex(3)
#define PS_UPV_BUILD lua_upvalueindex(4)
#define PS_NUPVALUES 4

/* A growable byte buffer; every allocation result is checked by its callers. */
typedef struct ps_buf {
    char *data;
    size_t len;
    size_t cap;
} ps_buf;

int ps_buf_reserve(ps_buf *b, size_t extra);
int ps_buf_append(ps_buf *b, const void *p, size_t n);
int ps_buf_addstr(ps_buf *b, const char *s);
void ps_buf_wipe(ps_buf *b);
void ps_buf_free(ps_buf *b);
void ps_buf_trim(ps_buf *b, size_t keep);
size_t ps_escape_segment(ps_buf *b, const char *s, size_t len, int *oom);

/* operations.c */
enum ps_result { PS_RESULT_JSON, PS_RESULT_NULLABLE, PS_RESULT_NONE };
enum ps_field_type { PS_FIELD_STRING, PS_FIELD_BOOLEAN, PS_FIELD_NAME };

typedef struct ps_field {
    const char *name;
    enum ps_field_type type;
    int secret; /* never echoed: scrubbed from errors, wiped after sending */
} ps_field;

#define PS_MAX_FIELDS 2

typedef struct ps_operation {
    const char *name;
    const char *method;
    const char *path; /* template: "{param}" is one percent-encoded segment */
    ps_field fields[PS_MAX_FIELDS + 1]; /* JSON body, NULL-terminated */
    int paged;                         /* a list: takes limit/after/orderBy/order */
    enum ps_result result;
    const char *item; /* what a list holds, or what is returned */
} ps_operation;

const ps_operation *ps_operation_find(const char *name);
int ps_operation_nparams(const ps_operation *op);
int ps_operation_nargs(const ps_operation *op);
void ps_operations_push(lua_State *L);

/* The forms of the secrets a call carries (the API key, secret values):
 * each as given, as the JSON encoder wrote it, and percent-encoded, so that
 * whichever a server echoes can be scrubbed. Owned copies, wiped on release. */
#define PS_MAX_FORMS (3 * PS_MAX_FIELDS)
typedef struct ps_secrets {
    ps_buf text; /* the forms, back to back */
    size_t at[PS_MAX_FORMS];
    size_t len[PS_MAX_FORMS];
    int n;
} ps_secrets;

/* A call's own request, built and checked before anything is sent or any
 * state shared with other calls is touched: user code run while its
 * arguments are read (metamethods, finalizers) may make other calls. */
typedef struct ps_request {
    const ps_operation *op;
    const char *fname; /* while it is built: the function its argument errors name */
    long timeout_ms;
    long connect_timeout_ms;
    size_t path_at; /* offset of the path within the URL */
    ps_buf url;
    ps_buf payload;
    ps_secrets secrets;
} ps_request;

typedef struct ps_client ps_client;
typedef struct ps_events ps_events;

/* IDLE: free; RUNNING: on the multi handle; DONE: its result waits;
 * TAKING: its result is being pushed (user code may run meanwhile). */
enum ps_state { PS_IDLE, PS_RUNNING, PS_DONE, PS_TAKING };

/* One HTTP exchange: an easy handle and its buffers, kept between calls so
 * that memory is reused; connections live in the client's share. */
typedef struct ps_transfer {
    CURL *easy;
    ps_client *client;
    struct ps_transfer *next; /* the client's list of extra blocking transfers */
    int id; /* its slot in the client's pool */
    enum ps_state state;
    ps_request req; /* the request it sends, moved in from the call */
    long timeout_ms; /* what the easy handle holds now */
    long connect_timeout_ms;
    int overflow;  /* the response outgrew max_response_bytes */
    int head_done; /* the header block ended: what follows are trailers */
    int conflict;  /* the response gave two different Content-Lengths */
    CURLcode rc;   /* how the last attempt ended */
    ps_buf body;
    ps_buf head; /* the raw header block of the last response */
    /* What the easy handle holds from the last call: its operation (NULL
     * when unknown) and URL. */
    const ps_operation *prepared;
    ps_buf prepared_url;
    void *url; /* the URL parsed once (a CURLU), when libcurl takes one */
    char errbuf[CURL_ERROR_SIZE];
} ps_transfer;

/* The client: its settings, a multi handle that runs every transfer, a
 * share holding connections, DNS and TLS sessions, and a pool of transfers.
 * Slot 0 serves blocking calls (and `extra` those made while slot 0 is
 * busy: from a finalizer, say); slots 1..max_concurrency started ones. */
struct ps_client {
    CURLM *multi;
    CURLSH *share;
    ps_transfer **pool;
    ps_transfer *extra;
    ps_request *spare; /* a request's buffers, kept for the next call's */
    int max_concurrency;
    int max_host_connections;
    /* While C is inside the client with user code able to run (a
     * finalizer), close() only asks, and the outermost call closes it. */
    int busy;
    int close_pending;
    /* User-Agent and Accept-Encoding (made once, not by libcurl for every
     * request), Authorization, Accept, Expect; for a body, Content-Type. */
    struct curl_slist *headers;
    struct curl_slist *body_headers;
    int user_agent_in_headers; /* else libcurl sends c->user_agent itself */
    char *base_url;
    size_t base_len;
    char *api_key;
    size_t key_len;
    ps_secrets key_forms;
    char *user_agent;
    char *ca_file; /* CA certificates to verify the server with, or NULL */
    long timeout_ms;
    long connect_timeout_ms;
    curl_off_t max_response_bytes;
    int tls_verify;
    int closed;
    ps_events *events; /* set by watch(): driven by socket events */
};

ps_client *ps_client_check(lua_State *L, int idx);
int ps_client_new(lua_State *L);
void ps_client_open(lua_State *L);

/* request.c */
#define PS_MAX_NAME 65536 /* bytes of an id, a name or a cursor */
/* What ps_request_build_protected builds, and from what. */
typedef struct ps_build {
    ps_request *r;
    ps_client *c;
    const ps_operation *op;
    const char *fname;
} ps_build;
int ps_request_build_protected(lua_State *L);
void ps_request_build(lua_State *L, ps_request *r, ps_client *c, const ps_operation *op,
                      int base, const char *fname);
void ps_request_move(ps_request *dst, ps_request *src);
void ps_request_wipe(ps_request *r);
void ps_request_free(ps_request *r);
void ps_request_push_url(lua_State *L, const ps_request *r);
void ps_request_push_path(lua_State *L, const ps_request *r);
const char *ps_check_name(lua_State *L, const char *fname, int idx, int pos, const char *what,
                          size_t *len);
long ps_seconds_ms(lua_State *L, int idx);

/* transfer.c */
ps_transfer *ps_transfer_new(ps_client *c, int id);
void ps_transfer_free(ps_transfer *t);
void ps_transfer_start(ps_transfer *t);
void ps_transfer_stop(ps_transfer *t);
CURLcode ps_transfer_run(ps_transfer *t);
void ps_transfer_release(ps_transfer *t);
int ps_multi_drive(ps_client *c, long wait_ms);

/* events.c */
int ps_events_watch(lua_State *L, ps_client *c);
int ps_events_changes(lua_State *L, ps_client *c);
CURLMcode ps_events_drive(ps_client *c, long wait_ms, int *running);
void ps_events_free(ps_client *c);

/* headers.c */
const char *ps_header_find(const ps_buf *head, const char *name, size_t *len);
void ps_headers_push(lua_State *L, const ps_buf *head);

/* response.c: a finished attempt read once; its result or its error is
 * made from this. */
typedef struct ps_response {
    ps_transfer *t;     /* its request, header block and body */
    long status;        /* the HTTP status; 0 when no response came */
    lua_Number elapsed; /* seconds the attempt took */
    int body;           /* stack index of the decoded error body; 0: none */
    const char *request_id; /* in t->head, or NULL; found for errors */
    size_t request_id_len;
    const char *content_type;
    size_t content_type_len;
} ps_response;

int ps_response_push(lua_State *L, ps_transfer *t);
int ps_set_metatables(lua_State *L);

/* errors.c */
int ps_error_push(lua_State *L, const ps_response *r, const char *kind, const char *fmt, ...);
const char *ps_error_kind_for_status(long status);
const char *ps_error_kind_for_curl(CURLcode rc, const char *errbuf);

/* raise.c */
int ps_raise(lua_State *L, const char *fmt, ...);
int ps_argerror(lua_State *L, int pos, const char *fname, const char *fmt, ...);
int ps_core_bad_argument(lua_State *L);
int ps_core_set_library_dir(lua_State *L);
int ps_core_link_task(lua_State *L);
int ps_core_unlink_task(lua_State *L);

/* scrub.c */
int ps_secrets_add(lua_State *L, ps_secrets *s, int encode, const char *v, size_t len);
void ps_secrets_wipe(ps_secrets *s);
void ps_secrets_free(ps_secrets *s);
void ps_scrub(lua_State *L, ps_transfer *t);
void ps_scrub_top(lua_State *L, ps_transfer *t);

#endif
