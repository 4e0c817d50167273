"""
Federation for one server: the routes to remote domains, the streams in
both directions, and the shared pieces (dialback secret, TLS contexts,
trust anchors, DNS resolver, policy).

The router hands it every stanza for a domain that is neither hosted here
nor a component (L{Federation.send}); stanzas from peers go the other way
through the router to our hosts' inbound phase, from
L{jabberd.s2s.incoming.IncomingStream}.
"""

from twisted.internet import defer

from jabberd.errors import StanzaError, StreamError
from jabberd.logsetup import Logger
from jabberd.s2s.connector import connectFirst
from jabberd.s2s.contexts import S2SContexts
from jabberd.s2s.identity import trustStore
from jabberd.s2s.keys import newSecret
from jabberd.s2s.outgoing import OutgoingStreamFactory
from jabberd.s2s.policy import Policy
from jabberd.s2s.route import Route
from jabberd.s2s.srv import NoService, resolveTargets
from jabberd.stanza import Stanza

log = Logger()


def mayBounce(stanza):
    """
    Whether a stanza that cannot be delivered is answered with an error:
    never an error (RFC 6120 section 8.3.1) and never an IQ result, which
    nobody waits for.
    """
    if stanza.type == "error" or stanza.sender is None:
        return False
    return not (stanza.element.name == "iq" and stanza.type == "result")


class Federation:
    """
    Server-to-server traffic of one L{jabberd.server.Server}.

    @ivar policy: the L{Policy}.
    @ivar contexts: the L{S2SContexts}.
    @ivar secret: the dialback secret (XEP-0185).
    @ivar routes: C{(local, remote)} to L{Route}.
    @ivar incoming: the open L{IncomingStream}s.
    @ivar outgoing: the open L{OutgoingStream}s.
    """

    def __init__(self, server, reactor, resolver=None):
        self.server = server
        self.reactor = reactor
        self.policy = Policy(server)
        self.contexts = S2SContexts(server.tls)
        self.secret = newSecret()
        self.routes = {}
        self.incoming = set()
        self.outgoing = set()
        self._resolver = resolver
        self._trust = None

    @property
    def trust(self):
        """
        The trust anchors for peers' certificates (C{s2s_ca_file}, else
        the system's store), loaded on first use and again when a reload
        names another file.
        """
        caFile = self.server.config.s2sCaFile
        if self._trust is None or self._trust[0] != caFile:
            self._trust = (caFile, trustStore(caFile))
        return self._trust[1]

    @property
    def resolver(self):
        """
        The DNS resolver for SRV lookups, made on first use from
        C{s2s_dns_servers} (else the system's configuration).
        """
        if self._resolver is None:
            from twisted.names import client
            servers = list(self.server.config.s2sDnsServers)
            if servers:
                self._resolver = client.Resolver(servers=servers,
                                                 reactor=self.reactor)
            else:
                self._resolver = client.Resolver(resolv="/etc/resolv.conf",
                                                 reactor=self.reactor)
        return self._resolver

    def handles(self, stanza):
        """
        Whether C{stanza}, which has no local route, is ours to send: its
        sender is a hosted domain that federates.
        """
        return (stanza.sender is not None and
                self.policy.enabled(stanza.sender.host))

    # -- outgoing ----------------------------------------------------------

    def send(self, stanza):
        """
        Send a stanza from one of our domains to a remote domain.
        """
        remote = stanza.recipient.host
        if self.policy.blocked(remote):
            self.bounce(stanza, "not-allowed",
                        "federation with %s is not allowed" % (remote,))
            return
        _ensureAddressed(stanza)
        self.routeFor(stanza.sender.host, remote).send(stanza)

    def routeFor(self, local, remote):
        """
        The L{Route} of a domain pair, made on first use.
        """
        route = self.routes.get((local, remote))
        if route is None:
            route = self.routes[(local, remote)] = Route(self, local, remote)
        return route

    def openStream(self, route):
        """
        Get C{route} a stream: multiplexed onto an authenticated stream to
        the same domain where the peer allows it, else a new connection.
        """
        for stream in self.outgoing:
            if (stream.remoteDomain == route.remote and
                    stream.canMultiplex()):
                route.stream = stream
                stream.addRoute(route)
                return
        d = self.targetsFor(route.remote)
        d.addCallback(self._connect, route)
        route.attempt = d
        d.addCallbacks(route.connected, route.connectFailed)

    def targetsFor(self, remote):
        """
        Where to connect for C{remote}: its static route, or DNS.

        @return: a L{Deferred} firing with a list of L{Target}s.
        """
        static = self.policy.staticRoute(remote)
        if static is not None:
            return defer.succeed([static])
        d = resolveTargets(self.resolver, remote)
        d.addErrback(_noService, remote)
        return d

    def _connect(self, targets, route):
        timeout = self.server.config.s2sConnectTimeout
        return connectFirst(
            self.reactor, targets,
            lambda target: OutgoingStreamFactory(self, route,
                                                 target.directTLS),
            timeout,
            lambda: self.contexts.clientCreator(route.local, route.remote))

    def verifyDialback(self, receiving, originating, streamID, key):
        """
        Ask C{originating}'s authoritative server whether C{key} is valid
        for the stream C{streamID} it opened to our C{receiving}
        (XEP-0220 section 2.1.3).

        @return: a L{Deferred} firing with C{True} or C{False}.
        """
        return self.routeFor(receiving, originating).verify(streamID, key)

    def bounce(self, stanza, condition, text=None):
        """
        Answer an undeliverable stanza with an error from its recipient,
        where that is allowed (L{mayBounce}).
        """
        if not mayBounce(stanza):
            return
        reply = stanza.errorReply(StanzaError(condition, text=text))
        reply["from"] = stanza.recipient.full()
        self.server.router.route(Stanza(reply, stanza.recipient,
                                        stanza.sender))

    # -- bookkeeping -------------------------------------------------------

    def incomingOpened(self, stream):
        self.incoming.add(stream)

    def incomingClosed(self, stream):
        self.incoming.discard(stream)

    def outgoingOpened(self, stream):
        self.outgoing.add(stream)

    def outgoingClosed(self, stream):
        self.outgoing.discard(stream)

    def stop(self):
        """
        Close every stream, for shutdown (RFC 6120 section 4.9.3.17).
        """
        for stream in list(self.incoming) + list(self.outgoing):
            stream.fail(StreamError("system-shutdown"))


def _ensureAddressed(stanza):
    """
    Give the element the C{from} and C{to} its peer needs (RFC 6120
    section 8.1.1.1 and 8.1.2.1 make both mandatory between servers).
    """
    element = stanza.element
    if element.getAttribute("to") is None:
        element["to"] = stanza.recipient.full()
    if element.getAttribute("from") is None:
        element["from"] = stanza.sender.full()


def _noService(reason, remote):
    reason.trap(NoService)
    raise NoService("%s offers no XMPP server-to-server service" % (remote,))
