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


def mayViewPresence(context, owner, requester):
    """
    Whether C{requester} may see the presence of local account C{owner}.

    This is the single place where the roster check plugs in: once the
    roster service (C{jabberd.im.IRoster}) is settled, look it up with
    C{context.lookup} and answer C{True} when the owner's roster item for
    the requester's bare JID has a subscription of C{from} or C{both}.
    Until then only the user themself is authorised.

    @param context: the asking plugin's L{jabberd.context.HostContext}.
    @param owner: the account's bare JID.
    @param requester: the requesting entity's JID.
    @return: a L{Deferred} firing with a C{bool}.
    """
    return succeed(requester.userhost() == owner.userhost())
