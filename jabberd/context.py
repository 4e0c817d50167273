"""
The host context: the whole API a plugin instance sees.

Every registration made through a L{HostContext} is recorded and undone by
L{HostContext.detach}, so a plugin never unregisters by hand and switching
it off on one host leaves nothing behind.
"""

from twisted.internet import defer

from jabberd.bus import DELIVERY_KEYS, IQKey, Phase, Priority, STANZA_KEYS
from jabberd.errors import StanzaError
from jabberd.logsetup import Logger

PREAUTH = "preauth"
POSTAUTH = "postauth"


class HostContext:
    """
    One plugin's view of one virtual host.

    @ivar domain: the host's domain (C{str}).
    @ivar jid: the host's JID.
    @ivar config: the plugin's validated options.
    @ivar reactor: the reactor.
    @ivar log: a L{Logger} in the plugin's namespace.
    @ivar sessions: the host's L{jabberd.sessions.SessionRegistry}
        (read it; do not change it).
    @ivar accounts: the host's L{jabberd.storage.users.IUserStore}.
    """

    def __init__(self, host, name, config):
        self._host = host
        self.name = name
        self.domain = host.domain
        self.jid = host.jid
        self.config = config
        self.reactor = host.reactor
        self.sessions = host.sessions
        self.accounts = host.accounts
        self.log = Logger(namespace="jabberd.plugins.%s" % (name,))
        self._undo = []

    def _record(self, undo):
        self._undo.append(undo)

    def hookStanza(self, kind, address, phase, handler,
                   priority=Priority.DEFAULT):
        """
        Call C{handler(stanza)} for stanzas of C{kind} addressed as
        C{address} in C{phase}; returning anything but C{None} claims it.
        """
        key = STANZA_KEYS[(kind, address, phase)]
        self._record(self._host.bus.hook(key, handler, priority).remove)

    def onSignal(self, signal, handler):
        """
        Call C{handler(*args)} whenever C{signal} is notified.
        """
        self._record(self._host.bus.hook(signal, handler).remove)

    def handleIQ(self, type, namespace, name, handler, address):
        """
        Answer IQ C{type} requests whose payload is C{{namespace}name},
        addressed to the host (L{Address.HOST}), to a user's bare JID on
        the user's behalf (L{Address.BARE}), or on a stream that has not
        authenticated yet (L{Address.PREAUTH}).

        C{handler(stanza)} returns the result payload (an element), C{None}
        for an empty result, or a L{Deferred} of either; it raises (or
        fails with) L{StanzaError} to answer with an error.
        """
        key = IQKey(type, address, namespace, name)

        def dispatch(stanza):
            respondToIQ(stanza, handler, self._host.reply, self.log)
            return True

        self._record(self._host.bus.hook(key, dispatch).remove)

    def addStreamFeature(self, stage, feature):
        """
        Offer a stream feature (RFC 6120 section 4.3.2).

        @param stage: L{PREAUTH} (before SASL) or L{POSTAUTH} (with bind).
        @param feature: C{feature(stream)} returns an element or C{None}.
        """
        features = self._host.streamFeatures[stage]
        features.append(feature)
        self._record(lambda: features.remove(feature))

    def declareFeature(self, namespace):
        """
        Announce a protocol namespace this plugin implements on the host
        (what service discovery will list).
        """
        self._host.features.add(namespace)
        self._record(lambda: self._host.features.discard(namespace))

    def provide(self, iface, provider):
        """
        Offer C{provider} to the other plugins of this host as the
        implementation of C{iface} (e.g. the roster service the presence
        plugin uses).  Withdrawn on detach.
        """
        services = self._host.services
        if iface in services:
            raise ValueError("%s is already provided on %s"
                             % (iface.__name__, self.domain))
        services[iface] = provider
        self._record(lambda: services.pop(iface, None))

    def lookup(self, iface):
        """
        The provider of C{iface} on this host.  Declare the providing
        plugin in C{requires} so that it is attached first.

        @raise LookupError: nothing provides it.
        """
        try:
            return self._host.services[iface]
        except KeyError:
            raise LookupError("nothing provides %s on %s"
                              % (iface.__name__, self.domain))

    def notify(self, signal, *args):
        """
        Notify every handler of C{signal} on this host (see L{onSignal}).
        """
        self._host.bus.notify(signal, *args)

    def deliver(self, session, stanza, element=None):
        """
        Write a stanza from someone else to one of this host's sessions,
        through the delivery hooks (which may keep it from that session):
        what plugins that deliver use instead of C{session.deliver}.
        """
        self._host.deliver(session, stanza, element)

    def onDelivery(self, kind, handler, priority=Priority.POLICY):
        """
        Call C{handler(session, stanza)} before a stanza of C{kind} from
        someone else is written to a session; returning anything but
        C{None} keeps it from that session.
        """
        key = DELIVERY_KEYS[kind]
        self._record(self._host.bus.hook(key, handler, priority).remove)

    def route(self, stanza):
        """
        Hand an existing L{Stanza} (e.g. one a hook received and let
        through) to the router.
        """
        self._host.route(stanza)

    def resume(self, stanza, phase):
        """
        Run C{phase} again for a stanza that a L{Priority.POLICY} hook
        claimed to hold back while it fetched what it needed to decide
        (e.g. an offline user's privacy lists): the hooks of that phase
        see it afresh, the holding one included.

        @param phase: L{Phase.OUTBOUND}, L{Phase.INBOUND} or
            L{Phase.EGRESS} (which routes the stanza on if it passes).
        """
        if phase is Phase.OUTBOUND:
            self._host.processOutbound(stanza)
        elif phase is Phase.INBOUND:
            self._host.receive(stanza)
        else:
            self._host.route(stanza)

    def send(self, element):
        """
        Route a stanza from this host; C{from} must be set (the host's JID
        or one of its users') and C{to} names the recipient.
        """
        self._host.sendElement(element)

    def sendIQ(self, element, timeout=60):
        """
        Send an IQ request from this host (C{from} must be set) and wait
        for the response.

        @return: a L{Deferred} firing with the response L{Stanza}, failing
            with L{StanzaError} for an error response or
            C{defer.TimeoutError} after C{timeout} seconds.
        """
        return self._host.sendIQ(element, timeout)

    def store(self, iface):
        """
        The store providing C{iface}, bound to this host's domain.
        """
        return self._host.openStore(iface)

    def callLater(self, delay, f, *args, **kwargs):
        """
        Like C{reactor.callLater}, cancelled automatically on detach.
        """
        def cancel():
            if call.active():
                call.cancel()

        def fire():
            self._forget(cancel)
            f(*args, **kwargs)

        call = self.reactor.callLater(delay, fire)
        self._record(cancel)
        return call

    def _forget(self, undo):
        """
        Drop an undo action that is no longer needed (a call that fired).
        """
        try:
            self._undo.remove(undo)
        except ValueError:
            pass

    def detach(self):
        """
        Undo every registration, newest first.
        """
        while self._undo:
            self._undo.pop()()

    def declareIdentity(self, category, type, name=None):
        """
        Announce a service discovery identity of the host (XEP-0030
        section 3.1), e.g. C{("server", "im")}; withdrawn on detach.
        """
        identity = (category, type, name)
        self._host.identities.append(identity)
        self._record(lambda: self._host.identities.remove(identity))

    def declareAccountFeature(self, namespace):
        """
        Announce a namespace the server implements on behalf of every
        account (answered at the user's bare JID, XEP-0030 section 3.1).
        """
        self._host.accountFeatures.add(namespace)
        self._record(lambda: self._host.accountFeatures.discard(namespace))

    def declareInfoForm(self, form):
        """
        Add an extended information form (a C{jabber:x:data} element of
        type C{result} with a hidden C{FORM_TYPE}, XEP-0128) to the
        host's service discovery information.
        """
        self._host.infoForms.append(form)
        self._record(lambda: self._host.infoForms.remove(form))

    def declaredIdentities(self):
        """
        The identities every plugin of the host declared, as a new list of
        C{(category, type, name)}.
        """
        return list(self._host.identities)

    def declaredFeatures(self):
        """
        The namespaces every plugin of the host declared, as a new set.
        """
        return set(self._host.features)

    def declaredAccountFeatures(self):
        """
        The account namespaces every plugin of the host declared, as a new
        set.
        """
        return set(self._host.accountFeatures)

    def declaredInfoForms(self):
        """
        The extended information forms of the host, as a new list.
        """
        return list(self._host.infoForms)

    def routedDomains(self):
        """
        Every domain the server routes (hosted domains, components), as a
        new list; service discovery lists the subdomains among them.
        """
        return self._host.server.router.domains()

    def hostStarted(self):
        """
        When the host started serving its domain (C{reactor.seconds()}),
        for uptime (XEP-0012 section 5).
        """
        return self._host.started


def respondToIQ(stanza, handler, reply, log):
    """
    Run an IQ handler and send the result or error reply with
    C{reply(stanza, element)}.
    """
    d = defer.maybeDeferred(handler, stanza)

    def succeeded(payload):
        reply(stanza, stanza.resultReply(payload))

    def failed(reason):
        if reason.check(StanzaError):
            reply(stanza, stanza.errorReply(reason.value))
            return
        log.failure("IQ handler failed on {stanza!r}", reason, stanza=stanza)
        reply(stanza, stanza.errorReply(StanzaError("internal-server-error")))

    d.addCallbacks(succeeded, failed)
    d.addErrback(lambda f: log.failure("sending IQ reply", f))


