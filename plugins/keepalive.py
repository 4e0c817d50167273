"""
The server pings idle clients (XEP-0199 section 4.1) and closes the
sessions of those that no longer answer.

A periodic sweep finds every session that has sent nothing for
C{idle_after} seconds (C{session.lastReceived}) and sends it a ping from
the domain.  Any response proves the client alive, an error included
(section 4.1: a client that does not support ping answers
C{service-unavailable}), and so does anything else it sends meanwhile.
A session that stays silent for C{timeout} seconds after the ping is
closed with the C{<connection-timeout/>} stream error (RFC 6120 section
4.9.3.4), freeing its resource for the user's next login.
"""

from twisted.internet import defer, task
from zope.interface import implementer

from jabberd.plugin import (IDetachable, PluginConfigError, PluginFactory,
                            parseOptions)
from jabberd.stanza import makeElement
from plugins.ping import NS_PING


@implementer(IDetachable)
class KeepAlive:
    """
    Pings the idle sessions of one host.

    @ivar pending: sessions with a ping in flight.
    """

    def __init__(self, context):
        self.context = context
        self.idleAfter = context.config["idle_after"]
        self.timeout = context.config["timeout"]
        self.pending = set()
        self._sweeper = task.LoopingCall(self.sweep)
        self._sweeper.clock = context.reactor
        self._sweeper.start(sweepInterval(self.idleAfter, self.timeout),
                            now=False)

    def detached(self):
        self._sweeper.stop()
        self.pending.clear()

    def sweep(self):
        """
        Ping every session idle for C{idle_after} seconds, once.
        """
        now = self.context.reactor.seconds()
        for session in list(self.context.sessions):
            if (session not in self.pending
                    and now - session.lastReceived >= self.idleAfter):
                self.ping(session)

    def ping(self, session):
        """
        Ping C{session} from the domain; close it if it stays silent.
        """
        element = makeElement("iq", type="get", to=session.jid.full())
        element["from"] = self.context.domain
        element.addElement((NS_PING, "ping"))
        self.pending.add(session)
        sent = self.context.reactor.seconds()
        d = self.context.sendIQ(element, self.timeout)
        d.addCallbacks(self._answered, self._unanswered,
                       callbackArgs=(session,), errbackArgs=(session, sent))

    def _answered(self, response, session):
        self.pending.discard(session)

    def _unanswered(self, reason, session, sent):
        """
        An error response means the client is there; so does anything it
        sent after the ping.  Otherwise its session is dead.
        """
        if session not in self.pending:
            return
        self.pending.discard(session)
        if not reason.check(defer.TimeoutError):
            return
        if session.lastReceived > sent:
            return
        if self.context.sessions.get(session.jid) is session:
            self.context.log.info("closing unresponsive session {jid}",
                                  jid=session.jid.full())
            session.close("connection-timeout")


def sweepInterval(idleAfter, timeout):
    """
    How often to look for idle sessions: often enough that none waits
    much longer than C{idle_after} for its ping.
    """
    return max(min(idleAfter, timeout) / 2.0, 0.05)


class KeepAliveFactory(PluginFactory):
    name = "keepalive"
    description = "XEP-0199 server-to-client pings; closes dead sessions"
    options = {
        "idle_after": 300.0,
        "timeout": 60.0,
    }
    instanceClass = KeepAlive

    def parseConfig(self, options):
        config = parseOptions(self.options, options)
        for key in ("idle_after", "timeout"):
            if not config[key] > 0:
                raise PluginConfigError(key, "must be more than 0 (seconds)")
        return config


keepalive = KeepAliveFactory()
