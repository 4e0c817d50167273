"""
Tests for L{plugins.message}: RFC 6121 section 8.5 message delivery and
XEP-0160 offline messages, on a real server (L{jabberd.testing}).

Presence comes from L{PriorityPresence}, a small plugin that provides
L{IPresence} from the clients' own presence broadcasts, so each test sets
exactly the availability and priorities it needs.  The last tests run the
plugin on SQLite with the real reactor, where storage is asynchronous, to
check ordering and exactly-once delivery while database work is pending.
"""

import pytest
from twisted.internet import defer, task
from twisted.trial.unittest import TestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from jabberd.bus import SESSION_CLOSED, Address, Kind, Phase
from jabberd.config import ConfigError, parseConfig
from jabberd.im import SESSION_AVAILABLE, IPresence
from jabberd.plugin import PluginConfigError, PluginFactory
from jabberd.server import Server
from jabberd.storage import defaultRegistry
from jabberd.storage.offline import IOfflineStore
from jabberd.testing import (BackendMixin, FakeClient, HostHarness,
                             errorCondition, message, parseXML, presence,
                             temporaryDirectory)
from plugins.message import (FEATURE_OFFLINE, NS_DELAY, delayStamp,
                             message as messagePlugin, onlyChatStates)

ORG = "example.org"
NET = "example.net"
NOW = 1700000000.25


@implementer(IPresence)
class PriorityPresence:
    """
    Just enough presence for message routing: a session is available
    after its first presence broadcast, with that broadcast's priority,
    until it sends unavailable presence or goes away.
    """

    def __init__(self, context):
        self.context = context
        self.lastUnavailable = {}
        self.priorities = {}
        context.provide(IPresence, self)
        context.hookStanza(Kind.PRESENCE, Address.NONE, Phase.OUTBOUND,
                           self.broadcastReceived)
        context.onSignal(SESSION_CLOSED, self.sessionClosed)

    def availableSessions(self, user):
        return [session for session in
                self.context.sessions.sessionsOf(user).values()
                if session in self.priorities]

    def priorityOf(self, session):
        return self.priorities[session]

    def broadcastReceived(self, stanza):
        session = stanza.origin
        if stanza.type == "unavailable":
            self.priorities.pop(session, None)
            return True
        initial = session not in self.priorities
        child = stanza.element.priority
        self.priorities[session] = int(str(child)) if child else 0
        if initial:
            self.context.notify(SESSION_AVAILABLE, session)
        return True

    def sessionClosed(self, session, reason):
        self.priorities.pop(session, None)


class PriorityPresenceFactory(PluginFactory):
    name = "presence"
    instanceClass = PriorityPresence


FACTORIES = [PriorityPresenceFactory(), messagePlugin]


def makeHarness(options=None, **kwargs):
    harness = HostHarness(FACTORIES, options=options, **kwargs)
    harness.advance(NOW)
    for user in ("alice", "bob"):
        harness.addUser("%s@%s" % (user, ORG))
    return harness


@pytest.fixture
def harness():
    with makeHarness() as harness:
        yield harness


@pytest.fixture
def bob(harness):
    """
    The sender, available with the default priority.
    """
    return online(harness, "bob@example.org/laptop")


def online(harness, jid, priority=None):
    """
    A client that bound C{jid} and sent initial presence.
    """
    client = harness.client(jid)
    children = [] if priority is None else [
        "<priority>%d</priority>" % (priority,)]
    client.send(presence(children=children))
    return client


def chat(to, body="hello", type="chat", id="m1"):
    return message(to=to, body=body, type=type, id=id)


def bodies(client):
    """
    The bodies of the messages a client received since last asked.
    """
    return [str(element.body) for element in client.take()]


def storedCount(harness, user="alice"):
    store = harness.host.plugins["message"][1].offline
    return harness.resultOf(store.count(user))


def assertBounced(client, id="m1", sender=None):
    [error] = client.take()
    assert error.name == "message"
    assert errorCondition(error) == "service-unavailable"
    assert error["id"] == id
    if sender is not None:
        assert error["from"] == sender
    return error


def test_testPresenceProvidesIPresence(harness):
    verifyObject(IPresence, harness.host.services[IPresence])


# -- to a bare JID: RFC 6121 section 8.5.2.1.1 --------------------------------


@pytest.mark.parametrize("type", ["chat", "normal", None])
def test_bareJIDHighestPriority(harness, bob, type):
    """
    C{chat} and C{normal} go to the resource of highest priority only.
    """
    high = online(harness, "alice@example.org/high", 5)
    low = online(harness, "alice@example.org/low", 1)
    sent = bob.send(chat("alice@example.org", type=type))
    assert high.take() == [sent]
    assert low.take() == [] and bob.take() == []


def test_bareJIDTieGoesToAll(harness, bob):
    first = online(harness, "alice@example.org/one", 3)
    second = online(harness, "alice@example.org/two", 3)
    third = online(harness, "alice@example.org/three", 2)
    bob.send(chat("alice@example.org"))
    assert bodies(first) == ["hello"] and bodies(second) == ["hello"]
    assert third.take() == []


def test_bareJIDUnknownTypeIsNormal(harness, bob):
    """
    RFC 6121 section 5.2.2: an unknown type is handled as C{normal}.
    """
    high = online(harness, "alice@example.org/high", 5)
    low = online(harness, "alice@example.org/low", 1)
    bob.send(chat("alice@example.org", type="strange"))
    assert bodies(high) == ["hello"] and low.take() == []


def test_bareJIDNeverToNegativePriority(harness, bob):
    """
    A resource of negative priority gets no message to the bare JID, of
    any type, even when it is the only one.
    """
    shy = online(harness, "alice@example.org/shy", -1)
    for type in ("chat", "normal", "headline"):
        bob.send(chat("alice@example.org", type=type))
    assert shy.take() == [] and bob.take() == []
    assert storedCount(harness) == 2


def test_headlineToAllNonNegative(harness, bob):
    high = online(harness, "alice@example.org/high", 5)
    zero = online(harness, "alice@example.org/zero", 0)
    shy = online(harness, "alice@example.org/shy", -5)
    sent = bob.send(chat("alice@example.org", type="headline"))
    assert high.take() == [sent] and zero.take() == [sent]
    assert shy.take() == []


def test_groupchatToBareJIDRefused(harness, bob):
    alice = online(harness, "alice@example.org/pc")
    bob.send(chat("alice@example.org", type="groupchat", id="g1"))
    assert alice.take() == []
    error = assertBounced(bob, "g1", "alice@example.org")
    assert error["to"] == "bob@example.org/laptop"


def test_errorToBareJIDIgnored(harness, bob):
    alice = online(harness, "alice@example.org/pc")
    bob.send(chat("alice@example.org", type="error"))
    assert alice.take() == [] and bob.take() == []
    assert storedCount(harness) == 0


def test_connectedResourceIsNotAvailable(harness, bob):
    """
    A resource that bound but sent no presence yet is not available: a
    message to the bare JID is stored, not delivered to it.
    """
    quiet = harness.client("alice@example.org/quiet")
    bob.send(chat("alice@example.org"))
    assert quiet.take() == [] and bob.take() == []
    assert storedCount(harness) == 1


def test_unavailableResourceNotChosen(harness, bob):
    high = online(harness, "alice@example.org/high", 5)
    low = online(harness, "alice@example.org/low", 1)
    high.send(presence(type="unavailable"))
    bob.send(chat("alice@example.org"))
    assert high.take() == [] and bodies(low) == ["hello"]


# -- to a full JID: RFC 6121 section 8.5.3 ------------------------------------


@pytest.mark.parametrize("type", ["chat", "normal", "headline", "groupchat",
                                  "error"])
def test_fullJIDMatches(harness, bob, type):
    """
    Section 8.5.3.1: a connected resource gets what is sent to its full
    JID, whatever the type, even before presence and at negative priority.
    """
    quiet = harness.client("alice@example.org/quiet")
    shy = online(harness, "alice@example.org/shy", -3)
    high = online(harness, "alice@example.org/high", 9)
    first = bob.send(chat("alice@example.org/quiet", type=type))
    second = bob.send(chat("alice@example.org/shy", type=type))
    assert quiet.take() == [first] and shy.take() == [second]
    assert high.take() == [] and bob.take() == []


def test_fullJIDNoMatchChatAsBare(harness, bob):
    """
    Section 8.5.3.2.1: C{chat} to a resource that does not exist is
    handled as to the bare JID.
    """
    high = online(harness, "alice@example.org/high", 5)
    low = online(harness, "alice@example.org/low", 1)
    sent = bob.send(chat("alice@example.org/gone"))
    assert high.take() == [sent] and low.take() == []
    assert sent["to"] == "alice@example.org/gone"


@pytest.mark.parametrize("type", ["normal", "headline", "groupchat"])
def test_fullJIDNoMatchRefused(harness, bob, type):
    """
    Section 8.5.3.2.1: C{normal}, C{groupchat} and C{headline} to a
    resource that does not exist get C{service-unavailable}.
    """
    alice = online(harness, "alice@example.org/pc")
    bob.send(chat("alice@example.org/gone", type=type, id="f1"))
    assert alice.take() == []
    assertBounced(bob, "f1", "alice@example.org/gone")
    assert storedCount(harness) == 0


def test_fullJIDNoMatchErrorIgnored(harness, bob):
    alice = online(harness, "alice@example.org/pc")
    bob.send(chat("alice@example.org/gone", type="error"))
    assert alice.take() == [] and bob.take() == []


def test_fullJIDNoMatchChatStored(harness, bob):
    bob.send(chat("alice@example.org/gone", body="later"))
    assert bob.take() == []
    assert storedCount(harness) == 1
    alice = online(harness, "alice@example.org/pc")
    [stored] = alice.take()
    assert str(stored.body) == "later"
    assert stored["to"] == "alice@example.org/gone"


# -- unknown users: section 8.5.1 ---------------------------------------------


@pytest.mark.parametrize("to", ["nobody@example.org", "nobody@example.org/x"])
@pytest.mark.parametrize("type", ["chat", "normal", "groupchat"])
def test_unknownUserBounced(harness, bob, to, type):
    bob.send(chat(to, type=type, id="u1"))
    assertBounced(bob, "u1", to)
    assert storedCount(harness, "nobody") == 0


@pytest.mark.parametrize("to, type", [
    ("nobody@example.org", "headline"), ("nobody@example.org", "error"),
    ("nobody@example.org/x", "error")])
def test_unknownUserSilent(harness, bob, to, type):
    bob.send(chat(to, type=type))
    assert bob.take() == []


def test_unknownUserHeadlineToFullJID(harness, bob):
    """
    A C{headline} to a full JID without a session is refused whether or
    not the account exists (section 8.5.3.2.1).
    """
    bob.send(chat("nobody@example.org/x", type="headline", id="h1"))
    assertBounced(bob, "h1", "nobody@example.org/x")


# -- offline storage: XEP-0160 ------------------------------------------------


def test_offlineDeliveredOnInitialPresence(harness, bob):
    """
    Messages for a user with no available resource are kept, and given in
    order to the first resource that sends initial presence, each with a
    delay stamp from the server; then they are gone.
    """
    bob.send(chat("alice@example.org", body="one", id="o1"))
    harness.advance(1.5)
    bob.send(chat("alice@example.org", body="two", type="normal", id="o2"))
    assert bob.take() == []
    assert storedCount(harness) == 2
    alice = harness.client("alice@example.org/pc")
    assert alice.take() == []
    alice.send(presence())
    first, second = alice.take()
    assert (str(first.body), first["id"], first["from"]) == (
        "one", "o1", "bob@example.org/laptop")
    assert (str(second.body), second["id"]) == ("two", "o2")
    assert first.delay.uri == NS_DELAY
    assert first.delay.attributes == {"from": ORG,
                                      "stamp": "2023-11-14T22:13:20.250Z"}
    assert second.delay["stamp"] == "2023-11-14T22:13:21.750Z"
    assert storedCount(harness) == 0


def test_offlineDeliveredOnlyOnce(harness, bob):
    """
    The backlog goes to the first available resource only; neither a
    second resource nor a later login gets it again.
    """
    bob.send(chat("alice@example.org", body="once"))
    pc = online(harness, "alice@example.org/pc")
    phone = online(harness, "alice@example.org/phone")
    assert bodies(pc) == ["once"] and phone.take() == []
    pc.disconnect()
    phone.disconnect()
    again = online(harness, "alice@example.org/pc")
    assert again.take() == []


def test_offlineNotToNegativePriority(harness, bob):
    """
    A resource that comes online with a negative priority does not take
    the backlog; the next one with a non-negative priority does.
    """
    bob.send(chat("alice@example.org", body="wait"))
    shy = online(harness, "alice@example.org/shy", -1)
    assert shy.take() == []
    assert storedCount(harness) == 1
    pc = online(harness, "alice@example.org/pc", 0)
    assert bodies(pc) == ["wait"] and shy.take() == []


def test_offlinePayloadKept(harness, bob):
    """
    The stored stanza comes back as it was sent, extensions, language and
    escaped text included.
    """
    sent = parseXML("<message to='alice@example.org' type='chat' id='x1' "
                    "xml:lang='de'><body>Grüße &lt;&amp;&gt;</body>"
                    "<thread>t-1</thread><x xmlns='urn:example:ext' a='b'>"
                    "<y/></x></message>")
    bob.send(sent)
    alice = online(harness, "alice@example.org/pc")
    [got] = alice.take()
    assert str(got.body) == "Grüße <&>"
    assert str(got.thread) == "t-1"
    assert got.attributes[("http://www.w3.org/XML/1998/namespace",
                           "lang")] == "de"
    [ext] = [c for c in got.elements() if c.uri == "urn:example:ext"]
    assert ext["a"] == "b" and ext.firstChildElement().name == "y"


def test_headlineNotStored(harness, bob):
    bob.send(chat("alice@example.org", type="headline"))
    assert bob.take() == []
    assert storedCount(harness) == 0


def test_chatStatesOnlyNotStored(harness, bob):
    """
    XEP-0160 section 3: a chat message carrying only a chat state is not
    stored, so the sender learns it was not delivered.
    """
    bob.send(message(to="alice@example.org", type="chat", id="cs",
                     children=["<composing xmlns='http://jabber.org/"
                               "protocol/chatstates'/>"]))
    assertBounced(bob, "cs")
    assert storedCount(harness) == 0
    bob.send(message(to="alice@example.org", type="chat", body="hi",
                     children=["<active xmlns='http://jabber.org/"
                               "protocol/chatstates'/>"]))
    assert bob.take() == [] and storedCount(harness) == 1


def test_onlyChatStates():
    assert onlyChatStates(parseXML(
        "<message><gone xmlns='http://jabber.org/protocol/chatstates'/>"
        "</message>"))
    assert not onlyChatStates(parseXML("<message/>"))
    assert not onlyChatStates(parseXML("<message><body>x</body></message>"))


def test_quota():
    """
    A full quota refuses the next message with C{service-unavailable};
    once delivered, the messages free their places.
    """
    with makeHarness({"message": {"max_offline_messages": 2}}) as harness:
        bob = online(harness, "bob@example.org/laptop")
        for n in range(3):
            bob.send(chat("alice@example.org", body=str(n), id="q%d" % n))
        error = assertBounced(bob, "q2", "alice@example.org")
        assert "full" in str(error.error.text)
        alice = online(harness, "alice@example.org/pc")
        assert bodies(alice) == ["0", "1"]
        alice.disconnect()
        bob.send(chat("alice@example.org", body="3"))
        assert bob.take() == [] and storedCount(harness) == 1


def test_storageOff():
    """
    With C{max_offline_messages = 0} nothing is stored: the sender gets
    C{service-unavailable} (RFC 6121 section 8.5.2.2.1) and the feature is
    not announced.
    """
    with makeHarness({"message": {"max_offline_messages": 0}}) as harness:
        assert FEATURE_OFFLINE not in harness.host.features
        bob = online(harness, "bob@example.org/laptop")
        bob.send(chat("alice@example.org", id="z1"))
        assertBounced(bob, "z1")
        assert storedCount(harness) == 0


def test_featureAnnounced(harness):
    assert FEATURE_OFFLINE in harness.host.features


def test_delayStamp():
    assert delayStamp(0) == "1970-01-01T00:00:00.000Z"
    assert delayStamp(NOW + 0.0005) == "2023-11-14T22:13:20.250Z"


# -- hosts, plugin life cycle and options -------------------------------------


def test_acrossHostedDomains():
    """
    A message from another hosted domain follows the recipient host's
    rules.
    """
    with makeHarness(domains=(ORG, NET)) as harness:
        harness.addUser("dave@example.net")
        bob = online(harness, "bob@example.org/laptop")
        high = online(harness, "dave@example.net/high", 2)
        low = online(harness, "dave@example.net/low", 1)
        bob.send(chat("dave@example.net"))
        assert bodies(high) == ["hello"] and low.take() == []
        high.disconnect()
        low.disconnect()
        bob.send(chat("dave@example.net", body="stored"))
        assert bob.take() == []
        assert bodies(online(harness, "dave@example.net/x")) == ["stored"]


def test_detachRestoresFallback(harness, bob):
    """
    Without the plugin, the core delivers to every session again and
    offline delivery stops.
    """
    high = online(harness, "alice@example.org/high", 5)
    low = online(harness, "alice@example.org/low", 1)
    harness.host.detachPlugin("message")
    bob.send(chat("alice@example.org"))
    assert bodies(high) == ["hello"] and bodies(low) == ["hello"]
    assert FEATURE_OFFLINE not in harness.host.features


def test_options():
    assert messagePlugin.parseConfig({}) == {"max_offline_messages": 100}
    assert messagePlugin.parseConfig({"max_offline_messages": 0}) == {
        "max_offline_messages": 0}
    with pytest.raises(PluginConfigError) as info:
        messagePlugin.parseConfig({"max_offline_messages": -1})
    assert info.value.key == "max_offline_messages"
    with pytest.raises(PluginConfigError):
        messagePlugin.parseConfig({"max_offline_messages": "many"})
    with pytest.raises(PluginConfigError):
        messagePlugin.parseConfig({"max_offline": 5})


def test_requiresPresence(tmp_path):
    """
    The plugin needs the presence service on its host.
    """
    config = parseConfig({"data_dir": str(tmp_path),
                          "hosts": {ORG: {"plugins": ["message"]}}}, "t")
    server = Server(config, task.Clock(), None, defaultRegistry(),
                    {"message": messagePlugin})
    with pytest.raises(ConfigError) as info:
        server.start()
    assert "presence" in str(info.value)


# -- with the real roster and presence plugins --------------------------------


@pytest.fixture
def realHarness():
    from plugins.presence import presence as presencePlugin
    from plugins.roster import roster
    with HostHarness([roster, presencePlugin, messagePlugin]) as harness:
        harness.advance(NOW)
        for user in ("alice", "bob"):
            harness.addUser("%s@%s" % (user, ORG))
        yield harness


def test_realPresencePriorities(realHarness):
    """
    Priorities come from the presence plugin: its C{<priority/>} parsing
    and its notion of available resources drive the routing.
    """
    bob = online(realHarness, "bob@example.org/laptop")
    high = online(realHarness, "alice@example.org/high", 5)
    low = online(realHarness, "alice@example.org/low", 1)
    shy = online(realHarness, "alice@example.org/shy", -1)
    for client in (bob, high, low, shy):
        client.take()
    bob.send(chat("alice@example.org", body="best"))
    assert bodies(high) == ["best"] and low.take() == [] and shy.take() == []
    low.send(presence(children=["<priority>7</priority>"]))
    high.take(), low.take(), shy.take()
    bob.send(chat("alice@example.org", body="changed"))
    assert bodies(low) == ["changed"] and high.take() == []


def test_realPresenceOfflineDelivery(realHarness):
    """
    The presence plugin's C{SESSION_AVAILABLE} after initial presence
    hands over the stored messages, after the presence stanzas of the
    initial broadcast.
    """
    bob = online(realHarness, "bob@example.org/laptop")
    bob.send(chat("alice@example.org", body="stored"))
    alice = realHarness.client("alice@example.org/pc")
    alice.send(presence())
    received = alice.take()
    messages = [e for e in received if e.name == "message"]
    assert [str(m.body) for m in messages] == ["stored"]
    assert messages[0].delay["from"] == ORG
    assert received[-1] is messages[0]


def test_realPresencePriorityRaisedDeliversOffline(realHarness):
    """
    A session that came online with negative priority gets no bare-JID
    messages, so they are stored; raising its priority to 0 or more makes
    it eligible and the stored messages are delivered then.
    """
    bob = online(realHarness, "bob@example.org/laptop")
    alice = online(realHarness, "alice@example.org/pc", -1)
    alice.take()
    bob.send(chat("alice@example.org", body="waiting"))
    assert [e for e in alice.take() if e.name == "message"] == []
    alice.send(presence(children=["<priority>1</priority>"]))
    messages = [e for e in alice.take() if e.name == "message"]
    assert [str(m.body) for m in messages] == ["waiting"]


# -- asynchronous storage: SQLite and the real reactor ------------------------


class SQLiteOfflineTests(BackendMixin, TestCase):
    """
    Offline messages on SQLite, whose results arrive later on the reactor:
    the per-user ordering must hold while database work is pending.
    """

    backendKind = "sqlite"

    def setUp(self):
        from twisted.internet import reactor
        super().setUp()
        self.reactor = reactor
        self.server = self.startServer()
        self.host = self.server.hosts[ORG]
        d = self.host.accounts.createUser("alice", {})
        return d.addCallback(lambda _: self.host.accounts.createUser("bob",
                                                                     {}))

    def startServer(self):
        config = parseConfig({"data_dir": temporaryDirectory(self),
                              "hosts": {ORG: {"plugins": ["presence",
                                                          "message"]}}},
                             "t")
        factories = {f.name: f for f in FACTORIES}
        server = Server(config, self.reactor, self.backend, defaultRegistry(),
                        factories)
        server.start()
        self.addCleanup(server.stop)
        return server

    def client(self, jid, host=None):
        client = FakeClient(host or self.host, jid)
        client.connect()
        self.assertTrue(client.bound)
        return client

    def available(self, client, priority=0):
        client.send(presence(children=["<priority>%d</priority>"
                                       % (priority,)]))

    @defer.inlineCallbacks
    def settle(self, host=None, plugin=None):
        """
        Wait until the message plugin has no offline work left.
        """
        plugin = plugin or (host or self.host).plugins["message"][1]
        for _ in range(500):
            if not plugin._queues:
                return
            yield task.deferLater(self.reactor, 0.01, lambda: None)
        self.fail("offline work did not finish")

    @defer.inlineCallbacks
    def test_backlogBeforeLiveMessages(self):
        """
        A message that arrives while the backlog is being fetched waits for
        it: the new resource reads everything in the order it was sent.
        """
        bob = self.client("bob@example.org/laptop")
        self.available(bob)
        for n in range(3):
            bob.send(chat("alice@example.org", body="stored %d" % n))
        yield self.settle()
        alice = self.client("alice@example.org/pc")
        self.available(alice)
        bob.send(chat("alice@example.org", body="live"))
        self.assertEqual(alice.received, [])
        yield self.settle()
        self.assertEqual(bodies(alice),
                         ["stored 0", "stored 1", "stored 2", "live"])
        self.assertEqual(bob.take(), [])

    @defer.inlineCallbacks
    def test_twoResourcesAtOnce(self):
        """
        Two resources that come online together: the first takes the
        backlog, exactly once.
        """
        bob = self.client("bob@example.org/laptop")
        self.available(bob)
        bob.send(chat("alice@example.org", body="only once"))
        yield self.settle()
        pc = self.client("alice@example.org/pc")
        phone = self.client("alice@example.org/phone")
        self.available(pc)
        self.available(phone)
        yield self.settle()
        self.assertEqual(bodies(pc), ["only once"])
        self.assertEqual(phone.take(), [])
        count = yield self.host.plugins["message"][1].offline.count("alice")
        self.assertEqual(count, 0)

    @defer.inlineCallbacks
    def test_onlineWhileStoring(self):
        """
        A user who comes online while a message for them is being stored
        gets the older backlog and then that message, with no error to
        the sender.
        """
        bob = self.client("bob@example.org/laptop")
        self.available(bob)
        bob.send(chat("alice@example.org", body="older"))
        yield self.settle()
        bob.send(chat("alice@example.org", body="newer"))
        alice = self.client("alice@example.org/pc")
        self.available(alice)
        yield self.settle()
        self.assertEqual(bodies(alice), ["older", "newer"])
        self.assertEqual(bob.take(), [])

    @defer.inlineCallbacks
    def test_keptAcrossRestart(self):
        """
        Stored messages survive the server: a new server on the same
        database delivers them.
        """
        bob = self.client("bob@example.org/laptop")
        self.available(bob)
        bob.send(chat("alice@example.org", body="persistent"))
        yield self.settle()
        self.server.stop()
        host = self.startServer().hosts[ORG]
        alice = self.client("alice@example.org/pc", host)
        self.available(alice)
        yield self.settle(host)
        [got] = alice.take()
        self.assertEqual(str(got.body), "persistent")
        self.assertEqual(got.delay["from"], ORG)

    @defer.inlineCallbacks
    def test_quotaExactUnderLoad(self):
        """
        Messages sent faster than the database answers still respect the
        quota exactly.
        """
        bob = self.client("bob@example.org/laptop")
        self.available(bob)
        limit = self.host.plugins["message"][1].limit
        for n in range(limit + 3):
            bob.send(chat("alice@example.org", body=str(n), id="q%d" % n))
        yield self.settle()
        errors = bob.take()
        self.assertEqual([e["id"] for e in errors],
                         ["q%d" % n for n in range(limit, limit + 3)])
        store = self.host.openStore(IOfflineStore)
        self.assertEqual((yield store.count("alice")), limit)

    @defer.inlineCallbacks
    def test_stoppedWhileStoring(self):
        """
        A message still being stored when the host stops is kept, and the
        next server delivers it.
        """
        bob = self.client("bob@example.org/laptop")
        self.available(bob)
        bob.send(chat("alice@example.org", body="in flight"))
        plugin = self.host.plugins["message"][1]
        self.assertTrue(plugin._queues)
        self.server.stop()
        yield self.settle(plugin=plugin)
        host = self.startServer().hosts[ORG]
        alice = self.client("alice@example.org/pc", host)
        self.available(alice)
        yield self.settle(host)
        self.assertEqual(bodies(alice), ["in flight"])
