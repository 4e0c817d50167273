"""
Tests for L{plugins.private}: private XML storage (XEP-0049) and its store
on memory, SQLite and PostgreSQL.
"""

import pytest
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase
from zope.interface.verify import verifyObject

from jabberd.plugin import PluginConfigError
from jabberd.storage import defaultRegistry
from jabberd.storage.users import IUserStore, NoSuchUser
from jabberd.testing import (BackendMixin, HostHarness, errorCondition, iq,
                             toXML)
from plugins.private import (IPrivateStore, MemoryPrivateStore, NS_PRIVATE,
                             SQLPrivateStore, private)

EXODUS = ("<exodus xmlns='exodus:prefs'><defaultnick>Hamlet</defaultnick>"
          "</exodus>")


def query(content=""):
    return "<query xmlns='%s'>%s</query>" % (NS_PRIVATE, content)


# -- the store ----------------------------------------------------------------


class PrivateStoreContract(BackendMixin):
    """
    What every L{IPrivateStore} must do.
    """

    def store(self, domain="a.example"):
        registry = defaultRegistry()
        registry.register(IPrivateStore, MemoryPrivateStore, SQLPrivateStore)
        return self.openStore(IPrivateStore, domain, registry)

    def addUser(self, username, domain="a.example"):
        return self.openStore(IUserStore, domain).createUser(username, {})

    def test_interface(self):
        store = self.store()
        self.assertTrue(verifyObject(IPrivateStore, store))
        self.assertEqual(store.domain, "a.example")

    @inlineCallbacks
    def test_nothingStored(self):
        yield self.addUser("alice")
        self.assertIsNone(
            (yield self.store().getPrivate("alice", "exodus:prefs", "exodus")))

    @inlineCallbacks
    def test_setSeveral(self):
        """
        Elements are kept by namespace and name; a set replaces those it
        names and leaves the others.
        """
        store = self.store()
        yield self.addUser("alice")
        yield store.setPrivate("alice", [("a:b", "x", "<x xmlns='a:b'/>"),
                                         ("a:b", "y", "<y xmlns='a:b'/>")])
        yield store.setPrivate("alice", [("a:b", "x", "<x xmlns='a:b'>2</x>"),
                                         ("c:d", "x", "<x xmlns='c:d'/>")])
        get = store.getPrivate
        self.assertEqual((yield get("alice", "a:b", "x")),
                         "<x xmlns='a:b'>2</x>")
        self.assertEqual((yield get("alice", "a:b", "y")), "<y xmlns='a:b'/>")
        self.assertEqual((yield get("alice", "c:d", "x")), "<x xmlns='c:d'/>")
        self.assertIsNone((yield get("alice", "c:d", "y")))

    @inlineCallbacks
    def test_sameKeyTwice(self):
        """
        Within one set the last element of a namespace and name wins.
        """
        store = self.store()
        yield self.addUser("alice")
        yield store.setPrivate("alice", [("a:b", "x", "first"),
                                         ("a:b", "x", "second")])
        self.assertEqual((yield store.getPrivate("alice", "a:b", "x")),
                         "second")

    def test_unknownAccount(self):
        d = self.store().setPrivate("nobody", [("a:b", "x", "<x/>")])
        return self.assertFailure(d, NoSuchUser)

    @inlineCallbacks
    def test_deletedWithAccount(self):
        store = self.store()
        yield self.addUser("alice")
        yield store.setPrivate("alice", [("a:b", "x", "<x xmlns='a:b'/>")])
        yield self.openStore(IUserStore, "a.example").deleteUser("alice")
        self.assertIsNone((yield store.getPrivate("alice", "a:b", "x")))
        yield self.addUser("alice")
        self.assertIsNone((yield store.getPrivate("alice", "a:b", "x")))

    @inlineCallbacks
    def test_accountIsolation(self):
        yield self.addUser("alice", "a.example")
        yield self.addUser("bob", "a.example")
        yield self.addUser("alice", "b.example")
        yield self.store().setPrivate("alice", [("a:b", "x", "mine")])
        for domain, user in (("a.example", "bob"), ("b.example", "alice")):
            self.assertIsNone(
                (yield self.store(domain).getPrivate(user, "a:b", "x")))


class MemoryPrivateStoreTests(PrivateStoreContract, TestCase):
    backendKind = "memory"


class SQLitePrivateStoreTests(PrivateStoreContract, TestCase):
    backendKind = "sqlite"


class PostgreSQLPrivateStoreTests(PrivateStoreContract, TestCase):
    backendKind = "postgresql"


# -- the service --------------------------------------------------------------


@pytest.fixture
def harness():
    with HostHarness([private],
                     options={"private": {"max_size": 200}}) as harness:
        for user in ("hamlet", "macbeth"):
            harness.addUser(user + "@example.org")
        yield harness


@pytest.fixture
def hamlet(harness):
    return harness.client("hamlet@example.org/denmark")


def test_declared(harness):
    assert harness.host.features == {NS_PRIVATE}


def test_storeAndRetrieve(hamlet):
    """
    XEP-0049 examples 1 and 2: the client stores its preferences and
    gets them back.
    """
    result = hamlet.request(iq("set", query(EXODUS), id="1001"))
    assert result["type"] == "result" and result["id"] == "1001"
    assert result.children == []
    result = hamlet.request(iq("get", query("<exodus xmlns='exodus:prefs'/>"),
                               id="1002"))
    assert result["type"] == "result"
    assert toXML(result.query) == query(EXODUS)


def test_retrieveNothingStored(hamlet):
    """
    What was never stored comes back as the empty element asked for.
    """
    result = hamlet.request(iq("get", query("<bookmarks xmlns='storage:x'/>")))
    assert toXML(result.query) == query("<bookmarks xmlns='storage:x'/>")


def test_severalElements(hamlet):
    """
    A set may carry several elements; each is retrieved on its own.
    """
    hamlet.request(iq("set", query("<a xmlns='urn:t'>1</a><b xmlns='urn:t'>"
                                   "2</b>")))
    result = hamlet.request(iq("get", query("<b xmlns='urn:t'/>")))
    assert toXML(result.query) == query("<b xmlns='urn:t'>2</b>")


def test_otherUsersData(harness, hamlet):
    """
    Example 3: getting or setting another user's data is forbidden.
    """
    macbeth = harness.client("macbeth@example.org/castle")
    for type in ("set", "get"):
        result = macbeth.request(iq(type, query(EXODUS),
                                    to="hamlet@example.org", id="1003"))
        assert errorCondition(result) == "forbidden"


def test_domainIsNotTheUser(hamlet):
    result = hamlet.request(iq("get", query(EXODUS), to="example.org"))
    assert errorCondition(result) == "service-unavailable"


@pytest.mark.parametrize("type", ["get", "set"])
def test_noChild(hamlet, type):
    """
    Example 4: a query without a child element is not acceptable.
    """
    result = hamlet.request(iq(type, query(), id="1004"))
    assert errorCondition(result) == "not-acceptable"


@pytest.mark.parametrize("content", [
    "<vCard xmlns='vcard-temp'><FN>Hamlet</FN></vCard>",
    "<x xmlns='jabber:iq:roster'/>",
    "<x xmlns='http://jabber.org/protocol/disco#info'/>",
    "<unqualified/>",
])
@pytest.mark.parametrize("type", ["get", "set"])
def test_reservedNamespaces(hamlet, type, content):
    """
    Example 5: reserved namespaces (and a child in the query's own, which
    is one) are not acceptable.
    """
    result = hamlet.request(iq(type, query(content), id="1005"))
    assert errorCondition(result) == "not-acceptable"


def test_getOneAtATime(hamlet):
    result = hamlet.request(iq("get", query("<a xmlns='urn:t'/>"
                                            "<b xmlns='urn:t'/>")))
    assert errorCondition(result) == "bad-request"


def test_sizeLimit(hamlet):
    """
    A set storing more than max_size bytes is refused whole.
    """
    shell = "<a xmlns='urn:t'></a>"
    fits = "<a xmlns='urn:t'>%s</a>" % ("x" * (200 - len(shell)),)
    assert hamlet.request(iq("set", query(fits)))["type"] == "result"
    result = hamlet.request(iq("set", query(
        "<b xmlns='urn:t'/>" + fits)))
    assert errorCondition(result) == "not-acceptable"
    result = hamlet.request(iq("get", query("<b xmlns='urn:t'/>")))
    assert toXML(result.query) == query("<b xmlns='urn:t'/>")


@pytest.mark.parametrize("options", [{"max_size": -1}, {"quota": 1}])
def test_badOptions(options):
    with pytest.raises(PluginConfigError):
        private.parseConfig(options)
