/*
 * xmppload: the benchmark's XMPP load generator.
 *
 * One thread, one epoll loop, many client streams over plaintext TCP.  Each
 * client logs in the way a real one does (RFC 6120: stream, SASL
 * SCRAM-SHA-1 or SCRAM-SHA-256, resource binding, the session IQ; then the
 * roster and initial presence, RFC 6121) and then runs one workload:
 *
 *   messages  closed loop: each client keeps --window chat messages to
 *             random full JIDs in flight; delivered/s is the server's
 *             ceiling, and every message must arrive (0 lost).
 *   latency   open loop at a fixed --rate; reports percentiles.
 *   presence  closed loop: each client keeps --window presence updates in
 *             flight; an update is done when all --fanout contacts got it.
 *   logins    --concurrency connections log in and leave at once, as
 *             random accounts of --clients; completed logins/s.  Every
 *             account logs in once first, before the clock starts.
 *   idle      logs in --warm sessions, says WARM, waits for a line on
 *             stdin, logs in --clients more, says READY, and holds them
 *             until stdin closes (for memory per idle session).
 *
 * Stanzas carry their sender and send time in their text, so the receiving
 * side (the same process) measures latency and loss without a clock
 * shared with anyone else.  Results are one JSON line on stdout.
 *
 * Accounts are u<N>@<host> with one password; see bench/accounts.py.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include "xmppcrypto.h"
#include "xmppnet.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum { S_IDLE, S_CONNECTING, S_FEATURES, S_CHALLENGE, S_SUCCESS, S_FEATURES2,
       S_BIND, S_SESSION, S_ROSTER, S_READY };

typedef struct {
    int fd, user, state, dirty, armed;
    unsigned connection;        /* counts connections made by this client */
    Buffer in, out;
    char nonce[32], firstBare[96];
    uint8_t serverSignature[HASH_MAX];
    long long started;
} Client;

static struct {
    const char *mode, *host, *address, *password, *mechanism;
    int port, clients, first, warm, window, fanout, concurrency, kind;
    double rate, duration, warmup, drain, settle;
} opt = {"messages", "bench.local", "127.0.0.1", "bench-password", "SCRAM-SHA-1",
         5222, 100, 0, 0, 4, 20, 64, 1, 2000, 10, 1, 5, 1};

static struct {
    long long sent, received, delivered, errors, disconnects, failures, strays;
    long long selfCopies, logins, outstanding;
    long long *latencies; size_t nLatencies, capLatencies;
} st;

static Client *clients;
static int nClients, epfd, connecting, ready;
static Client **dirty;
static int nDirty;
static long long tWarm, tEnd;
static int phase;               /* 0 setting up or warming up, 1 measuring, 2 done */
static double cpuAtStart, generatorCpu;
static unsigned long long rng = 88172645463325252ULL;
static long long *slotSeq, updateSeq;
static int *slotLeft;

static unsigned long long nextRandom(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return rng;
}

static void markDirty(Client *c)
{
    if (!c->dirty) { c->dirty = 1; dirty[nDirty++] = c; }
}

static void sendText(Client *c, const char *text, size_t n)
{
    bufferAppend(&c->out, text, n);
    markDirty(c);
}

static void sendf(Client *c, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void sendf(Client *c, const char *format, ...)
{
    char text[1024];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(text, sizeof text, format, args);
    va_end(args);
    sendText(c, text, (size_t)n);
}

static void watch(Client *c, int op, unsigned events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(epfd, op, c->fd, &ev);
}

static void recordLatency(long long ns)
{
    if (st.nLatencies == st.capLatencies) {
        st.capLatencies = st.capLatencies * 2 + 65536;
        st.latencies = realloc(st.latencies, st.capLatencies * sizeof(long long));
    }
    st.latencies[st.nLatencies++] = ns;
}

/* ---- connections ------------------------------------------------------ */

static void sendHeader(Client *c)
{
    sendf(c, "<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' "
          "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>", opt.host);
}

static void startClient(Client *c, int user)
{
    static unsigned sourceCounter;
    struct sockaddr_in source = {.sin_family = AF_INET}, server = {.sin_family = AF_INET};
    int one = 1;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) die("socket");
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    /* Spread sources over 127.0.0.2-251 so that closed login connections
     * in TIME_WAIT never exhaust one address's ephemeral ports. */
    source.sin_addr.s_addr = htonl(0x7f000002 + sourceCounter++ % 250);
    if (bind(c->fd, (struct sockaddr *)&source, sizeof source) < 0) die("bind");
    server.sin_port = htons(opt.port);
    inet_pton(AF_INET, opt.address, &server.sin_addr);
    c->user = user;
    c->state = S_CONNECTING;
    c->in.len = c->out.len = 0;
    c->started = nowNs();
    connecting++;
    if (connect(c->fd, (struct sockaddr *)&server, sizeof server) < 0 && errno != EINPROGRESS)
        die("connect");
    c->armed = 1;
    watch(c, EPOLL_CTL_ADD, EPOLLIN | EPOLLOUT);
}

static void closeClient(Client *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->connection++;
    if (c->state != S_READY && c->state != S_IDLE) connecting--;
    if (c->state == S_READY) ready--;
    c->state = S_IDLE;
    c->in.len = c->out.len = 0;
}

static void flush(Client *c)
{
    while (c->out.len > 0 && c->fd >= 0) {
        ssize_t n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) break;
            return;
        }
        bufferConsume(&c->out, (size_t)n);
    }
    int want = c->out.len > 0;
    if (c->fd >= 0 && want != c->armed) {
        c->armed = want;
        watch(c, EPOLL_CTL_MOD, EPOLLIN | (want ? EPOLLOUT : 0));
    }
}

static void flushAll(void)
{
    for (int i = 0; i < nDirty; i++) {
        dirty[i]->dirty = 0;
        if (dirty[i]->state != S_CONNECTING) flush(dirty[i]);
    }
    nDirty = 0;
}

/* ---- SCRAM (RFC 5802) ------------------------------------------------- */

typedef struct {
    char salt[160];
    int iterations, kind;
    uint8_t clientKey[HASH_MAX], storedKey[HASH_MAX], serverKey[HASH_MAX];
} Derived;

/* PBKDF2 results by salt: the accounts share one, so a login costs HMACs. */
static Derived *derive(const char *salt, int iterations)
{
    static Derived cache[16];
    static int used;
    for (int i = 0; i < used; i++)
        if (cache[i].iterations == iterations && cache[i].kind == opt.kind
            && strcmp(cache[i].salt, salt) == 0)
            return &cache[i];
    Derived *d = &cache[used < 16 ? used++ : (int)(nextRandom() % 16)];
    uint8_t rawSalt[128], salted[HASH_MAX];
    size_t n = b64decode(salt, strlen(salt), rawSalt), size = hashSize(opt.kind);
    snprintf(d->salt, sizeof d->salt, "%s", salt);
    d->iterations = iterations;
    d->kind = opt.kind;
    pbkdf2(opt.kind, opt.password, rawSalt, n, iterations, salted);
    hmac(opt.kind, salted, size, "Client Key", 10, d->clientKey);
    hashOf(opt.kind, d->clientKey, size, d->storedKey);
    hmac(opt.kind, salted, size, "Server Key", 10, d->serverKey);
    return d;
}

static void sendAuth(Client *c)
{
    char first[160], encoded[240];
    snprintf(c->nonce, sizeof c->nonce, "%016llx%08llx", nextRandom(), nextRandom() & 0xffffffff);
    snprintf(c->firstBare, sizeof c->firstBare, "n=u%d,r=%s", c->user, c->nonce);
    int n = snprintf(first, sizeof first, "n,,%s", c->firstBare);
    b64encode((uint8_t *)first, (size_t)n, encoded);
    sendf(c, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='%s'>%s</auth>",
          opt.mechanism, encoded);
    c->state = S_CHALLENGE;
}

static int scramField(const char *message, char key, char *out, size_t size)
{
    char pattern[4] = {key, '=', 0};
    const char *p = message;
    while (p && strncmp(p, pattern, 2) != 0) { p = strchr(p, ','); if (p) p++; }
    if (p == NULL) return -1;
    p += 2;
    size_t n = strcspn(p, ",");
    if (n >= size) return -1;
    memcpy(out, p, n); out[n] = 0;
    return (int)n;
}

static int answerChallenge(Client *c, const char *el, size_t len)
{
    size_t textLen;
    const char *text = elementText(el, len, &textLen);
    char serverFirst[512] = {0}, nonce[256], salt[160], count[16], message[1200], final[400];
    uint8_t signature[HASH_MAX], proof[HASH_MAX];
    if (textLen * 3 / 4 >= sizeof serverFirst) return -1;
    b64decode(text, textLen, (uint8_t *)serverFirst);
    if (scramField(serverFirst, 'r', nonce, sizeof nonce) < 0
        || strncmp(nonce, c->nonce, strlen(c->nonce)) != 0
        || scramField(serverFirst, 's', salt, sizeof salt) < 0
        || scramField(serverFirst, 'i', count, sizeof count) < 0)
        return -1;
    Derived *d = derive(salt, atoi(count));
    size_t size = hashSize(opt.kind);
    int n = snprintf(final, sizeof final, "c=biws,r=%s", nonce);
    int m = snprintf(message, sizeof message, "%s,%s,%s", c->firstBare, serverFirst, final);
    hmac(opt.kind, d->storedKey, size, message, (size_t)m, signature);
    for (size_t i = 0; i < size; i++) proof[i] = d->clientKey[i] ^ signature[i];
    hmac(opt.kind, d->serverKey, size, message, (size_t)m, c->serverSignature);
    n += snprintf(final + n, sizeof final - n, ",p=");
    b64encode(proof, size, final + n);
    char encoded[600];
    b64encode((uint8_t *)final, strlen(final), encoded);
    sendf(c, "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>%s</response>", encoded);
    c->state = S_SUCCESS;
    return 0;
}

static int checkSuccess(Client *c, const char *el, size_t len)
{
    size_t textLen;
    const char *text = elementText(el, len, &textLen);
    char final[256] = {0}, expected[64];
    if (textLen * 3 / 4 >= sizeof final) return -1;
    b64decode(text, textLen, (uint8_t *)final);
    b64encode(c->serverSignature, hashSize(opt.kind), expected);
    if (strncmp(final, "v=", 2) != 0 || strcmp(final + 2, expected) != 0) return -1;
    return 0;
}

/* ---- workloads -------------------------------------------------------- */

static int mode(const char *name) { return strcmp(opt.mode, name) == 0; }

static void sendMessage(Client *from)
{
    int target = (int)(nextRandom() % (unsigned)(nClients - 1));
    if (target >= from - clients) target++;
    sendf(from, "<message to='u%d@%s/r' type='chat'><body>s=%d t=%lld</body></message>",
          clients[target].user, opt.host, (int)(from - clients), nowNs());
    st.sent++;
    st.outstanding++;
}

static void sendUpdate(Client *from, int slot)
{
    slotSeq[slot] = ++updateSeq;
    slotLeft[slot] = opt.fanout;
    sendf(from, "<presence><status>s=%d q=%d n=%lld t=%lld</status></presence>",
          (int)(from - clients), slot, updateSeq, nowNs());
    st.sent++;
    st.outstanding++;
}

/* sscanf the text of the stanza's <child/>; the pointers the format skips may be NULL. */
static int bodyFields(const char *el, size_t len, const char *child, const char *format,
                      int *a, int *b, long long *c, long long *d)
{
    size_t n;
    char text[128];
    const char *p = childText(el, len, child, &n);
    if (p == NULL || n >= sizeof text) return 0;
    memcpy(text, p, n); text[n] = 0;
    return b ? sscanf(text, format, a, b, c, d) : sscanf(text, format, a, c);
}

static int isError(const char *el, size_t len)
{
    char type[16];
    return attribute(el, len, "type", type, sizeof type) > 0 && strcmp(type, "error") == 0;
}

static void messageReceived(const char *el, size_t len)
{
    int sender;
    long long sentAt, now = nowNs();
    if (isError(el, len)) { st.errors++; return; }
    if (bodyFields(el, len, "body", "s=%d t=%lld", &sender, NULL, &sentAt, NULL) != 2
        || sender < 0 || sender >= nClients) {
        st.strays++; return;
    }
    st.received++;
    st.outstanding--;
    if (sentAt >= tWarm) recordLatency(now - sentAt);
    if (now >= tWarm && now < tEnd) st.delivered++;
    if (mode("messages") && now < tEnd) sendMessage(&clients[sender]);
}

static void presenceReceived(Client *c, const char *el, size_t len)
{
    int sender, slot;
    long long seq, sentAt, now = nowNs();
    if (isError(el, len)) { st.errors++; return; }
    if (bodyFields(el, len, "status", "s=%d q=%d n=%lld t=%lld", &sender, &slot, &seq, &sentAt) != 4)
        return;     /* presence that is not ours: initial presence, probes */
    if (sender == c - clients) { st.selfCopies++; return; }
    if (sender < 0 || sender >= nClients || slot < 0 || slot >= nClients * opt.window
        || slotSeq[slot] != seq || slotLeft[slot] <= 0) {
        st.strays++; return;
    }
    st.received++;
    if (sentAt >= tWarm) recordLatency(now - sentAt);
    if (now >= tWarm && now < tEnd) st.delivered++;
    if (--slotLeft[slot] == 0) {
        st.outstanding--;
        if (now < tEnd) sendUpdate(&clients[sender], slot);
    }
}

/* ---- the login state machine ----------------------------------------- */

/* logins: the next account of the pass in which every account logs in once,
 * in turn, before the clock starts; -1 outside that pass. */
static int warmNext = -1;

/* logins: start c's next login, if the run goes on: the next account of the
 * warm-up pass, or during the clock a random one. */
static void nextLogin(Client *c)
{
    if (warmNext >= 0) {
        if (warmNext < opt.clients) startClient(c, opt.first + warmNext++);
    } else if (nowNs() < tEnd) {
        startClient(c, opt.first + (int)(nextRandom() % (unsigned)opt.clients));
    }
}

static void loginDone(Client *c)
{
    long long now = nowNs();
    connecting--;
    if (mode("logins")) {
        if (now >= tWarm && now < tEnd) { st.logins++; recordLatency(now - c->started); }
        sendText(c, "</stream:stream>", 16);
        flush(c);
        c->state = S_READY;
        ready++;
        closeClient(c);
        nextLogin(c);
        return;
    }
    sendf(c, "<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>");
    c->state = S_ROSTER;
    connecting++;
}

static int idIs(const char *el, size_t len, const char *id)
{
    char value[32];
    return attribute(el, len, "id", value, sizeof value) >= 0 && strcmp(value, id) == 0;
}

/* Returns -1 when the login failed. */
static int loginStep(Client *c, const char *el, size_t len)
{
    switch (c->state) {
    case S_FEATURES:
        if (!isNamed(el, len, "features")) return 0;
        if (!memmem(el, len, opt.mechanism, strlen(opt.mechanism))) return -1;
        sendAuth(c);
        return 0;
    case S_CHALLENGE:
        return isNamed(el, len, "challenge") ? answerChallenge(c, el, len) : -1;
    case S_SUCCESS:
        if (!isNamed(el, len, "success") || checkSuccess(c, el, len) < 0) return -1;
        sendHeader(c);
        c->state = S_FEATURES2;
        return 0;
    case S_FEATURES2:
        if (!isNamed(el, len, "features")) return 0;
        /* Messages go to <user>/r; each login gets a resource of its own. */
        if (mode("logins"))
            sendf(c, "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                  "<resource>l%d</resource></bind></iq>", (int)(nextRandom() % 1000000));
        else
            sendf(c, "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                  "<resource>r</resource></bind></iq>");
        c->state = S_BIND;
        return 0;
    case S_BIND:
        if (!isNamed(el, len, "iq") || !idIs(el, len, "b")) return 0;
        if (isError(el, len)) return -1;
        sendf(c, "<iq type='set' id='s'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
        c->state = S_SESSION;
        return 0;
    case S_SESSION:
        if (!isNamed(el, len, "iq") || !idIs(el, len, "s")) return 0;
        if (isError(el, len)) return -1;
        loginDone(c);
        return 0;
    case S_ROSTER:
        if (!isNamed(el, len, "iq") || !idIs(el, len, "r")) return 0;
        sendf(c, "<presence/>");
        c->state = S_READY;
        connecting--;
        ready++;
        return 0;
    }
    return 0;
}

static int elementReceived(Client *c, const char *el, size_t len)
{
    if (isNamed(el, len, "error") && c->state != S_READY) return -1;
    if (c->state != S_READY) return loginStep(c, el, len);
    if (isNamed(el, len, "message")) messageReceived(el, len);
    else if (isNamed(el, len, "presence")) presenceReceived(c, el, len);
    return 0;
}

static void lost(Client *c)
{
    if (c->state == S_READY) st.disconnects++; else st.failures++;
    closeClient(c);
    if (mode("logins")) nextLogin(c);
}

static void readable(Client *c)
{
    char chunk[65536];
    for (;;) {
        ssize_t n = recv(c->fd, chunk, sizeof chunk, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN)) { lost(c); return; }
        if (n < 0) break;
        bufferAppend(&c->in, chunk, (size_t)n);
        if ((size_t)n < sizeof chunk) break;
    }
    size_t start, end;
    int kind;
    unsigned connection = c->connection;
    while ((kind = scanItem(c->in.data, c->in.len, &start, &end)) != ITEM_NONE) {
        if (kind == ITEM_CLOSE) { lost(c); return; }
        if (kind == ITEM_ELEMENT
            && elementReceived(c, c->in.data + start, end - start) < 0) {
            lost(c); return;
        }
        if (c->connection != connection) return;    /* a finished login closed it */
        bufferConsume(&c->in, end);
    }
}

static void writable(Client *c)
{
    if (c->state == S_CONNECTING) {
        int error = 0;
        socklen_t size = sizeof error;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &size);
        if (error) { lost(c); return; }
        c->state = S_FEATURES;
        sendHeader(c);
    }
    flush(c);
}

/*
 * Say START and END on stdout when the measured window opens and closes,
 * so that whoever runs us can sample the server's CPU time at those
 * moments; measure our own CPU time over the same window.
 */
static void phaseCheck(void)
{
    long long now = nowNs();
    if (phase == 0 && tEnd && now >= tWarm) {
        phase = 1;
        cpuAtStart = cpuSeconds();
        printf("START\n");
        fflush(stdout);
    }
    if (phase == 1 && now >= tEnd) {
        phase = 2;
        generatorCpu = (cpuSeconds() - cpuAtStart) / opt.duration;
        printf("END\n");
        fflush(stdout);
    }
}

static void pump(int timeoutMs)
{
    struct epoll_event events[512];
    int n = epoll_wait(epfd, events, 512, timeoutMs);
    for (int i = 0; i < n; i++) {
        Client *c = events[i].data.ptr;
        if (c == NULL) continue;
        if (c->fd >= 0 && (events[i].events & (EPOLLOUT | EPOLLERR))) writable(c);
        if (c->fd >= 0 && (events[i].events & (EPOLLIN | EPOLLHUP))) readable(c);
    }
    flushAll();
    phaseCheck();
}

/* ---- phases ----------------------------------------------------------- */

/* Log in clients [from, to) with at most --concurrency handshakes at once. */
static void loginRange(int from, int to)
{
    int next = from;
    long long deadline = nowNs() + 120000000000LL;
    while (ready + st.failures < to && nowNs() < deadline) {
        while (next < to && connecting < opt.concurrency) {
            startClient(&clients[next], opt.first + next);
            next++;
        }
        pump(20);
    }
}

static void settle(double seconds)
{
    long long until = nowNs() + (long long)(seconds * 1e9);
    while (nowNs() < until) pump(10);
}

static void drain(void)
{
    long long until = tEnd + (long long)(opt.drain * 1e9);
    while (st.outstanding > 0 && nowNs() < until) pump(10);
}

static void startClock(void)
{
    tWarm = nowNs() + (long long)(opt.warmup * 1e9);
    tEnd = tWarm + (long long)(opt.duration * 1e9);
}

static void runClosedLoop(int presence)
{
    for (int i = 0; i < nClients; i++)
        for (int k = 0; k < opt.window; k++) {
            if (presence) sendUpdate(&clients[i], i * opt.window + k);
            else sendMessage(&clients[i]);
        }
    flushAll();
    while (phase < 2) pump(10);
}

static void runOpenLoop(void)
{
    long long start = nowNs(), now;
    int sender = 0;
    while (phase < 2) {
        now = nowNs();
        long long due = (long long)((now - start) / 1e9 * opt.rate);
        while (st.sent < due) {
            sendMessage(&clients[sender]);
            sender = (sender + 1) % nClients;
        }
        flushAll();
        pump(1);
    }
}

static void runLogins(void)
{
    /* Every account logs in and leaves once before the clock starts, so that
     * each server's caches (credentials, rosters) hold what a long-running
     * server's would, whatever the server. */
    warmNext = 0;
    long long deadline = nowNs() + 120000000000LL;
    for (int i = 0; i < nClients; i++) nextLogin(&clients[i]);
    while (connecting > 0 && nowNs() < deadline) pump(10);
    warmNext = -1;
    startClock();
    for (int i = 0; i < nClients; i++) nextLogin(&clients[i]);
    while (phase < 2) pump(10);
}

static void waitForLine(void)
{
    char line[64];
    if (fgets(line, sizeof line, stdin) == NULL) exit(0);
}

static void runIdle(void)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    loginRange(0, opt.warm);
    printf("WARM %d\n", ready);
    fflush(stdout);
    waitForLine();
    long long start = nowNs();
    loginRange(opt.warm, nClients);
    printf("READY {\"sessions\": %d, \"failures\": %lld, \"setup_s\": %.2f}\n",
           ready - opt.warm, st.failures, (nowNs() - start) / 1e9);
    fflush(stdout);
    epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);
    for (;;) {
        struct epoll_event events[64];
        int n = epoll_wait(epfd, events, 64, 1000);
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL) {
                char buffer[256];
                if (read(0, buffer, sizeof buffer) <= 0) exit(0);
            } else if (((Client *)events[i].data.ptr)->fd >= 0) {
                readable(events[i].data.ptr);
            }
        }
        flushAll();
    }
}

/* ---- results ---------------------------------------------------------- */

static int compareLong(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static double percentile(double p)
{
    if (st.nLatencies == 0) return 0;
    size_t i = (size_t)(p * (st.nLatencies - 1) + 0.5);
    return st.latencies[i] / 1e6;
}

static void report(double setup)
{
    qsort(st.latencies, st.nLatencies, sizeof(long long), compareLong);
    double rate = (mode("logins") ? st.logins : st.delivered) / opt.duration;
    printf("{\"mode\": \"%s\", \"clients\": %d, \"duration_s\": %.2f, \"setup_s\": %.2f, "
           "\"rate\": %.1f, \"sent\": %lld, \"received\": %lld, \"lost\": %lld, "
           "\"errors\": %lld, \"disconnects\": %lld, \"login_failures\": %lld, "
           "\"strays\": %lld, \"self_copies\": %lld, \"p50_ms\": %.3f, \"p99_ms\": %.3f, "
           "\"max_ms\": %.3f, \"samples\": %zu, \"generator_cpu\": %.3f}\n",
           opt.mode, nClients, opt.duration, setup, rate, st.sent, st.received,
           st.outstanding > 0 ? st.outstanding : 0, st.errors, st.disconnects, st.failures,
           st.strays, st.selfCopies, percentile(0.5), percentile(0.99), percentile(1.0),
           st.nLatencies, generatorCpu);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: xmppload [--mode messages|latency|presence|logins|idle] [--port N]\n"
            "  [--host DOMAIN] [--address IP] [--clients N] [--first N] [--warm N]\n"
            "  [--window N] [--rate R] [--fanout N] [--duration S] [--warmup S]\n"
            "  [--drain S] [--settle S] [--concurrency N] [--mechanism SCRAM-SHA-1|SCRAM-SHA-256]\n"
            "  [--password P]\n");
    exit(2);
}

static void parseOptions(int argc, char **argv)
{
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc) usage();
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--mode")) opt.mode = v;
        else if (!strcmp(k, "--host")) opt.host = v;
        else if (!strcmp(k, "--address")) opt.address = v;
        else if (!strcmp(k, "--password")) opt.password = v;
        else if (!strcmp(k, "--mechanism")) opt.mechanism = v;
        else if (!strcmp(k, "--port")) opt.port = atoi(v);
        else if (!strcmp(k, "--clients")) opt.clients = atoi(v);
        else if (!strcmp(k, "--first")) opt.first = atoi(v);
        else if (!strcmp(k, "--warm")) opt.warm = atoi(v);
        else if (!strcmp(k, "--window")) opt.window = atoi(v);
        else if (!strcmp(k, "--fanout")) opt.fanout = atoi(v);
        else if (!strcmp(k, "--concurrency")) opt.concurrency = atoi(v);
        else if (!strcmp(k, "--rate")) opt.rate = atof(v);
        else if (!strcmp(k, "--duration")) opt.duration = atof(v);
        else if (!strcmp(k, "--warmup")) opt.warmup = atof(v);
        else if (!strcmp(k, "--drain")) opt.drain = atof(v);
        else if (!strcmp(k, "--settle")) opt.settle = atof(v);
        else usage();
    }
    opt.kind = strcmp(opt.mechanism, "SCRAM-SHA-256") == 0 ? 256 : 1;
    if (opt.clients < 2 || opt.window < 1) usage();
}

int main(int argc, char **argv)
{
    parseOptions(argc, argv);
    raiseFileLimit();
    rng ^= (unsigned long long)nowNs();
    nClients = mode("idle") ? opt.warm + opt.clients
        : mode("logins") ? opt.concurrency : opt.clients;
    clients = calloc((size_t)nClients, sizeof(Client));
    dirty = calloc((size_t)nClients, sizeof(Client *));
    slotSeq = calloc((size_t)nClients * opt.window, sizeof(long long));
    slotLeft = calloc((size_t)nClients * opt.window, sizeof(int));
    for (int i = 0; i < nClients; i++) clients[i].fd = -1;
    if ((epfd = epoll_create1(0)) < 0) die("epoll_create1");
    if (mode("idle")) runIdle();
    long long setupStart = nowNs();
    if (!mode("logins")) {
        loginRange(0, nClients);
        if (st.failures || ready < nClients) {
            fprintf(stderr, "xmppload: %d of %d clients logged in (%lld failed)\n",
                    ready, nClients, st.failures);
            return 1;
        }
        settle(opt.settle);
    }
    double setup = (nowNs() - setupStart) / 1e9;
    if (!mode("logins")) startClock();
    if (mode("messages") || mode("presence")) runClosedLoop(mode("presence"));
    else if (mode("latency")) runOpenLoop();
    else if (mode("logins")) runLogins();
    else usage();
    drain();
    report(setup);
    return 0;
}
