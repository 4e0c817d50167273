"""
Tests for L{plugins.roster}: roster get, set and remove, pushes,
versioning and pre-approval (RFC 6121 sections 2 and 3.4), on a real
server with memory stores and a fake clock (L{jabberd.testing}); the
last tests run on SQLite with the real reactor.
"""

import pytest
from twisted.internet import defer, task
from twisted.trial.unittest import TestCase

from jabberd.config import ConfigError, parseConfig
from jabberd.context import POSTAUTH
from jabberd.im import IRoster
from jabberd.roster import NS_ROSTER, Roster, RosterItem
from jabberd.server import Server
from jabberd.storage import defaultRegistry
from jabberd.storage.database import Database
from jabberd.testing import (BackendMixin, FakeClient, HostHarness,
                             errorCondition, iq, presence,
                             temporaryDirectory)
from plugins.presence import presence as presencePlugin
from jabberd.usercache import UserStateCache
from plugins.roster import (NS_PREAPPROVAL, NS_ROSTERVER,
                            roster as rosterPlugin)

ORG = "example.org"
NET = "example.net"
FACTORIES = [rosterPlugin, presencePlugin]


def makeHarness(**kwargs):
    harness = HostHarness(FACTORIES, domains=(ORG, NET), **kwargs)
    for jid in ("alice@example.org", "bob@example.org",
                "carol@example.net"):
        harness.addUser(jid)
    return harness


@pytest.fixture
def harness():
    with makeHarness() as harness:
        yield harness


def connect(harness, jid, interested=True, available=False):
    """
    A client that (by default) requested the roster, which makes it an
    interested resource (section 2.1.6).
    """
    client = harness.client(jid)
    if interested:
        assert rosterGet(client).getAttribute("type") == "result"
    if available:
        client.send(presence())
    client.take()
    return client


def rosterGet(client, ver=None, to=None):
    query = "<query xmlns='jabber:iq:roster'%s/>" % (
        "" if ver is None else " ver='%s'" % (ver,))
    return client.request(iq("get", query, to=to))


def rosterSet(client, jid, name=None, groups=(), to=None, **attributes):
    item = "<item jid='%s'%s%s>%s</item>" % (
        jid, "" if name is None else " name='%s'" % (name,),
        "".join(" %s='%s'" % pair for pair in attributes.items()),
        "".join("<group>%s</group>" % (g,) for g in groups))
    return client.request(iq("set", "<query xmlns='jabber:iq:roster'>%s"
                                    "</query>" % (item,), to=to))


def itemsOf(element):
    """
    The items of a roster result or push, as dicts of their attributes
    with their groups under C{"groups"}.
    """
    query = element.firstChildElement()
    items = []
    for item in query.elements(NS_ROSTER, "item"):
        found = dict(item.attributes)
        found["groups"] = [str(g) for g in item.elements(NS_ROSTER,
                                                          "group")]
        items.append(found)
    return items


def pushesOf(client):
    """
    The roster pushes a client received (taking everything received), as
    C{(ver, item)} pairs; anything else received fails the test.
    """
    pushes = []
    for element in client.take():
        assert (element.name, element.getAttribute("type")) == ("iq", "set")
        assert element.getAttribute("from") is None
        assert element["to"] == client.jid.full()
        [item] = itemsOf(element)
        pushes.append((element.firstChildElement()["ver"], item))
    return pushes


def item(jid, subscription="none", groups=(), **attributes):
    return dict(jid=jid, subscription=subscription, groups=list(groups),
                **attributes)


def stanzas(client):
    """
    What a client received, as C{(name, type, from, to)} tuples.
    """
    return [(e.name, e.getAttribute("type"), e.getAttribute("from"),
             e.getAttribute("to")) for e in client.take()]


def makeBoth(harness, a, b):
    """
    Make the users of clients C{a} and C{b} subscribed both ways.
    """
    for first, second in ((a, b), (b, a)):
        first.send(presence(to=second.jid.userhost(), type="subscribe"))
        second.send(presence(to=first.jid.userhost(), type="subscribed"))
    a.take()
    b.take()


# -- get (section 2.1.3) ------------------------------------------------------


def test_getEmpty(harness):
    """
    An empty roster is an empty query with the version, answered to the
    requesting resource without a 'from' (the request had no 'to').
    """
    alice = harness.client("alice@example.org/pc")
    result = rosterGet(alice)
    assert result.attributes == {"type": "result", "id": result["id"],
                                 "to": "alice@example.org/pc"}
    query = result.firstChildElement()
    assert (query.uri, query.name, query["ver"]) == (NS_ROSTER, "query",
                                                     "0")
    assert itemsOf(result) == []


def test_getWithOwnBareJID(harness):
    """
    A get addressed to the user's own bare JID is answered from it.
    """
    alice = connect(harness, "alice@example.org/pc")
    rosterSet(alice, "romeo@example.net", "Romeo")
    result = rosterGet(alice, to="alice@example.org")
    assert result["type"] == "result"
    assert result["from"] == "alice@example.org"
    assert itemsOf(result) == [item("romeo@example.net", name="Romeo")]


@pytest.mark.parametrize("owner", ["bob@example.org", "carol@example.net"])
def test_getOtherRosterForbidden(harness, owner):
    """
    Section 2.1.5 / 2.3.3: nobody but the user reads or changes the
    roster, on the same domain or another.
    """
    alice = connect(harness, "alice@example.org/pc")
    assert errorCondition(rosterGet(alice, to=owner)) == "forbidden"
    reply = rosterSet(alice, "mallory@example.net", to=owner)
    assert errorCondition(reply) == "forbidden"
    user, domain = owner.split("@")
    roster = harness.plugin("roster", domain).cached(user)
    assert roster is None or roster.items == {}


# -- set (sections 2.1.5, 2.3, 2.4) -------------------------------------------


def test_addItem(harness):
    """
    Section 2.3.2: a new item is stored with subscription 'none', the set
    is answered with an empty result, and the item is pushed to every
    interested resource (including the one that set it) and nowhere else.
    """
    pc = connect(harness, "alice@example.org/pc")
    phone = connect(harness, "alice@example.org/phone")
    quiet = connect(harness, "alice@example.org/quiet", interested=False,
                    available=True)
    bob = connect(harness, "bob@example.org/b")
    result = rosterSet(pc, "nurse@example.com", "Nurse", ["Servants"])
    assert result["type"] == "result"
    assert result.firstChildElement() is None
    expected = [("1", item("nurse@example.com", name="Nurse",
                           groups=["Servants"]))]
    assert pushesOf(pc) == expected
    assert pushesOf(phone) == expected
    assert quiet.take() == []
    assert bob.take() == []
    assert itemsOf(rosterGet(pc)) == [expected[0][1]]


def test_updateIsAtomic(harness):
    """
    Section 2.4: an update replaces the name and groups exactly as given
    (deleting both when left out) and keeps the subscription state.
    """
    alice = connect(harness, "alice@example.org/pc")
    bob = connect(harness, "bob@example.org/b")
    alice.send(presence(to="bob@example.org", type="subscribe"))
    bob.send(presence(to="alice@example.org", type="subscribed"))
    rosterSet(alice, "bob@example.org", "Bob", ["Friends", "Lovers"])
    alice.take()
    rosterSet(alice, "bob@example.org", "Robert", ["Lovers"])
    rosterSet(alice, "bob@example.org")
    assert [i for _, i in pushesOf(alice)] == [
        item("bob@example.org", "to", ["Lovers"], name="Robert"),
        item("bob@example.org", "to")]


def test_setIgnoresSubscriptionAttributes(harness):
    """
    Section 2.1.5: a client cannot set 'subscription' (other than
    'remove'), 'ask' or 'approved' by a roster set.
    """
    alice = connect(harness, "alice@example.org/pc")
    rosterSet(alice, "romeo@example.net", subscription="both",
              ask="subscribe", approved="true")
    assert pushesOf(alice) == [("1", item("romeo@example.net"))]


def test_setNonASCII(harness):
    """
    Names and groups are kept as the client wrote them.
    """
    alice = connect(harness, "alice@example.org/pc")
    rosterSet(alice, "zoë@example.net", "Zoë &amp; co", ["Amis &lt;3"])
    assert pushesOf(alice) == [("1", item("zoë@example.net",
                                          groups=["Amis <3"],
                                          name="Zoë & co"))]


@pytest.mark.parametrize("payload, condition", [
    ("<item jid='a@example.net'/><item jid='b@example.net'/>",
     "bad-request"),
    ("", "bad-request"),
    ("<item jid='a@example.net'><group>G</group><group>G</group></item>",
     "bad-request"),
    ("<item jid='a@example.net'><group></group></item>", "not-acceptable"),
    ("<item jid='a@example.net'><group>G</group><group/></item>",
     "not-acceptable"),
    ("<item jid='a@example.net' name='12345678901'/>", "not-acceptable"),
    ("<item jid='a@example.net'><group>abcdefghijk</group></item>",
     "not-acceptable"),
    ("<item jid='@@bad'/>", "jid-malformed"),
    ("<item/>", "jid-malformed"),
])
def test_setErrors(payload, condition):
    """
    Section 2.3.3: more than one item and duplicate groups are a
    bad-request; an empty group and a name or group over the configured
    limit are not-acceptable; nothing changes.
    """
    options = {"roster": {"max_name_length": 10, "max_group_length": 10}}
    with makeHarness(options=options) as harness:
        alice = connect(harness, "alice@example.org/pc")
        reply = alice.request(iq("set", "<query xmlns='jabber:iq:roster'>"
                                        "%s</query>" % (payload,)))
        assert errorCondition(reply) == condition
        assert alice.take() == []
        assert itemsOf(rosterGet(alice)) == []


def test_limitsAreInclusive():
    """
    A name or group exactly at the configured limit is accepted.
    """
    options = {"roster": {"max_name_length": 10, "max_group_length": 10}}
    with makeHarness(options=options) as harness:
        alice = connect(harness, "alice@example.org/pc")
        reply = rosterSet(alice, "a@example.net", "x" * 10, ["y" * 10])
        assert reply["type"] == "result"


@pytest.mark.parametrize("options", [
    {"cache_size": 0}, {"max_name_length": 0}, {"max_group_length": -1},
    {"cache_size": "big"}, {"unknown": 1},
])
def test_badOptions(options):
    """
    The plugin's options are checked when the config is applied.
    """
    with pytest.raises(ConfigError):
        HostHarness(FACTORIES, options={"roster": options})


# -- remove (section 2.5) -----------------------------------------------------


def test_removeItem(harness):
    """
    Section 2.5.2: removal is answered with a result, pushed with
    subscription='remove' and the item is gone.
    """
    pc = connect(harness, "alice@example.org/pc")
    phone = connect(harness, "alice@example.org/phone")
    rosterSet(pc, "romeo@example.net", "Romeo")
    pc.take()
    phone.take()
    result = rosterSet(pc, "romeo@example.net", subscription="remove")
    assert result["type"] == "result"
    expected = [("2", {"jid": "romeo@example.net",
                       "subscription": "remove", "groups": []})]
    assert pushesOf(pc) == expected
    assert pushesOf(phone) == expected
    assert itemsOf(rosterGet(pc)) == []


def test_removeUnknownItem(harness):
    """
    Section 2.5.3: removing an item that is not in the roster is
    item-not-found.
    """
    alice = connect(harness, "alice@example.org/pc")
    reply = rosterSet(alice, "ghost@example.net", subscription="remove")
    assert errorCondition(reply) == "item-not-found"
    assert alice.take() == []


def test_removeCancelsBothWays(harness):
    """
    Section 2.5.2: removing a contact with a mutual subscription sends it
    'unsubscribe' and 'unsubscribed' from the user's bare JID (after
    unavailable presence from each available resource, section 3.2.2),
    and the contact's roster follows.
    """
    alice = connect(harness, "alice@example.org/pc", available=True)
    bob = connect(harness, "bob@example.org/b", available=True)
    makeBoth(harness, alice, bob)
    rosterSet(alice, "bob@example.org", subscription="remove")
    received = bob.take()
    assert [(e.name, e.getAttribute("type"), e.getAttribute("from"))
            for e in received if e.name == "presence"] == [
        ("presence", "unsubscribe", "alice@example.org"),
        ("presence", "unavailable", "alice@example.org/pc"),
        ("presence", "unsubscribed", "alice@example.org")]
    pushes = [itemsOf(e)[0] for e in received if e.name == "iq"]
    assert pushes == [item("alice@example.org", "to"),
                      item("alice@example.org")]
    assert itemsOf(rosterGet(alice)) == []
    assert itemsOf(rosterGet(bob)) == [item("alice@example.org")]


def test_removeCancelsPendingRequests(harness):
    """
    Removing a contact cancels a pending outbound request ('unsubscribe')
    and denies a pending inbound one ('unsubscribed'), which the contact
    no longer sees again.
    """
    alice = connect(harness, "alice@example.org/pc", available=True)
    carol = connect(harness, "carol@example.net/c", available=True)
    alice.send(presence(to="carol@example.net", type="subscribe"))
    carol.send(presence(to="alice@example.org", type="subscribe"))
    alice.take()
    carol.take()
    rosterSet(alice, "carol@example.net", subscription="remove")
    assert [s for s in stanzas(carol) if s[0] == "presence"] == [
        ("presence", "unsubscribe", "alice@example.org",
         "carol@example.net"),
        ("presence", "unsubscribed", "alice@example.org",
         "carol@example.net")]
    assert itemsOf(rosterGet(carol)) == [item("alice@example.org")]
    roster = harness.plugin("roster").cached("alice")
    assert (roster.items, roster.pending) == ({}, {})


# -- versioning (section 2.6) -------------------------------------------------


def features(harness, domain=ORG):
    host = harness.hostFor(domain)
    return [(f.uri, f.name) for f in
            (feature(None) for feature in host.streamFeatures[POSTAUTH])
            if f is not None]


def test_streamFeatures(harness):
    """
    Roster versioning (section 2.6.1) and pre-approval (section 3.4.1)
    are offered on every host with the plugin.
    """
    for domain in (ORG, NET):
        offered = features(harness, domain)
        assert (NS_ROSTERVER, "ver") in offered
        assert (NS_PREAPPROVAL, "sub") in offered


def fillRoster(client, count):
    for n in range(count):
        rosterSet(client, "c%d@example.net" % (n,), "C%d" % (n,))
    client.take()


def test_versionCurrent(harness):
    """
    Section 2.6.3: a get with the current version is answered with an
    empty result and no pushes follow.
    """
    alice = connect(harness, "alice@example.org/pc")
    fillRoster(alice, 3)
    result = rosterGet(alice, ver="3")
    assert result["type"] == "result"
    assert result.firstChildElement() is None
    harness.advance(0)
    assert alice.take() == []


def test_versionChangesPushed(harness):
    """
    Section 2.6.3: a get with an older version is answered with an empty
    result, then each change since that version is pushed, removals
    included, oldest first, each with its version.
    """
    pc = connect(harness, "alice@example.org/pc")
    fillRoster(pc, 5)
    rosterSet(pc, "c1@example.net", "One")
    rosterSet(pc, "c3@example.net", subscription="remove")
    pc.take()
    phone = harness.client("alice@example.org/phone")
    result = rosterGet(phone, ver="5")
    assert result.firstChildElement() is None
    assert phone.take() == []
    harness.advance(0)
    assert pushesOf(phone) == [
        ("6", item("c1@example.net", name="One")),
        ("7", {"jid": "c3@example.net", "subscription": "remove",
               "groups": []})]
    assert pc.take() == []


def test_versionFullRosterWhenShorter(harness):
    """
    Section 2.6.3: when the changes are not fewer than the items, the
    whole roster is returned with the current version.
    """
    alice = connect(harness, "alice@example.org/pc")
    fillRoster(alice, 2)
    rosterSet(alice, "c0@example.net", "Zero")
    rosterSet(alice, "c1@example.net", "One")
    alice.take()
    result = rosterGet(alice, ver="2")
    assert result.firstChildElement()["ver"] == "4"
    assert sorted(i["jid"] for i in itemsOf(result)) == [
        "c0@example.net", "c1@example.net"]
    harness.advance(0)
    assert alice.take() == []


@pytest.mark.parametrize("ver", ["", "99", "abc", "-1"])
def test_versionUnknown(harness, ver):
    """
    A version the server never gave (empty, newer, not ours) gets the
    whole roster.
    """
    alice = connect(harness, "alice@example.org/pc")
    fillRoster(alice, 2)
    result = rosterGet(alice, ver=ver)
    assert result.firstChildElement()["ver"] == "2"
    assert len(itemsOf(result)) == 2


def test_versionPushesAreCurrent(harness):
    """
    A change made between the empty result and its pushes is not undone
    by an older push: the pushes carry the items as they are.
    """
    pc = connect(harness, "alice@example.org/pc")
    fillRoster(pc, 5)
    rosterSet(pc, "c1@example.net", "One")
    pc.take()
    phone = harness.client("alice@example.org/phone")
    rosterGet(phone, ver="5")
    rosterSet(pc, "c1@example.net", "Uno")
    harness.advance(0)
    pushes = pushesOf(phone)
    assert pushes[0] == ("7", item("c1@example.net", name="Uno"))
    assert all(push[1]["name"] == "Uno" for push in pushes)


# -- pre-approval (section 3.4) -----------------------------------------------


def test_preApproveUnknownContact(harness):
    """
    Section 3.4.2: 'subscribed' for a contact not in the roster creates
    the item with subscription 'none' and approved='true', pushed, and is
    not routed.
    """
    alice = connect(harness, "alice@example.org/pc", available=True)
    carol = connect(harness, "carol@example.net/c", available=True)
    alice.send(presence(to="carol@example.net", type="subscribed"))
    assert pushesOf(alice) == [("1", item("carol@example.net",
                                          approved="true"))]
    assert carol.take() == []


def test_preApprovedRequestIsApproved(harness):
    """
    Section 3.4: a later request from the pre-approved contact is
    approved by the server: the user is not asked, the item becomes
    'from' without 'approved', and the contact gets 'subscribed' and the
    user's presence.
    """
    alice = connect(harness, "alice@example.org/pc", available=True)
    carol = connect(harness, "carol@example.net/c", available=True)
    alice.send(presence(to="carol@example.net", type="subscribed"))
    alice.take()
    carol.send(presence(to="alice@example.org", type="subscribe"))
    assert pushesOf(alice) == [("2", item("carol@example.net", "from"))]
    received = carol.take()
    assert [(e.name, e.getAttribute("type"), e.getAttribute("from"))
            for e in received if e.name == "presence"] == [
        ("presence", "subscribed", "alice@example.org"),
        ("presence", None, "alice@example.org/pc")]
    assert itemsOf(rosterGet(carol)) == [item("alice@example.org", "to")]


def test_preApprovalOfExistingItem(harness):
    """
    Section 3.4.2: pre-approving a contact in state 'To' keeps the state
    and adds approved='true'; its request then makes it 'both'.
    """
    alice = connect(harness, "alice@example.org/pc", available=True)
    bob = connect(harness, "bob@example.org/b", available=True)
    alice.send(presence(to="bob@example.org", type="subscribe"))
    bob.send(presence(to="alice@example.org", type="subscribed"))
    alice.take()
    bob.take()
    alice.send(presence(to="bob@example.org", type="subscribed"))
    assert pushesOf(alice) == [("3", item("bob@example.org", "to",
                                          approved="true"))]
    assert bob.take() == []
    bob.send(presence(to="alice@example.org", type="subscribe"))
    assert pushesOf(alice) == [("4", item("bob@example.org", "both"))]


def test_unsubscribedCancelsPreApproval(harness):
    """
    'unsubscribed' cancels a pre-approval without routing anything; the
    contact's request is then delivered to the user as usual.
    """
    alice = connect(harness, "alice@example.org/pc", available=True)
    carol = connect(harness, "carol@example.net/c", available=True)
    alice.send(presence(to="carol@example.net", type="subscribed"))
    alice.send(presence(to="carol@example.net", type="unsubscribed"))
    assert pushesOf(alice) == [("1", item("carol@example.net",
                                          approved="true")),
                               ("2", item("carol@example.net"))]
    assert carol.take() == []
    carol.send(presence(to="alice@example.org", type="subscribe"))
    assert stanzas(alice) == [("presence", "subscribe", "carol@example.net",
                               "alice@example.org")]


def test_preApprovalIgnoredWhenSubscribed(harness):
    """
    Section 3.4.2: 'subscribed' to a contact that already has a
    subscription is silently ignored.
    """
    alice = connect(harness, "alice@example.org/pc", available=True)
    bob = connect(harness, "bob@example.org/b", available=True)
    makeBoth(harness, alice, bob)
    alice.send(presence(to="bob@example.org", type="subscribed"))
    assert alice.take() == []
    assert bob.take() == []


# -- the cache ----------------------------------------------------------------


class SlowStore:
    """
    A roster store whose operations finish when the test says, recording
    the order in which they started.
    """

    def __init__(self):
        self.started = []
        self.pending = []

    def _op(self, *call):
        self.started.append(call)
        d = defer.Deferred()
        self.pending.append((d, call))
        return d

    def loadRoster(self, user):
        return self._op("load", user)

    def saveItem(self, user, item):
        return self._op("save", user, item.jid)

    def finish(self, result=None):
        d, call = self.pending.pop(0)
        d.callback(result)
        return call


def test_cacheSharesLoads():
    """
    Two loads of one user share one read of the store.
    """
    store = SlowStore()
    cache = UserStateCache(store, store.loadRoster, 10)
    first, second = cache.load("alice"), cache.load("alice")
    roster = Roster("alice")
    store.finish(roster)
    assert store.started == [("load", "alice")]
    results = []
    first.addCallback(results.append)
    second.addCallback(results.append)
    assert results == [roster, roster]
    assert cache.cached("alice") is roster
    assert cache.idle()


def test_cacheOrdersWritesAndLoads():
    """
    A user's writes start one at a time, in order, and a load of an
    evicted roster waits for the writes made before it.
    """
    store = SlowStore()
    cache = UserStateCache(store, store.loadRoster, 1)
    cache.write("alice", store.saveItem, RosterItem("a@x"))
    cache.write("alice", store.saveItem, RosterItem("b@x"))
    cache.write("bob", store.saveItem, RosterItem("c@x"))
    loaded = cache.load("alice")
    assert store.started == [("save", "alice", "a@x"),
                             ("save", "bob", "c@x")]
    store.finish()
    assert store.started[-1] == ("save", "alice", "b@x")
    store.finish()
    store.finish()
    assert store.started[-1] == ("load", "alice")
    store.finish(Roster("alice"))
    assert loaded.called
    assert cache.idle()


def test_cacheEvictsLeastRecent():
    """
    Unpinned rosters live in a bounded least-recently-used cache; pinned
    ones stay.
    """
    store = SlowStore()
    cache = UserStateCache(store, store.loadRoster, 2)
    for user in ("a", "b", "c"):
        cache.load(user)
        store.finish(Roster(user))
        if user == "a":
            cache.pin("a")
    assert [u for u in "abc" if cache.cached(u) is not None] == ["a", "b",
                                                                 "c"]
    cache.load("d")
    store.finish(Roster("d"))
    assert cache.cached("b") is None
    assert cache.cached("a") is not None
    cache.unpin("a")
    cache.load("e")
    store.finish(Roster("e"))
    assert cache.cached("c") is None
    assert cache.cached("a") is not None


def test_cacheLoadAndPin():
    """
    A user getting a session has its state pinned: after the read if it
    was not in memory, at once (no L{Deferred}) if it was.
    """
    store = SlowStore()
    cache = UserStateCache(store, store.loadRoster, 1)
    waiting = cache.loadAndPin("a")
    assert not waiting.called
    store.finish(Roster("a"))
    assert waiting.called
    cache.load("b")
    store.finish(Roster("b"))
    assert cache.cached("a") is not None, "pinned state was evicted"
    assert cache.loadAndPin("b") is None
    cache.load("c")
    store.finish(Roster("c"))
    assert cache.cached("b") is not None, "pinned state was evicted"
    assert store.started == [("load", "a"), ("load", "b"), ("load", "c")]


def test_failedWriteIsLogged():
    """
    A failed store write is logged; later writes of the user still run.
    """
    store = SlowStore()
    failures = []

    class Log:
        def failure(self, format, failure, **kw):
            failures.append(failure)

    cache = UserStateCache(store, store.loadRoster, 10, Log())
    first = cache.write("alice", store.saveItem, RosterItem("a@x"))
    cache.write("alice", store.saveItem, RosterItem("b@x"))
    store.pending.pop(0)[0].errback(RuntimeError("disk full"))
    assert failures[0].check(RuntimeError)
    assert first.called
    assert store.started[-1] == ("save", "alice", "b@x")


def test_rosterReload():
    """
    A roster plugin attached again by a reload finds the rosters of the
    users with sessions, so their presence still reaches their contacts.
    """
    with makeHarness() as harness:
        alice = connect(harness, "alice@example.org/pc", available=True)
        bob = connect(harness, "bob@example.org/b", available=True)
        makeBoth(harness, alice, bob)
        harness.reconfigure(plugins=["roster", "presence"],
                            options={"roster": {"cache_size": 5}},
                            domains=(ORG, NET))
        assert harness.plugin("roster").cached("alice") is not None
        alice.send(presence(children=["<show>away</show>"]))
        assert ("presence", None, "alice@example.org/pc",
                "bob@example.org") in stanzas(bob)


# -- SQLite with the real reactor: versions survive restarts ------------------


class SQLiteRosterTests(BackendMixin, TestCase):
    """
    The roster on SQLite, where store results arrive later on the reactor.
    """

    backendKind = "sqlite"

    def setUp(self):
        from twisted.internet import reactor
        self.reactor = reactor
        super().setUp()
        self.server = self.startServer(self.backend)
        return self.server.hosts[ORG].accounts.createUser("alice", {})

    def startServer(self, backend):
        config = parseConfig({"data_dir": temporaryDirectory(self),
                              "hosts": {ORG: {"plugins": ["roster"]}}}, "t")
        server = Server(config, self.reactor, backend, defaultRegistry(),
                        {"roster": rosterPlugin})
        server.start()
        self.addCleanup(server.stop)
        return server

    @defer.inlineCallbacks
    def client(self, server, jid):
        client = FakeClient(server.hosts[ORG], jid)
        yield client.connect()
        return client

    @defer.inlineCallbacks
    def settle(self, server):
        cache = server.hosts[ORG].plugins["roster"][1].cache
        for _ in range(500):
            if cache.idle():
                return
            yield task.deferLater(self.reactor, 0.01, lambda: None)
        self.fail("roster writes did not finish")

    @defer.inlineCallbacks
    def test_versionsSurviveRestart(self):
        """
        Items, removals and the version are read back by a new server on
        the same database: a versioned get after the restart is answered
        with just the change it missed.
        """
        alice = yield self.client(self.server, "alice@example.org/pc")
        rosterGet(alice)
        for n in range(4):
            rosterSet(alice, "c%d@example.net" % (n,), "C%d" % (n,))
        rosterSet(alice, "c2@example.net", subscription="remove")
        self.assertEqual(len(alice.take()), 5)
        yield self.settle(self.server)
        self.server.stop()
        database = Database(self.backend.url, self.reactor)
        database.startService()
        self.addCleanup(database.stopService)
        server = self.startServer(database)
        alice = yield self.client(server, "alice@example.org/pc")
        result = rosterGet(alice)
        self.assertEqual(result.firstChildElement()["ver"], "5")
        self.assertEqual(sorted(i["jid"] for i in itemsOf(result)),
                         ["c0@example.net", "c1@example.net",
                          "c3@example.net"])
        self.assertIsNone(rosterGet(alice, ver="4").firstChildElement())
        yield task.deferLater(self.reactor, 0, lambda: None)
        self.assertEqual(pushesOf(alice), [
            ("5", {"jid": "c2@example.net", "subscription": "remove",
                   "groups": []})])

    @defer.inlineCallbacks
    def test_bindWaitsForRoster(self):
        """
        A session is bound only once its roster is in memory.
        """
        client = FakeClient(self.server.hosts[ORG], "alice@example.org/pc")
        d = client.connect()
        self.assertFalse(client.bound)
        yield d
        self.assertTrue(client.bound)
        roster = self.server.hosts[ORG].services[IRoster].cached("alice")
        self.assertIsNotNone(roster)
