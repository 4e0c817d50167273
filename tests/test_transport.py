"""
Tests for L{jabberd.transport}: TCP connections that send what they were
given in one reactor turn at its end, over real loopback sockets.
"""

import socket
import struct

from twisted.internet import defer, error, protocol, reactor
from twisted.internet.endpoints import serverFromString
from twisted.trial.unittest import TestCase

from jabberd.transport import CoalescingListener, CoalescingServer


class Writer(protocol.Protocol):
    """
    On connection, runs C{factory.script(transport)} in that same turn.
    """

    def connectionMade(self):
        self.factory.transports.append(self.transport)
        self.factory.script(self.transport)

    def connectionLost(self, reason):
        self.factory.lost.callback(reason.value)


class Collector(protocol.Protocol):
    """
    A plain Twisted client that keeps everything it receives.
    """

    def __init__(self):
        self.received = []
        self.done = defer.Deferred()

    def dataReceived(self, data):
        self.received.append(data)

    def connectionLost(self, reason):
        self.done.callback(b"".join(self.received))


class CoalescingTests(TestCase):

    @defer.inlineCallbacks
    def listen(self, script):
        factory = protocol.Factory.forProtocol(Writer)
        factory.script = script
        factory.transports = []
        factory.lost = defer.Deferred()
        endpoint = serverFromString(CoalescingListener(reactor),
                                    "tcp:0:interface=127.0.0.1")
        port = yield endpoint.listen(factory)
        self.addCleanup(port.stopListening)
        self.factory = factory
        return port.getHost().port

    @defer.inlineCallbacks
    def receiveAll(self, script):
        """
        Connect a client to a listener running C{script} and return what it
        received until the server closed.
        """
        portNumber = yield self.listen(script)
        client = Collector()
        yield protocol.ClientCreator(reactor, lambda: client).connectTCP(
            "127.0.0.1", portNumber)
        data = yield client.done
        return data

    @defer.inlineCallbacks
    def test_transportClass(self):
        """
        TCP listeners made through L{CoalescingListener} accept
        L{CoalescingServer} connections.
        """
        yield self.receiveAll(lambda t: t.loseConnection())
        self.assertIsInstance(self.factory.transports[0], CoalescingServer)

    @defer.inlineCallbacks
    def test_manyWritesInOrder(self):
        """
        Many writes in one turn arrive whole and in order, and a close in
        the same turn comes after them.
        """
        def script(transport):
            for i in range(2000):
                transport.write(b"%d," % (i,))
            transport.loseConnection()
        data = yield self.receiveAll(script)
        self.assertEqual(data, b"".join(b"%d," % (i,) for i in range(2000)))

    @defer.inlineCallbacks
    def test_moreThanTheSocketTakes(self):
        """
        A write larger than the kernel's socket buffer is sent in full:
        what the socket does not take at the end of the turn waits for
        writability the usual way.
        """
        payload = bytes(range(256)) * (16 * 1024)   # 4 MiB

        def script(transport):
            transport.write(payload)
            transport.loseConnection()
        data = yield self.receiveAll(script)
        self.assertEqual(len(data), len(payload))
        self.assertEqual(data, payload)

    @defer.inlineCallbacks
    def test_writesInLaterTurns(self):
        """
        Writes made in later turns (timers, after the first flush) go out
        too.
        """
        def script(transport):
            transport.write(b"first,")
            reactor.callLater(0.01, transport.write, b"second,")
            reactor.callLater(0.02, transport.write, b"third")
            reactor.callLater(0.03, transport.loseConnection)
        data = yield self.receiveAll(script)
        self.assertEqual(data, b"first,second,third")

    @defer.inlineCallbacks
    def test_peerGone(self):
        """
        Writing to a connection the peer reset ends it: the protocol sees
        C{connectionLost}, nothing hangs.
        """
        portNumber = yield self.listen(lambda transport: None)
        raw = socket.create_connection(("127.0.0.1", portNumber))
        # Close with a reset (SO_LINGER 0) once the server has accepted.
        while not self.factory.transports:
            yield deferLater(0.01)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                       struct.pack("ii", 1, 0))
        raw.close()
        yield deferLater(0.05)
        transport = self.factory.transports[0]
        for _ in range(50):
            if self.factory.lost.called:
                break
            transport.write(b"x" * 65536)
            yield deferLater(0.01)
        reason = yield self.factory.lost
        self.assertIsInstance(reason, error.ConnectionClosed)


def deferLater(seconds):
    d = defer.Deferred()
    reactor.callLater(seconds, d.callback, None)
    return d
