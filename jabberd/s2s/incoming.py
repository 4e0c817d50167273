"""
Streams that peers open to us (RFC 6120, receiving entity).

A peer opens a stream to one of our domains, upgrades it with STARTTLS
(or connects with TLS at once, XEP-0368) and authenticates one or more
domain pairs: with SASL EXTERNAL when its certificate verifies for the
domain in its header (XEP-0178), or with dialback, one C{<db:result/>} per
pair (XEP-0220; several pairs on one stream is multiplexing, section 3).
From then on it sends stanzas, each of which must come from a domain
authenticated on this stream and go to one of our domains.  It may also
ask us to verify a dialback key we issued (C{<db:verify/>}).
"""

import base64

from twisted.internet import protocol
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.words.xish import domish

from jabberd.errors import StanzaError, StreamError
from jabberd.jid import InvalidJID, parseJID, prepDomain
from jabberd.logsetup import Logger
from jabberd.s2s.dialback import (
    NS_DIALBACK, dialbackFeature, dialbackXML, parseDialback)
from jabberd.s2s.keys import keyMatches
from jabberd.s2s.stream import ServerStream, newStreamID, parseVersion
from jabberd.stanza import Stanza, checkIQ
from jabberd.streamfeatures import NS_SASL, NS_TLS, tlsFeatures
from jabberd.xml import NS_SERVER

log = Logger()


class IncomingStream(ServerStream):
    """
    One stream a peer opened to us.

    @ivar localDomain: our domain named in the header's C{to}.
    @ivar remoteDomain: the peer's domain from the header's C{from}, if it
        gave one.
    @ivar authenticated: the C{(remoteDomain, localDomain)} pairs the peer
        proved, by SASL or dialback.
    """

    localDomain = None
    remoteDomain = None
    _saslOffered = False
    _saslDone = False
    _timeout = None

    def __init__(self, federation):
        ServerStream.__init__(self, federation)
        self.authenticated = set()

    # -- lifecycle ---------------------------------------------------------

    def connectionMade(self):
        ServerStream.connectionMade(self)
        timeout = self.federation.server.config.s2sConnectTimeout
        self._timeout = self.reactor.callLater(timeout, self._timedOut)
        self.federation.incomingOpened(self)

    def connectionLost(self, reason):
        ServerStream.connectionLost(self, reason)
        self._cancelTimeout()
        self.federation.incomingClosed(self)

    def _cancelTimeout(self):
        if self._timeout is not None and self._timeout.active():
            self._timeout.cancel()
        self._timeout = None

    def _timedOut(self):
        self._timeout = None
        if not self.authenticated:
            self.fail(StreamError("connection-timeout"))

    def errorHeader(self):
        return [("from", self.localDomain), ("id", newStreamID()),
                ("version", "1.0")]

    # -- stream header and features (RFC 6120 section 4.7) -----------------

    def _streamStarted(self, attributes, contentNamespace):
        self._headerSent = False
        self.localDomain = self._localDomain(attributes.get("to"))
        self.remoteDomain = self._remoteDomain(attributes.get("from"))
        version = parseVersion(attributes.get("version"))
        self.streamID = newStreamID()
        self.sendHeader([
            ("from", self.localDomain), ("to", self.remoteDomain),
            ("id", self.streamID),
            ("version", "1.0" if version is not None else None)])
        if contentNamespace != NS_SERVER:
            raise StreamError("invalid-namespace")
        if version is not None and version[0] != 1:
            raise StreamError("unsupported-version")
        if self.remoteDomain and self.federation.policy.blocked(
                self.remoteDomain):
            raise StreamError("policy-violation", "not federating with you")
        if version is not None:
            self._sendFeatures()

    def _localDomain(self, to):
        """
        Our domain the header names; it must be hosted and federating, and
        after a restart it must not change (RFC 6120 section 4.7.2).
        """
        try:
            domain = prepDomain(to or "")
        except InvalidJID:
            raise StreamError("host-unknown")
        if not self.federation.policy.enabled(domain):
            raise StreamError("host-unknown")
        if self.localDomain is not None and domain != self.localDomain:
            raise StreamError("host-unknown", "'to' changed")
        return domain

    def _remoteDomain(self, sender):
        if not sender:
            return self.remoteDomain
        try:
            domain = prepDomain(sender)
        except InvalidJID:
            raise StreamError("invalid-from")
        if self.remoteDomain is not None and domain != self.remoteDomain:
            raise StreamError("invalid-from", "'from' changed")
        return domain

    def _mustEncrypt(self):
        return (not self.encrypted and
                self.federation.policy.requireEncryption(self.localDomain))

    def _sendFeatures(self):
        features = self.featuresElement()
        if not self.encrypted:
            features.addChild(tlsFeatures(self._mustEncrypt()))
        if not self._mustEncrypt():
            if self._canOfferExternal():
                self._saslOffered = True
                mechanisms = features.addElement((NS_SASL, "mechanisms"))
                mechanisms.addElement("mechanism", content="EXTERNAL")
            features.addChild(dialbackFeature())
        self.sendElement(features)

    def _canOfferExternal(self):
        """
        XEP-0178 section 2: SASL EXTERNAL only on an encrypted stream,
        before SASL, for a peer whose certificate verifies for the domain
        in its header.
        """
        if not self.encrypted or self._saslDone or not self.remoteDomain:
            return False
        return self.peerVerification(self.remoteDomain).valid

    # -- STARTTLS (RFC 6120 section 5.4) -----------------------------------

    def _starttlsReceived(self, element):
        if self.encrypted or self.localDomain is None:
            raise StreamError("policy-violation", "TLS not available now")
        self.requestTLS()

    def startTLS(self):
        self.send("<proceed xmlns='%s'/>" % (NS_TLS,))
        creator = self.federation.contexts.serverCreator(self.localDomain)
        self.transport.startTLS(creator)
        self.encrypted = True
        self.parser.reset()

    # -- SASL EXTERNAL (XEP-0178 section 2) --------------------------------

    def _authReceived(self, element):
        if not self._saslOffered or self._saslDone:
            self._saslFailure("not-authorized")
            return
        if element.getAttribute("mechanism") != "EXTERNAL":
            self._saslFailure("invalid-mechanism")
            return
        identity = self._authorizationIdentity(str(element).strip())
        if identity is None:
            self._saslFailure("invalid-authzid")
        elif not self._mayAuthenticate(identity, self.localDomain):
            self._saslFailure("not-authorized")
        else:
            self._saslSucceeded(identity)

    def _authorizationIdentity(self, text):
        """
        The domain the peer authenticates as: its authorization identity
        if it gave one, which must be the header's C{from} (XEP-0178
        section 2 step 6), else that C{from}.
        """
        if text in ("", "="):
            return self.remoteDomain
        try:
            authzid = base64.b64decode(text, validate=True).decode("utf-8")
            domain = prepDomain(authzid)
        except (ValueError, InvalidJID):
            return None
        return domain if domain == self.remoteDomain else None

    def _mayAuthenticate(self, remote, local):
        policy = self.federation.policy
        return (not policy.blocked(remote) and
                self.peerVerification(remote).valid)

    def _saslFailure(self, condition):
        failure = domish.Element((NS_SASL, "failure"))
        failure.addElement(condition)
        self.sendElement(failure)

    def _saslSucceeded(self, remote):
        self.sendElement(domish.Element((NS_SASL, "success")))
        self._saslDone = True
        self._pairAuthenticated(remote, self.localDomain, "SASL EXTERNAL")
        self.parser.reset()

    def _pairAuthenticated(self, remote, local, how):
        self.authenticated.add((remote, local))
        self._cancelTimeout()
        log.info("s2s: {remote} authenticated to {local} ({how}) from "
                 "{address}", remote=remote, local=local, how=how,
                 address=self.address)

    # -- dialback (XEP-0220 section 2.1 and 2.2) ---------------------------

    def _dbResultReceived(self, element):
        if self._mustEncrypt():
            raise StreamError("policy-violation", "TLS is required")
        request = parseDialback(element)
        if request.type is not None:
            raise StreamError("unsupported-stanza-type")
        try:
            remote = prepDomain(request.sender or "")
            local = prepDomain(request.recipient or "")
        except InvalidJID:
            raise StreamError("improper-addressing")
        refusal = self._dialbackRefusal(remote, local)
        if refusal is not None:
            self._answerResult(local, remote, "error", refusal)
        elif self.peerVerification(remote).valid:
            # The certificate already proves the domain (XEP-0344 section
            # 4): no need to ask the authoritative server.
            self._dialbackVerified(True, remote, local)
        else:
            self._verifyWithAuthority(remote, local, request.key)

    def _dialbackRefusal(self, remote, local):
        """
        The stanza error condition for a dialback request we refuse
        without asking the authoritative server, or C{None}.
        """
        policy = self.federation.policy
        if not policy.enabled(local):
            return "item-not-found"
        if policy.blocked(remote):
            return "not-allowed"
        if (policy.secureAuth(local, remote) and
                not self.peerVerification(remote).valid):
            log.info("s2s: refusing dialback from {remote} to {local}: "
                     "certificate not valid ({reason})", remote=remote,
                     local=local,
                     reason=self.peerVerification(remote).reason)
            return "not-authorized"
        return None

    def _verifyWithAuthority(self, remote, local, key):
        d = self.federation.verifyDialback(local, remote, self.streamID, key)
        d.addCallbacks(self._dialbackVerified, self._dialbackUnverifiable,
                       (remote, local), None, (remote, local), None)

    def _dialbackVerified(self, valid, remote, local):
        if self.closed:
            return
        if valid:
            self._pairAuthenticated(remote, local, "dialback")
        self._answerResult(local, remote, "valid" if valid else "invalid")

    def _dialbackUnverifiable(self, reason, remote, local):
        log.info("s2s: could not verify dialback from {remote}: {error}",
                 remote=remote, error=reason.getErrorMessage())
        if not self.closed:
            self._answerResult(local, remote, "error",
                               "remote-server-not-found")

    def _answerResult(self, local, remote, type, condition=None):
        self.send(dialbackXML("result", local, remote, type,
                              condition=condition))

    def _dbVerifyReceived(self, element):
        """
        We are the authoritative server: say whether the key is one we
        issued to the receiving server for that stream (XEP-0220 section
        2.1.3).
        """
        if self._mustEncrypt():
            raise StreamError("policy-violation", "TLS is required")
        request = parseDialback(element)
        if request.type is not None or not request.id:
            raise StreamError("unsupported-stanza-type")
        local, receiving = request.recipient or "", request.sender or ""
        valid = self._isOurKey(local, receiving, request.id, request.key)
        self.send(dialbackXML("verify", local, receiving,
                              "valid" if valid else "invalid", request.id))

    def _isOurKey(self, local, receiving, streamID, key):
        try:
            prepared = prepDomain(local)
        except InvalidJID:
            return False
        return self.federation.policy.enabled(prepared) and keyMatches(
            self.federation.secret, receiving, local, streamID, key)

    # -- stanzas -----------------------------------------------------------

    def _stanzaReceived(self, element):
        if not self.authenticated:
            raise StreamError("not-authorized")
        sender, recipient = self._addressing(element)
        self.touch()
        if element.name == "iq":
            try:
                checkIQ(element)
            except StanzaError as error:
                self._reject(element, sender, recipient, error)
                return
        stanza = Stanza(element, sender, recipient, self)
        self.federation.server.router.route(stanza)

    def _addressing(self, element):
        """
        The sender and recipient JIDs of a stanza: the recipient on a
        domain we host, the sender on a domain this stream authenticated
        for it (RFC 6120 sections 4.9.3.6, 4.9.3.9 and 8.1.1.2).

        @raise StreamError: C{improper-addressing}, C{host-unknown} or
            C{invalid-from}.
        """
        to, sender = element.getAttribute("to"), element.getAttribute("from")
        if not to or not sender:
            raise StreamError("improper-addressing")
        try:
            recipient = parseJID(to)
        except InvalidJID:
            raise StreamError("improper-addressing", "malformed 'to'")
        if recipient.host not in self.federation.server.hosts:
            raise StreamError("host-unknown")
        try:
            origin = parseJID(sender)
        except InvalidJID:
            raise StreamError("invalid-from")
        if (origin.host, recipient.host) not in self.authenticated:
            raise StreamError("invalid-from")
        return origin, recipient

    def _reject(self, element, sender, recipient, error):
        if element.getAttribute("type") == "error":
            return
        stanza = Stanza(element, sender, recipient, self)
        reply = stanza.errorReply(error)
        reply["from"] = recipient.full()
        self.federation.server.router.route(
            Stanza(reply, recipient, sender))

    def deliver(self, element):
        """
        A reply a plugin addressed to this stream as the stanza's origin:
        route it like any other stanza from the server.
        """
        to = element.getAttribute("to")
        if to and element.getAttribute("from"):
            self.federation.server.router.route(Stanza(
                element, parseJID(element["from"]), parseJID(to)))

    def close(self, condition=None, text=None):
        """
        End the stream, with a stream error if C{condition} is given.
        """
        if condition is None:
            self.closeStream()
        else:
            self.fail(StreamError(condition, text))

    dispatch = {
        (NS_TLS, "starttls"): _starttlsReceived,
        (NS_SASL, "auth"): _authReceived,
        (NS_DIALBACK, "result"): _dbResultReceived,
        (NS_DIALBACK, "verify"): _dbVerifyReceived,
        (NS_SERVER, "message"): _stanzaReceived,
        (NS_SERVER, "presence"): _stanzaReceived,
        (NS_SERVER, "iq"): _stanzaReceived,
    }


class IncomingStreamFactory(protocol.Factory):
    """
    Makes an L{IncomingStream} for each connection to an s2s listener.
    """

    noisy = False

    def __init__(self, federation):
        self.federation = federation

    def buildProtocol(self, addr):
        stream = IncomingStream(self.federation)
        stream.factory = self
        return stream


def directTLSFactory(federation):
    """
    The factory for a direct TLS listener (XEP-0368): TLS from the first
    byte, the certificate chosen by the peer's SNI.
    """
    return TLSMemoryBIOFactory(federation.contexts.serverCreator(None),
                               False, IncomingStreamFactory(federation))
