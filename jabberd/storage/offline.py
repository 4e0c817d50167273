"""
Messages kept for users who have no available resource (XEP-0160).

When a C{chat} or C{normal} message reaches a local user with no available
resource of non-negative priority, RFC 6121 section 8.5.2.2.1 lets the
server store it for later delivery; XEP-0160 section 2 delivers it when the
user next sends available presence.  A store holds each such message as
the stanza's XML text with the time it arrived, in arrival order, per
account of one domain.

Messages belong to an account: storing for an account that does not exist
fails with L{NoSuchUser}, and the SQL rows go with the account when it is
deleted (the table's foreign key cascades).

The SQL functions (C{*Txn}) are public so tools can run them synchronously
with L{jabberd.storage.database.Database.runNow}.
"""

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from twisted.internet.defer import fail, succeed
from zope.interface import Attribute, Interface, implementer

from jabberd.storage.schema import offlineMessages
from jabberd.storage.users import NoSuchUser


class IOfflineStore(Interface):
    """
    The stored offline messages of one domain's accounts.

    Usernames are normalised localparts, compared exactly.
    """

    domain = Attribute("the domain this store is bound to")

    def store(user, stanzaXML, stamp):
        """
        Keep one message for C{user}, after every message kept before.

        @param stanzaXML: the message stanza as XML text (C{str}).
        @param stamp: when it arrived, in seconds since the epoch (C{float}).
        @return: a L{Deferred} firing with C{None}, or failing with
            L{NoSuchUser} if the account does not exist.
        """

    def count(user):
        """
        @return: a L{Deferred} firing with the number of messages kept for
            C{user}.
        """

    def fetch(user):
        """
        The messages kept for C{user}, oldest first.  They stay stored
        until L{delete}d.

        @return: a L{Deferred} firing with a C{list} of C{(id, stanzaXML,
            stamp)} tuples; the ids are integers that increase in arrival
            order.
        """

    def delete(user, ids):
        """
        Forget the messages of C{user} with the given ids (from L{fetch});
        ids that are unknown or belong to another account are ignored.

        @return: a L{Deferred} firing with C{None}.
        """


@implementer(IOfflineStore)
class MemoryOfflineStore:
    """
    Offline messages kept in a L{MemoryDatabase}; every result is already
    fired.

    The table maps a username to a C{list} of C{(id, stanzaXML, stamp)};
    ids come from one counter per domain.  Account existence is read from
    the memory user store's C{users} table on the same backend (so, unlike
    SQL, deleting an account there does not delete its messages).
    """

    def __init__(self, backend, domain):
        self.domain = domain
        self._messages = backend.table("offline_messages", domain)
        self._accounts = backend.table("users", domain)
        self._sequence = backend.table("offline_messages_sequence", domain)

    def store(self, user, stanzaXML, stamp):
        if user not in self._accounts:
            return fail(NoSuchUser(user))
        row = (self._nextID(), stanzaXML, float(stamp))
        self._messages.setdefault(user, []).append(row)
        return succeed(None)

    def _nextID(self):
        self._sequence["last"] = self._sequence.get("last", 0) + 1
        return self._sequence["last"]

    def count(self, user):
        return succeed(len(self._messages.get(user, ())))

    def fetch(self, user):
        return succeed(list(self._messages.get(user, ())))

    def delete(self, user, ids):
        ids = set(ids)
        kept = [row for row in self._messages.get(user, ())
                if row[0] not in ids]
        if kept:
            self._messages[user] = kept
        else:
            self._messages.pop(user, None)
        return succeed(None)


def _ownerClause(domain, user):
    table = offlineMessages
    return (table.c.domain == domain) & (table.c.username == user)


def storeTxn(connection, domain, user, stanzaXML, stamp):
    """
    Insert one message for C{user}.

    @raise IntegrityError: the account does not exist (foreign key).
    """
    connection.execute(insert(offlineMessages).values(
        domain=domain, username=user, stamp=float(stamp), stanza=stanzaXML))


def countTxn(connection, domain, user):
    """
    The number of messages stored for C{user}.
    """
    query = select(func.count()).select_from(offlineMessages).where(
        _ownerClause(domain, user))
    return connection.execute(query).scalar()


def fetchTxn(connection, domain, user):
    """
    The messages of C{user} as C{(id, stanzaXML, stamp)}, oldest first.
    """
    table = offlineMessages
    query = select(table.c.id, table.c.stanza, table.c.stamp).where(
        _ownerClause(domain, user)).order_by(table.c.id)
    return [(row.id, row.stanza, row.stamp)
            for row in connection.execute(query)]


def deleteTxn(connection, domain, user, ids):
    """
    Delete the messages of C{user} whose id is in C{ids}.
    """
    ids = list(ids)
    if not ids:
        return
    connection.execute(delete(offlineMessages).where(
        _ownerClause(domain, user) & offlineMessages.c.id.in_(ids)))


def _noSuchUser(failure, user):
    """
    The foreign key refused a message for an account that does not exist.
    """
    failure.trap(IntegrityError)
    raise NoSuchUser(user)


@implementer(IOfflineStore)
class SQLOfflineStore:
    """
    Offline messages in the C{offline_messages} table of a L{Database}.
    """

    def __init__(self, database, domain):
        self.domain = domain
        self._database = database

    def _run(self, fn, *args):
        return self._database.runInteraction(fn, self.domain, *args)

    def store(self, user, stanzaXML, stamp):
        d = self._run(storeTxn, user, stanzaXML, stamp)
        return d.addErrback(_noSuchUser, user)

    def count(self, user):
        return self._run(countTxn, user)

    def fetch(self, user):
        return self._run(fetchTxn, user)

    def delete(self, user, ids):
        return self._run(deleteTxn, user, list(ids))
