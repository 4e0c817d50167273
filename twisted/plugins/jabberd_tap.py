"""
The C{twistd jabberd} drop-in.  Importing it must stay cheap: the service
maker imports L{jabberd.tap} only when jabberd is actually run.
"""

from twisted.application.service import ServiceMaker

jabberd = ServiceMaker(
    "jabberd",
    "jabberd.tap",
    "A federating, multi-domain XMPP server",
    "jabberd",
)
