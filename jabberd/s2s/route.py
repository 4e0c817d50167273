"""
One local/remote domain pair of outgoing federation: the stanzas waiting
for its stream, and the stream once authenticated.

A route is idle until a stanza (or a dialback verification) needs it; it
then connects, holding at most C{s2s_queue_size} stanzas, and flushes them
once the peer accepts the pair.  If setting up fails, or takes longer than
C{s2s_connect_timeout}, every held stanza bounces (RFC 6120 section
8.3.3.15 C{remote-server-not-found}, 8.3.3.16 C{remote-server-timeout}).
A stream that ends later (idle, or dropped by the peer) leaves the route
idle again, and the next stanza reconnects.
"""

import enum
from collections import deque

from twisted.internet import defer

from jabberd.logsetup import Logger

log = Logger()


class State(enum.Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    READY = "ready"


class RouteFailed(Exception):
    """
    The route could not be set up; carries the bounce condition.
    """

    def __init__(self, condition, text):
        Exception.__init__(self, condition, text)
        self.condition = condition
        self.text = text


class Route:
    """
    Outgoing federation from C{local} to C{remote}.

    @ivar state: a L{State}.
    @ivar stream: the L{jabberd.s2s.outgoing.OutgoingStream} carrying or
        setting up the pair, or C{None}.
    """

    def __init__(self, federation, local, remote):
        self.federation = federation
        self.local = local
        self.remote = remote
        self.state = State.IDLE
        self.stream = None
        self.queue = deque()
        self.attempt = None
        self._verifies = []
        self._timeout = None

    def __repr__(self):
        return "<Route %s -> %s %s>" % (self.local, self.remote,
                                        self.state.value)

    # -- what the federation asks ------------------------------------------

    def send(self, stanza):
        """
        Send C{stanza} on the pair's stream, or hold it until there is one.
        """
        if self.state is State.READY:
            self.stream.sendStanza(stanza.element)
            return
        limit = self.federation.server.config.s2sQueueSize
        if len(self.queue) >= limit:
            self.federation.bounce(stanza, "resource-constraint",
                                   "too many stanzas waiting for %s"
                                   % (self.remote,))
            return
        self.queue.append(stanza)
        self._connect()

    def verify(self, streamID, key):
        """
        Have the remote domain (the authoritative server) verify a
        dialback key it sent us over another stream.

        @return: a L{Deferred} firing with C{True} or C{False}.
        """
        if self.stream is not None and self.stream.ready:
            return self.stream.verify(self.local, self.remote, streamID, key)
        d = defer.Deferred()
        self._verifies.append((streamID, key, d))
        self._connect()
        return d

    def _connect(self):
        if self.state is not State.IDLE:
            return
        self.state = State.CONNECTING
        timeout = self.federation.server.config.s2sConnectTimeout
        self._timeout = self.federation.reactor.callLater(
            timeout, self._timedOut)
        self.federation.openStream(self)

    # -- what the connection attempt and the stream report -----------------

    def connected(self, stream):
        """
        The TCP (or TLS) connection is up; negotiation follows.
        """
        self.attempt = None
        if self.state is not State.CONNECTING:
            stream.closeStream()
            return
        self.stream = stream

    def connectFailed(self, reason):
        self.attempt = None
        if reason.check(defer.CancelledError):
            return
        self._fail("remote-server-not-found", reason.getErrorMessage())

    def streamReady(self, stream):
        """
        The stream can carry dialback verification requests.
        """
        self.stream = stream
        verifies, self._verifies = self._verifies, []
        for streamID, key, d in verifies:
            stream.verify(self.local, self.remote, streamID, key).chainDeferred(d)

    def authenticated(self, stream):
        """
        The peer accepted the pair: send what waited.
        """
        self._cancelTimeout()
        self.stream = stream
        self.state = State.READY
        queue, self.queue = self.queue, deque()
        for stanza in queue:
            stream.sendStanza(stanza.element)

    def refused(self, stream, text):
        """
        The pair could not be authenticated on C{stream}.
        """
        if stream is self.stream:
            self._fail("remote-server-not-found", text)

    def streamLost(self, stream):
        """
        C{stream} ended: an established pair goes idle (the next stanza
        reconnects); one still being set up has failed.
        """
        if stream is not self.stream:
            return
        self.stream = None
        if self.state is State.READY:
            self.state = State.IDLE
        elif self.state is State.CONNECTING:
            self._fail("remote-server-not-found",
                       "connection closed during negotiation")

    # -- failure -----------------------------------------------------------

    def _timedOut(self):
        self._timeout = None
        stream = self.stream
        self._fail("remote-server-timeout",
                   "no stream to %s within the time allowed" % (self.remote,))
        if stream is not None:
            stream.routes.pop(self.local, None)
            if not stream.routes:
                stream.transport.abortConnection()

    def _cancelTimeout(self):
        if self._timeout is not None and self._timeout.active():
            self._timeout.cancel()
        self._timeout = None

    def _fail(self, condition, text):
        """
        Give up on this attempt: bounce what waited, fail the pending
        verifications, go idle.
        """
        if self.state is State.IDLE:
            return
        log.info("s2s {local} -> {remote}: {condition}: {text}",
                 local=self.local, remote=self.remote, condition=condition,
                 text=text)
        self._cancelTimeout()
        self.state, self.stream = State.IDLE, None
        if self.attempt is not None:
            attempt, self.attempt = self.attempt, None
            attempt.cancel()
        queue, self.queue = self.queue, deque()
        for stanza in queue:
            self.federation.bounce(stanza, condition, text)
        verifies, self._verifies = self._verifies, []
        for _, _, d in verifies:
            d.errback(RouteFailed(condition, text))
