"""
Tests for L{jabberd.storage.users} and L{jabberd.storage.registry}.

The L{UserStoreContract} runs on memory, SQLite and PostgreSQL.
"""

from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface import Interface, implementer

from jabberd.storage.contract import UserStoreContract
from jabberd.storage.database import Database, MemoryDatabase
from jabberd.storage.registry import StoreRegistry, UnknownStore, defaultRegistry
from jabberd.storage.users import IUserStore, MemoryUserStore, SQLUserStore


class MemoryUserStoreTests(UserStoreContract, TestCase):
    backendKind = "memory"


class SQLiteUserStoreTests(UserStoreContract, TestCase):
    backendKind = "sqlite"


class PostgreSQLUserStoreTests(UserStoreContract, TestCase):
    backendKind = "postgresql"


class IThingStore(Interface):
    """
    A store interface of a made-up plugin.
    """


@implementer(IThingStore)
class ThingStore:
    def __init__(self, backend, domain):
        self.backend, self.domain = backend, domain


class StoreRegistryTests(SynchronousTestCase):
    """
    L{StoreRegistry} picks the implementation matching the backend.
    """

    def test_defaultRegistryUsers(self):
        """
        The default registry opens memory and SQL user stores bound to a domain.
        """
        registry = defaultRegistry()
        memory = registry.open(IUserStore, MemoryDatabase(), "a.example")
        sql = registry.open(IUserStore, Database("sqlite://", None), "b.example")
        self.assertIsInstance(memory, MemoryUserStore)
        self.assertIsInstance(sql, SQLUserStore)
        self.assertEqual((memory.domain, sql.domain), ("a.example", "b.example"))

    def test_defaultRegistryIsNew(self):
        """
        Each call gives a separate registry, so plugins of one server do not
        register into another's.
        """
        first, second = defaultRegistry(), defaultRegistry()
        first.register(IThingStore, ThingStore, ThingStore)
        self.assertIn(IThingStore, first)
        self.assertNotIn(IThingStore, second)

    def test_registerPlugin(self):
        """
        A plugin's factories are called with the backend and the domain.
        """
        registry, backend = StoreRegistry(), MemoryDatabase()
        registry.register(IThingStore, ThingStore, lambda b, d: None)
        store = registry.open(IThingStore, backend, "a.example")
        self.assertIs(store.backend, backend)
        self.assertEqual(store.domain, "a.example")

    def test_unknownInterface(self):
        """
        Opening an unregistered interface names it in the error.
        """
        error = self.assertRaises(
            UnknownStore, StoreRegistry().open, IThingStore, MemoryDatabase(), "x"
        )
        self.assertIsInstance(error, KeyError)
        self.assertIn("IThingStore", str(error))
        self.assertIn("register", str(error))

    def test_unknownBackend(self):
        """
        A backend that is neither kind is refused.
        """
        registry = defaultRegistry()
        self.assertRaises(TypeError, registry.open, IUserStore, object(), "a.example")

    def test_factoryMustProvide(self):
        """
        A factory whose result does not provide the interface is caught.
        """
        registry = StoreRegistry()
        registry.register(IThingStore, lambda b, d: object(), ThingStore)
        self.assertRaises(TypeError, registry.open, IThingStore, MemoryDatabase(), "x")

    def test_registerTwice(self):
        """
        Registering the same factories again is harmless; others are refused.
        """
        registry = StoreRegistry()
        registry.register(IThingStore, ThingStore, ThingStore)
        registry.register(IThingStore, ThingStore, ThingStore)
        self.assertRaises(
            ValueError, registry.register, IThingStore, ThingStore, lambda b, d: None
        )
