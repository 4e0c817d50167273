"""
The database behind jabberd's stores, and its schema revision.

A L{Database} wraps one SQLAlchemy engine (SQLite by default, PostgreSQL by
URL) and a thread pool of its own: SQL never runs on the reactor thread.
Stores pass plain synchronous functions of a connection to
L{Database.runInteraction} and get a L{Deferred} back, the way Synapse's
C{runInteraction} does.  The CLI, which has no reactor, uses
L{Database.runNow} with the same functions.

The schema is under Alembic (L{jabberd.storage.migrations}); no
C{alembic.ini} is involved.

L{MemoryDatabase} is the backend of the memory stores used by tests and
zero-persistence deployments.
"""

import os
import threading

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool
from twisted.application.service import Service
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")


class SchemaError(Exception):
    """
    The database schema is not at the revision this jabberd expects.

    C{str(error)} is a message for the operator that says what to run.
    """


def safeURL(url):
    """
    C{url} as text fit for logs and messages: without its password.

    @param url: a SQLAlchemy URL, as text or L{sqlalchemy.engine.URL}
    @rtype: C{str}
    """
    url = make_url(url)._replace(password=None)
    return url.render_as_string(hide_password=False)


def isSQLite(url):
    """
    Whether C{url} names an SQLite database.
    """
    return make_url(url).get_backend_name() == "sqlite"


def sqliteFile(url):
    """
    The file path of an SQLite URL, or C{None} for an in-memory database or
    another kind of database.
    """
    if not isSQLite(url):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def _enableForeignKeys(dbapiConnection, connectionRecord):
    """
    SQLite enforces C{FOREIGN KEY} constraints only when asked, per connection.
    """
    cursor = dbapiConnection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def createEngine(url, poolSize=5):
    """
    Build the engine for C{url}, keeping up to C{poolSize} connections open.
    """
    if isSQLite(url):
        return createSQLiteEngine(url)
    return create_engine(url, pool_pre_ping=True, pool_size=poolSize)


def createSQLiteEngine(url):
    """
    Build an SQLite engine: create the file's parent directory (private to
    the server's user: the file holds credentials), enable foreign keys on
    every connection, and keep an in-memory database on one shared
    connection so that every thread sees the same data.
    """
    path = sqliteFile(url)
    options = {}
    if path is None:
        options = dict(poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
    engine = create_engine(url, **options)
    event.listen(engine, "connect", _enableForeignKeys)
    return engine


class Database(Service):
    """
    An SQL database: an engine, a thread pool to use it from, and its schema.

    The engine is created on first use and disposed when the service stops,
    so each server (or test) owns its own; there is no module-global engine.

    @ivar url: the SQLAlchemy URL, e.g. C{sqlite:////var/lib/jabberd/db.sqlite}
        or C{postgresql+psycopg://jabberd@db/jabberd}.
    @ivar poolSize: the number of threads (and so of connections in use at once).
    """

    def __init__(self, url, reactor, poolSize=None):
        """
        @param url: the SQLAlchemy URL of the database.
        @param reactor: the reactor that receives L{runInteraction} results;
            may be C{None} when only the synchronous methods are used (CLI).
        @param poolSize: threads in the pool; SQLite defaults to 1, since it
            allows one writer at a time, anything else to 4.
        """
        if not isinstance(url, str):
            url = url.render_as_string(hide_password=False)
        self.url = url
        self._reactor = reactor
        if poolSize is None:
            poolSize = 1 if isSQLite(self.url) else 4
        self.poolSize = poolSize
        self._engine = None
        self._engineLock = threading.Lock()
        self._threadpool = self._makeThreadPool()

    def __repr__(self):
        return f"<Database {safeURL(self.url)}>"

    def _makeThreadPool(self):
        return ThreadPool(minthreads=0, maxthreads=self.poolSize, name="jabberd-db")

    @property
    def safeURL(self):
        """
        The URL without its password, for messages.
        """
        return safeURL(self.url)

    @property
    def engine(self):
        """
        The SQLAlchemy engine, created on first use.
        """
        with self._engineLock:
            if self._engine is None:
                self._engine = createEngine(self.url, self.poolSize)
            return self._engine

    def startService(self):
        """
        Start the thread pool; interactions queued before now start running.
        """
        Service.startService(self)
        self._threadpool.start()

    def stopService(self):
        """
        Wait for running interactions, stop the pool and close all connections.
        """
        Service.stopService(self)
        self._threadpool.stop()
        self._threadpool = self._makeThreadPool()
        self.dispose()

    def dispose(self):
        """
        Close the engine's connections; the next use opens new ones.
        """
        with self._engineLock:
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()

    def runInteraction(self, fn, *args, **kw):
        """
        Run C{fn(connection, *args, **kw)} in one transaction on a pool thread.

        The transaction commits if C{fn} returns and rolls back if it raises.
        Interactions issued before L{startService} wait for the pool to start.

        @return: a L{Deferred} that fires, on the reactor thread, with
            C{fn}'s result or its exception.
        """
        return deferToThreadPool(
            self._reactor, self._threadpool, self.runNow, fn, *args, **kw
        )

    def runNow(self, fn, *args, **kw):
        """
        Run C{fn(connection, *args, **kw)} in one transaction, in this thread.

        For the CLI and start-up code that may block; never call it on the
        reactor thread of a running server.
        """
        with self.engine.begin() as connection:
            return fn(connection, *args, **kw)

    def alembicConfig(self, connection=None):
        """
        An Alembic configuration for this database, built without an ini file.

        @param connection: the connection C{env.py} migrates; needed by every
            command that touches the database.
        """
        config = Config()
        config.set_main_option("script_location", MIGRATIONS.replace("%", "%%"))
        config.attributes["connection"] = connection
        return config

    def currentRevision(self):
        """
        The schema revision the database is at, or C{None} if it has none.
        """
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def headRevision(self):
        """
        The schema revision this version of jabberd expects.
        """
        return ScriptDirectory.from_config(self.alembicConfig()).get_current_head()

    def upgrade(self):
        """
        Apply every pending migration, in one transaction where the database
        allows transactional DDL.
        """
        with self.engine.begin() as connection:
            command.upgrade(self.alembicConfig(connection), "head")

    def checkSchema(self, autoUpgrade):
        """
        Make sure the schema is at the head revision before the server uses it.

        @param autoUpgrade: upgrade an empty or outdated database instead of
            refusing it.
        @raise SchemaError: if the schema is behind and C{autoUpgrade} is
            false, or the revision is unknown to this jabberd (a newer one
            migrated it).
        """
        current, head = self.currentRevision(), self.headRevision()
        if current == head:
            return
        if current is not None and not self.isKnownRevision(current):
            raise SchemaError(
                f"database at {self.safeURL} is at revision {current}, which this "
                f"jabberd does not know (expected {head}): was it migrated by a "
                f"newer jabberd?"
            )
        if not autoUpgrade:
            raise SchemaError(
                f"database at {self.safeURL} is at revision {current}, expected "
                f"{head}: run 'jabberctl db upgrade'"
            )
        self.upgrade()

    def isKnownRevision(self, revision):
        """
        Whether C{revision} is one of this jabberd's migrations.
        """
        scripts = ScriptDirectory.from_config(self.alembicConfig())
        return any(script.revision == revision for script in scripts.walk_revisions())


class MemoryDatabase(Service):
    """
    The backend of memory stores: plain dictionaries, lost on exit.

    Stores of every domain share one instance and each keeps its rows in
    L{table}C{(name, domain)}, so a store bound to one domain cannot reach
    another's.  It offers the service and schema methods of L{Database} as
    no-ops so a server can treat both backends alike.
    """

    url = "memory:"
    safeURL = url

    def __init__(self):
        self.tables = {}

    def __repr__(self):
        return "<MemoryDatabase>"

    def table(self, name, domain):
        """
        The dictionary holding table C{name} for C{domain}, created empty.
        """
        return self.tables.setdefault((name, domain), {})

    def checkSchema(self, autoUpgrade):
        """
        Memory has no schema to check.
        """
