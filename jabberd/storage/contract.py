"""
Backends and contract tests for store implementations.

A store interface has one contract and several implementations; the same
tests must pass on each (idavoll's storage test mixin).  This module is
public API for plugin authors:

  - L{migratedBackend} gives a fresh backend of each kind with the schema
    migrated: memory, an SQLite file in a directory, or a PostgreSQL schema
    made for the occasion and dropped afterwards.
  - L{BackendMixin} does that in C{setUp} of a C{twisted.trial} test case.
  - L{UserStoreContract} is the contract of L{IUserStore}, and the model of
    a plugin's own contract.

A plugin's tests then read::

    class MemoryRosterStoreTests(RosterStoreContract, TestCase):
        backendKind = "memory"
    class SQLiteRosterStoreTests(RosterStoreContract, TestCase):
        backendKind = "sqlite"
    class PostgreSQLRosterStoreTests(RosterStoreContract, TestCase):
        backendKind = "postgresql"

PostgreSQL comes from C{$JABBERD_TEST_POSTGRESQL} (default L{DEFAULT_POSTGRESQL}).
If it cannot be reached the PostgreSQL tests fail with L{BackendUnavailable}:
they are never skipped, so a missing database cannot pass for a green run.
"""

import os
import shutil
import tempfile
import uuid
from contextlib import ExitStack, contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from twisted.internet.defer import inlineCallbacks
from zope.interface.verify import verifyObject

from jabberd.credentials import deriveCredentials, verifyPassword
from jabberd.storage.database import Database, MemoryDatabase, safeURL
from jabberd.storage.registry import defaultRegistry
from jabberd.storage.users import IUserStore, NoSuchUser, UserExists

POSTGRESQL_ENV = "JABBERD_TEST_POSTGRESQL"
DEFAULT_POSTGRESQL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

#: The kinds of backend every store must work on.
BACKEND_KINDS = ("memory", "sqlite", "postgresql")


class BackendUnavailable(Exception):
    """
    A test backend cannot be reached; the message says how to provide one.
    """


def postgresqlURL():
    """
    The PostgreSQL server tests use: C{$JABBERD_TEST_POSTGRESQL} or the default.
    """
    return os.environ.get(POSTGRESQL_ENV) or DEFAULT_POSTGRESQL


def sqliteURL(directory):
    """
    The URL of an SQLite database file inside C{directory}.
    """
    return "sqlite:///" + os.path.join(os.path.abspath(directory), "jabberd.sqlite")


def _withSearchPath(url, schema):
    """
    C{url} with libpq C{options} making C{schema} the only search path, so
    every table, Alembic's included, is created and found there.
    """
    url = make_url(url)
    options = f"{url.query.get('options', '')} -csearch_path={schema}".strip()
    return url.update_query_dict({"options": options})


def _adminEngine(url):
    try:
        return create_engine(url, connect_args={"connect_timeout": 5})
    except ImportError as e:
        raise BackendUnavailable(
            f"cannot use PostgreSQL ({e}): install jabberd[test] for psycopg"
        ) from e


def _execute(engine, statement):
    with engine.begin() as connection:
        connection.execute(text(statement))


@contextmanager
def temporaryPostgreSQLSchema(url=None):
    """
    Make a fresh, uniquely named schema and drop it (with its tables) on exit.

    @param url: the server; L{postgresqlURL} if C{None}.
    @return: a context manager giving the URL, as text, of a database whose
        connections see only the new schema.
    @raise BackendUnavailable: if the server cannot be reached.
    """
    url = url or postgresqlURL()
    schema = f"jabberd_test_{uuid.uuid4().hex[:16]}"
    engine = _adminEngine(url)
    try:
        _execute(engine, f'CREATE SCHEMA "{schema}"')
    except DBAPIError as e:
        engine.dispose()
        reason = " ".join(str(e.orig).split())
        raise BackendUnavailable(
            f"PostgreSQL at {safeURL(url)} is unreachable ({reason}): start it or "
            f"set {POSTGRESQL_ENV} to a reachable postgresql+psycopg:// URL"
        ) from e
    try:
        yield _withSearchPath(url, schema).render_as_string(hide_password=False)
    finally:
        _execute(engine, f'DROP SCHEMA "{schema}" CASCADE')
        engine.dispose()


@contextmanager
def runningDatabase(url, reactor):
    """
    A started L{Database} at C{url} with the schema migrated; stopped on exit.
    """
    database = Database(url, reactor)
    try:
        database.upgrade()
        database.startService()
        yield database
    finally:
        if database.running:
            database.stopService()
        database.dispose()


@contextmanager
def migratedBackend(kind, directory, reactor):
    """
    A fresh backend of one kind, ready for stores.

    @param kind: one of L{BACKEND_KINDS}.
    @param directory: an existing directory for the SQLite file.
    @param reactor: the reactor that receives SQL results.
    @return: a context manager giving a L{MemoryDatabase} or a started
        L{Database}; its data is gone on exit.
    """
    with ExitStack() as stack:
        if kind == "memory":
            yield MemoryDatabase()
            return
        if kind == "sqlite":
            url = sqliteURL(directory)
        elif kind == "postgresql":
            url = stack.enter_context(temporaryPostgreSQLSchema())
        else:
            raise ValueError(f"unknown backend kind {kind!r}: use one of {BACKEND_KINDS}")
        yield stack.enter_context(runningDatabase(url, reactor))


def temporaryDirectory(testCase):
    """
    A new directory outside the working tree, removed after C{testCase}.

    (C{TestCase.mktemp} makes its directories in the current directory when
    the tests run under pytest rather than trial.)
    """
    directory = tempfile.mkdtemp(prefix="jabberd-test-")
    testCase.addCleanup(shutil.rmtree, directory, ignore_errors=True)
    return directory


class BackendMixin:
    """
    Give a C{twisted.trial.unittest.TestCase} a fresh backend per test.

    @cvar backendKind: one of L{BACKEND_KINDS}; set by each concrete class.
    @ivar backend: the backend of the running test.
    """

    backendKind = None

    def setUp(self):
        from twisted.internet import reactor

        directory = temporaryDirectory(self)
        stack = ExitStack()
        self.addCleanup(stack.close)
        self.backend = stack.enter_context(
            migratedBackend(self.backendKind, directory, reactor)
        )
        return super().setUp()

    def openStore(self, iface, domain, registry=None):
        """
        A store for C{iface} on this test's backend, bound to C{domain}.
        """
        registry = registry or defaultRegistry()
        return registry.open(iface, self.backend, domain)


_credentialCache = {}


def credentialsFor(password):
    """
    Credentials for C{password}, derived once per test run (PBKDF2 is slow).
    """
    if password not in _credentialCache:
        _credentialCache[password] = deriveCredentials(password)
    return _credentialCache[password]


class UserStoreContract(BackendMixin):
    """
    What every L{IUserStore} implementation must do.
    """

    def userStore(self, domain="a.example"):
        return self.openStore(IUserStore, domain)

    def test_interface(self):
        """
        The store provides L{IUserStore} and is bound to its domain.
        """
        store = self.userStore("a.example")
        self.assertTrue(verifyObject(IUserStore, store))
        self.assertEqual(store.domain, "a.example")

    @inlineCallbacks
    def test_createUser(self):
        """
        A created account exists and holds one credential per mechanism.
        """
        store, credentials = self.userStore(), credentialsFor("s3cret")
        yield store.createUser("alice", credentials)
        self.assertTrue((yield store.userExists("alice")))
        for mechanism, expected in credentials.items():
            credential = yield store.getCredential("alice", mechanism)
            self.assertEqual(credential, expected)
            self.assertIsInstance(credential.storedKey, bytes)
            self.assertTrue(verifyPassword("s3cret", credential))

    @inlineCallbacks
    def test_userExistsUnknown(self):
        """
        An account never created does not exist.
        """
        self.assertFalse((yield self.userStore().userExists("nobody")))

    @inlineCallbacks
    def test_getCredentialUnknownUser(self):
        """
        Looking up the credential of an unknown account gives C{None}.
        """
        store = self.userStore()
        self.assertIsNone((yield store.getCredential("nobody", "SCRAM-SHA-256")))

    @inlineCallbacks
    def test_getCredentialUnknownMechanism(self):
        """
        An account has no credential for a mechanism it was not given.
        """
        store = self.userStore()
        yield store.createUser("alice", credentialsFor("s3cret"))
        self.assertIsNone((yield store.getCredential("alice", "SCRAM-SHA-512")))

    @inlineCallbacks
    def test_createUserTwice(self):
        """
        Creating an existing account fails and keeps its credentials.
        """
        store = self.userStore()
        yield store.createUser("alice", credentialsFor("first"))
        yield self.assertFailure(
            store.createUser("alice", credentialsFor("second")), UserExists
        )
        credential = yield store.getCredential("alice", "SCRAM-SHA-256")
        self.assertTrue(verifyPassword("first", credential))

    @inlineCallbacks
    def test_createUserWithoutCredentials(self):
        """
        An account may have no credentials (it cannot log in with a password).
        """
        store = self.userStore()
        yield store.createUser("alice", {})
        self.assertTrue((yield store.userExists("alice")))
        self.assertIsNone((yield store.getCredential("alice", "SCRAM-SHA-1")))

    def test_mismatchedCredentials(self):
        """
        A credential filed under another mechanism's name is refused.
        """
        credentials = credentialsFor("s3cret")
        wrong = {"SCRAM-SHA-1": credentials["SCRAM-SHA-256"]}
        return self.assertFailure(
            self.userStore().createUser("alice", wrong), ValueError
        )

    @inlineCallbacks
    def test_setCredentials(self):
        """
        Setting credentials replaces all of them: the old password stops
        working and mechanisms left out are gone.
        """
        store = self.userStore()
        yield store.createUser("alice", credentialsFor("old"))
        new = credentialsFor("new")
        yield store.setCredentials("alice", {"SCRAM-SHA-256": new["SCRAM-SHA-256"]})
        credential = yield store.getCredential("alice", "SCRAM-SHA-256")
        self.assertEqual(credential, new["SCRAM-SHA-256"])
        self.assertFalse(verifyPassword("old", credential))
        self.assertIsNone((yield store.getCredential("alice", "SCRAM-SHA-1")))

    def test_setCredentialsNoSuchUser(self):
        """
        Setting the credentials of an unknown account fails.
        """
        d = self.userStore().setCredentials("nobody", credentialsFor("x"))
        return self.assertFailure(d, NoSuchUser)

    @inlineCallbacks
    def test_deleteUser(self):
        """
        A deleted account is gone with its credentials, and can be created anew.
        """
        store = self.userStore()
        yield store.createUser("alice", credentialsFor("old"))
        yield store.createUser("bob", credentialsFor("bob"))
        yield store.deleteUser("alice")
        self.assertFalse((yield store.userExists("alice")))
        self.assertIsNone((yield store.getCredential("alice", "SCRAM-SHA-1")))
        self.assertEqual((yield store.listUsers()), ["bob"])
        yield store.createUser("alice", credentialsFor("new"))
        credential = yield store.getCredential("alice", "SCRAM-SHA-1")
        self.assertTrue(verifyPassword("new", credential))

    def test_deleteUserNoSuchUser(self):
        """
        Deleting an unknown account fails.
        """
        return self.assertFailure(self.userStore().deleteUser("nobody"), NoSuchUser)

    @inlineCallbacks
    def test_listUsersEmpty(self):
        """
        A domain without accounts lists none.
        """
        self.assertEqual((yield self.userStore().listUsers()), [])

    @inlineCallbacks
    def test_listUsersSorted(self):
        """
        Usernames are listed in code point order whatever the database
        collation, and non-ASCII localparts survive the round trip.
        """
        store = self.userStore()
        for name in ["zoë", "émile", "bob", "alice", "alice.b"]:
            yield store.createUser(name, {})
        self.assertEqual(
            (yield store.listUsers()), ["alice", "alice.b", "bob", "zoë", "émile"]
        )
        self.assertTrue((yield store.userExists("émile")))

    @inlineCallbacks
    def test_usernamesAreExact(self):
        """
        The store does not normalise: differently cased names are different.
        """
        store = self.userStore()
        yield store.createUser("alice", {})
        self.assertFalse((yield store.userExists("Alice")))

    @inlineCallbacks
    def test_domainIsolation(self):
        """
        A store bound to one domain neither sees nor changes another's accounts.
        """
        a, b = self.userStore("a.example"), self.userStore("b.example")
        yield a.createUser("alice", credentialsFor("on-a"))
        self.assertFalse((yield b.userExists("alice")))
        self.assertIsNone((yield b.getCredential("alice", "SCRAM-SHA-256")))
        self.assertEqual((yield b.listUsers()), [])
        yield self.assertFailure(b.deleteUser("alice"), NoSuchUser)
        yield self.assertFailure(
            b.setCredentials("alice", credentialsFor("x")), NoSuchUser
        )
        yield b.createUser("alice", credentialsFor("on-b"))
        yield b.deleteUser("alice")
        credential = yield a.getCredential("alice", "SCRAM-SHA-256")
        self.assertTrue(verifyPassword("on-a", credential))
        self.assertEqual((yield a.listUsers()), ["alice"])
