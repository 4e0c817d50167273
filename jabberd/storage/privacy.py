"""
Storage of privacy lists (XEP-0016) and, through the default list, of the
blocklist (XEP-0191 section 5: one back-end store for both protocols).

A user's lists are read whole into memory (L{jabberd.privacy.Privacy})
when the user binds a resource, or when a stanza for an offline user
needs them, and written one change at a time; the privacy plugin never
queries this store to decide on a stanza whose user is in its cache.

Rows belong to an account: storing for an account that does not exist
fails with L{NoSuchUser}, and the SQL rows go with the account.
"""

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from twisted.internet.defer import fail, succeed
from zope.interface import Interface, implementer

from jabberd.privacy import Privacy, PrivacyItem
from jabberd.storage.schema import privacyItems, privacyLists
from jabberd.storage.users import NoSuchUser


class IPrivacyStore(Interface):
    """
    The privacy lists of one domain's users.
    """

    def loadPrivacy(user):
        """
        @return: a L{Deferred} firing with the user's L{Privacy} (with no
            list if the user has none, or does not exist), each list's
            items sorted by order.
        """

    def saveList(user, name, items):
        """
        Create list C{name}, or replace its items with C{items} (a
        sequence of L{PrivacyItem} with unique orders).  Whether it is the
        default list does not change.

        @return: a L{Deferred} firing with C{None}, or failing with
            L{NoSuchUser}.
        """

    def removeList(user, name):
        """
        Remove list C{name} (and its default mark); an unknown list is
        ignored.
        """

    def setDefault(user, name):
        """
        Make list C{name} the default, or, with C{None}, have no default.
        The list must exist.
        """


@implementer(IPrivacyStore)
class MemoryPrivacyStore:
    """
    Privacy lists in a L{MemoryDatabase}: per user, C{(lists, default)}
    where C{lists} maps a name to a tuple of items.  Account existence is
    read from the memory user store on the same backend.
    """

    def __init__(self, backend, domain):
        self.domain = domain
        self._rows = backend.table("privacy", domain)
        self._accounts = backend.table("users", domain)

    def loadPrivacy(self, user):
        lists, default = self._rows.get(user, ({}, None))
        return succeed(Privacy(user, dict(lists), default))

    def saveList(self, user, name, items):
        if user not in self._accounts:
            return fail(NoSuchUser(user))
        lists, default = self._rows.get(user, ({}, None))
        lists = dict(lists)
        lists[name] = tuple(sorted(items, key=lambda item: item.order))
        self._rows[user] = (lists, default)
        return succeed(None)

    def removeList(self, user, name):
        lists, default = self._rows.get(user, ({}, None))
        lists = {key: value for key, value in lists.items() if key != name}
        self._rows[user] = (lists, None if default == name else default)
        return succeed(None)

    def setDefault(self, user, name):
        lists, _ = self._rows.get(user, ({}, None))
        self._rows[user] = (lists, name if name in lists else None)
        return succeed(None)


def _owner(table, domain, user):
    return and_(table.c.domain == domain, table.c.username == user)


def _itemOf(row):
    return PrivacyItem(row.item_order, row.action, row.type, row.value,
                       tuple(row.stanzas.split()))


def loadPrivacyTxn(connection, domain, user):
    """
    Read one user's lists and default.
    """
    privacy = Privacy(user)
    for row in connection.execute(select(privacyLists).where(
            _owner(privacyLists, domain, user))):
        privacy.lists[row.name] = ()
        if row.is_default:
            privacy.default = row.name
    items = {}
    for row in connection.execute(select(privacyItems).where(
            _owner(privacyItems, domain, user)).order_by(
            privacyItems.c.list, privacyItems.c.item_order)):
        items.setdefault(row.list, []).append(_itemOf(row))
    for name, listed in items.items():
        privacy.lists[name] = tuple(listed)
    return privacy


def saveListTxn(connection, domain, user, name, items):
    """
    Insert or replace a list's items, keeping its default mark.

    @raise IntegrityError: the account does not exist (foreign key).
    """
    owner = _owner(privacyLists, domain, user)
    exists = connection.execute(select(privacyLists.c.name).where(
        owner, privacyLists.c.name == name)).first()
    if exists is None:
        connection.execute(insert(privacyLists).values(
            domain=domain, username=user, name=name, is_default=False))
    connection.execute(delete(privacyItems).where(
        _owner(privacyItems, domain, user), privacyItems.c.list == name))
    rows = [dict(domain=domain, username=user, list=name,
                 item_order=item.order, action=item.action, type=item.type,
                 value=item.value, stanzas=" ".join(item.stanzas))
            for item in items]
    if rows:
        connection.execute(insert(privacyItems), rows)


def removeListTxn(connection, domain, user, name):
    connection.execute(delete(privacyItems).where(
        _owner(privacyItems, domain, user), privacyItems.c.list == name))
    connection.execute(delete(privacyLists).where(
        _owner(privacyLists, domain, user), privacyLists.c.name == name))


def setDefaultTxn(connection, domain, user, name):
    """
    Mark list C{name} as the default and no other (none for C{None}).
    """
    connection.execute(update(privacyLists).where(
        _owner(privacyLists, domain, user)).values(
        is_default=privacyLists.c.name == name if name is not None
        else False))


def _noSuchUser(failure, user):
    failure.trap(IntegrityError)
    raise NoSuchUser(user)


@implementer(IPrivacyStore)
class SQLPrivacyStore:
    """
    Privacy lists in the C{privacy_lists} and C{privacy_items} tables.
    """

    def __init__(self, database, domain):
        self.domain = domain
        self._database = database

    def _run(self, fn, *args):
        return self._database.runInteraction(fn, self.domain, *args)

    def loadPrivacy(self, user):
        return self._run(loadPrivacyTxn, user)

    def saveList(self, user, name, items):
        d = self._run(saveListTxn, user, name, tuple(items))
        return d.addErrback(_noSuchUser, user)

    def removeList(self, user, name):
        return self._run(removeListTxn, user, name)

    def setDefault(self, user, name):
        return self._run(setDefaultTxn, user, name)
