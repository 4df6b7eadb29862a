/*
 * transfer.c: sends built requests (request.c) on the client's curl multi
 * handle. Every
 * transfer, blocking or started, runs there, so all of them share the
 * client's connections (kept alive, HTTP/2 multiplexed when the server
 * offers it), DNS cache and TLS sessions. An easy handle is set up once and
 * reused; only what differs between calls is set before each one.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "paperspace.h"
/* A response buffer that grew past this is released after the call. */
#define KEEP_BUFFER (256 * 1024)
/* libcurl refuses header blocks over 100 KiB itself; this bounds our copy. */
#define MAX_HEAD (128 * 1024)
/* The most a Content-Length makes room for before any of the body came. */
#define MAX_RESERVE (64 * 1024 * 1024)
/* libcurl takes a parsed URL (CURLOPT_CURLU): see set_url. */
#if LIBCURL_VERSION_NUM >= 0x073f00
#define PARSED_URL
#endif

static size_t on_body(char *data, size_t size, size_t n, void *ud) {
    ps_transfer *t = ud;
    size_t len = size * n;
    if ((curl_off_t)(t->body.len + len) > t->client->max_response_bytes) {
        t->overflow = 1;
        return 0; /* aborts the transfer: the rest is never buffered */
    }
    return ps_buf_append(&t->body, data, len) ? len : 0;
}

/* Whether the Content-Length line at `data` differs from one the header
 * block already holds. libcurl takes one of two different lengths; a
 * proxy in between may have taken the other (request smuggling). */
static int conflicts(ps_transfer *t, const char *data, size_t len) {
    size_t have;
    const char *v = ps_header_find(&t->head, "content-length", &have);
    const char *w = data + 15, *end = data + len;
    if (v == NULL)
        return 0;
    while (w < end && (*w == ' ' || *w == '\t'))
        w++;
    while (end > w && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return (size_t)(end - w) != have || memcmp(v, w, have) != 0;
}

/* Makes room for the body a Content-Length value announces, so that a large
 * one is copied once rather than at every doubling of the buffer. A length
 * over max_response_bytes is left to on_body to refuse, and one over
 * MAX_RESERVE to grow as it comes: a server's word alone reserves no more. */
static void reserve_body(ps_transfer *t, const char *p, const char *end) {
    curl_off_t n = 0, limit = t->client->max_response_bytes;
    if (limit > MAX_RESERVE)
        limit = MAX_RESERVE; /* also keeps n * 10 below from overflowing */
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (*p - '0');
        if (n > limit)
            return;
    }
    if (n > 0 && (size_t)n > t->body.cap)
        (void)ps_buf_reserve(&t->body, (size_t)n); /* on failure, on_body grows it as it can */
}

static size_t on_header(char *data, size_t size, size_t n, void *ud) {
    ps_transfer *t = ud;
    size_t len = size * n;
    /* A status line starts a new response (after a 100 Continue, say):
     * only the last response's headers describe the result. */
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        t->head.len = 0;
        t->head_done = 0;
    } else if (t->head_done) {
        return len; /* a chunked body's trailer: it must not pass for a header */
    } else if ((len == 2 && data[0] == '\r' && data[1] == '\n') || (len == 1 && data[0] == '\n')) {
        t->head_done = 1;
    }
    if (len > 15 && (data[0] | 0x20) == 'c' && strncasecmp(data, "content-length:", 15) == 0) {
        if (conflicts(t, data, len)) {
            t->conflict = 1;
            return 0; /* aborts: which length frames the body is anyone's guess */
        }
        reserve_body(t, data + 15, data + len);
    }
    if (t->head.len + len <= MAX_HEAD && !ps_buf_append(&t->head, data, len))
        return 0;
    return len;
}

#define SET(opt, val)                                                                          \
    do {                                                                                       \
        if (curl_easy_setopt(t->easy, opt, val) != CURLE_OK)                                   \
            goto fail;                                                                         \
    } while (0)

/* A transfer for slot `id` with every option that stays the same for the
 * life of the client; NULL when libcurl or memory fails. */
ps_transfer *ps_transfer_new(ps_client *c, int id) {
    ps_transfer *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->client = c;
    t->id = id;
    t->state = PS_IDLE;
    t->easy = curl_easy_init();
    if (t->easy == NULL)
        goto fail;
    SET(CURLOPT_PRIVATE, t);
    SET(CURLOPT_SHARE, c->share);
    SET(CURLOPT_ERRORBUFFER, t->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, t);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, t);
    /* A redirect would carry the Authorization header elsewhere. */
    SET(CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    SET(CURLOPT_SSL_VERIFYPEER, c->tls_verify ? 1L : 0L);
    SET(CURLOPT_SSL_VERIFYHOST, c->tls_verify ? 2L : 0L);
    if (c->ca_file != NULL)
        SET(CURLOPT_CAINFO, c->ca_file);
    /* The client's header lists carry the User-Agent line, made once, unless
     * a proxy may ask for it in a CONNECT, which only libcurl's own has. */
    SET(CURLOPT_USERAGENT, c->user_agent_in_headers ? NULL : c->user_agent);
    SET(CURLOPT_ACCEPT_ENCODING, ""); /* every encoding this libcurl decodes */
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_TCP_NODELAY, 1L);
    /* Over TLS, where HTTP/2 may be offered, concurrent calls wait for a
     * multiplexed stream rather than open a connection each; over plain
     * HTTP/1.1 that wait would only cost a round trip. */
    if (strncmp(c->base_url, "https://", 8) == 0)
        SET(CURLOPT_PIPEWAIT, 1L);
    return t;
fail:
    ps_transfer_free(t);
    return NULL;
}

#undef SET
#define SET(opt, val)                                                                          \
    do {                                                                                       \
        CURLcode rc_ = curl_easy_setopt(t->easy, opt, val);                                    \
        if (rc_ != CURLE_OK)                                                                   \
            return rc_;                                                                        \
    } while (0)

void ps_transfer_free(ps_transfer *t) {
    if (t == NULL)
        return;
    if (t->easy != NULL)
        curl_easy_cleanup(t->easy);
#ifdef PARSED_URL
    curl_url_cleanup(t->url); /* after the easy handle, which reads it */
#endif
    ps_request_free(&t->req);
    ps_buf_free(&t->body);
    ps_buf_free(&t->head);
    ps_buf_free(&t->prepared_url);
    free(t);
}

/* Whether the easy handle already holds this call's method and URL (and
 * there is no body): a client polling one resource need not set them again. */
static int same_request(ps_transfer *t) {
    return t->prepared == t->req.op && t->req.op->fields[0].name == NULL &&
           t->prepared_url.len == t->req.url.len &&
           memcmp(t->prepared_url.data, t->req.url.data, t->req.url.len) == 0;
}

/* libcurl parses a URL given as text again at every transfer (a tenth of
 * a small call's cost); one parsed here is parsed once per URL, and a
 * client polling one resource never parses it again. */
#ifdef PARSED_URL
/* The code libcurl fails a transfer with when it cannot parse its URL. */
static CURLcode url_rejected(CURLUcode uc) {
    switch (uc) {
    case CURLUE_OUT_OF_MEMORY:
        return CURLE_OUT_OF_MEMORY;
    case CURLUE_UNSUPPORTED_SCHEME:
        return CURLE_UNSUPPORTED_PROTOCOL;
    case CURLUE_USER_NOT_ALLOWED:
        return CURLE_LOGIN_DENIED;
    default:
        return CURLE_URL_MALFORMAT;
    }
}

static CURLcode set_url(ps_transfer *t) {
    CURLUcode uc;
    if (t->url == NULL && (t->url = curl_url()) == NULL)
        return CURLE_OUT_OF_MEMORY;
    /* The flags libcurl itself parses CURLOPT_URL with. */
    uc = curl_url_set(t->url, CURLUPART_URL, t->req.url.data,
                      CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME);
    if (uc != CURLUE_OK)
        return url_rejected(uc);
    return curl_easy_setopt(t->easy, CURLOPT_CURLU, t->url);
}
#else
static CURLcode set_url(ps_transfer *t) {
    return curl_easy_setopt(t->easy, CURLOPT_URL, t->req.url.data);
}
#endif

/* Sets what differs between calls: method, URL, body, timeouts. */
static CURLcode prepare(ps_transfer *t) {
    const ps_operation *op = t->req.op;
    int has_body = op->fields[0].name != NULL;
    CURLcode rc;
    t->overflow = 0;
    t->head_done = 0;
    t->conflict = 0;
    t->errbuf[0] = '\0';
    t->body.len = 0;
    t->head.len = 0;
    if (same_request(t))
        goto timeouts;
    t->prepared = NULL;
    rc = set_url(t);
    if (rc != CURLE_OK)
        return rc;
    if (has_body) {
        SET(CURLOPT_POSTFIELDS, t->req.payload.data);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->req.payload.len);
        SET(CURLOPT_HTTPHEADER, t->client->body_headers);
    } else {
        SET(CURLOPT_HTTPGET, 1L);
        SET(CURLOPT_HTTPHEADER, t->client->headers);
    }
    /* POST with a body is libcurl's default; every other method is named. */
    SET(CURLOPT_CUSTOMREQUEST,
        strcmp(op->method, "GET") == 0 || strcmp(op->method, "POST") == 0 ? NULL : op->method);
    t->prepared_url.len = 0;
    if (ps_buf_append(&t->prepared_url, t->req.url.data, t->req.url.len))
        t->prepared = op;
timeouts:
    if (t->timeout_ms != t->req.timeout_ms) {
        SET(CURLOPT_TIMEOUT_MS, t->req.timeout_ms);
        t->timeout_ms = t->req.timeout_ms;
    }
    if (t->connect_timeout_ms != t->req.connect_timeout_ms) {
        SET(CURLOPT_CONNECTTIMEOUT_MS, t->req.connect_timeout_ms);
        t->connect_timeout_ms = t->req.connect_timeout_ms;
    }
    return CURLE_OK;
}

/* Ends the attempt with `rc`. Secret values in the request body are wiped
 * as soon as it is over, whatever the outcome. */
static void done(ps_transfer *t, CURLcode rc) {
    t->rc = rc;
    t->state = PS_DONE;
    ps_buf_wipe(&t->req.payload);
}

static void fail(ps_transfer *t, CURLcode rc, const char *why) {
    if (why != NULL && t->errbuf[0] == '\0') {
        strncpy(t->errbuf, why, sizeof t->errbuf - 1);
        t->errbuf[sizeof t->errbuf - 1] = '\0';
    }
    done(t, rc);
}

/* Starts the attempt built in t on the client's multi handle. */
void ps_transfer_start(ps_transfer *t) {
    CURLcode rc = prepare(t);
    CURLMcode mc;
    t->state = PS_RUNNING;
    if (rc != CURLE_OK) {
        fail(t, rc, curl_easy_strerror(rc));
        return;
    }
    mc = curl_multi_add_handle(t->client->multi, t->easy);
    if (mc != CURLM_OK)
        fail(t, mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT,
             curl_multi_strerror(mc));
}

/* Stops a running attempt; it ends as cancelled. */
void ps_transfer_stop(ps_transfer *t) {
    if (t->state != PS_RUNNING)
        return;
    curl_multi_remove_handle(t->client->multi, t->easy);
    fail(t, CURLE_ABORTED_BY_CALLBACK, "cancelled");
}

/* Marks every transfer the multi handle has finished as done. */
static int collect(ps_client *c) {
    CURLMsg *msg;
    int left, n = 0;
    while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
        char *p = NULL;
        ps_transfer *t;
        if (msg->msg != CURLMSG_DONE)
            continue;
        if (curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &p) != CURLE_OK || p == NULL)
            continue;
        t = (ps_transfer *)(void *)p;
        curl_multi_remove_handle(c->multi, t->easy);
        done(t, msg->data.result);
        n++;
    }
    return n;
}

/* Fails every running transfer: the multi handle itself failed. */
static void fail_one(ps_client *c, ps_transfer *t, CURLMcode mc) {
    if (t != NULL && t->state == PS_RUNNING) {
        curl_multi_remove_handle(c->multi, t->easy);
        fail(t, mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT,
             curl_multi_strerror(mc));
    }
}

static void fail_all(ps_client *c, CURLMcode mc) {
    ps_transfer *t;
    int i;
    for (i = 0; i <= c->max_concurrency; i++)
        fail_one(c, c->pool[i], mc);
    for (t = c->extra; t != NULL; t = t->next)
        fail_one(c, t, mc);
}

/* libcurl 7.88 can miss a socket that became ready between a perform and
 * the poll after it (seen on a kept-alive connection, when another call's
 * answer was slow): a long wait is cut into slices of at most WAKE_MS, each
 * followed by a perform, so such an answer waits a slice, not the other call. */
#define WAKE_MS 100

/* Moves every running transfer forward, waiting up to `wait_ms` for the
 * network when none finished (with nothing running, it just waits: a task
 * may be sleeping before a retry). Returns how many are still running. */
int ps_multi_drive(ps_client *c, long wait_ms) {
    int running = 0, finished = 0;
    CURLMcode mc = c->events != NULL ? ps_events_drive(c, wait_ms, &running)
                                     : curl_multi_perform(c->multi, &running);
    if (mc == CURLM_OK)
        finished = collect(c);
    while (mc == CURLM_OK && finished == 0 && wait_ms > 0 && c->events == NULL) {
        long slice = wait_ms < WAKE_MS ? wait_ms : WAKE_MS;
        wait_ms -= slice;
#if LIBCURL_VERSION_NUM >= 0x074200
        mc = curl_multi_poll(c->multi, NULL, 0, (int)slice, NULL);
#else
        if (running == 0)
            break; /* curl_multi_wait would not wait */
        mc = curl_multi_wait(c->multi, NULL, 0, (int)slice, NULL);
#endif
        if (mc == CURLM_OK)
            mc = curl_multi_perform(c->multi, &running);
        if (mc == CURLM_OK)
            finished = collect(c);
    }
    if (mc != CURLM_OK) {
        fail_all(c, mc);
        running = 0;
    }
    return running;
}

/* Runs one attempt to its end. Other started transfers move forward too;
 * their results wait for the caller of poll. */
CURLcode ps_transfer_run(ps_transfer *t) {
    ps_transfer_start(t);
    while (t->state == PS_RUNNING)
        ps_multi_drive(t->client, 1000);
    return t->rc;
}

/* Gives back memory a large response made the buffers grow to. */
void ps_transfer_release(ps_transfer *t) {
    ps_buf_trim(&t->body, KEEP_BUFFER);
}
