"""
Tests for L{jabberd.storage.database}: the SQL L{Database}, its Alembic
schema and its thread pool, on real SQLite files and a real PostgreSQL.
"""

import os
import threading
from contextlib import ExitStack

from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import SynchronousTestCase, TestCase

from jabberd.storage.contract import (
    sqliteURL,
    temporaryDirectory,
    temporaryPostgreSQLSchema,
)
from jabberd.storage.database import (
    Database,
    MemoryDatabase,
    SchemaError,
    safeURL,
)
from jabberd.storage.schema import metadata

TABLES = set(metadata.tables)


def tableNames(database):
    """
    The tables in C{database}, Alembic's own version table left out.
    """
    names = database.runNow(lambda c: inspect(c).get_table_names())
    return set(names) - {"alembic_version"}


class SchemaTestsMixin:
    """
    Migrations and L{Database.checkSchema} on one kind of database.
    """

    def makeDatabase(self):
        raise NotImplementedError()

    def test_freshDatabase(self):
        """
        A fresh database has no revision and no tables.
        """
        database = self.makeDatabase()
        self.assertIsNone(database.currentRevision())
        self.assertEqual(tableNames(database), set())

    def test_upgradeFromEmpty(self):
        """
        Upgrading an empty database creates every table of the metadata and
        records the head revision.
        """
        database = self.makeDatabase()
        database.upgrade()
        self.assertEqual(database.currentRevision(), database.headRevision())
        self.assertEqual(tableNames(database), set(metadata.tables))
        self.assertEqual(set(metadata.tables), TABLES)

    def test_upgradeTwice(self):
        """
        Upgrading a database already at head changes nothing.
        """
        database = self.makeDatabase()
        database.upgrade()
        database.upgrade()
        self.assertEqual(database.currentRevision(), database.headRevision())

    def test_downgradeToBase(self):
        """
        Every migration can be undone, leaving no table behind.
        """
        database = self.makeDatabase()
        database.upgrade()
        with database.engine.begin() as connection:
            command.downgrade(database.alembicConfig(connection), "base")
        self.assertIsNone(database.currentRevision())
        self.assertEqual(tableNames(database), set())

    def test_migrationsMatchMetadata(self):
        """
        The migrated schema is what L{jabberd.storage.schema} describes:
        Alembic's autogenerate finds nothing to change.
        """
        from alembic.autogenerate import compare_metadata
        from alembic.runtime.migration import MigrationContext

        database = self.makeDatabase()
        database.upgrade()

        def compare(connection):
            return compare_metadata(MigrationContext.configure(connection), metadata)

        self.assertEqual(database.runNow(compare), [])

    def test_checkSchemaBehind(self):
        """
        A database behind head is refused without auto-upgrade, with a message
        that names the database and tells the operator what to run.
        """
        database = self.makeDatabase()
        error = self.assertRaises(SchemaError, database.checkSchema, False)
        head = database.headRevision()
        self.assertEqual(
            str(error),
            f"database at {database.safeURL} is at revision None, expected "
            f"{head}: run 'jabberctl db upgrade'",
        )
        self.assertIsNone(database.currentRevision())

    def test_checkSchemaAutoUpgrade(self):
        """
        With auto-upgrade, a database behind head is migrated.
        """
        database = self.makeDatabase()
        database.checkSchema(True)
        self.assertEqual(database.currentRevision(), database.headRevision())
        self.assertEqual(tableNames(database), TABLES)

    def test_checkSchemaAtHead(self):
        """
        A database at head passes the check either way.
        """
        database = self.makeDatabase()
        database.upgrade()
        database.checkSchema(False)
        database.checkSchema(True)

    def test_checkSchemaUnknownRevision(self):
        """
        A revision this jabberd does not know (a newer one migrated the
        database) is refused even with auto-upgrade.
        """
        database = self.makeDatabase()
        database.upgrade()
        database.runNow(
            lambda c: c.execute(text("UPDATE alembic_version SET version_num='f00d'"))
        )
        error = self.assertRaises(SchemaError, database.checkSchema, True)
        self.assertIn("revision f00d", str(error))
        self.assertIn("newer jabberd", str(error))


class SQLiteSchemaTests(SchemaTestsMixin, SynchronousTestCase):
    def makeDatabase(self):
        database = Database(sqliteURL(temporaryDirectory(self)), None)
        self.addCleanup(database.dispose)
        return database

    def test_createsParentDirectory(self):
        """
        The directory of the SQLite file is created on first use, private to
        the server's user.
        """
        directory = os.path.join(temporaryDirectory(self), "deep", "er")
        database = Database(sqliteURL(directory), None)
        self.addCleanup(database.dispose)
        database.upgrade()
        self.assertTrue(os.path.isfile(os.path.join(directory, "jabberd.sqlite")))
        self.assertEqual(os.stat(directory).st_mode & 0o777, 0o700)

    def test_foreignKeys(self):
        """
        SQLite enforces foreign keys: credentials need an account.
        """
        database = self.makeDatabase()
        database.upgrade()
        self.assertEqual(
            database.runNow(lambda c: c.exec_driver_sql("PRAGMA foreign_keys").scalar()),
            1,
        )
        insert = text(
            "INSERT INTO user_credentials VALUES "
            "('a.example', 'ghost', 'SCRAM-SHA-1', x'00', 1, x'00', x'00')"
        )
        self.assertRaises(Exception, database.runNow, lambda c: c.execute(insert))

    def test_inMemory(self):
        """
        An in-memory SQLite database is one database for every thread.
        """
        database = Database("sqlite://", None)
        self.addCleanup(database.dispose)
        database.upgrade()
        names = []
        thread = threading.Thread(target=lambda: names.append(tableNames(database)))
        thread.start()
        thread.join()
        self.assertEqual(names, [TABLES])


class PostgreSQLSchemaTests(SchemaTestsMixin, SynchronousTestCase):
    def makeDatabase(self):
        stack = ExitStack()
        self.addCleanup(stack.close)
        database = Database(stack.enter_context(temporaryPostgreSQLSchema()), None)
        stack.callback(database.dispose)
        return database

    def test_passwordNotShown(self):
        """
        Messages name the database without its password.
        """
        database = Database("postgresql+psycopg://jabberd:s3cret@db.example/xmpp", None)
        self.assertEqual(database.safeURL, "postgresql+psycopg://jabberd@db.example/xmpp")
        self.assertNotIn("s3cret", repr(database))


class PoolSizeTests(SynchronousTestCase):
    """
    SQLite allows one writer at a time; other databases get a pool of four.
    """

    def test_sqlite(self):
        self.assertEqual(Database("sqlite:///x.sqlite", None).poolSize, 1)

    def test_postgresql(self):
        self.assertEqual(Database("postgresql+psycopg://h/db", None).poolSize, 4)

    def test_explicit(self):
        self.assertEqual(Database("sqlite://", None, poolSize=3).poolSize, 3)


class URLTests(SynchronousTestCase):
    def test_urlObject(self):
        """
        A L{sqlalchemy.engine.URL} is accepted, its password kept for use.
        """
        text = "postgresql+psycopg://jabberd:s3cret@db.example/xmpp"
        self.assertEqual(Database(make_url(text), None).url, text)

    def test_noPassword(self):
        """
        A URL without a password is unchanged.
        """
        self.assertEqual(safeURL("sqlite:////var/db.sqlite"), "sqlite:////var/db.sqlite")


class InteractionTests(TestCase):
    """
    L{Database.runInteraction} runs SQL on the pool, off the reactor thread.
    """

    def setUp(self):
        from twisted.internet import reactor

        self.database = Database(sqliteURL(temporaryDirectory(self)), reactor)
        self.database.upgrade()
        self.database.startService()
        self.addCleanup(self.database.stopService)

    @inlineCallbacks
    def test_offThread(self):
        """
        The function runs on another thread; its result arrives on this one.
        """
        caller = threading.get_ident()
        worker = yield self.database.runInteraction(lambda c: threading.get_ident())
        self.assertNotEqual(worker, caller)
        self.assertEqual(threading.get_ident(), caller)

    def test_runNowInThread(self):
        """
        L{Database.runNow} runs the function in the calling thread.
        """
        caller = threading.get_ident()
        self.assertEqual(self.database.runNow(lambda c: threading.get_ident()), caller)

    @inlineCallbacks
    def test_arguments(self):
        """
        Positional and keyword arguments follow the connection.
        """
        result = yield self.database.runInteraction(
            lambda c, a, b=None: (c.execute(text("SELECT 1")).scalar(), a, b), 2, b=3
        )
        self.assertEqual(result, (1, 2, 3))

    @inlineCallbacks
    def test_rollbackOnError(self):
        """
        An exception rolls the transaction back and fails the Deferred.
        """

        def failing(connection):
            connection.execute(text("INSERT INTO users VALUES ('a.example', 'x')"))
            raise ZeroDivisionError()

        yield self.assertFailure(self.database.runInteraction(failing), ZeroDivisionError)
        count = yield self.database.runInteraction(
            lambda c: c.execute(text("SELECT count(*) FROM users")).scalar()
        )
        self.assertEqual(count, 0)

    @inlineCallbacks
    def test_restart(self):
        """
        A stopped database can be started again.
        """
        self.database.stopService()
        self.assertIsNone(self.database._engine)
        self.database.startService()
        self.assertEqual((yield self.database.runInteraction(lambda c: 7)), 7)


class QueuedBeforeStartTests(TestCase):
    @inlineCallbacks
    def test_queued(self):
        """
        An interaction issued before the service starts runs once it does.
        """
        from twisted.internet import reactor

        database = Database("sqlite://", reactor)
        d = database.runInteraction(lambda c: c.execute(text("SELECT 5")).scalar())
        database.startService()
        self.addCleanup(database.stopService)
        self.assertEqual((yield d), 5)


class MemoryDatabaseTests(SynchronousTestCase):
    def test_tablesPerDomain(self):
        """
        Each (table, domain) pair has its own dictionary, kept between calls.
        """
        backend = MemoryDatabase()
        backend.table("users", "a.example")["alice"] = 1
        self.assertEqual(backend.table("users", "a.example"), {"alice": 1})
        self.assertEqual(backend.table("users", "b.example"), {})
        self.assertEqual(backend.table("roster", "a.example"), {})

    def test_checkSchema(self):
        """
        Memory has no schema: the check always passes.
        """
        self.assertIsNone(MemoryDatabase().checkSchema(False))
