"""
Storage of rosters (RFC 6121 section 2) and pending subscription requests.

Rosters are read whole into memory (L{jabberd.roster.Roster}) and written
one change at a time; the presence and roster plugins never query this
store while routing stanzas.
"""

import json

from sqlalchemy import and_, case, delete, insert, select, update
from twisted.internet.defer import succeed
from zope.interface import Interface, implementer

from jabberd.roster import Roster, RosterItem
from jabberd.storage.schema import (
    pendingSubscriptions, rosterItems, rosterVersions)


class IRosterStore(Interface):
    """
    The rosters of one domain's users.
    """

    def loadRoster(user):
        """
        @return: a L{Deferred} firing with the user's L{Roster} (empty if
            the user has none yet).
        """

    def saveItem(user, item):
        """
        Insert or replace C{item} (a L{RosterItem} carrying its version)
        and raise the roster's version to the item's.
        """

    def removeItem(user, contact, version):
        """
        Remove C{contact}, remembering the removal at C{version} (for
        versioned pushes, section 2.6), and raise the roster's version to
        C{version}.
        """

    def setPending(user, contact, stanza):
        """
        Remember the serialised subscription request C{stanza} from
        C{contact}, or forget it if C{stanza} is C{None}.
        """


@implementer(IRosterStore)
class MemoryRosterStore:
    """
    Rosters in a L{MemoryDatabase}: deep copies of what would be stored.
    """

    def __init__(self, backend, domain):
        self.domain = domain
        self._rosters = backend.table("rosters", domain)

    def _roster(self, user):
        return self._rosters.setdefault(user, Roster(user))

    def loadRoster(self, user):
        stored = self._roster(user)
        return succeed(Roster(user, stored.version, dict(stored.items),
                              dict(stored.removed), dict(stored.pending)))

    def saveItem(self, user, item):
        roster = self._roster(user)
        roster.put(item)
        roster.version = max(roster.version, item.version)
        return succeed(None)

    def removeItem(self, user, contact, version):
        roster = self._roster(user)
        roster.items.pop(contact, None)
        roster.removed[contact] = version
        roster.version = max(roster.version, version)
        return succeed(None)

    def setPending(self, user, contact, stanza):
        pending = self._roster(user).pending
        if stanza is None:
            pending.pop(contact, None)
        else:
            pending[contact] = stanza
        return succeed(None)


def _owner(table, domain, user):
    return and_(table.c.domain == domain, table.c.username == user)


def _itemOf(row):
    return RosterItem(row.contact, row.name, tuple(json.loads(row.groups)),
                      row.subscription, row.ask, row.approved, row.version)


def loadRosterTxn(connection, domain, user):
    """
    Read one user's roster, versions and pending requests.
    """
    roster = Roster(user)
    version = connection.execute(select(rosterVersions.c.version).where(
        _owner(rosterVersions, domain, user))).scalar()
    roster.version = version or 0
    for row in connection.execute(select(rosterItems).where(
            _owner(rosterItems, domain, user))):
        if row.subscription == "remove":
            roster.removed[row.contact] = row.version
        else:
            roster.items[row.contact] = _itemOf(row)
    for row in connection.execute(select(pendingSubscriptions).where(
            _owner(pendingSubscriptions, domain, user))):
        roster.pending[row.contact] = row.stanza
    return roster


def _upsert(connection, table, key, values):
    """
    Update the row matching C{key} or insert it.
    """
    clause = and_(*[table.c[k] == v for k, v in key.items()])
    if connection.execute(update(table).where(clause).values(
            **values)).rowcount == 0:
        connection.execute(insert(table).values(**key, **values))


def _setVersion(connection, domain, user, version):
    """
    Raise the roster's version to C{version} (it never goes back).
    """
    column = rosterVersions.c.version
    owner = _owner(rosterVersions, domain, user)
    if connection.execute(update(rosterVersions).where(owner).values(
            version=case((column < version, version),
                         else_=column))).rowcount == 0:
        connection.execute(insert(rosterVersions).values(
            domain=domain, username=user, version=version))


def saveItemTxn(connection, domain, user, item):
    _upsert(connection, rosterItems,
            {"domain": domain, "username": user, "contact": item.jid},
            {"name": item.name, "groups": json.dumps(list(item.groups)),
             "subscription": item.subscription, "ask": item.ask,
             "approved": item.approved, "version": item.version})
    _setVersion(connection, domain, user, item.version)


def removeItemTxn(connection, domain, user, contact, version):
    _upsert(connection, rosterItems,
            {"domain": domain, "username": user, "contact": contact},
            {"name": None, "groups": "[]", "subscription": "remove",
             "ask": False, "approved": False, "version": version})
    _setVersion(connection, domain, user, version)


def setPendingTxn(connection, domain, user, contact, stanza):
    key = {"domain": domain, "username": user, "contact": contact}
    if stanza is None:
        connection.execute(delete(pendingSubscriptions).where(
            _owner(pendingSubscriptions, domain, user),
            pendingSubscriptions.c.contact == contact))
    else:
        _upsert(connection, pendingSubscriptions, key, {"stanza": stanza})


@implementer(IRosterStore)
class SQLRosterStore:
    """
    Rosters in the C{roster_items}, C{roster_versions} and
    C{pending_subscriptions} tables.
    """

    def __init__(self, database, domain):
        self.domain = domain
        self._database = database

    def _run(self, fn, *args):
        return self._database.runInteraction(fn, self.domain, *args)

    def loadRoster(self, user):
        return self._run(loadRosterTxn, user)

    def saveItem(self, user, item):
        return self._run(saveItemTxn, user, item)

    def removeItem(self, user, contact, version):
        return self._run(removeItemTxn, user, contact, version)

    def setPending(self, user, contact, stanza):
        return self._run(setPendingTxn, user, contact, stanza)
