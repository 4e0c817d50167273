"""
Tests for L{jabberd.credcache}: login credentials cached in front of a
user store, and everything that must make them current again.

The store under the cache is a real one (memory, SQLite, PostgreSQL).  A
change made to it directly, bypassing the cache, stands for a change made
by another process; whether the cache still answers with the old
credential is how these tests see what it holds.
"""

from twisted.internet import reactor
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from jabberd.credcache import CachingUserStore
from jabberd.credentials import deriveCredentials
from jabberd.storage.contract import BackendMixin, UserStoreContract
from jabberd.storage.database import MemoryDatabase
from jabberd.storage.users import IUserStore, MemoryUserStore

SHA1 = "SCRAM-SHA-1"
OLD = deriveCredentials("old password", iterations=4096)
NEW = deriveCredentials("new password", iterations=4096)


class CachedContractMixin:
    """
    The cache is itself a user store: it passes the store contract over
    each backend.
    """

    def userStore(self, domain="a.example"):
        return CachingUserStore(self.openStore(IUserStore, domain),
                                reactor, 100, 60.0)


class CachedMemoryContractTests(CachedContractMixin, UserStoreContract,
                                TestCase):
    backendKind = "memory"


class CachedSQLiteContractTests(CachedContractMixin, UserStoreContract,
                                TestCase):
    backendKind = "sqlite"


class CachedPostgreSQLContractTests(CachedContractMixin, UserStoreContract,
                                    TestCase):
    backendKind = "postgresql"


class CachingTests(TestCase):
    """
    What the cache keeps, for how long, and what drops it.
    """

    def setUp(self):
        self.clock = Clock()
        self.store = MemoryUserStore(MemoryDatabase(), "a.example")
        self.store.createUser("alice", OLD)
        self.cache = CachingUserStore(self.store, self.clock, 100, 60.0)

    def credential(self, name="alice"):
        return self.successResultOf(self.cache.getCredential(name, SHA1))

    def changeBehindTheCache(self, credentials=NEW):
        self.successResultOf(self.store.setCredentials("alice", credentials))

    def test_answersFromMemory(self):
        """
        Once read, a credential is answered from memory: a change the
        cache does not see is not seen.
        """
        self.assertEqual(self.credential(), OLD[SHA1])
        self.changeBehindTheCache()
        self.assertEqual(self.credential(), OLD[SHA1])

    def test_mechanismsApart(self):
        """
        Each mechanism's credential is its own entry.
        """
        self.assertEqual(self.credential(), OLD[SHA1])
        self.changeBehindTheCache()
        self.assertEqual(self.successResultOf(
            self.cache.getCredential("alice", "SCRAM-SHA-256")),
            NEW["SCRAM-SHA-256"])

    def test_expires(self):
        """
        An entry is trusted for C{ttl} seconds, then read again.
        """
        self.credential()
        self.changeBehindTheCache()
        self.clock.advance(59)
        self.assertEqual(self.credential(), OLD[SHA1])
        self.clock.advance(1)
        self.assertEqual(self.credential(), NEW[SHA1])

    def test_passwordChangeThroughTheCache(self):
        """
        A password changed through the cache applies to the next login.
        """
        self.credential()
        self.successResultOf(self.cache.setCredentials("alice", NEW))
        self.assertEqual(self.credential(), NEW[SHA1])

    def test_deleteThroughTheCache(self):
        """
        A deleted account has no credential from the next login on.
        """
        self.credential()
        self.successResultOf(self.cache.deleteUser("alice"))
        self.assertIsNone(self.credential())

    def test_unknownUserCachedUntilCreated(self):
        """
        "No such user" is cached too, and a registration through the
        cache ends it.
        """
        self.assertIsNone(self.credential("bob"))
        self.successResultOf(self.store.createUser("bob", OLD))
        self.assertIsNone(self.credential("bob"))
        self.successResultOf(self.cache.deleteUser("bob"))
        self.successResultOf(self.cache.createUser("bob", NEW))
        self.assertEqual(self.credential("bob"), NEW[SHA1])

    def test_failedWriteStillForgets(self):
        """
        A write that fails (no such user) leaves nothing stale behind.
        """
        self.assertIsNone(self.credential("bob"))
        self.successResultOf(self.store.createUser("bob", OLD))
        self.failureResultOf(self.cache.createUser("bob", NEW))
        self.assertEqual(self.credential("bob"), OLD[SHA1])

    def test_forgetAll(self):
        """
        L{CachingUserStore.forgetAll} (what C{SIGUSR2} runs) makes every
        answer come from the store again.
        """
        self.credential()
        self.changeBehindTheCache()
        self.cache.forgetAll()
        self.assertEqual(self.credential(), NEW[SHA1])

    def test_leastRecentlyUsedGoesFirst(self):
        """
        Beyond C{size} entries the least recently used one is dropped.
        """
        cache = CachingUserStore(self.store, self.clock, 2, 60.0)
        for name in ("bob", "carol"):
            self.successResultOf(self.store.createUser(name, OLD))
        for name in ("alice", "bob", "alice", "carol"):
            self.successResultOf(cache.getCredential(name, SHA1))
        for name in ("alice", "bob", "carol"):
            self.successResultOf(self.store.setCredentials(name, NEW))
        fresh = {name: self.successResultOf(cache.getCredential(name, SHA1))
                 == NEW[SHA1] for name in ("alice", "carol", "bob")}
        self.assertEqual(fresh, {"alice": False, "carol": False, "bob": True})

    def test_sizeZeroDisables(self):
        """
        C{size} 0 keeps nothing.
        """
        cache = CachingUserStore(self.store, self.clock, 0, 60.0)
        self.successResultOf(cache.getCredential("alice", SHA1))
        self.changeBehindTheCache()
        self.assertEqual(self.successResultOf(cache.getCredential("alice", SHA1)),
                         NEW[SHA1])

    def test_configure(self):
        """
        New limits (a reload) apply, and what was cached is dropped.
        """
        self.credential()
        self.changeBehindTheCache()
        self.cache.configure(100, 5.0)
        self.assertEqual(self.credential(), NEW[SHA1])
        self.changeBehindTheCache(OLD)
        self.clock.advance(5)
        self.assertEqual(self.credential(), OLD[SHA1])


class InFlightTests(BackendMixin, TestCase):
    """
    On SQLite the store answers from a thread, later: a read that was
    under way when the password changed must not be cached.
    """

    backendKind = "sqlite"

    async def test_readDuringChangeNotKept(self):
        store = self.openStore(IUserStore, "a.example")
        await store.createUser("alice", OLD)
        cache = CachingUserStore(store, reactor, 100, 60.0)
        reading = cache.getCredential("alice", SHA1)
        await cache.setCredentials("alice", NEW)
        await reading
        await store.setCredentials("alice", OLD)
        self.assertEqual(await cache.getCredential("alice", SHA1), OLD[SHA1])
