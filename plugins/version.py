"""
Software Version (XEP-0092): the server tells its name, version and,
unless hidden, its operating system.

Section 2 requires C{<name/>} and C{<version/>} in a result; an operator
who would rather not tell which release runs (C{hide_version}) gets an
empty C{<version/>}.  Section 5 requires a way to stop revealing the
operating system (C{hide_os}); only the system's name (e.g. C{Linux}) is
ever told, never its release.
"""

import platform

from twisted.words.xish import domish

import jabberd
from jabberd.bus import Address
from jabberd.plugin import PluginFactory

NS_VERSION = "jabber:iq:version"
SOFTWARE_NAME = "jabberd"


class SoftwareVersion:
    """
    Answers C{jabber:iq:version} requests addressed to the domain.
    """

    def __init__(self, context):
        self.config = context.config
        context.declareFeature(NS_VERSION)
        context.handleIQ("get", NS_VERSION, "query", self.versionRequested,
                         Address.HOST)

    def versionRequested(self, stanza):
        """
        XEP-0092 sections 2 and 3: name, version and optionally the OS.
        """
        query = domish.Element((NS_VERSION, "query"))
        query.addElement("name", content=SOFTWARE_NAME)
        version = query.addElement("version")
        if not self.config["hide_version"]:
            version.addContent(jabberd.__version__)
        if not self.config["hide_os"]:
            query.addElement("os", content=platform.system() or "unknown")
        return query


class SoftwareVersionFactory(PluginFactory):
    name = "version"
    description = "XEP-0092 software version of the server"
    options = {
        "hide_version": False,
        "hide_os": False,
    }
    instanceClass = SoftwareVersion


version = SoftwareVersionFactory()
