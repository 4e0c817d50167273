"""
Who may learn about an account from the server, which answers some
requests to a user's bare JID on the user's behalf (RFC 6120 section
10.5.4).

XEP-0012 section 3 and the security considerations of XEP-0030 (section
8) allow such answers only to entities authorised to see the user's
presence: the user themself, or a contact with a presence subscription
(RFC 6121 section 3: C{from} or C{both} on the user's roster).  This is
not a plugin; plugins that answer for accounts share it.
"""

from twisted.internet.defer import succeed

from jabberd.im import IRoster

#: The subscription states in which a contact receives the user's presence.
SUBSCRIBED = frozenset(("from", "both"))


def mayViewPresence(context, owner, requester):
    """
    Whether C{requester} may see the presence of local account C{owner}:
    the user themself, or a contact whose item on the owner's roster has
    a subscription of C{from} or C{both}.  Without the roster service
    (C{jabberd.im.IRoster}, the C{roster} plugin) on the host only the
    user themself is authorised.

    @param context: the asking plugin's L{jabberd.context.HostContext}.
    @param owner: the account's bare JID.
    @param requester: the requesting entity's JID.
    @return: a L{Deferred} firing with a C{bool}.
    """
    if requester.userhost() == owner.userhost():
        return succeed(True)
    try:
        rosters = context.lookup(IRoster)
    except LookupError:
        return succeed(False)
    d = rosters.rosterFor(owner.user)
    d.addCallback(_subscribed, requester.userhost())
    return d


def _subscribed(roster, contact):
    item = roster.get(contact)
    return item is not None and item.subscription in SUBSCRIBED
