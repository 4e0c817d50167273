"""
Serialising stanzas for the wire.

Stanzas travel inside the server as L{twisted.words.xish.domish.Element}
objects whose top-level namespace is C{jabber:client} (from client streams)
or C{jabber:server} (from server streams).  RFC 6120 section 4.8.3 makes
the two interchangeable content namespaces: on the wire a stanza takes the
namespace of the stream it is written to, so this serialiser maps either
one onto the stream's namespace at every level.

Output is checked for characters that XML 1.0 forbids (section 2.2 of the
XML spec): a stanza that carries one is refused with C{ValueError} rather
than corrupting the recipient's stream.
"""

import re

NS_XML = "http://www.w3.org/XML/1998/namespace"
NS_STREAM = "http://etherx.jabber.org/streams"
NS_CLIENT = "jabber:client"
NS_SERVER = "jabber:server"
STANZA_NAMESPACES = frozenset((NS_CLIENT, NS_SERVER))

_FORBIDDEN = re.compile(
    "[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


class _Writer:
    """
    One serialisation: collects pieces, assigns attribute prefixes.
    """

    def __init__(self, streamNamespace):
        self.streamNamespace = streamNamespace
        self.pieces = []
        self.prefixCount = 0

    def element(self, element, parentNamespace):
        """
        Write C{element} and its subtree.
        """
        uri = element.uri
        if uri == NS_STREAM:
            self.streamElement(element, parentNamespace)
            return
        if uri in STANZA_NAMESPACES:
            uri = self.streamNamespace
        elif uri is None:
            uri = parentNamespace
        append = self.pieces.append
        append("<" + element.name)
        if uri != parentNamespace:
            append(" xmlns='" + escapeAttribute(uri or "") + "'")
        for key, value in element.attributes.items():
            append(self.attribute(key, value))
        children = element.children
        if not children:
            append("/>")
            return
        append(">")
        for child in children:
            if isinstance(child, str):
                append(escapeText(child))
            else:
                self.element(child, uri)
        append("</" + element.name + ">")

    def streamElement(self, element, parentNamespace):
        """
        Elements of the streams namespace (features, errors) use the
        C{stream:} prefix the stream header declared, and leave the default
        namespace of their children alone.
        """
        append = self.pieces.append
        name = "stream:" + element.name
        append("<" + name)
        for key, value in element.attributes.items():
            append(self.attribute(key, value))
        append(">")
        for child in element.children:
            if isinstance(child, str):
                append(escapeText(child))
            else:
                self.element(child, parentNamespace)
        append("</" + name + ">")

    def attribute(self, key, value):
        """
        Render one attribute; namespaced ones other than C{xml:} get a
        locally declared prefix.
        """
        value = escapeAttribute(value)
        if isinstance(key, str):
            return " " + key + "='" + value + "'"
        namespace, name = key
        if namespace == NS_XML:
            return " xml:" + name + "='" + value + "'"
        prefix = "ns%d" % (self.prefixCount,)
        self.prefixCount += 1
        return " xmlns:%s='%s' %s:%s='%s'" % (
            prefix, escapeAttribute(namespace), prefix, name, value)


def checkCharacters(text):
    """
    Raise C{ValueError} if C{text} holds a character XML 1.0 forbids.
    """
    match = _FORBIDDEN.search(text)
    if match is not None:
        raise ValueError("character U+%04X is not allowed in XML"
                         % (ord(match.group()),))


# What may go out as it is (XML 1.0 characters without markup): most text
# and attribute values, which then cost one search and no copy.
_TEXT_NEEDS_WORK = re.compile(
    "[^\u0009\u000a\u0020-\u0025\u0027-\u003b\u003d\u003f-\ud7ff"
    "\ue000-\ufffd\U00010000-\U0010ffff]"
)
_ATTRIBUTE_NEEDS_WORK = re.compile(
    "[^\u0020\u0021\u0023-\u0025\u0028-\u003b\u003d\u003f-\ud7ff"
    "\ue000-\ufffd\U00010000-\U0010ffff]"
)


def escapeText(text):
    """
    Escape character data for the wire.
    """
    if _TEXT_NEEDS_WORK.search(text) is None:
        return text
    checkCharacters(text)
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        # A literal CR would be normalised to LF by the recipient's parser.
        text = text.replace("\r", "&#13;")
    return text


def escapeAttribute(value):
    """
    Escape an attribute value for single-quoted output.
    """
    if _ATTRIBUTE_NEEDS_WORK.search(value) is None:
        return value
    value = escapeText(value).replace("'", "&apos;").replace('"', "&quot;")
    if "\t" in value or "\n" in value:
        # Attribute-value normalisation would turn them into spaces.
        value = value.replace("\t", "&#9;").replace("\n", "&#10;")
    return value


def serialize(element, streamNamespace=NS_CLIENT):
    """
    Serialise C{element} as it must appear on a stream whose default
    namespace is C{streamNamespace}.

    @rtype: C{str}
    @raise ValueError: the element carries a character XML forbids.
    """
    writer = _Writer(streamNamespace)
    writer.element(element, streamNamespace)
    return "".join(writer.pieces)


def streamHeader(attributes, contentNamespace=NS_CLIENT):
    """
    The opening C{<stream:stream>} tag (RFC 6120 section 4.7), with the
    XML declaration in front.

    @param attributes: C{(name, value)} pairs in order; C{xml:lang} is
        written as given.
    """
    parts = ["<?xml version='1.0'?><stream:stream xmlns='",
             contentNamespace,
             "' xmlns:stream='http://etherx.jabber.org/streams'"]
    for name, value in attributes:
        if value is not None:
            parts.append(" %s='%s'" % (name, escapeAttribute(value)))
    parts.append(">")
    return "".join(parts)
