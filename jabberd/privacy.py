"""
Privacy lists (XEP-0016, first published as RFC 3921 section 10) and the
blocklist (XEP-0191) as a view of them, in memory.

A plain library, as L{jabberd.roster} is for rosters: items and lists,
their XML form and its validation, one user's lists (L{Privacy}), and the
L{Rules} compiled from one list, which decide for one stanza which item,
if any, applies.  The privacy plugin stores, caches and enforces; nothing
here touches the network or a store.

XEP-0191 section 5 maps the blocklist onto the default privacy list: each
blocked JID is an item of type C{jid}, action C{deny} and no child
element (so it applies to every stanza).  L{blockedJIDs}, L{withBlocked}
and L{withUnblocked} read and change a list through that view.
"""

from dataclasses import dataclass

from twisted.words.xish import domish

from jabberd.errors import StanzaError
from jabberd.jid import InvalidJID, parseJID

NS_PRIVACY = "jabber:iq:privacy"
NS_BLOCKING = "urn:xmpp:blocking"
NS_BLOCKING_ERRORS = "urn:xmpp:blocking:errors"

#: Stanza categories, as bits.  XEP-0016 section 2.1: the child elements
#: of an item block incoming messages, incoming IQs, incoming presence
#: notifications and outgoing presence notifications; an item without
#: children blocks those and everything else (section 2.13: subscription
#: stanzas and probes both ways, outgoing messages and IQs), L{OTHER}.
MESSAGE, IQ, PRESENCE_IN, PRESENCE_OUT, OTHER = 1, 2, 4, 8, 16
ALL = MESSAGE | IQ | PRESENCE_IN | PRESENCE_OUT | OTHER
CATEGORIES = (MESSAGE, IQ, PRESENCE_IN, PRESENCE_OUT, OTHER)

#: The child elements of an item, in the order the schema gives them.
STANZA_CHILDREN = {"iq": IQ, "message": MESSAGE, "presence-in": PRESENCE_IN,
                   "presence-out": PRESENCE_OUT}

ITEM_TYPES = frozenset(("jid", "group", "subscription"))
ACTIONS = frozenset(("allow", "deny"))
SUBSCRIPTIONS = frozenset(("none", "to", "from", "both"))

#: The 'order' attribute is an xs:unsignedInt (XEP-0016 section 2.1).
MAX_ORDER = 2 ** 32 - 1

#: Longest list name kept (the SQL column's length).
MAX_NAME_LENGTH = 1023


@dataclass(frozen=True)
class PrivacyItem:
    """
    One rule of a privacy list (XEP-0016 section 2.1).

    @ivar order: its place in the list; unique within the list.
    @ivar action: C{"allow"} or C{"deny"}.
    @ivar type: C{"jid"}, C{"group"}, C{"subscription"}, or C{None} for
        the fall-through case.
    @ivar value: the JID (prepared), group or subscription state.
    @ivar stanzas: the names of its child elements, in L{STANZA_CHILDREN}
        order; empty for every stanza.
    """

    order: int
    action: str
    type: str = None
    value: str = None
    stanzas: tuple = ()

    @property
    def mask(self):
        """
        The stanza categories the item applies to, as bits.
        """
        if not self.stanzas:
            return ALL
        mask = 0
        for name in self.stanzas:
            mask |= STANZA_CHILDREN[name]
        return mask

    def blocks(self):
        """
        Whether this item is a blocklist entry (XEP-0191 section 5): a
        C{jid} item that denies every stanza.
        """
        return self.type == "jid" and self.action == "deny" \
            and not self.stanzas

    def toElement(self):
        item = domish.Element((NS_PRIVACY, "item"))
        if self.type is not None:
            item["type"] = self.type
            item["value"] = self.value
        item["action"] = self.action
        item["order"] = str(self.order)
        for name in self.stanzas:
            item.addElement(name)
        return item


def blockItem(jid, order):
    """
    The blocklist entry for C{jid} (prepared JID text).
    """
    return PrivacyItem(order, "deny", "jid", jid)


# -- XML ----------------------------------------------------------------------


def listElement(name, items=()):
    """
    A C{<list/>} named C{name} holding C{items}; without items it is the
    form of a privacy list push (XEP-0016 section 2.2, rule 10).
    """
    element = domish.Element((NS_PRIVACY, "list"))
    element["name"] = name
    for item in items:
        element.addChild(item.toElement())
    return element


def listName(element):
    """
    The C{name} of a C{<list/>}, C{<active/>} or C{<default/>}.

    @param element: the element.
    @return: the name, or C{None} if absent (only allowed for C{active}
        and C{default}, to decline).
    @raise StanzaError: C{bad-request} for an empty or overlong name.
    """
    name = element.getAttribute("name")
    if name is None:
        return None
    if not name or len(name) > MAX_NAME_LENGTH:
        raise StanzaError("bad-request", text="bad list name")
    return name


def parseItems(element, groups):
    """
    The items of a C{<list/>} a client sent, checked as XEP-0016 section
    2.1 requires.

    @param groups: the roster groups of the user, for C{group} items.
    @return: a tuple of L{PrivacyItem}, by order.
    @raise StanzaError: C{bad-request} for anything malformed (an unknown
        C{type} or C{action}, a C{value} that does not fit its type, an
        C{order} that is not an unsigned int or is not unique);
        C{item-not-found} for a group not in the roster.
    """
    items = [parseItem(child, groups) for child in element.elements()]
    orders = set(item.order for item in items)
    if len(orders) != len(items):
        raise StanzaError("bad-request", text="order values must be unique")
    return tuple(sorted(items, key=lambda item: item.order))


def parseItem(element, groups):
    """
    One C{<item/>} of a list; see L{parseItems}.
    """
    if element.uri != NS_PRIVACY or element.name != "item":
        raise StanzaError("bad-request", text="a list holds only items")
    action = element.getAttribute("action")
    if action not in ACTIONS:
        raise StanzaError("bad-request", text="action must be allow or deny")
    type = element.getAttribute("type")
    value = _checkedValue(type, element.getAttribute("value"), groups)
    return PrivacyItem(_order(element.getAttribute("order")), action, type,
                       value, _stanzas(element))


def _order(text):
    if text is None or not (text.isascii() and text.isdigit()) \
            or int(text) > MAX_ORDER:
        raise StanzaError("bad-request",
                          text="order must be an unsigned integer")
    return int(text)


def _checkedValue(type, value, groups):
    """
    The C{value} of an item of C{type}, prepared.
    """
    if type is None:
        if value is not None:
            raise StanzaError("bad-request", text="a value needs a type")
        return None
    if type not in ITEM_TYPES:
        raise StanzaError("bad-request", text="unknown item type")
    if type == "jid":
        return _preparedJID(value, "bad-request")
    if type == "subscription":
        if value not in SUBSCRIPTIONS:
            raise StanzaError("bad-request", text="unknown subscription")
        return value
    if not value:
        raise StanzaError("bad-request", text="a group item needs a group")
    if value not in groups:
        raise StanzaError("item-not-found", text="no such roster group")
    return value


def _preparedJID(text, condition):
    try:
        return parseJID(text or "").full()
    except InvalidJID:
        raise StanzaError(condition, text="not a valid JID")


def _stanzas(element):
    """
    The child element names of an item, in schema order, each once.
    """
    names = set()
    for child in element.elements():
        if child.uri != NS_PRIVACY or child.name not in STANZA_CHILDREN:
            raise StanzaError("bad-request", text="unknown stanza kind")
        names.add(child.name)
    return tuple(name for name in STANZA_CHILDREN if name in names)


def parseBlockItems(element):
    """
    The JIDs of the C{<item/>} children of a XEP-0191 C{<block/>} or
    C{<unblock/>}, prepared, each once, in the order given.

    @raise StanzaError: C{jid-malformed} for a missing or invalid JID.
    """
    jids = []
    for item in element.elements(NS_BLOCKING, "item"):
        jid = _preparedJID(item.getAttribute("jid"), "jid-malformed")
        if jid not in jids:
            jids.append(jid)
    return jids


def blockElement(name, jids):
    """
    A XEP-0191 C{<blocklist/>}, C{<block/>} or C{<unblock/>} with an item
    for each of C{jids}.
    """
    element = domish.Element((NS_BLOCKING, name))
    for jid in jids:
        element.addElement("item")["jid"] = jid
    return element


# -- the blocklist view (XEP-0191 section 5) ---------------------------------


def blockedJIDs(items):
    """
    The JIDs the blocklist entries of C{items} block, in list order.
    """
    jids = []
    for item in items:
        if item.blocks() and item.value not in jids:
            jids.append(item.value)
    return jids


def withBlocked(items, jids):
    """
    C{items} with an entry for each of C{jids} not yet blocked.  Blocked
    items SHOULD come first (XEP-0191 section 5): the new entries go
    after the entries the list starts with, ahead of every other item.
    The others keep their orders when there is room between, and are
    renumbered from 0 otherwise.

    @return: the new items, by order.
    """
    known = blockedJIDs(items)
    new = [jid for jid in jids if jid not in known]
    if not new:
        return tuple(items)
    items = list(items)
    at = 0
    while at < len(items) and items[at].blocks():
        at += 1
    start = _room(items, at, len(new))
    if start is None:
        entries = items[:at] + [blockItem(jid, 0) for jid in new] + items[at:]
        return tuple(_reordered(item, n) for n, item in enumerate(entries))
    added = [blockItem(jid, start + n) for n, jid in enumerate(new)]
    return tuple(items[:at] + added + items[at:])


def _room(items, at, count):
    """
    The first order of C{count} consecutive free orders between the item
    before position C{at} and the one at it, or C{None} if they do not
    fit.
    """
    if not items:
        return 0
    if at == 0:
        start = items[0].order - count
    else:
        start = items[at - 1].order + 1
    end = items[at].order if at < len(items) else MAX_ORDER + 1
    return start if 0 <= start and start + count <= end else None


def _reordered(item, order):
    return PrivacyItem(order, item.action, item.type, item.value,
                       item.stanzas)


def withUnblocked(items, jids=None):
    """
    C{items} without the blocklist entries for C{jids} (all of them if
    C{None}); other items, even those denying the same JIDs, stay.
    """
    return tuple(item for item in items if not (
        item.blocks() and (jids is None or item.value in jids)))


# -- one user's lists ---------------------------------------------------------


class Privacy:
    """
    The privacy lists of one user.

    @ivar user: the localpart.
    @ivar lists: list name to its items (a tuple, by order).
    @ivar default: the name of the default list, or C{None}.
    """

    def __init__(self, user, lists=None, default=None):
        self.user = user
        self.lists = dict(lists or {})
        self.default = default
        self._rules = {}
        self._needsRoster = None

    def __eq__(self, other):
        if not isinstance(other, Privacy):
            return NotImplemented
        return (self.user, self.lists, self.default) == (
            other.user, other.lists, other.default)

    def __repr__(self):
        return "<Privacy %s default=%r lists=%r>" % (
            self.user, self.default, sorted(self.lists))

    def put(self, name, items):
        """
        Create or replace list C{name}.
        """
        self.lists[name] = tuple(items)
        self._rules.pop(name, None)
        self._needsRoster = None

    def remove(self, name):
        """
        Remove list C{name}; it stops being the default.
        """
        self.lists.pop(name, None)
        self._rules.pop(name, None)
        self._needsRoster = None
        if self.default == name:
            self.default = None

    def rules(self, name):
        """
        The compiled L{Rules} of list C{name} (L{NO_RULES} for C{None} or
        a list that does not exist); compiled once per definition.
        """
        rules = self._rules.get(name)
        if rules is None:
            items = self.lists.get(name)
            if items is None:
                return NO_RULES
            rules = self._rules[name] = Rules(items)
        return rules

    def blocked(self):
        """
        The blocklist: what the default list blocks (XEP-0191 section 5).
        """
        return blockedJIDs(self.lists.get(self.default, ()))

    def needsRoster(self):
        """
        Whether some list has C{group} or C{subscription} items, which
        need the user's roster to be matched (worked out once per change).
        """
        if self._needsRoster is None:
            self._needsRoster = any(
                item.type in ("group", "subscription")
                for items in self.lists.values() for item in items)
        return self._needsRoster


# -- matching -----------------------------------------------------------------


class Rules:
    """
    One privacy list compiled for matching (XEP-0016 section 2.2: items
    in ascending order, the first that matches decides).

    Per stanza category it keeps the items that apply, indexed by what
    they match, so that a check costs a few dictionary lookups whatever
    the length of the list.

    @ivar empty: whether the list has no item.
    @ivar needsRoster: whether some item is a group or subscription item.
    """

    __slots__ = ("_tables", "empty", "needsRoster")

    def __init__(self, items):
        items = sorted(items, key=lambda item: item.order)
        self._tables = {category: _Table([i for i in items
                                          if i.mask & category])
                        for category in CATEGORIES}
        self.empty = not items
        self.needsRoster = any(i.type in ("group", "subscription")
                               for i in items)

    def decide(self, category, jid, roster=None):
        """
        The item that decides for a stanza of C{category} exchanged with
        C{jid}, or C{None} if none matches (XEP-0016 section 2.2 rule 7:
        then it is allowed).

        @param jid: the other party's L{JID}.
        @param roster: the user's L{jabberd.roster.Roster}, for group and
            subscription items (C{None}: nobody is in it).
        """
        return self._tables[category].first(jid, roster)

    def denies(self, category, jid, roster=None):
        """
        Whether a stanza of C{category} exchanged with C{jid} is denied.
        """
        item = self._tables[category].first(jid, roster)
        return item is not None and item.action == "deny"


class _Table:
    """
    The items of one list that apply to one stanza category, by position
    (their rank by order), indexed by what they match; each index keeps
    the first position for its key, and the first match is the smallest
    position found.

    @ivar exact: JID text (full, bare, or domain/resource) to position.
    @ivar domains: domain to position.
    @ivar subscriptions: subscription state to position.
    @ivar groups: roster group to position.
    @ivar fallThrough: the position of the first fall-through item (the
        number of items if there is none).
    """

    __slots__ = ("items", "exact", "domains", "subscriptions", "groups",
                 "fallThrough")

    def __init__(self, items):
        self.items = tuple(items)
        self.exact, self.domains = {}, {}
        self.subscriptions, self.groups = {}, {}
        self.fallThrough = len(self.items)
        for position, item in enumerate(self.items):
            self._index(item, position)

    def _index(self, item, position):
        if item.type is None:
            self.fallThrough = min(self.fallThrough, position)
        elif item.type == "subscription":
            self.subscriptions.setdefault(item.value, position)
        elif item.type == "group":
            self.groups.setdefault(item.value, position)
        elif "@" in item.value or "/" in item.value:
            self.exact.setdefault(item.value, position)
        else:
            self.domains.setdefault(item.value, position)

    def first(self, jid, roster):
        best = self.fallThrough
        if self.exact:
            best = _firstExact(self.exact, jid, best)
        if self.domains:
            best = _firstDomain(self.domains, jid.host, best)
        if self.subscriptions or self.groups:
            best = self._firstInRoster(jid, roster, best)
        return self.items[best] if best < len(self.items) else None

    def _firstInRoster(self, jid, roster, best):
        """
        Subscription and group items; an entity not in the roster has
        subscription C{none} and no group (XEP-0016 section 2.1).
        """
        entry = None if roster is None else roster.items.get(jid.userhost())
        if self.subscriptions:
            position = self.subscriptions.get(
                "none" if entry is None else entry.subscription)
            if position is not None and position < best:
                best = position
        if self.groups and entry is not None:
            for group in entry.groups:
                position = self.groups.get(group)
                if position is not None and position < best:
                    best = position
        return best


def _firstExact(exact, jid, best):
    """
    XEP-0016 section 2.1: an item for C{user@domain/resource} matches that
    JID only, one for C{user@domain} any of its resources, one for
    C{domain/resource} that resource at the domain.
    """
    user, resource = jid.user, jid.resource
    if resource is None:
        keys = () if user is None else (jid.userhost(),)
    elif user is None:
        keys = (jid.full(),)
    else:
        keys = (jid.full(), jid.userhost(), jid.host + "/" + resource)
    for key in keys:
        position = exact.get(key)
        if position is not None and position < best:
            best = position
    return best


def _firstDomain(domains, host, best):
    """
    XEP-0016 section 2.1: an item for C{domain} matches the domain itself,
    any address at it, "or address containing a subdomain".  IP literals
    have no subdomains.
    """
    while True:
        position = domains.get(host)
        if position is not None and position < best:
            best = position
        dot = host.find(".")
        if dot < 0 or host[-1].isdigit() or host.startswith("["):
            return best
        host = host[dot + 1:]


#: The rules of no list at all: everything is allowed.
NO_RULES = Rules(())
