"""
Stanza and stream errors (RFC 6120 sections 4.9 and 8.3).

Handlers signal failure by raising L{StanzaError}; the code that dispatched
the stanza turns it into the error reply.  Stream code raises
L{StreamError}; the stream sends it and closes.
"""

from twisted.words.xish import domish

NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams"
NS_STREAM = "http://etherx.jabber.org/streams"

#: The error type RFC 6120 section 8.3.3 gives as usual for each condition.
DEFAULT_TYPES = {
    "bad-request": "modify",
    "conflict": "cancel",
    "feature-not-implemented": "cancel",
    "forbidden": "auth",
    "gone": "cancel",
    "internal-server-error": "cancel",
    "item-not-found": "cancel",
    "jid-malformed": "modify",
    "not-acceptable": "modify",
    "not-allowed": "cancel",
    "not-authorized": "auth",
    "policy-violation": "modify",
    "recipient-unavailable": "wait",
    "redirect": "modify",
    "registration-required": "auth",
    "remote-server-not-found": "cancel",
    "remote-server-timeout": "wait",
    "resource-constraint": "wait",
    "service-unavailable": "cancel",
    "subscription-required": "auth",
    "undefined-condition": "cancel",
    "unexpected-request": "wait",
}


class StanzaError(Exception):
    """
    A stanza-level error (RFC 6120 section 8.3).

    @ivar condition: the defined condition, e.g. C{"item-not-found"}.
    @ivar type: C{cancel}, C{continue}, C{modify}, C{auth} or C{wait}.
    @ivar appCondition: an optional application-specific element.
    """

    def __init__(self, condition, type=None, text=None, appCondition=None):
        Exception.__init__(self, condition, text)
        self.condition = condition
        self.type = type or DEFAULT_TYPES.get(condition, "cancel")
        self.text = text
        self.appCondition = appCondition

    def toElement(self):
        """
        Render the C{<error/>} child of an error stanza.
        """
        error = domish.Element((None, "error"))
        error["type"] = self.type
        error.addElement((NS_STANZAS, self.condition))
        if self.text:
            error.addElement((NS_STANZAS, "text"), content=self.text)
        if self.appCondition is not None:
            error.addChild(self.appCondition)
        return error


class StreamError(Exception):
    """
    A stream-level error (RFC 6120 section 4.9): fatal to the stream.
    """

    def __init__(self, condition, text=None):
        Exception.__init__(self, condition, text)
        self.condition = condition
        self.text = text

    def toElement(self):
        """
        Render C{<stream:error/>}.
        """
        error = domish.Element((NS_STREAM, "error"))
        error.addElement((NS_STREAMS, self.condition))
        if self.text:
            error.addElement((NS_STREAMS, "text"), content=self.text)
        return error
