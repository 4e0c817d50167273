"""
Message delivery to local users (RFC 6121 section 8.5) and offline
storage (XEP-0160).

The core's fallback (L{jabberd.delivery}) hands a message to every session
of its recipient; this plugin claims inbound messages to bare and full JIDs
first and applies the rules of RFC 6121 section 8.5 with the presence the
L{IPresence} service keeps in memory:

  - To a bare JID (section 8.5.2): C{chat} and C{normal} go to the
    available resource(s) of highest non-negative priority (all of them on
    a tie), C{headline} to every available resource of non-negative
    priority, C{groupchat} is refused with C{service-unavailable} and
    C{error} is dropped.  A resource of negative priority never receives
    a message to the bare JID (section 4.7.2.3).
  - To a full JID (section 8.5.3): a bound session of that JID gets the
    message, whatever its type and whether or not it sent presence
    ("available or connected resource", section 8.5.3.1).  With no such
    session (section 8.5.3.2.1) C{chat} is handled as to the bare JID,
    C{normal}, C{groupchat} and C{headline} are refused with
    C{service-unavailable} (the RFC's option b), and C{error} is dropped.
  - With no available resource of non-negative priority (sections
    8.5.2.1.1 and 8.5.2.2.1), C{chat} and C{normal} are stored for the
    user (XEP-0160 section 2) and C{headline} is dropped.  The store is
    refused, with C{service-unavailable} to the sender, when the account
    does not exist (section 8.5.1), when the user's quota
    (C{max_offline_messages}) is full or storage is off (0), and for
    messages that carry nothing but chat states (XEP-0160 section 3).

Only that last path reads the database; delivery to online users uses the
session registry and the presence service alone.

Stored messages go, oldest first and each with an XEP-0203 C{<delay/>},
to the first resource that sends initial presence with a non-negative
priority (L{SESSION_AVAILABLE}), and are deleted once delivered.  All the
offline work of one user runs one step at a time, and messages that
arrive for the user meanwhile wait behind it, so two resources coming
online together cannot both receive the backlog and nothing overtakes it.
"""

import datetime

from twisted.internet import defer

from jabberd.bus import Address, Kind, Phase
from jabberd.errors import StanzaError
from jabberd.im import SESSION_AVAILABLE, IPresence
from jabberd.plugin import PluginConfigError, PluginFactory, parseOptions
from jabberd.storage.offline import (IOfflineStore, MemoryOfflineStore,
                                     SQLOfflineStore)
from jabberd.storage.users import NoSuchUser
from jabberd.xml import serialize
from jabberd.xmlparser import parseElement

NS_DELAY = "urn:xmpp:delay"
NS_CHATSTATES = "http://jabber.org/protocol/chatstates"

#: The service discovery feature of offline storage (XEP-0160 section 4).
FEATURE_OFFLINE = "msgoffline"

#: RFC 6121 section 5.2.2: a message of unknown type is handled as normal.
MESSAGE_TYPES = frozenset(("normal", "chat", "groupchat", "headline",
                           "error"))


def messageType(stanza):
    """
    The type a message is handled as (RFC 6121 section 5.2.2).
    """
    return stanza.type if stanza.type in MESSAGE_TYPES else "normal"


def onlyChatStates(element):
    """
    Whether a message carries chat state notifications (XEP-0085) and
    nothing else, which XEP-0160 section 3 does not store.
    """
    children = list(element.elements())
    return bool(children) and all(child.uri == NS_CHATSTATES
                                  for child in children)


def delayStamp(seconds):
    """
    An XEP-0082 DateTime in UTC with milliseconds, as XEP-0203 wants.
    """
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return "%s.%03dZ" % (moment.strftime("%Y-%m-%dT%H:%M:%S"),
                         moment.microsecond // 1000)


def withDelay(text, stamp, domain):
    """
    A stored message, parsed, with the XEP-0203 C{<delay/>} that says the
    server C{domain} held it since C{stamp}.
    """
    element = parseElement(text)
    delay = element.addElement((NS_DELAY, "delay"))
    delay["from"] = domain
    delay["stamp"] = delayStamp(stamp)
    return element


class MessageDelivery:
    """
    The message service of one host.

    @ivar limit: the most messages stored per user; 0 stores none.
    """

    def __init__(self, context):
        self.context = context
        self.limit = context.config["max_offline_messages"]
        self.offline = context.store(IOfflineStore)
        self._queues = {}
        for address in (Address.BARE, Address.FULL):
            context.hookStanza(Kind.MESSAGE, address, Phase.INBOUND,
                               self.messageReceived)
        context.onSignal(SESSION_AVAILABLE, self.sessionAvailable)
        if self.limit:
            context.declareFeature(FEATURE_OFFLINE)

    # -- who is there ---------------------------------------------------------

    def _nonNegative(self, user):
        """
        The available sessions of C{user} with a non-negative priority, as
        C{(priority, session)} pairs.  Empty once the presence service is
        gone (the host is stopping or being reconfigured): offline work
        still pending then leaves messages stored.
        """
        try:
            presence = self.context.lookup(IPresence)
        except LookupError:
            return []
        ranked = [(presence.priorityOf(session), session)
                  for session in presence.availableSessions(user)]
        return [(priority, session) for priority, session in ranked
                if priority >= 0]

    def _mostAvailable(self, user):
        """
        The sessions a C{chat} or C{normal} message to the bare JID goes
        to: those of highest non-negative priority (RFC 6121 section
        8.5.2.1.1 lets the server pick the "most available").
        """
        ranked = self._nonNegative(user)
        if not ranked:
            return []
        top = max(priority for priority, _ in ranked)
        return [session for priority, session in ranked if priority == top]

    def _takesBacklog(self, session):
        """
        Whether C{session} is still bound and available with a
        non-negative priority (XEP-0160 section 2, step 5).
        """
        if self.context.sessions.get(session.jid) is not session:
            return False
        return any(candidate is session for _, candidate
                   in self._nonNegative(session.jid.user))

    # -- routing --------------------------------------------------------------

    def messageReceived(self, stanza):
        """
        A message for a local user: route it now, or behind the offline
        work in progress for that user so that it cannot overtake it.
        """
        user = stanza.recipient.user
        if user in self._queues:
            self._enqueue(user, self._route, stanza)
        else:
            self._route(stanza)
        return True

    def _route(self, stanza):
        if stanza.address is Address.FULL:
            self._toFullJID(stanza)
        else:
            self._toBareJID(stanza)

    def _toFullJID(self, stanza):
        """
        RFC 6121 section 8.5.3.
        """
        session = self.context.sessions.get(stanza.recipient)
        if session is not None:
            self.context.deliver(session, stanza)
            return
        kind = messageType(stanza)
        if kind == "chat":
            self._toBareJID(stanza)
        elif kind != "error":
            self._bounce(stanza)

    def _toBareJID(self, stanza):
        """
        RFC 6121 section 8.5.2.
        """
        kind, user = messageType(stanza), stanza.recipient.user
        if kind == "groupchat":
            self._bounce(stanza)
        elif kind == "headline":
            for _, session in self._nonNegative(user):
                self.context.deliver(session, stanza)
        elif kind != "error":
            self._toMostAvailable(stanza)

    def _toMostAvailable(self, stanza):
        sessions = self._mostAvailable(stanza.recipient.user)
        for session in sessions:
            self.context.deliver(session, stanza)
        if not sessions:
            self._offline(stanza)

    def _bounce(self, stanza, text=None):
        """
        Answer with C{service-unavailable}; never an error to an error
        (RFC 6120 section 8.3.1).
        """
        if stanza.type != "error":
            error = StanzaError("service-unavailable", text=text)
            self.context.send(stanza.errorReply(error))

    # -- offline storage ------------------------------------------------------

    def _offline(self, stanza):
        """
        A C{chat} or C{normal} message that no resource can take now.
        """
        if not self.limit or onlyChatStates(stanza.element):
            self._bounce(stanza)
            return
        self._enqueue(stanza.recipient.user, self._keepOrBounce, stanza)

    def _keepOrBounce(self, stanza):
        """
        L{_keep}; if the database fails, the sender learns that the
        message was not stored.
        """
        return self._keep(stanza).addErrback(self._notStored, stanza)

    @defer.inlineCallbacks
    def _keep(self, stanza):
        """
        Store the message, unless the account does not exist or its quota
        is full; if the user became available meanwhile, hand over the
        backlog and then this message instead.
        """
        user = stanza.recipient.user
        if not (yield self.context.accounts.userExists(user)):
            self._bounce(stanza)
            return
        sessions = self._mostAvailable(user)
        if sessions:
            yield self._flush(sessions[0])
            self._toMostAvailable(stanza)
            return
        if (yield self.offline.count(user)) >= self.limit:
            self._bounce(stanza, "offline message storage is full")
            return
        yield self._store(stanza)

    def _store(self, stanza):
        return self.offline.store(stanza.recipient.user,
                                  serialize(stanza.element),
                                  self.context.reactor.seconds())

    def _notStored(self, reason, stanza):
        if not reason.check(NoSuchUser):
            self.context.log.failure("storing an offline message for {user}",
                                     reason, user=stanza.recipient.user)
        self._bounce(stanza)

    def sessionAvailable(self, session):
        """
        A session sent initial presence: give it the stored messages if
        its priority is non-negative (XEP-0160 section 2).
        """
        self._enqueue(session.jid.user, self._flush, session)

    @defer.inlineCallbacks
    def _flush(self, session):
        """
        Deliver the stored messages of the session's user to it, oldest
        first, each with a C{<delay/>} (XEP-0160 section 2, XEP-0203), and
        delete them.
        """
        user = session.jid.user
        if not self._takesBacklog(session):
            return
        rows = yield self.offline.fetch(user)
        if not rows or not self._takesBacklog(session):
            return
        for _, text, stamp in rows:
            self._deliverStored(session, text, stamp)
        yield self.offline.delete(user, [row[0] for row in rows])

    def _deliverStored(self, session, text, stamp):
        try:
            element = withDelay(text, stamp, self.context.domain)
        except Exception:
            self.context.log.failure(
                "dropping an unreadable offline message for {jid}",
                jid=session.jid.full())
            return
        session.deliver(element)

    # -- one step at a time per user ------------------------------------------

    def _enqueue(self, user, step, *args):
        """
        Run C{step(*args)} after the steps queued before it for C{user};
        a step may return a L{Deferred}, which the next one waits for.
        """
        queue = self._queues.setdefault(user, [])
        queue.append((step, args))
        if len(queue) == 1:
            self._runQueue(user)

    def _runQueue(self, user):
        queue = self._queues[user]
        while queue:
            step, args = queue[0]
            d = defer.maybeDeferred(step, *args)
            d.addErrback(self._stepFailed, user)
            if not d.called:
                d.addCallback(self._stepDone, user)
                return
            queue.pop(0)
        del self._queues[user]

    def _stepDone(self, result, user):
        self._queues[user].pop(0)
        self._runQueue(user)

    def _stepFailed(self, reason, user):
        self.context.log.failure("offline message handling for {user} failed",
                                 reason, user=user)


class MessageFactory(PluginFactory):
    name = "message"
    description = ("RFC 6121 message delivery rules and XEP-0160 offline "
                   "messages")
    requires = ("presence",)
    stores = {IOfflineStore: (MemoryOfflineStore, SQLOfflineStore)}
    options = {"max_offline_messages": 100}
    instanceClass = MessageDelivery

    def parseConfig(self, options):
        config = parseOptions(self.options, options)
        if config["max_offline_messages"] < 0:
            raise PluginConfigError("max_offline_messages",
                                    "must be 0 (no offline storage) or more")
        return config


message = MessageFactory()
