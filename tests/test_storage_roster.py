"""
Tests for L{jabberd.storage.roster}: the L{IRosterStore} contract, run on
memory, SQLite and PostgreSQL.

Rows belong to accounts (the SQL tables have a foreign key to C{users}),
so each test creates its accounts first.
"""

from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase
from zope.interface.verify import verifyObject

from jabberd.roster import Roster, RosterItem
from jabberd.storage.contract import BackendMixin
from jabberd.storage.registry import defaultRegistry
from jabberd.storage.roster import (
    IRosterStore, MemoryRosterStore, SQLRosterStore)
from jabberd.storage.users import IUserStore

DOMAIN = "a.example"
OTHER = "b.example"

#: A request as the presence plugin stores it.
REQUEST = ("<presence from='romeo@example.net' to='alice@a.example' "
           "type='subscribe'><status>Let me in</status></presence>")


def _registry():
    registry = defaultRegistry()
    registry.register(IRosterStore, MemoryRosterStore, SQLRosterStore)
    return registry


class RosterStoreContract(BackendMixin):
    """
    What every L{IRosterStore} implementation must do.
    """

    @inlineCallbacks
    def stores(self, domain=DOMAIN, users=("alice", "bob")):
        """
        The roster store of C{domain}, after creating C{users} there.
        """
        registry = _registry()
        accounts = self.openStore(IUserStore, domain, registry)
        for user in users:
            yield accounts.createUser(user, {})
        return self.openStore(IRosterStore, domain, registry)

    def test_interface(self):
        """
        The store provides L{IRosterStore} and is bound to its domain.
        """
        store = self.openStore(IRosterStore, DOMAIN, _registry())
        self.assertTrue(verifyObject(IRosterStore, store))
        self.assertEqual(store.domain, DOMAIN)

    @inlineCallbacks
    def test_emptyRoster(self):
        """
        A user who never had a contact has an empty roster at version 0.
        """
        store = yield self.stores()
        roster = yield store.loadRoster("alice")
        self.assertIsInstance(roster, Roster)
        self.assertEqual((roster.user, roster.version, roster.items,
                          roster.removed, roster.pending),
                         ("alice", 0, {}, {}, {}))

    @inlineCallbacks
    def test_saveItem(self):
        """
        Every field of an item survives the round trip, groups in order,
        and the roster's version becomes the item's.
        """
        store = yield self.stores()
        item = RosterItem("romeo@example.net", "Romeo Montague",
                          ("Friends", "Lovers"), "to", False, False, 3)
        pending = RosterItem("juliet@example.com", None, (), "from", True,
                             False, 4)
        approved = RosterItem("nurse@example.com", "", (), "none", False,
                              True, 5)
        for each in (item, pending, approved):
            yield store.saveItem("alice", each)
        roster = yield store.loadRoster("alice")
        self.assertEqual(roster.items, {
            "romeo@example.net": item, "juliet@example.com": pending,
            "nurse@example.com": approved})
        self.assertEqual(roster.version, 5)

    @inlineCallbacks
    def test_textIsKept(self):
        """
        Names and groups keep non-ASCII text, markup characters and their
        full length.
        """
        store = yield self.stores()
        name = "Zoë <&> \"Ω\" " + "x" * 1000
        groups = ("Amis & famille", "друзья", "g" * 1023)
        item = RosterItem("zoë@example.net", name, groups, "both", False,
                          False, 1)
        yield store.saveItem("alice", item)
        roster = yield store.loadRoster("alice")
        self.assertEqual(roster.items["zoë@example.net"], item)

    @inlineCallbacks
    def test_replaceItem(self):
        """
        Saving an item again replaces it whole: name, groups, state.
        """
        store = yield self.stores()
        yield store.saveItem("alice", RosterItem(
            "romeo@example.net", "Romeo", ("Friends",), "none", True,
            False, 1))
        newer = RosterItem("romeo@example.net", None, (), "both", False,
                           False, 2)
        yield store.saveItem("alice", newer)
        roster = yield store.loadRoster("alice")
        self.assertEqual(roster.items, {"romeo@example.net": newer})
        self.assertEqual(roster.version, 2)

    @inlineCallbacks
    def test_versionNeverGoesBack(self):
        """
        The roster's version is the highest one stored.
        """
        store = yield self.stores()
        yield store.saveItem("alice", RosterItem("a@example.net",
                                                 version=7))
        yield store.saveItem("alice", RosterItem("b@example.net",
                                                 version=5))
        roster = yield store.loadRoster("alice")
        self.assertEqual(roster.version, 7)

    @inlineCallbacks
    def test_removeItem(self):
        """
        A removed item is gone; its removal is remembered with its version
        (section 2.6) and the roster's version is the removal's.
        """
        store = yield self.stores()
        yield store.saveItem("alice", RosterItem("romeo@example.net",
                                                 version=1))
        yield store.saveItem("alice", RosterItem("juliet@example.com",
                                                 version=2))
        yield store.removeItem("alice", "romeo@example.net", 3)
        roster = yield store.loadRoster("alice")
        self.assertEqual(list(roster.items), ["juliet@example.com"])
        self.assertEqual(roster.removed, {"romeo@example.net": 3})
        self.assertEqual(roster.version, 3)

    @inlineCallbacks
    def test_addAfterRemove(self):
        """
        An item added again after its removal is an item, no longer a
        removal.
        """
        store = yield self.stores()
        yield store.saveItem("alice", RosterItem("romeo@example.net",
                                                 version=1))
        yield store.removeItem("alice", "romeo@example.net", 2)
        again = RosterItem("romeo@example.net", "R", (), "none", False,
                           False, 3)
        yield store.saveItem("alice", again)
        roster = yield store.loadRoster("alice")
        self.assertEqual(roster.items, {"romeo@example.net": again})
        self.assertEqual(roster.removed, {})

    @inlineCallbacks
    def test_removeUnknownItem(self):
        """
        Removing an item never stored still records the removal.
        """
        store = yield self.stores()
        yield store.removeItem("alice", "ghost@example.net", 4)
        roster = yield store.loadRoster("alice")
        self.assertEqual((roster.items, roster.removed, roster.version),
                         ({}, {"ghost@example.net": 4}, 4))

    @inlineCallbacks
    def test_pending(self):
        """
        A pending request is kept as given, replaced by a later one from
        the same contact, and forgotten when set to C{None}; pending
        requests do not touch items or the version.
        """
        store = yield self.stores()
        yield store.setPending("alice", "romeo@example.net", REQUEST)
        yield store.setPending("alice", "juliet@example.com", "<presence/>")
        roster = yield store.loadRoster("alice")
        self.assertEqual(roster.pending, {"romeo@example.net": REQUEST,
                                          "juliet@example.com":
                                          "<presence/>"})
        self.assertEqual((roster.items, roster.version), ({}, 0))
        yield store.setPending("alice", "romeo@example.net", "<x/>")
        yield store.setPending("alice", "juliet@example.com", None)
        roster = yield store.loadRoster("alice")
        self.assertEqual(roster.pending, {"romeo@example.net": "<x/>"})

    @inlineCallbacks
    def test_forgetUnknownPending(self):
        """
        Forgetting a request that is not there is harmless.
        """
        store = yield self.stores()
        yield store.setPending("alice", "nobody@example.net", None)
        roster = yield store.loadRoster("alice")
        self.assertEqual(roster.pending, {})

    @inlineCallbacks
    def test_usersAreSeparate(self):
        """
        One user's items, removals, pending requests and version are not
        another's.
        """
        store = yield self.stores()
        yield store.saveItem("alice", RosterItem("romeo@example.net",
                                                 version=1))
        yield store.removeItem("alice", "tybalt@example.net", 2)
        yield store.setPending("alice", "juliet@example.com", REQUEST)
        bob = yield store.loadRoster("bob")
        self.assertEqual((bob.items, bob.removed, bob.pending, bob.version),
                         ({}, {}, {}, 0))

    @inlineCallbacks
    def test_domainIsolation(self):
        """
        A store bound to one domain neither sees nor changes another's
        rosters, for the same localpart.
        """
        a = yield self.stores(DOMAIN)
        b = yield self.stores(OTHER)
        yield a.saveItem("alice", RosterItem("romeo@example.net",
                                             version=1))
        yield a.setPending("alice", "juliet@example.com", REQUEST)
        roster = yield b.loadRoster("alice")
        self.assertEqual((roster.items, roster.pending, roster.version),
                         ({}, {}, 0))
        yield b.removeItem("alice", "romeo@example.net", 9)
        yield b.setPending("alice", "juliet@example.com", None)
        roster = yield a.loadRoster("alice")
        self.assertEqual(list(roster.items), ["romeo@example.net"])
        self.assertEqual((roster.removed, roster.version), ({}, 1))
        self.assertEqual(roster.pending, {"juliet@example.com": REQUEST})

    @inlineCallbacks
    def test_loadedRosterIsACopy(self):
        """
        Changing a loaded roster in memory does not change what is stored.
        """
        store = yield self.stores()
        yield store.saveItem("alice", RosterItem("romeo@example.net",
                                                 version=1))
        roster = yield store.loadRoster("alice")
        roster.items.clear()
        roster.pending["x@example.net"] = "<presence/>"
        roster.version = 99
        again = yield store.loadRoster("alice")
        self.assertEqual(list(again.items), ["romeo@example.net"])
        self.assertEqual((again.pending, again.version), ({}, 1))


class MemoryRosterStoreTests(RosterStoreContract, TestCase):
    backendKind = "memory"


class SQLiteRosterStoreTests(RosterStoreContract, TestCase):
    backendKind = "sqlite"


class PostgreSQLRosterStoreTests(RosterStoreContract, TestCase):
    backendKind = "postgresql"
