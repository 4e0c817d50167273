"""
Tests for L{jabberd.storage.offline}: the L{IOfflineStore} contract, run
on memory, SQLite and PostgreSQL.
"""

from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase
from zope.interface.verify import verifyObject

from jabberd.storage.contract import BackendMixin
from jabberd.storage.database import Database, MemoryDatabase
from jabberd.storage.offline import (IOfflineStore, MemoryOfflineStore,
                                     SQLOfflineStore)
from jabberd.storage.registry import defaultRegistry
from jabberd.storage.users import IUserStore, NoSuchUser

CHAT = "<message type='chat' to='alice@a.example'><body>%s</body></message>"


class OfflineStoreContract(BackendMixin):
    """
    What every L{IOfflineStore} implementation must do.
    """

    def registry(self):
        registry = defaultRegistry()
        registry.register(IOfflineStore, MemoryOfflineStore, SQLOfflineStore)
        return registry

    def offlineStore(self, domain="a.example"):
        return self.openStore(IOfflineStore, domain, self.registry())

    @inlineCallbacks
    def account(self, user, domain="a.example"):
        """
        Create account C{user}: messages are kept only for accounts.
        """
        yield self.openStore(IUserStore, domain).createUser(user, {})

    @inlineCallbacks
    def storeAll(self, store, user, bodies, start=1000.0):
        for offset, body in enumerate(bodies):
            yield store.store(user, CHAT % (body,), start + offset)

    def test_interface(self):
        """
        The store provides L{IOfflineStore} and is bound to its domain.
        """
        store = self.offlineStore("a.example")
        self.assertTrue(verifyObject(IOfflineStore, store))
        self.assertEqual(store.domain, "a.example")

    @inlineCallbacks
    def test_empty(self):
        """
        An account without stored messages counts and fetches none.
        """
        yield self.account("alice")
        store = self.offlineStore()
        self.assertEqual((yield store.count("alice")), 0)
        self.assertEqual((yield store.fetch("alice")), [])

    @inlineCallbacks
    def test_storeAndFetchInOrder(self):
        """
        Messages come back oldest first, with their text and stamp intact
        and ids that increase.
        """
        yield self.account("alice")
        store = self.offlineStore()
        bodies = ["one", "two", "zwölf <&>", "four"]
        yield self.storeAll(store, "alice", bodies, start=1700000000.25)
        self.assertEqual((yield store.count("alice")), 4)
        rows = yield store.fetch("alice")
        self.assertEqual([(xml, stamp) for _, xml, stamp in rows],
                         [(CHAT % (b,), 1700000000.25 + i)
                          for i, b in enumerate(bodies)])
        ids = [row[0] for row in rows]
        self.assertEqual(ids, sorted(set(ids)))
        self.assertTrue(all(isinstance(i, int) for i in ids))

    @inlineCallbacks
    def test_fetchDoesNotRemove(self):
        """
        Fetching leaves the messages stored until they are deleted.
        """
        yield self.account("alice")
        store = self.offlineStore()
        yield self.storeAll(store, "alice", ["a", "b"])
        first = yield store.fetch("alice")
        self.assertEqual((yield store.fetch("alice")), first)
        self.assertEqual((yield store.count("alice")), 2)

    @inlineCallbacks
    def test_delete(self):
        """
        Deleting some ids removes exactly those messages; the rest keep
        their order, and later messages follow them.
        """
        yield self.account("alice")
        store = self.offlineStore()
        yield self.storeAll(store, "alice", ["a", "b", "c", "d"])
        rows = yield store.fetch("alice")
        yield store.delete("alice", [rows[0][0], rows[2][0]])
        self.assertEqual((yield store.fetch("alice")), [rows[1], rows[3]])
        yield store.store("alice", CHAT % ("e",), 2000.0)
        after = yield store.fetch("alice")
        self.assertEqual([xml for _, xml, _ in after],
                         [CHAT % (b,) for b in "bde"])
        yield store.delete("alice", [row[0] for row in after])
        self.assertEqual((yield store.count("alice")), 0)

    @inlineCallbacks
    def test_deleteNothingAndUnknown(self):
        """
        Deleting no ids, or ids that do not exist, changes nothing.
        """
        yield self.account("alice")
        store = self.offlineStore()
        yield self.storeAll(store, "alice", ["a"])
        rows = yield store.fetch("alice")
        yield store.delete("alice", [])
        yield store.delete("alice", [rows[0][0] + 1000])
        yield store.delete("nobody", [rows[0][0]])
        self.assertEqual((yield store.fetch("alice")), rows)

    @inlineCallbacks
    def test_usersAreSeparate(self):
        """
        Each account has its own messages; one user cannot delete
        another's by id.
        """
        yield self.account("alice")
        yield self.account("bob")
        store = self.offlineStore()
        yield self.storeAll(store, "alice", ["for alice"])
        yield self.storeAll(store, "bob", ["for bob 1", "for bob 2"])
        self.assertEqual((yield store.count("alice")), 1)
        self.assertEqual((yield store.count("bob")), 2)
        [(aliceID, xml, _)] = yield store.fetch("alice")
        self.assertEqual(xml, CHAT % ("for alice",))
        yield store.delete("bob", [aliceID])
        self.assertEqual((yield store.count("alice")), 1)

    def test_unknownAccount(self):
        """
        Storing for an account that does not exist fails.
        """
        d = self.offlineStore().store("nobody", CHAT % ("x",), 1.0)
        return self.assertFailure(d, NoSuchUser)

    @inlineCallbacks
    def test_domainIsolation(self):
        """
        A store bound to one domain neither sees nor removes another's
        messages, even for the same username.
        """
        yield self.account("alice", "a.example")
        yield self.account("alice", "b.example")
        a, b = self.offlineStore("a.example"), self.offlineStore("b.example")
        yield self.storeAll(a, "alice", ["on a"])
        self.assertEqual((yield b.count("alice")), 0)
        self.assertEqual((yield b.fetch("alice")), [])
        [(aID, _, _)] = yield a.fetch("alice")
        yield b.delete("alice", [aID])
        self.assertEqual((yield a.count("alice")), 1)

    @inlineCallbacks
    def test_keptAcrossStores(self):
        """
        A new store on the same backend (as after a restart) sees what an
        earlier one kept.
        """
        yield self.account("alice")
        yield self.storeAll(self.offlineStore(), "alice", ["kept"])
        [(_, xml, stamp)] = yield self.offlineStore().fetch("alice")
        self.assertEqual((xml, stamp), (CHAT % ("kept",), 1000.0))


class MemoryOfflineStoreTests(OfflineStoreContract, TestCase):
    backendKind = "memory"


class SQLiteOfflineStoreTests(OfflineStoreContract, TestCase):
    backendKind = "sqlite"

    @inlineCallbacks
    def test_deletedAccountLosesMessages(self):
        """
        Deleting an account deletes its stored messages with it.
        """
        yield self.account("alice")
        yield self.storeAll(self.offlineStore(), "alice", ["x"])
        yield self.openStore(IUserStore, "a.example").deleteUser("alice")
        yield self.account("alice")
        self.assertEqual((yield self.offlineStore().count("alice")), 0)


class PostgreSQLOfflineStoreTests(SQLiteOfflineStoreTests):
    backendKind = "postgresql"


class RegistryTests(TestCase):
    """
    The factories open the implementation matching the backend.
    """

    def test_factories(self):
        registry = defaultRegistry()
        registry.register(IOfflineStore, MemoryOfflineStore, SQLOfflineStore)
        memory = registry.open(IOfflineStore, MemoryDatabase(), "a.example")
        sql = registry.open(IOfflineStore, Database("sqlite://", None),
                            "b.example")
        self.assertIsInstance(memory, MemoryOfflineStore)
        self.assertIsInstance(sql, SQLOfflineStore)
