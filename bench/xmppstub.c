/*
 * xmppstub: a do-nothing XMPP server, to measure the load generator's own
 * ceiling.  It answers just enough for xmppload's logins (stream headers,
 * features, SCRAM with the one benchmark password, bind, and an empty
 * result to any other IQ) and then forwards stanzas as raw bytes, without
 * parsing or re-serialising them: a message to the connection bound to
 * its 'to' user, a presence update with a <status/> to the sender's ring
 * of --fanout contacts (the roster layout of bench/accounts.py).  Whatever
 * rate xmppload reaches against it, no real server can be measured above.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include "xmppcrypto.h"
#include "xmppnet.h"

#define MAX_USERS (1 << 17)

enum { WAIT_HEADER, WAIT_AUTH, WAIT_RESPONSE, AUTHENTICATED, BOUND };

typedef struct Peer {
    int fd, user, state, dirty, kind;
    Buffer in, out;
    char firstBare[128], serverFirst[256];
} Peer;

static struct {
    const char *host, *password, *salt;
    int port, fanout, users, iterations;
} opt = {"bench.local", "bench-password", "YmVuY2gtc2FsdA==", 5222, 20, 1000, 4096};

static int epfd;
static Peer *byUser[MAX_USERS];
static Peer *dirtyPeers[65536];
static int nDirty;
static uint8_t serverKey1[HASH_MAX], serverKey256[HASH_MAX];

static void queue(Peer *p, const char *data, size_t n)
{
    bufferAppend(&p->out, data, n);
    if (!p->dirty && nDirty < 65536) { p->dirty = 1; dirtyPeers[nDirty++] = p; }
}

static void queueText(Peer *p, const char *text) { queue(p, text, strlen(text)); }

static void deriveKeys(void)
{
    uint8_t salt[128], salted[HASH_MAX];
    size_t n = b64decode(opt.salt, strlen(opt.salt), salt);
    pbkdf2(1, opt.password, salt, n, opt.iterations, salted);
    hmac(1, salted, 20, "Server Key", 10, serverKey1);
    pbkdf2(256, opt.password, salt, n, opt.iterations, salted);
    hmac(256, salted, 32, "Server Key", 10, serverKey256);
}

static void header(Peer *p)
{
    char text[512];
    snprintf(text, sizeof text, "<?xml version='1.0'?><stream:stream from='%s' id='stub' "
             "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
             "version='1.0'><stream:features>%s</stream:features>", opt.host,
             p->state == WAIT_HEADER
             ? "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>"
               "SCRAM-SHA-1</mechanism><mechanism>SCRAM-SHA-256</mechanism></mechanisms>"
             : "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>");
    queueText(p, text);
    if (p->state == WAIT_HEADER) p->state = WAIT_AUTH;
}

static void challenge(Peer *p, const char *el, size_t len)
{
    size_t n;
    const char *text = elementText(el, len, &n);
    char first[256] = {0}, mechanism[32], out[512], encoded[360];
    b64decode(text, n < 300 ? n : 300, (uint8_t *)first);
    attribute(el, len, "mechanism", mechanism, sizeof mechanism);
    p->kind = strcmp(mechanism, "SCRAM-SHA-256") == 0 ? 256 : 1;
    const char *bare = strstr(first, "n=");
    snprintf(p->firstBare, sizeof p->firstBare, "%s", bare ? bare : "");
    p->user = bare ? atoi(bare + 3) : -1;
    const char *nonce = strstr(first, "r=");
    snprintf(p->serverFirst, 200, "r=%sstub,s=%s,i=%d",
             nonce ? nonce + 2 : "", opt.salt, opt.iterations);
    b64encode((uint8_t *)p->serverFirst, strlen(p->serverFirst), encoded);
    snprintf(out, sizeof out, "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>%s</challenge>", encoded);
    queueText(p, out);
    p->state = WAIT_RESPONSE;
}

static void success(Peer *p, const char *el, size_t len)
{
    size_t n;
    const char *text = elementText(el, len, &n);
    char final[512] = {0}, message[1024], v[128], encoded[200], out[400];
    uint8_t signature[HASH_MAX];
    b64decode(text, n < 600 ? n : 600, (uint8_t *)final);
    char *proof = strstr(final, ",p=");
    if (proof) *proof = 0;
    int m = snprintf(message, sizeof message, "%s,%s,%s", p->firstBare, p->serverFirst, final);
    hmac(p->kind, p->kind == 1 ? serverKey1 : serverKey256, hashSize(p->kind),
         message, (size_t)m, signature);
    strcpy(v, "v=");
    b64encode(signature, hashSize(p->kind), v + 2);
    b64encode((uint8_t *)v, strlen(v), encoded);
    snprintf(out, sizeof out, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>%s</success>", encoded);
    queueText(p, out);
    p->state = AUTHENTICATED;
}

static void iq(Peer *p, const char *el, size_t len)
{
    char id[64], out[512];
    if (attribute(el, len, "id", id, sizeof id) < 0) return;
    if (memmem(el, len, "<bind", 5)) {
        snprintf(out, sizeof out, "<iq type='result' id='%s'><bind xmlns='urn:ietf:params:xml:"
                 "ns:xmpp-bind'><jid>u%d@%s/r</jid></bind></iq>", id, p->user, opt.host);
        if (p->user >= 0 && p->user < MAX_USERS) byUser[p->user] = p;
        p->state = BOUND;
    } else {
        snprintf(out, sizeof out, "<iq type='result' id='%s'/>", id);
    }
    queueText(p, out);
}

static void forward(int user, const char *el, size_t len)
{
    if (user >= 0 && user < MAX_USERS && byUser[user]) queue(byUser[user], el, len);
}

static void route(Peer *p, const char *el, size_t len)
{
    char to[128];
    if (isNamed(el, len, "message")) {
        if (attribute(el, len, "to", to, sizeof to) > 1) forward(atoi(to + 1), el, len);
        return;
    }
    if (!isNamed(el, len, "presence") || !memmem(el, len, "<status>", 8)) return;
    for (int d = 1; d <= opt.fanout / 2; d++) {
        forward((p->user + d) % opt.users, el, len);
        forward((p->user - d + opt.users) % opt.users, el, len);
    }
}

static void element(Peer *p, const char *el, size_t len)
{
    if (p->state == WAIT_AUTH && isNamed(el, len, "auth")) challenge(p, el, len);
    else if (p->state == WAIT_RESPONSE && isNamed(el, len, "response")) success(p, el, len);
    else if (isNamed(el, len, "iq")) iq(p, el, len);
    else if (p->state == BOUND) route(p, el, len);
}

static void drop(Peer *p)
{
    if (p->user >= 0 && p->user < MAX_USERS && byUser[p->user] == p) byUser[p->user] = NULL;
    epoll_ctl(epfd, EPOLL_CTL_DEL, p->fd, NULL);
    close(p->fd);
    p->fd = -1;
    if (!p->dirty) { free(p->in.data); free(p->out.data); free(p); }
}

static void readable(Peer *p)
{
    char chunk[65536];
    ssize_t n;
    while ((n = recv(p->fd, chunk, sizeof chunk, 0)) > 0) {
        bufferAppend(&p->in, chunk, (size_t)n);
        if ((size_t)n < sizeof chunk) break;
    }
    if (n == 0 || (n < 0 && errno != EAGAIN)) { drop(p); return; }
    size_t start, end;
    int kind;
    while ((kind = scanItem(p->in.data, p->in.len, &start, &end)) != ITEM_NONE) {
        if (kind == ITEM_CLOSE) { drop(p); return; }
        if (kind == ITEM_HEADER) header(p);
        if (kind == ITEM_ELEMENT) element(p, p->in.data + start, end - start);
        bufferConsume(&p->in, end);
    }
}

/* Writes are blocking-free but simple: what the socket will not take now
 * waits for the next round (the generator reads fast enough). */
static void flushAll(void)
{
    int kept = 0;
    for (int i = 0; i < nDirty; i++) {
        Peer *p = dirtyPeers[i];
        if (p->fd < 0) { free(p->in.data); free(p->out.data); free(p); continue; }
        ssize_t n = send(p->fd, p->out.data, p->out.len, MSG_NOSIGNAL);
        if (n > 0) bufferConsume(&p->out, (size_t)n);
        p->dirty = p->out.len > 0;
        if (p->dirty) dirtyPeers[kept++] = p;
    }
    nDirty = kept;
}

static int listenOn(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
    if (listen(fd, 4096) < 0) die("listen");
    return fd;
}

static void accepted(int listener)
{
    int fd, one = 1;
    while ((fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
        Peer *p = calloc(1, sizeof(Peer));
        p->fd = fd;
        p->user = -1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = p};
        epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    }
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) opt.port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--host")) opt.host = argv[i + 1];
        else if (!strcmp(argv[i], "--fanout")) opt.fanout = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--users")) opt.users = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--password")) opt.password = argv[i + 1];
        else if (!strcmp(argv[i], "--salt")) opt.salt = argv[i + 1];
        else if (!strcmp(argv[i], "--iterations")) opt.iterations = atoi(argv[i + 1]);
        else { fprintf(stderr, "xmppstub: unknown option %s\n", argv[i]); return 2; }
    }
    raiseFileLimit();
    deriveKeys();
    int listener = listenOn(opt.port);
    epfd = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epfd, EPOLL_CTL_ADD, listener, &ev);
    printf("xmppstub listening on 127.0.0.1:%d\n", opt.port);
    fflush(stdout);
    for (;;) {
        struct epoll_event events[512];
        int n = epoll_wait(epfd, events, 512, nDirty ? 1 : 1000);
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL) accepted(listener);
            else if (((Peer *)events[i].data.ptr)->fd >= 0) readable(events[i].data.ptr);
        }
        flushAll();
    }
}
