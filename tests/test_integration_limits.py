"""
End-to-end tests of the limits a client stream lives under (connections
per address, authentication timeout, read rate, nesting depth) and of the
checks the server makes on each stanza at the edge (RFC 6120 sections 4.9
and 8), against the real server over real TCP and TLS.
"""

import re
import time

import pytest

from harness import TLSRawStream, TunedServer, tlsLogin

pytestmark = pytest.mark.integration

MAX_CONNECTIONS = 3
AUTH_TIMEOUT = 1.0
READ_RATE = 2000
MAX_STANZA_SIZE = 4096
MAX_DEPTH = 8


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = TunedServer(tmp_path_factory.mktemp("limits"), options={
        "max_connections_per_address": MAX_CONNECTIONS,
        "auth_timeout": AUTH_TIMEOUT,
        "max_stanza_size": MAX_STANZA_SIZE,
        "max_depth": MAX_DEPTH,
    })
    running.start()
    for jid in ("alice@localhost", "bob@localhost"):
        running.adduser(jid)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def slowServer(tmp_path_factory):
    """
    A server reading each client at c2s_read_rate.  It is a server of its
    own because a paused connection is only seen to close once reading
    resumes, and would hold one of the other server's few connection slots
    until then.
    """
    running = TunedServer(tmp_path_factory.mktemp("slow"), options={
        "c2s_read_rate": READ_RATE,
        "max_stanza_size": MAX_STANZA_SIZE,
    })
    running.start()
    running.adduser("alice@localhost")
    yield running
    running.stop()


def _loginFactory(server):
    streams = []

    def make(user="alice", resource="raw"):
        stream = tlsLogin(server, user, resource=resource)
        streams.append(stream)
        return stream
    return make, streams


@pytest.fixture
def login(server):
    """
    A factory of bound raw sessions on the module's server; each is closed
    after the test, so a failed test leaves no connection counted against
    the next.
    """
    make, streams = _loginFactory(server)
    yield make
    for stream in streams:
        stream.close()
    if streams:
        waitUntilAccepted(server).close()


@pytest.fixture
def slowLogin(slowServer):
    """
    Bound raw sessions on L{slowServer}, closed after the test.
    """
    make, streams = _loginFactory(slowServer)
    yield make
    for stream in streams:
        stream.close()


def ping(stream, stanzaID="ping"):
    """
    Ping the server (XEP-0199) and return its answer's text; C{None} if
    the stream closed first.
    """
    stream.send("<iq type='get' id='%s' to='localhost'><ping "
                "xmlns='urn:xmpp:ping'/></iq>" % (stanzaID,))
    return stream.readStanza("iq", stanzaID)


def isResult(text):
    return text is not None and re.search(r"\btype=['\"]result['\"]", text)


def streamError(stream):
    """
    Everything until the server closes, which must be the end of the
    stream (after a stream error, RFC 6120 section 4.9.1.1).
    """
    text = stream.readAll()
    assert text.endswith("</stream:stream>"), text
    return text


def openUnauthenticated(server):
    stream = TLSRawStream(server)
    return stream, stream.openStream("localhost")


def assertRefused(server):
    """
    A new connection gets C{<policy-violation/>} instead of features.
    """
    stream, text = openUnauthenticated(server)
    assert "<stream:features>" not in text, text
    assert "<policy-violation" in text, text
    assert text.endswith("</stream:stream>"), text
    stream.close()


def waitUntilAccepted(server, timeout=5):
    """
    Open streams until one is answered with features (a closed
    connection is counted off asynchronously).
    """
    deadline = time.monotonic() + timeout
    while True:
        stream, features = openUnauthenticated(server)
        if "<stream:features>" in features:
            return stream
        stream.close()
        assert time.monotonic() < deadline, features
        time.sleep(0.05)


# -- Connections per address --------------------------------------------------


def test_connectionsPerAddress(server, login):
    """
    With max_connections_per_address = 3 the 4th simultaneous connection
    from 127.0.0.1 gets C{<policy-violation/>}; once one is closed, a new
    one is accepted, and the next is refused again.
    """
    first = waitUntilAccepted(server)
    first.close()
    sessions = [login("alice", "c%d" % (i,))
                for i in range(MAX_CONNECTIONS)]
    assertRefused(server)
    sessions.pop().close()
    sessions.append(waitUntilAccepted(server))
    assertRefused(server)
    for stream in sessions:
        stream.close()


# -- Authentication timeout ---------------------------------------------------


def test_authTimeout(server, login):
    """
    An unauthenticated stream left idle gets C{<connection-timeout/>}
    after auth_timeout (1 s); a bound session opened at the same time is
    still served afterwards.
    """
    started = time.monotonic()
    idle, features = openUnauthenticated(server)
    assert "<stream:features>" in features
    bound = login("alice", "timeout")
    text = streamError(idle)
    elapsed = time.monotonic() - started
    assert "<connection-timeout" in text
    assert AUTH_TIMEOUT - 0.1 <= elapsed <= 2.0, elapsed
    time.sleep(max(0, started + AUTH_TIMEOUT + 0.5 - time.monotonic()))
    assert isResult(ping(bound))
    bound.close()


def test_authTimeoutAfterSASL(server):
    """
    Authenticating is not enough: a stream that never binds a resource
    is also closed with C{<connection-timeout/>}.
    """
    stream = TLSRawStream(server)
    stream.openStream("localhost")
    stream.startTLS("localhost")
    stream.openStream("localhost")
    assert stream.plainLogin("alice") == "success"
    assert "<connection-timeout" in streamError(stream)


# -- Read rate and whitespace -------------------------------------------------


def keepalivesAndPings(count, size=2000, prefix="k"):
    """
    C{count} runs of C{size} spaces (whitespace keepalives, RFC 6120
    section 4.6.1), each followed by a ping with id C{<prefix><n>}.
    """
    return "".join(
        " " * size + "<iq type='get' id='%s%d' to='localhost'><ping "
        "xmlns='urn:xmpp:ping'/></iq>" % (prefix, i) for i in range(count))


def test_readRateLimited(slowLogin):
    """
    c2s_read_rate = 2000 bytes/s, with a burst of max_stanza_size (4096):
    after about 10 kB of whitespace keepalives (with a ping after each
    2 kB, all answered: nothing is lost), a stanza sent later is read
    only once the rate allows all those bytes.
    """
    stream = slowLogin("alice", "rate")
    padding = keepalivesAndPings(5)
    started = time.monotonic()
    stream.send(padding)
    answers = [stream.readStanza("iq", "k%d" % (i,)) for i in range(5)]
    assert all(isResult(answer) for answer in answers), answers
    time.sleep(0.3)
    assert isResult(ping(stream, "late"))
    elapsed = time.monotonic() - started
    least = (len(padding) - MAX_STANZA_SIZE) / READ_RATE
    assert least > 3
    assert elapsed >= least - 0.1, (elapsed, least)


def test_readRateBoundsOneBurst(slowLogin):
    """
    Bytes beyond the burst allowance wait for the rate even when they
    arrive in one read: a ping right behind 10 kB of keepalives is
    answered no sooner than the rate allows.
    """
    stream = slowLogin("alice", "burst")
    padding = keepalivesAndPings(5, prefix="b")
    started = time.monotonic()
    stream.send(padding + "<iq type='get' id='last' to='localhost'><ping "
                "xmlns='urn:xmpp:ping'/></iq>")
    assert isResult(stream.readStanza("iq", "last"))
    elapsed = time.monotonic() - started
    least = (len(padding) - MAX_STANZA_SIZE) / READ_RATE
    assert elapsed >= least - 0.1, (elapsed, least)


def test_whitespaceBetweenStanzas(server, login):
    """
    Whitespace keepalives (RFC 6120 section 4.6.1) between and around
    stanzas are accepted and change nothing.
    """
    stream = login("alice", "ws")
    stream.send(" \n\t ")
    assert isResult(ping(stream, "w1"))
    stream.send("\n<iq type='get' id='w2' to='localhost'><ping "
                "xmlns='urn:xmpp:ping'/></iq>  \r\n ")
    assert isResult(stream.readStanza("iq", "w2"))
    assert isResult(ping(stream, "w3"))
    stream.close()


def test_longWhitespaceRunIsNoStanza(server, login):
    """
    Whitespace keepalives add up over a long session; more of them than
    max_stanza_size between two stanzas is still no oversized stanza.
    """
    stream = login("alice", "longws")
    for _ in range(3):
        stream.send(" " * 2000)
    assert isResult(ping(stream, "after-ws"))
    stream.close()


# -- Nesting depth ------------------------------------------------------------


def nested(depth):
    """
    A message nested C{depth} elements deep, the message included.
    """
    inner = "<x xmlns='urn:example:deep'>" * (depth - 1) + "</x>" * (depth - 1)
    return "<message to='localhost' id='deep'>%s</message>" % (inner,)


def test_maxDepth(server, login):
    """
    A stanza nested exactly max_depth deep is accepted; one level more
    ends the stream with C{<policy-violation/>}.
    """
    stream = login("alice", "deep")
    stream.send(nested(MAX_DEPTH))
    assert isResult(ping(stream, "d1"))
    stream.send(nested(MAX_DEPTH + 1))
    assert "<policy-violation" in streamError(stream)


# -- Stanza checks at the edge ------------------------------------------------


def test_legacySessionBeforeBind(server):
    """
    The legacy session IQ (RFC 3921 section 3) is answered with a result
    on an authenticated stream.
    """
    stream = TLSRawStream(server)
    stream.openStream("localhost")
    stream.startTLS("localhost")
    stream.openStream("localhost")
    assert stream.plainLogin("alice") == "success"
    features = stream.openStream("localhost")
    assert "<session xmlns='urn:ietf:params:xml:ns:xmpp-session'>" \
        "<optional/></session>" in features
    stream.send("<iq type='set' id='sess'><session "
                "xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")
    assert isResult(stream.readStanza("iq", "sess"))
    stream.close()


def test_legacySessionAfterBind(server, login):
    """
    Clients send the legacy session IQ after binding, the order RFC 3921
    section 3 prescribes; it is answered with a result.
    """
    stream = login("alice", "session")
    stream.send("<iq type='set' id='sess'><session "
                "xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")
    assert isResult(stream.readStanza("iq", "sess"))
    stream.close()


def test_iqWithoutID(server, login):
    """
    An IQ without an id is answered with a C{bad-request} error (RFC 6120
    section 8.2.3); the stream stays open.
    """
    stream = login("alice", "noid")
    stream.send("<iq type='get' to='localhost'><ping "
                "xmlns='urn:xmpp:ping'/></iq>")
    answer = stream.readElement("iq").group(0)
    assert re.search(r"\btype='error'", answer), answer
    assert "<bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>" \
        in answer
    assert isResult(ping(stream, "still-open"))
    stream.close()


def test_invalidFrom(server, login):
    """
    A stanza whose C{from} is not the stream's JID ends the stream with
    C{<invalid-from/>} (RFC 6120 section 4.9.3.9); the bare JID is fine.
    """
    stream = login("alice", "from")
    stream.send("<iq type='get' id='own' from='alice@localhost' "
                "to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
    assert isResult(stream.readStanza("iq", "own"))
    stream.send("<message from='bob@localhost/x' to='alice@localhost'>"
                "<body>forged</body></message>")
    assert "<invalid-from" in streamError(stream)


@pytest.mark.parametrize("to", ["@localhost", "a@b@c", "alice@localhost/",
                                "alice@" + "x" * 1100])
def test_malformedTo(server, login, to):
    """
    A message to an address that is no JID (RFC 7622) bounces with a
    C{jid-malformed} stanza error; the stream stays open.
    """
    stream = login("alice", "to")
    stream.send("<message to='%s' id='bad-to'><body>x</body></message>"
                % (to,))
    answer = stream.readStanza("message", "bad-to")
    assert answer is not None
    assert re.search(r"\btype='error'", answer), answer
    assert "<jid-malformed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>" \
        in answer
    assert isResult(ping(stream, "after-bad-to"))
    stream.close()


def test_otherSessionsSurviveBadInput(server, login):
    """
    One client's malformed XML ends its own stream with
    C{<not-well-formed/>}; another client's session goes on.
    """
    bad = login("alice", "bad")
    good = login("bob", "good")
    bad.send("<message><body>x</bod></message>")
    assert "<not-well-formed" in streamError(bad)
    assert isResult(ping(good, "alive"))
    good.send("<message to='bob@localhost/good' id='echo'>"
              "<body>still here</body></message>")
    echo = good.readStanza("message", "echo")
    assert echo is not None and "<body>still here</body>" in echo
    good.close()


# -- Shutdown -----------------------------------------------------------------


def test_systemShutdown(tmp_path):
    """
    Stopping the server with SIGTERM ends every client stream with
    C{<system-shutdown/>}.
    """
    running = TunedServer(tmp_path).start()
    try:
        running.adduser("alice@localhost")
        sessions = [tlsLogin(running, "alice", resource=r)
                    for r in ("one", "two")]
        running.process.terminate()
        for stream in sessions:
            assert "<system-shutdown" in streamError(stream)
        running.process.wait(10)
        assert "Server Shut Down." in running.logText()
    finally:
        running.stop()
