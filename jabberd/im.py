"""
The services the RFC 6121 plugins offer one another on a host.

The roster plugin provides L{IRoster}, the presence plugin L{IPresence};
other plugins find them with C{context.lookup(iface)} after naming the
providing plugin in their C{requires}.
"""

from zope.interface import Attribute, Interface

from jabberd.bus import Signal

#: A session sent its initial presence (RFC 6121 section 4.2) and is now
#: available, or raised its priority from negative to non-negative (and so
#: became eligible for bare-JID messages); notified with the session after
#: the broadcast and probes.  Offline messages are delivered from here
#: (XEP-0160).
SESSION_AVAILABLE = Signal("session-available")

#: A session became unavailable (explicitly or by closing); notified with
#: the session.
SESSION_UNAVAILABLE = Signal("session-unavailable")


class IRoster(Interface):
    """
    The rosters of a host's users, in memory (RFC 6121 section 2).
    """

    def rosterFor(user):
        """
        The L{jabberd.roster.Roster} of local user C{user} (a localpart).

        @return: a L{Deferred} firing with it; it fires at once when the
            roster is in memory, which it always is for users with a
            session.
        """

    def cached(user):
        """
        The roster of C{user} if it is in memory, else C{None}.
        """

    def update(user, item):
        """
        Store a changed L{jabberd.roster.RosterItem} of C{user} and push
        it to the user's interested resources (section 2.1.6).
        """

    def setPendingIn(user, contact, element):
        """
        Remember (or, with C{element=None}, forget) an inbound subscription
        request from bare JID C{contact} (section 3.1.3).
        """


class IPresence(Interface):
    """
    Who is available, and with which priority (RFC 6121 section 4).
    """

    def availableSessions(user):
        """
        The sessions of local user C{user} that sent available presence,
        as a list.
        """

    def priorityOf(session):
        """
        The priority of an available session's last presence (-128..127).
        """

    lastUnavailable = Attribute(
        "Mapping of bare JID text to (element, time) of the last "
        "unavailable presence of users with no available resource.")
