"""
jabberd: a federating, multi-domain XMPP server on Twisted.

The package layout follows the flow of one stanza: streams (L{jabberd.c2s})
parse and check it at the edge, the L{jabberd.router} finds the domain's
L{jabberd.host.VirtualHost}, and the host's bus hands it to plugins.
"""

__version__ = "0.1.0"
