"""
Tests for L{jabberd.xmlparser}: the restricted, bounded stream parser.
"""

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jabberd.errors import NS_STREAM, StreamError
from jabberd.xml import NS_XML
from jabberd.xmlparser import XMLStreamParser

NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"

HEADER = (b"<?xml version='1.0'?>"
          b"<stream:stream xmlns='jabber:client'"
          b" xmlns:stream='http://etherx.jabber.org/streams'"
          b" to='example.org' version='1.0' xml:lang='en'>")

STANZAS = (
    b"<message to='juliet@example.com/balcony' type='chat' id='m1'"
    b" xml:lang='fr'><body>Art thou n\xc3\xb4t Romeo?</body>"
    b"<thread>t1</thread></message>",
    b"<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>",
    b"<presence><show>away</show><status>\xe2\x98\x83 &amp; &#65;"
    b"</status></presence>",
)


class Recorder:
    """
    Collects what an L{XMLStreamParser} reports.

    @ivar haltOn: the element name whose delivery halts the parser.
    """

    def __init__(self, maxStanzaSize=65536, maxDepth=16, haltOn=None):
        self.headers = []
        self.elements = []
        self.ended = 0
        self.haltOn = haltOn
        self.parser = XMLStreamParser(self.streamStarted,
                                      self.elementReceived,
                                      self.streamEnded,
                                      maxStanzaSize, maxDepth)

    def streamStarted(self, attributes, namespace):
        self.headers.append((attributes, namespace))

    def elementReceived(self, element):
        self.elements.append(element)
        if element.name == self.haltOn:
            self.parser.halt()

    def streamEnded(self):
        self.ended += 1

    def feed(self, *chunks):
        """
        Feed each chunk; return the concatenated leftovers.
        """
        return b"".join(self.parser.feed(chunk) for chunk in chunks)

    def xml(self):
        return [element.toXml() for element in self.elements]


def condition(recorder, *chunks):
    """
    Feed C{chunks} and return the condition of the L{StreamError} raised.
    """
    with pytest.raises(StreamError) as info:
        recorder.feed(*chunks)
    return info.value.condition


def byteByByte(data):
    return [data[i:i + 1] for i in range(len(data))]


# -- stream header -------------------------------------------------------


def test_streamHeaderAttributesAndContentNamespace():
    recorder = Recorder()
    recorder.feed(HEADER)
    [(attributes, namespace)] = recorder.headers
    assert namespace == "jabber:client"
    assert attributes == {"to": "example.org", "version": "1.0",
                          (NS_XML, "lang"): "en"}


def test_serverContentNamespace():
    recorder = Recorder()
    recorder.feed(b"<stream:stream xmlns='jabber:server'"
                  b" xmlns:stream='http://etherx.jabber.org/streams'>")
    assert recorder.headers[0][1] == "jabber:server"


def test_streamPrefixIsFree():
    """
    Only the namespace of the root matters, not its prefix.
    """
    recorder = Recorder()
    recorder.feed(b"<s:stream xmlns='jabber:client' xmlns:s='%s'>"
                  % (NS_STREAM.encode(),))
    assert len(recorder.headers) == 1


@pytest.mark.parametrize("header", [
    b"<stream:stream xmlns='jabber:client'"
    b" xmlns:stream='http://etherx.jabber.org/wrong'>",
    b"<stream xmlns='jabber:client'>",
    b"<stream:features xmlns:stream='http://etherx.jabber.org/streams'>",
])
def test_wrongRootIsInvalidNamespace(header):
    recorder = Recorder()
    assert condition(recorder, header) == "invalid-namespace"
    assert recorder.headers == []


def test_streamEnd():
    recorder = Recorder()
    recorder.feed(HEADER, b"<presence/></stream:stream>")
    assert recorder.ended == 1
    assert recorder.xml() == ["<presence xmlns='jabber:client'/>"]


# -- stanzas ---------------------------------------------------------------


def test_stanzaElement():
    recorder = Recorder()
    recorder.feed(HEADER + STANZAS[0])
    [message] = recorder.elements
    assert (message.uri, message.name) == ("jabber:client", "message")
    assert message["to"] == "juliet@example.com/balcony"
    assert message[(NS_XML, "lang")] == "fr"
    assert message.parent is None
    body = message.body
    assert body.uri == "jabber:client"
    assert str(body) == "Art thou n\u00f4t Romeo?"
    assert body.parent is message
    assert str(message.thread) == "t1"


def test_payloadNamespace():
    recorder = Recorder()
    recorder.feed(HEADER + STANZAS[1])
    query = recorder.elements[0].query
    assert (query.uri, query.name) == ("jabber:iq:roster", "query")


def test_entitiesAndCharacterReferences():
    """
    The five predefined entities and character references are allowed.
    """
    recorder = Recorder()
    recorder.feed(HEADER + b"<message><body>&lt;&gt;&amp;&apos;&quot;"
                  b"&#65;&#x42;</body></message>")
    assert str(recorder.elements[0].body) == "<>&'\"AB"


def test_prefixDeclaredOnStream():
    """
    A prefix declared on the stream header applies inside stanzas, and
    namespaced attributes keep their namespace.
    """
    recorder = Recorder()
    recorder.feed(b"<stream:stream xmlns='jabber:server'"
                  b" xmlns:stream='http://etherx.jabber.org/streams'"
                  b" xmlns:db='jabber:server:dialback'>"
                  b"<db:result from='a.example' to='b.example'>key</db:result>"
                  b"<message xmlns:x='urn:x' x:a='1'/>")
    result, message = recorder.elements
    assert (result.uri, result.name) == ("jabber:server:dialback", "result")
    assert str(result) == "key"
    assert message.attributes == {("urn:x", "a"): "1"}


def test_cdataSection():
    recorder = Recorder()
    recorder.feed(HEADER + b"<message><body><![CDATA[a<b]]></body></message>")
    assert str(recorder.elements[0].body) == "a<b"


def test_byteByByteSameResult():
    whole = Recorder()
    whole.feed(HEADER + b"".join(STANZAS))
    pieces = Recorder()
    leftover = pieces.feed(*byteByByte(HEADER + b"".join(STANZAS)))
    assert leftover == b""
    assert pieces.headers == whole.headers
    assert pieces.xml() == whole.xml()
    assert len(pieces.xml()) == 3


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=600), max_size=12))
def test_anySplitSameStanzas(cuts):
    """
    However the stream is cut into chunks, the same stanzas come out.
    """
    data = HEADER + b" ".join(STANZAS) + b"</stream:stream>"
    whole = Recorder()
    whole.feed(data)
    points = sorted({min(cut, len(data)) for cut in cuts})
    chunks = [data[a:b] for a, b in zip([0] + points, points + [len(data)])]
    pieces = Recorder()
    assert pieces.feed(*chunks) == b""
    assert pieces.xml() == whole.xml()
    assert pieces.headers == whole.headers
    assert pieces.ended == 1


# -- restricted XML (RFC 6120 section 11.1) ----------------------------------

BILLION_LAUGHS = (
    b"<?xml version='1.0'?><!DOCTYPE lolz ["
    b"<!ENTITY lol 'lol'>"
    + b"".join(b"<!ENTITY lol%d '%s'>" % (n, (b"&lol%d;" % (n - 1,)) * 10)
               for n in range(2, 10)).replace(b"&lol1;", b"&lol;")
    + b"]><stream:stream xmlns='jabber:client'"
    b" xmlns:stream='http://etherx.jabber.org/streams'>"
    b"<message><body>&lol9;</body></message>"
)


def test_billionLaughsFailsFast():
    """
    The entity bomb is refused at its DOCTYPE, before any expansion: fast,
    and without a single callback.
    """
    recorder = Recorder()
    started = time.perf_counter()
    assert condition(recorder, BILLION_LAUGHS) == "restricted-xml"
    assert time.perf_counter() - started < 0.5
    assert recorder.headers == [] and recorder.elements == []


def test_billionLaughsByteByByte():
    recorder = Recorder()
    started = time.perf_counter()
    assert condition(recorder, *byteByByte(BILLION_LAUGHS)) == "restricted-xml"
    assert time.perf_counter() - started < 0.5
    assert recorder.elements == []


@pytest.mark.parametrize("document", [
    b"<!DOCTYPE stream>" + HEADER,
    b"<!DOCTYPE s [<!ENTITY e 'expanded'>]>" + HEADER
    + b"<message><body>&e;</body></message>",
    b"<!DOCTYPE s SYSTEM 'http://example.com/evil.dtd'>" + HEADER,
    HEADER + b"<message><!-- a comment --></message>",
    b"<!-- before the stream -->" + HEADER,
    HEADER + b"<!-- between stanzas -->",
    HEADER + b"<message><?target data?></message>",
    HEADER + b"<?target data?>",
], ids=["doctype", "internal-entity", "external-dtd", "comment",
        "comment-before-stream", "comment-between-stanzas",
        "pi-in-stanza", "pi-between-stanzas"])
def test_restrictedXML(document):
    recorder = Recorder()
    assert condition(recorder, document) == "restricted-xml"
    assert recorder.elements == []


def test_xmlDeclarationAllowed():
    """
    The XML declaration is not a processing instruction.
    """
    recorder = Recorder()
    recorder.feed(HEADER)
    assert len(recorder.headers) == 1


def test_undefinedEntityNotWellFormed():
    recorder = Recorder()
    assert condition(recorder, HEADER,
                     b"<message><body>&bogus;</body></message>") \
        == "not-well-formed"
    assert recorder.elements == []


def test_mismatchedTagsNotWellFormed():
    recorder = Recorder()
    assert condition(recorder, HEADER, b"<message></iq>") == "not-well-formed"


# -- limits ------------------------------------------------------------------


def nested(depth):
    return b"<a>" * depth + b"</a>" * depth


def test_depthAtLimitAccepted():
    recorder = Recorder(maxDepth=3)
    recorder.feed(HEADER, b"<message>" + nested(2) + b"</message>")
    assert len(recorder.elements) == 1


def test_depthBeyondLimitIsPolicyViolation():
    recorder = Recorder(maxDepth=3)
    assert condition(recorder, HEADER, b"<message>" + nested(3)
                     + b"</message>") == "policy-violation"
    assert recorder.elements == []


def test_deepNestingFedInPieces():
    """
    The depth check fires as start tags arrive; the stanza never ends.
    """
    recorder = Recorder(maxDepth=32)
    recorder.feed(HEADER)
    fed = 0
    with pytest.raises(StreamError) as info:
        while fed < 1000:
            fed += 1
            recorder.feed(b"<a>")
    assert info.value.condition == "policy-violation"
    assert fed == 33


def test_stanzaAtLimitAccepted():
    """
    The limit is per stanza, not per stream.
    """
    recorder = Recorder(maxStanzaSize=200)
    recorder.feed(HEADER)
    stanza = b"<message><body>" + b"x" * 150 + b"</body></message>"
    for _ in range(10):
        recorder.feed(*[stanza[i:i + 40] for i in range(0, len(stanza), 40)])
    assert len(recorder.elements) == 10


def test_hugeTextFedInPiecesIsPolicyViolation():
    recorder = Recorder(maxStanzaSize=1000)
    recorder.feed(HEADER, b"<message><body>")
    fed = 0
    with pytest.raises(StreamError) as info:
        while fed < 100000:
            recorder.feed(b"x" * 100)
            fed += 100
    assert info.value.condition == "policy-violation"
    assert fed <= 1100
    assert recorder.elements == []


def test_hugeStartTagIsPolicyViolation():
    """
    A start tag that never closes is counted as it arrives, although
    expat reports nothing for it.
    """
    recorder = Recorder(maxStanzaSize=1000)
    recorder.feed(HEADER, b"<message to='")
    fed = 0
    with pytest.raises(StreamError) as info:
        while fed < 100000:
            recorder.feed(b"a" * 100)
            fed += 100
    assert info.value.condition == "policy-violation"
    assert fed <= 1100


def test_hugeStreamHeaderIsPolicyViolation():
    recorder = Recorder(maxStanzaSize=1000)
    with pytest.raises(StreamError) as info:
        recorder.feed(b"<stream:stream to='" + b"a" * 2000)
    assert info.value.condition == "policy-violation"


def test_oversizedStanzaInOneChunkIsPolicyViolation():
    recorder = Recorder(maxStanzaSize=1000)
    recorder.feed(HEADER)
    stanza = b"<message><body>" + b"x" * 5000 + b"</body></message>"
    assert condition(recorder, stanza) == "policy-violation"
    assert recorder.elements == []


# -- text between stanzas -----------------------------------------------------


def test_textBetweenStanzasNotWellFormed():
    recorder = Recorder()
    assert condition(recorder, HEADER, b"<presence/>hello<presence/>") \
        == "not-well-formed"
    assert len(recorder.elements) == 1


def test_whitespaceKeepalivesAllowed():
    recorder = Recorder()
    recorder.feed(HEADER, b" ", b"\n", b"\r\n\t ", b"<presence/>", b"  ",
                  b"<presence/>", b" ")
    assert len(recorder.elements) == 2


def test_manyKeepalivesWithinLimit():
    recorder = Recorder(maxStanzaSize=1000)
    recorder.feed(HEADER)
    for _ in range(5000):
        recorder.feed(b" ")
    recorder.feed(b"<presence/>")
    assert len(recorder.elements) == 1


# -- halt (STARTTLS, RFC 6120 section 5.4.3.3) --------------------------------

STARTTLS_FORMS = [
    b"<starttls xmlns='%s'/>" % (NS_TLS.encode(),),
    b"<starttls xmlns='%s'></starttls>" % (NS_TLS.encode(),),
]
INJECTED = b"<message to='victim@example.org'><body>x</body></message><iq"


@pytest.mark.parametrize("starttls", STARTTLS_FORMS)
def test_haltReturnsFollowingBytes(starttls):
    """
    Bytes an attacker appended after C{<starttls/>} in the same read are
    handed back, not parsed.
    """
    recorder = Recorder(haltOn="starttls")
    leftover = recorder.feed(HEADER + starttls + INJECTED)
    assert leftover == INJECTED
    assert [e.name for e in recorder.elements] == ["starttls"]


@pytest.mark.parametrize("starttls", STARTTLS_FORMS)
@pytest.mark.parametrize("trailer", [b"", b" ", b"<", b"<mess", b"<x/>"])
def test_haltShortTrailer(starttls, trailer):
    recorder = Recorder(haltOn="starttls")
    assert recorder.feed(HEADER + starttls + trailer) == trailer
    assert len(recorder.elements) == 1
    assert recorder.ended == 0


def test_haltBeforeStreamEndLongForm():
    recorder = Recorder(haltOn="starttls")
    trailer = b"</stream:stream>"
    assert recorder.feed(HEADER + STARTTLS_FORMS[1] + trailer) == trailer
    assert recorder.ended == 0


def test_haltBeforeStreamEndEmptyForm():
    recorder = Recorder(haltOn="starttls")
    trailer = b"</stream:stream>"
    assert recorder.feed(HEADER + STARTTLS_FORMS[0] + trailer) == trailer
    assert recorder.ended == 0


def test_streamCloseSplitAfterEmptyStanza():
    """
    C{<presence/></str} then C{eam:stream>}: a client closing its stream
    right after unavailable presence, cut by TCP.
    """
    recorder = Recorder()
    recorder.feed(HEADER + b"<presence type='unavailable'/></str",
                  b"eam:stream>")
    assert recorder.ended == 1
    assert len(recorder.elements) == 1


@pytest.mark.parametrize("starttls", STARTTLS_FORMS)
def test_haltLaterFeedsReturned(starttls):
    recorder = Recorder(haltOn="starttls")
    assert recorder.feed(HEADER + starttls) == b""
    assert recorder.feed(b"<presence/>") == b"<presence/>"
    assert recorder.elements[-1].name == "starttls"


@pytest.mark.parametrize("starttls", STARTTLS_FORMS)
def test_haltByteByByte(starttls):
    recorder = Recorder(haltOn="starttls")
    leftover = recorder.feed(*byteByByte(HEADER + starttls + INJECTED))
    assert leftover == INJECTED
    assert len(recorder.elements) == 1


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(STARTTLS_FORMS),
       st.lists(st.integers(min_value=0, max_value=400), max_size=8))
def test_haltAnySplit(starttls, cuts):
    """
    Wherever the reads are cut, exactly the bytes after the halting
    element come back.
    """
    data = HEADER + starttls + INJECTED
    points = sorted({min(cut, len(data)) for cut in cuts})
    chunks = [data[a:b] for a, b in zip([0] + points, points + [len(data)])]
    recorder = Recorder(haltOn="starttls")
    assert recorder.feed(*chunks) == INJECTED
    assert len(recorder.elements) == 1


@pytest.mark.parametrize("trailer", [
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    b"&bogus;",
    b"<!-- comment -->",
    b"<?pi data?>",
], ids=["tls-record", "undefined-entity", "comment", "pi"])
def test_haltReturnsAnyTrailer(trailer):
    """
    Whatever follows the halting element, a TLS record included, is
    returned rather than parsed.
    """
    recorder = Recorder(haltOn="starttls")
    assert recorder.feed(HEADER + STARTTLS_FORMS[0] + trailer) == trailer


# -- reset --------------------------------------------------------------------


def test_resetDiscardsPartialInput():
    recorder = Recorder()
    recorder.feed(HEADER + b"<message><bo")
    recorder.parser.reset()
    recorder.feed(HEADER + b"<iq type='get' id='1'>"
                  b"<ping xmlns='urn:xmpp:ping'/></iq>")
    assert len(recorder.headers) == 2
    assert [e.name for e in recorder.elements] == ["iq"]


def test_resetAfterHalt():
    """
    The TLS restart: after halt and reset, a fresh stream is parsed.
    """
    recorder = Recorder(haltOn="starttls")
    recorder.feed(HEADER + STARTTLS_FORMS[0])
    recorder.parser.reset()
    assert recorder.parser.halted is False
    assert recorder.feed(HEADER + b"<presence/>") == b""
    assert [e.name for e in recorder.elements] == ["starttls", "presence"]
    assert len(recorder.headers) == 2


def test_resetRequiresNewHeader():
    recorder = Recorder()
    recorder.feed(HEADER)
    recorder.parser.reset()
    assert condition(recorder, b"<presence/>") == "invalid-namespace"
