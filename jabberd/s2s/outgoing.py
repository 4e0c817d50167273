"""
Streams we open to peers (RFC 6120, initiating entity).

We open a stream from one of our domains to a remote domain, upgrade it
with STARTTLS unless it began with TLS (XEP-0368), and authenticate: with
SASL EXTERNAL where the peer offers it and our certificate names our
domain (XEP-0178 section 3), else with dialback (XEP-0220 section 2.1).
Further local domains may then be authenticated on the same stream, each
with its own C{<db:result/>}, where the peer announced dialback errors
(multiplexing, XEP-0220 section 3).  The stream also carries our requests
to verify dialback keys other servers sent us (C{<db:verify/>}).

The stream reports to one L{jabberd.s2s.route.Route} per local domain it
carries: C{streamReady}, C{authenticated}, C{refused}, C{streamLost}.
"""

import base64

from twisted.internet import defer, protocol
from twisted.internet.error import ConnectionLost
from twisted.words.xish import domish

from jabberd.errors import NS_STREAM, StreamError
from jabberd.logsetup import Logger
from jabberd.s2s.dialback import (
    NS_DIALBACK, dialbackXML, offersErrors, parseDialback)
from jabberd.s2s.keys import dialbackKey
from jabberd.s2s.stream import ServerStream, parseVersion
from jabberd.streamfeatures import NS_SASL, NS_TLS
from jabberd.tls import certificateCovers
from jabberd.xml import NS_SERVER

log = Logger()


class OutgoingStream(ServerStream):
    """
    One stream we opened to a remote domain.

    @ivar localDomain: the domain of our header's C{from}.
    @ivar remoteDomain: the domain we connected to.
    @ivar routes: local domain to the L{Route} this stream serves or is
        authenticating for it.
    @ivar authenticated: the local domains the peer accepted.
    @ivar ready: TLS (where wanted) is up and the features are known, so
        that dialback requests may go out.
    @ivar features: the peer's last C{<stream:features/>}, or C{None}.
    """

    ready = False
    features = None
    _saslDone = False
    _saslPending = False

    def __init__(self, federation, route, directTLS=False):
        ServerStream.__init__(self, federation)
        self.localDomain = route.local
        self.remoteDomain = route.remote
        self.directTLS = directTLS
        self.routes = {route.local: route}
        self.authenticated = set()
        self._verifies = {}
        self._queuedVerifies = []

    # -- lifecycle ---------------------------------------------------------

    def connectionMade(self):
        ServerStream.connectionMade(self)
        log.info("s2s: connected to {remote} at {address} ({how})",
                 remote=self.remoteDomain, address=self.address,
                 how="direct TLS" if self.directTLS else "STARTTLS")
        self.federation.outgoingOpened(self)
        self._sendHeader()

    def connectionLost(self, reason):
        ServerStream.connectionLost(self, reason)
        self.federation.outgoingClosed(self)
        for route in list(self.routes.values()):
            route.streamLost(self)
        verifies, self._verifies = self._verifies, {}
        for waiting in verifies.values():
            for d in waiting:
                d.errback(ConnectionLost("s2s stream to %s lost"
                                         % (self.remoteDomain,)))

    def _sendHeader(self):
        self.sendHeader([("from", self.localDomain),
                         ("to", self.remoteDomain), ("version", "1.0")])

    def errorHeader(self):
        return [("from", self.localDomain), ("to", self.remoteDomain),
                ("version", "1.0")]

    def _giveUp(self, text):
        """
        Negotiation failed for every pair: tell their routes and close.
        """
        log.info("s2s to {remote} failed: {text}", remote=self.remoteDomain,
                 text=text)
        for local in list(self.routes):
            self._refused(local, text)
        self.closeStream()

    # -- negotiation (RFC 6120 sections 4.3 and 5) -------------------------

    def _streamStarted(self, attributes, contentNamespace):
        if contentNamespace != NS_SERVER:
            raise StreamError("invalid-namespace")
        self.streamID = attributes.get("id")
        if parseVersion(attributes.get("version")) is None:
            # A server older than RFC 3920 sends no features: dialback it is.
            self._negotiated(None)

    def _featuresReceived(self, features):
        starttls = next(features.elements(NS_TLS, "starttls"), None)
        if not self.encrypted and starttls is not None:
            self.send("<starttls xmlns='%s'/>" % (NS_TLS,))
            return
        self._negotiated(features)

    def _proceedReceived(self, element):
        self.requestTLS()

    def startTLS(self):
        creator = self.federation.contexts.clientCreator(
            self.localDomain, self.remoteDomain)
        self.transport.startTLS(creator)
        self.encrypted = True
        self.parser.reset()
        self._sendHeader()

    def _tlsFailureReceived(self, element):
        self._giveUp("the peer refused TLS")

    def _negotiated(self, features):
        self.features = features
        if self._saslPending:
            self._saslPending = False
            self._pairAuthenticated(self.localDomain, "SASL EXTERNAL")
            return
        if (not self.encrypted and
                self.federation.policy.requireEncryption(self.localDomain)):
            self._giveUp("the peer does not offer TLS")
            return
        self.ready = True
        for route in list(self.routes.values()):
            route.streamReady(self)
        self._flushVerifies()
        self._authenticate(self.localDomain)

    # -- authentication ----------------------------------------------------

    def _authenticate(self, local):
        verification = self.peerVerification(self.remoteDomain)
        if (self.federation.policy.secureAuth(local, self.remoteDomain) and
                not verification.valid):
            self._refused(local, "certificate of %s not valid: %s"
                          % (self.remoteDomain, verification.reason))
            self._closeIfUnused()
        elif local == self.localDomain and self._mayUseExternal(local):
            self._saslStart(local)
        else:
            self._sendDialbackKey(local)

    def _mayUseExternal(self, local):
        """
        XEP-0178 section 3: EXTERNAL if the peer offers it, on TLS, and
        our own certificate names our domain.
        """
        if not self.encrypted or self._saslDone or self.features is None:
            return False
        offered = [str(m).strip() for mechanisms in
                   self.features.elements(NS_SASL, "mechanisms")
                   for m in mechanisms.elements(NS_SASL, "mechanism")]
        if "EXTERNAL" not in offered:
            return False
        credentials = self.federation.contexts.credentials(local)
        return credentials is not None and certificateCovers(
            credentials.certificate, local)

    def _saslStart(self, local):
        auth = domish.Element((NS_SASL, "auth"))
        auth["mechanism"] = "EXTERNAL"
        auth.addContent(base64.b64encode(local.encode("utf-8")).decode())
        self.sendElement(auth)

    def _saslSuccessReceived(self, element):
        self._saslDone = True
        self._saslPending = True
        self.parser.reset()
        self._sendHeader()

    def _saslFailureReceived(self, element):
        self._saslDone = True
        log.info("s2s: SASL EXTERNAL to {remote} failed; trying dialback",
                 remote=self.remoteDomain)
        self._sendDialbackKey(self.localDomain)

    def _sendDialbackKey(self, local):
        key = dialbackKey(self.federation.secret, self.remoteDomain, local,
                          self.streamID or "")
        self.send(dialbackXML("result", local, self.remoteDomain, key=key))

    def _dbResultReceived(self, element):
        answer = parseDialback(element)
        local = answer.recipient
        if local not in self.routes or local in self.authenticated:
            return
        if answer.type == "valid":
            self._pairAuthenticated(local, "dialback")
            return
        self._refused(local, "dialback %s%s" % (
            answer.type, " (%s)" % (answer.condition,)
            if answer.condition else ""))
        self._closeIfUnused()

    def _pairAuthenticated(self, local, how):
        self.authenticated.add(local)
        log.info("s2s: {local} authenticated to {remote} ({how})",
                 local=local, remote=self.remoteDomain, how=how)
        self.routes[local].authenticated(self)

    def _refused(self, local, text):
        route = self.routes.pop(local, None)
        if route is not None:
            route.refused(self, text)

    def _closeIfUnused(self):
        if not self.routes:
            self.closeStream()

    # -- multiplexing (XEP-0220 section 3) ---------------------------------

    def canMultiplex(self):
        """
        Whether another local domain may authenticate on this stream: it
        is up and authenticated, and the peer announced dialback errors.
        """
        return (self.ready and not self.closed and bool(self.authenticated)
                and offersErrors(self.features))

    def addRoute(self, route):
        """
        Authenticate C{route}'s local domain on this stream too.
        """
        self.routes[route.local] = route
        log.info("s2s: authenticating {local} on the stream of {first} to "
                 "{remote} (multiplexing)", local=route.local,
                 first=self.localDomain, remote=self.remoteDomain)
        self._authenticate(route.local)

    # -- dialback verification for other streams (XEP-0220 section 2.1.3) --

    def verify(self, receiving, originating, streamID, key):
        """
        Ask the peer, as the authoritative server of C{originating},
        whether C{key} is what it gave for the stream C{streamID} it
        opened to our C{receiving}.

        @return: a L{Deferred} firing with C{True} or C{False}.
        """
        ident = (streamID, originating, receiving)
        d = defer.Deferred()
        waiting = self._verifies.get(ident)
        if waiting is not None:
            waiting.append(d)
            return d
        self._verifies[ident] = [d]
        self._queuedVerifies.append((ident, key))
        if self.ready:
            self._flushVerifies()
        return d

    def _flushVerifies(self):
        queued, self._queuedVerifies = self._queuedVerifies, []
        for (streamID, originating, receiving), key in queued:
            self.send(dialbackXML("verify", receiving, originating,
                                  id=streamID, key=key))

    def _dbVerifyReceived(self, element):
        answer = parseDialback(element)
        ident = (answer.id, answer.sender, answer.recipient)
        for d in self._verifies.pop(ident, ()):
            d.callback(answer.type == "valid")

    # -- stanzas -----------------------------------------------------------

    def sendStanza(self, element):
        """
        Write a stanza of an authenticated pair.
        """
        self.touch()
        self.sendElement(element)

    def _stanzaReceived(self, element):
        raise StreamError("unsupported-stanza-type",
                          "this stream carries stanzas to you only")

    dispatch = {
        (NS_STREAM, "features"): _featuresReceived,
        (NS_TLS, "proceed"): _proceedReceived,
        (NS_TLS, "failure"): _tlsFailureReceived,
        (NS_SASL, "success"): _saslSuccessReceived,
        (NS_SASL, "failure"): _saslFailureReceived,
        (NS_DIALBACK, "result"): _dbResultReceived,
        (NS_DIALBACK, "verify"): _dbVerifyReceived,
        (NS_SERVER, "message"): _stanzaReceived,
        (NS_SERVER, "presence"): _stanzaReceived,
        (NS_SERVER, "iq"): _stanzaReceived,
    }


class OutgoingStreamFactory(protocol.Factory):
    """
    Makes the L{OutgoingStream} of one connection attempt for C{route}.
    """

    noisy = False

    def __init__(self, federation, route, directTLS):
        self.federation = federation
        self.route = route
        self.directTLS = directTLS

    def buildProtocol(self, addr):
        stream = OutgoingStream(self.federation, self.route, self.directTLS)
        stream.factory = self
        return stream
