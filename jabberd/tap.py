"""
The C{twistd jabberd} command: options and service maker.
"""

from twisted.python import usage


class Options(usage.Options):
    """
    Options of C{twistd jabberd}.
    """

    synopsis = "[--config FILE]"
    longdesc = ("Run the jabberd XMPP server.  Without --config it serves "
                "'localhost' on 127.0.0.1:5222 with data under "
                "./jabberd-data.")
    optParameters = [
        ["config", "c", None,
         "TOML config file (see etc/jabberd.toml); default: zero-config"],
    ]


def makeService(options):
    """
    Build the jabberd service (called by twistd).
    """
    from twisted.internet import reactor

    from jabberd.service import makeService as make
    parent = getattr(options, "parent", None) or {}
    logfile = parent.get("logfile")
    if not logfile and not parent.get("nodaemon"):
        logfile = "twistd.log"
    return make(options["config"], reactor, logfile)
