"""
End-to-end client-to-server tests: the real server in a subprocess, real
TCP and TLS on loopback, real slixmpp clients.
"""

import asyncio

import pytest

from harness import runScenario, PASSWORD, Client, RawStream, RunningServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = RunningServer(tmp_path_factory.mktemp("c2s"),
                            extra="max_stanza_size = 16384")
    running.start()
    for jid in ("alice@localhost", "bob@localhost", "carol@example.net"):
        running.adduser(jid)
    yield running
    running.stop()


def run(coroutine):
    return runScenario(coroutine, 60)


async def _login(server, jid, password=PASSWORD, mechanism=None):
    client = Client(jid, password, server)
    if mechanism is not None:
        client.plugin["feature_mechanisms"].use_mech = mechanism
    return await client.login()


def test_scramSha256OverStartTLS(server):
    """
    A client logs in with SCRAM-SHA-256 after STARTTLS, binds the resource
    it asked for, and the server answers its ping.
    """
    async def scenario():
        client = await _login(server, "alice@localhost/desk",
                              mechanism="SCRAM-SHA-256")
        assert client.plugin["feature_mechanisms"].mech.name == "SCRAM-SHA-256"
        assert client.socket.version() in ("TLSv1.2", "TLSv1.3")
        assert str(client.boundjid) == "alice@localhost/desk"
        pong = await client.plugin["xep_0199"].send_ping("localhost",
                                                           timeout=5)
        assert pong["type"] == "result"
        client.disconnect()
    run(scenario())


def test_messageWithinOneDomain(server):
    """
    A chat message to a bare JID reaches the recipient's session, stamped
    with the sender's full JID.
    """
    async def scenario():
        alice = await (await _login(server, "alice@localhost/a1")).goOnline()
        bob = await (await _login(server, "bob@localhost/b1")).goOnline()
        alice.send_message(mto="bob@localhost", mbody="hi bob", mtype="chat")
        message = await bob.nextMessage()
        assert message["body"] == "hi bob"
        assert str(message["from"]) == "alice@localhost/a1"
        bob.send_message(mto="alice@localhost/a1", mbody="hi alice")
        reply = await alice.nextMessage()
        assert reply["body"] == "hi alice"
        assert str(reply["from"]) == "bob@localhost/b1"
        alice.disconnect()
        bob.disconnect()
    run(scenario())


def test_messageBetweenHostedDomains(server):
    """
    Two domains of one server exchange messages both ways.
    """
    async def scenario():
        alice = await (await _login(server, "alice@localhost/x")).goOnline()
        carol = await (await _login(server, "carol@example.net/y")).goOnline()
        alice.send_message(mto="carol@example.net", mbody="across")
        message = await carol.nextMessage()
        assert (message["body"], str(message["from"])) == (
            "across", "alice@localhost/x")
        carol.send_message(mto="alice@localhost/x", mbody="and back")
        reply = await alice.nextMessage()
        assert (reply["body"], str(reply["from"])) == (
            "and back", "carol@example.net/y")
        alice.disconnect()
        carol.disconnect()
    run(scenario())


def test_messageToUnknownUserBounces(server):
    """
    A message to a local account that does not exist comes back as
    service-unavailable.
    """
    async def scenario():
        alice = await _login(server, "alice@localhost/z")
        alice.send_message(mto="nobody@localhost", mbody="anyone?")
        error = await alice.nextMessage()
        assert error["type"] == "error"
        assert error["error"]["condition"] == "service-unavailable"
        assert str(error["from"]) == "nobody@localhost"
        alice.disconnect()
    run(scenario())


def test_wrongPasswordRefused(server):
    """
    A wrong password ends in authentication failure, never a session.
    """
    async def scenario():
        client = Client("alice@localhost/bad", "wrong password", server)
        with pytest.raises(PermissionError):
            await client.login()
        client.disconnect()
    run(scenario())


def test_sameFullJIDReplacesOldSession(server):
    """
    A second session binding the same full JID wins; the first gets a
    <conflict/> stream error (RFC 6120 section 7.7.2.2).
    """
    async def scenario():
        first = await _login(server, "bob@localhost/same")
        errors = asyncio.Queue()
        first.add_event_handler("stream_error", errors.put_nowait)
        second = await _login(server, "bob@localhost/same")
        error = await asyncio.wait_for(errors.get(), 5)
        assert error["condition"] == "conflict"
        assert str(second.boundjid) == "bob@localhost/same"
        second.disconnect()
    run(scenario())


def _streamError(server, data, to="localhost"):
    raw = RawStream(server)
    raw.open(to)
    raw.readUntil("</stream:features>")
    raw.send(data)
    text = raw.readAll()
    raw.close()
    return text


def test_restrictedXML(server):
    """
    A comment or a processing instruction inside the stream ends it with
    <restricted-xml/> (RFC 6120 section 11.1), also inside a stanza.
    """
    for data in ("<!-- hello -->", "<?evil stuff?>",
                 "<message><body>x<!-- y --></body></message>"):
        text = _streamError(server, data)
        assert "<restricted-xml" in text, (data, text)
        assert text.endswith("</stream:stream>")


def test_entityExpansionRefused(server):
    """
    A DTD before the stream header is refused before any entity is
    expanded.
    """
    raw = RawStream(server)
    laughs = ("<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
              + "".join("<!ENTITY lol%d '%s'>" % (i, "&lol%s;" % (i - 1 or "",) * 10)
                        for i in range(1, 10))
              + "]><stream:stream>&lol9;")
    raw.send(laughs)
    text = raw.readAll()
    assert "<restricted-xml" in text


def test_oversizedStanza(server):
    """
    A stanza over max_stanza_size ends the stream with <policy-violation/>.
    """
    text = _streamError(server, "<message><body>" + "x" * 40000)
    assert "<policy-violation" in text


def test_startTLSInjectionRefused(server):
    """
    Bytes sent after <starttls/> in the same read are refused: the server
    does not proceed to TLS and closes the stream.
    """
    text = _streamError(server, "<starttls xmlns='urn:ietf:params:xml:ns:"
                        "xmpp-tls'/><iq type='get' id='x'><query "
                        "xmlns='jabber:iq:version'/></iq>")
    assert "<proceed" not in text
    assert "<policy-violation" in text


def test_unknownHost(server):
    """
    A stream to a domain we do not serve gets <host-unknown/>; a 'to' that
    is no domain gets <improper-addressing/>.
    """
    raw = RawStream(server)
    raw.open("elsewhere.example")
    assert "<host-unknown" in raw.readAll()
    raw = RawStream(server)
    raw.open("not a domain!")
    assert "<improper-addressing" in raw.readAll()


def test_unsupportedVersion(server):
    raw = RawStream(server)
    raw.send("<stream:stream to='localhost' xmlns='jabber:client' "
             "version='2.0' xmlns:stream='http://etherx.jabber.org/streams'>")
    assert "<unsupported-version" in raw.readAll()


def test_invalidNamespace(server):
    raw = RawStream(server)
    raw.send("<stream:stream to='localhost' xmlns='jabber:server' "
             "version='1.0' xmlns:stream='http://etherx.jabber.org/streams'>")
    assert "<invalid-namespace" in raw.readAll()


def test_stanzaBeforeAuthentication(server):
    """
    A message before authentication is refused with <not-authorized/>.
    """
    text = _streamError(server, "<message to='bob@localhost'><body>x</body>"
                        "</message>")
    assert "<not-authorized" in text


def test_startTLSWithALPN(server):
    """
    A client that offers ALPN during STARTTLS (as XEP-0368-aware clients
    do) completes the handshake, agreeing on xmpp-client.
    """
    raw = RawStream(server)
    raw.open("localhost")
    raw.readUntil("</stream:features>")
    raw.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    assert "<proceed" in raw.readUntil("/>")
    context = server.sslContext()
    context.set_alpn_protocols(["xmpp-client"])
    tls = context.wrap_socket(raw.sock, server_hostname="localhost")
    assert tls.selected_alpn_protocol() == "xmpp-client"
    tls.close()
