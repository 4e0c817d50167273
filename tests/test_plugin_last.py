"""
Tests for L{plugins.last}: last activity (XEP-0012) of the server and of
accounts, and the store of logout times on memory, SQLite and PostgreSQL.
"""

import pytest
from twisted.internet.defer import inlineCallbacks
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import TestCase
from zope.interface.verify import verifyObject

from jabberd.bus import HOST_STOPPING
from jabberd.storage import defaultRegistry
from jabberd.storage.users import IUserStore, NoSuchUser
from jabberd.testing import (BackendMixin, HostHarness, errorCondition, iq,
                             presence)
from plugins.last import (ILastActivityStore, MemoryLastActivityStore,
                          NS_LAST, SQLLastActivityStore, last, statusOf)
from plugins.presence import presence as presencePlugin
from plugins.roster import roster

QUERY = "<query xmlns='%s'/>" % (NS_LAST,)


# -- the store ----------------------------------------------------------------


class LastActivityStoreContract(BackendMixin):
    """
    What every L{ILastActivityStore} must do.
    """

    def store(self, domain="a.example"):
        registry = defaultRegistry()
        registry.register(ILastActivityStore, MemoryLastActivityStore,
                          SQLLastActivityStore)
        return self.openStore(ILastActivityStore, domain, registry)

    def addUser(self, username, domain="a.example"):
        return self.openStore(IUserStore, domain).createUser(username, {})

    def test_interface(self):
        store = self.store()
        self.assertTrue(verifyObject(ILastActivityStore, store))
        self.assertEqual(store.domain, "a.example")

    @inlineCallbacks
    def test_nothingRecorded(self):
        yield self.addUser("alice")
        self.assertIsNone((yield self.store().getLastLogout("alice")))

    @inlineCallbacks
    def test_recordAndReplace(self):
        """
        The last record wins; stamps keep their fraction, status its text.
        """
        store = self.store()
        yield self.addUser("alice")
        yield store.setLastLogout("alice", 100.5, "Heading Home")
        self.assertEqual((yield store.getLastLogout("alice")),
                         (100.5, "Heading Home"))
        yield store.setLastLogout("alice", 200.25, "")
        self.assertEqual((yield store.getLastLogout("alice")), (200.25, ""))

    def test_unknownAccount(self):
        d = self.store().setLastLogout("nobody", 1.0, "")
        return self.assertFailure(d, NoSuchUser)

    @inlineCallbacks
    def test_deletedWithAccount(self):
        """
        The record goes with its account, and is not there when an
        account of the same name is created again.
        """
        store = self.store()
        yield self.addUser("alice")
        yield store.setLastLogout("alice", 1.0, "bye")
        yield self.openStore(IUserStore, "a.example").deleteUser("alice")
        self.assertIsNone((yield store.getLastLogout("alice")))
        yield self.addUser("alice")
        self.assertIsNone((yield store.getLastLogout("alice")))

    @inlineCallbacks
    def test_domainIsolation(self):
        yield self.addUser("alice", "a.example")
        yield self.addUser("alice", "b.example")
        yield self.store("a.example").setLastLogout("alice", 1.0, "on a")
        self.assertIsNone(
            (yield self.store("b.example").getLastLogout("alice")))


class MemoryLastActivityStoreTests(LastActivityStoreContract, TestCase):
    backendKind = "memory"


class SQLiteLastActivityStoreTests(LastActivityStoreContract, TestCase):
    backendKind = "sqlite"


class PostgreSQLLastActivityStoreTests(LastActivityStoreContract, TestCase):
    backendKind = "postgresql"


# -- the service --------------------------------------------------------------


@pytest.fixture
def harness():
    with HostHarness([last, roster, presencePlugin],
                     plugins=["last"]) as harness:
        for user in ("alice", "bob"):
            harness.addUser(user + "@example.org")
        yield harness


def lastOf(client, to):
    return client.request(iq("get", QUERY, to=to))


def seconds(result):
    assert result["type"] == "result", result.toXml()
    return int(result.query["seconds"])


def test_uptime(harness):
    """
    XEP-0012 section 5: to the domain, how long the host has been up,
    without text.
    """
    harness.advance(123456)
    alice = harness.client("alice@example.org/pc")
    result = lastOf(alice, "example.org")
    assert result["from"] == "example.org"
    assert seconds(result) == 123456
    assert result.query.children == []
    assert NS_LAST in harness.host.features
    assert NS_LAST in harness.host.accountFeatures


def test_ownAccountOnline(harness):
    """
    Section 3: while the user has a session the answer is 0 seconds.
    """
    alice = harness.client("alice@example.org/pc")
    harness.advance(50)
    for to in (None, "alice@example.org"):
        result = lastOf(alice, to)
        assert seconds(result) == 0 and result.query.children == []


def test_strangerForbidden(harness):
    """
    Section 3: someone not entitled to the user's presence is refused,
    whether the user is online, offline or does not exist.
    """
    harness.client("alice@example.org/pc")
    bob = harness.client("bob@example.org/pc")
    for to in ("alice@example.org", "nobody@example.org"):
        assert errorCondition(lastOf(bob, to)) == "forbidden"


def test_recordedWhenLastSessionCloses(harness):
    """
    The logout is the close of the user's last session, with the status
    of the unavailable presence that session sent.
    """
    service = harness.plugin("last")
    pc = harness.client("alice@example.org/pc")
    phone = harness.client("alice@example.org/phone")
    phone.send(presence(type="unavailable",
                        children=["<status>Heading Home</status>"]))
    harness.advance(10)
    phone.disconnect()
    assert harness.resultOf(service.store.getLastLogout("alice")) is None
    pc.send(presence(type="unavailable",
                     children=["<status>Gone fishing</status>"]))
    harness.advance(5)
    pc.disconnect()
    harness.advance(903)
    result = harness.resultOf(service.lastActivityOf("alice"))
    assert result["seconds"] == "903"
    assert result.children == ["Gone fishing"]


def test_availableClearsStatus(harness):
    service = harness.plugin("last")
    alice = harness.client("alice@example.org/pc")
    alice.send(presence(type="unavailable", children=["<status>x</status>"]))
    alice.send(presence())
    alice.disconnect()
    stamp, status = harness.resultOf(service.store.getLastLogout("alice"))
    assert status == ""


def test_noRecord(harness):
    """
    An account that never logged out has nothing to tell.
    """
    service = harness.plugin("last")
    d = service.lastActivityOf("bob")
    failures = []
    d.addErrback(failures.append)
    assert failures[0].value.condition == "item-not-found"


def test_hostStopping(harness):
    """
    When the host stops, its connected users log out.
    """
    service = harness.plugin("last")
    harness.client("alice@example.org/pc").send(
        presence(type="unavailable", children=["<status>bye</status>"]))
    harness.advance(7)
    harness.host.bus.notify(HOST_STOPPING, harness.host)
    assert harness.resultOf(service.store.getLastLogout("alice")) == \
        (7.0, "bye")


def test_deletedAccountNotRecorded(harness):
    """
    A session closing after its account was deleted records nothing and
    logs no failure.
    """
    service = harness.plugin("last")
    alice = harness.client("alice@example.org/pc")
    harness.resultOf(harness.host.accounts.deleteUser("alice"))
    failures = []

    def observer(event):
        if "log_failure" in event:
            failures.append(event)

    globalLogPublisher.addObserver(observer)
    try:
        alice.disconnect()
    finally:
        globalLogPublisher.removeObserver(observer)
    assert failures == []
    assert harness.resultOf(service.store.getLastLogout("alice")) is None


def test_statusOf():
    element = presence(type="unavailable",
                       children=["<status>one</status>",
                                 "<status xml:lang='fr'>un</status>"])
    assert statusOf(element) == "one"
    assert statusOf(presence(type="unavailable")) == ""


@pytest.fixture
def subscribed():
    """
    Bob has a presence subscription to alice (RFC 6121 section 3).
    """
    with HostHarness([last, roster, presencePlugin]) as harness:
        for user in ("alice", "bob", "carol"):
            harness.addUser(user + "@example.org")
        alice = harness.client("alice@example.org/pc")
        bob = harness.client("bob@example.org/pc")
        bob.send(presence(to="alice@example.org", type="subscribe"))
        alice.send(presence(to="bob@example.org", type="subscribed"))
        yield harness


def test_offlineUserQuery(subscribed):
    """
    Section 3, the example: the user logged out 903 seconds ago, saying
    "Heading Home".
    """
    [alice] = subscribed.host.sessions.sessionsOf("alice").values()
    alice.send(presence(type="unavailable",
                        children=["<status>Heading Home</status>"]))
    alice.disconnect()
    subscribed.advance(903)
    bob = subscribed.client("bob@example.org/orchard")
    result = lastOf(bob, "alice@example.org")
    assert result["from"] == "alice@example.org"
    assert seconds(result) == 903
    assert result.query.children == ["Heading Home"]


def test_subscriberOnline(subscribed):
    bob = subscribed.client("bob@example.org/orchard")
    assert seconds(lastOf(bob, "alice@example.org")) == 0


def test_nonSubscriberForbidden(subscribed):
    carol = subscribed.client("carol@example.org/pc")
    assert errorCondition(lastOf(carol, "alice@example.org")) == "forbidden"
