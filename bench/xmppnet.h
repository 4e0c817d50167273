/*
 * What the load generator and the stub server share: byte buffers with
 * write batching on non-blocking sockets, a clock, and a scanner that cuts
 * an XMPP stream (RFC 6120 section 4) into its top-level items without
 * building a tree.  The scanner understands exactly what servers send:
 * the XML declaration, the stream header and its close, and complete
 * child elements of the stream (stanzas, features, SASL elements),
 * skipping whitespace keepalives between them.
 */
#ifndef XMPPNET_H
#define XMPPNET_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Not every program uses every helper here. */
#pragma GCC diagnostic ignored "-Wunused-function"

typedef struct {
    char *data;
    size_t len, cap;
} Buffer;

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static void bufferAppend(Buffer *b, const char *data, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 4096;
        b->data = realloc(b->data, b->cap);
        if (b->data == NULL) die("realloc");
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

static void bufferConsume(Buffer *b, size_t n)
{
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

static long long nowNs(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static double cpuSeconds(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_utime.tv_sec + r.ru_stime.tv_sec
        + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

static void raiseFileLimit(void)
{
    struct rlimit r;
    getrlimit(RLIMIT_NOFILE, &r);
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
}

/* Kinds of top-level items in a stream. */
enum { ITEM_NONE, ITEM_SKIP, ITEM_HEADER, ITEM_CLOSE, ITEM_ELEMENT };

/* The end of the tag starting at b[i] (just past its '>'), or 0. */
static size_t tagEnd(const char *b, size_t len, size_t i)
{
    char quote = 0;
    for (; i < len; i++) {
        char c = b[i];
        if (quote) { if (c == quote) quote = 0; }
        else if (c == '\'' || c == '"') quote = c;
        else if (c == '>') return i + 1;
    }
    return 0;
}

static int startsWith(const char *b, size_t len, size_t i, const char *s)
{
    size_t n = strlen(s);
    return len - i >= n && memcmp(b + i, s, n) == 0;
}

/*
 * Find the next complete top-level item in b[0..len).  On success set
 * *end (one past the item; everything before it is consumed with it),
 * *start (its first '<') and return its kind; return ITEM_NONE if the
 * buffer holds no complete item yet.
 */
static int scanItem(const char *b, size_t len, size_t *start, size_t *end)
{
    const char *lt = memchr(b, '<', len);
    if (lt == NULL) { *start = *end = len; return len ? ITEM_SKIP : ITEM_NONE; }
    size_t i = lt - b, e;
    *start = i;
    if (startsWith(b, len, i, "<?") || startsWith(b, len, i, "<!")) {
        if (!(e = tagEnd(b, len, i))) return ITEM_NONE;
        *end = e; return ITEM_SKIP;
    }
    if (startsWith(b, len, i, "</stream:stream") || startsWith(b, len, i, "<stream:stream")) {
        if (!(e = tagEnd(b, len, i))) return ITEM_NONE;
        *end = e; return b[i + 1] == '/' ? ITEM_CLOSE : ITEM_HEADER;
    }
    int depth = 0;
    while (i < len) {
        if (!(e = tagEnd(b, len, i))) return ITEM_NONE;
        if (b[i + 1] == '/') depth--;
        else if (b[i + 1] != '!' && b[i + 1] != '?' && b[e - 2] != '/') depth++;
        if (depth <= 0) { *end = e; return ITEM_ELEMENT; }
        lt = memchr(b + e, '<', len - e);
        if (lt == NULL) return ITEM_NONE;
        i = lt - b;
    }
    return ITEM_NONE;
}

/* Whether the element's name (after any prefix) is `name`. */
static int isNamed(const char *el, size_t len, const char *name)
{
    size_t i = 1, n = strlen(name);
    while (i < len && el[i] != ' ' && el[i] != '>' && el[i] != '/' && el[i] != '\t'
           && el[i] != '\n' && el[i] != '\r')
        i++;
    return i - 1 >= n && memcmp(el + i - n, name, n) == 0
        && (i - 1 == n || el[i - n - 1] == ':');
}

/*
 * Copy attribute `name` of the element's start tag into out (at most
 * size - 1 bytes); return its length or -1.
 */
static int attribute(const char *el, size_t len, const char *name, char *out, size_t size)
{
    size_t tag = tagEnd(el, len, 0), n = strlen(name);
    for (size_t i = 1; i + n + 2 < tag; i++) {
        if ((el[i-1] == ' ' || el[i-1] == '\t' || el[i-1] == '\n')
            && memcmp(el + i, name, n) == 0 && el[i + n] == '=') {
            char q = el[i + n + 1];
            const char *v = el + i + n + 2, *close = memchr(v, q, tag - (v - el));
            if (close == NULL) return -1;
            size_t vl = close - v < (long)size - 1 ? (size_t)(close - v) : size - 1;
            memcpy(out, v, vl); out[vl] = 0;
            return (int)vl;
        }
    }
    return -1;
}

/* The text inside the first <child>...</child> of an element, or NULL. */
static const char *childText(const char *el, size_t len, const char *child, size_t *textLen)
{
    char open[64];
    snprintf(open, sizeof open, "<%s>", child);
    const char *p = memmem(el, len, open, strlen(open));
    if (p == NULL) return NULL;
    p += strlen(open);
    const char *q = memchr(p, '<', len - (p - el));
    if (q == NULL) return NULL;
    *textLen = q - p;
    return p;
}

/* The character data of a simple element such as <challenge>...</challenge>. */
static const char *elementText(const char *el, size_t len, size_t *textLen)
{
    size_t s = tagEnd(el, len, 0);
    if (s == 0 || el[s - 2] == '/') { *textLen = 0; return el + len; }
    const char *q = memchr(el + s, '<', len - s);
    *textLen = q ? (size_t)(q - el - s) : 0;
    return el + s;
}

#endif
