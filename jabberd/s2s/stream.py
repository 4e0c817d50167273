"""
What incoming and outgoing server-to-server streams share: parsing with
the restricted parser, stream headers and errors, TLS peer verification,
and closing when idle.
"""

import secrets

from twisted.internet import protocol
from twisted.internet.interfaces import ISSLTransport
from twisted.words.xish import domish

from jabberd.errors import NS_STREAM, StreamError
from jabberd.logsetup import Logger
from jabberd.s2s.contexts import peerChain
from jabberd.s2s.dialback import PREFIX_DECLARATION
from jabberd.s2s.identity import NO_CERTIFICATE, verifyPeer
from jabberd.xml import NS_SERVER, serialize, streamHeader
from jabberd.xmlparser import XMLStreamParser

log = Logger()


def parseVersion(text):
    """
    C{"major.minor"} as a pair of ints (RFC 6120 section 4.7.5), or
    C{None}.
    """
    try:
        major, minor = text.split(".")
        return int(major), int(minor)
    except (AttributeError, ValueError):
        return None


def newStreamID():
    """
    A stream ID that cannot be guessed: dialback keys are bound to it
    (XEP-0185 section 2).
    """
    return secrets.token_hex(16)


class ServerStream(protocol.Protocol):
    """
    One server-to-server TCP connection, either direction.

    @ivar federation: the L{jabberd.s2s.federation.Federation}.
    @ivar encrypted: whether TLS protects the stream.
    @ivar streamID: the stream's ID (given by the receiving side).
    @ivar lastActive: when a stanza last went either way.
    @ivar closed: whether the stream is closing or closed.
    """

    encrypted = False
    streamID = None
    closed = False
    _headerSent = False
    _tlsRequested = False
    _idleCall = None
    _chain = None

    def __init__(self, federation):
        self.federation = federation
        self.reactor = federation.reactor
        self.lastActive = self.reactor.seconds()
        self.data = {}
        self._verifications = {}

    # -- connection lifecycle ----------------------------------------------

    def connectionMade(self):
        config = self.federation.server.config
        self.address = getattr(self.transport.getPeer(), "host", "unknown")
        self.encrypted = ISSLTransport.providedBy(self.transport)
        self.parser = XMLStreamParser(
            self._streamStarted, self._elementReceived, self._streamEnded,
            config.maxStanzaSize, config.maxDepth)
        self._scheduleIdleCheck()

    def dataReceived(self, data):
        if self.closed:
            return
        try:
            rest = self.parser.feed(data)
            if self._tlsRequested:
                self._tlsRequested = False
                self._switchToTLS(rest)
        except StreamError as error:
            self.fail(error)

    def connectionLost(self, reason):
        if not self.closed:
            log.info("s2s connection with {address} lost: {reason}",
                     address=self.address, reason=reason.getErrorMessage())
        self.closed = True
        if self._idleCall is not None and self._idleCall.active():
            self._idleCall.cancel()
        self._idleCall = None

    # -- idle timeout ------------------------------------------------------

    def touch(self):
        """
        Note traffic, which keeps the stream from being closed as idle.
        """
        self.lastActive = self.reactor.seconds()

    def _scheduleIdleCheck(self):
        timeout = self.federation.server.config.s2sIdleTimeout
        delay = max(0, self.lastActive + timeout - self.reactor.seconds())
        self._idleCall = self.reactor.callLater(delay, self._checkIdle)

    def _checkIdle(self):
        self._idleCall = None
        timeout = self.federation.server.config.s2sIdleTimeout
        if self.closed:
            return
        if self.reactor.seconds() - self.lastActive >= timeout:
            log.info("closing idle s2s stream with {address}",
                     address=self.address)
            self.closeStream()
        else:
            self._scheduleIdleCheck()

    # -- output ------------------------------------------------------------

    def send(self, text):
        """
        Write raw XML text.
        """
        if not self.closed:
            self.transport.write(text.encode("utf-8"))

    def sendElement(self, element):
        """
        Write an element in the stream's namespace, C{jabber:server}.
        """
        self.send(serialize(element, NS_SERVER))

    def sendHeader(self, attributes):
        """
        Write a stream header declaring C{jabber:server} and the dialback
        prefix (XEP-0220 section 2.1).
        """
        self._headerSent = True
        self.send(streamHeader(list(attributes) + [PREFIX_DECLARATION],
                               NS_SERVER))

    def fail(self, error):
        """
        Send a stream error and close (RFC 6120 section 4.9.1.1), with a
        header first if none went out yet (section 4.9.1.2).
        """
        if self.closed:
            return
        log.info("s2s stream error {condition} with {address}: {text}",
                 condition=error.condition, address=self.address,
                 text=error.text)
        if not self._headerSent:
            self.sendHeader(self.errorHeader())
        self.sendElement(error.toElement())
        self.closeStream()

    def errorHeader(self):
        """
        The attributes of a header sent only to carry a stream error.
        """
        return [("version", "1.0")]

    def closeStream(self):
        """
        End the stream (RFC 6120 section 4.4) and the connection.
        """
        if self.closed:
            return
        self.send("</stream:stream>")
        self.closed = True
        self.transport.loseConnection()

    def _streamEnded(self):
        self.closeStream()

    # -- input -------------------------------------------------------------

    def _elementReceived(self, element):
        handler = self.dispatch.get((element.uri, element.name))
        if handler is None:
            if (element.uri, element.name) == (NS_STREAM, "error"):
                self.streamErrorReceived(element)
                return
            raise StreamError("unsupported-stanza-type")
        handler(self, element)

    def streamErrorReceived(self, element):
        """
        The peer sent a stream error: it closes the stream; so do we.
        """
        condition = next((child.name for child in element.elements()
                          if child.name != "text"), "undefined-condition")
        log.info("s2s peer {address} sent stream error {condition}",
                 address=self.address, condition=condition)
        self.closeStream()

    #: (namespace, name) to handler, filled in by the subclasses.
    dispatch = {}

    # -- TLS ---------------------------------------------------------------

    def requestTLS(self):
        """
        Stop parsing after the current element, so that nothing sent in
        the clear after it is taken as sent under TLS (RFC 6120 section
        5.4.3.3); L{startTLS} runs once the current input is parsed.
        """
        self._tlsRequested = True
        self.parser.halt()

    def _switchToTLS(self, rest):
        if rest:
            raise StreamError("policy-violation", "data after the TLS switch")
        self.startTLS()

    def startTLS(self):
        """
        Switch the transport to TLS; subclasses say how.
        """
        raise NotImplementedError()

    def peerVerification(self, domain):
        """
        Whether the peer's certificate (if any) authenticates C{domain}.

        @rtype: L{jabberd.s2s.identity.Verification}
        """
        if not self.encrypted:
            return NO_CERTIFICATE
        if domain not in self._verifications:
            if self._chain is None:
                self._chain = peerChain(self.transport)
            result = verifyPeer(self.federation.trust, self._chain, domain)
            log.debug("s2s peer certificate for {domain}: {result}",
                      domain=domain, result=result)
            self._verifications[domain] = result
        return self._verifications[domain]

    def featuresElement(self):
        """
        An empty C{<stream:features/>}.
        """
        return domish.Element((NS_STREAM, "features"))
