"""
Rosters (RFC 6121 section 2): get, set and remove; pushes to interested
resources; versioning (section 2.6); the pre-approval stream feature
(section 3.4).

The plugin also provides L{IRoster} to the host's other plugins: rosters
live in memory while their user has a session (and in a bounded cache
otherwise), so presence broadcasts never read the database.
"""

from dataclasses import replace

from twisted.internet import defer
from twisted.words.xish import domish
from zope.interface import implementer

from jabberd.bus import SESSION_BINDING, SESSION_BOUND, SESSION_CLOSED, Address
from jabberd.context import POSTAUTH
from jabberd.errors import StanzaError
from jabberd.im import IPresence, IRoster
from jabberd.jid import InvalidJID, parseJID
from jabberd.plugin import PluginFactory
from jabberd.roster import NS_ROSTER, RosterItem
from jabberd.stanza import makeElement
from jabberd.usercache import UserStateCache
from jabberd.storage.roster import (
    IRosterStore, MemoryRosterStore, SQLRosterStore)

NS_ROSTERVER = "urn:xmpp:features:rosterver"
NS_PREAPPROVAL = "urn:xmpp:features:pre-approval"
INTERESTED = "roster.interested"


@implementer(IRoster)
class RosterService:
    """
    The roster plugin of one host.
    """

    def __init__(self, context):
        self.context = context
        self.config = context.config
        store = context.store(IRosterStore)
        self.cache = UserStateCache(store, store.loadRoster,
                                    self.config["cache_size"], context.log)
        context.provide(IRoster, self)
        context.declareFeature(NS_ROSTER)
        context.addStreamFeature(POSTAUTH, self.rosterverFeature)
        context.addStreamFeature(POSTAUTH, self.preApprovalFeature)
        context.onSignal(SESSION_BINDING, self.sessionBinding)
        context.onSignal(SESSION_BOUND, self.sessionBound)
        context.onSignal(SESSION_CLOSED, self.sessionClosed)
        context.handleIQ("get", NS_ROSTER, "query", self.getReceived,
                         Address.BARE)
        context.handleIQ("set", NS_ROSTER, "query", self.setReceived,
                         Address.BARE)
        for user in list(context.sessions.users()):
            defer.maybeDeferred(self.cache.loadAndPin, user).addErrback(
                lambda f, user=user: context.log.failure(
                    "reading the roster of {user}", f, user=user))

    # -- stream features and session lifecycle ---------------------------------

    def rosterverFeature(self, stream):
        """
        Roster versioning is offered (RFC 6121 section 2.6.1).
        """
        return domish.Element((NS_ROSTERVER, "ver"))

    def preApprovalFeature(self, stream):
        """
        Subscription pre-approval is offered (RFC 6121 section 3.4.1).
        """
        return domish.Element((NS_PREAPPROVAL, "sub"))

    def sessionBinding(self, session):
        """
        Load and pin the roster before the session exists, so that
        everything the session does afterwards finds it in memory.
        """
        return self.cache.loadAndPin(session.jid.user)

    def sessionBound(self, session):
        self.cache.pin(session.jid.user)

    def sessionClosed(self, session, reason):
        user = session.jid.user
        if not self.context.sessions.sessionsOf(user):
            self.cache.unpin(user)

    # -- IRoster ----------------------------------------------------------------

    def rosterFor(self, user):
        return self.cache.load(user)

    def cached(self, user):
        return self.cache.cached(user)

    def update(self, user, item):
        roster = self.cache.cached(user)
        roster.put(item)
        self.cache.write(user, self.cache.store.saveItem, item)
        self.push(user, item.toElement(), item.version)

    def remove(self, user, contact):
        roster = self.cache.cached(user)
        version = roster.remove(contact)
        if version is None:
            return False
        self.cache.write(user, self.cache.store.removeItem, contact, version)
        self.push(user, RosterItem(contact).toElement(remove=True), version)
        return True

    def setPendingIn(self, user, contact, element):
        roster = self.cache.cached(user)
        if element is None:
            if roster.pending.pop(contact, None) is None:
                return
        else:
            roster.pending[contact] = element
        self.cache.write(user, self.cache.store.setPending, contact, element)

    def push(self, user, item, version):
        """
        Send a roster push (RFC 6121 section 2.1.6) to every resource of
        C{user} that requested the roster.
        """
        sessions = self.context.sessions.sessionsOf(user)
        for session in list(sessions.values()):
            if session.data.get(INTERESTED):
                session.deliver(_push(session.jid, item, version))

    # -- IQ handlers ----------------------------------------------------------------

    def _owner(self, stanza):
        """
        Only the user may read or change their roster (section 2.1.5).
        """
        if stanza.sender.userhost() != stanza.recipient.userhost():
            raise StanzaError("forbidden")
        return stanza.sender.user

    def getReceived(self, stanza):
        """
        Section 2.1.3 (and 2.6.3 with C{ver}): the whole roster, or an
        empty result followed by pushes of what changed.
        """
        user = self._owner(stanza)
        roster = self.cache.cached(user)
        if stanza.origin is not None:
            stanza.origin.data[INTERESTED] = True
        known = _version(stanza.payload().getAttribute("ver"))
        if known is not None and known <= roster.version:
            items, removed = roster.changedSince(known)
            if len(items) + len(removed) < len(roster.items):
                self.context.reactor.callLater(
                    0, self._pushChanges, stanza.origin, known, roster)
                return None
        return _fullRoster(roster)

    def _pushChanges(self, session, known, roster):
        """
        Section 2.6.3: after the empty result, push what changed since
        version C{known}, oldest first.  The changes are read now, not
        when the request came, so nothing pushed in between is undone by
        an older push.
        """
        items, removed = roster.changedSince(known)
        changes = [(i.version, i.toElement()) for i in items]
        for contact in removed:
            changes.append((roster.removed[contact],
                            RosterItem(contact).toElement(remove=True)))
        for version, item in sorted(changes, key=lambda c: c[0]):
            session.deliver(_push(session.jid, item, version))

    def setReceived(self, stanza):
        """
        Section 2.1.5 (add or update) and 2.5 (remove).
        """
        user = self._owner(stanza)
        item = _onlyItem(stanza.payload())
        contact = _contactOf(item)
        if item.getAttribute("subscription") == "remove":
            self._removeItem(user, contact)
            return None
        name, groups = self._checkedNameAndGroups(item)
        roster = self.cache.cached(user)
        current = roster.get(contact) or RosterItem(contact)
        self.update(user, replace(current, name=name, groups=groups,
                                  version=roster.nextVersion()))
        return None

    def _removeItem(self, user, contact):
        """
        Section 2.5.2: cancel the subscriptions both ways, then remove.
        """
        roster = self.cache.cached(user)
        state = roster.state(contact)
        if roster.get(contact) is None:
            raise StanzaError("item-not-found")
        sender = "%s@%s" % (user, self.context.domain)
        if state.hasTo or state.pendingOut:
            self._sendPresence(sender, contact, "unsubscribe")
        if state.hasFrom:
            self._sendUnavailable(user, contact)
        if state.hasFrom or state.pendingIn:
            self._sendPresence(sender, contact, "unsubscribed")
        self.setPendingIn(user, contact, None)
        self.remove(user, contact)

    def _sendPresence(self, sender, contact, type):
        element = makeElement("presence", to=contact, type=type)
        element["from"] = sender
        self.context.send(element)

    def _sendUnavailable(self, user, contact):
        """
        A contact whose subscription the removal cancels gets unavailable
        presence from each available resource first, as for an explicit
        C{unsubscribed} (section 3.2.2).
        """
        try:
            presence = self.context.lookup(IPresence)
        except LookupError:
            return
        for session in presence.availableSessions(user):
            self._sendPresence(session.jid.full(), contact, "unavailable")

    def _checkedNameAndGroups(self, item):
        """
        Section 2.3.3: duplicate groups are a C{bad-request}; a name or
        group over the configured length, and a group of zero length, are
        C{not-acceptable}.
        """
        limit = self.config["max_name_length"]
        name = item.getAttribute("name")
        if name is not None and len(name) > limit:
            raise StanzaError("not-acceptable", text="name too long")
        groups = [str(g) for g in item.elements(NS_ROSTER, "group")]
        if len(set(groups)) != len(groups):
            raise StanzaError("bad-request", text="duplicate group")
        if any(not g for g in groups):
            raise StanzaError("not-acceptable", text="empty group name")
        if any(len(g) > self.config["max_group_length"] for g in groups):
            raise StanzaError("not-acceptable", text="group name too long")
        return name, tuple(groups)


def _version(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _onlyItem(query):
    """
    Section 2.1.5: a roster set carries exactly one item.
    """
    items = list(query.elements(NS_ROSTER, "item"))
    if len(items) != 1:
        raise StanzaError("bad-request", text="exactly one item required")
    return items[0]


def _contactOf(item):
    try:
        jid = parseJID(item.getAttribute("jid") or "")
    except InvalidJID:
        raise StanzaError("jid-malformed")
    return jid.userhost() if jid.resource is None else jid.full()


def _fullRoster(roster):
    query = domish.Element((NS_ROSTER, "query"))
    query["ver"] = str(roster.version)
    for item in roster.items.values():
        query.addChild(item.toElement())
    return query


def _push(jid, item, version):
    iq = makeElement("iq", type="set", to=jid.full(),
                     id="push%d" % (version,))
    query = iq.addElement((NS_ROSTER, "query"))
    query["ver"] = str(version)
    query.addChild(item)
    return iq


class RosterFactory(PluginFactory):
    name = "roster"
    description = "RFC 6121 rosters with versioning and pre-approval"
    options = {
        "max_name_length": 1023,
        "max_group_length": 1023,
        "cache_size": 10000,
    }
    stores = {IRosterStore: (MemoryRosterStore, SQLRosterStore)}
    minimums = dict.fromkeys(options, 1)
    instanceClass = RosterService


roster = RosterFactory()
