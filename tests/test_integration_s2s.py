"""
Federation between jabberd servers on loopback (a.example on 127.0.0.1,
b.example on 127.0.0.2, static routes): SASL EXTERNAL with certificates
from a test CA, dialback over TLS with self-signed certificates, forged
addresses and keys refused, and the reliability rules (bounces on failure
and timeout, bounded queue, reconnection, idle close, blocklist).
"""

import asyncio
import time

import pytest

from harness import runScenario

from s2sharness import (
    DNSServer, FederatedServer, PeerClient, RawPeer, SilentPeer, freePort)
from testca import CertificateAuthority

pytestmark = pytest.mark.integration

A, B, C, D = "a.example", "b.example", "c.example", "d.example"
A2 = "a2.example"
E, F = "e.example", "f.example"


def run(coroutine, timeout=60):
    return runScenario(coroutine, timeout)


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    authority = CertificateAuthority()
    directory = tmp_path_factory.mktemp("ca")
    authority.path = authority.writeCA(directory)
    authority.directory = directory
    return authority


@pytest.fixture(scope="module")
def silent():
    peer = SilentPeer()
    yield peer
    peer.close()


@pytest.fixture(scope="module")
def verified(ca, silent, tmp_path_factory):
    """
    a.example and b.example with certificates from the test CA, which
    both trust; a.example also has routes to a silent peer and a closed
    port, a small queue, a short timeout, s2s_secure_auth and a
    blocklist.
    """
    a = FederatedServer(
        tmp_path_factory.mktemp("a"), A, "127.0.0.1",
        certificate=ca.writeDomain(ca.directory, A), trusted=[ca.path],
        hostOptions={"s2s_secure_auth": True}, extraDomains=[A2])
    b = FederatedServer(
        tmp_path_factory.mktemp("b"), B, "127.0.0.2",
        certificate=ca.writeDomain(ca.directory, B), trusted=[ca.path])
    a.options.update({
        "s2s_ca_file": ca.path, "s2s_connect_timeout": 2.0,
        "s2s_queue_size": 3, "s2s_blocklist": ["blocked.example"],
        "s2s_routes": {B: b.route(), "silent.example": silent.route(),
                       "closed.example": "127.0.0.1:1"}})
    b.options.update({"s2s_ca_file": ca.path,
                      "s2s_routes": {A: a.route(), A2: a.route()}})
    for server in (a, b):
        server.writeConfig()
        server.start()
    a.adduser("alice@" + A)
    a.adduser("anna@" + A2)
    b.adduser("bob@" + B)
    yield a, b
    a.stop()
    b.stop()


@pytest.fixture(scope="module")
def selfSigned(ca, tmp_path_factory):
    """
    c.example and d.example with their self-signed certificates, which
    neither trusts: dialback over TLS.  c.example closes idle streams
    after a second and a half.
    """
    c = FederatedServer(tmp_path_factory.mktemp("c"), C, "127.0.0.1")
    d = FederatedServer(tmp_path_factory.mktemp("d"), D, "127.0.0.2")
    c.options.update({"s2s_ca_file": ca.path, "s2s_idle_timeout": 1.5,
                      "s2s_routes": {D: d.route()}})
    d.options.update({"s2s_ca_file": ca.path,
                      "s2s_routes": {C: c.route()}})
    for server in (c, d):
        server.writeConfig()
        server.start()
    c.adduser("carol@" + C)
    d.adduser("dave@" + D)
    yield c, d
    c.stop()
    d.stop()


def client(server, user, resource="r", domain=None):
    return PeerClient("%s@%s/%s" % (user, domain or server.domain, resource),
                      server, "127.0.0.1", server.port)


async def exchange(first, second):
    """
    One chat message each way between two logged-in clients.
    """
    first.send_message(mto=second.boundjid.full, mbody="ping", mtype="chat")
    message = await second.nextMessage(15)
    assert (message["body"], message["from"]) == ("ping", first.boundjid)
    second.send_message(mto=first.boundjid.full, mbody="pong", mtype="chat")
    reply = await first.nextMessage(15)
    assert (reply["body"], reply["from"]) == ("pong", second.boundjid)


def test_saslExternalBothWays(verified):
    """
    With certificates both sides verify, each server authenticates with
    SASL EXTERNAL (XEP-0178) and messages flow both ways.
    """
    a, b = verified

    async def scenario():
        alice = await client(a, "alice").login()
        bob = await client(b, "bob").login()
        await exchange(alice, bob)
        alice.disconnect()
        bob.disconnect()
    run(scenario())
    assert "%s authenticated to %s (SASL EXTERNAL)" % (A, B) in a.logText()
    assert "%s authenticated to %s (SASL EXTERNAL)" % (B, A) in b.logText()


def test_multiplexedDomainPair(verified):
    """
    XEP-0220 section 3: a second local domain of a.example talks to
    b.example over the stream a.example already authenticated, with its
    own dialback (b.example verifies the key with a2.example), since
    b.example announced dialback errors.
    """
    a, b = verified

    async def scenario():
        alice = await client(a, "alice", "mux").login()
        anna = await client(a, "anna", "mux", A2).login()
        bob = await client(b, "bob", "mux").login()
        await exchange(alice, bob)
        await exchange(anna, bob)
        for each in (alice, anna, bob):
            each.disconnect()
    run(scenario())
    assert ("authenticating %s on the stream of %s to %s (multiplexing)"
            % (A2, A, B)) in a.logText()
    assert "%s authenticated to %s (dialback)" % (A2, B) in b.logText()


def test_dialbackOverTLS(selfSigned):
    """
    Certificates that do not verify: dialback (XEP-0220) both ways, on
    streams encrypted with TLS, and messages flow.
    """
    c, d = selfSigned

    async def scenario():
        carol = await client(c, "carol").login()
        dave = await client(d, "dave").login()
        await exchange(carol, dave)
        carol.disconnect()
        dave.disconnect()
    run(scenario())
    assert "%s authenticated to %s (dialback)" % (C, D) in c.logText()
    assert "%s authenticated to %s (dialback)" % (D, C) in c.logText()


def test_idleStreamClosedAndReopened(selfSigned):
    """
    c.example closes a stream idle for s2s_idle_timeout; the next stanza
    opens a new one.
    """
    c, d = selfSigned

    async def scenario():
        carol = await client(c, "carol", "idle").login()
        dave = await client(d, "dave", "idle").login()
        await exchange(carol, dave)
        await asyncio.sleep(3)
        assert "closing idle s2s stream" in c.logText()
        await exchange(carol, dave)
        carol.disconnect()
        dave.disconnect()
    run(scenario())


def authenticatedEvil(a, ca):
    """
    A raw peer that authenticated to a.example as evil.example with a
    CA-issued certificate and SASL EXTERNAL.
    """
    certificate = ca.writeDomain(ca.directory, "evil.example")
    peer = RawPeer("127.0.0.1", a.s2sPort)
    features = peer.open(A, "evil.example")
    assert "starttls" in features
    peer.startTLS(A, certificate)
    features = peer.open(A, "evil.example")
    assert "EXTERNAL" in features
    assert "<success" in peer.saslExternal(A, "evil.example")
    return peer


def test_forgedFromRefused(verified, ca):
    """
    A stream authenticated for evil.example may send from evil.example
    (the message reaches alice) but not from another domain:
    <invalid-from/> (RFC 6120 section 4.9.3.9).
    """
    a, _ = verified

    async def scenario():
        alice = await client(a, "alice", "spoof").login()
        peer = await asyncio.to_thread(authenticatedEvil, a, ca)
        peer.send("<message from='eve@evil.example/x' to='alice@a.example/"
                  "spoof' type='chat'><body>from evil</body></message>")
        message = await alice.nextMessage(10)
        assert (message["body"], str(message["from"])) == (
            "from evil", "eve@evil.example/x")
        peer.send("<message from='bob@b.example/x' to='alice@a.example/spoof'"
                  " type='chat'><body>forged</body></message>")
        answer = await asyncio.to_thread(peer.readUntil, "</stream:stream>")
        assert "<invalid-from" in answer
        with pytest.raises(asyncio.TimeoutError):
            await alice.nextMessage(1)
        peer.close()
        alice.disconnect()
    run(scenario())


def test_unhostedRecipientRefused(verified, ca):
    a, _ = verified
    peer = authenticatedEvil(a, ca)
    peer.send("<message from='eve@evil.example' to='someone@elsewhere.example'"
              "><body>relay me</body></message>")
    assert "<host-unknown" in peer.readUntil("</stream:stream>")
    peer.close()


def test_stanzaBeforeAuthenticationRefused(verified, ca):
    a, _ = verified
    peer = RawPeer("127.0.0.1", a.s2sPort)
    peer.open(A, "evil.example")
    peer.startTLS(A, ca.writeDomain(ca.directory, "evil.example"))
    peer.open(A, "evil.example")
    peer.send("<message from='eve@evil.example' to='alice@a.example'>"
              "<body>hi</body></message>")
    assert "<not-authorized" in peer.readUntil("</stream:stream>")
    peer.close()


def test_plaintextRefused(verified):
    """
    s2s_require_encryption: without TLS, no dialback.
    """
    a, _ = verified
    peer = RawPeer("127.0.0.1", a.s2sPort)
    features = peer.open(A, "evil.example")
    assert "<required" in features
    assert "urn:xmpp:features:dialback" not in features
    peer.send("<db:result from='evil.example' to='a.example'>abc</db:result>")
    assert "<policy-violation" in peer.readUntil("</stream:stream>")
    peer.close()


def test_forgedDialbackKeyRefused(verified):
    """
    A peer without a valid certificate claims b.example with a made-up
    key; b.example (the authoritative server) says it is not its key, so
    b.example answers <db:result type='invalid'/> (XEP-0220 section 2.1.4).
    Asked with a certificate that does not verify, b.example does not
    offer SASL EXTERNAL.
    """
    _, b = verified
    peer = RawPeer("127.0.0.2", b.s2sPort)
    peer.open(B, A)
    peer.startTLS(B)
    features = peer.open(B, A)
    assert "EXTERNAL" not in features and "dialback" in features
    peer.send("<db:result from='%s' to='%s'>%s</db:result>" % (A, B, "0" * 64))
    answer = peer.readUntil("/>")
    assert "type='invalid'" in answer and "<db:result" in answer
    peer.close()


def test_secureAuthRefusesDialback(verified):
    """
    a.example has s2s_secure_auth: dialback from a peer whose certificate
    does not verify is refused without asking anyone.
    """
    a, _ = verified
    peer = RawPeer("127.0.0.1", a.s2sPort)
    peer.open(A, "d.example")
    peer.startTLS(A)
    peer.open(A, "d.example")
    peer.send("<db:result from='d.example' to='a.example'>abc</db:result>")
    answer = peer.readUntil("</db:result>", "/>")
    assert "type='error'" in answer and "not-authorized" in answer
    peer.close()


def test_verifyRequestsAnswered(verified):
    """
    As the authoritative server, a.example answers <db:verify/> for keys
    it did not issue with type='invalid'.
    """
    a, _ = verified
    peer = RawPeer("127.0.0.1", a.s2sPort)
    peer.open(A, B)
    peer.startTLS(A)
    peer.open(A, B)
    peer.send("<db:verify from='%s' to='%s' id='abc'>%s</db:verify>"
              % (B, A, "1" * 64))
    answer = peer.readUntil("/>")
    assert "<db:verify" in answer and "type='invalid'" in answer
    assert "id='abc'" in answer
    peer.close()


def send(client, to, stanzaID, body=None, type=None):
    message = client.make_message(mto=to, mbody=body, mtype=type)
    message["id"] = stanzaID
    message.send()


def errorOf(message):
    return message["error"]["condition"]


def test_unansweredPeerTimesOut(verified):
    """
    Stanzas for a domain whose server accepts the connection but never
    answers bounce with <remote-server-timeout/> once s2s_connect_timeout
    (2 s) has passed; beyond s2s_queue_size (3) they bounce at once with
    <resource-constraint/>.  Errors are never bounced.
    """
    a, _ = verified

    async def scenario():
        alice = await client(a, "alice", "timeout").login()
        started = time.monotonic()
        for n in range(4):
            send(alice, "x@silent.example", str(n), body=str(n))
        first = await alice.nextMessage(5)
        assert (first["id"], errorOf(first)) == ("3", "resource-constraint")
        assert time.monotonic() - started < 1.5
        bounces = [await alice.nextMessage(5) for _ in range(3)]
        elapsed = time.monotonic() - started
        assert sorted(m["id"] for m in bounces) == ["0", "1", "2"]
        assert {errorOf(m) for m in bounces} == {"remote-server-timeout"}
        assert {str(m["from"]) for m in bounces} == {"x@silent.example"}
        assert 1.8 < elapsed < 4.5
        send(alice, "x@silent.example", "e", type="error")
        with pytest.raises(asyncio.TimeoutError):
            await alice.nextMessage(3)
        alice.disconnect()
    run(scenario())


def test_refusedConnectionBouncesNotFound(verified):
    a, _ = verified

    async def scenario():
        alice = await client(a, "alice", "closed").login()
        alice.send_message(mto="x@closed.example", mbody="anyone?")
        bounce = await alice.nextMessage(5)
        assert errorOf(bounce) == "remote-server-not-found"
        alice.disconnect()
    run(scenario())


def test_blockedDomain(verified):
    a, _ = verified

    async def scenario():
        alice = await client(a, "alice", "blocked").login()
        alice.send_message(mto="x@blocked.example", mbody="hello?")
        bounce = await alice.nextMessage(5)
        assert errorOf(bounce) == "not-allowed"
        alice.disconnect()
    run(scenario())


def test_reconnectAfterPeerRestart(verified):
    """
    b.example goes away (its streams end) and comes back: the next stanza
    opens a new stream.
    """
    a, b = verified

    async def scenario():
        alice = await client(a, "alice", "again").login()
        bob = await client(b, "bob", "again").login()
        await exchange(alice, bob)
        bob.disconnect()
        await asyncio.to_thread(b.stop)
        await asyncio.to_thread(b.start)
        bob = await client(b, "bob", "again").login()
        await exchange(alice, bob)
        alice.disconnect()
        bob.disconnect()
    run(scenario())


@pytest.fixture(scope="module")
def viaDNS(ca, tmp_path_factory):
    """
    f.example finds e.example through DNS (s2s_dns_servers pointing at a
    loopback DNS server): an _xmpps-server SRV record sends it to
    e.example's direct TLS listener (XEP-0368).
    """
    directory = tmp_path_factory.mktemp("dns")
    directPort = freePort()
    e = FederatedServer(
        tmp_path_factory.mktemp("e"), E, "127.0.0.1",
        certificate=ca.writeDomain(ca.directory, E), trusted=[ca.path])
    f = FederatedServer(
        tmp_path_factory.mktemp("f"), F, "127.0.0.2",
        certificate=ca.writeDomain(ca.directory, F), trusted=[ca.path])
    dns = DNSServer(directory, "example", [
        ("SRV", "_xmpps-server._tcp." + E, 0, 1, directPort, "localhost"),
        ("SRV", "_xmpp-server._tcp." + E, 10, 1, e.s2sPort, "localhost")])
    e.options.update({
        "s2s_ca_file": ca.path, "s2s_routes": {F: f.route()},
        "s2s_direct_tls_listeners": [
            "tcp:%d:interface=127.0.0.1" % (directPort,)]})
    f.options.update({"s2s_ca_file": ca.path,
                      "s2s_dns_servers": ["127.0.0.1:%d" % (dns.port,)]})
    dns.start()
    for server in (e, f):
        server.writeConfig()
        server.start()
    e.adduser("erin@" + E)
    f.adduser("frank@" + F)
    yield e, f
    e.stop()
    f.stop()
    dns.stop()


def test_srvAndDirectTLS(viaDNS):
    """
    f.example looks up e.example's SRV records, prefers the direct TLS
    one (priority 0) and connects with TLS from the first byte; SNI picks
    e.example's certificate, which f.example verifies, and both sides use
    SASL EXTERNAL.
    """
    e, f = viaDNS

    async def scenario():
        frank = await client(f, "frank").login()
        erin = await client(e, "erin").login()
        await exchange(frank, erin)
        frank.disconnect()
        erin.disconnect()
    run(scenario())
    assert "connected to %s at 127.0.0.1 (direct TLS)" % (E,) in f.logText()
    assert "%s authenticated to %s (SASL EXTERNAL)" % (F, E) in e.logText()
