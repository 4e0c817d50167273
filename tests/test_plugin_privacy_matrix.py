"""
The enforcement matrix of privacy lists (XEP-0016 section 2): every item
type x action x stanza kind, inbound and outbound, for contacts on the
user's own domain and on another hosted domain, with the list as the
default list and as the session's active list.

The user is alice@a.example.  Her contacts: bob@b.example (another
domain; subscription C{both}, in her group "Friends") and carol@a.example
(her own domain; not in her roster, so subscription C{none}).  Each item
definition matches exactly one of them (or both, for the fall-through
type).  A case is one list:

  - deny: C{[<item ... action='deny' order='1'>kind</item>]}: stanzas
    of the kind exchanged with a matching contact are blocked; the rest
    pass (the fall-through default is allow, rule 7).
  - allow: C{[<item ... action='allow' order='1'>kind</item>,
    <item action='deny' order='2'/>]}: stanzas of the kind exchanged with
    a matching contact pass; everything else is blocked by the later
    deny-all item (rule 6: the first match decides).

Each probe sends one real stanza and observes the end: delivered, or
refused in the way section 2.14 says (an error for messages and IQs,
nothing for presence; C{not-acceptable} to the user's own client).
"""

import pytest

from jabberd.bus import STANZA_KEYS, Address, Kind, Phase, Priority
from jabberd.testing import HostHarness, errorCondition, iq, message, presence
from plugins.message import message as messagePlugin
from plugins.presence import presence as presencePlugin
from plugins.privacy import privacy as privacyPlugin
from plugins.roster import roster as rosterPlugin

FACTORIES = [rosterPlugin, presencePlugin, messagePlugin, privacyPlugin]
ALICE, BOB, CAROL = ("alice@a.example/pc", "bob@b.example/home",
                     "carol@a.example/phone")

#: Item definitions: (type, value) and the contacts they match.
ITEMS = {
    "jid-bare-other-domain": (("jid", "bob@b.example"), {"bob"}),
    "jid-domain": (("jid", "b.example"), {"bob"}),
    "jid-bare-same-domain": (("jid", "carol@a.example"), {"carol"}),
    "group": (("group", "Friends"), {"bob"}),
    "subscription-both": (("subscription", "both"), {"bob"}),
    "subscription-none": (("subscription", "none"), {"carol"}),
    "fall-through": ((None, None), {"bob", "carol"}),
}

#: Item child elements; C{None}: no child, every stanza.
KINDS = ("message", "iq", "presence-in", "presence-out", None)

#: Probes: name to the kind of stanza it is in the item's terms ("other"
#: for subscriptions both ways and the user's own messages and IQs,
#: which only an item without children covers).
PROBES = {
    "message-in": "message",
    "iq-in": "iq",
    "presence-in": "presence-in",
    "subscription-in": "other",
    "message-out": "other",
    "iq-out": "other",
    "directed-presence-out": "presence-out",
    "broadcast-out": "presence-out",
    "subscription-out": "other",
}


def expectedBlocked(probe, contact, itemName, action, kind):
    matches = contact in ITEMS[itemName][1]
    covered = kind is None or PROBES[probe] == kind
    if action == "deny":
        return matches and covered
    return not (matches and covered)


def itemXML(itemName, action, kind, order=1):
    (type, value), _ = ITEMS[itemName]
    attributes = "" if type is None else " type='%s' value='%s'" % (
        type, value)
    child = "" if kind is None else "<%s/>" % (kind,)
    return "<item%s action='%s' order='%d'>%s</item>" % (
        attributes, action, order, child)


class World:
    """
    Alice, Bob and Carol online on a fresh two-domain server; Alice and
    Bob subscribed both ways, Bob in Alice's group "Friends".
    """

    def __init__(self):
        self.harness = HostHarness(FACTORIES,
                                   domains=("a.example", "b.example"))
        for jid in (ALICE, BOB, CAROL):
            self.harness.addUser(jid.split("/")[0])
        self.alice = self.online(ALICE)
        self.contacts = {"bob": self.online(BOB), "carol": self.online(CAROL)}
        bob = self.contacts["bob"]
        for a, b in ((self.alice, bob), (bob, self.alice)):
            a.send(presence(to=b.jid.userhost(), type="subscribe"))
            b.send(presence(to=a.jid.userhost(), type="subscribed"))
        self.alice.request(iq("set", "<query xmlns='jabber:iq:roster'><item "
                              "jid='bob@b.example'><group>Friends</group>"
                              "</item></query>"))
        self.arrived = []
        host = self.harness.hostFor("b.example")
        for address in (Address.FULL, Address.BARE):
            host.bus.hook(STANZA_KEYS[(Kind.PRESENCE, address,
                                       Phase.INBOUND)],
                          self._arrived, Priority.POLICY)
        self.drain()

    def _arrived(self, stanza):
        """
        Record the presence that reaches Bob's server (after its own
        privacy hook, which lets everything through: Bob has no list).
        """
        self.arrived.append((stanza.type, stanza.sender.full(),
                             stanza.recipient.full()))

    def online(self, jid):
        client = self.harness.client(jid)
        client.request(iq("get", "<query xmlns='jabber:iq:roster'/>"))
        client.send(presence())
        return client

    def drain(self):
        for client in [self.alice] + list(self.contacts.values()):
            client.take()

    def apply(self, items, how):
        """
        Make C{items} Alice's default list, or her session's active list.
        """
        query = "<query xmlns='jabber:iq:privacy'>%s</query>"
        for inner in ("<list name='case'>%s</list>" % (items,),
                      "<%s name='case'/>" % (how,)):
            reply = self.alice.request(iq("set", query % (inner,)))
            assert reply["type"] == "result", reply.toXml()
        self.drain()

    def close(self):
        self.harness.close()


# -- the probes: each returns True if the stanza was blocked ------------------------


def _got(client, name, type=None, sender=None):
    return [e for e in client.take() if e.name == name
            and (type is None or e.getAttribute("type", "available") == type)
            and (sender is None or e.getAttribute("from") == sender)]


def _refusedWith(client, condition):
    errors = [errorCondition(e) for e in client.take()
              if e.getAttribute("type") == "error"]
    return errors == [condition]


def _outcome(delivered, refused):
    """
    Exactly one of: delivered, or refused as the XEP says.
    """
    assert delivered != refused, (delivered, refused)
    return refused


def probeMessageIn(world, contact):
    sender = world.contacts[contact]
    sender.send(message(to=ALICE, body="m", type="chat"))
    delivered = bool(_got(world.alice, "message", sender=sender.jid.full()))
    return _outcome(delivered, _refusedWith(sender, "service-unavailable"))


def probeIQIn(world, contact):
    sender = world.contacts[contact]
    sender.send(iq("get", "<query xmlns='jabber:iq:version'/>", to=ALICE))
    delivered = bool(_got(world.alice, "iq", "get"))
    return _outcome(delivered, _refusedWith(sender, "service-unavailable"))


def probePresenceIn(world, contact):
    sender = world.contacts[contact]
    sender.send(presence(to=ALICE, children=["<status>hi</status>"]))
    delivered = bool(_got(world.alice, "presence", "available",
                          sender.jid.full()))
    assert sender.take() == []
    return not delivered


def probeSubscriptionIn(world, contact):
    """
    A subscription request: Carol's is delivered to Alice's available
    resource; Bob, already subscribed, is answered C{subscribed} by
    Alice's server (RFC 6121 Appendix A.3), which reaches Bob's server
    (there it changes nothing and goes no further).  Or it is dropped.
    """
    sender = world.contacts[contact]
    del world.arrived[:]
    sender.send(presence(to="alice@a.example", type="subscribe"))
    if contact == "carol":
        delivered = bool(_got(world.alice, "presence", "subscribe"))
    else:
        delivered = ("subscribed", "alice@a.example", "bob@b.example") \
            in world.arrived
    assert not [e for e in sender.take() if e.getAttribute("type") == "error"]
    return not delivered


def probeMessageOut(world, contact):
    recipient = world.contacts[contact]
    world.alice.send(message(to=recipient.jid.full(), body="m", type="chat"))
    delivered = bool(_got(recipient, "message", sender=ALICE))
    return _outcome(delivered, _refusedWith(world.alice, "not-acceptable"))


def probeIQOut(world, contact):
    recipient = world.contacts[contact]
    world.alice.send(iq("get", "<query xmlns='jabber:iq:version'/>",
                        to=recipient.jid.full()))
    delivered = bool(_got(recipient, "iq", "get"))
    return _outcome(delivered, _refusedWith(world.alice, "not-acceptable"))


def probeDirectedPresenceOut(world, contact):
    recipient = world.contacts[contact]
    world.alice.send(presence(to=recipient.jid.full()))
    delivered = bool(_got(recipient, "presence", "available", ALICE))
    return _outcome(delivered, _refusedWith(world.alice, "not-acceptable"))


def probeBroadcastOut(world, contact):
    """
    Alice changes her presence; only Bob is subscribed to it.
    """
    if contact != "bob":
        return None
    world.alice.send(presence(children=["<show>away</show>"]))
    delivered = bool(_got(world.contacts["bob"], "presence", "available",
                          ALICE))
    assert not [e for e in world.alice.take()
                if e.getAttribute("type") == "error"]
    return not delivered


def probeSubscriptionOut(world, contact):
    """
    Alice asks Carol to subscribe; she cancels her subscription to Bob.
    """
    recipient = world.contacts[contact]
    type = "subscribe" if contact == "carol" else "unsubscribe"
    world.alice.send(presence(to=recipient.jid.userhost(), type=type))
    delivered = bool(_got(recipient, "presence", type))
    return _outcome(delivered, _refusedWith(world.alice, "not-acceptable"))


#: In running order: Alice cancelling her subscription to Bob changes it,
#: so that comes last.
PROBE_FUNCTIONS = {
    "message-in": probeMessageIn,
    "iq-in": probeIQIn,
    "presence-in": probePresenceIn,
    "message-out": probeMessageOut,
    "iq-out": probeIQOut,
    "directed-presence-out": probeDirectedPresenceOut,
    "broadcast-out": probeBroadcastOut,
    "subscription-in": probeSubscriptionIn,
    "subscription-out": probeSubscriptionOut,
}

CASES = [(itemName, action, kind, how)
         for itemName in ITEMS for action in ("deny", "allow")
         for kind in KINDS for how in ("default", "active")]


def _caseID(case):
    itemName, action, kind, how = case
    return "%s-%s-%s-%s" % (itemName, action, kind or "all", how)


@pytest.mark.parametrize("case", CASES, ids=[_caseID(c) for c in CASES])
def test_matrix(case):
    itemName, action, kind, how = case
    items = itemXML(itemName, action, kind)
    if action == "allow":
        items += "<item action='deny' order='2'/>"
    world = World()
    try:
        world.apply(items, how)
        observed, expected = {}, {}
        for probe, function in PROBE_FUNCTIONS.items():
            for contact in ("bob", "carol"):
                blocked = function(world, contact)
                if blocked is None:
                    continue
                observed[probe, contact] = blocked
                expected[probe, contact] = expectedBlocked(
                    probe, contact, itemName, action, kind)
        assert observed == expected
    finally:
        world.close()


def test_everyCombinationCovered():
    """
    The matrix has every item type, both actions, every stanza kind, and
    probes in both directions with contacts on both domains.
    """
    types = {ITEMS[name][0][0] for name, _, _, _ in CASES}
    assert types == {"jid", "group", "subscription", None}
    assert {action for _, action, _, _ in CASES} == {"allow", "deny"}
    assert set(KINDS) == {"message", "iq", "presence-in", "presence-out",
                          None}
    assert {p.rsplit("-", 1)[1] for p in PROBES} == {"in", "out"}
    assert set(PROBE_FUNCTIONS) == set(PROBES)
