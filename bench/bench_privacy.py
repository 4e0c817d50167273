"""
Rough timing of a privacy check (XEP-0016) against a 50-item list:
checks per second for the compiled rules alone, and for the whole
inbound policy hook of the privacy plugin (cache, session and roster
lookups included) on a harness host.

The list: 40 JID items (full, bare, domain/resource and domain), 6 group
items, 3 subscription items (all deny) and an allowing fall-through, the
first 49 in shuffled order; the roster has 100 contacts.  Each figure is
measured for a sender that matches the first item, one that matches a
JID item half way down, and one that matches nothing but the
fall-through (the worst case: every non-JID item is tried).  The hook is
timed with presence, which a deny drops without an answer, so only the
check is measured.

Run from the repository root: C{python bench/bench_privacy.py}.  Not a
test.
"""

import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jabberd.jid import parseJID  # noqa: E402
from jabberd.privacy import MESSAGE, PrivacyItem, Rules  # noqa: E402
from jabberd.roster import Roster, RosterItem  # noqa: E402
from jabberd.stanza import Stanza  # noqa: E402
from jabberd.testing import HostHarness, iq, presence  # noqa: E402
from plugins.message import message as messagePlugin  # noqa: E402
from plugins.presence import presence as presencePlugin  # noqa: E402
from plugins.privacy import privacy as privacyPlugin  # noqa: E402
from plugins.roster import roster as rosterPlugin  # noqa: E402

COUNT = 200000


def fiftyItems():
    """
    A 50-item list, as items; order values shuffled over the kinds.
    """
    values = []
    for n in range(10):
        values += [("jid", "user%d@example.com/res" % n),
                   ("jid", "user%d@example.net" % n),
                   ("jid", "host%d.example/bot" % n),
                   ("jid", "spam%d.example" % n)]
    values += [("group", "Group %d" % n) for n in range(6)]
    values += [("subscription", s) for s in ("to", "from", "both")]
    orders = list(range(1, len(values) + 1))
    random.Random(16).shuffle(orders)
    items = [PrivacyItem(order, "deny", type, value)
             for order, (type, value) in zip(orders, values)]
    items.append(PrivacyItem(1000, "allow"))
    assert len(items) == 50
    return sorted(items, key=lambda item: item.order)


def contactRoster(roster):
    """
    Fill C{roster} with 100 contacts; friend0 is in every group with
    subscription C{both}.
    """
    groups = tuple("Group %d" % n for n in range(6))
    for n in range(100):
        roster.put(RosterItem("friend%d@example.org" % n,
                              groups=groups if n == 0 else ("Group 1",),
                              subscription="both" if n == 0 else "to"))
    return roster


SENDERS = {
    "first item": lambda items: items[0],
    "half way (JID)": lambda items: [i for i in items
                                     if i.type == "jid"][20],
    "no match (worst)": None,
}


def senderFor(items, label):
    pick = SENDERS[label]
    if pick is None:
        return parseJID("stranger@elsewhere.example/x")
    item = pick(items)
    if item.type != "jid":
        return parseJID("friend0@example.org/x")
    if "@" in item.value or "/" in item.value:
        return parseJID(item.value)
    return parseJID("someone@" + item.value)


def report(label, value, unit="checks/s"):
    print(f"{label:<44} {value:>12,.0f} {unit}")


def rate(check, count=COUNT, rounds=5):
    """
    Calls of C{check} per second: the best of C{rounds} rounds, so that
    other load on the machine counts as little as it can.
    """
    best = 0
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(count // rounds):
            check()
        best = max(best, (count // rounds) / (time.perf_counter() - start))
    return best


def benchRules(items):
    rules = Rules(items)
    roster = contactRoster(Roster("alice"))
    for label in SENDERS:
        jid = senderFor(items, label)
        decided = rules.decide(MESSAGE, jid, roster)
        pick = SENDERS[label]
        assert decided is (items[-1] if pick is None else pick(items)), label
        report("rules.decide, " + label,
               rate(lambda: rules.decide(MESSAGE, jid, roster)))


def hostWithList(items):
    """
    A harness host where alice, online, has C{items} as her default list
    and a roster of 100 contacts.
    """
    harness = HostHarness([rosterPlugin, presencePlugin, messagePlugin,
                           privacyPlugin], domains=("example.org",))
    harness.addUser("alice@example.org")
    alice = harness.client("alice@example.org/pc")
    alice.send(presence())
    contactRoster(harness.plugin("roster").cached("alice"))
    body = "".join(item.toElement().toXml() for item in items)
    for inner in ("<list name='fifty'>%s</list>" % (body,),
                  "<default name='fifty'/>"):
        reply = alice.request(iq("set", "<query xmlns='jabber:iq:privacy'>"
                                 "%s</query>" % (inner,)))
        assert reply["type"] == "result", reply.toXml()
    privacy = harness.plugin("privacy").cache.cached("alice")
    assert len(privacy.lists[privacy.default]) == 50
    return harness


def benchHook(items):
    harness = hostWithList(items)
    guard = harness.plugin("privacy").guard
    recipient = parseJID("alice@example.org/pc")
    for label in SENDERS:
        sender = senderFor(items, label)
        stanza = Stanza(presence(to=recipient.full()), sender, recipient)
        denied = guard.inboundReceived(stanza) is not None
        assert denied == (SENDERS[label] is not None), label
        report("inbound hook (presence), " + label,
               rate(lambda: guard.inboundReceived(stanza)))
    harness.close()


def main():
    items = fiftyItems()
    print("privacy check against a %d-item list" % (len(items),))
    benchRules(items)
    benchHook(items)


if __name__ == "__main__":
    main()
