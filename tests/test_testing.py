"""
Tests for L{jabberd.testing}, the public test helpers: the builders, the
host harness and the in-memory client behave like the real edge.
"""

import pytest
from twisted.internet import defer
from zope.interface.verify import verifyObject

from jabberd import c2s, testing
from jabberd.bus import SESSION_BINDING, SESSION_BOUND, SESSION_CLOSED
from jabberd.config import ConfigError
from jabberd.plugin import PluginFactory
from jabberd.sessions import ISession
from jabberd.storage import MemoryDatabase
from jabberd.storage.contract import BackendMixin
from jabberd.testing import (
    DOMAIN, FakeClient, HarnessClock, HostHarness, errorCondition, iq,
    message, parseXML, presence, toXML)
from jabberd.xml import NS_CLIENT
from plugins.ping import NS_PING, ping
from plugins.register import NS_REGISTER, register


# -- builders -----------------------------------------------------------------


def test_parseXML():
    element = parseXML("<message to='a@example.org' type='chat'>"
                       "<body>hi &amp; bye</body></message>")
    assert (element.uri, element.name) == (NS_CLIENT, "message")
    assert element["to"] == "a@example.org"
    assert str(element.body) == "hi & bye"
    assert element.body.uri == NS_CLIENT


def test_parseXMLNamespace():
    element = parseXML("<query xmlns='jabber:iq:version'/>")
    assert (element.uri, element.name) == ("jabber:iq:version", "query")
    other = parseXML("<x/>", namespace="jabber:server")
    assert other.uri == "jabber:server"


@pytest.mark.parametrize("text", [
    "", "<a>", "<a/><b/>", "<a></b>", "text",
    "<!DOCTYPE a><a/>", "<a><!-- comment --></a>",
])
def test_parseXMLRefuses(text):
    """
    What the server's restricted parser refuses (RFC 6120 section 11.1),
    and anything but exactly one element, is a C{ValueError}.
    """
    with pytest.raises(ValueError):
        parseXML(text)


def test_message():
    element = message(to="bob@example.org", body="hello", type="chat",
                      id="m1", from_="alice@example.org/pc")
    assert element.attributes == {"to": "bob@example.org", "type": "chat",
                                  "id": "m1",
                                  "from": "alice@example.org/pc"}
    assert str(element.body) == "hello"
    assert toXML(element) == (
        "<message to='bob@example.org' type='chat' id='m1' "
        "from='alice@example.org/pc'><body>hello</body></message>")


def test_messageChildren():
    element = message(to="b@example.org", children=[
        "<active xmlns='http://jabber.org/protocol/chatstates'/>",
        ("urn:x", "y")])
    names = [(child.uri, child.name) for child in element.elements()]
    assert names == [("http://jabber.org/protocol/chatstates", "active"),
                     ("urn:x", "y")]


def test_presence():
    assert toXML(presence()) == "<presence/>"
    assert presence(to="a@example.org", type="subscribe").attributes == {
        "to": "a@example.org", "type": "subscribe"}


def test_iq():
    element = iq("get", "<query xmlns='jabber:iq:version'/>", to=DOMAIN)
    assert element["type"] == "get" and element["to"] == DOMAIN
    assert element["id"]
    [query] = element.elements()
    assert query.uri == "jabber:iq:version"
    assert iq("get", (NS_PING, "ping"))["id"] != element["id"]
    assert iq("result", id="x").children == []


def test_errorCondition():
    error = parseXML(
        "<iq type='error'><error type='cancel'>"
        "<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
        "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>no</text>"
        "</error></iq>")
    assert errorCondition(error) == "item-not-found"
    assert errorCondition(message(body="x")) is None


# -- the harness --------------------------------------------------------------


@pytest.fixture
def harness():
    with HostHarness([ping]) as harness:
        yield harness


def test_harnessServer(harness):
    assert list(harness.server.hosts) == [DOMAIN]
    assert harness.host.domain == DOMAIN
    assert isinstance(harness.server.reactor, HarnessClock)
    assert isinstance(harness.server.backend, MemoryDatabase)
    assert list(harness.host.plugins) == ["ping"]
    assert harness.plugin("ping") is harness.host.plugins["ping"][1]


def test_harnessDefaultsToDiscoveredPlugins():
    from jabberd.config import OPTIONS
    [default] = [o.default for o in OPTIONS if o.name == "plugins"]
    with HostHarness() as harness:
        assert "register" in harness.factories
        assert set(harness.host.plugins) == set(default)


def test_harnessPerHostTables():
    with HostHarness([ping, register], hosts={
            "a.example": {"plugins": ["ping"]},
            "b.example": {"plugins": ["register"],
                          "plugin": {"register": {"min_password_length": 3}}},
    }) as harness:
        assert list(harness.hostFor("a.example").plugins) == ["ping"]
        context, _ = harness.hostFor("b.example").plugins["register"]
        assert context.config["min_password_length"] == 3


def test_harnessOptions():
    with HostHarness([register], options={
            "register": {"instructions": "Sign here"}}) as harness:
        assert harness.host.plugins["register"][0].config[
            "instructions"] == "Sign here"


def test_harnessBadOptions():
    with pytest.raises(ConfigError) as info:
        HostHarness([register], options={"register": {"nope": 1}})
    assert "plugin.register.nope" in str(info.value)


def test_harnessSettings():
    with HostHarness([ping], settings={"max_stanza_size": 8192}) as harness:
        assert harness.server.config.maxStanzaSize == 8192


def test_harnessClose():
    harness = HostHarness([ping])
    alice = harness.client("alice@example.org/pc")
    harness.close()
    assert alice.closed == ("system-shutdown", None)
    import os
    assert not os.path.exists(harness.dataDir)


def test_harnessReconfigure(harness):
    alice = harness.client("alice@example.org/pc")
    harness.reconfigure(plugins=[])
    reply = alice.request(iq("get", (NS_PING, "ping"), to=DOMAIN))
    assert errorCondition(reply) == "service-unavailable"
    harness.reconfigure(plugins=["ping"])
    assert alice.request(iq("get", (NS_PING, "ping"), to=DOMAIN))[
        "type"] == "result"
    assert alice.bound and alice.closed is None


def test_harnessClockAndThreads(harness):
    fired = []
    harness.clock.callLater(5, fired.append, "late")
    harness.advance(4)
    assert fired == []
    harness.advance(1)
    assert fired == ["late"]
    from twisted.internet.threads import deferToThreadPool
    clock = harness.clock
    d = deferToThreadPool(clock, clock.getThreadPool(), lambda: 42)
    assert harness.resultOf(d) == 42
    failing = deferToThreadPool(clock, clock.getThreadPool(), lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        harness.resultOf(failing)


def test_resultOfUnfired(harness):
    with pytest.raises(AssertionError):
        harness.resultOf(defer.Deferred())


def test_addUser(harness):
    harness.addUser("alice@example.org", "secret words")
    assert harness.resultOf(harness.host.accounts.userExists("alice"))


def test_registerWorksOnHarness():
    """
    A plugin that derives credentials on the reactor's thread pool runs
    to completion synchronously on the harness clock.
    """
    with HostHarness([register]) as harness:
        harness.addUser("alice@example.org", "old password")
        alice = harness.client("alice@example.org/pc")
        reply = alice.request(iq(
            "set", "<query xmlns='%s'><username>alice</username>"
            "<password>new password</password></query>" % (NS_REGISTER,),
            to="alice@example.org"))
        assert reply["type"] == "result"


# -- the fake client ----------------------------------------------------------


def test_fakeClientProvidesISession(harness):
    verifyObject(ISession, harness.client("alice@example.org/pc"))


def test_clientDefaultResource(harness):
    assert harness.client("alice@example.org").jid.full() == \
        "alice@example.org/test"


def test_clientSignals(harness):
    """
    Connecting fires SESSION_BINDING then SESSION_BOUND; disconnecting
    unbinds and fires SESSION_CLOSED, as the c2s stream does.
    """
    events = []
    bus = harness.host.bus
    bus.hook(SESSION_BINDING, lambda s: events.append(("binding", s)))
    bus.hook(SESSION_BOUND, lambda s: events.append(("bound", s)))
    bus.hook(SESSION_CLOSED, lambda s, reason: events.append(("closed", s)))
    alice = harness.client("alice@example.org/pc", connect=False)
    assert harness.host.sessions.get(alice.jid) is None
    alice.connect()
    assert harness.host.sessions.get(alice.jid) is alice
    alice.disconnect()
    assert harness.host.sessions.get(alice.jid) is None
    assert events == [("binding", alice), ("bound", alice),
                      ("closed", alice)]
    alice.disconnect()
    assert len(events) == 3


def test_clientBindWaitsForPlugins(harness):
    """
    A session is bound only once every SESSION_BINDING handler is ready.
    """
    ready = defer.Deferred()
    harness.host.bus.hook(SESSION_BINDING, lambda session: ready)
    alice = harness.client("alice@example.org/pc", connect=False)
    d = alice.connect()
    assert not alice.bound and harness.host.sessions.get(alice.jid) is None
    ready.callback(None)
    assert alice.bound and harness.resultOf(d) is alice


def test_clientConflict(harness):
    """
    RFC 6120 section 7.7.2.2: the newer session wins.
    """
    old = harness.client("alice@example.org/pc")
    new = harness.client("alice@example.org/pc")
    assert old.closed == ("conflict", "replaced by a new session")
    assert not old.bound
    assert harness.host.sessions.get(new.jid) is new


def test_clientMessages(harness):
    alice = harness.client("alice@example.org/pc")
    bob = harness.client("bob@example.org/laptop")
    sent = alice.send(message(to="bob@example.org", body="hi", type="chat"))
    [received] = bob.take()
    assert received is sent
    assert received["from"] == "alice@example.org/pc"
    assert bob.take() == []


def test_clientSendsText(harness):
    alice = harness.client("alice@example.org/pc")
    bob = harness.client("bob@example.org/laptop")
    alice.send("<message to='bob@example.org/laptop'><body>x</body>"
               "</message>")
    assert str(bob.received[0].body) == "x"


def test_clientBounce(harness):
    alice = harness.client("alice@example.org/pc")
    alice.send(message(to="nobody@example.org", body="?", id="b1"))
    [error] = alice.take()
    assert errorCondition(error) == "service-unavailable"
    assert error["id"] == "b1"


def test_clientOwnBareFrom(harness):
    """
    RFC 6120 section 8.1.2.1: a client may put its bare JID in C{from};
    the full JID is stamped.
    """
    alice = harness.client("alice@example.org/pc")
    bob = harness.client("bob@example.org/laptop")
    alice.send(message(to="bob@example.org", body="x",
                       from_="alice@example.org"))
    assert bob.received[0]["from"] == "alice@example.org/pc"


def test_clientForgedFrom(harness):
    alice = harness.client("alice@example.org/pc")
    bob = harness.client("bob@example.org/laptop")
    alice.send(message(to="bob@example.org", body="x",
                       from_="carol@example.org/x"))
    assert bob.received == []
    assert alice.closed == ("invalid-from", None)
    assert harness.host.sessions.get(alice.jid) is None


def test_clientMalformedStanza(harness):
    alice = harness.client("alice@example.org/pc")
    alice.send(message(to="@@bad@@", body="x", id="j1"))
    [error] = alice.take()
    assert errorCondition(error) == "jid-malformed" and error["id"] == "j1"
    alice.send(parseXML("<iq type='get' id='q1'/>"))
    assert errorCondition(alice.take()[0]) == "bad-request"


def test_clientRequest(harness):
    alice = harness.client("alice@example.org/pc")
    reply = alice.request(iq("get", (NS_PING, "ping"), to=DOMAIN,
                             id="p1"))
    assert reply.attributes == {"type": "result", "id": "p1",
                                "from": DOMAIN,
                                "to": "alice@example.org/pc"}
    assert alice.received == []


def test_clientRequestWithoutTo(harness):
    alice = harness.client("alice@example.org/pc")
    reply = alice.request(iq("get", (NS_PING, "ping")))
    assert reply["type"] == "result" and "from" not in reply.attributes


def test_clientRequestUnanswered(harness):
    alice = harness.client("alice@example.org/pc")
    harness.client("bob@example.org/laptop")
    assert alice.request(iq("get", (NS_PING, "ping"),
                            to="bob@example.org/laptop")) is None


def test_sendWhenDisconnected(harness):
    alice = harness.client("alice@example.org/pc", connect=False)
    with pytest.raises(RuntimeError):
        alice.send(message(to="bob@example.org"))


def test_lastReceived(harness):
    alice = harness.client("alice@example.org/pc")
    harness.advance(30)
    alice.send(presence())
    assert alice.lastReceived == 30


def test_fakeClientUsesTheC2SPath():
    """
    The fake client shares the edge's code rather than copying it.
    """
    assert testing.acceptStanza is c2s.acceptStanza
    assert testing.bindSession is c2s.bindSession
    assert testing.endSession is c2s.endSession
    assert FakeClient.send.__doc__


def test_storeHelpersReexported():
    assert testing.BackendMixin is BackendMixin
    assert set(testing.BACKEND_KINDS) == {"memory", "sqlite", "postgresql"}


class ExampleFactory(PluginFactory):
    """
    A plugin test written as the docs show.
    """

    name = "greeter"
    options = {"greeting": "hello"}

    class instanceClass:
        def __init__(self, context):
            self.context = context
            context.onSignal(SESSION_BOUND, self.sessionBound)

        def sessionBound(self, session):
            self.context.send(message(to=session.jid.full(), type="headline",
                                      from_=self.context.domain,
                                      body=self.context.config["greeting"]))


def test_pluginTestAsDocumented():
    with HostHarness([ExampleFactory()],
                     options={"greeter": {"greeting": "hi"}}) as harness:
        alice = harness.client("alice@example.org/pc")
        [greeting] = alice.take()
        assert (greeting["from"], str(greeting.body)) == (DOMAIN, "hi")
