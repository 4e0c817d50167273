"""
The sessions of one host: who is connected, under which full JIDs.

This registry is the routing table for local delivery, so it is a pair of
plain dictionaries: user to resource to session.  Nothing here touches the
database.
"""

from zope.interface import Attribute, Interface


class ISession(Interface):
    """
    A bound client session (RFC 6120 section 7) as the rest of the server
    sees it.
    """

    jid = Attribute("The bound full JID.")
    data = Attribute("A dict where plugins keep per-session state, keyed "
                     "by their own plugin name.")
    encrypted = Attribute("Whether the stream is protected by TLS.")
    lastReceived = Attribute("When the client last sent anything "
                             "(C{reactor.seconds()}).")

    def deliver(element):
        """
        Write a stanza element to the client.
        """

    def close(condition=None, text=None):
        """
        End the stream, with a stream error if C{condition} is given.
        """


class SessionRegistry:
    """
    Bound sessions by user and resource.
    """

    def __init__(self):
        self._byUser = {}

    def bind(self, session):
        """
        Register C{session} under its full JID.

        @return: the session it replaces (RFC 6120 section 7.7.2.2: the
            newer session wins), or C{None}.
        """
        jid = session.jid
        resources = self._byUser.setdefault(jid.user, {})
        previous = resources.get(jid.resource)
        resources[jid.resource] = session
        return previous

    def unbind(self, session):
        """
        Forget C{session}, unless another session has taken its JID.
        """
        jid = session.jid
        resources = self._byUser.get(jid.user)
        if resources is None or resources.get(jid.resource) is not session:
            return
        del resources[jid.resource]
        if not resources:
            del self._byUser[jid.user]

    def get(self, jid):
        """
        The session bound to full JID C{jid}, or C{None}.
        """
        resources = self._byUser.get(jid.user)
        if resources is None:
            return None
        return resources.get(jid.resource)

    def sessionsOf(self, user):
        """
        The sessions of C{user} (a localpart), resource to session.  The
        returned mapping must not be modified.
        """
        return self._byUser.get(user, {})

    def users(self):
        """
        The localparts with at least one session.
        """
        return self._byUser.keys()

    def __iter__(self):
        for resources in list(self._byUser.values()):
            yield from list(resources.values())

    def __len__(self):
        return sum(len(r) for r in self._byUser.values())
