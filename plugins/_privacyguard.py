"""
Enforcement of privacy lists (XEP-0016 section 2.2, RFC 3921 section
10.1): policy hooks on the host's bus, so the router needs no special
case.

  - Inbound (on the recipient's host, before delivery and before the
    presence service sees subscription stanzas and probes, rule 4): a
    stanza from a denied entity is refused as section 2.14 says: presence
    of any type is dropped, a message or IQ get/set gets
    C{service-unavailable}, other IQs are dropped.  The user then looks
    offline to the entity.
  - Outbound (what a user's client sends): a stanza to a denied entity is
    not routed; the client gets C{not-acceptable} (section 2.14), with
    C{<blocked/>} when a blocklist entry decided (XEP-0191 section 3.3).
  - Egress (what the server sends on a user's behalf: presence
    broadcasts, probes and their answers, subscription stanzas): presence
    denied by the user's list is dropped silently.

The list that applies is the session's active list, else the account's
default list (rules 1 and 2).  Stanzas between a user's own resources,
and from or to the user's own server, are never checked (section 2.1,
note 1).  Lists and rosters come from memory; a stanza for a user whose
lists are not cached (an offline user) is held while they are read, then
resumed in its phase, in order with the stanzas that arrived meanwhile.
"""

import weakref

from twisted.words.xish import domish

from jabberd.bus import Address, Kind, Phase, Priority
from jabberd.errors import StanzaError
from jabberd.privacy import (IQ, MESSAGE, NS_BLOCKING_ERRORS, OTHER,
                             PRESENCE_IN, PRESENCE_OUT)

#: Where the per-session state lives in C{session.data}.
SESSION_KEY = "privacy"

NOTIFICATIONS = frozenset(("available", "unavailable"))


class SessionPrivacy:
    """
    The privacy state of one session.

    @ivar active: the name of the session's active list, or C{None}.
    @ivar lists: whether it asked for privacy lists (and so gets pushes).
    @ivar blocklist: whether it asked for the blocklist (and so gets
        XEP-0191 pushes).
    """

    def __init__(self):
        self.active = None
        self.lists = False
        self.blocklist = False


def sessionPrivacy(session):
    """
    The L{SessionPrivacy} of C{session} (a fresh one for C{None}).
    """
    if session is None:
        return SessionPrivacy()
    state = session.data.get(SESSION_KEY)
    if state is None:
        state = session.data[SESSION_KEY] = SessionPrivacy()
    return state


def listNameFor(privacy, session):
    """
    The name of the list that applies to C{session}: its active list,
    else the default list (C{None} if neither).
    """
    state = session.data.get(SESSION_KEY) if session is not None else None
    if state is not None and state.active is not None:
        return state.active
    return privacy.default


def inboundCategory(stanza):
    if stanza.kind is Kind.MESSAGE:
        return MESSAGE
    if stanza.kind is Kind.IQ:
        return IQ
    return PRESENCE_IN if stanza.type in NOTIFICATIONS else OTHER


def outboundCategory(stanza):
    if stanza.kind is Kind.PRESENCE and stanza.type in NOTIFICATIONS:
        return PRESENCE_OUT
    return OTHER


class PrivacyGuard:
    """
    The policy hooks of one host.

    @ivar cache: the L{jabberd.usercache.UserStateCache}.
    @ivar roster: the L{jabberd.im.IRoster} service.
    """

    def __init__(self, context, cache, roster):
        self.context = context
        self.domain = context.domain
        self.cache = cache
        self.roster = roster
        self._waiting = {}
        self._passed = weakref.WeakValueDictionary()
        for kind in Kind:
            for address in (Address.FULL, Address.BARE):
                context.hookStanza(kind, address, Phase.INBOUND,
                                   self.inboundReceived, Priority.POLICY)
            for address in (Address.FULL, Address.BARE, Address.HOST):
                context.hookStanza(kind, address, Phase.OUTBOUND,
                                   self.outboundReceived, Priority.POLICY)
        for address in (Address.FULL, Address.BARE, Address.HOST):
            context.hookStanza(Kind.PRESENCE, address, Phase.EGRESS,
                               self.egressReceived, Priority.POLICY)
        for kind in (Kind.MESSAGE, Kind.PRESENCE):
            context.onDelivery(kind, self.deliveryReceived)

    # -- what applies -------------------------------------------------------

    def _ownTraffic(self, user, other):
        """
        Whether C{other} is one of C{user}'s own addresses or their
        server, which no list may block.
        """
        if other.user is None:
            return other.host == self.domain
        return other.user == user.user and other.host == user.host

    def _ready(self, user):
        """
        The lists of C{user}, if they (and the roster, when a list needs
        it) are in memory and no stanza of the user is waiting; else
        C{None}.
        """
        if user in self._waiting:
            return None
        privacy = self.cache.cached(user)
        if privacy is None or (privacy.needsRoster()
                               and self.roster.cached(user) is None):
            return None
        return privacy

    def rulesFor(self, privacy, session):
        """
        The rules that apply to C{session} (C{None}: the account).
        """
        return privacy.rules(listNameFor(privacy, session))

    def _inboundItem(self, privacy, stanza, category):
        """
        The deciding item for an inbound stanza: the list of the session
        it is addressed to; for a bare JID (or a resource not bound) with
        sessions, a deny only if every session's list denies (messages and
        presence are then checked per session as they are delivered, see
        L{deliveryReceived}), or the strictest for IQs, which the server
        answers for the account; the default list when there is no
        session.
        """
        roster = self.roster.cached(privacy.user)
        sender = stanza.sender
        if stanza.address is Address.FULL:
            session = self.context.sessions.get(stanza.recipient)
            if session is not None:
                return self.rulesFor(privacy, session).decide(
                    category, sender, roster)
        sessions = self.context.sessions.sessionsOf(privacy.user).values()
        names = {listNameFor(privacy, s) for s in sessions} \
            or {privacy.default}
        items = [privacy.rules(name).decide(category, sender, roster)
                 for name in names]
        denials = [i for i in items if i is not None and i.action == "deny"]
        if stanza.kind is Kind.IQ or len(denials) == len(items):
            return denials[0] if denials else next(
                (i for i in items if i is not None), None)
        return None

    # -- the hooks ----------------------------------------------------------

    def inboundReceived(self, stanza):
        """
        A stanza for one of our users, before anything handles it.
        """
        recipient = stanza.recipient
        if self._ownTraffic(recipient, stanza.sender):
            return None
        privacy = self._ready(recipient.user)
        if privacy is None:
            return self._hold(recipient.user, stanza, Phase.INBOUND)
        if not privacy.lists:
            return None
        item = self._inboundItem(privacy, stanza, inboundCategory(stanza))
        if item is None or item.action == "allow":
            return None
        self._refuseInbound(stanza)
        return True

    def deliveryReceived(self, session, stanza):
        """
        A message or presence from someone else is about to be written to
        one of our sessions: that session's list decides (XEP-0016
        section 2.13: the active list applies to the session), silently.
        """
        recipient = session.jid
        if self._ownTraffic(recipient, stanza.sender):
            return None
        privacy = self.cache.cached(recipient.user)
        if privacy is None or not privacy.lists:
            return None
        roster = self.roster.cached(recipient.user)
        item = self.rulesFor(privacy, session).decide(
            inboundCategory(stanza), stanza.sender, roster)
        if item is None or item.action == "allow":
            return None
        return True

    def outboundReceived(self, stanza):
        """
        A stanza from a client with a C{to}: refused if its list denies
        the recipient.
        """
        session, recipient = stanza.origin, stanza.recipient
        if session is None or self._ownTraffic(stanza.sender, recipient):
            return None
        privacy = self._ready(stanza.sender.user)
        if privacy is None:
            return self._hold(stanza.sender.user, stanza, Phase.OUTBOUND)
        if not privacy.lists:
            return None
        name = listNameFor(privacy, session)
        item = privacy.rules(name).decide(outboundCategory(stanza), recipient,
                                          self.roster.cached(privacy.user))
        if item is None or item.action == "allow":
            if stanza.kind is Kind.PRESENCE:
                self._passed[id(stanza.element)] = stanza.element
            return None
        self._refuseOutbound(stanza, item.blocks() and name == privacy.default)
        return True

    def egressReceived(self, stanza):
        """
        Presence leaving the host from one of our users: dropped if the
        list of the sending session (of the account, for the bare JID)
        denies the recipient.  Stanzas already checked as the client's
        own, and the unavailable presence a list change sends
        (L{sendUnfiltered}), pass.
        """
        sender, recipient = stanza.sender, stanza.recipient
        if sender.user is None or sender.host != self.domain \
                or self._ownTraffic(sender, recipient):
            return None
        if self._passed.pop(id(stanza.element), None) is stanza.element:
            return None
        privacy = self._ready(sender.user)
        if privacy is None:
            return self._hold(sender.user, stanza, Phase.EGRESS)
        if not privacy.lists:
            return None
        session = None
        if sender.resource is not None:
            session = self.context.sessions.get(sender)
        if self.rulesFor(privacy, session).denies(
                outboundCategory(stanza), recipient,
                self.roster.cached(privacy.user)):
            return True
        return None

    def sendUnfiltered(self, element):
        """
        Send presence the lists would stop: the unavailable presence that
        tells a newly blocked contact the user is gone (XEP-0016 section
        2.11, XEP-0191 section 3.3).
        """
        self._passed[id(element)] = element
        self.context.send(element)

    # -- refusing -------------------------------------------------------------

    def _refuseInbound(self, stanza):
        """
        Section 2.14: no answer to presence or to IQ results and errors;
        C{service-unavailable} to messages and IQ requests, exactly as if
        the user were offline.
        """
        if stanza.kind is Kind.PRESENCE or stanza.type == "error":
            return
        if stanza.kind is Kind.IQ and not stanza.isRequest():
            return
        self.context.send(stanza.errorReply(
            StanzaError("service-unavailable")))

    def _refuseOutbound(self, stanza, blocklisted):
        """
        Section 2.14 and XEP-0191 section 3.3: the sending client gets
        C{not-acceptable}, echoing what it sent, with C{<blocked/>} if an
        entry of the blocklist (the default list) decided; nothing
        answers an error or IQ response.
        """
        if stanza.type == "error" or (stanza.kind is Kind.IQ
                                      and not stanza.isRequest()):
            return
        blocked = None
        if blocklisted:
            blocked = domish.Element((NS_BLOCKING_ERRORS, "blocked"))
        reply = stanza.errorReply(StanzaError(
            "not-acceptable", type="cancel", appCondition=blocked))
        reply.children = list(stanza.element.elements()) + reply.children
        stanza.origin.deliver(reply)

    # -- holding stanzas while lists load ----------------------------------------

    def _hold(self, user, stanza, phase):
        """
        Keep C{stanza} until the user's lists (and roster, if needed) are
        in memory, then run C{phase} again for it.
        """
        waiting = self._waiting.get(user)
        if waiting is not None:
            waiting.append((stanza, phase))
            return True
        self._waiting[user] = [(stanza, phase)]
        d = self.cache.load(user)
        d.addCallback(self._loadRoster, user)
        d.addCallbacks(self._resume, self._loadFailed, callbackArgs=(user,),
                       errbackArgs=(user,))
        return True

    def _loadRoster(self, privacy, user):
        if privacy.needsRoster():
            return self.roster.rosterFor(user)
        return None

    def _resume(self, ignored, user):
        waiting = self._waiting.pop(user, [])
        self.cache.pin(user)
        try:
            for stanza, phase in waiting:
                self.context.resume(stanza, phase)
        finally:
            if not self.context.sessions.sessionsOf(user):
                self.cache.unpin(user)

    def _loadFailed(self, reason, user):
        waiting = self._waiting.pop(user, [])
        self.context.log.failure(
            "reading the privacy lists of {user} ({count} stanzas refused)",
            reason, user=user, count=len(waiting))
        for stanza, phase in waiting:
            if phase is Phase.INBOUND:
                self._refuseInbound(stanza)

    def idle(self):
        """
        Whether no stanza is held.
        """
        return not self._waiting
