"""
Tests for L{jabberd.privacy}: privacy list items and their validation
(XEP-0016 section 2.1), the blocklist view of the default list (XEP-0191
section 5), and matching (XEP-0016 section 2.2: the first item by order
decides; JIDs matched as full, bare, domain/resource, domain).
"""

import pytest

from jabberd.errors import StanzaError
from jabberd.jid import parseJID
from jabberd.privacy import (ALL, IQ, MAX_ORDER, MESSAGE, NO_RULES, OTHER,
                             PRESENCE_IN, PRESENCE_OUT, Privacy, PrivacyItem,
                             Rules, blockedJIDs, blockElement, listElement,
                             parseBlockItems, parseItems, withBlocked,
                             withUnblocked)
from jabberd.roster import Roster, RosterItem
from jabberd.testing import parseXML, toXML


def items(*texts, groups=()):
    element = parseXML("<list xmlns='jabber:iq:privacy' name='l'>%s</list>"
                       % ("".join(texts),))
    return parseItems(element, set(groups))


def refused(*texts, groups=()):
    with pytest.raises(StanzaError) as caught:
        items(*texts, groups=groups)
    return caught.value.condition


def test_parseEveryKind():
    """
    Items of each type keep their attributes and children; they come out
    sorted by order, JIDs prepared, children in schema order.
    """
    parsed = items(
        "<item type='jid' value='Tybalt@Example.COM' action='deny' "
        "order='3'><presence-out/><message/></item>",
        "<item type='group' value='Enemies' action='deny' order='1'/>",
        "<item type='subscription' value='none' action='allow' order='2'>"
        "<iq/><presence-in/></item>",
        "<item action='allow' order='4294967295'/>", groups=["Enemies"])
    assert parsed == (
        PrivacyItem(1, "deny", "group", "Enemies"),
        PrivacyItem(2, "allow", "subscription", "none",
                    ("iq", "presence-in")),
        PrivacyItem(3, "deny", "jid", "tybalt@example.com",
                    ("message", "presence-out")),
        PrivacyItem(MAX_ORDER, "allow"))
    assert parsed[2].mask == MESSAGE | PRESENCE_OUT
    assert parsed[0].mask == ALL


def test_itemToElement():
    item = PrivacyItem(7, "deny", "jid", "tybalt@example.com",
                       ("message", "presence-in"))
    assert toXML(item.toElement()) == (
        "<item xmlns='jabber:iq:privacy' type='jid' "
        "value='tybalt@example.com' action='deny' order='7'>"
        "<message/><presence-in/></item>")
    assert toXML(PrivacyItem(1, "allow").toElement()) == (
        "<item xmlns='jabber:iq:privacy' action='allow' order='1'/>")
    assert toXML(listElement("public")) == (
        "<list xmlns='jabber:iq:privacy' name='public'/>")


@pytest.mark.parametrize("text", [
    "<item action='allow' order='1'/><item action='deny' order='1'/>",
    "<item action='block' order='1'/>",
    "<item order='1'/>",
    "<item action='allow'/>",
    "<item action='allow' order='-1'/>",
    "<item action='allow' order='1.5'/>",
    "<item action='allow' order='4294967296'/>",
    "<item action='allow' order='\u0661'/>",
    "<item type='bogus' value='x' action='allow' order='1'/>",
    "<item type='jid' value='a@b@c' action='deny' order='1'/>",
    "<item type='jid' action='deny' order='1'/>",
    "<item type='subscription' value='pending' action='deny' order='1'/>",
    "<item type='group' action='deny' order='1'/>",
    "<item value='x@example.com' action='deny' order='1'/>",
    "<item action='deny' order='1'><presence/></item>",
    "<item action='deny' order='1'><message xmlns='urn:other'/></item>",
    "<thing action='deny' order='1'/>",
])
def test_badRequest(text):
    """
    XEP-0016 section 2.1: duplicate orders, unknown types and actions,
    orders that are not unsigned ints, values that do not fit their
    type, unknown children are C{bad-request}.
    """
    assert refused(text) == "bad-request"


def test_unknownGroup():
    """
    A group not in the roster is C{item-not-found} (section 2.1).
    """
    assert refused("<item type='group' value='Strangers' action='deny' "
                   "order='1'/>", groups=["Friends"]) == "item-not-found"


def test_blockItems():
    element = parseXML("<block xmlns='urn:xmpp:blocking'>"
                       "<item jid='Romeo@Montague.net'/>"
                       "<item jid='romeo@montague.net'/>"
                       "<item jid='iago@shakespeare.lit/x'/></block>")
    assert parseBlockItems(element) == ["romeo@montague.net",
                                        "iago@shakespeare.lit/x"]
    for bad in ("<item/>", "<item jid='a@@b'/>"):
        with pytest.raises(StanzaError) as caught:
            parseBlockItems(parseXML("<block xmlns='urn:xmpp:blocking'>%s"
                                     "</block>" % (bad,)))
        assert caught.value.condition == "jid-malformed"
    assert toXML(blockElement("block", ["a@b.c"])) == (
        "<block xmlns='urn:xmpp:blocking'><item jid='a@b.c'/></block>")


# -- the blocklist view --------------------------------------------------------


def test_blockedJIDsAreSimpleDenials():
    """
    Only jid items that deny every stanza are blocklist entries.
    """
    listed = (PrivacyItem(1, "deny", "jid", "a@x"),
              PrivacyItem(2, "deny", "jid", "b@x", ("message",)),
              PrivacyItem(3, "allow", "jid", "c@x"),
              PrivacyItem(4, "deny", "group", "g"),
              PrivacyItem(5, "deny", "jid", "x"))
    assert blockedJIDs(listed) == ["a@x", "x"]


def test_withBlockedFirstKeepingOrders():
    """
    New entries go ahead of every item; with room below the lowest order
    nothing else is renumbered.
    """
    listed = (PrivacyItem(10, "allow", "jid", "a@x"),
              PrivacyItem(20, "deny"))
    assert withBlocked(listed, ["b@x", "c@x"]) == (
        PrivacyItem(8, "deny", "jid", "b@x"),
        PrivacyItem(9, "deny", "jid", "c@x")) + listed


def test_withBlockedRenumbers():
    listed = (PrivacyItem(0, "allow", "jid", "a@x"),
              PrivacyItem(5, "deny", "jid", "b@x", ("iq",)))
    assert withBlocked(listed, ["c@x"]) == (
        PrivacyItem(0, "deny", "jid", "c@x"),
        PrivacyItem(1, "allow", "jid", "a@x"),
        PrivacyItem(2, "deny", "jid", "b@x", ("iq",)))


def test_withBlockedAfterLeadingEntries():
    """
    New entries follow the entries the list starts with, so the
    blocklist keeps the order things were blocked in.
    """
    listed = (PrivacyItem(1, "deny", "jid", "a@x"), PrivacyItem(5, "allow"))
    assert withBlocked(listed, ["b@x", "c@x"]) == (
        listed[0], PrivacyItem(2, "deny", "jid", "b@x"),
        PrivacyItem(3, "deny", "jid", "c@x"), listed[1])
    assert blockedJIDs(withBlocked(listed, ["b@x"])) == ["a@x", "b@x"]
    tight = (PrivacyItem(1, "deny", "jid", "a@x"), PrivacyItem(2, "allow"))
    assert withBlocked(tight, ["b@x"]) == (
        PrivacyItem(0, "deny", "jid", "a@x"),
        PrivacyItem(1, "deny", "jid", "b@x"), PrivacyItem(2, "allow"))
    last = (PrivacyItem(MAX_ORDER, "deny", "jid", "a@x"),)
    assert withBlocked(last, ["b@x"]) == (
        PrivacyItem(0, "deny", "jid", "a@x"),
        PrivacyItem(1, "deny", "jid", "b@x"))


def test_withBlockedEmptyAndKnown():
    assert withBlocked((), ["a@x"]) == (PrivacyItem(0, "deny", "jid", "a@x"),)
    listed = (PrivacyItem(3, "deny", "jid", "a@x"),)
    assert withBlocked(listed, ["a@x"]) == listed


def test_withUnblocked():
    """
    Unblocking removes blocklist entries only; other items stay, even
    those that deny the same JID.
    """
    listed = (PrivacyItem(1, "deny", "jid", "a@x"),
              PrivacyItem(2, "deny", "jid", "b@x"),
              PrivacyItem(3, "deny", "jid", "a@x", ("message",)),
              PrivacyItem(4, "allow"))
    assert withUnblocked(listed, ["a@x"]) == listed[1:]
    assert withUnblocked(listed) == listed[2:]


def test_privacyRulesRecompiled():
    """
    The compiled rules follow the list: replaced, removed, default.
    """
    privacy = Privacy("alice", {"l": (PrivacyItem(1, "deny"),)}, "l")
    first = privacy.rules("l")
    assert privacy.rules("l") is first
    assert privacy.blocked() == []
    assert not privacy.needsRoster()
    privacy.put("l", (PrivacyItem(1, "deny", "jid", "a@x"),
                      PrivacyItem(2, "deny", "group", "g")))
    assert privacy.rules("l") is not first
    assert privacy.blocked() == ["a@x"]
    assert privacy.needsRoster()
    privacy.remove("l")
    assert (privacy.default, privacy.rules("l"), privacy.rules(None)) == (
        None, NO_RULES, NO_RULES)


# -- matching ---------------------------------------------------------------------


def decide(listed, jid, category=MESSAGE, roster=None):
    item = Rules(listed).decide(category, parseJID(jid), roster)
    return None if item is None else item.order


def test_jidForms():
    """
    A full JID item matches that resource only; a bare one every
    resource; domain/resource that resource of the domain (at any user);
    a domain everything at it and its subdomains (XEP-0016 section 2.1).
    """
    full = (PrivacyItem(1, "deny", "jid", "romeo@example.net/orchard"),)
    assert decide(full, "romeo@example.net/orchard") == 1
    assert decide(full, "romeo@example.net/home") is None
    assert decide(full, "romeo@example.net") is None
    bare = (PrivacyItem(1, "deny", "jid", "romeo@example.net"),)
    assert decide(bare, "romeo@example.net/home") == 1
    assert decide(bare, "romeo@example.net") == 1
    assert decide(bare, "juliet@example.net") is None
    resource = (PrivacyItem(1, "deny", "jid", "example.net/bot"),)
    assert decide(resource, "example.net/bot") == 1
    assert decide(resource, "romeo@example.net/bot") == 1
    assert decide(resource, "romeo@example.net/home") is None
    assert decide(resource, "example.net") is None
    domain = (PrivacyItem(1, "deny", "jid", "example.net"),)
    for jid in ("example.net", "romeo@example.net", "example.net/x",
                "romeo@chat.example.net/y", "muc.chat.example.net"):
        assert decide(domain, jid) == 1, jid
    for jid in ("example.com", "notexample.net", "net"):
        assert decide(domain, jid) is None, jid


def test_ipLiteralsHaveNoSubdomains():
    listed = (PrivacyItem(1, "deny", "jid", "0.0.1"),
              PrivacyItem(2, "deny", "jid", "127.0.0.1"))
    assert decide(listed, "a@127.0.0.1") == 2
    assert decide(listed, "a@10.0.0.1") is None


def test_firstByOrderDecides():
    """
    Whatever their kinds, the item with the lowest order that matches
    decides; later matches do not count.
    """
    roster = Roster("alice", items={
        "romeo@example.net": RosterItem("romeo@example.net",
                                        groups=("Friends",),
                                        subscription="both")})
    listed = (PrivacyItem(5, "deny", "jid", "romeo@example.net"),
              PrivacyItem(2, "allow", "group", "Friends"),
              PrivacyItem(9, "deny"),
              PrivacyItem(3, "deny", "jid", "example.net"),
              PrivacyItem(1, "deny", "subscription", "both", ("iq",)))
    assert decide(listed, "romeo@example.net/x", MESSAGE, roster) == 2
    assert decide(listed, "romeo@example.net/x", IQ, roster) == 1
    assert decide(listed, "tybalt@example.net", MESSAGE, roster) == 3
    assert decide(listed, "tybalt@example.com", MESSAGE, roster) == 9
    assert decide(listed[:2], "tybalt@example.com", MESSAGE, roster) is None


def test_subscriptionAndGroups():
    """
    Someone not in the roster has subscription C{none} and no group.
    """
    roster = Roster("alice", items={
        "a@x": RosterItem("a@x", subscription="to", groups=("G",)),
        "n@x": RosterItem("n@x")})
    none = (PrivacyItem(1, "deny", "subscription", "none"),)
    assert decide(none, "n@x", roster=roster) == 1
    assert decide(none, "stranger@x", roster=roster) == 1
    assert decide(none, "stranger@x") == 1
    assert decide(none, "a@x/r", roster=roster) is None
    to = (PrivacyItem(1, "deny", "subscription", "to"),)
    assert decide(to, "a@x/r", roster=roster) == 1
    group = (PrivacyItem(1, "deny", "group", "G"),)
    assert decide(group, "a@x", roster=roster) == 1
    assert decide(group, "n@x", roster=roster) is None
    assert decide(group, "a@x") is None


@pytest.mark.parametrize("children, blocked", [
    ((), {MESSAGE, IQ, PRESENCE_IN, PRESENCE_OUT, OTHER}),
    (("message",), {MESSAGE}),
    (("iq",), {IQ}),
    (("presence-in",), {PRESENCE_IN}),
    (("presence-out",), {PRESENCE_OUT}),
    (("message", "presence-out"), {MESSAGE, PRESENCE_OUT}),
])
def test_categories(children, blocked):
    """
    Child elements restrict an item to their stanza kinds; an item
    without any applies to everything, subscriptions included (section
    2.13).
    """
    rules = Rules((PrivacyItem(1, "deny", "jid", "a@x", children),))
    jid = parseJID("a@x/r")
    assert {c for c in (MESSAGE, IQ, PRESENCE_IN, PRESENCE_OUT, OTHER)
            if rules.denies(c, jid)} == blocked
    assert not NO_RULES.denies(MESSAGE, jid)
