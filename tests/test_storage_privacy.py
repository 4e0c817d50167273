"""
Tests for L{jabberd.storage.privacy}: the L{IPrivacyStore} contract, run
on memory, SQLite and PostgreSQL.  Rows belong to accounts, so each test
creates its accounts first.
"""

from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase
from zope.interface.verify import verifyObject

from jabberd.privacy import MAX_ORDER, Privacy, PrivacyItem
from jabberd.storage import MemoryDatabase
from jabberd.storage.contract import BackendMixin
from jabberd.storage.database import Database
from jabberd.storage.privacy import (IPrivacyStore, MemoryPrivacyStore,
                                     SQLPrivacyStore)
from jabberd.storage.registry import defaultRegistry
from jabberd.storage.users import IUserStore, NoSuchUser

DOMAIN = "a.example"
OTHER = "b.example"

PUBLIC = (PrivacyItem(1, "deny", "jid", "tybalt@example.com"),
          PrivacyItem(2, "allow"))
EVERY_KIND = (
    PrivacyItem(0, "deny", "group", "Amis & \"famille\" <\u2665>"),
    PrivacyItem(6, "allow", "subscription", "both", ("iq", "presence-in")),
    PrivacyItem(7, "deny", "jid", "example.org/bot",
                ("iq", "message", "presence-in", "presence-out")),
    PrivacyItem(MAX_ORDER, "deny"))


def _registry():
    registry = defaultRegistry()
    registry.register(IPrivacyStore, MemoryPrivacyStore, SQLPrivacyStore)
    return registry


class PrivacyStoreContract(BackendMixin):
    """
    What every L{IPrivacyStore} implementation must do.
    """

    @inlineCallbacks
    def store(self, domain=DOMAIN, users=("alice", "bob")):
        """
        The privacy store of C{domain}, after creating C{users} there.
        """
        registry = _registry()
        accounts = self.openStore(IUserStore, domain, registry)
        for user in users:
            yield accounts.createUser(user, {})
        return self.openStore(IPrivacyStore, domain, registry)

    def test_interface(self):
        store = self.openStore(IPrivacyStore, DOMAIN, _registry())
        self.assertTrue(verifyObject(IPrivacyStore, store))
        self.assertEqual(store.domain, DOMAIN)

    @inlineCallbacks
    def test_empty(self):
        """
        A user who never made a list, or an unknown one, has none.
        """
        store = yield self.store()
        for user in ("alice", "nobody"):
            privacy = yield store.loadPrivacy(user)
            self.assertEqual(privacy, Privacy(user))
            self.assertEqual((privacy.lists, privacy.default), ({}, None))

    @inlineCallbacks
    def test_roundTrip(self):
        """
        Every field of every kind of item survives, text and 32-bit
        orders included, sorted by order.
        """
        store = yield self.store()
        yield store.saveList("alice", "every kind", EVERY_KIND[::-1])
        yield store.saveList("alice", "public", PUBLIC)
        privacy = yield store.loadPrivacy("alice")
        self.assertEqual(privacy.lists, {"every kind": EVERY_KIND,
                                         "public": PUBLIC})
        self.assertIsNone(privacy.default)

    @inlineCallbacks
    def test_emptyList(self):
        """
        A list may be kept without items (the blocklist after unblocking
        everything).
        """
        store = yield self.store()
        yield store.saveList("alice", "blocklist", ())
        privacy = yield store.loadPrivacy("alice")
        self.assertEqual(privacy.lists, {"blocklist": ()})

    @inlineCallbacks
    def test_replaceKeepsDefault(self):
        """
        Saving a list replaces all its items; the default stays.
        """
        store = yield self.store()
        yield store.saveList("alice", "public", PUBLIC)
        yield store.setDefault("alice", "public")
        newer = (PrivacyItem(3, "deny", "jid", "paris@example.org"),)
        yield store.saveList("alice", "public", newer)
        privacy = yield store.loadPrivacy("alice")
        self.assertEqual((privacy.lists, privacy.default),
                         ({"public": newer}, "public"))

    @inlineCallbacks
    def test_defaultMovesAndDeclines(self):
        store = yield self.store()
        yield store.saveList("alice", "public", PUBLIC)
        yield store.saveList("alice", "private", EVERY_KIND)
        yield store.setDefault("alice", "public")
        yield store.setDefault("alice", "private")
        self.assertEqual((yield store.loadPrivacy("alice")).default,
                         "private")
        yield store.setDefault("alice", None)
        self.assertIsNone((yield store.loadPrivacy("alice")).default)

    @inlineCallbacks
    def test_removeList(self):
        """
        Removing a list removes its items and its default mark; removing
        an unknown list does nothing.
        """
        store = yield self.store()
        yield store.saveList("alice", "public", PUBLIC)
        yield store.saveList("alice", "private", EVERY_KIND)
        yield store.setDefault("alice", "public")
        yield store.removeList("alice", "public")
        yield store.removeList("alice", "never")
        privacy = yield store.loadPrivacy("alice")
        self.assertEqual((privacy.lists, privacy.default),
                         ({"private": EVERY_KIND}, None))
        yield store.saveList("alice", "public", ())
        self.assertEqual((yield store.loadPrivacy("alice")).lists["public"],
                         ())

    @inlineCallbacks
    def test_unknownAccount(self):
        store = yield self.store()
        yield self.assertFailure(store.saveList("nobody", "l", PUBLIC),
                                 NoSuchUser)

    @inlineCallbacks
    def test_usersAreSeparate(self):
        store = yield self.store()
        yield store.saveList("alice", "public", PUBLIC)
        yield store.setDefault("alice", "public")
        yield store.saveList("bob", "public", EVERY_KIND)
        yield store.removeList("bob", "public")
        privacy = yield store.loadPrivacy("alice")
        self.assertEqual((privacy.lists, privacy.default),
                         ({"public": PUBLIC}, "public"))

    @inlineCallbacks
    def test_domainIsolation(self):
        """
        A store bound to one domain neither sees nor changes another's
        lists, even for the same username.
        """
        a = yield self.store(DOMAIN)
        b = yield self.store(OTHER)
        yield a.saveList("alice", "public", PUBLIC)
        yield a.setDefault("alice", "public")
        self.assertEqual((yield b.loadPrivacy("alice")), Privacy("alice"))
        yield b.removeList("alice", "public")
        yield b.setDefault("alice", None)
        privacy = yield a.loadPrivacy("alice")
        self.assertEqual((privacy.lists, privacy.default),
                         ({"public": PUBLIC}, "public"))

    @inlineCallbacks
    def test_loadedIsACopy(self):
        """
        Changing loaded lists in memory does not change what is stored.
        """
        store = yield self.store()
        yield store.saveList("alice", "public", PUBLIC)
        privacy = yield store.loadPrivacy("alice")
        privacy.put("other", PUBLIC)
        privacy.default = "other"
        again = yield store.loadPrivacy("alice")
        self.assertEqual((list(again.lists), again.default),
                         (["public"], None))

    @inlineCallbacks
    def test_keptAcrossStores(self):
        """
        A new store on the same backend (as after a restart) reads what
        an earlier one wrote.
        """
        store = yield self.store()
        yield store.saveList("alice", "public", PUBLIC)
        yield store.setDefault("alice", "public")
        again = self.openStore(IPrivacyStore, DOMAIN, _registry())
        privacy = yield again.loadPrivacy("alice")
        self.assertEqual((privacy.lists, privacy.default),
                         ({"public": PUBLIC}, "public"))


class MemoryPrivacyStoreTests(PrivacyStoreContract, TestCase):
    backendKind = "memory"


class SQLitePrivacyStoreTests(PrivacyStoreContract, TestCase):
    backendKind = "sqlite"

    @inlineCallbacks
    def test_deletedAccountLosesLists(self):
        """
        Deleting an account deletes its lists and items with it.
        """
        store = yield self.store()
        yield store.saveList("alice", "public", PUBLIC)
        yield store.setDefault("alice", "public")
        yield self.openStore(IUserStore, DOMAIN).deleteUser("alice")
        yield self.openStore(IUserStore, DOMAIN).createUser("alice", {})
        self.assertEqual((yield store.loadPrivacy("alice")),
                         Privacy("alice"))


class PostgreSQLPrivacyStoreTests(SQLitePrivacyStoreTests):
    backendKind = "postgresql"


class RegistryTests(TestCase):
    """
    The factories open the implementation matching the backend.
    """

    def test_factories(self):
        registry = _registry()
        memory = registry.open(IPrivacyStore, MemoryDatabase(), DOMAIN)
        sql = registry.open(IPrivacyStore, Database("sqlite://", None),
                            OTHER)
        self.assertIsInstance(memory, MemoryPrivacyStore)
        self.assertIsInstance(sql, SQLPrivacyStore)
