"""
Server dialback on the wire (XEP-0220).

Dialback elements live in C{jabber:server:dialback}, which our stream
headers bind to the C{db:} prefix; they are written with that prefix, as
every server since RFC 3920 expects to read them.
"""

from typing import NamedTuple

from twisted.words.xish import domish

from jabberd.errors import NS_STANZAS
from jabberd.xml import escapeAttribute, escapeText

NS_DIALBACK = "jabber:server:dialback"
#: The stream feature announcing dialback (XEP-0220 section 2.4).
NS_DIALBACK_FEATURE = "urn:xmpp:features:dialback"

#: The stream header attribute that declares the prefix.
PREFIX_DECLARATION = ("xmlns:db", NS_DIALBACK)


class DialbackElement(NamedTuple):
    """
    A received C{<db:result/>} or C{<db:verify/>}.

    @ivar name: C{"result"} or C{"verify"}.
    @ivar sender: its C{from} (a domain), or C{None}.
    @ivar recipient: its C{to}, or C{None}.
    @ivar type: C{None} for a request; C{valid}, C{invalid} or C{error}.
    @ivar id: the stream ID a C{verify} is about, or C{None}.
    @ivar key: the dialback key (requests), stripped of whitespace.
    @ivar condition: the stanza error condition of a C{type='error'}.
    """

    name: str
    sender: str | None
    recipient: str | None
    type: str | None
    id: str | None
    key: str
    condition: str | None = None


def parseDialback(element):
    """
    Read a dialback element.

    @rtype: L{DialbackElement}
    """
    return DialbackElement(
        element.name, element.getAttribute("from"),
        element.getAttribute("to"), element.getAttribute("type"),
        element.getAttribute("id"), str(element).strip(),
        _condition(element))


def _condition(element):
    """
    The stanza error condition inside a C{type='error'} answer (its
    C{<error/>} is in the stream's content namespace).
    """
    for error in element.elements():
        if error.name != "error":
            continue
        for child in error.elements():
            if child.uri == NS_STANZAS and child.name != "text":
                return child.name
    return None


def dialbackXML(name, sender, recipient, type=None, id=None, key=None,
                condition=None):
    """
    Serialise a dialback element with the C{db:} prefix.

    @param condition: for C{type='error'}, the stanza error condition
        (XEP-0220 section 2.4), e.g. C{"item-not-found"}.
    @rtype: C{str}
    """
    attributes = [("from", sender), ("to", recipient), ("type", type),
                  ("id", id)]
    text = "".join(" %s='%s'" % (attr, escapeAttribute(value))
                   for attr, value in attributes if value is not None)
    if condition is not None:
        body = ("<error type='cancel'><%s xmlns='%s'/></error>"
                % (condition, NS_STANZAS))
    else:
        body = escapeText(key) if key else ""
    if not body:
        return "<db:%s%s/>" % (name, text)
    return "<db:%s%s>%s</db:%s>" % (name, text, body, name)


def dialbackFeature():
    """
    C{<dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>}:
    we speak dialback and understand its errors (XEP-0220 section 2.4),
    which is also what allows a peer to multiplex domain pairs (section 3).
    """
    feature = domish.Element((NS_DIALBACK_FEATURE, "dialback"))
    feature.addElement("errors")
    return feature


def offersErrors(features):
    """
    Whether received stream C{features} announce dialback with errors,
    which is what allows us to multiplex domain pairs on one stream
    (XEP-0220 sections 2.4 and 3).
    """
    if features is None:
        return False
    for feature in features.elements(NS_DIALBACK_FEATURE, "dialback"):
        return any(True for _ in feature.elements(NS_DIALBACK_FEATURE,
                                                  "errors"))
    return False
