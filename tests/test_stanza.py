"""
Tests for L{jabberd.stanza} and L{jabberd.errors}.
"""

import pytest
from twisted.words.xish import domish

from jabberd.bus import STANZA_KEYS, Address, Kind, Phase
from jabberd.errors import (NS_STANZAS, NS_STREAM, NS_STREAMS, StanzaError,
                            StreamError)
from jabberd.jid import parseJID
from jabberd.stanza import Stanza, addressOf, checkIQ, makeElement

ROMEO = parseJID("romeo@example.net/orchard")
JULIET = parseJID("juliet@example.com/balcony")


def stanzaOf(name, sender=ROMEO, recipient=JULIET, **attributes):
    if recipient is not None and "to" not in attributes:
        attributes["to"] = recipient.full()
    element = makeElement(name, **attributes)
    element["from"] = sender.full()
    return Stanza(element, sender, recipient)


# -- kinds and types ---------------------------------------------------------


@pytest.mark.parametrize("name, kind, default", [
    ("message", Kind.MESSAGE, "normal"),
    ("presence", Kind.PRESENCE, "available"),
    ("iq", Kind.IQ, None),
])
def test_kindAndDefaultType(name, kind, default):
    stanza = stanzaOf(name)
    assert stanza.kind is kind
    assert stanza.type == default


def test_explicitType():
    assert stanzaOf("message", type="chat").type == "chat"
    assert stanzaOf("presence", type="unavailable").type == "unavailable"


def test_notAStanza():
    with pytest.raises(KeyError):
        Stanza(domish.Element((None, "starttls")), ROMEO, JULIET)


@pytest.mark.parametrize("jid, address", [
    (None, Address.NONE),
    ("example.com", Address.HOST),
    ("example.com/admin", Address.HOST),
    ("juliet@example.com", Address.BARE),
    ("juliet@example.com/balcony", Address.FULL),
])
def test_addressOf(jid, address):
    assert addressOf(None if jid is None else parseJID(jid)) is address


def test_key():
    stanza = stanzaOf("presence", recipient=None)
    assert stanza.address is Address.NONE
    assert stanza.key(Phase.OUTBOUND) is \
        STANZA_KEYS[(Kind.PRESENCE, Address.NONE, Phase.OUTBOUND)]


def test_idAndRequest():
    get = stanzaOf("iq", type="get", id="q1")
    assert get.id == "q1"
    assert get.isRequest()
    assert stanzaOf("iq", type="set").isRequest()
    assert not stanzaOf("iq", type="result").isRequest()
    assert not stanzaOf("iq", type="error").isRequest()
    assert not stanzaOf("message", type="get").isRequest()
    assert stanzaOf("message").id is None


def test_payload():
    stanza = stanzaOf("iq", type="get", id="1")
    assert stanza.payload() is None
    stanza.element.addContent("  ")
    ping = stanza.element.addElement(("urn:xmpp:ping", "ping"))
    stanza.element.addElement(("urn:other", "x"))
    assert stanza.payload() is ping


def test_makeElementSkipsNone():
    element = makeElement("message", to="a@b", type=None, id=7)
    assert element.attributes == {"to": "a@b", "id": "7"}
    assert (element.uri, element.name) == (None, "message")


# -- replies ------------------------------------------------------------------


def test_resultReplyAddressing():
    request = stanzaOf("iq", type="get", id="v1")
    reply = request.resultReply()
    assert reply.name == "iq"
    assert reply.attributes == {"to": ROMEO.full(), "from": JULIET.full(),
                                "id": "v1", "type": "result"}
    assert reply.children == []


def test_resultReplyPayload():
    request = stanzaOf("iq", type="get", id="v1")
    payload = domish.Element(("jabber:iq:version", "query"))
    assert request.resultReply(payload).firstChildElement() is payload


def test_replyWithoutTo():
    """
    RFC 6120 section 10.3.3: a request without C{to} is handled by the
    server for the account, and answered without C{from}.
    """
    element = makeElement("iq", type="get", id="r1")
    element["from"] = ROMEO.full()
    request = Stanza(element, ROMEO, ROMEO.userhostJID())
    reply = request.resultReply()
    assert "from" not in reply.attributes
    assert reply["to"] == ROMEO.full()
    error = request.errorReply(StanzaError("item-not-found"))
    assert "from" not in error.attributes


def test_replyWithoutID():
    reply = stanzaOf("message").errorReply(StanzaError("bad-request"))
    assert "id" not in reply.attributes


def test_errorReply():
    request = stanzaOf("message", type="chat", id="m1")
    request.element.addElement("body", content="hello")
    reply = request.errorReply(StanzaError("service-unavailable",
                                           text="nobody here"))
    assert reply.name == "message"
    assert reply.attributes == {"to": ROMEO.full(), "from": JULIET.full(),
                                "id": "m1", "type": "error"}
    [error] = list(reply.elements())
    assert error.name == "error" and error["type"] == "cancel"
    condition, text = list(error.elements())
    assert (condition.uri, condition.name) == (NS_STANZAS,
                                               "service-unavailable")
    assert (text.uri, text.name) == (NS_STANZAS, "text")
    assert str(text) == "nobody here"


def test_errorReplyToPresence():
    reply = stanzaOf("presence", type="subscribe").errorReply(
        StanzaError("forbidden"))
    assert reply.name == "presence"
    assert reply.error["type"] == "auth"


# -- checkIQ (RFC 6120 section 8.2.3) -----------------------------------------


def iq(type="get", id="1", children=1):
    element = makeElement("iq", type=type, id=id)
    for n in range(children):
        element.addElement(("urn:x", "q%d" % (n,)))
    return element


@pytest.mark.parametrize("element", [
    iq(), iq("set"), iq("result", children=0), iq("result"),
    iq("error", children=2),
], ids=["get", "set", "empty-result", "result", "error"])
def test_checkIQAccepts(element):
    checkIQ(element)


@pytest.mark.parametrize("element", [
    iq(id=None), iq(type=None), iq(type="put"), iq("get", children=0),
    iq("set", children=2),
], ids=["no-id", "no-type", "bad-type", "get-empty", "set-two"])
def test_checkIQRefuses(element):
    with pytest.raises(StanzaError) as info:
        checkIQ(element)
    assert info.value.condition == "bad-request"
    assert info.value.type == "modify"


def test_checkIQIgnoresText():
    element = iq("get")
    element.addContent("\n  ")
    checkIQ(element)


# -- errors -------------------------------------------------------------------


@pytest.mark.parametrize("condition, type", [
    ("bad-request", "modify"), ("forbidden", "auth"),
    ("resource-constraint", "wait"), ("item-not-found", "cancel"),
    ("made-up", "cancel"),
])
def test_defaultErrorTypes(condition, type):
    assert StanzaError(condition).type == type


def test_stanzaErrorExplicitTypeAndAppCondition():
    app = domish.Element(("urn:app", "too-fast"))
    error = StanzaError("policy-violation", type="wait", appCondition=app)
    element = error.toElement()
    assert element["type"] == "wait"
    children = list(element.elements())
    assert [c.name for c in children] == ["policy-violation", "too-fast"]
    assert children[-1] is app


def test_streamErrorElement():
    element = StreamError("host-unknown", "no such host").toElement()
    assert (element.uri, element.name) == (NS_STREAM, "error")
    condition, text = list(element.elements())
    assert (condition.uri, condition.name) == (NS_STREAMS, "host-unknown")
    assert str(text) == "no such host"
    assert list(StreamError("conflict").toElement().elements())[0].name == \
        "conflict"
    assert len(list(StreamError("conflict").toElement().elements())) == 1
