"""
Tests for L{plugins.privacy}: privacy list management (XEP-0016 section
2), the blocking command (XEP-0191 section 3) as a view of the default
list, what a change tells contacts, and enforcement details (own
resources, subscriptions and probes, offline users), on a real server
with memory stores and a fake clock (L{jabberd.testing}).  The last tests
run on SQLite with the real reactor: lists kept across a restart, and
checks that read no SQL.

The matrix of item types, actions and stanza kinds is in
L{test_plugin_privacy_matrix}.
"""

import pytest
from sqlalchemy import event
from twisted.internet import defer, task
from twisted.trial.unittest import TestCase

from jabberd.config import parseConfig
from jabberd.privacy import NS_BLOCKING, NS_PRIVACY, PrivacyItem
from jabberd.server import Server
from jabberd.storage import defaultRegistry
from jabberd.storage.database import Database
from jabberd.storage.privacy import IPrivacyStore
from jabberd.testing import (FakeClient, HostHarness, errorCondition, iq,
                             message, presence, temporaryDirectory, toXML)
from plugins.message import message as messagePlugin
from plugins.presence import presence as presencePlugin
from plugins.privacy import privacy as privacyPlugin
from plugins.roster import roster as rosterPlugin

ORG = "example.org"
NET = "example.net"
FACTORIES = [rosterPlugin, presencePlugin, messagePlugin, privacyPlugin]
USERS = ("romeo@example.org", "juliet@example.org", "tybalt@example.net",
         "paris@example.net")


def makeHarness(**kwargs):
    harness = HostHarness(FACTORIES, domains=(ORG, NET), **kwargs)
    for jid in USERS:
        harness.addUser(jid)
    return harness


@pytest.fixture
def harness():
    with makeHarness() as harness:
        yield harness


def online(harness, jid, lists=True, blocklist=False):
    """
    A client that sent initial presence; with C{lists} it asked for its
    privacy lists, with C{blocklist} for its blocklist (so it gets the
    pushes of each).
    """
    client = harness.client(jid)
    client.send(presence())
    if lists:
        client.request(iq("get", "<query xmlns='jabber:iq:privacy'/>"))
    if blocklist:
        client.request(iq("get", "<blocklist xmlns='urn:xmpp:blocking'/>"))
    client.take()
    return client


def privacyIQ(client, type, inner=""):
    return client.request(iq(type, "<query xmlns='%s'>%s</query>"
                             % (NS_PRIVACY, inner)))


def setList(client, name, items):
    return privacyIQ(client, "set", "<list name='%s'>%s</list>"
                     % (name, items))


def blocking(client, type, name, jids=()):
    items = "".join("<item jid='%s'/>" % (jid,) for jid in jids)
    return client.request(iq(type, "<%s xmlns='%s'>%s</%s>"
                             % (name, NS_BLOCKING, items, name)))


def payloadXML(reply):
    return [toXML(child) for child in reply.elements()]


def assertResult(reply):
    assert reply is not None and reply.getAttribute("type") == "result", \
        toXML(reply)


DENY_TYBALT = ("<item type='jid' value='tybalt@example.net' action='deny' "
               "order='1'/>")
ALLOW_ALL = "<item action='allow' order='2'/>"


def subscribe(a, b):
    """
    C{a} subscribes to C{b}'s presence, which C{b} approves.
    """
    a.send(presence(to=b.jid.userhost(), type="subscribe"))
    b.send(presence(to=a.jid.userhost(), type="subscribed"))
    a.take()
    b.take()


def drain(*clients):
    """
    Forget what C{clients} received so far (presence of the user's other
    resources coming online, ...).
    """
    for client in clients:
        client.take()


def summary(client, kinds=("presence", "message", "iq")):
    return [(e.name, e.getAttribute("type"), e.getAttribute("from"),
             e.getAttribute("to")) for e in client.take() if e.name in kinds]


# -- retrieving and managing lists (XEP-0016 sections 2.3 to 2.8) ------------------


def test_namesWithActiveAndDefault(harness):
    """
    Section 2.3: the names, preceded by the active list of this session
    and the default list.
    """
    romeo = online(harness, "romeo@example.org/orchard")
    assert payloadXML(privacyIQ(romeo, "get")) == [
        "<query xmlns='jabber:iq:privacy'/>"]
    for name in ("public", "private", "special"):
        assertResult(setList(romeo, name, ALLOW_ALL))
    assertResult(privacyIQ(romeo, "set", "<active name='private'/>"))
    assertResult(privacyIQ(romeo, "set", "<default name='public'/>"))
    assert payloadXML(privacyIQ(romeo, "get")) == [
        "<query xmlns='jabber:iq:privacy'><active name='private'/>"
        "<default name='public'/><list name='public'/>"
        "<list name='private'/><list name='special'/></query>"]
    other = online(harness, "romeo@example.org/home")
    assert payloadXML(privacyIQ(other, "get"))[0].startswith(
        "<query xmlns='jabber:iq:privacy'><default name='public'/>")


def test_getOneList(harness):
    romeo = online(harness, "romeo@example.org/orchard")
    assertResult(setList(romeo, "public", ALLOW_ALL + DENY_TYBALT))
    assert payloadXML(privacyIQ(romeo, "get", "<list name='public'/>")) == [
        "<query xmlns='jabber:iq:privacy'><list name='public'>"
        "<item type='jid' value='tybalt@example.net' action='deny' "
        "order='1'/><item action='allow' order='2'/></list></query>"]


@pytest.mark.parametrize("inner, condition", [
    ("<list name='The Empty Set'/>", "item-not-found"),
    ("<list name='public'/><list name='private'/>", "bad-request"),
    ("<list/>", "bad-request"),
    ("<active/>", "bad-request"),
])
def test_getErrors(harness, inner, condition):
    romeo = online(harness, "romeo@example.org/orchard")
    assertResult(setList(romeo, "public", ALLOW_ALL))
    assertResult(setList(romeo, "private", ALLOW_ALL))
    assert errorCondition(privacyIQ(romeo, "get", inner)) == condition


@pytest.mark.parametrize("inner, condition", [
    ("<active name='x'/><default name='x'/>", "bad-request"),
    ("", "bad-request"),
    ("<other/>", "bad-request"),
    ("<list/>", "bad-request"),
    ("<list name='l'><item action='allow' order='1'/>"
     "<item action='deny' order='1'/></list>", "bad-request"),
    ("<list name='l'><item type='role' value='x' action='deny' order='1'/>"
     "</list>", "bad-request"),
    ("<list name='l'><item action='maybe' order='1'/></list>",
     "bad-request"),
    ("<list name='l'><item type='jid' value='@x' action='deny' order='1'/>"
     "</list>", "bad-request"),
    ("<list name='l'><item type='subscription' value='some' action='deny' "
     "order='1'/></list>", "bad-request"),
    ("<list name='l'><item type='group' value='Enemies' action='deny' "
     "order='1'/></list>", "item-not-found"),
    ("<active name='nope'/>", "item-not-found"),
    ("<default name='nope'/>", "item-not-found"),
    ("<list name='nope'/>", "item-not-found"),
])
def test_setErrors(harness, inner, condition):
    """
    Section 2.1: one child per set; bad types, actions, values and
    orders are C{bad-request}; unknown lists and groups
    C{item-not-found}.  Nothing changes.
    """
    romeo = online(harness, "romeo@example.org/orchard")
    assert errorCondition(privacyIQ(romeo, "set", inner)) == condition
    assert payloadXML(privacyIQ(romeo, "get")) == [
        "<query xmlns='jabber:iq:privacy'/>"]
    assert romeo.take() == []


def test_groupOfTheRoster(harness):
    romeo = online(harness, "romeo@example.org/orchard")
    romeo.request(iq("set", "<query xmlns='jabber:iq:roster'><item "
                     "jid='tybalt@example.net'><group>Enemies</group>"
                     "</item></query>"))
    assertResult(setList(romeo, "l", "<item type='group' value='Enemies' "
                                     "action='deny' order='1'/>"))


def test_onlyTheUser(harness):
    """
    Nobody else reads or changes a user's lists or blocklist.
    """
    juliet = online(harness, "juliet@example.org/balcony")
    for payload in ("<query xmlns='jabber:iq:privacy'/>",
                    "<blocklist xmlns='urn:xmpp:blocking'/>"):
        reply = juliet.request(iq("get", payload, to="romeo@example.org"))
        assert errorCondition(reply) == "forbidden"


def test_editPushesToInterestedResources(harness):
    """
    Sections 2.6 and 2.7 (business rule 10): a created or replaced list
    is pushed by name, without its items, to each resource that asked
    for privacy lists, the sender included.
    """
    orchard = online(harness, "romeo@example.org/orchard")
    home = online(harness, "romeo@example.org/home")
    plain = online(harness, "romeo@example.org/plain", lists=False)
    drain(orchard, home, plain)
    for items in (DENY_TYBALT, ALLOW_ALL):
        assertResult(setList(orchard, "public", items))
        for client in (orchard, home):
            [push] = client.take()
            assert toXML(push) == (
                "<iq type='set' to='%s' id='%s'><query xmlns='jabber:iq:"
                "privacy'><list name='public'/></query></iq>"
                % (client.jid.full(), push["id"]))
        assert plain.take() == []
    assert payloadXML(privacyIQ(home, "get", "<list name='public'/>")) == [
        "<query xmlns='jabber:iq:privacy'><list name='public'>"
        "<item action='allow' order='2'/></list></query>"]


def test_activeListPerSession(harness):
    """
    Section 2.4: the active list applies to its session only, instead of
    the default list; declining it brings the default back.
    """
    orchard = online(harness, "romeo@example.org/orchard")
    home = online(harness, "romeo@example.org/home")
    tybalt = online(harness, "tybalt@example.net/pda")
    assertResult(setList(orchard, "public", DENY_TYBALT))
    assertResult(setList(orchard, "open", ALLOW_ALL))
    assertResult(privacyIQ(orchard, "set", "<default name='public'/>"))
    assertResult(privacyIQ(orchard, "set", "<active name='open'/>"))
    for client in (orchard, home):
        tybalt.send(message(to=client.jid.full(), body="hi"))
    assert [e["from"] for e in orchard.take() if e.name == "message"] == [
        "tybalt@example.net/pda"]
    assert [e for e in home.take() if e.name == "message"] == []
    assert [errorCondition(e) for e in tybalt.take()] == [
        "service-unavailable"]
    assertResult(privacyIQ(orchard, "set", "<active/>"))
    tybalt.send(message(to="romeo@example.org/orchard", body="again"))
    assert errorCondition(tybalt.take()[0]) == "service-unavailable"


def test_defaultConflict(harness):
    """
    Section 2.5: changing or declining the default list while it applies
    to another resource (one without an active list) is a C{conflict};
    once that resource has its own active list, it is not.
    """
    orchard = online(harness, "romeo@example.org/orchard")
    assertResult(setList(orchard, "public", ALLOW_ALL))
    assertResult(setList(orchard, "special", ALLOW_ALL))
    assertResult(privacyIQ(orchard, "set", "<default name='public'/>"))
    home = online(harness, "romeo@example.org/home")
    for inner in ("<default name='special'/>", "<default/>"):
        assert errorCondition(privacyIQ(orchard, "set", inner)) == "conflict"
    assertResult(privacyIQ(orchard, "set", "<default name='public'/>"))
    assertResult(privacyIQ(home, "set", "<active name='special'/>"))
    assertResult(privacyIQ(orchard, "set", "<default name='special'/>"))
    assertResult(privacyIQ(orchard, "set", "<default/>"))
    reply = privacyIQ(home, "get")
    assert payloadXML(reply) == [
        "<query xmlns='jabber:iq:privacy'><active name='special'/>"
        "<list name='public'/><list name='special'/></query>"]


def test_noDefaultNoConflict(harness):
    """
    With no default list, nobody uses one: setting it is allowed.
    """
    orchard = online(harness, "romeo@example.org/orchard")
    online(harness, "romeo@example.org/home")
    assertResult(setList(orchard, "public", ALLOW_ALL))
    assertResult(privacyIQ(orchard, "set", "<default name='public'/>"))


def test_removeConflicts(harness):
    """
    Section 2.8: a list active on another resource, or the default list
    while another resource uses it, cannot be removed.
    """
    orchard = online(harness, "romeo@example.org/orchard")
    home = online(harness, "romeo@example.org/home")
    for name in ("public", "private"):
        assertResult(setList(orchard, name, ALLOW_ALL))
    assertResult(privacyIQ(home, "set", "<active name='private'/>"))
    assertResult(privacyIQ(orchard, "set", "<default name='public'/>"))
    assert errorCondition(setList(orchard, "private", "")) == "conflict"
    assertResult(setList(home, "private", ""))
    assert errorCondition(setList(home, "public", "")) == "conflict"
    assert set(harness.plugin("privacy").cache.cached("romeo").lists) == {
        "public"}


def test_removeOwnActiveAndDefault(harness):
    """
    Removing the list active on the sending session declines it; the
    default list can go when no other resource uses it.
    """
    orchard = online(harness, "romeo@example.org/orchard")
    assertResult(setList(orchard, "public", ALLOW_ALL))
    assertResult(setList(orchard, "private", ALLOW_ALL))
    assertResult(privacyIQ(orchard, "set", "<active name='private'/>"))
    assertResult(privacyIQ(orchard, "set", "<default name='public'/>"))
    orchard.take()
    assertResult(setList(orchard, "private", ""))
    assertResult(setList(orchard, "public", ""))
    assert [toXML(e.firstChildElement()) for e in orchard.take()] == [
        "<query xmlns='jabber:iq:privacy'><list name='private'/></query>",
        "<query xmlns='jabber:iq:privacy'><list name='public'/></query>"]
    assert payloadXML(privacyIQ(orchard, "get")) == [
        "<query xmlns='jabber:iq:privacy'/>"]


def test_limits():
    with makeHarness(options={"privacy": {"max_lists": 2,
                                          "max_items": 2}}) as harness:
        romeo = online(harness, "romeo@example.org/orchard")
        assertResult(setList(romeo, "a", ALLOW_ALL))
        assertResult(setList(romeo, "b", ALLOW_ALL))
        assert errorCondition(setList(romeo, "c", ALLOW_ALL)) == \
            "policy-violation"
        assertResult(setList(romeo, "b", DENY_TYBALT + ALLOW_ALL))
        three = DENY_TYBALT + ALLOW_ALL + \
            "<item action='deny' order='3'/>"
        assert errorCondition(setList(romeo, "b", three)) == \
            "policy-violation"
        assertResult(privacyIQ(romeo, "set", "<default name='b'/>"))
        assert errorCondition(blocking(romeo, "set", "block", [
            "paris@example.net"])) == "policy-violation"


def test_badOptions():
    for options in ({"max_items": 0}, {"cache_size": -1},
                    {"max_lists": "many"}, {"other": 1}):
        with pytest.raises(Exception):
            privacyPlugin.parseConfig(options)


# -- blocking (XEP-0191 section 3) ----------------------------------------------------


def test_blockUnblock(harness):
    """
    Sections 3.2 to 3.5: the blocklist, blocking, unblocking and
    unblocking all, each pushed to the resources that asked for the
    blocklist (the sender included) and to no other.
    """
    chamber = online(harness, "juliet@example.org/chamber", lists=False,
                     blocklist=True)
    balcony = online(harness, "juliet@example.org/balcony", lists=False,
                     blocklist=True)
    other = online(harness, "juliet@example.org/other", lists=False)
    drain(chamber, balcony, other)
    assert payloadXML(blocking(chamber, "get", "blocklist")) == [
        "<blocklist xmlns='urn:xmpp:blocking'/>"]

    def pushed(expected):
        for client in (chamber, balcony):
            assert [toXML(e.firstChildElement()) for e in client.take()] \
                == [expected]
        assert other.take() == []

    assertResult(blocking(chamber, "set", "block", [
        "romeo@montague.net", "iago@shakespeare.lit"]))
    pushed("<block xmlns='urn:xmpp:blocking'><item jid='romeo@montague.net'"
           "/><item jid='iago@shakespeare.lit'/></block>")
    assert payloadXML(blocking(balcony, "get", "blocklist")) == [
        "<blocklist xmlns='urn:xmpp:blocking'><item jid='romeo@montague.net'"
        "/><item jid='iago@shakespeare.lit'/></blocklist>"]
    assertResult(blocking(chamber, "set", "unblock", ["romeo@montague.net"]))
    pushed("<unblock xmlns='urn:xmpp:blocking'><item "
           "jid='romeo@montague.net'/></unblock>")
    assertResult(blocking(chamber, "set", "block", ["romeo@montague.net"]))
    pushed("<block xmlns='urn:xmpp:blocking'><item jid='romeo@montague.net'"
           "/></block>")
    assertResult(blocking(chamber, "set", "unblock"))
    pushed("<unblock xmlns='urn:xmpp:blocking'/>")
    assert payloadXML(blocking(balcony, "get", "blocklist")) == [
        "<blocklist xmlns='urn:xmpp:blocking'/>"]


def test_blockErrors(harness):
    juliet = online(harness, "juliet@example.org/chamber", blocklist=True)
    assert errorCondition(blocking(juliet, "set", "block")) == "bad-request"
    assert errorCondition(blocking(juliet, "set", "block", ["a@@b"])) == \
        "jid-malformed"
    assert errorCondition(blocking(juliet, "set", "unblock", ["a@@b"])) == \
        "jid-malformed"
    assert juliet.take() == []


def test_nothingNewNothingPushed(harness):
    juliet = online(harness, "juliet@example.org/chamber", blocklist=True)
    assertResult(blocking(juliet, "set", "unblock", ["romeo@montague.net"]))
    assertResult(blocking(juliet, "set", "unblock"))
    assertResult(blocking(juliet, "set", "block", ["romeo@montague.net"]))
    juliet.take()
    assertResult(blocking(juliet, "set", "block", ["Romeo@Montague.net"]))
    assert juliet.take() == []


def test_blocklistIsTheDefaultList(harness):
    """
    XEP-0191 section 5: blocking makes a default list (named
    "blocklist") that privacy list clients see; their simple jid deny
    items on the default list are the blocklist, and changing them
    pushes to blocking clients.
    """
    juliet = online(harness, "juliet@example.org/chamber", lists=False,
                    blocklist=True)
    lists = online(harness, "juliet@example.org/lists")
    assertResult(blocking(juliet, "set", "block", ["romeo@montague.net"]))
    juliet.take()
    [push] = lists.take()
    assert toXML(push.firstChildElement()) == (
        "<query xmlns='jabber:iq:privacy'><list name='blocklist'/></query>")
    assert payloadXML(privacyIQ(lists, "get")) == [
        "<query xmlns='jabber:iq:privacy'><default name='blocklist'/>"
        "<list name='blocklist'/></query>"]
    assert payloadXML(privacyIQ(lists, "get", "<list name='blocklist'/>")) \
        == ["<query xmlns='jabber:iq:privacy'><list name='blocklist'><item "
            "type='jid' value='romeo@montague.net' action='deny' order='0'/>"
            "</list></query>"]
    assertResult(setList(lists, "blocklist", (
        "<item type='jid' value='iago@shakespeare.lit' action='deny' "
        "order='1'/><item type='jid' value='nurse@capulet.com' "
        "action='deny' order='2'><message/></item>")))
    assert [toXML(e.firstChildElement()) for e in juliet.take()] == [
        "<block xmlns='urn:xmpp:blocking'><item jid='iago@shakespeare.lit'/>"
        "</block>",
        "<unblock xmlns='urn:xmpp:blocking'><item jid='romeo@montague.net'/>"
        "</unblock>"]
    assert payloadXML(blocking(juliet, "get", "blocklist")) == [
        "<blocklist xmlns='urn:xmpp:blocking'><item "
        "jid='iago@shakespeare.lit'/></blocklist>"]


def test_blockGoesFirstInExistingDefault(harness):
    """
    Blocked items come first in the default list (XEP-0191 section 5),
    so an earlier allow item does not let the blocked JID through.
    """
    romeo = online(harness, "romeo@example.org/orchard")
    tybalt = online(harness, "tybalt@example.net/pda")
    assertResult(setList(romeo, "public", (
        "<item type='jid' value='tybalt@example.net' action='allow' "
        "order='1'/><item action='deny' order='2'><message/></item>")))
    assertResult(privacyIQ(romeo, "set", "<default name='public'/>"))
    assertResult(blocking(romeo, "set", "block", ["tybalt@example.net"]))
    assert payloadXML(privacyIQ(romeo, "get", "<list name='public'/>")) == [
        "<query xmlns='jabber:iq:privacy'><list name='public'>"
        "<item type='jid' value='tybalt@example.net' action='deny' "
        "order='0'/><item type='jid' value='tybalt@example.net' "
        "action='allow' order='1'/><item action='deny' order='2'>"
        "<message/></item></list></query>"]
    tybalt.send(message(to="romeo@example.org", body="hi", type="chat"))
    assert errorCondition(tybalt.take()[0]) == "service-unavailable"


def test_blockedContactCannotBeMessaged(harness):
    """
    XEP-0191 section 3.3: the user's own stanzas to a blocked JID are
    not routed; the client gets not-acceptable with <blocked/>.
    """
    juliet = online(harness, "juliet@example.org/chamber")
    tybalt = online(harness, "tybalt@example.net/pda")
    assertResult(blocking(juliet, "set", "block", ["tybalt@example.net"]))
    juliet.take()
    juliet.send(message(to="tybalt@example.net", body="Can you hear me now?",
                        id="m1"))
    [error] = juliet.take()
    assert toXML(error) == (
        "<message to='juliet@example.org/chamber' from='tybalt@example.net' "
        "id='m1' type='error'><body>Can you hear me now?</body>"
        "<error type='cancel'><not-acceptable xmlns='urn:ietf:params:xml:"
        "ns:xmpp-stanzas'/><blocked xmlns='urn:xmpp:blocking:errors'/>"
        "</error></message>")
    assert tybalt.take() == []


def test_privacyDenialWithoutBlocked(harness):
    """
    XEP-0016 section 2.14: a user sending what their list denies gets
    not-acceptable, without <blocked/> when no blocklist entry decided.
    """
    romeo = online(harness, "romeo@example.org/orchard")
    tybalt = online(harness, "tybalt@example.net/pda")
    assertResult(setList(romeo, "l", "<item type='subscription' value="
                                     "'none' action='deny' order='1'/>"))
    assertResult(privacyIQ(romeo, "set", "<default name='l'/>"))
    romeo.take()
    reply = romeo.request(iq("get", "<query xmlns='jabber:iq:version'/>",
                             to="tybalt@example.net/pda"))
    assert errorCondition(reply) == "not-acceptable"
    assert reply.error.firstChildElement().name == "not-acceptable"
    assert len(list(reply.error.elements())) == 1
    assert tybalt.take() == []


def test_activeListDenialIsNotTheBlocklist(harness):
    """
    A jid deny item on an active list that is not the default list is
    not a blocklist entry: plain not-acceptable.
    """
    romeo = online(harness, "romeo@example.org/orchard")
    assertResult(setList(romeo, "l", DENY_TYBALT))
    assertResult(privacyIQ(romeo, "set", "<active name='l'/>"))
    romeo.take()
    romeo.send(message(to="tybalt@example.net", body="x"))
    [refused] = romeo.take()
    assert [c.name for c in refused.error.elements()] == ["not-acceptable"]
    assertResult(privacyIQ(romeo, "set", "<default name='l'/>"))
    romeo.send(message(to="tybalt@example.net", body="x"))
    [refused] = romeo.take()
    assert [c.name for c in refused.error.elements()] == [
        "not-acceptable", "blocked"]


def test_serverPresenceForUncachedUser(harness):
    """
    Presence the server sends for a user whose lists are not in memory
    waits while they are read, then obeys them.
    """
    juliet = online(harness, "juliet@example.org/balcony")
    assertResult(blocking(juliet, "set", "block", ["tybalt@example.net"]))
    juliet.disconnect()
    tybalt = online(harness, "tybalt@example.net/pda")
    paris = online(harness, "paris@example.net/p")
    cache = harness.plugin("privacy").cache
    cache.unpin("juliet")
    cache._recent.clear()
    for contact in (tybalt, paris):
        harness.host.sendElement(presence(to=contact.jid.full(),
                                          type="unavailable",
                                          from_="juliet@example.org"))
    assert tybalt.take() == []
    assert [e["from"] for e in paris.take()] == ["juliet@example.org"]
    assert cache.cached("juliet") is not None
    assert harness.plugin("privacy").guard.idle()


# -- presence when lists change --------------------------------------------------------


def test_blockSendsUnavailableUnblockSendsPresence(harness):
    """
    XEP-0191 sections 3.3 and 3.4: a subscribed contact, blocked, gets
    unavailable presence from each available resource; unblocked, it gets
    the current presence.  A blocked JID that is not subscribed gets
    nothing.
    """
    juliet = online(harness, "juliet@example.org/balcony")
    chamber = online(harness, "juliet@example.org/chamber")
    romeo = online(harness, "romeo@example.org/orchard")
    paris = online(harness, "paris@example.net/p")
    subscribe(romeo, juliet)
    juliet.send(presence(children=["<show>away</show>"]))
    for client in (juliet, chamber, romeo):
        client.take()
    assertResult(blocking(juliet, "set", "block", ["romeo@example.org",
                                                   "paris@example.net"]))
    assert sorted(summary(romeo)) == [
        ("presence", "unavailable", "juliet@example.org/balcony",
         "romeo@example.org"),
        ("presence", "unavailable", "juliet@example.org/chamber",
         "romeo@example.org")]
    assert paris.take() == []
    juliet.send(presence(children=["<show>dnd</show>"]))
    assert romeo.take() == []
    assertResult(blocking(juliet, "set", "unblock", ["romeo@example.org"]))
    received = romeo.take()
    assert sorted((e["from"], str(e.show) if e.show else None)
                  for e in received) == [
        ("juliet@example.org/balcony", "dnd"),
        ("juliet@example.org/chamber", None)]


def test_presenceOutListChange(harness):
    """
    XEP-0016 section 2.11: a default list that newly denies presence-out
    to a subscriber sends it unavailable presence; presence broadcasts
    then skip it while other contacts still get them.
    """
    juliet = online(harness, "juliet@example.org/balcony")
    romeo = online(harness, "romeo@example.org/orchard")
    tybalt = online(harness, "tybalt@example.net/pda")
    subscribe(romeo, juliet)
    subscribe(tybalt, juliet)
    assertResult(setList(juliet, "l", "<item type='jid' value='"
                         "tybalt@example.net' action='deny' order='1'>"
                         "<presence-out/></item>"))
    assert tybalt.take() == []
    assertResult(privacyIQ(juliet, "set", "<default name='l'/>"))
    assert summary(tybalt) == [("presence", "unavailable",
                                "juliet@example.org/balcony",
                                "tybalt@example.net")]
    juliet.send(presence(children=["<status>hi</status>"]))
    assert summary(tybalt) == []
    assert [e["from"] for e in romeo.take()] == ["juliet@example.org/balcony"]
    tybalt.send(presence(to="juliet@example.org", type="probe"))
    assert tybalt.take() == []
    juliet.send(presence(type="unavailable"))
    assert tybalt.take() == []


def test_activeListPresenceOnlyForItsSession(harness):
    """
    An active list changes what its own session broadcasts only.
    """
    balcony = online(harness, "juliet@example.org/balcony")
    chamber = online(harness, "juliet@example.org/chamber")
    romeo = online(harness, "romeo@example.org/orchard")
    subscribe(romeo, balcony)
    balcony.take()
    chamber.take()
    assertResult(setList(chamber, "hide", "<item action='deny' order='1'>"
                                          "<presence-out/></item>"))
    romeo.take()
    assertResult(privacyIQ(chamber, "set", "<active name='hide'/>"))
    assert summary(romeo) == [("presence", "unavailable",
                               "juliet@example.org/chamber",
                               "romeo@example.org")]
    assertResult(privacyIQ(chamber, "set", "<active/>"))
    assert summary(romeo) == [("presence", None, "juliet@example.org/chamber",
                               "romeo@example.org")]


# -- enforcement details ------------------------------------------------------------------


def test_ownResourcesNeverBlocked(harness):
    """
    Section 2.1, note 1: nothing blocks a user's own resources, or the
    user's own server.
    """
    pc = online(harness, "romeo@example.org/pc")
    phone = online(harness, "romeo@example.org/phone")
    assertResult(setList(pc, "all", "<item action='deny' order='1'/>"))
    assertResult(privacyIQ(pc, "set", "<default name='all'/>"))
    pc.take()
    phone.take()
    pc.send(message(to="romeo@example.org/phone", body="self"))
    assert [str(e.body) for e in phone.take()] == ["self"]
    reply = pc.request(iq("get", "<query xmlns='jabber:iq:roster'/>"))
    assertResult(reply)
    harness.host.sendElement(message(to="romeo@example.org/pc", body="motd",
                                     from_=ORG))
    assert [str(e.body) for e in pc.take()] == ["motd"]


def test_blockedSubscriptionChangesNothing(harness):
    """
    Business rule 4: lists come before subscription handling, so a
    blocked subscription request is neither delivered nor remembered,
    and makes no roster push.
    """
    juliet = online(harness, "juliet@example.org/balcony")
    juliet.request(iq("get", "<query xmlns='jabber:iq:roster'/>"))
    tybalt = online(harness, "tybalt@example.net/pda")
    assertResult(blocking(juliet, "set", "block", ["tybalt@example.net"]))
    juliet.take()
    tybalt.send(presence(to="juliet@example.org", type="subscribe"))
    assert juliet.take() == [] and tybalt.take() == []
    roster = harness.plugin("roster", ORG).cached("juliet")
    assert roster.get("tybalt@example.net") is None
    assert roster.pending == {}


def test_blockedCannotProbe(harness):
    """
    A probe from a blocked contact is dropped: no presence, no
    unsubscribed, nothing.
    """
    juliet = online(harness, "juliet@example.org/balcony")
    tybalt = online(harness, "tybalt@example.net/pda")
    subscribe(tybalt, juliet)
    assertResult(blocking(juliet, "set", "block", ["tybalt@example.net"]))
    tybalt.take()
    tybalt.send(presence(to="juliet@example.org", type="probe"))
    assert tybalt.take() == []


def test_iqResponsesAndErrorsDropped(harness):
    """
    Section 2.14: IQ results and errors, and message errors, from a
    blocked entity are dropped without an answer.
    """
    juliet = online(harness, "juliet@example.org/balcony")
    tybalt = online(harness, "tybalt@example.net/pda")
    assertResult(blocking(juliet, "set", "block", ["tybalt@example.net"]))
    juliet.take()
    tybalt.send(iq("result", to="juliet@example.org/balcony", id="x"))
    tybalt.send(message(to="juliet@example.org/balcony", type="error"))
    tybalt.send(iq("get", "<query xmlns='jabber:iq:version'/>",
                   to="juliet@example.org", id="v"))
    assert juliet.take() == []
    [error] = tybalt.take()
    assert toXML(error) == (
        "<iq to='tybalt@example.net/pda' from='juliet@example.org' id='v' "
        "type='error'><error type='cancel'><service-unavailable xmlns="
        "'urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")


def test_offlineUserDefaultList(harness):
    """
    Business rule 2: with no session the default list applies; the
    message is refused rather than stored.
    """
    juliet = online(harness, "juliet@example.org/balcony")
    assertResult(blocking(juliet, "set", "block", ["tybalt@example.net"]))
    juliet.disconnect()
    tybalt = online(harness, "tybalt@example.net/pda")
    tybalt.send(message(to="juliet@example.org", body="hi", type="chat"))
    assert errorCondition(tybalt.take()[0]) == "service-unavailable"
    paris = online(harness, "paris@example.net/p")
    paris.send(message(to="juliet@example.org", body="stored", type="chat"))
    assert paris.take() == []
    juliet = harness.client("juliet@example.org/again")
    juliet.send(presence())
    assert [str(e.body) for e in juliet.take() if e.name == "message"] == [
        "stored"]


def test_bareJIDPerSession(harness):
    """
    A message to the bare JID is checked against each receiving session's
    list (XEP-0016: the active list applies to its session): the session
    whose active list denies the sender does not get it, the other does.
    Only when every session's list denies is the sender refused.
    """
    balcony = online(harness, "juliet@example.org/balcony")
    chamber = online(harness, "juliet@example.org/chamber")
    tybalt = online(harness, "tybalt@example.net/pda")
    assertResult(setList(chamber, "strict", "<item type='jid' value="
                         "'tybalt@example.net' action='deny' order='1'/>"))
    assertResult(privacyIQ(chamber, "set", "<active name='strict'/>"))
    balcony.take()
    chamber.take()
    tybalt.send(message(to="juliet@example.org", body="hi", type="chat"))
    assert tybalt.take() == []
    assert [str(e.body) for e in balcony.take()] == ["hi"]
    assert chamber.take() == []
    tybalt.send(message(to="juliet@example.org/balcony", body="to you"))
    assert [str(e.body) for e in balcony.take()] == ["to you"]
    tybalt.send(presence(type="unavailable"))
    tybalt.send(presence(to="juliet@example.org"))
    assert [e.name for e in balcony.take()] == ["presence"]
    assert chamber.take() == []
    assertResult(privacyIQ(balcony, "set", "<active name='strict'/>"))
    balcony.take()
    tybalt.take()
    tybalt.send(message(to="juliet@example.org", body="again", type="chat"))
    assert errorCondition(tybalt.take()[0]) == "service-unavailable"
    assert balcony.take() == [] and chamber.take() == []


def test_cacheSeesEveryResourceChange(harness):
    """
    A change made from one resource applies at once to stanzas for all.
    """
    pc = online(harness, "romeo@example.org/pc")
    phone = online(harness, "romeo@example.org/phone")
    tybalt = online(harness, "tybalt@example.net/pda")
    tybalt.send(message(to="romeo@example.org/phone", body="1"))
    assert [str(e.body) for e in phone.take()] == ["1"]
    assertResult(blocking(pc, "set", "block", ["tybalt@example.net"]))
    tybalt.send(message(to="romeo@example.org/phone", body="2"))
    assert [e for e in phone.take() if e.name == "message"] == []
    assertResult(blocking(pc, "set", "unblock"))
    tybalt.take()
    tybalt.send(message(to="romeo@example.org/phone", body="3"))
    assert [str(e.body) for e in phone.take() if e.name == "message"] == [
        "3"]


def test_reloadKeepsLists(harness):
    """
    Switching the plugin off and on (a reload) reads the lists of users
    online again; active lists stay with their sessions.
    """
    romeo = online(harness, "romeo@example.org/pc")
    tybalt = online(harness, "tybalt@example.net/pda")
    assertResult(blocking(romeo, "set", "block", ["tybalt@example.net"]))
    harness.reconfigure(plugins=["roster", "presence", "message"],
                        domains=(ORG, NET))
    tybalt.send(message(to="romeo@example.org/pc", body="through"))
    assert [str(e.body) for e in romeo.take() if e.name == "message"] == [
        "through"]
    harness.reconfigure(plugins=[f.name for f in FACTORIES],
                        domains=(ORG, NET))
    tybalt.take()
    tybalt.send(message(to="romeo@example.org/pc", body="blocked"))
    assert errorCondition(tybalt.take()[0]) == "service-unavailable"


def test_features(harness):
    assert {NS_PRIVACY, NS_BLOCKING} <= harness.host.features


# -- on SQL, with the real reactor ------------------------------------------------------


class SQLTests(TestCase):
    """
    The plugin on SQLite: lists survive a restart, the lists of offline
    users are read once (stanzas for them wait, in order, meanwhile) and
    then decided from memory, and a privacy check never queries the
    database.
    """

    def setUp(self):
        from twisted.internet import reactor
        self.reactor = reactor
        self.directory = temporaryDirectory(self)
        self.url = "sqlite:///%s/jabberd.sqlite" % (self.directory,)
        self.statements = []

    def startServer(self):
        config = parseConfig({"data_dir": self.directory,
                              "storage": self.url,
                              "plugins": [f.name for f in FACTORIES],
                              "hosts": {ORG: {}, NET: {}}}, "<test>")
        database = Database(self.url, self.reactor)
        database.upgrade()
        database.startService()
        self.addCleanup(database.stopService)
        event.listen(database.engine, "before_cursor_execute",
                     lambda *args: self.statements.append(args[2]))
        server = Server(config, self.reactor, database, defaultRegistry(),
                        {f.name: f for f in FACTORIES})
        server.start()
        return server, database

    def wait(self, seconds=0.05):
        return task.deferLater(self.reactor, seconds, lambda: None)

    @defer.inlineCallbacks
    def connect(self, server, jid):
        host = server.hosts[jid.split("@")[1].split("/")[0]]
        client = FakeClient(host, jid)
        yield client.connect()
        client.send(presence())
        return client

    @defer.inlineCallbacks
    def settle(self, client, stanza):
        """
        Send C{stanza} and wait for its reply.
        """
        client.send(stanza)
        for _ in range(100):
            if any(e.getAttribute("id") == stanza["id"]
                   for e in client.received):
                break
            yield self.wait(0.02)
        return [e for e in client.take() if e.getAttribute("id")
                == stanza["id"]]

    @defer.inlineCallbacks
    def test_keptAndCheckedFromMemory(self):
        server, database = self.startServer()
        for jid in USERS:
            user, domain = jid.split("@")
            yield server.hosts[domain].accounts.createUser(user, {})
        romeo = yield self.connect(server, "romeo@example.org/pc")
        [reply] = yield self.settle(romeo, iq(
            "set", "<block xmlns='urn:xmpp:blocking'><item "
            "jid='tybalt@example.net'/></block>"))
        self.assertEqual(reply["type"], "result")
        [reply] = yield self.settle(romeo, iq(
            "set", "<query xmlns='jabber:iq:privacy'><list name='more'>"
            + DENY_TYBALT + "</list></query>"))
        self.assertEqual(reply["type"], "result")
        romeo.disconnect()
        server.stop()
        yield self.wait()

        server, database = self.startServer()
        tybalt = yield self.connect(server, "tybalt@example.net/pda")
        paris = yield self.connect(server, "paris@example.net/p")
        yield self.wait()
        tybalt.take()
        paris.take()
        del self.statements[:]
        paris.send(message(to="romeo@example.org", body="p1", type="chat"))
        tybalt.send(message(to="romeo@example.org", body="1", id="m1"))
        for body in ("p2", "p3"):
            paris.send(message(to="romeo@example.org", body=body,
                               type="chat"))
        yield self.wait(0.2)
        self.assertEqual(len([s for s in self.statements
                              if "privacy" in s]), 2)
        self.assertEqual([errorCondition(e) for e in tybalt.take()],
                         ["service-unavailable"])
        del self.statements[:]
        for n in range(20):
            tybalt.send(message(to="romeo@example.org/x", body="again",
                                type="headline"))
            tybalt.send(presence(to="romeo@example.org"))
            paris.send(presence(to="romeo@example.org", type="probe"))
        yield self.wait(0.2)
        self.assertEqual([s for s in self.statements if "privacy" in s], [])
        self.assertEqual(len(tybalt.take()), 20)
        romeo = yield self.connect(server, "romeo@example.org/pc")
        yield self.wait(0.2)
        self.assertEqual([str(e.body) for e in romeo.take()
                          if e.name == "message"], ["p1", "p2", "p3"])
        [reply] = yield self.settle(romeo, iq(
            "get", "<query xmlns='jabber:iq:privacy'/>"))
        self.assertEqual(toXML(reply.firstChildElement()), (
            "<query xmlns='jabber:iq:privacy'><default name='blocklist'/>"
            "<list name='blocklist'/><list name='more'/></query>"))
        privacy = server.hosts[ORG].plugins["privacy"][1].cache.cached(
            "romeo")
        self.assertEqual(privacy.lists["more"], (
            PrivacyItem(1, "deny", "jid", "tybalt@example.net"),))
        for client in (romeo, tybalt, paris):
            client.disconnect()
        server.stop()
        yield self.wait()
        store = server.openStore(IPrivacyStore, ORG)
        self.assertEqual((yield store.loadPrivacy("romeo")).default,
                         "blocklist")


def _subscribeRequests(client):
    return [e for e in client.take()
            if e.name == "presence" and e.getAttribute("type") == "subscribe"]


def test_storedRequestFromBlockedContactNotShownAgain(harness):
    """
    A subscription request waiting for an answer is shown to each new
    session (RFC 6121 section 3.1.3), but not once its sender is blocked:
    the stored request passes the same policy as a live one.
    """
    tybalt = online(harness, "tybalt@example.net/t", lists=False)
    tybalt.send(presence(to="juliet@example.org", type="subscribe"))
    first = online(harness, "juliet@example.org/first", lists=False)
    second = harness.client("juliet@example.org/second")
    second.send(presence())
    assert [r["from"] for r in _subscribeRequests(second)] == [
        "tybalt@example.net"]
    assertResult(blocking(first, "set", "block", ["tybalt@example.net"]))
    third = harness.client("juliet@example.org/third")
    third.send(presence())
    assert _subscribeRequests(third) == []
    assertResult(blocking(first, "set", "unblock", ["tybalt@example.net"]))
    fourth = harness.client("juliet@example.org/fourth")
    fourth.send(presence())
    assert [r["from"] for r in _subscribeRequests(fourth)] == [
        "tybalt@example.net"]


def test_blockingTellsDirectedPresenceRecipients(harness):
    """
    An entity that got directed presence (not a roster contact) and is
    then blocked receives unavailable presence from the resource, as a
    blocked subscriber does (XEP-0191 section 3.3); unblocking sends the
    resource's current presence again.
    """
    juliet = online(harness, "juliet@example.org/balcony", lists=False)
    tybalt = online(harness, "tybalt@example.net/pda", lists=False)
    juliet.send(presence(to="tybalt@example.net/pda"))
    assert [e["from"] for e in tybalt.take()] == [
        "juliet@example.org/balcony"]
    assertResult(blocking(juliet, "set", "block", ["tybalt@example.net"]))
    received = tybalt.take()
    assert [(e.getAttribute("type"), e["from"]) for e in received] == [
        ("unavailable", "juliet@example.org/balcony")]
    assertResult(blocking(juliet, "set", "unblock", ["tybalt@example.net"]))
    received = tybalt.take()
    assert [(e.getAttribute("type"), e["from"]) for e in received] == [
        (None, "juliet@example.org/balcony")]
