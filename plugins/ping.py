"""
XMPP Ping (XEP-0199): the server answers pings addressed to it.

A client pings its server (C{to} the domain, or with no C{to} at all, which
RFC 6120 section 10.3.3 makes the user's bare JID handled by the server)
and gets an empty result (XEP-0199 section 4.2).
"""

from jabberd.bus import Address
from jabberd.plugin import PluginFactory

NS_PING = "urn:xmpp:ping"


class Ping:
    """
    Answers C{<ping/>} with an empty result.
    """

    def __init__(self, context):
        context.declareFeature(NS_PING)
        for address in (Address.HOST, Address.BARE):
            context.handleIQ("get", NS_PING, "ping", self.pingReceived,
                             address)

    def pingReceived(self, stanza):
        """
        XEP-0199 section 4.2: an empty IQ result is the pong.
        """
        return None


class PingFactory(PluginFactory):
    name = "ping"
    description = "XEP-0199 XMPP Ping: the server answers pings"
    instanceClass = Ping


ping = PingFactory()
