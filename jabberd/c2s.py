"""
Client-to-server streams (RFC 6120), server side.

L{ClientStream} is one TCP connection from a client.  It negotiates the
stream (sections 4 and 5: header, features, STARTTLS), authenticates it
(section 6, through L{jabberd.sasl.SASLServer}), binds a resource (section
7), and from then on stamps each stanza with the bound JID and hands it to
its host's outbound phase.  It also is the session (L{ISession}) that the
host delivers to.
"""

import base64
import secrets

from twisted.internet import protocol
from twisted.internet.interfaces import ISSLTransport
from twisted.words.xish import domish
from zope.interface import implementer

from jabberd.bus import (
    SESSION_BOUND, SESSION_CLOSED, STANZA_KEYS, Address, Kind, Phase)
from jabberd.errors import StanzaError, StreamError
from jabberd.jid import InvalidJID, makeJID, parseJID, prepDomain
from jabberd.logsetup import Logger
from jabberd.ratelimit import ReadLimiter
from jabberd.sasl import Challenge, SASLFailure, SASLServer, Success
from jabberd.sessions import ISession
from jabberd.stanza import Stanza, checkIQ
from jabberd.streamfeatures import (
    NS_BIND, NS_SASL, NS_SESSION, NS_TLS, StreamChannelBinding,
    clientFeaturesText)
from jabberd.xml import (
    NS_CLIENT, NS_XML, escapeAttribute, escapeText, serialize, streamHeader)
from jabberd.xmlparser import XMLStreamParser

log = Logger()

MAX_AUTH_FAILURES = 5


def _parseVersion(text):
    """
    C{"major.minor"} as a pair of ints (RFC 6120 section 4.7.5), or C{None}.
    """
    try:
        major, minor = text.split(".")
        return int(major), int(minor)
    except (AttributeError, ValueError):
        return None


@implementer(ISession)
class ClientStream(protocol.Protocol):
    """
    One client connection.

    @ivar host: the L{VirtualHost} named by the stream's C{to}, once known.
    @ivar user: the authenticated localpart, once SASL succeeded.
    @ivar jid: the bound full JID, once bound.
    @ivar encrypted: whether TLS protects the stream.
    """

    host = None
    user = None
    jid = None
    encrypted = False
    _headerSent = False
    _closing = False
    _tlsRequested = False
    _sasl = None
    _authFailures = 0
    _timeout = None
    _limiter = None
    _counted = False
    _held = None
    _backlog = b""

    def __init__(self, server):
        self.server = server
        self.reactor = server.reactor
        self.data = {}
        self.lang = "en"
        self.streamID = None
        self.lastReceived = self.reactor.seconds()

    # -- connection lifecycle ------------------------------------------------

    def connectionMade(self):
        config = self.server.config
        self.address = getattr(self.transport.getPeer(), "host", "unknown")
        if hasattr(self.transport, "setTcpNoDelay"):
            self.transport.setTcpNoDelay(True)
        self.encrypted = ISSLTransport.providedBy(self.transport)
        self.parser = self._makeParser(config)
        self._limiter = ReadLimiter(self.reactor, self.transport,
                                    config.c2sReadRate, config.maxStanzaSize,
                                    self._resumeReading)
        self._timeout = self.reactor.callLater(config.authTimeout,
                                               self._timedOut)
        if not self.server.connectionOpened(self.address):
            log.warn("too many connections from {address}",
                     address=self.address)
            self._fail(StreamError("policy-violation",
                                   "too many connections from your address"))
            return
        self._counted = True

    def _makeParser(self, config):
        return XMLStreamParser(self._streamStarted, self._elementReceived,
                               self._streamEnded, config.maxStanzaSize,
                               config.maxDepth)

    def dataReceived(self, data):
        if self._closing:
            return
        self.lastReceived = self.reactor.seconds()
        if self._backlog:
            self._limiter.consumed(len(data))
            self._backlog += data
            return
        allowed = self._limiter.admit(len(data))
        if allowed < len(data):
            self._backlog = data[allowed:]
            data = data[:allowed]
        self._parse(data)

    def _resumeReading(self):
        """
        The read rate allows more: process what was held back.
        """
        backlog, self._backlog = self._backlog, b""
        if backlog and not self._closing:
            self._parse(backlog)

    def _parse(self, data):
        try:
            rest = self.parser.feed(data)
            if self._tlsRequested:
                self._startTLS(rest)
        except StreamError as error:
            self._fail(error)

    def connectionLost(self, reason):
        self._closing = True
        if self._timeout is not None and self._timeout.active():
            self._timeout.cancel()
        if self._limiter is not None:
            self._limiter.stop()
        if self._counted:
            self.server.connectionClosed(self.address)
        if self.jid is not None and self._held is None:
            endSession(self.host, self, reason)
            log.info("session {jid} closed", jid=self.jid.full())

    def _timedOut(self):
        self._timeout = None
        if self.jid is None:
            self._fail(StreamError("connection-timeout"))

    # -- output --------------------------------------------------------------

    def send(self, text):
        """
        Write raw XML text to the client.
        """
        self.transport.write(text.encode("utf-8"))

    def deliver(self, element):
        """
        Write a stanza to the client (L{ISession.deliver}).
        """
        if self._closing:
            return
        try:
            text = serialize(element, NS_CLIENT)
        except ValueError as e:
            log.warn("not delivering a stanza to {jid}: {error}",
                     jid=self.jid, error=str(e))
            return
        self.transport.write(text.encode("utf-8"))

    def close(self, condition=None, text=None):
        """
        End the stream (L{ISession.close}), with a stream error if
        C{condition} is given.
        """
        if condition is None:
            self._closeStream()
        else:
            self._fail(StreamError(condition, text))

    def _fail(self, error):
        """
        Send a stream error and close (RFC 6120 section 4.9.1.1).  If no
        header went out yet, one is sent first (section 4.9.1.2).
        """
        if self._closing:
            return
        log.info("stream error {condition} to {address}: {text}",
                 condition=error.condition, address=self.address,
                 text=error.text)
        if not self._headerSent:
            self._sendHeader(None)
        self.send(serialize(error.toElement(), NS_CLIENT))
        self._closeStream()

    def _closeStream(self):
        if self._closing:
            return
        self._closing = True
        self.send("</stream:stream>")
        self.transport.loseConnection()

    # -- stream negotiation (RFC 6120 section 4) ---------------------------------

    def _sendHeader(self, to):
        self._headerSent = True
        self.streamID = secrets.token_urlsafe(16)
        self.send(streamHeader([
            ("from", self.host.domain if self.host else None),
            ("to", to), ("id", self.streamID), ("version", "1.0"),
            ("xml:lang", "en")]))

    def _streamStarted(self, attributes, contentNamespace):
        self._headerSent = False
        to = attributes.get("to")
        self._checkHost(to)
        if contentNamespace != NS_CLIENT:
            raise StreamError("invalid-namespace")
        self.lang = attributes.get((NS_XML, "lang"), self.lang)
        version = _parseVersion(attributes.get("version"))
        self._sendHeader(attributes.get("from"))
        if version is None or version[0] != 1:
            raise StreamError("unsupported-version")
        self._sendFeatures()

    def _checkHost(self, to):
        """
        Find the host named by the header's C{to} (RFC 6120 section
        4.7.2); after a restart it must name the same host.
        """
        if not to:
            raise StreamError("improper-addressing", "missing 'to'")
        try:
            domain = prepDomain(to)
        except InvalidJID:
            raise StreamError("improper-addressing", "'to' is not a domain")
        host = self.server.hosts.get(domain)
        if host is None or (self.host is not None and host is not self.host):
            raise StreamError("host-unknown")
        self.host = host

    def _sendFeatures(self):
        requireTLS = self.host.config.c2sRequireEncryption
        if self.user is None and (self.encrypted or not requireTLS):
            self._sasl = self._makeSASL()
        self.send(clientFeaturesText(self, self._sasl, requireTLS))

    def _streamEnded(self):
        self._closeStream()

    # -- top-level elements ------------------------------------------------------

    def _elementReceived(self, element):
        if self._held is not None:
            self._held.append(element)
            return
        handler = self._dispatch.get((element.uri, element.name))
        if handler is None:
            raise StreamError("unsupported-stanza-type")
        handler(self, element)

    def _starttlsReceived(self, element):
        if self.encrypted or self.user is not None:
            raise StreamError("policy-violation", "TLS is already negotiated"
                              if self.encrypted else "too late for TLS")
        self._tlsRequested = True
        self.parser.halt()

    def _startTLS(self, rest):
        """
        Proceed with TLS (RFC 6120 section 5.4.3.3) unless the client sent
        more after C{<starttls/>}: bytes sent in the clear after it could
        be injected by an attacker and would be taken as sent under TLS.
        """
        self._tlsRequested = False
        if rest:
            raise StreamError("policy-violation", "data after <starttls/>")
        self.send("<proceed xmlns='%s'/>" % (NS_TLS,))
        self.transport.startTLS(self.server.tls.serverContextFactory(
            self.host.domain))
        self.encrypted = True
        self.parser.reset()

    # -- SASL (RFC 6120 section 6) ---------------------------------------------------

    def _makeSASL(self):
        config = self.host.config
        return SASLServer(config.saslMechanisms, self.host.accounts,
                          StreamChannelBinding(self), self.encrypted,
                          self.host.domain)

    def _authReceived(self, element):
        if self.user is not None:
            raise StreamError("policy-violation", "already authenticated")
        if self._sasl is None:
            self._saslFailed(SASLFailure("encryption-required"))
            return
        data = _decodeSASL(str(element), allowAbsent=True)
        if data is False:
            self._saslFailed(SASLFailure("incorrect-encoding"))
            return
        mechanism = element.getAttribute("mechanism", "")
        d = self._sasl.start(mechanism, data)
        d.addCallbacks(self._saslStep, self._saslError)

    def _responseReceived(self, element):
        if self._sasl is None or self.user is not None:
            raise StreamError("policy-violation", "no SASL exchange")
        data = _decodeSASL(str(element), allowAbsent=False)
        if data is False:
            self._saslFailed(SASLFailure("incorrect-encoding"))
            return
        self._sasl.respond(data).addCallbacks(self._saslStep, self._saslError)

    def _abortReceived(self, element):
        if self._sasl is not None:
            self._sasl.abort()
        self._saslFailed(SASLFailure("aborted"))

    def _saslStep(self, step):
        if self._closing:
            return
        if isinstance(step, Challenge):
            self._sendSASL("challenge", step.data)
        elif isinstance(step, Success):
            self._authenticated(step)

    def _authenticated(self, success):
        self.server.throttle.succeeded(self.address)
        self._sendSASL("success", success.additionalData)
        self.user = success.username
        self._sasl = None
        self.parser.reset()
        log.info("{user}@{domain} authenticated from {address}",
                 user=self.user, domain=self.host.domain,
                 address=self.address)

    def _sendSASL(self, name, data):
        if data is None:
            self.send("<%s xmlns='%s'/>" % (name, NS_SASL))
            return
        text = base64.b64encode(data).decode("ascii") or "="
        self.send("<%s xmlns='%s'>%s</%s>" % (name, NS_SASL, text, name))

    def _saslError(self, reason):
        if reason.check(SASLFailure):
            self._saslFailed(reason.value)
        else:
            log.failure("SASL failed", reason)
            self._saslFailed(SASLFailure("temporary-auth-failure"))

    def _saslFailed(self, failure):
        """
        Answer C{<failure/>}, after a delay that grows with the address's
        recent failures (RFC 6120 section 6.4.5 lets the server limit
        retries; slowing guessing down is cheaper than locking out).
        """
        if self._closing:
            return
        if failure.condition == "not-authorized":
            self.server.throttle.failed(self.address)
        self._authFailures += 1
        delay = self.server.throttle.delayFor(self.address)
        self.reactor.callLater(delay, self._sendFailure, failure)

    def _sendFailure(self, failure):
        if self._closing:
            return
        element = domish.Element((NS_SASL, "failure"))
        element.addElement(failure.condition)
        if failure.text:
            element.addElement("text", content=failure.text)
        self.send(serialize(element, NS_CLIENT))
        if self._authFailures >= MAX_AUTH_FAILURES:
            self._fail(StreamError("policy-violation",
                                   "too many failed authentication attempts"))

    # -- stanzas ---------------------------------------------------------------------

    def _stanzaReceived(self, element):
        if self.jid is None:
            self._unboundStanza(element)
            return
        acceptStanza(self.host, self, element)

    def _rejectStanza(self, element, error):
        rejectStanza(self, element, error)

    def _unboundStanza(self, element):
        """
        Before binding only resource binding, the legacy session IQ and
        (before authentication) pre-authentication IQs such as XEP-0077
        registration are allowed; anything else is C{<not-authorized/>}
        (RFC 6120 sections 6.4.1 and 7.1).
        """
        if element.name != "iq":
            raise StreamError("not-authorized")
        try:
            checkIQ(element)
        except StanzaError as error:
            self._rejectStanza(element, error)
            return
        payload = next(element.elements(), None)
        if self.user is None:
            self._preauthIQ(element)
        elif payload is not None and payload.uri == NS_BIND:
            self._bind(element, payload)
        elif payload is not None and payload.uri == NS_SESSION:
            self._resultFor(element)
        else:
            raise StreamError("not-authorized")

    def _preauthIQ(self, element):
        if not self.encrypted and self.host.config.c2sRequireEncryption:
            raise StreamError("not-authorized")
        stanza = Stanza(element, None, self.host.jid, self)
        stanza.address = Address.PREAUTH
        self.host.bus.fire(
            STANZA_KEYS[(Kind.IQ, Address.PREAUTH, Phase.INBOUND)], stanza)

    def _resultFor(self, element, payload=""):
        """
        Answer an IQ of this unbound stream with a result carrying
        C{payload}, serialised XML.
        """
        head = "<iq type='result' id='%s'" % (escapeAttribute(element["id"]),)
        self.send(head + (">" + payload + "</iq>" if payload else "/>"))

    # -- resource binding (RFC 6120 section 7) -----------------------------------------

    def _bind(self, element, payload):
        if element.getAttribute("type") != "set":
            self._rejectStanza(element, StanzaError("bad-request"))
            return
        requested = str(payload.resource or "").strip()
        resource = requested or secrets.token_hex(8)
        try:
            jid = makeJID(self.user, self.host.domain, resource)
        except InvalidJID:
            self._rejectStanza(element, StanzaError("bad-request",
                                                    text="invalid resource"))
            return
        self.jid = jid
        self._held = []
        d = self.host.prepareSession(self)
        d.addCallback(lambda _: self._bound(element))
        d.addErrback(self._bindFailed, element)

    def _bound(self, element):
        """
        Plugins are ready: register the session (the newer session wins
        a resource conflict, RFC 6120 section 7.7.2.2), answer the bind
        and process what the client sent meanwhile.
        """
        if self._closing:
            return
        jid = self.jid
        bindSession(self.host, self)
        if self._timeout is not None and self._timeout.active():
            self._timeout.cancel()
        self._resultFor(element, "<bind xmlns='%s'><jid>%s</jid></bind>" % (
            NS_BIND, escapeText(jid.full())))
        log.info("session {jid} bound", jid=jid.full())
        self.host.bus.notify(SESSION_BOUND, self)
        held, self._held = self._held, None
        for element in held:
            self._processHeld(element)

    def _processHeld(self, element):
        try:
            self._elementReceived(element)
        except StreamError as error:
            self._fail(error)

    def _bindFailed(self, reason, element):
        log.failure("preparing session {jid}", reason, jid=self.jid)
        self.jid = None
        self._held = None
        self._rejectStanza(element, StanzaError("internal-server-error"))

    _dispatch = {
        (NS_TLS, "starttls"): _starttlsReceived,
        (NS_SASL, "auth"): _authReceived,
        (NS_SASL, "response"): _responseReceived,
        (NS_SASL, "abort"): _abortReceived,
        (NS_CLIENT, "message"): _stanzaReceived,
        (NS_CLIENT, "presence"): _stanzaReceived,
        (NS_CLIENT, "iq"): _stanzaReceived,
    }


def acceptStanza(host, session, element):
    """
    What the client edge does with a stanza from a bound session: check
    that a C{from} it claims is its own full or bare JID (RFC 6120 section
    8.1.2.1), stamp the full JID, work out the recipient and start the
    outbound phase on C{host}.  L{jabberd.testing} sends through this too.

    @raise StreamError: C{invalid-from}.
    """
    sender = session.jid
    claimed = element.getAttribute("from")
    if claimed is not None and claimed != sender.full():
        if claimed != sender.userhost():
            raise StreamError("invalid-from")
    element["from"] = sender.full()
    if _isSessionRequest(element):
        _emptyResult(session, element)
        return
    stanza = clientStanza(session, element, sender)
    if stanza is not None:
        host.processOutbound(stanza)


def _emptyResult(session, element):
    reply = domish.Element((None, "iq"))
    reply["type"] = "result"
    reply["id"] = element.getAttribute("id", "")
    session.deliver(reply)


def clientStanza(session, element, sender):
    """
    The L{Stanza} for a client's element, or C{None} after answering a
    malformed one with its stanza error.  No C{to} means the sender's own
    account (RFC 6120 section 10.3), except for a presence broadcast.
    """
    try:
        if element.name == "iq":
            checkIQ(element)
        to = element.getAttribute("to")
        if to:
            recipient = parseJID(to)
        elif element.name == "presence":
            recipient = None
        else:
            recipient = sender.userhostJID()
    except InvalidJID:
        rejectStanza(session, element, StanzaError("jid-malformed"))
        return None
    except StanzaError as error:
        rejectStanza(session, element, error)
        return None
    return Stanza(element, sender, recipient, session)


def rejectStanza(session, element, error):
    """
    Answer a client's malformed stanza with C{error} on its own session;
    errors are never answered (RFC 6120 section 8.3.1).
    """
    if element.getAttribute("type") == "error":
        return
    reply = domish.Element((None, element.name))
    reply["type"] = "error"
    if element.getAttribute("id") is not None:
        reply["id"] = element["id"]
    reply.addChild(error.toElement())
    session.deliver(reply)


def bindSession(host, session):
    """
    Register a prepared session on C{host}; the newer session wins a
    resource conflict (RFC 6120 section 7.7.2.2).  The caller notifies
    L{SESSION_BOUND} once the client has its bind result.
    """
    previous = host.sessions.bind(session)
    if previous is not None:
        previous.close("conflict", "replaced by a new session")


def endSession(host, session, reason):
    """
    A bound session has ended: forget it and tell the plugins.
    """
    host.sessions.unbind(session)
    host.bus.notify(SESSION_CLOSED, session, reason)


def _isSessionRequest(element):
    """
    The legacy session establishment IQ of RFC 3921 section 3, which
    clients still send after binding; it is answered with an empty result.
    """
    if element.name != "iq" or element.getAttribute("type") != "set":
        return False
    if element.getAttribute("to") not in (None, ""):
        return False
    children = list(element.elements())
    return len(children) == 1 and children[0].uri == NS_SESSION


def _decodeSASL(text, allowAbsent):
    """
    Decode SASL data (RFC 6120 section 6.4.2): C{"="} is empty data; no
    text at all is "no initial response" (C{None}) where allowed.

    @return: bytes, C{None}, or C{False} for bad base64.
    """
    text = text.strip()
    if text == "=":
        return b""
    if not text:
        return None if allowAbsent else b""
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        return False


class ClientStreamFactory(protocol.Factory):
    """
    Makes a L{ClientStream} for each connection to a c2s listener.
    """

    def __init__(self, server):
        self.server = server

    def buildProtocol(self, addr):
        stream = ClientStream(self.server)
        stream.factory = self
        return stream
