"""
What the stores of per-account data share.  This is not a plugin.

Rows belong to an account.  In SQL a foreign key on C{users} refuses rows
for unknown accounts and deletes them with their account (C{ON DELETE
CASCADE}).  The memory stores model the same constraint on the memory
C{users} table that L{jabberd.storage.users.MemoryUserStore} fills: a
write for an unknown account fails with L{NoSuchUser}, and reads ignore
(and drop) the rows of accounts that no longer exist.  Memory cannot see
the deletion itself: an account deleted and created again before its rows
were read would find them.  (Memory backends serve tests and deployments
that keep nothing.)
"""

from sqlalchemy import and_, insert, update
from sqlalchemy.dialects import postgresql, sqlite

from jabberd.storage.users import NoSuchUser, userExistsTxn

_UPSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


class MemoryAccountRows:
    """
    One memory table of one domain, holding one value per account.

    @ivar rows: the table: username to value.
    """

    def __init__(self, backend, name, domain):
        self.rows = backend.table(name, domain)
        self._accounts = backend.table("users", domain)

    def exists(self, username):
        """
        Whether the account exists; if not, forget its value.
        """
        if username in self._accounts:
            return True
        self.rows.pop(username, None)
        return False

    def require(self, username):
        """
        @raise NoSuchUser: the account does not exist.
        """
        if not self.exists(username):
            raise NoSuchUser(username)


def requireAccountTxn(connection, domain, username):
    """
    @raise NoSuchUser: C{username} has no account on C{domain}.
    """
    if not userExistsTxn(connection, domain, username):
        raise NoSuchUser(username)


def upsertTxn(connection, table, keys, values):
    """
    Insert a row of C{table}, or update the row with the same primary key.

    @param keys: the primary key columns' values, by column name.
    @param values: the other columns' values, by column name.
    """
    upsert = _UPSERTS.get(connection.dialect.name)
    if upsert is not None:
        statement = upsert(table).values(**keys, **values)
        connection.execute(statement.on_conflict_do_update(
            index_elements=list(keys), set_=values))
        return
    clause = keyClause(table, **keys)
    if connection.execute(update(table).where(clause)
                          .values(**values)).rowcount == 0:
        connection.execute(insert(table).values(**keys, **values))


def keyClause(table, **keys):
    """
    The C{WHERE} clause matching C{keys} (column name to value).
    """
    return and_(*[table.c[name] == value for name, value in keys.items()])
