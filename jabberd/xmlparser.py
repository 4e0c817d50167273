"""
A restricted, bounded XML stream parser for untrusted peers.

RFC 6120 section 11.1 restricts XMPP to a subset of XML: no DTDs, no entity
declarations, no comments, no processing instructions.  This parser ends
the stream with C{<restricted-xml/>} the moment expat reports any of them,
before anything could be expanded, and enforces the stanza size and nesting
limits as bytes arrive rather than after a whole stanza was buffered.

Stanzas are built as L{domish.Element} trees: one parse per stanza, no
re-parsing downstream.
"""

import pyexpat

from twisted.words.xish import domish

from jabberd.errors import NS_STREAM, StreamError


_SEPARATOR = " "


class _Halted(Exception):
    """
    Raised inside expat callbacks after L{XMLStreamParser.halt}.
    """


def _splitName(name):
    """
    Split expat's C{"uri name"} into C{(uri, name)}.
    """
    uri, _, local = name.rpartition(_SEPARATOR)
    return (uri or None), local


class XMLStreamParser:
    """
    Parse one XML stream, calling back for the header, each top-level
    element (stanza) and the end of the stream.

    @ivar halted: set by L{halt}; no further callbacks are made and any
        input that follows the halting element is reported by L{feed}.
    """

    def __init__(self, streamStarted, elementReceived, streamEnded,
                 maxStanzaSize, maxDepth):
        self.streamStarted = streamStarted
        self.elementReceived = elementReceived
        self.streamEnded = streamEnded
        self.maxStanzaSize = maxStanzaSize
        self.maxDepth = maxDepth
        self.reset()

    def reset(self):
        """
        Start afresh, as for a stream restart (RFC 6120 sections 5.4.3.3
        and 6.4.6).
        """
        self._parser = self._makeExpat()
        self._fed = 0
        self._boundary = 0
        self._chunk = b""
        self._tail = b""
        self._chunkStart = 0
        self._depth = 0
        self._current = None
        self._namespaces = {}
        self.halted = False
        self.haltOffset = None

    def _makeExpat(self):
        parser = pyexpat.ParserCreate(namespace_separator=_SEPARATOR)
        parser.buffer_text = True
        parser.ordered_attributes = False
        parser.SetParamEntityParsing(pyexpat.XML_PARAM_ENTITY_PARSING_NEVER)
        if hasattr(parser, "SetReparseDeferralEnabled"):
            # Deferred reparsing would hold stanzas back until more bytes
            # arrive, which an interactive protocol cannot afford.
            parser.SetReparseDeferralEnabled(False)
        parser.StartElementHandler = self._startElement
        parser.EndElementHandler = self._endElement
        parser.CharacterDataHandler = self._characterData
        parser.StartNamespaceDeclHandler = self._namespaceDeclared
        for name in ("StartDoctypeDeclHandler", "EntityDeclHandler",
                     "CommentHandler", "ProcessingInstructionHandler",
                     "UnparsedEntityDeclHandler", "NotationDeclHandler",
                     "ElementDeclHandler", "AttlistDeclHandler",
                     "ExternalEntityRefHandler", "SkippedEntityHandler"):
            setattr(parser, name, self._restricted)
        return parser

    def feed(self, data):
        """
        Parse C{data}.

        @return: the bytes of C{data} that follow the element that halted
            the parser, if it was halted while parsing them; C{b""} if none.
        @raise StreamError: C{not-well-formed}, C{restricted-xml},
            C{policy-violation} (size or depth) or C{invalid-namespace}.
        """
        if self.halted:
            return data
        self._tail = self._chunk[-2:]
        self._chunk = data
        self._chunkStart = self._fed
        self._fed += len(data)
        try:
            self._parser.Parse(data, False)
        except _Halted:
            pass
        except pyexpat.ExpatError as e:
            if not self.halted:
                raise StreamError("not-well-formed",
                                  pyexpat.errors.messages[e.code])
        except StreamError:
            if not self.halted:
                raise
        if self.halted:
            return data[self.haltOffset - self._chunkStart:]
        if self._fed - self._boundary > self.maxStanzaSize:
            raise StreamError("policy-violation", "stanza too large")
        return b""

    def halt(self):
        """
        Stop delivering events after the element being delivered now; used
        when the stream is about to switch to TLS (RFC 6120 section 5.4.3.3)
        so that nothing sent in the clear after C{<starttls/>} is processed.
        """
        self.halted = True

    def _checkHalted(self):
        if self.halted:
            raise _Halted()

    def _restricted(self, *args):
        self._checkHalted()
        raise StreamError("restricted-xml")

    def _namespaceDeclared(self, prefix, uri):
        if self._depth == 0:
            self._namespaces[prefix] = uri

    def _attributes(self, attrs):
        result = {}
        for key, value in attrs.items():
            if _SEPARATOR in key:
                uri, name = _splitName(key)
                result[(uri, name)] = value
            else:
                result[key] = value
        return result

    def _startElement(self, name, attrs):
        self._checkHalted()
        uri, local = _splitName(name)
        depth = self._depth = self._depth + 1
        if depth == 1:
            self._streamStart(uri, local, attrs)
            return
        if depth > self.maxDepth + 1:
            raise StreamError("policy-violation", "elements nested too deeply")
        element = domish.Element((uri, local), attribs=self._attributes(attrs))
        if self._current is None:
            self._boundary = self._parser.CurrentByteIndex
            self._current = element
        else:
            self._current.addChild(element)
            element.parent = self._current
            self._current = element

    def _streamStart(self, uri, local, attrs):
        if uri != NS_STREAM or local != "stream":
            raise StreamError("invalid-namespace")
        self._boundary = self._parser.CurrentByteIndex
        attributes = self._attributes(attrs)
        self.streamStarted(attributes, self._namespaces.get(None))

    def _endElement(self, name):
        self._checkHalted()
        self._depth -= 1
        if self._depth == 0:
            self.streamEnded()
            return
        element = self._current
        parent = element.parent
        if parent is None:
            self._current = None
            start, self._boundary = self._boundary, self._endOffset(element)
            if self._boundary - start > self.maxStanzaSize:
                raise StreamError("policy-violation", "stanza too large")
            self.elementReceived(element)
            if self.halted:
                self.haltOffset = self._boundary
        else:
            self._current = parent

    def _endOffset(self, element):
        """
        The absolute byte offset just past the element that ended now.

        expat reports the end event of C{<a/>} just past the tag, and that
        of C{<a></a>} at the C{</}, which is advanced past its C{>}.  The
        two are told apart by the C{/>} just before the reported offset of
        an element without children.
        """
        index = self._parser.CurrentByteIndex
        window = self._tail + self._chunk
        position = index - self._chunkStart + len(self._tail)
        if not element.children and window[position - 2:position] == b"/>":
            return index
        end = window.index(b">", max(position, 0)) + 1
        return self._chunkStart + end - len(self._tail)

    def _characterData(self, text):
        self._checkHalted()
        current = self._current
        if current is not None:
            current.addContent(text)
        elif text.strip():
            raise StreamError("not-well-formed", "text between stanzas")
        else:
            # Whitespace keepalives (RFC 6120 section 4.6.1) belong to no
            # stanza and must not count towards the next one's size.
            self._boundary = self._parser.CurrentByteIndex + len(text)


def parseElement(text, maxSize=1 << 20, maxDepth=64):
    """
    Parse one element from its serialised form (as stored in a database),
    with the same restrictions as a stream.

    @raise StreamError: the text is not one well-formed, allowed element.
    """
    elements = []
    parser = XMLStreamParser(lambda attributes, namespace: None,
                             elements.append, lambda: None,
                             maxSize, maxDepth)
    parser.feed(b"<stream:stream xmlns='jabber:client' "
                b"xmlns:stream='http://etherx.jabber.org/streams'>")
    parser.feed(text.encode("utf-8"))
    if len(elements) != 1:
        raise StreamError("not-well-formed", "expected one element")
    return elements[0]
