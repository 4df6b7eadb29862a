/*
 * events.c: the client's multi handle driven by socket events, for event
 * loops such as libuv's. Once watch() is called, libcurl reports which
 * sockets to watch (CURLMOPT_SOCKETFUNCTION, whose callback only records
 * the change here and calls no Lua) and when it wants to time out
 * (curl_multi_timeout). The loop reads the changes with events() after a drive
 * returns and mirrors them with its own handles, which only wake it up:
 * every drive, from the loop or from a blocking call, asks poll(2) which
 * watched sockets are ready and hands those, and an expired timeout, to
 * curl_multi_socket_action. So the multi handle is only ever driven by
 * socket actions (never also by curl_multi_perform, whose socket state
 * libcurl would not report), and a wakeup that finds nothing costs one
 * poll(2).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "paperspace.h"

/* What libcurl asked for one socket: a CURL_POLL_* value. */
typedef struct ps_watch {
    curl_socket_t fd;
    int what;
} ps_watch;

struct ps_events {
    ps_watch *socks; /* the sockets being watched now */
    size_t nsocks, capsocks;
    ps_watch *log; /* every change since events() last read them, in order */
    size_t nlog, caplog;
    struct pollfd *fds; /* poll(2)'s copy of socks */
    size_t capfds;
    double deadline; /* monotonic seconds when libcurl wants its timeout; < 0: none */
    int running;     /* transfers in the multi handle after the last action */
    int oom;         /* a change could not be recorded */
};

static double now_s(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int grow(void **p, size_t *cap, size_t need, size_t size) {
    size_t n = *cap ? *cap : 8;
    void *q;
    if (need <= *cap)
        return 1;
    while (n < need)
        n *= 2;
    q = realloc(*p, n * size);
    if (q == NULL)
        return 0;
    *p = q;
    *cap = n;
    return 1;
}

/* Appends to the log; a change of the events of a socket whose last entry
 * is a watch too only updates that entry, so a long blocking call does not
 * grow the log with every read and write. A removal is always kept: the
 * loop must drop its handle before libcurl's next socket can reuse the fd. */
static int log_change(ps_events *e, curl_socket_t fd, int what) {
    size_t i = e->nlog;
    while (i-- > 0) {
        if (e->log[i].fd != fd)
            continue;
        if (e->log[i].what != CURL_POLL_REMOVE && what != CURL_POLL_REMOVE) {
            e->log[i].what = what;
            return 1;
        }
        break;
    }
    if (!grow((void **)&e->log, &e->caplog, e->nlog + 1, sizeof *e->log))
        return 0;
    e->log[e->nlog].fd = fd;
    e->log[e->nlog].what = what;
    e->nlog++;
    return 1;
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *ud, void *sockp) {
    ps_events *e = ud;
    size_t i;
    (void)easy;
    (void)sockp;
    for (i = 0; i < e->nsocks && e->socks[i].fd != fd; i++)
        ;
    if (what == CURL_POLL_REMOVE) {
        if (i < e->nsocks)
            e->socks[i] = e->socks[--e->nsocks];
    } else if (i < e->nsocks) {
        e->socks[i].what = what;
    } else if (grow((void **)&e->socks, &e->capsocks, e->nsocks + 1, sizeof *e->socks)) {
        e->socks[e->nsocks].fd = fd;
        e->socks[e->nsocks].what = what;
        e->nsocks++;
    } else {
        e->oom = 1;
        return 0;
    }
    if (!log_change(e, fd, what))
        e->oom = 1;
    return 0;
}

/* libcurl's timeout, read when it is needed: CURLMOPT_TIMERFUNCTION is
 * only called when the earliest timeout changes, and libcurl 7.88 leaves an
 * expired one reported when the transfer that set it finishes (a loop
 * would then wake forever); curl_multi_timeout always knows. */
static void refresh_deadline(ps_client *c) {
    long ms = -1;
    if (curl_multi_timeout(c->multi, &ms) == CURLM_OK)
        c->events->deadline = ms < 0 ? -1 : now_s() + (double)ms / 1000;
}

/* handle:watch(): from now on the multi handle is driven by socket events.
 * Only before any call is started: a running transfer's sockets were never
 * reported. */
int ps_events_watch(lua_State *L, ps_client *c) {
    ps_events *e;
    int i;
    if (c->events != NULL)
        return 0;
    for (i = 0; i <= c->max_concurrency; i++)
        if (c->pool[i] != NULL && c->pool[i]->state == PS_RUNNING)
            return ps_raise(L, "paperspace: watch() with calls running");
    e = calloc(1, sizeof *e);
    if (e == NULL)
        return ps_raise(L, "paperspace: not enough memory");
    e->deadline = -1;
    if (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, e) != CURLM_OK) {
        curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, NULL);
        free(e);
        return ps_raise(L, "paperspace: libcurl cannot report socket events here");
    }
    c->events = e;
    return 0;
}

/* handle:events() -> changes, deadline, done
 * changes: nil, or {fd, what, fd, what, ...} in the order libcurl made
 * them, `what` being "r", "w", "rw" or "remove"; read once. deadline:
 * when libcurl wants a drive without socket activity (seconds on the
 * clock of core.now()), or nil. done: whether a started call has finished
 * and waits for poll() to hand it over (a blocking call moves those too). */
int ps_events_changes(lua_State *L, ps_client *c) {
    ps_events *e = c->events;
    int i, done = 0;
    if (e == NULL)
        return ps_raise(L, "paperspace: the client does not watch socket events");
    refresh_deadline(c);
    if (e->nlog == 0) {
        lua_pushnil(L);
    } else {
        size_t k;
        lua_createtable(L, (int)(2 * e->nlog), 0);
        for (k = 0; k < e->nlog; k++) {
            int w = e->log[k].what;
            lua_pushinteger(L, (lua_Integer)e->log[k].fd);
            lua_rawseti(L, -2, (int)(2 * k + 1));
            lua_pushstring(L, w == CURL_POLL_IN      ? "r"
                              : w == CURL_POLL_OUT   ? "w"
                              : w == CURL_POLL_INOUT ? "rw"
                                                     : "remove");
            lua_rawseti(L, -2, (int)(2 * k + 2));
        }
        e->nlog = 0;
    }
    if (e->deadline < 0)
        lua_pushnil(L);
    else
        lua_pushnumber(L, (lua_Number)e->deadline);
    for (i = 1; i <= c->max_concurrency && !done; i++)
        done = c->pool[i] != NULL && c->pool[i]->state == PS_DONE;
    lua_pushboolean(L, done);
    return 3;
}

/* One socket action; a failure of the multi handle is returned. */
static CURLMcode act(ps_client *c, curl_socket_t fd, int mask) {
    return curl_multi_socket_action(c->multi, fd, mask, &c->events->running);
}

/* Moves the transfers forward: waits up to `wait_ms` (or less, when
 * libcurl's timeout comes first) for a watched socket to be ready, then
 * acts on the ready sockets and on an expired timeout. */
CURLMcode ps_events_drive(ps_client *c, long wait_ms, int *running) {
    ps_events *e = c->events;
    CURLMcode mc = CURLM_OK;
    size_t i, n = e->nsocks;
    int ready = 0;
    refresh_deadline(c);
    if (e->deadline >= 0) {
        double left = (e->deadline - now_s()) * 1000;
        if (left < (double)wait_ms)
            wait_ms = left > 0 ? (long)left + 1 : 0;
    }
    if (wait_ms > INT_MAX)
        wait_ms = INT_MAX;
    if (!grow((void **)&e->fds, &e->capfds, n ? n : 1, sizeof *e->fds))
        return CURLM_OUT_OF_MEMORY;
    for (i = 0; i < n; i++) {
        e->fds[i].fd = e->socks[i].fd;
        e->fds[i].events = (short)((e->socks[i].what & CURL_POLL_IN ? POLLIN : 0) |
                                   (e->socks[i].what & CURL_POLL_OUT ? POLLOUT : 0));
        e->fds[i].revents = 0;
    }
    if (n > 0 || wait_ms > 0) {
        ready = poll(e->fds, (nfds_t)n, (int)wait_ms);
        if (ready < 0 && errno != EINTR)
            return CURLM_INTERNAL_ERROR;
    }
    /* socks may change under each action; fds is the snapshot polled. */
    for (i = 0; ready > 0 && i < n && mc == CURLM_OK; i++) {
        short r = e->fds[i].revents;
        int mask = (r & (POLLIN | POLLHUP) ? CURL_CSELECT_IN : 0) |
                   (r & POLLOUT ? CURL_CSELECT_OUT : 0) |
                   (r & (POLLERR | POLLNVAL) ? CURL_CSELECT_ERR : 0);
        if (mask != 0)
            mc = act(c, e->fds[i].fd, mask);
    }
    if (mc == CURLM_OK && e->deadline >= 0 && now_s() >= e->deadline)
        mc = act(c, CURL_SOCKET_TIMEOUT, 0);
    if (mc == CURLM_OK && e->oom)
        mc = CURLM_OUT_OF_MEMORY;
    e->oom = 0;
    *running = e->running;
    return mc;
}

/* Frees what watch() made; after curl_multi_cleanup, whose last socket
 * reports still land here. */
void ps_events_free(ps_client *c) {
    ps_events *e = c->events;
    if (e == NULL)
        return;
    free(e->socks);
    free(e->log);
    free(e->fds);
    free(e);
    c->events = NULL;
}
