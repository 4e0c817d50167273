"""
Tests for L{plugins.presence}: subscriptions (RFC 6121 section 3),
presence broadcast, probes and directed presence (section 4), on a real
server with memory stores and a fake clock (L{jabberd.testing}); the last
tests run on SQLite with the real reactor: requests kept across a
restart, and a broadcast to 1,000 contacts that reads no SQL.
"""

import datetime

import pytest
from sqlalchemy import event, text
from twisted.internet import defer, task
from twisted.trial.unittest import TestCase
from zope.interface.verify import verifyObject

from jabberd.bus import STANZA_KEYS, Address, Kind, Phase, Priority
from jabberd.config import parseConfig
from jabberd.im import IPresence, SESSION_AVAILABLE, SESSION_UNAVAILABLE
from jabberd.roster import NS_ROSTER, RosterItem
from jabberd.server import Server
from jabberd.storage import defaultRegistry
from jabberd.storage.database import Database
from jabberd.storage.roster import saveItemTxn
from jabberd.testing import (BackendMixin, FakeClient, HostHarness,
                             errorCondition, iq, parseXML, presence,
                             temporaryDirectory, toXML)
from plugins.presence import NS_DELAY, presence as presencePlugin
from plugins.roster import roster as rosterPlugin

ORG = "example.org"
NET = "example.net"
NOW = 1700000000.0
FACTORIES = [rosterPlugin, presencePlugin]


def makeHarness(**kwargs):
    harness = HostHarness(FACTORIES, domains=(ORG, NET), **kwargs)
    harness.advance(NOW)
    for jid in ("alice@example.org", "bob@example.org",
                "carol@example.net", "dave@example.net"):
        harness.addUser(jid)
    return harness


@pytest.fixture
def harness():
    with makeHarness() as harness:
        yield harness


def connect(harness, jid, available=True, interested=True, status=None):
    client = harness.client(jid)
    if interested:
        client.request(iq("get", "<query xmlns='jabber:iq:roster'/>"))
    if available:
        children = [] if status is None else [
            "<status>%s</status>" % (status,)]
        client.send(presence(children=children))
    client.take()
    return client


def stanzas(client, kinds=("presence",)):
    """
    What a client received of C{kinds}, as C{(type, from, to)}; the rest
    (roster pushes, by default) is dropped.
    """
    return [(e.getAttribute("type"), e.getAttribute("from"),
             e.getAttribute("to")) for e in client.take()
            if e.name in kinds]


def pushes(client):
    """
    The items of the roster pushes a client received, as
    C{(jid, subscription, ask, approved)}; everything else is dropped.
    """
    found = []
    for element in client.take():
        if element.name == "iq" and element.getAttribute("type") == "set":
            for item in element.firstChildElement().elements(NS_ROSTER,
                                                             "item"):
                found.append((item["jid"], item["subscription"],
                              item.getAttribute("ask"),
                              item.getAttribute("approved")))
    return found


def subscribe(harness, a, b):
    """
    C{a} subscribes to C{b}'s presence, which C{b} approves.
    """
    a.send(presence(to=b.jid.userhost(), type="subscribe"))
    b.send(presence(to=a.jid.userhost(), type="subscribed"))
    a.take()
    b.take()


def recordInbound(harness, domain):
    """
    Record, as C{(type, from, to)}, the presence stanzas that arrive at
    the bare JIDs of C{domain}'s users, before any plugin handles them.
    """
    seen = []

    def record(stanza):
        seen.append((stanza.element.getAttribute("type"),
                     stanza.sender.full(), stanza.recipient.full()))

    for address in (Address.BARE, Address.FULL):
        harness.hostFor(domain).bus.hook(
            STANZA_KEYS[(Kind.PRESENCE, address, Phase.INBOUND)], record,
            Priority.POLICY)
    return seen


def itemOf(harness, user, contact, domain=ORG):
    roster = harness.plugin("roster", domain).cached(user)
    return roster.get(contact)


# -- subscription requests (section 3.1) --------------------------------------


def test_subscribeRoutedAndPushed(harness):
    """
    Section 3.1.2: a request to a full JID goes to the contact's bare JID
    from the user's bare JID, with whatever it carries, and the user's
    interested resources get a push with ask='subscribe'.
    """
    alice = connect(harness, "alice@example.org/pc")
    carol = connect(harness, "carol@example.net/c")
    alice.send(presence(to="carol@example.net/c", type="subscribe",
                        id="s1", children=["<status>Hi!</status>"]))
    assert pushes(alice) == [("carol@example.net", "none", "subscribe",
                              None)]
    [request] = carol.take()
    assert toXML(request) == (
        "<presence to='carol@example.net' type='subscribe' id='s1' "
        "from='alice@example.org'><status>Hi!</status></presence>")


def test_subscribeToUnknownUser(harness):
    """
    Section 8.5.1: a request for an account that does not exist is
    answered with 'unsubscribed', which cancels the pending request.
    """
    alice = connect(harness, "alice@example.org/pc")
    alice.send(presence(to="nobody@example.net", type="subscribe"))
    received = alice.take()
    assert [(e.getAttribute("type"), e.getAttribute("from"))
            for e in received if e.name == "presence"] == [
        ("unsubscribed", "nobody@example.net")]
    assert itemOf(harness, "alice", "nobody@example.net") == RosterItem(
        "nobody@example.net", version=2)


def test_otherTypesToUnknownUserIgnored(harness):
    """
    Section 8.5.1: the other subscription types for an unknown account
    are ignored.
    """
    alice = connect(harness, "alice@example.org/pc")
    for type in ("subscribed", "unsubscribe", "unsubscribed"):
        alice.send(presence(to="nobody@example.org", type=type))
    assert stanzas(alice) == []


def test_subscribeStoredWhileOffline(harness):
    """
    Section 3.1.3: a request for a user with no available resource is
    kept and delivered at each initial presence until answered; a
    resource that only connected gets nothing; it is not pushed either
    (no item is made for it, Appendix A.1).
    """
    alice = connect(harness, "alice@example.org/pc")
    bob = connect(harness, "bob@example.org/b", available=False)
    alice.send(presence(to="bob@example.org", type="subscribe",
                        children=["<status>please</status>"]))
    assert bob.take() == []
    bob.send(presence())
    received = bob.take()
    requests = [e for e in received if e.getAttribute("type") ==
                "subscribe"]
    assert [toXML(e) for e in requests] == [
        "<presence to='bob@example.org' type='subscribe' "
        "from='alice@example.org'><status>please</status></presence>"]
    other = connect(harness, "bob@example.org/tablet", available=False)
    other.send(presence())
    assert ("subscribe", "alice@example.org", "bob@example.org") in \
        stanzas(other)
    assert harness.plugin("roster").cached("bob").items == {}
    bob.send(presence(to="alice@example.org", type="subscribed"))
    third = connect(harness, "bob@example.org/third", available=False)
    third.send(presence())
    assert [s for s in stanzas(third) if s[0] == "subscribe"] == []


def test_duplicateRequestNotDelivered(harness):
    """
    Appendix A.3.1: a second request while one is pending is not
    delivered again, and only one is kept.
    """
    alice = connect(harness, "alice@example.org/pc")
    bob = connect(harness, "bob@example.org/b")
    alice.send(presence(to="bob@example.org", type="subscribe"))
    assert stanzas(bob) == [("subscribe", "alice@example.org",
                             "bob@example.org")]
    alice.send(presence(to="bob@example.org", type="subscribe"))
    assert bob.take() == []
    assert list(harness.plugin("roster").cached("bob").pending) == [
        "alice@example.org"]


def test_approve(harness):
    """
    Sections 3.1.5 and 3.1.6: the contact's approval goes to the user
    from the contact's bare JID, both rosters are pushed ('from' for the
    contact, 'to' for the user), and the user gets the contact's current
    presence, from each available resource.
    """
    alice = connect(harness, "alice@example.org/pc")
    bob = connect(harness, "bob@example.org/b", status="here")
    phone = connect(harness, "bob@example.org/phone")
    alice.send(presence(to="bob@example.org", type="subscribe"))
    alice.take()
    bob.take()
    phone.take()
    bob.send(presence(to="alice@example.org", type="subscribed"))
    assert pushes(bob) == [("alice@example.org", "from", None, None)]
    assert pushes(phone) == [("alice@example.org", "from", None, None)]
    received = alice.take()
    assert [(e.name, e.getAttribute("type"), e.getAttribute("from"))
            for e in received] == [
        ("presence", "subscribed", "bob@example.org"),
        ("iq", "set", None),
        ("presence", None, "bob@example.org/b"),
        ("presence", None, "bob@example.org/phone")]
    assert str(received[2].status) == "here"
    assert itemOf(harness, "alice", "bob@example.org").subscription == "to"
    assert harness.plugin("roster").cached("bob").pending == {}


def test_deny(harness):
    """
    Section 3.2: denying a request routes 'unsubscribed' (no unavailable
    presence: the contact had no subscription), pushes nothing to the
    contact (it has no item) and cancels the user's pending request.
    """
    alice = connect(harness, "alice@example.org/pc")
    bob = connect(harness, "bob@example.org/b")
    alice.send(presence(to="bob@example.org", type="subscribe"))
    alice.take()
    bob.take()
    bob.send(presence(to="alice@example.org", type="unsubscribed"))
    assert bob.take() == []
    received = alice.take()
    assert [(e.name, e.getAttribute("type"), e.getAttribute("from"))
            for e in received] == [
        ("presence", "unsubscribed", "bob@example.org"), ("iq", "set", None)]
    assert itemOf(harness, "alice", "bob@example.org").ask is False
    assert harness.plugin("roster").cached("bob").pending == {}


def test_cancelSubscription(harness):
    """
    Section 3.2.2: cancelling a subscription sends unavailable presence
    from each available resource first, then 'unsubscribed', and both
    rosters follow.
    """
    alice = connect(harness, "alice@example.org/pc")
    bob = connect(harness, "bob@example.org/b")
    phone = connect(harness, "bob@example.org/phone")
    subscribe(harness, alice, bob)
    phone.take()
    bob.send(presence(to="alice@example.org", type="unsubscribed"))
    assert pushes(bob) == [("alice@example.org", "none", None, None)]
    received = alice.take()
    assert [(e.name, e.getAttribute("type"), e.getAttribute("from"))
            for e in received] == [
        ("presence", "unavailable", "bob@example.org/b"),
        ("presence", "unavailable", "bob@example.org/phone"),
        ("presence", "unsubscribed", "bob@example.org"),
        ("iq", "set", None)]
    assert itemOf(harness, "alice", "bob@example.org").subscription == \
        "none"


def test_unsubscribe(harness):
    """
    Section 3.3: unsubscribing routes 'unsubscribe', and the contact's
    server sends unavailable presence from each of the contact's
    available resources to the user.
    """
    alice = connect(harness, "alice@example.org/pc")
    carol = connect(harness, "carol@example.net/c")
    subscribe(harness, alice, carol)
    alice.send(presence(to="carol@example.net", type="unsubscribe"))
    assert pushes(carol) == [("alice@example.org", "none", None, None)]
    received = alice.take()
    assert [(e.name, e.getAttribute("type"), e.getAttribute("from"))
            for e in received] == [
        ("iq", "set", None), ("presence", "unavailable",
                              "carol@example.net/c")]
    assert itemOf(harness, "carol", "alice@example.org", NET).subscription \
        == "none"


def test_autoReplyWhenAlreadySubscribed(harness):
    """
    Section 3.1.3: a request from a contact that is already subscribed is
    answered 'subscribed' by the server, with the current presence, and
    not shown to the user.
    """
    alice = connect(harness, "alice@example.org/pc")
    bob = connect(harness, "bob@example.org/b")
    subscribe(harness, alice, bob)
    harness.plugin("presence").roster.cached("alice").items[
        "bob@example.org"] = RosterItem("bob@example.org", version=9)
    alice.send(presence(to="bob@example.org", type="subscribe"))
    assert stanzas(bob) == []
    assert stanzas(alice) == [
        ("subscribed", "bob@example.org", "alice@example.org"),
        (None, "bob@example.org/b", "alice@example.org")]


def test_subscriptionToSelfIgnored(harness):
    """
    A subscription stanza to one's own JID changes nothing.
    """
    alice = connect(harness, "alice@example.org/pc")
    alice.send(presence(to="alice@example.org", type="subscribe"))
    assert alice.take() == []
    assert harness.plugin("roster").cached("alice").items == {}


# -- initial and subsequent presence (sections 4.2, 4.4) -----------------------


def test_initialPresence(harness):
    """
    Section 4.2.2: initial presence goes, full XML, from the full JID, to
    the contacts subscribed to the user ('from', 'both') and to the
    user's own available resources; probes go from the bare JID to the
    contacts the user is subscribed to ('to', 'both'); the new resource
    gets the presence of the user's other resources.
    """
    alice = connect(harness, "alice@example.org/pc", status="first")
    bob = connect(harness, "bob@example.org/b")
    carol = connect(harness, "carol@example.net/c")
    dave = connect(harness, "dave@example.net/d")
    subscribe(harness, bob, alice)
    subscribe(harness, alice, carol)
    subscribe(harness, dave, alice)
    subscribe(harness, alice, dave)
    phone = connect(harness, "alice@example.org/phone", available=False)
    for client in (alice, bob, carol, dave):
        client.take()
    phone.send(parseXML(
        "<presence xml:lang='fr'><show>away</show><status>parti</status>"
        "<priority>5</priority><c xmlns='urn:x'/></presence>"))
    expected = ("<presence xml:lang='fr' from='alice@example.org/phone' "
                "to='%s'><show>away</show><status>parti</status>"
                "<priority>5</priority><c xmlns='urn:x'/></presence>")
    assert [toXML(e) for e in bob.take()] == [expected % "bob@example.org"]
    assert [toXML(e) for e in dave.take()
            if e.getAttribute("type") != "probe"] == [
        expected % "dave@example.net"]
    assert carol.take() == []
    toPC = alice.take()
    assert toXML(toPC[0]) == expected % "alice@example.org/pc"
    assert sorted((e.getAttribute("from"), e["to"]) for e in toPC[1:]) == [
        ("carol@example.net/c", "alice@example.org"),
        ("dave@example.net/d", "alice@example.org")]
    received = phone.take()
    assert toXML(received[0]) == expected % "alice@example.org/phone"
    answers = [(e.getAttribute("type"), e.getAttribute("from"))
               for e in received[1:]]
    assert (None, "alice@example.org/pc") in answers
    assert (None, "carol@example.net/c") in answers
    assert (None, "dave@example.net/d") in answers
    assert ("probe", "alice@example.org", None) not in answers


def test_probesSent(harness):
    """
    Section 4.2.2: the probes go to the 'to' and 'both' contacts only,
    from the user's bare JID, once per initial presence.
    """
    alice = connect(harness, "alice@example.org/pc")
    carol = connect(harness, "carol@example.net/c")
    dave = connect(harness, "dave@example.net/d")
    bob = connect(harness, "bob@example.org/b")
    subscribe(harness, alice, carol)
    subscribe(harness, alice, dave)
    subscribe(harness, dave, alice)
    subscribe(harness, bob, alice)
    net, org = recordInbound(harness, NET), recordInbound(harness, ORG)
    phone = connect(harness, "alice@example.org/phone")
    phone.send(presence(children=["<show>away</show>"]))
    probes = [s for s in net + org if s[0] == "probe"]
    assert sorted(probes) == [
        ("probe", "alice@example.org", "carol@example.net"),
        ("probe", "alice@example.org", "dave@example.net")]


def test_subsequentPresence(harness):
    """
    Section 4.4.2: subsequent presence goes to the subscribers and the
    user's resources, not to probing-only contacts, and the priority is
    updated.
    """
    alice = connect(harness, "alice@example.org/pc")
    bob = connect(harness, "bob@example.org/b")
    carol = connect(harness, "carol@example.net/c")
    subscribe(harness, bob, alice)
    subscribe(harness, alice, carol)
    alice.send(presence(children=["<show>dnd</show>",
                                  "<priority>-3</priority>"]))
    assert stanzas(bob) == [(None, "alice@example.org/pc",
                             "bob@example.org")]
    assert stanzas(alice) == [(None, "alice@example.org/pc",
                               "alice@example.org/pc")]
    assert carol.take() == []
    service = harness.plugin("presence")
    [session] = service.availableSessions("alice")
    assert service.priorityOf(session) == -3


@pytest.mark.parametrize("priority", ["128", "-129", "1.5", "high", ""])
def test_priorityOutOfRange(harness, priority):
    """
    Section 4.7.2.3: a priority must be an integer from -128 to 127;
    otherwise the presence is refused with bad-request and not broadcast.
    """
    alice = connect(harness, "alice@example.org/pc", available=False)
    bob = connect(harness, "bob@example.org/b")
    subscribe(harness, bob, alice)
    alice.take()
    bob.take()
    alice.send(presence(id="p1", children=["<priority>%s</priority>"
                                           % (priority,)]))
    [error] = alice.take()
    assert (error.name, error.getAttribute("id"),
            errorCondition(error)) == ("presence", "p1", "bad-request")
    assert bob.take() == []
    assert harness.plugin("presence").availableSessions("alice") == []


@pytest.mark.parametrize("priority", [-128, 127, 0])
def test_priorityInRange(harness, priority):
    """
    The bounds are allowed.
    """
    alice = connect(harness, "alice@example.org/pc", available=False)
    alice.send(presence(children=["<priority> %d </priority>"
                                  % (priority,)]))
    service = harness.plugin("presence")
    [session] = service.availableSessions("alice")
    assert service.priorityOf(session) == priority


def test_defaultPriority(harness):
    """
    Without <priority/> the priority is 0.
    """
    connect(harness, "alice@example.org/pc")
    service = harness.plugin("presence")
    [session] = service.availableSessions("alice")
    assert service.priorityOf(session) == 0
    assert verifyObject(IPresence, service)


# -- probes (section 4.3) ---------------------------------------------------------


def probe(harness, sender, recipient):
    """
    Send a probe from C{sender} to C{recipient} as a server would: from
    the sender's host, without a client.
    """
    host = harness.hostFor(sender.split("@")[1].split("/")[0])
    element = presence(to=recipient, type="probe")
    element["from"] = sender
    host.sendElement(element)


def test_probeAnsweredWithAvailableResources(harness):
    """
    Section 4.3.2: a subscribed prober gets the full XML of the last
    presence of each available resource, from its full JID.
    """
    alice = connect(harness, "alice@example.org/pc", status="at work")
    phone = connect(harness, "alice@example.org/phone")
    carol = connect(harness, "carol@example.net/c")
    subscribe(harness, carol, alice)
    phone.take()
    probe(harness, "carol@example.net", "alice@example.org")
    received = carol.take()
    assert [(e.getAttribute("from"), e.getAttribute("to"))
            for e in received] == [
        ("alice@example.org/pc", "carol@example.net"),
        ("alice@example.org/phone", "carol@example.net")]
    assert str(received[0].status) == "at work"


def test_probeLastUnavailableWithDelay(harness):
    """
    Section 4.3.2: with no available resource, the prober gets the last
    unavailable presence, from the bare JID, with an XEP-0203 delay saying
    when it was received.
    """
    alice = connect(harness, "alice@example.org/pc")
    carol = connect(harness, "carol@example.net/c")
    subscribe(harness, carol, alice)
    harness.advance(30)
    alice.send(presence(type="unavailable",
                        children=["<status>gone fishing</status>"]))
    harness.advance(60)
    carol.take()
    probe(harness, "carol@example.net", "alice@example.org")
    [answer] = carol.take()
    stamp = datetime.datetime.fromtimestamp(
        NOW + 30, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    assert (answer["type"], answer["from"], answer["to"]) == (
        "unavailable", "alice@example.org", "carol@example.net")
    assert str(answer.status) == "gone fishing"
    [delay] = [c for c in answer.elements() if c.uri == NS_DELAY]
    assert delay["from"] == ORG
    assert delay["stamp"].startswith(stamp)
    assert delay["stamp"].endswith("Z")


def test_probeNeverOnline(harness):
    """
    Section 4.3.2: a user never seen online answers with plain
    unavailable presence from the bare JID.
    """
    carol = connect(harness, "carol@example.net/c")
    alice = connect(harness, "alice@example.org/pc", available=False)
    subscribe(harness, carol, alice)
    alice.disconnect()
    probe(harness, "carol@example.net", "alice@example.org")
    assert [toXML(e) for e in carol.take()] == [
        "<presence to='carol@example.net' type='unavailable' "
        "from='alice@example.org'/>"]


@pytest.mark.parametrize("relation", ["none", "to", "pending"])
def test_probeFromNonSubscriber(harness, relation):
    """
    Section 4.3.2: a prober without a subscription to the user ('none',
    'to', or only a pending request) learns nothing of the user's
    presence; the server answers 'unsubscribed' from the user's bare JID
    to the prober's.
    """
    alice = connect(harness, "alice@example.org/pc")
    carol = connect(harness, "carol@example.net/c", available=False)
    if relation == "to":
        subscribe(harness, alice, carol)
    elif relation == "pending":
        carol.send(presence(to="alice@example.org", type="subscribe"))
        alice.take()
    carol.take()
    seen = recordInbound(harness, NET)
    probe(harness, "carol@example.net/c", "alice@example.org")
    assert seen == [("unsubscribed", "alice@example.org",
                     "carol@example.net")]
    assert [s for s in stanzas(carol) if s[0] != "unsubscribed"] == []


def test_probeAnswerUnsubscribedFixesRoster(harness):
    """
    Section 4.3.2: the 'unsubscribed' answer to a prober whose roster
    wrongly says 'to' brings that roster back to 'none', and does not
    cancel a pre-approval the user gave.
    """
    alice = connect(harness, "alice@example.org/pc")
    carol = connect(harness, "carol@example.net/c")
    alice.send(presence(to="carol@example.net", type="subscribed"))
    harness.plugin("roster", NET).cached("carol").items[
        "alice@example.org"] = RosterItem("alice@example.org",
                                          subscription="to", version=1)
    carol.take()
    alice.take()
    probe(harness, "carol@example.net", "alice@example.org")
    assert pushes(carol) == [("alice@example.org", "none", None, None)]
    assert itemOf(harness, "alice", "carol@example.net").approved is True


def test_probeUnknownUser(harness):
    """
    Section 4.3.2: a probe for an account that does not exist is
    answered 'unsubscribed'.
    """
    seen = recordInbound(harness, NET)
    probe(harness, "carol@example.net", "ghost@example.org")
    assert seen == [("unsubscribed", "ghost@example.org",
                     "carol@example.net")]


# -- directed presence (section 4.6) ------------------------------------------


def test_directedPresence(harness):
    """
    Section 4.6: directed presence goes to its recipient from the full
    JID; later broadcasts do not; the broadcast of unavailable presence
    does, once.
    """
    alice = connect(harness, "alice@example.org/pc")
    carol = connect(harness, "carol@example.net/c")
    alice.send(presence(to="carol@example.net/c",
                        children=["<show>chat</show>"]))
    assert stanzas(carol) == [(None, "alice@example.org/pc",
                               "carol@example.net/c")]
    alice.send(presence(children=["<show>away</show>"]))
    assert carol.take() == []
    alice.send(presence(type="unavailable"))
    assert stanzas(carol) == [("unavailable", "alice@example.org/pc",
                               "carol@example.net/c")]
    alice.send(presence())
    alice.send(presence(type="unavailable"))
    assert carol.take() == []


def test_directedUnavailableForgets(harness):
    """
    Section 4.6.3: after directed unavailable presence, the entity gets
    no unavailable presence again at logout.
    """
    alice = connect(harness, "alice@example.org/pc")
    carol = connect(harness, "carol@example.net/c")
    alice.send(presence(to="carol@example.net"))
    alice.send(presence(to="carol@example.net", type="unavailable"))
    assert stanzas(carol) == [(None, "alice@example.org/pc",
                               "carol@example.net"),
                              ("unavailable", "alice@example.org/pc",
                               "carol@example.net")]
    alice.disconnect()
    assert carol.take() == []


def test_directedToSubscriberNotDuplicated(harness):
    """
    An entity already subscribed to the user is not tracked for directed
    presence: it gets one unavailable presence at logout.
    """
    alice = connect(harness, "alice@example.org/pc")
    bob = connect(harness, "bob@example.org/b")
    subscribe(harness, bob, alice)
    alice.send(presence(to="bob@example.org"))
    bob.take()
    alice.disconnect()
    assert stanzas(bob) == [("unavailable", "alice@example.org/pc",
                             "bob@example.org")]


def test_directedPresenceArrives(harness):
    """
    Presence from anyone to a bare JID goes to every available resource;
    to a full JID, to that resource only.
    """
    alice = connect(harness, "alice@example.org/pc")
    phone = connect(harness, "alice@example.org/phone")
    quiet = connect(harness, "alice@example.org/quiet", available=False)
    carol = connect(harness, "carol@example.net/c")
    alice.take()
    carol.send(presence(to="alice@example.org"))
    assert stanzas(alice) == stanzas(phone) == [
        (None, "carol@example.net/c", "alice@example.org")]
    assert quiet.take() == []
    carol.send(presence(to="alice@example.org/quiet"))
    assert stanzas(quiet) == [(None, "carol@example.net/c",
                               "alice@example.org/quiet")]
    assert alice.take() == [] and phone.take() == []


# -- unavailable presence (section 4.5) ---------------------------------------


def test_unavailableOnStreamLoss(harness):
    """
    Section 4.5.2: a stream that ends without unavailable presence still
    sends it to the subscribers, the other resources and the entities
    that got directed presence; the user's last unavailable presence is
    remembered for probes.
    """
    alice = connect(harness, "alice@example.org/pc")
    phone = connect(harness, "alice@example.org/phone")
    bob = connect(harness, "bob@example.org/b")
    carol = connect(harness, "carol@example.net/c")
    subscribe(harness, bob, alice)
    alice.send(presence(to="carol@example.net"))
    carol.take()
    phone.take()
    events = []
    harness.hostFor(ORG).bus.hook(SESSION_UNAVAILABLE, events.append)
    alice.disconnect()
    assert stanzas(bob) == [("unavailable", "alice@example.org/pc",
                             "bob@example.org")]
    assert stanzas(carol) == [("unavailable", "alice@example.org/pc",
                               "carol@example.net")]
    assert stanzas(phone) == [("unavailable", "alice@example.org/pc",
                               "alice@example.org/phone")]
    assert events == [alice]
    service = harness.plugin("presence")
    assert [s.jid.resource for s in service.availableSessions("alice")] \
        == ["phone"]
    assert "alice@example.org" not in service.lastUnavailable
    phone.disconnect()
    assert "alice@example.org" in service.lastUnavailable


def test_explicitUnavailable(harness):
    """
    Section 4.5.1: explicit unavailable presence is broadcast, reaches
    the resource itself, and the stream loss afterwards sends nothing
    more.
    """
    alice = connect(harness, "alice@example.org/pc")
    bob = connect(harness, "bob@example.org/b")
    subscribe(harness, bob, alice)
    alice.send(presence(type="unavailable",
                        children=["<status>bye</status>"]))
    assert [toXML(e) for e in bob.take()] == [
        "<presence type='unavailable' from='alice@example.org/pc' "
        "to='bob@example.org'><status>bye</status></presence>"]
    assert stanzas(alice) == [("unavailable", "alice@example.org/pc",
                               "alice@example.org/pc")]
    alice.disconnect()
    assert bob.take() == []


def test_signals(harness):
    """
    SESSION_AVAILABLE is notified once per initial presence, after the
    broadcast; SESSION_UNAVAILABLE when the resource goes.
    """
    events = []
    bus = harness.hostFor(ORG).bus
    bus.hook(SESSION_AVAILABLE, lambda s: events.append(("up", s)))
    bus.hook(SESSION_UNAVAILABLE, lambda s: events.append(("down", s)))
    alice = connect(harness, "alice@example.org/pc")
    alice.send(presence(children=["<show>away</show>"]))
    alice.send(presence(type="unavailable"))
    assert events == [("up", alice), ("down", alice)]


# -- presence errors (section 4.4.2) ------------------------------------------


@pytest.mark.parametrize("address", ["alice@example.org/pc",
                                     "alice@example.org"])
def test_presenceErrorStopsBroadcast(harness, address):
    """
    A presence error from a contact (addressed to the full JID that
    broadcast, or to the bare JID) stops further broadcasts to it, until
    presence from that contact arrives again.
    """
    alice = connect(harness, "alice@example.org/pc")
    bob = connect(harness, "bob@example.org/b")
    carol = connect(harness, "carol@example.net/c")
    subscribe(harness, carol, alice)
    subscribe(harness, bob, alice)
    carol.send(presence(to=address, type="error", children=[
        "<error type='cancel'><remote-server-not-found "
        "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"]))
    assert [s[0] for s in stanzas(alice)] == ["error"]
    alice.send(presence(children=["<show>away</show>"]))
    assert carol.take() == []
    assert len(stanzas(bob)) == 1
    carol.send(presence(to="alice@example.org"))
    alice.send(presence(children=["<show>xa</show>"]))
    assert stanzas(carol) == [(None, "alice@example.org/pc",
                               "carol@example.net")]


def test_unroutablePresenceStopsBroadcast(harness):
    """
    A contact on a domain that cannot be reached answers the broadcast
    with remote-server-not-found; it gets no further presence.
    """
    alice = connect(harness, "alice@example.org/pc")
    roster = harness.plugin("roster").cached("alice")
    roster.put(RosterItem("romeo@nowhere.example", subscription="from"))
    alice.send(presence(children=["<show>away</show>"]))
    [error] = [e for e in alice.take() if e.getAttribute("type") == "error"]
    assert error["from"] == "romeo@nowhere.example"
    assert errorCondition(error) == "remote-server-not-found"
    assert harness.plugin("presence").suppressed == {
        "alice": {"romeo@nowhere.example"}}
    alice.send(presence(children=["<show>xa</show>"]))
    assert [e for e in alice.take() if e.getAttribute("type") == "error"] \
        == []


# -- two domains, two clients each ---------------------------------------------


def test_twoDomainsTwoClients(harness):
    """
    Users on two hosted domains, each with two resources: subscribe and
    approve, presence from every resource, directed presence, and
    unsubscribe, with every stanza each client receives.
    """
    pc = connect(harness, "alice@example.org/pc")
    phone = connect(harness, "alice@example.org/phone")
    desk = connect(harness, "carol@example.net/desk")
    laptop = connect(harness, "carol@example.net/laptop")
    for client in (pc, phone, desk, laptop):
        client.take()
    pc.send(presence(to="carol@example.net", type="subscribe"))
    assert pushes(pc) == pushes(phone) == [
        ("carol@example.net", "none", "subscribe", None)]
    assert stanzas(desk) == stanzas(laptop) == [
        ("subscribe", "alice@example.org", "carol@example.net")]
    laptop.send(presence(to="alice@example.org", type="subscribed"))
    assert pushes(desk) == pushes(laptop) == [
        ("alice@example.org", "from", None, None)]
    expected = [("subscribed", "carol@example.net", "alice@example.org"),
                (None, "carol@example.net/desk", "alice@example.org"),
                (None, "carol@example.net/laptop", "alice@example.org")]
    assert stanzas(pc, ("presence", "iq")) == [
        expected[0], ("set", None, "alice@example.org/pc")] + expected[1:]
    assert stanzas(phone) == expected
    desk.send(presence(children=["<show>away</show>"]))
    assert stanzas(pc) == stanzas(phone) == [
        (None, "carol@example.net/desk", "alice@example.org")]
    assert stanzas(laptop) == [(None, "carol@example.net/desk",
                                "carol@example.net/laptop")]
    desk.take()
    phone.send(presence(to="carol@example.net/desk"))
    assert stanzas(desk) == [(None, "alice@example.org/phone",
                              "carol@example.net/desk")]
    assert laptop.take() == []
    pc.send(presence(to="carol@example.net", type="unsubscribe"))
    assert pushes(pc) == pushes(phone) == [
        ("carol@example.net", "none", None, None)]
    assert pushes(desk) == pushes(laptop) == [
        ("alice@example.org", "none", None, None)]
    phone.disconnect()
    assert stanzas(desk) == [("unavailable", "alice@example.org/phone",
                              "carol@example.net/desk")]
    assert laptop.take() == []


# -- SQLite with the real reactor ------------------------------------------------


class SQLitePresenceTests(BackendMixin, TestCase):
    """
    Presence on SQLite: what must survive a restart does, and a broadcast
    reads no SQL.
    """

    backendKind = "sqlite"

    def setUp(self):
        from twisted.internet import reactor
        self.reactor = reactor
        super().setUp()
        self.server = self.startServer(self.backend)
        host = self.server.hosts[ORG]
        d = defer.gatherResults([host.accounts.createUser(user, {})
                                 for user in ("alice", "bob")])
        return d

    def startServer(self, backend):
        config = parseConfig({"data_dir": temporaryDirectory(self),
                              "hosts": {ORG: {"plugins": ["roster",
                                                          "presence"]},
                                        NET: {"plugins": ["roster",
                                                          "presence"]}}},
                             "t")
        server = Server(config, self.reactor, backend, defaultRegistry(),
                        {f.name: f for f in FACTORIES})
        server.start()
        self.addCleanup(server.stop)
        return server

    @defer.inlineCallbacks
    def client(self, server, jid, available=True):
        client = FakeClient(server.hosts[parseJIDHost(jid)], jid)
        yield client.connect()
        client.request(iq("get", "<query xmlns='jabber:iq:roster'/>"))
        if available:
            client.send(presence())
        client.take()
        return client

    @defer.inlineCallbacks
    def settle(self, server):
        for _ in range(500):
            busy = [host for host in server.hosts.values()
                    if not host.plugins["roster"][1].cache.idle()
                    or host.plugins["presence"][1]._waiting]
            if not busy:
                return
            yield task.deferLater(self.reactor, 0.01, lambda: None)
        self.fail("roster work did not finish")

    @defer.inlineCallbacks
    def restart(self):
        yield self.settle(self.server)
        self.server.stop()
        database = Database(self.backend.url, self.reactor)
        database.startService()
        self.addCleanup(database.stopService)
        self.server = self.startServer(database)

    @defer.inlineCallbacks
    def test_requestSurvivesRestart(self):
        """
        Section 3.1.3: a request for an offline user is kept across a
        restart and delivered at the next initial presence, once, with
        the roster states on both sides intact.
        """
        alice = yield self.client(self.server, "alice@example.org/pc")
        alice.send(presence(to="bob@example.org", type="subscribe",
                            children=["<status>me</status>"]))
        yield self.settle(self.server)
        self.assertEqual(pushes(alice), [("bob@example.org", "none",
                                          "subscribe", None)])
        yield self.restart()
        bob = yield self.client(self.server, "bob@example.org/b",
                                available=False)
        bob.send(presence())
        requests = [toXML(e) for e in bob.take()
                    if e.getAttribute("type") == "subscribe"]
        self.assertEqual(requests, [
            "<presence to='bob@example.org' type='subscribe' "
            "from='alice@example.org'><status>me</status></presence>"])
        alice = yield self.client(self.server, "alice@example.org/pc")
        bob.send(presence(to="alice@example.org", type="subscribed"))
        self.assertIn(("subscribed", "bob@example.org", "alice@example.org"),
                      stanzas(alice))
        yield self.restart()
        bob = yield self.client(self.server, "bob@example.org/b",
                                available=False)
        bob.send(presence())
        self.assertEqual([e for e in bob.take()
                          if e.getAttribute("type") == "subscribe"], [])
        roster = self.server.hosts[ORG].plugins["roster"][1].cached("bob")
        self.assertEqual(roster.get("alice@example.org").subscription,
                         "from")
        self.assertEqual(roster.pending, {})

    @defer.inlineCallbacks
    def test_requestForOfflineUserNotCached(self):
        """
        Stanzas for a user whose roster must first be read are handled in
        the order they came.
        """
        alice = yield self.client(self.server, "alice@example.org/pc")
        alice.send(presence(to="bob@example.org", type="subscribe"))
        alice.send(presence(to="bob@example.org", type="unsubscribe"))
        alice.send(presence(to="bob@example.org", type="subscribe",
                            id="last"))
        yield self.settle(self.server)
        roster = self.server.hosts[ORG].plugins["roster"][1].cached("bob")
        self.assertEqual(list(roster.pending), ["alice@example.org"])
        self.assertIn("id=\"last\"", roster.pending["alice@example.org"]
                      .replace("'", '"'))

    @defer.inlineCallbacks
    def test_fanOutReadsNoSQL(self):
        """
        Presence broadcast for a user with 1,000 contacts reads the
        roster from memory: not one SQL statement is executed while the
        user's initial, subsequent and unavailable presence go out.
        """
        items = [RosterItem("c%04d@example.net" % (n,), None, (), "from",
                            False, False, n + 1) for n in range(999)]
        items.append(RosterItem("bob@example.org", None, (), "from",
                                False, False, 1000))

        def fill(connection):
            for item in items:
                saveItemTxn(connection, ORG, "alice", item)

        yield self.backend.runInteraction(fill)
        bob = yield self.client(self.server, "bob@example.org/b")
        alice = yield self.client(self.server, "alice@example.org/pc",
                                  available=False)
        statements = []

        def executed(connection, cursor, statement, *args):
            statements.append(statement)

        engine = self.backend.engine
        event.listen(engine, "before_cursor_execute", executed)
        self.addCleanup(event.remove, engine, "before_cursor_execute",
                        executed)
        alice.send(presence())
        alice.send(presence(children=["<show>away</show>"]))
        alice.send(presence(type="unavailable"))
        yield task.deferLater(self.reactor, 0.05, lambda: None)
        self.assertEqual(statements, [])
        self.assertEqual([s[0] for s in stanzas(bob)],
                         [None, None, "unavailable"])
        yield self.backend.runInteraction(
            lambda connection: connection.execute(text("SELECT 1")))
        self.assertEqual(statements, ["SELECT 1"])


def parseJIDHost(jid):
    return jid.split("@")[1].split("/")[0]
