"""
Last Activity (XEP-0012): the server's uptime, and when a user last
logged out.

A request to the domain is answered with the seconds since the host
started (section 5).  A request to a user's bare JID is answered by the
server on the user's behalf (section 3): with C{seconds='0'} while the
user has a session, else with the seconds since their last session
closed and the status text of the unavailable presence it last sent.
Only entities entitled to the user's presence may ask; anyone else gets
C{forbidden} (sections 3 and 8).

The logout times live in an L{ILastActivityStore}, written when a user's
last session closes (or the host stops while the user is connected).
"""

from sqlalchemy import select
from twisted.internet.defer import maybeDeferred, succeed
from twisted.words.xish import domish
from zope.interface import Attribute, Interface, implementer

from jabberd.bus import (HOST_STOPPING, SESSION_CLOSED, Address, Kind,
                         Phase, Priority)
from jabberd.errors import StanzaError
from jabberd.plugin import PluginFactory
from jabberd.storage.schema import lastActivity
from jabberd.storage.users import NoSuchUser
from jabberd.xml import STANZA_NAMESPACES
from plugins._access import mayViewPresence
from plugins._accountdata import (MemoryAccountRows, keyClause,
                                  requireAccountTxn, upsertTxn)

NS_LAST = "jabber:iq:last"


class ILastActivityStore(Interface):
    """
    When the accounts of one domain last logged out.
    """

    domain = Attribute("the domain this store is bound to")

    def setLastLogout(username, stamp, status):
        """
        Record that C{username} logged out at C{stamp} (C{reactor.seconds()})
        with the status text C{status} (C{""} for none).

        @return: a L{Deferred} firing with C{None}, or failing with
            L{NoSuchUser}.
        """

    def getLastLogout(username):
        """
        @return: a L{Deferred} firing with C{(stamp, status)}, or C{None}
            if nothing is recorded for an existing account.
        """


@implementer(ILastActivityStore)
class MemoryLastActivityStore:
    """
    Logout times in a L{MemoryDatabase}.
    """

    def __init__(self, backend, domain):
        self.domain = domain
        self._table = MemoryAccountRows(backend, "last_activity", domain)

    def _set(self, username, stamp, status):
        self._table.require(username)
        self._table.rows[username] = (stamp, status)

    def setLastLogout(self, username, stamp, status):
        return maybeDeferred(self._set, username, stamp, status)

    def getLastLogout(self, username):
        if not self._table.exists(username):
            return succeed(None)
        return succeed(self._table.rows.get(username))


def setLastLogoutTxn(connection, domain, username, stamp, status):
    """
    Record a logout.

    @raise NoSuchUser: if there is no such account.
    """
    requireAccountTxn(connection, domain, username)
    upsertTxn(connection, lastActivity,
              dict(domain=domain, username=username),
              dict(stamp=stamp, status=status))


def getLastLogoutTxn(connection, domain, username):
    """
    C{(stamp, status)} of the last logout, or C{None}.
    """
    table = lastActivity
    row = connection.execute(
        select(table.c.stamp, table.c.status).where(
            keyClause(table, domain=domain, username=username))).first()
    return None if row is None else (row.stamp, row.status)


@implementer(ILastActivityStore)
class SQLLastActivityStore:
    """
    Logout times in the C{last_activity} table.
    """

    def __init__(self, database, domain):
        self.domain = domain
        self._database = database

    def setLastLogout(self, username, stamp, status):
        return self._database.runInteraction(
            setLastLogoutTxn, self.domain, username, stamp, status)

    def getLastLogout(self, username):
        return self._database.runInteraction(
            getLastLogoutTxn, self.domain, username)


def lastQuery(seconds, status=""):
    """
    A C{jabber:iq:last} result payload (section 2).
    """
    query = domish.Element((NS_LAST, "query"))
    query["seconds"] = str(max(0, int(seconds)))
    if status:
        query.addContent(status)
    return query


def statusOf(element):
    """
    The text of a presence stanza's first C{<status/>}, or C{""}.
    """
    for child in element.elements():
        if child.name == "status" and (child.uri is None
                                       or child.uri in STANZA_NAMESPACES):
            return str(child)
    return ""


class LastActivity:
    """
    The XEP-0012 service of one host.
    """

    def __init__(self, context):
        self.context = context
        self.store = context.store(ILastActivityStore)
        context.declareFeature(NS_LAST)
        context.declareAccountFeature(NS_LAST)
        context.handleIQ("get", NS_LAST, "query", self.uptimeRequested,
                         Address.HOST)
        context.handleIQ("get", NS_LAST, "query", self.lastRequested,
                         Address.BARE)
        context.hookStanza(Kind.PRESENCE, Address.NONE, Phase.OUTBOUND,
                           self.presenceSent, Priority.POLICY)
        context.onSignal(SESSION_CLOSED, self.sessionClosed)
        context.onSignal(HOST_STOPPING, self.hostStopping)

    def now(self):
        return self.context.reactor.seconds()

    def uptimeRequested(self, stanza):
        """
        Section 5: how long the host has been up, without text.
        """
        return lastQuery(self.now() - self.context.hostStarted())

    def lastRequested(self, stanza):
        """
        Section 3: the user's last logout, for those entitled to it.
        """
        owner = stanza.recipient
        d = mayViewPresence(self.context, owner, stanza.sender)
        d.addCallback(self._allowed, owner.user)
        return d

    def _allowed(self, allowed, user):
        if not allowed:
            raise StanzaError("forbidden")
        return self.lastActivityOf(user)

    def lastActivityOf(self, user):
        """
        The answer about local account C{user}: C{0} seconds while it has
        a session (section 3), else its recorded logout.

        @return: a L{Deferred} firing with the payload, or failing with
            C{item-not-found} when no logout is recorded.
        """
        if self.context.sessions.sessionsOf(user):
            return succeed(lastQuery(0))
        d = self.store.getLastLogout(user)
        d.addCallback(self._recorded)
        return d

    def _recorded(self, record):
        if record is None:
            raise StanzaError("item-not-found")
        stamp, status = record
        return lastQuery(self.now() - stamp, status)

    # -- recording ------------------------------------------------------------

    def presenceSent(self, stanza):
        """
        Remember the status text of a session's unavailable presence
        broadcast; an available one clears it.  Never claims the stanza.
        """
        session = stanza.origin
        if session is None:
            return None
        if stanza.type == "unavailable":
            session.data[self.context.name] = statusOf(stanza.element)
        elif stanza.type == "available":
            session.data.pop(self.context.name, None)
        return None

    def sessionClosed(self, session, reason=None):
        """
        When a user's last session closes, record the logout.
        """
        user = session.jid.user
        if not self.context.sessions.sessionsOf(user):
            self._record(user, session.data.get(self.context.name, ""))

    def hostStopping(self, host):
        """
        The host stops: everyone connected logs out now.
        """
        for user in list(self.context.sessions.users()):
            sessions = self.context.sessions.sessionsOf(user).values()
            status = next((s.data[self.context.name] for s in sessions
                           if self.context.name in s.data), "")
            self._record(user, status)

    def _record(self, user, status):
        d = self.store.setLastLogout(user, self.now(), status)
        d.addErrback(self._notRecorded, user)

    def _notRecorded(self, reason, user):
        if reason.check(NoSuchUser):
            return None
        self.context.log.failure("recording the logout of {user}", reason,
                                 user=user)


class LastActivityFactory(PluginFactory):
    name = "last"
    description = "XEP-0012 last activity: server uptime, users' last logout"
    stores = {ILastActivityStore: (MemoryLastActivityStore,
                                   SQLLastActivityStore)}
    instanceClass = LastActivity


last = LastActivityFactory()
