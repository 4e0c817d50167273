"""
Public test helpers for jabberd and for plugin authors.

Everything here is public API, kept stable like L{jabberd.plugin} and
L{jabberd.context}: a third-party plugin is tested with the same tools as
ours.

  - Stanza builders: L{parseXML} turns XML text into an element with the
    server's own restricted parser; L{message}, L{presence} and L{iq}
    build stanzas from keyword arguments; L{errorCondition} and L{toXML}
    read them back.
  - L{HostHarness}: a real L{jabberd.server.Server} on memory stores and a
    fake clock (L{HarnessClock}), with the plugins and options you choose.
  - L{FakeClient}: an in-memory connected client, an L{ISession} bound on
    a harness host, whose stanzas take exactly the path of a c2s client's.
  - The store contract helpers of L{jabberd.storage.contract}, re-exported
    (L{BackendMixin}, L{migratedBackend}, ...), to run one store contract
    on memory, SQLite and PostgreSQL.

A plugin test then reads::

    from jabberd.testing import HostHarness, message
    from plugins.echo import echo

    def test_echo():
        with HostHarness([echo]) as harness:
            alice = harness.client("alice@example.org/pc")
            alice.send(message(to="example.org/echo", body="hi"))
            [reply] = alice.take()
            assert str(reply.body) == "hi"
"""

import itertools
import shutil
import tempfile

from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.words.xish import domish
from zope.interface import implementer

from jabberd.bus import SESSION_BOUND
from jabberd.c2s import acceptStanza, bindSession, endSession
from jabberd.config import parseConfig
from jabberd.credentials import deriveCredentials
from jabberd.errors import NS_STANZAS, NS_STREAM, StreamError
from jabberd.jid import parseJID
from jabberd.server import Server
from jabberd.sessions import ISession
from jabberd.storage import MemoryDatabase, defaultRegistry
from jabberd.storage.contract import (
    BACKEND_KINDS, BackendMixin, BackendUnavailable, UserStoreContract,
    credentialsFor, migratedBackend, postgresqlURL, sqliteURL,
    temporaryDirectory)
from jabberd.xml import NS_CLIENT, serialize
from jabberd.xmlparser import XMLStreamParser

__all__ = [
    "BACKEND_KINDS", "BackendMixin", "BackendUnavailable", "DOMAIN",
    "FakeClient", "HarnessClock", "HostHarness", "UserStoreContract",
    "credentialsFor", "errorCondition", "iq", "message", "migratedBackend",
    "parseXML", "postgresqlURL", "presence", "sqliteURL",
    "temporaryDirectory", "toXML",
]

#: The domain a harness serves unless told otherwise.
DOMAIN = "example.org"

_ids = itertools.count(1)


# -- stanza builders ----------------------------------------------------------


def parseXML(text, namespace=NS_CLIENT):
    """
    Parse one element from XML text, with the restricted parser the server
    uses on its streams (so what it refuses, this refuses too).

    @param namespace: the default namespace around the text, as on a
        stream; C{jabber:client} like a client's.
    @return: the L{domish.Element}.
    @raise ValueError: the text is not exactly one well-formed element.
    """
    elements = []
    parser = XMLStreamParser(lambda attributes, ns: None, elements.append,
                             lambda: None, 1 << 24, 1000)
    header = "<stream:stream xmlns='%s' xmlns:stream='%s'>" % (
        namespace, NS_STREAM)
    try:
        parser.feed((header + text).encode("utf-8"))
    except StreamError as e:
        raise ValueError("not well-formed XML (%s): %r"
                         % (e.condition, text)) from None
    if len(elements) != 1:
        raise ValueError("expected exactly one element: %r" % (text,))
    return elements[0]


def _child(child):
    """
    An element from an element, XML text, or a C{(namespace, name)} pair.
    """
    if isinstance(child, str):
        return parseXML(child)
    if isinstance(child, tuple):
        return domish.Element(child)
    return child


def _stanza(name, attributes, children):
    """
    Build a stanza; attribute names may end in C{_} (C{from_}) and
    C{None} values are left out.
    """
    element = domish.Element((NS_CLIENT, name))
    for key, value in attributes.items():
        if value is not None:
            element[key.rstrip("_")] = str(value)
    for child in children:
        element.addChild(_child(child))
    return element


def message(to=None, body=None, type=None, id=None, children=(),
            **attributes):
    """
    A C{<message/>} (RFC 6120 section 8.2.1).

    @param body: the text of its C{<body/>}, if any.
    @param children: more child elements, as elements, XML text or
        C{(namespace, name)} pairs.
    @param attributes: more attributes; write C{from_} for C{from}.
    """
    element = _stanza("message",
                      {"to": to, "type": type, "id": id, **attributes}, ())
    if body is not None:
        element.addElement("body", content=body)
    for child in children:
        element.addChild(_child(child))
    return element


def presence(to=None, type=None, id=None, children=(), **attributes):
    """
    A C{<presence/>}; without C{to} it is a broadcast (RFC 6121 section
    4.2).  Arguments as for L{message}.
    """
    return _stanza("presence",
                   {"to": to, "type": type, "id": id, **attributes}, children)


def iq(type, payload=None, to=None, id=None, **attributes):
    """
    An C{<iq/>} (RFC 6120 section 8.2.3) with a fresh C{id} unless given.

    @param payload: its child: an element, XML text such as
        C{"<query xmlns='jabber:iq:version'/>"}, or a C{(namespace, name)}
        pair.
    """
    if id is None:
        id = "iq%d" % (next(_ids),)
    children = () if payload is None else (payload,)
    return _stanza("iq", {"type": type, "to": to, "id": id, **attributes},
                   children)


def errorCondition(element):
    """
    The defined condition of an error stanza (RFC 6120 section 8.3.3),
    e.g. C{"service-unavailable"}; C{None} if it is not an error.
    """
    if element.getAttribute("type") != "error" or element.error is None:
        return None
    for child in element.error.elements():
        if child.uri == NS_STANZAS and child.name != "text":
            return child.name
    return None


def toXML(element):
    """
    C{element} as a client would read it on its stream.
    """
    return serialize(element, NS_CLIENT)


# -- the fake reactor ---------------------------------------------------------


class _ImmediateThreadPool:
    """
    A thread pool that runs work at once, on the calling thread.
    """

    def callInThreadWithCallback(self, onResult, f, *args, **kwargs):
        try:
            result = f(*args, **kwargs)
        except BaseException:
            onResult(False, Failure())
        else:
            onResult(True, result)

    def callInThread(self, f, *args, **kwargs):
        f(*args, **kwargs)


class HarnessClock(Clock):
    """
    A L{Clock} that also runs "threaded" work at once, so that code which
    defers work to the reactor's thread pool (password derivation, ...)
    finishes synchronously in tests.  Time moves only by L{advance}.
    """

    def callFromThread(self, f, *args, **kwargs):
        f(*args, **kwargs)

    def callInThread(self, f, *args, **kwargs):
        f(*args, **kwargs)

    def getThreadPool(self):
        return _ImmediateThreadPool()


# -- the host harness ---------------------------------------------------------


def _factoryMap(factories):
    if factories is None:
        from jabberd.loader import discoverPlugins
        return discoverPlugins()
    if isinstance(factories, dict):
        return dict(factories)
    return {factory.name: factory for factory in factories}


class HostHarness:
    """
    A real server with memory stores and a fake clock.

    @ivar server: the L{jabberd.server.Server}.
    @ivar clock: its L{HarnessClock}.
    @ivar database: its L{MemoryDatabase}.
    @ivar factories: plugin name to factory, as the server knows them.
    @ivar dataDir: a temporary directory (certificates), removed by
        L{close}.
    """

    def __init__(self, factories=None, plugins=None, options=None,
                 domains=(DOMAIN,), hosts=None, settings=None):
        """
        @param factories: the plugin factories the server knows: a list,
            a name-to-factory mapping, or C{None} for every installed one.
        @param plugins: names enabled on every domain; by default all of
            C{factories} if given, else the server's default (C{ping}).
        @param options: plugin name to its options (C{[plugin.<name>]}).
        @param domains: the domains served.
        @param hosts: C{[hosts."<domain>"]} tables (dicts) instead of
            C{domains} and C{plugins}, for hosts that differ.
        @param settings: global options, e.g. C{{"max_stanza_size": 8192}}.
        """
        self.factories = _factoryMap(factories)
        if plugins is None and factories is not None:
            plugins = list(self.factories)
        self.dataDir = tempfile.mkdtemp(prefix="jabberd-harness-")
        self.clock = HarnessClock()
        self.database = MemoryDatabase()
        self.config = self.makeConfig(plugins, options, domains, hosts,
                                      settings)
        self.server = Server(self.config, self.clock, self.database,
                             defaultRegistry(), self.factories)
        self.server.start()

    def makeConfig(self, plugins=None, options=None, domains=(DOMAIN,),
                   hosts=None, settings=None):
        """
        A validated L{jabberd.config.ServerConfig} from the arguments of
        L{__init__} (a plugin's C{parseConfig} runs when it is applied).
        """
        if hosts is None:
            table = {} if plugins is None else {"plugins": list(plugins)}
            hosts = {domain: dict(table) for domain in domains}
        data = dict(settings or {}, data_dir=self.dataDir, hosts=hosts)
        if options:
            data["plugin"] = options
        return parseConfig(data, "<harness>")

    def reconfigure(self, plugins=None, options=None, domains=(DOMAIN,),
                    hosts=None, settings=None):
        """
        Apply a new config as a C{SIGHUP} would (L{Server.reload}):
        plugins switched on, off or reconfigured, hosts added or removed.

        @raise jabberd.config.ConfigError: refused whole, nothing changed.
        """
        config = self.makeConfig(plugins, options, domains, hosts, settings)
        self.server.reload(config)
        self.config = config

    @property
    def host(self):
        """
        The first domain's L{jabberd.host.VirtualHost}.
        """
        return next(iter(self.server.hosts.values()))

    def hostFor(self, domain):
        """
        The L{jabberd.host.VirtualHost} serving C{domain}.
        """
        return self.server.hosts[domain]

    def plugin(self, name, domain=None):
        """
        The instance of plugin C{name} on C{domain} (default: the first).

        @raise KeyError: it is not enabled there.
        """
        host = self.host if domain is None else self.hostFor(domain)
        return host.plugins[name][1]

    def client(self, jid, connect=True):
        """
        A L{FakeClient} for full JID C{jid} (a bare JID gets resource
        C{test}), connected unless C{connect} is false.
        """
        jid = parseJID(jid)
        if jid.resource is None:
            jid = parseJID(jid.userhost() + "/test")
        client = FakeClient(self.hostFor(jid.host), jid)
        if connect:
            client.connect()
        return client

    def addUser(self, jid, password="password"):
        """
        Create the account C{jid} (a bare JID) on its host.
        """
        jid = parseJID(jid)
        d = self.hostFor(jid.host).accounts.createUser(
            jid.user, deriveCredentials(password))
        return self.resultOf(d)

    def resultOf(self, d):
        """
        The result of a L{Deferred} that has fired (memory stores fire at
        once); its failure is raised.

        @raise AssertionError: it has not fired yet.
        """
        results = []
        d.addBoth(results.append)
        if not results:
            raise AssertionError("%r has not fired" % (d,))
        if isinstance(results[0], Failure):
            results[0].raiseException()
        return results[0]

    def advance(self, seconds):
        """
        Move the fake clock on, running what falls due.
        """
        self.clock.advance(seconds)

    def close(self):
        """
        Stop the server and remove the temporary directory.
        """
        self.server.stop()
        shutil.rmtree(self.dataDir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- the in-memory client -----------------------------------------------------


@implementer(ISession)
class FakeClient:
    """
    A connected client without a socket: it binds, sends and closes the
    way a c2s stream does (the same functions of L{jabberd.c2s}), and
    records what the server delivers to it.

    @ivar host: the L{jabberd.host.VirtualHost} it is bound on.
    @ivar jid: its full JID.
    @ivar received: the stanza elements delivered to it, oldest first.
    @ivar closed: C{None}, or C{(condition, text)} once the server closed
        the stream (C{condition} C{None} for a plain close).
    @ivar bound: whether it is bound now.
    """

    encrypted = True

    def __init__(self, host, jid):
        self.host = host
        self.jid = parseJID(jid) if isinstance(jid, str) else jid
        self.data = {}
        self.lastReceived = host.reactor.seconds()
        self.received = []
        self.closed = None
        self.bound = False

    def connect(self):
        """
        Bind the resource: plugins prepare the session
        (C{SESSION_BINDING}), it is registered (a previous session with
        the same JID gets C{<conflict/>}) and C{SESSION_BOUND} fires.

        @return: a L{Deferred} that fires when bound.
        """
        d = self.host.prepareSession(self)
        d.addCallback(lambda _: self._bound())
        return d

    def _bound(self):
        bindSession(self.host, self)
        self.bound = True
        self.closed = None
        self.host.bus.notify(SESSION_BOUND, self)
        return self

    def disconnect(self):
        """
        The client goes away: unbound, C{SESSION_CLOSED} fires.
        """
        if not self.bound:
            return
        self.bound = False
        endSession(self.host, self, Failure(ConnectionDone()))

    def send(self, element):
        """
        Send a stanza (an element or XML text) as the client would: its
        C{from} is checked and stamped, then the host's outbound phase.
        A forged C{from} closes the session with C{<invalid-from/>}.

        @return: the element sent.
        """
        if isinstance(element, str):
            element = parseXML(element)
        if not self.bound:
            raise RuntimeError("%s is not connected" % (self.jid.full(),))
        self.lastReceived = self.host.reactor.seconds()
        try:
            acceptStanza(self.host, self, element)
        except StreamError as error:
            self.close(error.condition, error.text)
        return element

    def request(self, element):
        """
        Send an IQ request and take its response from L{received}.

        @return: the response element, or C{None} if none came (yet).
        """
        element = self.send(element)
        stanzaID = element["id"]
        for reply in self.received:
            if (reply.name == "iq" and reply.getAttribute("id") == stanzaID
                    and reply.getAttribute("type") in ("result", "error")):
                self.received.remove(reply)
                return reply
        return None

    def take(self):
        """
        Return what was received so far, and forget it.
        """
        received, self.received = self.received, []
        return received

    def deliver(self, element):
        """
        L{ISession.deliver}: record the stanza.
        """
        if self.bound:
            self.received.append(element)

    def close(self, condition=None, text=None):
        """
        L{ISession.close}: record why, and disconnect.
        """
        self.closed = (condition, text)
        self.disconnect()

    def __repr__(self):
        return "<FakeClient %s>" % (self.jid.full(),)
