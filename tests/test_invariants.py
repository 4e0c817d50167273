"""
The invariants the server's speed rests on (bench/README.md), checked on
a real server over real TCP with SQLite storage:

  - once a user's credentials and roster are in memory, logging in
    executes no SQL statement;
  - routing messages between bound sessions executes none;
  - stanza content is never logged, and routing logs nothing per stanza,
    even at the C{debug} level.

Statements are counted with SQLAlchemy's C{before_cursor_execute} event,
log events with an observer on Twisted's global log publisher.
"""

import re
import socket
from base64 import b64decode, b64encode

from scramp import ScramClient
from sqlalchemy import event
from twisted.internet import reactor, task, threads
from twisted.internet.defer import inlineCallbacks
from twisted.internet.endpoints import serverFromString
from twisted.logger import LogLevel, formatEvent, globalLogPublisher
from twisted.trial.unittest import TestCase

from jabberd.c2s import ClientStreamFactory
from jabberd.config import parseConfig
from jabberd.credentials import deriveCredentials
from jabberd.loader import discoverPlugins
from jabberd.logsetup import setLevel
from jabberd.server import Server
from jabberd.storage.contract import BackendMixin, temporaryDirectory
from jabberd.storage.registry import defaultRegistry
from jabberd.transport import CoalescingListener

DOMAIN = "example.org"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
HEADER = ("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
          "xmlns:stream='http://etherx.jabber.org/streams' to='%s' "
          "version='1.0'>" % (DOMAIN,))
PASSWORD = "invariant password"
MARKER = "zq-secret-body-7731"


class Wire:
    """
    A blocking client socket (run in a thread while the reactor serves).
    """

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.pending = ""

    def send(self, text):
        self.sock.sendall(text.encode())

    def read(self, pattern):
        regex = re.compile(pattern, re.DOTALL)
        while True:
            match = regex.search(self.pending)
            if match:
                self.pending = self.pending[match.end():]
                return match
            chunk = self.sock.recv(65536)
            assert chunk, "closed: " + self.pending
            self.pending += chunk.decode()

    def login(self, user, resource):
        """
        Stream, SCRAM-SHA-1, restart, bind, session (RFC 6120).
        """
        self.send(HEADER)
        self.read("</stream:features>")
        scram = ScramClient(["SCRAM-SHA-1"], user, PASSWORD)
        self.send("<auth xmlns='%s' mechanism='SCRAM-SHA-1'>%s</auth>" % (
            NS_SASL, b64encode(scram.get_client_first().encode()).decode()))
        challenge = self.read("<challenge[^>]*>([^<]*)</challenge>").group(1)
        scram.set_server_first(b64decode(challenge).decode())
        self.send("<response xmlns='%s'>%s</response>" % (
            NS_SASL, b64encode(scram.get_client_final().encode()).decode()))
        final = self.read("<success[^>]*>([^<]*)</success>").group(1)
        scram.set_server_final(b64decode(final).decode())
        self.send(HEADER)
        self.read("</stream:features>")
        self.send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:"
                  "xmpp-bind'><resource>%s</resource></bind></iq>" % (resource,))
        self.read("<jid>[^<]*</jid>")
        self.send("<iq type='set' id='s'><session xmlns='urn:ietf:params:xml:"
                  "ns:xmpp-session'/></iq>")
        self.read("id='s'[^>]*/>")
        return self

    def close(self):
        self.send("</stream:stream>")
        self.sock.close()


class HotPathTests(BackendMixin, TestCase):

    backendKind = "sqlite"

    @inlineCallbacks
    def setUp(self):
        yield BackendMixin.setUp(self)
        config = parseConfig({
            "data_dir": temporaryDirectory(self),
            "hosts": {DOMAIN: {"plugins": ["roster", "presence", "message"],
                               "c2s_require_encryption": False,
                               "sasl_mechanisms": ["SCRAM-SHA-1"]}}},
            "<test>")
        self.server = Server(config, reactor, self.backend, defaultRegistry(),
                             discoverPlugins())
        self.server.start()
        self.addCleanup(self.server.stop)
        host = self.server.hosts[DOMAIN]
        for user in ("alice", "bob"):
            yield host.accounts.createUser(user, deriveCredentials(PASSWORD))
        endpoint = serverFromString(CoalescingListener(reactor),
                                    "tcp:0:interface=127.0.0.1")
        port = yield endpoint.listen(ClientStreamFactory(self.server))
        self.addCleanup(port.stopListening)
        self.port = port.getHost().port
        self.statements = []
        event.listen(self.backend.engine, "before_cursor_execute",
                     self._executed)
        self.addCleanup(event.remove, self.backend.engine,
                        "before_cursor_execute", self._executed)

    def _executed(self, connection, cursor, statement, *args):
        self.statements.append(statement)

    def inThread(self, function, *args):
        return threads.deferToThread(function, *args)

    @inlineCallbacks
    def test_warmLoginRunsNoSQL(self):
        """
        The first login reads the credentials and the roster; logging in
        again runs no SQL at all.
        """
        first = yield self.inThread(lambda: Wire(self.port).login("alice", "a"))
        first.close()
        self.assertNotEqual(self.statements, [])
        del self.statements[:]
        again = yield self.inThread(lambda: Wire(self.port).login("alice", "b"))
        again.close()
        self.assertEqual(self.statements, [])

    @inlineCallbacks
    def test_routingRunsNoSQLAndLogsNothing(self):
        """
        A hundred messages between two bound sessions, to full and bare
        JIDs, execute no SQL, and even at the C{debug} level nothing is
        logged per message and no body reaches the log.
        """
        alice = yield self.inThread(lambda: Wire(self.port).login("alice", "a"))
        bob = yield self.inThread(lambda: Wire(self.port).login("bob", "b"))
        for wire in (alice, bob):
            # Available (RFC 6121 section 4.2), so bare-JID messages are
            # delivered; the server echoes the presence.
            wire.send("<presence/>")
            yield self.inThread(wire.read, "<presence\\b[^>]*(/>|>.*?</presence>)")
        # Initial presence fetches stored offline messages (XEP-0160):
        # let both fetches finish before counting.
        for _ in range(500):
            if sum("offline_messages" in s for s in self.statements) >= 2:
                break
            yield task.deferLater(reactor, 0.01, lambda: None)
        yield task.deferLater(reactor, 0.1, lambda: None)
        events = []
        setLevel(LogLevel.debug)
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        del self.statements[:]

        def exchange():
            for n in range(100):
                to = "bob@%s/b" % (DOMAIN,) if n % 2 else "bob@%s" % (DOMAIN,)
                alice.send("<message type='chat' to='%s' id='m%d'><body>%s %d"
                           "</body></message>" % (to, n, MARKER, n))
            for n in range(100):
                bob.read("<message [^>]*id='m%d'.*?</message>" % (n,))

        yield self.inThread(exchange)
        alice.close()
        bob.close()
        self.assertEqual(self.statements, [])
        texts = [formatEvent(e) + repr(e) for e in events]
        self.assertEqual([t for t in texts if MARKER in t], [])
        self.assertLess(len(events), 10, texts)
