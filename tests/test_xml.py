"""
Tests for L{jabberd.xml}: serialising stanzas for the wire.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.words.xish import domish

from jabberd.xml import (NS_CLIENT, NS_SERVER, NS_XML, escapeAttribute,
                         escapeText, serialize, streamHeader)
from jabberd.xmlparser import XMLStreamParser

NS_STREAM = "http://etherx.jabber.org/streams"
NS_FORWARD = "urn:xmpp:forward:0"


def parse(text, streamNamespace=NS_CLIENT):
    """
    Parse serialised stanzas as a peer would: inside a stream whose
    content namespace is C{streamNamespace}.
    """
    elements = []
    parser = XMLStreamParser(lambda attrs, ns: None, elements.append,
                             lambda: None, 10 ** 7, 1000)
    parser.feed(("<stream:stream xmlns='%s' xmlns:stream='%s'>%s"
                 % (streamNamespace, NS_STREAM, text)).encode("utf-8"))
    return elements


def parseOne(text, streamNamespace=NS_CLIENT):
    [element] = parse(text, streamNamespace)
    return element


def canonical(element, streamNamespace, parentNamespace=None):
    """
    What a peer should see of C{element}: effective namespace, name,
    attributes and children, adjacent text merged and empty text dropped.
    """
    uri = element.uri
    if uri in (NS_CLIENT, NS_SERVER):
        uri = streamNamespace
    elif uri is None:
        uri = parentNamespace or streamNamespace
    children, text = [], ""
    for child in element.children:
        if isinstance(child, str):
            text += child
            continue
        if text:
            children.append(text)
            text = ""
        children.append(canonical(child, streamNamespace, uri))
    if text:
        children.append(text)
    return (uri, element.name, dict(element.attributes), children)


# -- namespaces ---------------------------------------------------------------


def message(uri=NS_CLIENT):
    element = domish.Element((uri, "message"))
    element["to"] = "juliet@example.com"
    element.addElement("body", content="hi")
    return element


@pytest.mark.parametrize("uri", [NS_CLIENT, NS_SERVER, None])
@pytest.mark.parametrize("stream", [NS_CLIENT, NS_SERVER])
def test_stanzaTakesStreamNamespace(uri, stream):
    """
    RFC 6120 section 4.8.3: a stanza in either content namespace, or none,
    is written in the namespace of the stream it goes to.
    """
    text = serialize(message(uri), stream)
    assert text == "<message to='juliet@example.com'><body>hi</body></message>"
    assert parseOne(text, stream).uri == stream


@pytest.mark.parametrize("inner, stream", [(NS_CLIENT, NS_SERVER),
                                           (NS_SERVER, NS_CLIENT)])
def test_nestedStanzaMapped(inner, stream):
    """
    A stanza nested in a foreign payload (a forwarded message) is mapped
    too, and needs an explicit declaration there.
    """
    outer = message(NS_CLIENT)
    forwarded = outer.addElement((NS_FORWARD, "forwarded"))
    forwarded.addChild(message(inner))
    text = serialize(outer, stream)
    assert ("<forwarded xmlns='%s'><message xmlns='%s' " % (NS_FORWARD, stream)
            ) in text
    other = NS_CLIENT if stream == NS_SERVER else NS_SERVER
    assert other not in text
    parsed = parseOne(text, stream)
    assert parsed.forwarded.message.uri == stream
    assert parsed.forwarded.message.body.uri == stream


def test_foreignNamespaceDeclaredOnce():
    iq = domish.Element((None, "iq"))
    query = iq.addElement(("jabber:iq:roster", "query"))
    query.addElement("item")["jid"] = "romeo@example.net"
    text = serialize(iq)
    assert text == ("<iq><query xmlns='jabber:iq:roster'>"
                    "<item jid='romeo@example.net'/></query></iq>")
    parsed = parseOne(text)
    assert parsed.query.item.uri == "jabber:iq:roster"


def test_childBackToStreamNamespace():
    """
    A C{jabber:client} child inside a foreign element is declared again.
    """
    outer = domish.Element((NS_CLIENT, "message"))
    x = outer.addElement(("urn:x", "x"))
    x.addChild(domish.Element((NS_CLIENT, "body")))
    text = serialize(outer)
    assert text == ("<message><x xmlns='urn:x'>"
                    "<body xmlns='jabber:client'/></x></message>")


def test_namespacedAttributes():
    element = domish.Element((None, "message"))
    element[(NS_XML, "lang")] = "en"
    element[("urn:a", "one")] = "1"
    element[("urn:b", "two")] = "2"
    text = serialize(element)
    assert "xml:lang='en'" in text
    assert "xmlns:xml" not in text
    parsed = parseOne(text)
    assert parsed.attributes == {(NS_XML, "lang"): "en", ("urn:a", "one"): "1",
                                 ("urn:b", "two"): "2"}


def test_emptyElement():
    assert serialize(domish.Element((None, "presence"))) == "<presence/>"


# -- escaping -----------------------------------------------------------------


def test_escapeText():
    assert escapeText("a<b>&c ]]> 'q' \"d\"") == \
        "a&lt;b&gt;&amp;c ]]&gt; 'q' \"d\""


def test_escapeAttribute():
    assert escapeAttribute("<'\"&>") == "&lt;&apos;&quot;&amp;&gt;"


def test_escapedRoundTrip():
    element = domish.Element((None, "message"))
    element["id"] = "a'b\"c<d>&e"
    element.addElement("body", content="</message><message to='evil'/>&amp;")
    text = serialize(element)
    [parsed] = parse(text)
    assert parsed["id"] == "a'b\"c<d>&e"
    assert str(parsed.body) == "</message><message to='evil'/>&amp;"


FORBIDDEN = ["\x00", "\x08", "\x0b", "\x0c", "\x1f", "\ud800", "\udfff",
             "\ufffe", "\uffff"]


@pytest.mark.parametrize("char", FORBIDDEN, ids=lambda c: "U+%04X" % ord(c))
def test_forbiddenCharacterInText(char):
    element = domish.Element((None, "message"))
    element.addElement("body", content="a" + char + "b")
    with pytest.raises(ValueError):
        serialize(element)


@pytest.mark.parametrize("char", FORBIDDEN, ids=lambda c: "U+%04X" % ord(c))
def test_forbiddenCharacterInAttribute(char):
    element = domish.Element((None, "message"))
    element["id"] = "a" + char
    with pytest.raises(ValueError):
        serialize(element)


def test_forbiddenCharacterInNamespacedAttribute():
    element = domish.Element((None, "message"))
    element[("urn:a", "x")] = "\x00"
    with pytest.raises(ValueError):
        serialize(element)


@pytest.mark.parametrize("char", ["\t", "\n", "\ud7ff", "\ue000", "\ufffd",
                                  "\U00010000", "\U0010ffff"],
                         ids=lambda c: "U+%04X" % ord(c))
def test_allowedCharacters(char):
    element = domish.Element((None, "message"))
    element.addElement("body", content=char)
    assert str(parseOne(serialize(element)).body) == char


def test_carriageReturnInTextSurvives():
    element = domish.Element((None, "message"))
    element.addElement("body", content="one\r\ntwo\rthree")
    assert str(parseOne(serialize(element)).body) == "one\r\ntwo\rthree"


def test_whitespaceInAttributeSurvives():
    element = domish.Element((None, "message"))
    element["id"] = "a\tb\nc\rd"
    assert parseOne(serialize(element))["id"] == "a\tb\nc\rd"


# -- stream header ------------------------------------------------------------


def test_streamHeader():
    header = streamHeader([("from", "example.org"), ("id", "s1'"),
                           ("to", None), ("version", "1.0"),
                           ("xml:lang", "en")], NS_SERVER)
    assert header == ("<?xml version='1.0'?><stream:stream"
                      " xmlns='jabber:server'"
                      " xmlns:stream='http://etherx.jabber.org/streams'"
                      " from='example.org' id='s1&apos;' version='1.0'"
                      " xml:lang='en'>")


def test_streamHeaderParses():
    started = []
    parser = XMLStreamParser(lambda attrs, ns: started.append((attrs, ns)),
                             None, None, 10000, 10)
    parser.feed(streamHeader([("from", "example.org"), ("xml:lang", "de")])
                .encode("utf-8"))
    assert started == [({"from": "example.org", (NS_XML, "lang"): "de"},
                        NS_CLIENT)]


# -- round trip --------------------------------------------------------------


def _xmlChar(c):
    code = ord(c)
    return (c in "\t\n" or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD
            or code >= 0x10000)


texts = st.text(st.characters().filter(_xmlChar), max_size=20)
values = st.text(st.characters().filter(
    lambda c: _xmlChar(c) and c not in "\t\n"), max_size=10)
names = st.sampled_from(["body", "item", "x", "query", "thread"])
namespaces = st.sampled_from([None, NS_CLIENT, NS_SERVER, "urn:a",
                              "urn:b", "jabber:iq:roster"])
attributeKeys = st.sampled_from(["id", "type", "jid", (NS_XML, "lang"),
                                 ("urn:attr", "a"), ("urn:other", "b")])


@st.composite
def elements(draw, children):
    element = domish.Element((draw(namespaces), draw(names)))
    for key, value in draw(st.dictionaries(attributeKeys, values,
                                           max_size=3)).items():
        element[key] = value
    for child in draw(st.lists(st.one_of(texts, children), max_size=4)):
        if isinstance(child, str):
            element.children.append(child)
        else:
            element.addChild(child)
    return element


trees = st.recursive(st.builds(lambda n: domish.Element((None, n)), names),
                     lambda inner: elements(inner), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(trees, st.sampled_from([NS_CLIENT, NS_SERVER]),
       st.sampled_from([NS_CLIENT, NS_SERVER, None]))
def test_roundTrip(tree, stream, stanzaNamespace):
    """
    parse(serialize(x)) is x, as the receiving stream sees it.
    """
    stanza = domish.Element((stanzaNamespace, "message"))
    stanza["to"] = "juliet@example.com"
    stanza.addChild(tree)
    parsed = parseOne(serialize(stanza, stream), stream)
    assert canonical(parsed, stream) == canonical(stanza, stream)
