"""
Virtual hosts: one per served domain.

A L{VirtualHost} owns what belongs to one domain: its bus, its sessions,
its plugin instances, its stores (bound to the domain) and its options.
Hosts are added and removed at run time by the L{jabberd.server.Server}.
"""

import itertools

from twisted.internet import defer

from jabberd.bus import (
    DELIVERY_KEYS, HOST_STOPPING, SESSION_BINDING, Bus, Phase)
from jabberd.context import POSTAUTH, PREAUTH, HostContext
from jabberd.credcache import CachingUserStore
from jabberd.delivery import installDelivery
from jabberd.errors import StanzaError
from jabberd.jid import parseJID
from jabberd.logsetup import Logger
from jabberd.plugin import IDetachable
from jabberd.sessions import SessionRegistry
from jabberd.stanza import Stanza
from jabberd.storage.users import IUserStore

log = Logger()


class VirtualHost:
    """
    One hosted domain.

    @ivar features: protocol namespaces the enabled plugins implement.
    @ivar accountFeatures: namespaces the server implements on behalf of
        each account (answered at the user's bare JID).
    @ivar identities: service discovery identities of the domain, as
        C{(category, type, name)} (XEP-0030 section 3.1).
    @ivar infoForms: extended information forms of the domain (XEP-0128).
    @ivar started: when the host started (C{reactor.seconds()}).
    @ivar streamFeatures: stream feature callables by stage
        (C{PREAUTH}, C{POSTAUTH}).
    @ivar plugins: plugin name to C{(context, instance)}.
    """

    def __init__(self, server, config):
        self.server = server
        self.reactor = server.reactor
        self.config = config
        self.domain = config.domain
        self.jid = parseJID(config.domain)
        self.bus = Bus()
        self.sessions = SessionRegistry()
        self.features = set()
        self.accountFeatures = set()
        self.identities = []
        self.infoForms = []
        self.started = self.reactor.seconds()
        self.streamFeatures = {PREAUTH: [], POSTAUTH: []}
        self.plugins = {}
        self.services = {}
        self.accounts = CachingUserStore(
            self.openStore(IUserStore), self.reactor,
            server.config.credentialCacheSize, server.config.credentialCacheTtl)
        self._pending = {}
        self._ids = itertools.count(1)
        installDelivery(self)

    def openStore(self, iface):
        """
        The store for C{iface}, bound to this domain.
        """
        return self.server.openStore(iface, self.domain)

    def prepareSession(self, session):
        """
        Let plugins get ready for a session that is binding a resource
        (load its roster, ...).

        @return: a L{Deferred} that fires when all are ready: at once
            when no plugin had to wait (everything was in memory).
        """
        waiting = [result for result in self.bus.gather(SESSION_BINDING, session)
                   if isinstance(result, defer.Deferred)]
        if not waiting:
            return defer.succeed(None)
        return defer.gatherResults(waiting, consumeErrors=True)

    def processOutbound(self, stanza):
        """
        A stanza from one of our own sessions: outbound phase here, then
        routing (by the fallback handler unless a plugin claims it).
        """
        self.bus.fire(stanza.key(Phase.OUTBOUND), stanza)

    def receive(self, stanza):
        """
        A stanza for this domain: the inbound phase.
        """
        self.bus.fire(stanza.key(Phase.INBOUND), stanza)

    def deliver(self, session, stanza, element=None):
        """
        Write C{stanza} (or C{element}, a form of it addressed to this
        session) to one of our sessions, unless a delivery hook keeps it
        from that session.
        """
        if self.bus.fire(DELIVERY_KEYS[stanza.kind], session, stanza) is None:
            session.deliver(stanza.element if element is None else element)

    def route(self, stanza):
        """
        Hand a stanza leaving this host to the server's router, after the
        egress phase (which may stop it).
        """
        if self.bus.fire(stanza.key(Phase.EGRESS), stanza) is None:
            self.server.router.route(stanza)

    def sendElement(self, element):
        """
        Route an element the server or a plugin built.  Its C{from} and
        C{to} are trusted: they were not received from a peer.
        """
        recipient = element.getAttribute("to")
        stanza = Stanza(element, parseJID(element["from"]),
                        parseJID(recipient) if recipient else None)
        self.route(stanza)

    def reply(self, request, element):
        """
        Send C{element}, a reply to C{request}.  Requests from a stream that
        has not authenticated are answered on that stream directly.
        """
        if request.recipient is None or request.sender is None:
            request.origin.deliver(element)
        else:
            self.route(Stanza(element, request.recipient, request.sender))

    def bounce(self, stanza, condition, text=None):
        """
        Answer C{stanza} with a stanza error, unless it is an error itself
        (RFC 6120 section 8.3.1 forbids answering errors with errors).
        """
        if stanza.type == "error":
            return
        error = StanzaError(condition, text=text)
        self.reply(stanza, stanza.errorReply(error))

    def sendIQ(self, element, timeout=60):
        """
        Send an IQ request from this host and wait for its response.

        @return: a L{Deferred} firing with the response L{Stanza}; it fails
            with L{StanzaError} if the response is an error, or with
            C{defer.TimeoutError} after C{timeout} seconds.
        """
        stanzaID = "jd%d" % (next(self._ids),)
        element["id"] = stanzaID
        d = defer.Deferred()
        key = (parseJID(element["to"]).full(), stanzaID)
        self._pending[key] = d
        d.addTimeout(timeout, self.reactor)
        d.addBoth(self._forget, key)
        self.sendElement(element)
        return d

    def _forget(self, result, key):
        self._pending.pop(key, None)
        return result

    def responseReceived(self, stanza):
        """
        An IQ result or error addressed to the server: fire the request's
        L{Deferred}, if it was ours; otherwise drop it.
        """
        key = (stanza.sender.full(), stanza.id)
        d = self._pending.pop(key, None)
        if d is None:
            return
        if stanza.type == "error":
            d.errback(_errorOf(stanza))
        else:
            d.callback(stanza)

    def attachPlugin(self, factory, config):
        """
        Make C{factory}'s instance for this host.  A plugin that raises
        while attaching is reported and left off; the host carries on.

        @return: C{True} if it attached.
        """
        context = HostContext(self, factory.name, config)
        try:
            instance = factory.makeInstance(context)
        except Exception:
            context.detach()
            log.failure("plugin {plugin} failed to attach to {domain}",
                        plugin=factory.name, domain=self.domain)
            return False
        self.plugins[factory.name] = (context, instance)
        log.info("plugin {plugin} enabled on {domain}",
                 plugin=factory.name, domain=self.domain)
        return True

    def detachPlugin(self, name):
        """
        Switch plugin C{name} off on this host, undoing its registrations.
        """
        context, instance = self.plugins.pop(name)
        context.detach()
        detachable = IDetachable(instance, None)
        if detachable is not None:
            detachable.detached()

    def stop(self, condition="system-shutdown"):
        """
        Close every session with C{condition} and detach the plugins.
        """
        self.bus.notify(HOST_STOPPING, self)
        for session in list(self.sessions):
            session.close(condition)
        for name in reversed(list(self.plugins)):
            self.detachPlugin(name)


def _errorOf(stanza):
    """
    The L{StanzaError} carried by an error stanza.
    """
    error = stanza.element.error
    condition, type = "undefined-condition", None
    if error is not None:
        type = error.getAttribute("type")
        for child in error.elements():
            if child.name != "text":
                condition = child.name
                break
    return StanzaError(condition, type=type)
