"""
Tests for stanza delivery through real virtual hosts: L{jabberd.host},
L{jabberd.router}, L{jabberd.delivery}, L{jabberd.context} and plugin
attach/detach (L{jabberd.plugin}), on a real L{jabberd.server.Server} with
memory stores and a fake clock.
"""

import pytest
from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.words.xish import domish
from zope.interface import implementer
from zope.interface.verify import verifyObject

from jabberd.bus import (HOST_STOPPING, SESSION_BOUND, Address, Kind, Phase,
                         Priority)
from jabberd.config import ConfigError, parseConfig
from jabberd.context import POSTAUTH, PREAUTH
from jabberd.errors import NS_STANZAS, StanzaError
from jabberd.jid import parseJID
from jabberd.plugin import IDetachable, PluginFactory
from jabberd.router import Router
from jabberd.server import Server
from jabberd.sessions import ISession, SessionRegistry
from jabberd.stanza import Stanza, makeElement
from jabberd.storage import MemoryDatabase, defaultRegistry
from jabberd.storage.users import IUserStore
from plugins.ping import NS_PING, ping

ORG = "example.org"
NET = "example.net"


@implementer(ISession)
class RecordingSession:
    """
    A bound session that records what the server does to it.
    """

    def __init__(self, jid):
        self.jid = parseJID(jid)
        self.data = {}
        self.encrypted = True
        self.lastReceived = 0.0
        self.delivered = []
        self.closed = []

    def deliver(self, element):
        self.delivered.append(element)

    def close(self, condition=None, text=None):
        self.closed.append((condition, text))


# -- test plugins -------------------------------------------------------------


class Blocker:
    """
    Refuses messages from C{mallory} in the policy band.
    """

    def __init__(self, context):
        self.blocked = []
        context.hookStanza(Kind.MESSAGE, Address.FULL, Phase.INBOUND,
                           self.messageReceived, Priority.POLICY)

    def messageReceived(self, stanza):
        if stanza.sender.user == "mallory":
            self.blocked.append(stanza)
            return True
        return None


class BlockerFactory(PluginFactory):
    name = "blocker"
    instanceClass = Blocker


class Broken:
    """
    Registers something, then fails to start.
    """

    def __init__(self, context):
        context.hookStanza(Kind.MESSAGE, Address.FULL, Phase.INBOUND,
                           lambda stanza: True, Priority.POLICY)
        context.declareFeature("urn:broken")
        raise RuntimeError("cannot start")


class BrokenFactory(PluginFactory):
    name = "broken"
    instanceClass = Broken


@implementer(IDetachable)
class Probe:
    """
    Uses every registration a context offers.
    """

    def __init__(self, context):
        self.context = context
        self.signals = []
        self.timerFired = []
        self.detachedCalls = 0
        self.pending = None
        context.declareFeature("urn:probe")
        context.addStreamFeature(PREAUTH, self.feature)
        context.onSignal(SESSION_BOUND, self.signals.append)
        context.handleIQ("get", "urn:probe", "echo", self.echo, Address.HOST)
        context.handleIQ("get", "urn:probe", "fail", self.fail, Address.HOST)
        context.handleIQ("get", "urn:probe", "crash", self.crash,
                         Address.HOST)
        context.handleIQ("get", "urn:probe", "later", self.later,
                         Address.HOST)
        self.timer = context.callLater(10, self.timerFired.append, True)

    def feature(self, stream):
        return domish.Element(("urn:probe", "probe"))

    def echo(self, stanza):
        answer = domish.Element(("urn:probe", "echo"))
        answer.addContent(self.context.config["greeting"])
        return answer

    def fail(self, stanza):
        raise StanzaError("not-allowed", text="no")

    def crash(self, stanza):
        raise ZeroDivisionError()

    def later(self, stanza):
        self.pending = defer.Deferred()
        return self.pending

    def detached(self):
        self.detachedCalls += 1


class ProbeFactory(PluginFactory):
    name = "probe"
    options = {"greeting": "hello"}
    instanceClass = Probe


FACTORIES = {"ping": ping, "blocker": BlockerFactory(),
             "broken": BrokenFactory(), "probe": ProbeFactory()}


# -- fixtures and helpers -----------------------------------------------------


def configFor(tmp_path, hosts):
    return parseConfig({"data_dir": str(tmp_path), "hosts": hosts},
                       "test.toml")


DEFAULT_HOSTS = {ORG: {"plugins": ["ping"]}, NET: {"plugins": []}}


@pytest.fixture
def server(tmp_path):
    server = Server(configFor(tmp_path, DEFAULT_HOSTS), Clock(),
                    MemoryDatabase(), defaultRegistry(), FACTORIES)
    server.start()
    return server


@pytest.fixture
def org(server):
    return server.hosts[ORG]


@pytest.fixture
def net(server):
    return server.hosts[NET]


def bind(host, jid):
    session = RecordingSession(jid)
    host.sessions.bind(session)
    return session


def send(host, session, element):
    """
    What the c2s edge does with a client's stanza: stamp C{from}, work out
    the recipient, and start the outbound phase on the sender's host.
    """
    element["from"] = session.jid.full()
    to = element.getAttribute("to")
    if to:
        recipient = parseJID(to)
    elif element.name == "presence":
        recipient = None
    else:
        recipient = session.jid.userhostJID()
    host.processOutbound(Stanza(element, session.jid, recipient, session))


def message(to, type=None, id="m1", body="hello"):
    element = makeElement("message", to=to, type=type, id=id)
    element.addElement("body", content=body)
    return element


def iq(type, namespace, name, to=None, id="i1"):
    element = makeElement("iq", to=to, type=type, id=id)
    element.addElement((namespace, name))
    return element


def errorCondition(element):
    """
    The condition of an error stanza.
    """
    assert element["type"] == "error"
    for child in element.error.elements():
        if child.uri == NS_STANZAS and child.name != "text":
            return child.name
    return None


@pytest.fixture
def alice(org):
    return bind(org, "alice@example.org/pc")


@pytest.fixture
def alicePhone(org):
    return bind(org, "alice@example.org/phone")


@pytest.fixture
def bob(org):
    return bind(org, "bob@example.org/laptop")


def test_recordingSessionProvidesISession():
    verifyObject(ISession, RecordingSession("a@example.org/r"))


# -- messages -----------------------------------------------------------------


def test_messageToFullJID(org, alice, alicePhone, bob):
    element = message("alice@example.org/pc", type="chat")
    send(org, bob, element)
    assert alice.delivered == [element]
    assert alicePhone.delivered == []
    assert element["from"] == "bob@example.org/laptop"
    assert bob.delivered == []


def test_messageToUnboundResource(org, alice, alicePhone, bob):
    """
    RFC 6121 section 8.5.3.2.1: no such resource, so as to the bare JID.
    """
    element = message("alice@example.org/gone", type="chat")
    send(org, bob, element)
    assert alice.delivered == [element]
    assert alicePhone.delivered == [element]
    assert bob.delivered == []


def test_messageToBareJID(org, alice, alicePhone, bob):
    element = message("alice@example.org")
    send(org, bob, element)
    assert alice.delivered == [element]
    assert alicePhone.delivered == [element]


@pytest.mark.parametrize("to", ["carol@example.org",
                                "carol@example.org/home"])
@pytest.mark.parametrize("type", [None, "chat", "normal", "groupchat"])
def test_messageWithoutSessionsBounced(org, bob, to, type):
    send(org, bob, message(to, type=type, id="m7"))
    [error] = bob.delivered
    assert error.name == "message"
    assert errorCondition(error) == "service-unavailable"
    assert error["to"] == "bob@example.org/laptop"
    assert error["from"] == to
    assert error["id"] == "m7"


def test_groupchatToBareJIDRefused(org, alice, bob):
    """
    RFC 6121 section 8.5.2.1.1: no groupchat to a bare JID, even when the
    user is online.
    """
    send(org, bob, message("alice@example.org", type="groupchat"))
    assert alice.delivered == []
    assert errorCondition(bob.delivered[0]) == "service-unavailable"


@pytest.mark.parametrize("to", ["carol@example.org",
                                "carol@example.org/home"])
def test_errorMessageNeverBounced(org, bob, to):
    send(org, bob, message(to, type="error"))
    assert bob.delivered == []


@pytest.mark.parametrize("to", ["carol@example.org",
                                "carol@example.org/home"])
def test_headlineDropped(org, bob, to):
    send(org, bob, message(to, type="headline"))
    assert bob.delivered == []


def test_messageToHostRefused(org, bob):
    send(org, bob, message(ORG))
    [error] = bob.delivered
    assert errorCondition(error) == "service-unavailable"
    assert error["from"] == ORG


def test_messageBetweenHostedDomains(org, net, bob):
    dave = bind(net, "dave@example.net/desk")
    element = message("dave@example.net/desk", type="chat")
    send(org, bob, element)
    assert dave.delivered == [element]
    assert bob.delivered == []


def test_bounceAcrossHostedDomains(org, net, bob):
    send(org, bob, message("nobody@example.net"))
    [error] = bob.delivered
    assert errorCondition(error) == "service-unavailable"
    assert error["from"] == "nobody@example.net"


def test_unhostedDomain(org, bob):
    """
    RFC 6120 section 8.3.3.15: no route to the domain.
    """
    send(org, bob, message("someone@elsewhere.example", id="far"))
    [error] = bob.delivered
    assert errorCondition(error) == "remote-server-not-found"
    assert error["from"] == "someone@elsewhere.example"
    assert error["to"] == "bob@example.org/laptop"
    assert error["id"] == "far"


def test_unhostedDomainErrorNotAnswered(org, bob):
    send(org, bob, message("someone@elsewhere.example", type="error"))
    assert bob.delivered == []


# -- presence -----------------------------------------------------------------


def test_presenceToFullJID(org, alice, alicePhone, bob):
    element = makeElement("presence", to="alice@example.org/pc")
    send(org, bob, element)
    assert alice.delivered == [element]
    assert alicePhone.delivered == []


def test_presenceToBareJID(org, alice, alicePhone, bob):
    element = makeElement("presence", to="alice@example.org",
                          type="subscribe")
    send(org, bob, element)
    assert alice.delivered == [element]
    assert alicePhone.delivered == [element]


def test_presenceNeverBounced(org, bob):
    send(org, bob, makeElement("presence", to="carol@example.org/x"))
    send(org, bob, makeElement("presence", to="carol@example.org"))
    send(org, bob, makeElement("presence", to=ORG))
    assert bob.delivered == []


def test_presenceBroadcastNotRouted(org, alice, bob):
    """
    Presence without C{to} is for the presence service, not the router.
    """
    send(org, bob, makeElement("presence"))
    assert alice.delivered == [] and bob.delivered == []


# -- IQ -----------------------------------------------------------------------


def test_unknownIQToHost(org, bob):
    send(org, bob, iq("get", "jabber:iq:nothing", "query", to=ORG, id="u1"))
    [error] = bob.delivered
    assert error.name == "iq"
    assert errorCondition(error) == "service-unavailable"
    assert (error["from"], error["to"], error["id"]) == \
        (ORG, "bob@example.org/laptop", "u1")


def test_unknownIQToOwnBareJID(org, bob):
    send(org, bob, iq("set", "jabber:iq:nothing", "query",
                      to="bob@example.org"))
    assert errorCondition(bob.delivered[0]) == "service-unavailable"


def test_pingHost(org, bob):
    """
    XEP-0199 section 4.2: the pong is an empty result.
    """
    send(org, bob, iq("get", NS_PING, "ping", to=ORG, id="p1"))
    [pong] = bob.delivered
    assert pong.name == "iq"
    assert pong.attributes == {"type": "result", "id": "p1", "from": ORG,
                               "to": "bob@example.org/laptop"}
    assert pong.children == []


def test_pingOwnBareJID(org, bob):
    send(org, bob, iq("get", NS_PING, "ping", to="bob@example.org"))
    [pong] = bob.delivered
    assert pong["type"] == "result"
    assert pong["from"] == "bob@example.org"


def test_pingHostWithoutPlugin(org, net):
    dave = bind(net, "dave@example.net/desk")
    send(net, dave, iq("get", NS_PING, "ping", to=NET))
    assert errorCondition(dave.delivered[0]) == "service-unavailable"


def test_pingOtherHostedDomain(org, net):
    """
    A ping to another domain we host is answered by that domain.
    """
    dave = bind(net, "dave@example.net/desk")
    send(net, dave, iq("get", NS_PING, "ping", to=ORG))
    [pong] = dave.delivered
    assert pong["type"] == "result" and pong["from"] == ORG


def test_pingWithoutTo(org, bob):
    """
    RFC 6120 section 10.3.3: no C{to} means the account, handled by the
    server; the reply has no C{from}.
    """
    send(org, bob, iq("get", NS_PING, "ping", id="n1"))
    [pong] = bob.delivered
    assert pong["type"] == "result" and pong["id"] == "n1"
    assert "from" not in pong.attributes


def test_unknownIQWithoutTo(org, bob):
    send(org, bob, iq("get", "jabber:iq:nothing", "query", id="n2"))
    [error] = bob.delivered
    assert errorCondition(error) == "service-unavailable"


def test_iqToBoundFullJID(org, alice, alicePhone, bob):
    element = iq("get", "jabber:iq:version", "query",
                 to="alice@example.org/phone")
    send(org, bob, element)
    assert alicePhone.delivered == [element]
    assert alice.delivered == [] and bob.delivered == []


def test_iqToUnboundFullJID(org, alice, bob):
    """
    RFC 6121 section 8.5.3.2.2: an IQ request to a resource that does not
    exist is refused, not sent to another resource.
    """
    send(org, bob, iq("get", "jabber:iq:version", "query",
                      to="alice@example.org/gone", id="v1"))
    assert alice.delivered == []
    [error] = bob.delivered
    assert errorCondition(error) == "service-unavailable"
    assert error["from"] == "alice@example.org/gone"


@pytest.mark.parametrize("type", ["result", "error"])
def test_iqResponseToUnboundFullJIDDropped(org, alice, bob, type):
    element = makeElement("iq", to="alice@example.org/gone", type=type,
                          id="v1")
    send(org, bob, element)
    assert alice.delivered == [] and bob.delivered == []


def test_unexpectedResponseToHostDropped(org, bob):
    send(org, bob, makeElement("iq", to=ORG, type="result", id="nothing"))
    assert bob.delivered == []


# -- policy and plugins -------------------------------------------------------


def test_policyHookClaims(org, alice, bob):
    assert org.attachPlugin(FACTORIES["blocker"], {})
    mallory = bind(org, "mallory@example.org/x")
    send(org, mallory, message("alice@example.org/pc", type="chat"))
    assert alice.delivered == []
    assert mallory.delivered == []
    [blocked] = org.plugins["blocker"][1].blocked
    assert blocked.sender == mallory.jid
    send(org, bob, message("alice@example.org/pc", type="chat"))
    assert len(alice.delivered) == 1


def test_policyHookDetached(org, alice):
    org.attachPlugin(FACTORIES["blocker"], {})
    mallory = bind(org, "mallory@example.org/x")
    org.detachPlugin("blocker")
    assert "blocker" not in org.plugins
    send(org, mallory, message("alice@example.org/pc"))
    assert len(alice.delivered) == 1


def test_pluginDetachRemovesHooks(org, bob):
    assert NS_PING in org.features
    org.detachPlugin("ping")
    assert NS_PING not in org.features
    send(org, bob, iq("get", NS_PING, "ping", to=ORG))
    assert errorCondition(bob.delivered[0]) == "service-unavailable"


def test_pluginReattach(org, bob):
    org.detachPlugin("ping")
    org.attachPlugin(ping, {})
    send(org, bob, iq("get", NS_PING, "ping", to=ORG))
    assert bob.delivered[0]["type"] == "result"


def test_brokenPluginLeftOff(tmp_path):
    """
    A plugin that raises while attaching is left off, whatever it had
    registered is undone, and the host carries on.
    """
    config = configFor(tmp_path, {ORG: {"plugins": ["broken", "ping"]}})
    server = Server(config, Clock(), MemoryDatabase(), defaultRegistry(),
                    FACTORIES)
    server.start()
    host = server.hosts[ORG]
    assert list(host.plugins) == ["ping"]
    assert "urn:broken" not in host.features
    alice = bind(host, "alice@example.org/pc")
    bob = bind(host, "bob@example.org/laptop")
    send(host, bob, message("alice@example.org/pc"))
    assert len(alice.delivered) == 1
    send(host, bob, iq("get", NS_PING, "ping", to=ORG))
    assert bob.delivered[0]["type"] == "result"


def test_attachPluginResult(org):
    assert org.attachPlugin(FACTORIES["broken"], {}) is False
    assert org.attachPlugin(FACTORIES["blocker"], {}) is True


# -- the host context ---------------------------------------------------------


@pytest.fixture
def probe(org):
    org.attachPlugin(FACTORIES["probe"], {"greeting": "bonjour"})
    return org.plugins["probe"][1]


def test_contextAttributes(org, probe):
    context = probe.context
    assert context.name == "probe"
    assert context.domain == ORG
    assert context.jid == parseJID(ORG)
    assert context.config == {"greeting": "bonjour"}
    assert context.sessions is org.sessions
    assert context.reactor is org.reactor
    assert IUserStore.providedBy(context.accounts)
    assert IUserStore.providedBy(context.store(IUserStore))


def test_contextIQResult(org, probe, bob):
    send(org, bob, iq("get", "urn:probe", "echo", to=ORG, id="e1"))
    [reply] = bob.delivered
    assert reply["type"] == "result" and reply["id"] == "e1"
    echo = reply.firstChildElement()
    assert (echo.uri, echo.name, str(echo)) == ("urn:probe", "echo",
                                                "bonjour")


def test_contextIQStanzaError(org, probe, bob):
    send(org, bob, iq("get", "urn:probe", "fail", to=ORG))
    [reply] = bob.delivered
    assert errorCondition(reply) == "not-allowed"
    assert str(reply.error.text) == "no"


def test_contextIQCrash(org, probe, bob):
    send(org, bob, iq("get", "urn:probe", "crash", to=ORG))
    assert errorCondition(bob.delivered[0]) == "internal-server-error"


def test_contextIQDeferred(org, probe, bob):
    send(org, bob, iq("get", "urn:probe", "later", to=ORG, id="d1"))
    assert bob.delivered == []
    probe.pending.callback(None)
    [reply] = bob.delivered
    assert reply["type"] == "result" and reply["id"] == "d1"


def test_contextIQDeferredError(org, probe, bob):
    send(org, bob, iq("get", "urn:probe", "later", to=ORG))
    probe.pending.errback(StanzaError("item-not-found"))
    assert errorCondition(bob.delivered[0]) == "item-not-found"


def test_contextIQOnlyForItsType(org, probe, bob):
    send(org, bob, iq("set", "urn:probe", "echo", to=ORG))
    assert errorCondition(bob.delivered[0]) == "service-unavailable"


def test_contextFeaturesAndSignals(org, probe, alice):
    assert "urn:probe" in org.features
    [feature] = org.streamFeatures[PREAUTH]
    assert feature(None).name == "probe"
    assert org.streamFeatures[POSTAUTH] == []
    org.bus.notify(SESSION_BOUND, alice)
    assert probe.signals == [alice]


def test_contextTimer(org, probe):
    org.reactor.advance(10)
    assert probe.timerFired == [True]
    org.detachPlugin("probe")


def test_contextDetachUndoesEverything(org, probe, alice, bob):
    org.detachPlugin("probe")
    assert probe.detachedCalls == 1
    assert "urn:probe" not in org.features
    assert org.streamFeatures[PREAUTH] == []
    assert not probe.timer.active()
    org.reactor.advance(20)
    assert probe.timerFired == []
    org.bus.notify(SESSION_BOUND, alice)
    assert probe.signals == []
    send(org, bob, iq("get", "urn:probe", "echo", to=ORG))
    assert errorCondition(bob.delivered[0]) == "service-unavailable"


def test_contextSend(org, probe, alice):
    element = message("alice@example.org/pc", type="headline")
    element["from"] = ORG
    probe.context.send(element)
    assert alice.delivered == [element]


def test_hostStop(org, probe, alice, bob):
    stopping = []
    org.bus.hook(HOST_STOPPING, stopping.append)
    org.stop()
    assert stopping == [org]
    assert alice.closed == [("system-shutdown", None)]
    assert bob.closed == [("system-shutdown", None)]
    assert org.plugins == {}
    assert probe.detachedCalls == 1


# -- host.sendIQ --------------------------------------------------------------


def serverPing(host, to):
    element = makeElement("iq", type="get", to=to)
    element["from"] = host.domain
    element.addElement((NS_PING, "ping"))
    return host.sendIQ(element, timeout=30)


def answer(host, session, request, type="result", condition=None):
    reply = makeElement("iq", type=type, id=request["id"], to=request["from"])
    if condition is not None:
        reply.addChild(StanzaError(condition).toElement())
    send(host, session, reply)


def test_sendIQResult(org, alice):
    d = serverPing(org, "alice@example.org/pc")
    [request] = alice.delivered
    assert request["id"] and request["from"] == ORG
    results = []
    d.addCallback(results.append)
    answer(org, alice, request)
    [response] = results
    assert response.type == "result"
    assert response.sender == alice.jid


def test_sendIQError(org, alice):
    d = serverPing(org, "alice@example.org/pc")
    failures = []
    d.addErrback(failures.append)
    answer(org, alice, alice.delivered[0], "error", "feature-not-implemented")
    [failure] = failures
    assert failure.check(StanzaError)
    assert failure.value.condition == "feature-not-implemented"
    assert failure.value.type == "cancel"


def test_sendIQTimeout(org, alice):
    d = serverPing(org, "alice@example.org/pc")
    failures = []
    d.addErrback(failures.append)
    org.reactor.advance(29)
    assert failures == []
    org.reactor.advance(1)
    [failure] = failures
    assert failure.check(defer.TimeoutError)
    answer(org, alice, alice.delivered[0])
    assert len(failures) == 1


def test_sendIQResponseFromWrongSender(org, alice, bob):
    """
    Only the entity asked may answer: a response with the right id from
    someone else does not fire the request.
    """
    d = serverPing(org, "alice@example.org/pc")
    results = []
    d.addBoth(results.append)
    answer(org, bob, alice.delivered[0])
    assert results == []
    answer(org, alice, alice.delivered[0])
    assert len(results) == 1


def test_sendIQIDsDiffer(org, alice):
    serverPing(org, "alice@example.org/pc")
    serverPing(org, "alice@example.org/pc")
    first, second = alice.delivered
    assert first["id"] != second["id"]


def test_sendIQToUnboundResource(org):
    d = serverPing(org, "alice@example.org/gone")
    failures = []
    d.addErrback(failures.append)
    [failure] = failures
    assert failure.value.condition == "service-unavailable"


def test_sendIQToUnpreparedJID(org, alice):
    d = serverPing(org, "Alice@Example.org/pc")
    results = []
    d.addBoth(results.append)
    answer(org, alice, alice.delivered[0])
    assert len(results) == 1 and results[0].type == "result"


# -- the router ---------------------------------------------------------------


def test_router():
    unroutable, received = [], []

    class Target:
        def receive(self, stanza):
            received.append(stanza)

    router = Router(unroutable.append)
    target = Target()
    router.addRoute(ORG, target)
    assert router.targetFor(ORG) is target
    assert router.targetFor(NET) is None
    toOrg = Stanza(message("a@example.org"), parseJID("b@example.org/r"),
                   parseJID("a@example.org"))
    toNet = Stanza(message("a@example.net"), parseJID("b@example.org/r"),
                   parseJID("a@example.net"))
    router.route(toOrg)
    router.route(toNet)
    assert received == [toOrg] and unroutable == [toNet]
    router.removeRoute(ORG)
    router.removeRoute(NET)
    router.route(toOrg)
    assert unroutable == [toNet, toOrg]


# -- the session registry -----------------------------------------------------


def test_sessionRegistry():
    registry = SessionRegistry()
    first = RecordingSession("alice@example.org/pc")
    phone = RecordingSession("alice@example.org/phone")
    assert registry.bind(first) is None
    registry.bind(phone)
    assert registry.get(parseJID("alice@example.org/pc")) is first
    assert registry.get(parseJID("bob@example.org/pc")) is None
    assert set(registry.sessionsOf("alice").values()) == {first, phone}
    assert list(registry.users()) == ["alice"]
    assert len(registry) == 2 and set(registry) == {first, phone}


def test_sessionRegistryNewerWins():
    """
    RFC 6120 section 7.7.2.2: the newer session takes the resource, and
    unbinding the old one later leaves the new one bound.
    """
    registry = SessionRegistry()
    old = RecordingSession("alice@example.org/pc")
    new = RecordingSession("alice@example.org/pc")
    registry.bind(old)
    assert registry.bind(new) is old
    registry.unbind(old)
    assert registry.get(new.jid) is new
    registry.unbind(new)
    assert len(registry) == 0 and list(registry.users()) == []
    registry.unbind(new)


# -- reload -------------------------------------------------------------------


def test_reloadAddsAndRemovesHosts(server, tmp_path, org, net, bob):
    dave = bind(net, "dave@example.net/desk")
    server.reload(configFor(tmp_path, {ORG: {"plugins": ["ping"]},
                                       "example.com": {"plugins": ["ping"]}}))
    assert sorted(server.hosts) == ["example.com", ORG]
    assert server.hosts[ORG] is org
    assert dave.closed == [("host-gone", None)]
    assert bob.closed == []
    send(org, bob, message("dave@example.net/desk"))
    assert dave.delivered == []
    assert errorCondition(bob.delivered[-1]) == "remote-server-not-found"
    erin = bind(server.hosts["example.com"], "erin@example.com/x")
    element = message("erin@example.com/x")
    send(org, bob, element)
    assert erin.delivered == [element]


def test_reloadSwitchesPlugins(server, tmp_path, org, bob):
    pingInstance = org.plugins["ping"][1]
    server.reload(configFor(tmp_path, {
        ORG: {"plugins": ["ping", "probe"]}, NET: {"plugins": []}}))
    assert org.plugins["ping"][1] is pingInstance
    probe = org.plugins["probe"][1]
    assert probe.context.config == {"greeting": "hello"}
    server.reload(configFor(tmp_path, {
        ORG: {"plugins": ["probe"],
              "plugin": {"probe": {"greeting": "salut"}}},
        NET: {"plugins": []}}))
    assert "ping" not in org.plugins
    assert probe.detachedCalls == 1
    assert org.plugins["probe"][1].context.config == {"greeting": "salut"}
    send(org, bob, iq("get", NS_PING, "ping", to=ORG))
    assert errorCondition(bob.delivered[0]) == "service-unavailable"


def test_reloadRefusedWhole(server, tmp_path, org, net):
    with pytest.raises(ConfigError):
        server.reload(configFor(tmp_path, {
            ORG: {"plugins": ["ping"]}, "example.com": {},
            NET: {"plugins": ["nonexistent"]}}))
    assert sorted(server.hosts) == [NET, ORG]
    assert server.hosts[NET] is net
    assert "ping" in org.plugins
