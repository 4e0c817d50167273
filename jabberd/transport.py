"""
TCP listeners whose connections write once per reactor turn.

A Twisted TCP transport does not write when asked to: C{write()} buffers
the bytes and registers the socket for writability (an C{epoll_ctl} call),
the reactor reports it writable on its next turn, C{doWrite} sends and
unregisters it (another C{epoll_ctl}).  A login exchanges seven rounds
with the client, and a presence update writes to twenty sessions, so that
is two system calls and one reactor dispatch per write on top of the
C{send} itself.

The transports here write differently: the first write in a reactor turn
puts the connection on a L{WriteCoalescer}, and when the turn's ready
sockets have all been handled it sends each listed connection's buffered
bytes with one C{send}.  Only a socket whose kernel buffer is full, or a
connection that is closing or broken, falls back to Twisted's own path
(register, wait for writability).  Everything written in one turn still
leaves in order and in one piece per connection; it leaves sooner than
before, not later.

TLS streams benefit too: the TLS layer writes its records through the
same TCP transport.
"""

from twisted.internet import tcp


class WriteCoalescer:
    """
    The connections with bytes to send this turn, sent together at its end.
    """

    def __init__(self, reactor):
        self.reactor = reactor
        self._pending = []
        self._scheduled = False

    def schedule(self, transport):
        """
        Send C{transport}'s buffered bytes when this reactor turn is done.
        """
        self._pending.append(transport)
        if not self._scheduled:
            self._scheduled = True
            self.reactor.callLater(0, self.flush)

    def flush(self):
        """
        Send what every listed connection buffered.
        """
        pending, self._pending = self._pending, []
        self._scheduled = False
        for transport in pending:
            transport.flushNow()


class CoalescingServer(tcp.Server):
    """
    An accepted TCP connection that leaves its writes to the port's
    L{WriteCoalescer}.
    """

    _queued = False

    def startWriting(self):
        if self.disconnecting:
            tcp.Server.startWriting(self)
        elif not self._queued:
            self._queued = True
            self.server.coalescer.schedule(self)

    def flushNow(self):
        """
        Send the buffered bytes now; leave what the socket did not take,
        an error, and a closing connection to the reactor.
        """
        self._queued = False
        if not self.connected or self.disconnecting:
            if self.connected:
                tcp.Server.startWriting(self)
            return
        if self.doWrite() is not None or self.dataBuffer or self._tempDataBuffer:
            # The reactor repeats the write when the socket is writable
            # and handles a failure the way it always does.
            tcp.Server.startWriting(self)


class CoalescingPort(tcp.Port):
    """
    A TCP listening port whose connections are L{CoalescingServer}s.
    """

    transport = CoalescingServer

    def __init__(self, *args, **kwargs):
        tcp.Port.__init__(self, *args, **kwargs)
        self.coalescer = WriteCoalescer(self.reactor)


class CoalescingListener:
    """
    A reactor for L{twisted.internet.endpoints.serverFromString}: TCP
    listeners get L{CoalescingPort}s, and everything else (UNIX sockets,
    direct TLS, endpoints from plugins) is the real reactor's.
    """

    def __init__(self, reactor):
        self._reactor = reactor

    def __getattr__(self, name):
        return getattr(self._reactor, name)

    def listenTCP(self, port, factory, backlog=50, interface=""):
        listening = CoalescingPort(port, factory, backlog, interface,
                                   self._reactor)
        listening.startListening()
        return listening
