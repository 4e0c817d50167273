"""
XML kept in a store as text: vCards (XEP-0054) and private XML
(XEP-0049).  This is not a plugin; plugins that store elements share it.

Elements are written with the server's own serialiser and read back
with its restricted parser, so what a store hands back is exactly what
a client sent, and nothing a store holds can expand entities.
"""

from jabberd.plugin import PluginConfigError, parseOptions
from jabberd.xml import serialize
from jabberd.xmlparser import XMLStreamParser

_OPEN = (b"<stream:stream xmlns='jabber:client' "
         b"xmlns:stream='http://etherx.jabber.org/streams'>")
_CLOSE = b"</stream:stream>"

#: Deeper nesting than any stanza the c2s parser accepts.
_MAX_DEPTH = 1000


def elementToText(element):
    """
    Serialise C{element} (which carries its own namespace) for storage.

    @rtype: C{str}
    """
    return serialize(element)


def textSize(text):
    """
    The size in bytes of stored text, as limits count it (UTF-8).
    """
    return len(text.encode("utf-8"))


def elementsFromText(text):
    """
    Parse text written by L{elementToText} (one or more elements).

    @return: a list of L{domish.Element}.
    """
    data = text.encode("utf-8")
    elements = []
    parser = XMLStreamParser(lambda attributes, namespace: None,
                             elements.append, lambda: None,
                             len(data) + len(_OPEN), _MAX_DEPTH)
    parser.feed(_OPEN + data + _CLOSE)
    return elements


def parseSizeLimit(schema, options):
    """
    Parse plugin options (as L{parseOptions}) whose C{max_size}, a number
    of bytes, must be positive.
    """
    config = parseOptions(schema, options)
    if config["max_size"] < 1:
        raise PluginConfigError("max_size", "must be at least 1 (bytes)")
    return config
