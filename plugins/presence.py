"""
Presence (RFC 6121 sections 3 and 4): subscriptions, broadcasts, probes
and directed presence.

Subscription stanzas run through the state machine of
L{jabberd.subscription}; the roster service (L{IRoster}) keeps the result
and pushes it.  Broadcasts read rosters from memory only.  The plugin
provides L{IPresence}, which message delivery uses to find available
resources and their priorities.
"""

import datetime

from twisted.words.xish import domish
from zope.interface import implementer

from jabberd.bus import SESSION_CLOSED, Address, Kind, Phase
from jabberd.errors import StanzaError
from jabberd.im import IPresence, IRoster, SESSION_AVAILABLE, SESSION_UNAVAILABLE
from jabberd.plugin import PluginFactory
from jabberd.roster import Roster
from jabberd.jid import parseJID
from jabberd.stanza import Stanza, makeElement
from jabberd.subscription import SUBSCRIPTION_TYPES, inbound, outbound
from jabberd.xml import serialize
from jabberd.xmlparser import parseElement
from plugins.roster import INTERESTED

NS_DELAY = "urn:xmpp:delay"
STATE = "presence"

#: The origin of a stored subscription request shown again to a new
#: session: it is delivered as it is, not processed a second time.
REDELIVERY = object()


class SessionPresence:
    """
    The presence state of one session.

    @ivar element: the last available presence the session sent.
    @ivar directed: full JIDs that got directed presence and must get
        unavailable presence later (section 4.6.3).
    """

    def __init__(self):
        self.available = False
        self.priority = 0
        self.element = None
        self.directed = set()


def stateOf(session):
    """
    The L{SessionPresence} of C{session}.
    """
    state = session.data.get(STATE)
    if state is None:
        state = session.data[STATE] = SessionPresence()
    return state


def copyPresence(element, sender, recipient):
    """
    A copy of presence C{element} from C{sender} to C{recipient} (JID
    texts); the payload is shared, only the addresses differ.
    """
    copy = domish.Element((None, "presence"))
    copy.attributes = dict(element.attributes)
    copy.children = element.children
    copy["from"] = sender
    if recipient is None:
        copy.attributes.pop("to", None)
    else:
        copy["to"] = recipient
    return copy


def parsePriority(element):
    """
    The C{<priority/>} of a presence (section 4.7.2.3), 0 if absent.

    @raise StanzaError: not an integer from -128 to 127.
    """
    child = element.priority
    if child is None:
        return 0
    try:
        value = int(str(child).strip())
    except ValueError:
        raise StanzaError("bad-request", text="priority is not an integer")
    if not -128 <= value <= 127:
        raise StanzaError("bad-request", text="priority out of range")
    return value


@implementer(IPresence)
class PresenceService:
    """
    The presence plugin of one host.
    """

    def __init__(self, context):
        self.context = context
        self.domain = context.domain
        self.roster = context.lookup(IRoster)
        self.lastUnavailable = {}
        self.suppressed = {}
        self._waiting = {}
        context.provide(IPresence, self)
        context.hookStanza(Kind.PRESENCE, Address.NONE, Phase.OUTBOUND,
                           self.broadcastReceived)
        for address in (Address.FULL, Address.BARE, Address.HOST):
            context.hookStanza(Kind.PRESENCE, address, Phase.OUTBOUND,
                               self.directedReceived)
        for address in (Address.FULL, Address.BARE):
            context.hookStanza(Kind.PRESENCE, address, Phase.INBOUND,
                               self.presenceArrived)
        context.onSignal(SESSION_CLOSED, self.sessionClosed)

    # -- IPresence ------------------------------------------------------------

    def availableSessions(self, user):
        return [s for s in self.context.sessions.sessionsOf(user).values()
                if stateOf(s).available]

    def priorityOf(self, session):
        return stateOf(session).priority

    # -- sending ------------------------------------------------------------------

    def _rosterOf(self, user):
        """
        The roster of a user with a session: always in memory, except
        for the moment after the roster plugin was reloaded, when it is
        being read again and counts as empty.
        """
        roster = self.roster.cached(user)
        return roster if roster is not None else Roster(user)

    def _send(self, element):
        self.context.send(element)

    def _bare(self, user):
        return "%s@%s" % (user, self.domain)

    def _simple(self, type, sender, recipient):
        element = makeElement("presence", to=recipient, type=type)
        element["from"] = sender
        return element

    # -- outbound: what the user's clients send -------------------------------------------

    def broadcastReceived(self, stanza):
        """
        Presence without C{to}: initial, subsequent or unavailable
        presence to be broadcast (sections 4.2, 4.4, 4.5).
        """
        session = stanza.origin
        if session is None or stanza.type not in ("available",
                                                  "unavailable"):
            return True
        if stanza.type == "unavailable":
            self._unavailable(session, stanza.element)
            return True
        try:
            priority = parsePriority(stanza.element)
        except StanzaError as error:
            session.deliver(stanza.errorReply(error))
            return True
        self._available(session, stanza.element, priority)
        return True

    def _available(self, session, element, priority):
        state = stateOf(session)
        initial = not state.available
        raised = not initial and state.priority < 0 <= priority
        state.available, state.element, state.priority = True, element, priority
        user = session.jid.user
        if initial:
            self.suppressed.pop(user, None)
            self.lastUnavailable.pop(self._bare(user), None)
        self._broadcast(session, element, directed=False)
        if initial:
            self._initial(session)
        elif raised:
            # Now eligible for bare-JID messages (RFC 6121 section 8.5.2):
            # what waited offline can be delivered.
            self.context.notify(SESSION_AVAILABLE, session)

    def _initial(self, session):
        """
        Section 4.2.2: probe the contacts we subscribe to, show the new
        resource the user's other resources and the pending subscription
        requests (section 3.1.3), then let others know (offline messages).
        """
        user = session.jid.user
        roster = self._rosterOf(user)
        bare = self._bare(user)
        for contact in roster.subscriptions():
            self._send(self._simple("probe", bare, contact))
        for other in self.availableSessions(user):
            if other is not session:
                session.deliver(copyPresence(stateOf(other).element,
                                             other.jid.full(),
                                             session.jid.full()))
        for contact, text in list(roster.pending.items()):
            self._redeliver(session, contact, text)
        self.context.notify(SESSION_AVAILABLE, session)

    def _redeliver(self, session, contact, text):
        """
        Show a new session a stored subscription request (section 3.1.3).
        It goes through the inbound phase addressed to that session (the
        element keeps the bare JID it was sent to), so the policy hooks (privacy lists, blocking) judge it as they would
        a request arriving now.
        """
        element = parseElement(text)
        stanza = Stanza(element, parseJID(contact), session.jid,
                        origin=REDELIVERY)
        self.context.resume(stanza, Phase.INBOUND)

    def _broadcast(self, session, element, directed):
        """
        Send C{element} from C{session} to the contacts subscribed to the
        user, to the user's available resources (section 4.2.2), and with
        C{directed} to the entities that got directed presence.
        """
        user = session.jid.user
        sender = session.jid.full()
        suppressed = self.suppressed.get(user, ())
        for contact in self._rosterOf(user).subscribers():
            if contact not in suppressed:
                self._send(copyPresence(element, sender, contact))
        for other in self.availableSessions(user):
            other.deliver(copyPresence(element, sender, other.jid.full()))
        if directed:
            for target in stateOf(session).directed:
                self._send(copyPresence(element, sender, target))

    def _unavailable(self, session, element):
        """
        Section 4.5: unavailable presence goes to the subscribers, the
        user's resources and every entity that got directed presence.
        """
        state = stateOf(session)
        if not state.available:
            return
        state.available = False
        self._broadcast(session, element, directed=True)
        session.deliver(copyPresence(element, session.jid.full(),
                                     session.jid.full()))
        state.directed.clear()
        user = session.jid.user
        if not self.availableSessions(user):
            self.lastUnavailable[self._bare(user)] = (
                element, self.context.reactor.seconds())
        self.context.notify(SESSION_UNAVAILABLE, session)

    def sessionClosed(self, session, reason):
        """
        A stream that ends without unavailable presence still sends it
        (section 4.5.2).
        """
        if stateOf(session).available:
            element = makeElement("presence", type="unavailable")
            self._unavailable(session, element)

    def directedReceived(self, stanza):
        """
        Presence with a C{to}: subscription management (section 3) or
        directed presence (section 4.6).
        """
        if stanza.type in SUBSCRIPTION_TYPES:
            self._outboundSubscription(stanza)
            return True
        session = stanza.origin
        if session is not None and stanza.type in ("available",
                                                   "unavailable"):
            self._trackDirected(session, stanza)
        self.context.route(stanza)
        return True

    def _trackDirected(self, session, stanza):
        """
        Section 4.6.2: remember an entity that got directed available
        presence from an available resource and is not subscribed to the
        user, so that it gets unavailable presence later (section 4.6.3).
        """
        state = stateOf(session)
        target = stanza.recipient.full()
        if stanza.type == "unavailable":
            state.directed.discard(target)
            return
        roster = self._rosterOf(session.jid.user)
        if state.available and not roster.state(
                stanza.recipient.userhost()).hasFrom:
            state.directed.add(target)

    def _outboundSubscription(self, stanza):
        """
        Appendix A.2: the user sent subscribe, subscribed, unsubscribe or
        unsubscribed.  The stanza is stamped with the user's bare JID and
        addressed to the contact's bare JID (sections 3 and 3.1.2), and
        routed if the table says so.

        The new state is recorded (and pushed) before the stanza is
        routed: a local contact's server may answer at once (an automatic
        C{subscribed}, say), and the answer must find the new state.  A
        contact losing its subscription gets unavailable presence from
        each available resource before the C{unsubscribed}, while it is
        still subscribed (section 3.2.2).
        """
        user = stanza.sender.user
        contact = stanza.recipient.userhost()
        if contact == stanza.sender.userhost():
            return
        roster = self.roster.cached(user)
        if roster is None:
            d = self.roster.rosterFor(user)
            d.addCallback(self._outboundWithRoster, stanza, user, contact)
            d.addErrback(lambda f: self.context.log.failure(
                "handling {stanza!r}", f, stanza=stanza))
            return
        self._outboundWithRoster(roster, stanza, user, contact)

    def _outboundWithRoster(self, roster, stanza, user, contact):
        before = roster.state(contact)
        outcome = outbound(before, stanza.type)
        if outcome.forward and stanza.type == "unsubscribed" \
                and before.hasFrom:
            self._sendUnavailable(user, contact)
        self._applyState(user, roster, contact, before, outcome)
        if not outcome.forward:
            return
        self._routeSubscription(stanza, user, contact)
        if stanza.type == "subscribed":
            self._sendCurrentPresence(user, contact)

    def _routeSubscription(self, stanza, user, contact):
        """
        Route an outbound subscription stanza from the user's bare JID to
        the contact's.
        """
        element = stanza.element
        element["from"] = self._bare(user)
        element["to"] = contact
        self._send(element)

    def _applyState(self, user, roster, contact, before, outcome):
        """
        Record a subscription change in the roster: push the item if what
        a client sees of it changed, and forget an answered request.
        """
        after = outcome.state
        if before.pendingIn and not after.pendingIn:
            self.roster.setPendingIn(user, contact, None)
        item = roster.get(contact)
        approved = item.approved if item is not None else False
        if outcome.preApprove is not None:
            approved = outcome.preApprove
        if after.hasFrom:
            approved = False
        visible = (after.subscription, after.pendingOut, approved)
        current = (("none", False, False) if item is None
                   else (item.subscription, item.ask, item.approved))
        if visible != current:
            self.roster.update(user, roster.withState(contact, after,
                                                      approved=approved))

    def _sendCurrentPresence(self, user, contact):
        """
        Section 3.1.5: after approving, the contact gets the user's current
        presence.
        """
        for session in self.availableSessions(user):
            self._send(copyPresence(stateOf(session).element,
                                    session.jid.full(), contact))

    def _sendUnavailable(self, user, contact):
        """
        Sections 3.2.2 and 3.3.3: a cancelled subscription ends with
        unavailable presence from each available resource.
        """
        for session in self.availableSessions(user):
            self._send(self._simple("unavailable", session.jid.full(),
                                    contact))

    # -- inbound: what arrives for the user ---------------------------------------------

    def presenceArrived(self, stanza):
        """
        Presence for one of our users (section 4 and Appendix A.3).
        """
        if stanza.origin is REDELIVERY:
            session = self.context.sessions.get(stanza.recipient)
            if session is not None:
                self.context.deliver(session, stanza)
            return True
        if stanza.type in SUBSCRIPTION_TYPES or stanza.type == "probe":
            self._withRoster(stanza)
            return True
        self._contactHeard(stanza)
        if stanza.address is Address.FULL:
            session = self.context.sessions.get(stanza.recipient)
            if session is not None:
                self.context.deliver(session, stanza)
        else:
            self._toAvailable(stanza)
        return True

    def _contactHeard(self, stanza):
        """
        Section 4.4.2: after a presence error from a contact (in answer to
        the user's presence, so addressed to a full or the bare JID) the
        server sends the contact no further presence updates, until it
        receives presence from that contact again.
        """
        user = stanza.recipient.user
        contact = stanza.sender.userhost()
        if stanza.type == "error":
            self.suppressed.setdefault(user, set()).add(contact)
            return
        suppressed = self.suppressed.get(user)
        if suppressed is not None:
            suppressed.discard(contact)
            if not suppressed:
                del self.suppressed[user]

    def _toAvailable(self, stanza):
        """
        Section 8.5.2.1.2: presence to a bare JID goes to every available
        resource.
        """
        for session in self.availableSessions(stanza.recipient.user):
            self.context.deliver(session, stanza)

    def _withRoster(self, stanza):
        """
        Handle a subscription stanza or probe once the recipient's roster
        is in memory.  Stanzas for one user wait, in arrival order, while
        the account is checked and its roster loaded.
        """
        user = stanza.recipient.user
        waiting = self._waiting.get(user)
        if waiting is not None:
            waiting.append(stanza)
            return
        roster = self.roster.cached(user)
        if roster is not None:
            self._rosterReady(roster, stanza)
            return
        self._waiting[user] = [stanza]
        d = self.context.accounts.userExists(user)
        d.addCallback(self._existenceKnown, user)
        d.addErrback(self._loadFailed, user)

    def _existenceKnown(self, exists, user):
        if not exists:
            for stanza in self._waiting.pop(user, []):
                self._noSuchUser(stanza)
            return None
        d = self.roster.rosterFor(user)
        return d.addCallback(self._loaded, user)

    def _loaded(self, roster, user):
        """
        Handle the waiting stanzas in order; any that arrive meanwhile
        (answers to these, for a local contact) queue behind them.
        """
        waiting = self._waiting.get(user, [])
        while waiting:
            self._rosterReady(roster, waiting.pop(0))
        self._waiting.pop(user, None)

    def _loadFailed(self, reason, user):
        stanzas = self._waiting.pop(user, [])
        self.context.log.failure("handling presence for {user} ({count} "
                                 "stanzas dropped)", reason,
                                 count=len(stanzas), user=user)

    def _noSuchUser(self, stanza):
        """
        Section 8.5.1 (and 4.3.2 for probes): a subscription request or
        probe for an account that does not exist is answered with
        C{unsubscribed}; other subscription stanzas are ignored.
        """
        if stanza.type in ("subscribe", "probe"):
            self._send(self._simple("unsubscribed",
                                    stanza.recipient.userhost(),
                                    stanza.sender.userhost()))

    def _rosterReady(self, roster, stanza):
        if stanza.type == "probe":
            self._contactHeard(stanza)
            self._probeArrived(roster, stanza)
        else:
            self._inboundSubscription(roster, stanza)

    def _probeArrived(self, roster, stanza):
        """
        Section 4.3.2: a subscribed contact gets the last presence of each
        available resource, or the last unavailable presence (with its
        delay) if none is available.  Anyone else gets C{unsubscribed},
        which lets its server correct a roster that is out of step; it is
        sent directly, so it cancels no pre-approval (section 3.4).
        """
        contact = stanza.sender.userhost()
        user = stanza.recipient.user
        if not roster.state(contact).hasFrom:
            self._send(self._simple("unsubscribed", self._bare(user),
                                    contact))
            return
        prober = stanza.sender.full()
        available = self.availableSessions(user)
        for session in available:
            self._send(copyPresence(stateOf(session).element,
                                    session.jid.full(), prober))
        if not available:
            self._send(self._lastUnavailable(user, prober))

    def _lastUnavailable(self, user, prober):
        bare = self._bare(user)
        last = self.lastUnavailable.get(bare)
        if last is None:
            return self._simple("unavailable", bare, prober)
        element, when = last
        reply = copyPresence(element, bare, prober)
        reply.children = list(element.children)
        delay = reply.addElement((NS_DELAY, "delay"))
        delay["from"] = self.domain
        delay["stamp"] = _stamp(when)
        return reply

    def _inboundSubscription(self, roster, stanza):
        """
        Appendix A.3: a subscription stanza arrived for the user.  It is
        delivered if the table says so, then the roster push follows
        (sections 3.1.3, 3.1.6, 3.2.3, 3.3.3).
        """
        user = stanza.recipient.user
        contact = stanza.sender.userhost()
        before = roster.state(contact)
        item = roster.get(contact)
        outcome = inbound(before, stanza.type,
                          approved=item is not None and item.approved)
        element = stanza.element
        element["from"] = contact
        element["to"] = self._bare(user)
        if stanza.type == "subscribe" and outcome.state.pendingIn \
                and not before.pendingIn:
            self.roster.setPendingIn(user, contact, serialize(element))
        if outcome.forward:
            for session in self._recipients(user, stanza.type):
                self.context.deliver(session, stanza)
        self._applyState(user, roster, contact, before, outcome)
        if outcome.autoReply is not None:
            self._send(self._simple(outcome.autoReply, self._bare(user),
                                    contact))
            self._sendCurrentPresence(user, contact)
        if stanza.type == "unsubscribe" and before.hasFrom:
            self._sendUnavailable(user, contact)

    def _recipients(self, user, type):
        """
        Who gets an inbound subscription stanza: a request goes to the
        available resources (section 3.1.3; it is also kept for the next
        initial presence), the other types to the interested resources
        (sections 3.1.6, 3.2.3, 3.3.3) and the available ones.
        """
        sessions = self.context.sessions.sessionsOf(user).values()
        return [s for s in sessions if stateOf(s).available or (
            type != "subscribe" and s.data.get(INTERESTED))]


def _stamp(seconds):
    """
    An XEP-0082 timestamp in UTC.
    """
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class PresenceFactory(PluginFactory):
    name = "presence"
    description = "RFC 6121 presence and subscriptions"
    requires = ("roster",)
    instanceClass = PresenceService


presence = PresenceFactory()
