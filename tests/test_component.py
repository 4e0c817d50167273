"""
Tests for external components (XEP-0114, L{jabberd.component}): the
handshake, addressing checks, routing both ways and the offline bounce, on
a real server (L{jabberd.testing.HostHarness}) with the component stream
on a L{StringTransport}.
"""

import hashlib

import pytest
from twisted.internet.testing import StringTransport

from jabberd.component import (
    NS_COMPONENT, ComponentStreamFactory, handshakeDigest)
from jabberd.config import ConfigError
from jabberd.errors import NS_STREAMS
from jabberd.testing import (
    HostHarness, errorCondition, iq, message, presence)
from jabberd.xml import NS_CLIENT
from jabberd.xmlparser import XMLStreamParser
from plugins.ping import NS_PING, ping

ORG = "example.org"
ECHO = "echo.example.org"
SECRET = "sesame and more"


@pytest.fixture
def harness():
    with HostHarness([ping], settings={"components": {
            ECHO: {"secret": SECRET},
            "gw.example.org": {"secret": "other"}}}) as harness:
        yield harness


class FakeComponent:
    """
    The component's end of a stream: what it writes, and what the server
    wrote back, parsed with our own stream parser.
    """

    def __init__(self, harness):
        self.harness = harness
        self.stream = ComponentStreamFactory(harness.server).buildProtocol(
            None)
        self.transport = StringTransport()
        self.stream.makeConnection(self.transport)
        self.header = None
        self.elements = []
        self.ended = False
        self.parser = XMLStreamParser(self._header, self.elements.append,
                                      self._ended, 1 << 20, 100)

    def _header(self, attributes, namespace):
        self.header = dict(attributes, xmlns=namespace)

    def _ended(self):
        self.ended = True

    def send(self, text):
        self.stream.dataReceived(text.encode("utf-8"))
        self.read()

    def read(self):
        data = self.transport.value()
        self.transport.clear()
        self.parser.feed(data)

    def open(self, to=ECHO, namespace=NS_COMPONENT):
        self.send("<?xml version='1.0'?><stream:stream xmlns='%s' "
                  "xmlns:stream='http://etherx.jabber.org/streams' "
                  "to='%s'>" % (namespace, to))

    def login(self, to=ECHO, secret=SECRET):
        self.open(to)
        digest = hashlib.sha1(
            (self.header["id"] + secret).encode()).hexdigest()
        self.send("<handshake>%s</handshake>" % (digest,))
        return self

    def take(self):
        self.read()
        elements, self.elements[:] = list(self.elements), []
        return elements

    def streamError(self):
        """
        The condition of the stream error the server sent, if it closed.
        """
        self.harness.advance(0)
        self.read()
        for element in self.elements:
            if element.name == "error":
                assert self.ended and self.transport.disconnecting
                return next(child.name for child in element.elements()
                            if child.uri == NS_STREAMS)
        return None


@pytest.fixture
def component(harness):
    return FakeComponent(harness)


@pytest.fixture
def alice(harness):
    return harness.client("alice@example.org/pc")


def connected(harness, secret=SECRET, to=ECHO):
    component = FakeComponent(harness).login(to, secret)
    [handshake] = component.take()
    assert (handshake.uri, handshake.name) == (NS_COMPONENT, "handshake")
    return component


# -- handshake ---------------------------------------------------------------


def test_handshakeDigest():
    """
    XEP-0114 section 3: lowercase hex SHA-1 of stream id + secret.
    """
    assert handshakeDigest("3BF96D32", "sesame") == hashlib.sha1(
        b"3BF96D32sesame").hexdigest()
    assert handshakeDigest("id", "s\u00e9same") == hashlib.sha1(
        "ids\u00e9same".encode("utf-8")).hexdigest()


def test_streamHeader(component):
    component.open()
    assert component.header["xmlns"] == NS_COMPONENT
    assert component.header["from"] == ECHO
    assert len(component.header["id"]) >= 16
    assert component.elements == []


def test_streamIDsDiffer(harness):
    first, second = FakeComponent(harness), FakeComponent(harness)
    first.open()
    second.open()
    assert first.header["id"] != second.header["id"]


def test_handshakeAccepted(harness):
    component = connected(harness)
    route = harness.server.components[ECHO]
    assert route.connected and route.stream is component.stream
    assert not component.transport.disconnecting


def test_handshakeCaseInsensitive(harness):
    component = FakeComponent(harness)
    component.open()
    digest = handshakeDigest(component.header["id"], SECRET).upper()
    component.send("<handshake> %s </handshake>" % (digest,))
    assert component.take()[0].name == "handshake"


def test_wrongSecret(harness, component):
    """
    A wrong digest is <not-authorized/>, after the authentication
    throttle's delay; the component stays offline.
    """
    component.login(secret="wrong")
    assert component.elements == []
    assert not component.transport.disconnecting
    component.send("<message from='x@echo.example.org' to='a@example.org'/>")
    harness.advance(harness.server.config.authFailureDelay)
    assert component.streamError() == "not-authorized"
    assert not harness.server.components[ECHO].connected


@pytest.mark.parametrize("digest", ["", "x" * 40, "\u00e9" * 40])
def test_malformedHandshake(harness, component, digest):
    component.open()
    component.send("<handshake>%s</handshake>" % (digest,))
    harness.advance(10)
    assert component.streamError() == "not-authorized"


def test_otherComponentsSecret(harness, component):
    component.login(secret="other")
    harness.advance(10)
    assert component.streamError() == "not-authorized"


def test_unknownDomain(component):
    component.open(to="nothing.example.org")
    assert component.header["xmlns"] == NS_COMPONENT
    assert "from" not in component.header
    assert component.streamError() == "host-unknown"


def test_hostedDomainIsNoComponent(component):
    component.open(to=ORG)
    assert component.streamError() == "host-unknown"


def test_missingTo(component):
    component.send("<stream:stream xmlns='jabber:component:accept' "
                   "xmlns:stream='http://etherx.jabber.org/streams'>")
    assert component.streamError() == "improper-addressing"


def test_wrongNamespace(component):
    component.open(namespace=NS_CLIENT)
    assert component.streamError() == "invalid-namespace"


def test_domainPrepared(harness):
    """
    The header's domain is prepared like any domainpart.
    """
    connected(harness, to="Echo.Example.ORG")
    assert harness.server.components[ECHO].connected


def test_conflict(harness):
    first = connected(harness)
    second = FakeComponent(harness).login()
    assert second.streamError() == "conflict"
    assert harness.server.components[ECHO].stream is first.stream


def test_stanzaBeforeHandshake(component):
    component.open()
    component.send("<message from='bot@echo.example.org' "
                   "to='alice@example.org/pc'/>")
    assert component.streamError() == "not-authorized"


def test_secondHandshake(harness):
    component = connected(harness)
    component.send("<handshake>%s</handshake>" % ("0" * 40,))
    assert component.streamError() == "not-authorized"


def test_unknownElement(harness):
    component = connected(harness)
    component.send("<thing xmlns='urn:x'/>")
    assert component.streamError() == "unsupported-stanza-type"


def test_handshakeTimeout(harness, component):
    component.open()
    harness.advance(harness.server.config.authTimeout)
    assert component.streamError() == "connection-timeout"


def test_noTimeoutOnceConnected(harness):
    component = connected(harness)
    harness.advance(harness.server.config.authTimeout + 1)
    assert not component.transport.disconnecting


def test_restrictedXML(harness):
    component = connected(harness)
    component.send("<!-- no comments -->")
    assert component.streamError() == "restricted-xml"


def test_stanzaSizeLimit():
    with HostHarness([ping], settings={
            "max_stanza_size": 4096,
            "components": {ECHO: {"secret": SECRET}}}) as harness:
        component = connected(harness)
        component.send("<message from='a@echo.example.org' "
                       "to='alice@example.org'><body>%s</body></message>"
                       % ("x" * 5000,))
        assert component.streamError() == "policy-violation"


def test_disconnectTakesItOffline(harness):
    component = connected(harness)
    component.stream.connectionLost(None)
    assert not harness.server.components[ECHO].connected
    connected(harness)


# -- stanzas from the component -----------------------------------------------


def test_messageToClient(harness, alice):
    component = connected(harness)
    component.send("<message from='bot@echo.example.org/x' "
                   "to='alice@example.org/pc' type='chat' id='c1'>"
                   "<body>hello</body></message>")
    [received] = alice.take()
    assert received["from"] == "bot@echo.example.org/x"
    assert received["id"] == "c1"
    assert (received.uri, received.body.uri) == (NS_CLIENT, NS_CLIENT)
    assert str(received.body) == "hello"


def test_fromDomainItself(harness, alice):
    component = connected(harness)
    component.send("<message from='echo.example.org' "
                   "to='alice@example.org/pc'><body>x</body></message>")
    assert alice.take()[0]["from"] == ECHO


@pytest.mark.parametrize("sender", [
    "alice@example.org", "example.org", "bot@gw.example.org",
    "bot@sub.echo.example.org", "bot@echo.example.org.evil",
])
def test_spoofedFrom(harness, alice, sender):
    """
    A component may send from its own domain only.
    """
    component = connected(harness)
    component.send("<message from='%s' to='alice@example.org/pc'>"
                   "<body>x</body></message>" % (sender,))
    assert component.streamError() == "invalid-from"
    assert alice.take() == []
    assert not harness.server.components[ECHO].connected


def test_malformedFrom(harness):
    component = connected(harness)
    component.send("<message from='@echo.example.org' to='a@example.org'/>")
    assert component.streamError() == "invalid-from"


@pytest.mark.parametrize("attributes", [
    "to='alice@example.org/pc'", "from='bot@echo.example.org'"])
def test_missingAddresses(harness, attributes):
    component = connected(harness)
    component.send("<message %s><body>x</body></message>" % (attributes,))
    assert component.streamError() == "improper-addressing"


def test_malformedTo(harness):
    component = connected(harness)
    component.send("<message from='bot@echo.example.org' to='a@@b' "
                   "id='m1'/>")
    [error] = component.take()
    assert error.uri == NS_COMPONENT
    assert errorCondition(error) == "jid-malformed"
    assert (error["to"], error["id"]) == ("bot@echo.example.org", "m1")
    assert not component.transport.disconnecting


def test_badIQ(harness):
    component = connected(harness)
    component.send("<iq from='bot@echo.example.org' to='example.org' "
                   "type='get' id='q1'/>")
    [error] = component.take()
    assert errorCondition(error) == "bad-request"


def test_iqToHost(harness):
    """
    A component's stanza enters the host's inbound phase: the host
    answers its ping, and the answer is routed back to the component.
    """
    component = connected(harness)
    component.send("<iq from='bot@echo.example.org' to='example.org' "
                   "type='get' id='p1'><ping xmlns='%s'/></iq>" % (NS_PING,))
    [pong] = component.take()
    assert (pong.uri, pong.name) == (NS_COMPONENT, "iq")
    assert pong.attributes == {"type": "result", "id": "p1",
                               "from": ORG, "to": "bot@echo.example.org"}


def test_bounceFromHostToComponent(harness):
    component = connected(harness)
    component.send("<message from='bot@echo.example.org' "
                   "to='nobody@example.org' id='n1'><body>x</body>"
                   "</message>")
    [error] = component.take()
    assert errorCondition(error) == "service-unavailable"
    assert error["from"] == "nobody@example.org"


def test_unroutableFromComponent(harness):
    component = connected(harness)
    component.send("<message from='bot@echo.example.org' "
                   "to='x@elsewhere.example' id='u1'/>")
    [error] = component.take()
    assert errorCondition(error) == "remote-server-not-found"


def test_componentToComponent(harness):
    echo = connected(harness)
    gateway = connected(harness, "other", "gw.example.org")
    echo.send("<message from='bot@echo.example.org' "
              "to='user@gw.example.org'><body>across</body></message>")
    [received] = gateway.take()
    assert received.uri == NS_COMPONENT
    assert received["from"] == "bot@echo.example.org"
    assert echo.take() == []


# -- stanzas to the component -------------------------------------------------


def test_clientToComponent(harness, alice):
    component = connected(harness)
    alice.send(message(to="bot@echo.example.org", body="hi", type="chat",
                       id="a1"))
    [received] = component.take()
    assert (received.uri, received.name) == (NS_COMPONENT, "message")
    assert received["from"] == "alice@example.org/pc"
    assert received["to"] == "bot@echo.example.org"
    assert received.body.uri == NS_COMPONENT
    assert str(received.body) == "hi"


def test_clientToComponentDomain(harness, alice):
    component = connected(harness)
    alice.send(iq("get", "<query xmlns='jabber:iq:version'/>", to=ECHO,
                  id="v1"))
    [received] = component.take()
    assert received.name == "iq" and received["to"] == ECHO
    component.send("<iq from='echo.example.org' to='alice@example.org/pc' "
                   "type='result' id='v1'/>")
    [result] = alice.take()
    assert result["type"] == "result" and result["from"] == ECHO


@pytest.mark.parametrize("stanza", [
    message(to="bot@echo.example.org", body="anyone?", id="o1"),
    iq("get", "<query xmlns='jabber:iq:version'/>", to=ECHO, id="o1"),
])
def test_offlineBounce(harness, alice, stanza):
    alice.send(stanza)
    [error] = alice.take()
    assert error.name == stanza.name
    assert errorCondition(error) == "service-unavailable"
    assert error["from"] == stanza["to"]
    assert error["id"] == "o1"


@pytest.mark.parametrize("stanza", [
    message(to="bot@echo.example.org", type="error"),
    presence(to="bot@echo.example.org"),
    iq("result", to=ECHO),
])
def test_offlineNotAnswered(harness, alice, stanza):
    alice.send(stanza)
    assert alice.take() == []


def test_offlineAfterDisconnect(harness, alice):
    component = connected(harness)
    component.stream.connectionLost(None)
    alice.send(message(to="bot@echo.example.org", body="x"))
    assert errorCondition(alice.take()[0]) == "service-unavailable"


# -- configuration and reload -------------------------------------------------


def test_componentsKnownToServer(harness):
    assert sorted(harness.server.components) == [ECHO, "gw.example.org"]
    assert ECHO in harness.server.router.domains()


def test_componentDomainMayNotBeHosted():
    with pytest.raises(ConfigError) as info:
        HostHarness([ping], settings={
            "components": {ORG: {"secret": "x"}}})
    assert 'components."example.org"' in str(info.value)


def test_reloadAddsAndRemovesComponents(harness, alice):
    echo = connected(harness)
    gateway = connected(harness, "other", "gw.example.org")
    harness.reconfigure(plugins=["ping"], settings={"components": {
        "gw.example.org": {"secret": "other"},
        "new.example.org": {"secret": "new"}}})
    assert echo.streamError() == "host-gone"
    assert sorted(harness.server.components) == ["gw.example.org",
                                                 "new.example.org"]
    assert not gateway.transport.disconnecting
    alice.send(message(to="bot@echo.example.org", body="x"))
    assert errorCondition(alice.take()[0]) == "remote-server-not-found"
    connected(harness, "new", "new.example.org")


def test_reloadChangesSecret(harness):
    component = connected(harness)
    harness.reconfigure(plugins=["ping"], settings={"components": {
        ECHO: {"secret": "rotated"}}})
    assert not component.transport.disconnecting
    component.stream.connectionLost(None)
    refused = FakeComponent(harness).login()
    harness.advance(10)
    assert refused.streamError() == "not-authorized"
    connected(harness, "rotated")


def test_reloadComponentBecomesHost(harness, alice):
    component = connected(harness)
    harness.reconfigure(hosts={ORG: {"plugins": ["ping"]},
                               ECHO: {"plugins": ["ping"]}})
    assert component.streamError() == "host-gone"
    reply = alice.request(iq("get", (NS_PING, "ping"), to=ECHO))
    assert reply["type"] == "result"


def test_serverStopClosesComponents(harness):
    component = connected(harness)
    harness.server.stop()
    assert component.streamError() == "system-shutdown"
