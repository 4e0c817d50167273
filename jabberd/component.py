"""
External components (XEP-0114, the Jabber Component Protocol), server side.

An external component is a separate process (a gateway, a bot, a chat
service) that serves a domain of its own through our server.  It opens a
stream in the C{jabber:component:accept} namespace naming its domain,
proves that it knows the shared secret configured for that domain
(section 3: C{<handshake/>} carries the hex SHA-1 of the stream id
followed by the secret), and from then on exchanges stanzas with the
router: what is addressed to its domain is written to its stream, and what
it sends enters the router like any other stanza, so it reaches our hosts'
inbound phase.

  - L{ComponentRoute} is the router's target for one configured
    component's domain, connected or not: while no component is connected
    it answers for it (C{service-unavailable}).
  - L{ComponentStream} is one TCP connection from a component.
  - L{ComponentStreamFactory} makes them for the C{component_listeners}.

The stream uses the same restricted parser and stanza limits as client
streams (L{jabberd.xmlparser}); the edge checks addressing (a component
may send from its own domain only) so nothing downstream has to.
"""

import hashlib
import hmac
import secrets

from twisted.internet import protocol
from twisted.words.xish import domish

from jabberd.bus import Kind
from jabberd.errors import StanzaError, StreamError
from jabberd.jid import InvalidJID, parseJID, prepDomain
from jabberd.logsetup import Logger
from jabberd.stanza import Stanza, checkIQ
from jabberd.xml import NS_CLIENT, STANZA_NAMESPACES, serialize, streamHeader
from jabberd.xmlparser import XMLStreamParser

log = Logger()

NS_COMPONENT = "jabber:component:accept"

_STANZA_NAMES = frozenset(("message", "presence", "iq"))
_STANZA_URIS = STANZA_NAMESPACES | {NS_COMPONENT}


def handshakeDigest(streamID, secret):
    """
    What a component must send in C{<handshake/>} (XEP-0114 section 3):
    the lowercase hex SHA-1 of the stream id followed by the secret.
    """
    return hashlib.sha1((streamID + secret).encode("utf-8")).hexdigest()


def toClientNamespace(element):
    """
    Move a stanza received in the component namespace into
    C{jabber:client}, where stanzas live inside the server (see
    L{jabberd.xml}): the element and every descendant that inherited the
    stream's default namespace.
    """
    if element.uri == NS_COMPONENT:
        element.uri = NS_CLIENT
    if element.defaultUri == NS_COMPONENT:
        element.defaultUri = NS_CLIENT
    for child in element.elements():
        toClientNamespace(child)
    return element


class ComponentRoute:
    """
    The router's target for one configured component domain.

    @ivar domain: the component's domain.
    @ivar config: its L{jabberd.config.ComponentConfig} (the secret).
    @ivar stream: the authenticated L{ComponentStream}, or C{None} while
        the component is offline.
    """

    def __init__(self, server, config):
        self.server = server
        self.domain = config.domain
        self.config = config
        self.stream = None

    @property
    def connected(self):
        """
        Whether the component is connected and authenticated.
        """
        return self.stream is not None

    def receive(self, stanza):
        """
        A stanza for the component's domain: to its stream, or answered
        for it while it is offline.
        """
        if self.stream is not None:
            self.stream.deliver(stanza.element)
        else:
            self.bounce(stanza)

    def bounce(self, stanza):
        """
        Answer for an offline component with C{service-unavailable} (RFC
        6120 section 8.3.3.19).  Errors are never answered (section
        8.3.1), nor IQ responses; presence, which needs no answer, is
        dropped.
        """
        if stanza.type == "error" or stanza.sender is None:
            return
        if stanza.kind is Kind.PRESENCE:
            return
        if stanza.kind is Kind.IQ and not stanza.isRequest():
            return
        reply = stanza.errorReply(StanzaError("service-unavailable"))
        reply["from"] = stanza.recipient.full()
        self.server.router.route(Stanza(reply, stanza.recipient,
                                        stanza.sender))

    def attach(self, stream):
        """
        Make C{stream} the component's connection.

        @return: C{False} if another connection already holds the domain.
        """
        if self.stream is not None:
            return False
        self.stream = stream
        return True

    def detach(self, stream):
        """
        C{stream} has closed; the component is offline again.
        """
        if self.stream is stream:
            self.stream = None

    def close(self, condition=None, text=None):
        """
        Disconnect the component, if connected.
        """
        if self.stream is not None:
            self.stream.close(condition, text)


class ComponentStream(protocol.Protocol):
    """
    One connection from an external component.

    @ivar domain: the domain named by its stream header, once known.
    @ivar route: its L{ComponentRoute}, once the handshake succeeded.
    """

    domain = None
    route = None
    streamID = None
    _headerSent = False
    _closing = False
    _refused = False
    _timeout = None
    address = "unknown"

    def __init__(self, server):
        self.server = server
        self.reactor = server.reactor

    # -- connection lifecycle ------------------------------------------------

    def connectionMade(self):
        config = self.server.config
        self.address = getattr(self.transport.getPeer(), "host", "unknown")
        self.parser = XMLStreamParser(
            self._streamStarted, self._elementReceived, self._streamEnded,
            config.maxStanzaSize, config.maxDepth)
        self._timeout = self.reactor.callLater(config.authTimeout,
                                               self._timedOut)

    def dataReceived(self, data):
        if self._closing or self._refused:
            return
        try:
            self.parser.feed(data)
        except StreamError as error:
            self._fail(error)

    def connectionLost(self, reason):
        self._closing = True
        if self._timeout is not None and self._timeout.active():
            self._timeout.cancel()
        self._goOffline()

    def _goOffline(self):
        """
        Stop receiving the domain's stanzas: they bounce from now on,
        also while a closing stream waits for the connection to end.
        """
        if self.route is not None:
            self.route.detach(self)
            self.route = None
            log.info("component {domain} disconnected", domain=self.domain)

    def _timedOut(self):
        self._timeout = None
        if self.route is None:
            self._fail(StreamError("connection-timeout"))

    # -- output --------------------------------------------------------------

    def send(self, text):
        """
        Write raw XML text to the component.
        """
        self.transport.write(text.encode("utf-8"))

    def deliver(self, element):
        """
        Write a stanza to the component, in its stream's namespace.
        """
        if self._closing:
            return
        try:
            text = serialize(element, NS_COMPONENT)
        except ValueError as e:
            log.warn("not delivering a stanza to component {domain}: "
                     "{error}", domain=self.domain, error=str(e))
            return
        self.send(text)

    def close(self, condition=None, text=None):
        """
        End the stream, with a stream error if C{condition} is given.
        """
        if condition is None:
            self._closeStream()
        else:
            self._fail(StreamError(condition, text))

    def _fail(self, error):
        """
        Send a stream error and close (RFC 6120 section 4.9.1.1), after a
        stream header if none went out yet (section 4.9.1.2).
        """
        if self._closing:
            return
        log.info("stream error {condition} to component {domain} at "
                 "{address}: {text}", condition=error.condition,
                 domain=self.domain, address=self.address, text=error.text)
        if not self._headerSent:
            self._sendHeader()
        self.send(serialize(error.toElement(), NS_COMPONENT))
        self._closeStream()

    def _closeStream(self):
        if self._closing:
            return
        self._closing = True
        self._goOffline()
        self.send("</stream:stream>")
        self.transport.loseConnection()

    # -- the stream header and handshake (XEP-0114 section 3) ---------------

    def _sendHeader(self):
        self._headerSent = True
        self.streamID = secrets.token_hex(16)
        self.send(streamHeader([("from", self.domain),
                                ("id", self.streamID)], NS_COMPONENT))

    def _streamStarted(self, attributes, contentNamespace):
        self.domain = self._configuredDomain(attributes.get("to"))
        self._sendHeader()
        if contentNamespace != NS_COMPONENT:
            raise StreamError("invalid-namespace")

    def _configuredDomain(self, to):
        """
        The component domain the header's C{to} names.

        @raise StreamError: C{improper-addressing} without C{to},
            C{host-unknown} for a domain with no C{[components]} table.
        """
        if not to:
            raise StreamError("improper-addressing", "missing 'to'")
        try:
            domain = prepDomain(to)
        except InvalidJID:
            raise StreamError("host-unknown")
        if domain not in self.server.components:
            raise StreamError("host-unknown")
        return domain

    def _streamEnded(self):
        self._closeStream()

    def _elementReceived(self, element):
        if (element.uri, element.name) == (NS_COMPONENT, "handshake"):
            self._handshakeReceived(element)
        elif self.route is None:
            raise StreamError("not-authorized")
        elif element.uri in _STANZA_URIS and element.name in _STANZA_NAMES:
            self._stanzaReceived(element)
        else:
            raise StreamError("unsupported-stanza-type")

    def _handshakeReceived(self, element):
        """
        Check the handshake in constant time; on success the component's
        domain is routed to this stream, a wrong digest is
        C{<not-authorized/>} (after the delay the authentication throttle
        sets for the address) and a domain already connected is
        C{<conflict/>}.
        """
        route = self.server.components.get(self.domain)
        if self.route is not None or route is None:
            raise StreamError("not-authorized")
        expected = handshakeDigest(self.streamID, route.config.secret)
        given = str(element).strip().lower()
        if not hmac.compare_digest(expected.encode("ascii"),
                                   given.encode("utf-8")):
            self._refuse()
            return
        if not route.attach(self):
            raise StreamError("conflict", "the component is connected")
        self._accepted(route)

    def _refuse(self):
        self._refused = True
        throttle = self.server.throttle
        throttle.failed(self.address)
        log.warn("component {domain} at {address} sent a wrong handshake",
                 domain=self.domain, address=self.address)
        self.reactor.callLater(throttle.delayFor(self.address), self._fail,
                               StreamError("not-authorized"))

    def _accepted(self, route):
        self.route = route
        self.server.throttle.succeeded(self.address)
        if self._timeout is not None and self._timeout.active():
            self._timeout.cancel()
        self.send("<handshake/>")
        log.info("component {domain} connected from {address}",
                 domain=self.domain, address=self.address)

    # -- stanzas --------------------------------------------------------------

    def _stanzaReceived(self, element):
        """
        Check a stanza's addressing and hand it to the router.  A
        component must address every stanza and may only send from its
        own domain (XEP-0114 section 3).

        @raise StreamError: C{improper-addressing} without C{from} or
            C{to}; C{invalid-from} for a sender outside its domain.
        """
        toClientNamespace(element)
        sender = self._sender(element)
        to = element.getAttribute("to")
        if not to:
            raise StreamError("improper-addressing", "missing 'to'")
        try:
            recipient = parseJID(to)
            if element.name == "iq":
                checkIQ(element)
        except InvalidJID:
            self._reject(element, StanzaError("jid-malformed"))
            return
        except StanzaError as error:
            self._reject(element, error)
            return
        self.server.router.route(Stanza(element, sender, recipient))

    def _sender(self, element):
        claimed = element.getAttribute("from")
        if not claimed:
            raise StreamError("improper-addressing", "missing 'from'")
        try:
            sender = parseJID(claimed)
        except InvalidJID:
            raise StreamError("invalid-from")
        if sender.host != self.domain:
            raise StreamError("invalid-from",
                              "%s may only send from its own domain"
                              % (self.domain,))
        return sender

    def _reject(self, element, error):
        """
        Answer a malformed stanza with C{error} on this stream; errors
        are never answered (RFC 6120 section 8.3.1).
        """
        if element.getAttribute("type") == "error":
            return
        reply = domish.Element((None, element.name))
        reply["type"] = "error"
        reply["to"] = element["from"]
        reply["from"] = element["to"]
        if element.getAttribute("id") is not None:
            reply["id"] = element["id"]
        reply.addChild(error.toElement())
        self.deliver(reply)


class ComponentStreamFactory(protocol.Factory):
    """
    Makes a L{ComponentStream} for each connection to a component
    listener.
    """

    def __init__(self, server):
        self.server = server

    def buildProtocol(self, addr):
        stream = ComponentStream(self.server)
        stream.factory = self
        return stream
