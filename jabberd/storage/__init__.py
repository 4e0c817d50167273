"""
jabberd's storage: per-domain stores on memory or SQL backends.

  - L{database}: the SQL L{Database} (engine, thread pool, Alembic schema)
    and the L{MemoryDatabase}.
  - L{schema}: the built-in tables.
  - L{registry}: which store implementation serves which interface.
  - L{users}: accounts and their SCRAM credentials.
  - L{contract}: backends and contract tests for store authors.
"""

from jabberd.storage.database import Database, MemoryDatabase, SchemaError
from jabberd.storage.registry import StoreRegistry, UnknownStore, defaultRegistry

__all__ = [
    "Database",
    "MemoryDatabase",
    "SchemaError",
    "StoreRegistry",
    "UnknownStore",
    "defaultRegistry",
]
