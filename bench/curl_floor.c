/*
 * curl_floor.c: the floor of overhead for one sequential GET with libcurl.
 *
 * One easy handle, reused for every request so that its connection stays
 * alive; the same request headers as lua-paperspace sends; the body appended
 * to a growing buffer (the library buffers it too, to decode it) and then
 * discarded. No JSON decoding: this is libcurl alone.
 *
 *   curl_floor URL WARMUP [CA_FILE]
 *
 * After WARMUP requests it answers bursts, as the benchmark's Lua programs
 * do: it reads a count per line on stdin, makes that many requests, and
 * prints the seconds they took on a line of their own; at "quit" or the end
 * of input it prints "key value" lines: requests (timed, in all),
 * http_version (as libcurl negotiated it), connects (new connections made
 * during the timed requests) and bytes (the size of the last body).
 * Exits non-zero on any failure or non-200 answer.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

struct buffer {
    char *data;
    size_t len, cap;
};

static size_t on_body(char *data, size_t size, size_t n, void *ud) {
    struct buffer *b = ud;
    size_t len = size * n;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        char *p;
        while (cap < b->len + len)
            cap *= 2;
        p = realloc(b->data, cap);
        if (p == NULL)
            return 0; /* aborts the transfer */
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return len;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *why) {
    fprintf(stderr, "curl_floor: %s: %s\n", what, why);
    exit(1);
}

#define SET(opt, val)                                                                          \
    do {                                                                                       \
        CURLcode rc_ = curl_easy_setopt(easy, opt, val);                                       \
        if (rc_ != CURLE_OK)                                                                   \
            die("curl_easy_setopt(" #opt ")", curl_easy_strerror(rc_));                       \
    } while (0)

#define INFO(info, ptr)                                                                        \
    do {                                                                                       \
        CURLcode rc_ = curl_easy_getinfo(easy, info, ptr);                                     \
        if (rc_ != CURLE_OK)                                                                   \
            die("curl_easy_getinfo(" #info ")", curl_easy_strerror(rc_));                     \
    } while (0)

static struct curl_slist *append(struct curl_slist *list, const char *line) {
    struct curl_slist *l = curl_slist_append(list, line);
    if (l == NULL)
        die("curl_slist_append", "out of memory");
    return l;
}

/* One GET; the body is checked for presence and thrown away. */
static void get(CURL *easy, struct buffer *body, char *errbuf) {
    long status = 0;
    CURLcode rc;
    body->len = 0;
    errbuf[0] = '\0';
    rc = curl_easy_perform(easy);
    if (rc != CURLE_OK)
        die("curl_easy_perform", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    INFO(CURLINFO_RESPONSE_CODE, &status);
    if (status != 200 || body->len == 0) {
        fprintf(stderr, "curl_floor: HTTP status %ld, %zu bytes\n", status, body->len);
        exit(1);
    }
}

static const char *version_name(long v) {
    switch (v) {
    case CURL_HTTP_VERSION_1_0:
        return "HTTP/1.0";
    case CURL_HTTP_VERSION_1_1:
        return "HTTP/1.1";
    case CURL_HTTP_VERSION_2_0:
        return "HTTP/2";
#ifdef CURL_HTTP_VERSION_3
    case CURL_HTTP_VERSION_3:
        return "HTTP/3";
#endif
    default:
        return "unknown";
    }
}

int main(int argc, char **argv) {
    CURL *easy;
    struct curl_slist *headers = NULL;
    struct buffer body = {NULL, 0, 0};
    char errbuf[CURL_ERROR_SIZE];
    char line[64];
    long count, warmup, i, total = 0, version = 0, connects = 0, total_connects = 0;
    double started;
    CURLcode rc;

    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: curl_floor URL WARMUP [CA_FILE] < counts\n");
        return 2;
    }
    warmup = strtol(argv[2], NULL, 10);
    if (warmup < 0 || warmup > 100000000L)
        die("arguments", "WARMUP must be a count >= 0");

    rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK)
        die("curl_global_init", curl_easy_strerror(rc));
    easy = curl_easy_init();
    if (easy == NULL)
        die("curl_easy_init", "failed");

    /* The headers lua-paperspace sends on a GET. */
    headers = append(headers, "Authorization: Bearer bench-key");
    headers = append(headers, "Accept: application/json");
    headers = append(headers, "Expect:");

    SET(CURLOPT_URL, argv[1]);
    SET(CURLOPT_HTTPGET, 1L);
    SET(CURLOPT_HTTPHEADER, headers);
    SET(CURLOPT_USERAGENT, "curl-floor");
    SET(CURLOPT_ACCEPT_ENCODING, "");
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TCP_NODELAY, 1L);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_TIMEOUT_MS, 60000L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    SET(CURLOPT_ERRORBUFFER, errbuf);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, &body);
    if (argc == 4) {
        SET(CURLOPT_CAINFO, argv[3]);
        SET(CURLOPT_SSL_VERIFYPEER, 1L);
        SET(CURLOPT_SSL_VERIFYHOST, 2L);
    }

    for (i = 0; i < warmup; i++)
        get(easy, &body, errbuf);

    while (fgets(line, sizeof line, stdin) != NULL && strncmp(line, "quit", 4) != 0) {
        count = strtol(line, NULL, 10);
        if (count < 1 || count > 100000000L)
            die("burst", "a count must be a number >= 1");
        started = now();
        for (i = 0; i < count; i++) {
            get(easy, &body, errbuf);
            INFO(CURLINFO_NUM_CONNECTS, &connects); /* per transfer: 0 when reused */
            total_connects += connects;
        }
        printf("%.9f\n", now() - started);
        fflush(stdout);
        total += count;
    }

    INFO(CURLINFO_HTTP_VERSION, &version);
    printf("requests %ld\n", total);
    printf("http_version %s\n", version_name(version));
    printf("connects %ld\n", total_connects);
    printf("bytes %zu\n", body.len);

    curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
    free(body.data);
    curl_global_cleanup();
    return 0;
}
