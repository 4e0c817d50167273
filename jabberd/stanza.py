"""
Stanzas as they travel through the server.

A L{Stanza} wraps the parsed element with what the edge worked out once:
its kind, type, sender and recipient JIDs, addressing class and where it
came from.  Handlers read these instead of re-parsing attributes; the
element stays reachable for extensions and is what goes on the wire.
"""

from twisted.words.xish import domish

from jabberd.bus import STANZA_KEYS, Address, Kind
from jabberd.errors import StanzaError

_KINDS = {kind.value: kind for kind in Kind}

IQ_REQUEST_TYPES = frozenset(("get", "set"))
IQ_TYPES = frozenset(("get", "set", "result", "error"))


def addressOf(jid):
    """
    The addressing class of a recipient JID (RFC 6121 section 8.5).
    """
    if jid is None:
        return Address.NONE
    if jid.user is None:
        return Address.HOST
    if jid.resource is None:
        return Address.BARE
    return Address.FULL


class Stanza:
    """
    One stanza in flight.

    @ivar element: the L{domish.Element}; its C{to}/C{from} attributes
        agree with L{recipient}/L{sender}, except that a stanza sent by a
        client without C{to} keeps no C{to} attribute.
    @ivar kind: a L{Kind}.
    @ivar type: the C{type} attribute, or the kind's default
        (C{normal} for messages, C{available} for presence).
    @ivar sender: the sender's L{JID}.
    @ivar recipient: the recipient's L{JID}, or C{None} for presence
        broadcasts.
    @ivar address: the L{Address} class of L{recipient}.
    @ivar origin: the session the stanza arrived on, or C{None} if the
        server produced it.
    """

    __slots__ = ("element", "kind", "type", "sender", "recipient",
                 "address", "origin")

    def __init__(self, element, sender, recipient, origin=None):
        self.element = element
        self.kind = _KINDS[element.name]
        self.type = element.getAttribute("type") or _defaultType(self.kind)
        self.sender = sender
        self.recipient = recipient
        self.address = addressOf(recipient)
        self.origin = origin

    def key(self, phase):
        """
        The bus key of this stanza in C{phase}.
        """
        return STANZA_KEYS[(self.kind, self.address, phase)]

    @property
    def id(self):
        return self.element.getAttribute("id")

    def isRequest(self):
        """
        Whether this is an IQ get or set, which must be answered.
        """
        return self.kind is Kind.IQ and self.type in IQ_REQUEST_TYPES

    def payload(self):
        """
        The first child element (the IQ payload), or C{None}.
        """
        for child in self.element.elements():
            return child
        return None

    def resultReply(self, payload=None):
        """
        The C{type='result'} reply to this IQ, optionally with C{payload}.
        """
        reply = domish.Element((None, "iq"))
        _addressReply(self, reply)
        reply["type"] = "result"
        if payload is not None:
            reply.addChild(payload)
        return reply

    def errorReply(self, error):
        """
        The error reply to this stanza for L{StanzaError} C{error}
        (RFC 6120 section 8.3.1).
        """
        reply = domish.Element((None, self.element.name))
        _addressReply(self, reply)
        reply["type"] = "error"
        reply.addChild(error.toElement())
        return reply

    def __repr__(self):
        return "<Stanza %s type=%s from=%s to=%s>" % (
            self.kind.value, self.type, self.sender, self.recipient)


def _defaultType(kind):
    if kind is Kind.MESSAGE:
        return "normal"
    if kind is Kind.PRESENCE:
        return "available"
    return None


def _addressReply(stanza, reply):
    """
    Address C{reply} back to C{stanza}'s sender.  A request that carried
    no C{to} is answered without a C{from} (RFC 6120 section 10.3.3).
    """
    if stanza.sender is not None:
        reply["to"] = stanza.sender.full()
    if stanza.element.getAttribute("to") is not None and \
            stanza.recipient is not None:
        reply["from"] = stanza.recipient.full()
    stanzaID = stanza.element.getAttribute("id")
    if stanzaID is not None:
        reply["id"] = stanzaID


def checkIQ(element):
    """
    Check the shape RFC 6120 section 8.2.3 requires of an IQ.

    @raise StanzaError: C{bad-request} for a missing C{id}, a bad C{type}
        or a get/set without exactly one child element.
    """
    if element.getAttribute("id") is None:
        raise StanzaError("bad-request", text="iq without id")
    kind = element.getAttribute("type")
    if kind not in IQ_TYPES:
        raise StanzaError("bad-request", text="iq type must be get, set, "
                          "result or error")
    if kind in IQ_REQUEST_TYPES:
        children = [c for c in element.elements()]
        if len(children) != 1:
            raise StanzaError("bad-request",
                              text="iq %s needs exactly one child" % kind)


def makeElement(name, **attributes):
    """
    Build a stanza element (C{message}, C{presence}, C{iq}) with the given
    attributes; C{None} values are left out.  A convenience for plugins
    and tests.
    """
    element = domish.Element((None, name))
    for key, value in attributes.items():
        if value is not None:
            element[key] = str(value)
    return element
