"""
Rosters in memory (RFC 6121 section 2): items, versions and pending
subscription requests of one user, and their XML form.

A plain library shared by the roster and presence plugins (as Prosody's
rostermanager serves its modules): it changes L{Roster} objects and says
what changed; the plugins store and push the changes.
"""

from dataclasses import dataclass, field, replace

from twisted.words.xish import domish

from jabberd.subscription import State

NS_ROSTER = "jabber:iq:roster"


@dataclass(frozen=True)
class RosterItem:
    """
    One contact in a roster (RFC 6121 section 2.1.2).

    @ivar jid: the contact's bare JID as text.
    @ivar ask: whether a subscription request to the contact is pending
        (C{ask='subscribe'}).
    @ivar approved: pre-approval of the contact's future request
        (section 3.4).
    @ivar version: the roster version at which the item last changed.
    """

    jid: str
    name: str = None
    groups: tuple = ()
    subscription: str = "none"
    ask: bool = False
    approved: bool = False
    version: int = 0

    def toElement(self, remove=False):
        """
        The C{<item/>} for roster results and pushes.
        """
        item = domish.Element((NS_ROSTER, "item"))
        item["jid"] = self.jid
        if remove:
            item["subscription"] = "remove"
            return item
        item["subscription"] = self.subscription
        if self.name is not None:
            item["name"] = self.name
        if self.ask:
            item["ask"] = "subscribe"
        if self.approved:
            item["approved"] = "true"
        for group in self.groups:
            item.addElement("group", content=group)
        return item


@dataclass
class Roster:
    """
    The roster of one user.

    @ivar items: bare JID text to L{RosterItem}.
    @ivar removed: bare JID text to the version at which it was removed,
        for versioned pushes of removals (section 2.6).
    @ivar pending: bare JID text to the serialised subscription request
        awaiting the user's answer (section 3.1.3).
    """

    user: str
    version: int = 0
    items: dict = field(default_factory=dict)
    removed: dict = field(default_factory=dict)
    pending: dict = field(default_factory=dict)

    def state(self, contact):
        """
        The subscription L{State} with bare JID text C{contact}.  A
        pending flag that no state allows (an C{ask} on C{to} or C{both},
        say, in data written by hand) is ignored rather than trusted.
        """
        item = self.items.get(contact)
        subscription, ask = ("none", False) if item is None else (
            item.subscription, item.ask)
        return State.of(subscription,
                        ask and subscription in ("none", "from"),
                        contact in self.pending
                        and subscription in ("none", "to"))

    def get(self, contact):
        return self.items.get(contact)

    def nextVersion(self):
        """
        Advance the version for one change.
        """
        self.version += 1
        return self.version

    def put(self, item):
        """
        Store C{item} (already carrying its new version).
        """
        self.items[item.jid] = item
        self.removed.pop(item.jid, None)

    def remove(self, contact):
        """
        Drop C{contact}; its removal is remembered for versioning.

        @return: the removed item's version stamp, or C{None} if absent.
        """
        if self.items.pop(contact, None) is None:
            return None
        self.removed[contact] = self.nextVersion()
        return self.removed[contact]

    def withState(self, contact, state, **changes):
        """
        The item for C{contact} after a subscription change to C{state}
        (a new item with no name and no groups if there was none), with a
        new version.
        """
        item = self.items.get(contact) or RosterItem(contact)
        return replace(item, subscription=state.subscription,
                       ask=state.pendingOut, version=self.nextVersion(),
                       **changes)

    def changedSince(self, version):
        """
        What changed after C{version}: items and removed JIDs.
        """
        items = [i for i in self.items.values() if i.version > version]
        removed = [j for j, v in self.removed.items() if v > version]
        return items, removed

    def subscribers(self):
        """
        Contacts that receive the user's presence (C{from} or C{both}).
        """
        return [j for j, i in self.items.items()
                if i.subscription in ("from", "both")]

    def subscriptions(self):
        """
        Contacts whose presence the user receives (C{to} or C{both}).
        """
        return [j for j, i in self.items.items()
                if i.subscription in ("to", "both")]
