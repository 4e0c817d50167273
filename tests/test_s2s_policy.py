"""
Federation policy from the configuration (L{jabberd.s2s.policy}), which
stanzas may be bounced (L{jabberd.s2s.federation.mayBounce}), and the
router's unroutable path on a real L{jabberd.server.Server}.
"""

import pytest
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock

from jabberd.config import ConfigError, parseConfig
from jabberd.jid import parseJID
from jabberd.s2s.federation import mayBounce
from jabberd.s2s.srv import Target
from jabberd.server import Server
from jabberd.stanza import Stanza, makeElement
from jabberd.storage import MemoryDatabase, defaultRegistry


def makeServer(tmp_path, options=None, hosts=None, reactor=None):
    hosts = hosts or {
        "fed.example": {"s2s_enabled": True, "s2s_secure_auth": True},
        "local.example": {}}
    for table in hosts.values():
        table["plugins"] = []
    config = parseConfig(dict({"data_dir": str(tmp_path), "hosts": hosts},
                              **(options or {})), "test.toml")
    server = Server(config, reactor or Clock(), MemoryDatabase(),
                    defaultRegistry(), {})
    server.start()
    return server


def test_enabledPerHost(tmp_path):
    policy = makeServer(tmp_path).federation.policy
    assert policy.enabled("fed.example")
    assert not policy.enabled("local.example")
    assert not policy.enabled("elsewhere.example")
    assert policy.anyEnabled()


def test_offByDefault(tmp_path):
    server = makeServer(tmp_path, hosts={"local.example": {}})
    assert not server.federation.policy.anyEnabled()


def test_secureAuthAndInsecureDomains(tmp_path):
    policy = makeServer(tmp_path, {
        "s2s_insecure_domains": ["Legacy.Example"]}).federation.policy
    assert policy.secureAuth("fed.example", "peer.example")
    assert not policy.secureAuth("fed.example", "legacy.example")
    assert not policy.secureAuth("local.example", "peer.example")


def test_requireEncryptionDefault(tmp_path):
    policy = makeServer(tmp_path).federation.policy
    assert policy.requireEncryption("fed.example")
    assert policy.requireEncryption("unknown.example")


def test_blocklistAndRoutesNormalised(tmp_path):
    policy = makeServer(tmp_path, {
        "s2s_blocklist": ["BAD.example."],
        "s2s_routes": {"Peer.Example": "127.0.0.2:5270"}}).federation.policy
    assert policy.blocked("bad.example")
    assert not policy.blocked("good.example")
    assert policy.staticRoute("peer.example") == Target("127.0.0.2", 5270)
    assert policy.staticRoute("other.example") is None


@pytest.mark.parametrize("options, key", [
    ({"s2s_routes": {"peer.example": "host:notaport"}}, "s2s_routes"),
    ({"s2s_routes": {"peer.example": 5269}}, "s2s_routes"),
    ({"s2s_blocklist": ["not a domain!"]}, "s2s_blocklist"),
    ({"s2s_dns_servers": ["dns.example"]}, "s2s_dns_servers"),
    ({"s2s_queue_size": 0}, "s2s_queue_size"),
])
def test_badOptionsRefused(tmp_path, options, key):
    with pytest.raises(ConfigError) as caught:
        makeServer(tmp_path, options)
    assert caught.value.key == key


def test_dnsServers(tmp_path):
    config = makeServer(tmp_path, {"s2s_dns_servers": [
        "127.0.0.1", "127.0.0.1:5353", "[::1]:53"]}).config
    assert config.s2sDnsServers == (("127.0.0.1", 53), ("127.0.0.1", 5353),
                                    ("::1", 53))


def stanza(name, type=None, sender="a@fed.example/r", to="b@far.example"):
    element = makeElement(name, type=type, to=to, id="x")
    element["from"] = sender
    return Stanza(element, parseJID(sender), parseJID(to))


@pytest.mark.parametrize("name, type, expected", [
    ("message", None, True),
    ("message", "error", False),
    ("presence", "subscribe", True),
    ("presence", "error", False),
    ("iq", "get", True),
    ("iq", "set", True),
    ("iq", "result", False),
    ("iq", "error", False),
])
def test_mayBounce(name, type, expected):
    """
    Never an error (RFC 6120 section 8.3.1), never an IQ result.
    """
    assert mayBounce(stanza(name, type)) is expected


class Session:
    """
    A bound session recording what it is given.
    """

    data, encrypted, lastReceived = {}, True, 0

    def __init__(self, jid):
        self.jid = parseJID(jid)
        self.delivered = []

    def deliver(self, element):
        self.delivered.append(element)

    def close(self, condition=None, text=None):
        pass


def condition(element):
    return element.error.firstChildElement().name


def test_nonFederatingHostStillBouncesAtOnce(tmp_path):
    """
    A host without s2s_enabled keeps the old rule: remote-server-not-found
    straight away, without any connection attempt.
    """
    server = makeServer(tmp_path)
    session = Session("a@local.example/r")
    server.hosts["local.example"].sessions.bind(session)
    server.router.route(stanza("message", sender="a@local.example/r"))
    [error] = session.delivered
    assert (error["type"], condition(error)) == ("error",
                                                 "remote-server-not-found")
    assert server.federation.routes == {}


def test_heldStanzasBounceOnTimeout(tmp_path):
    """
    A federating host's stanzas for a remote domain wait in that pair's
    route while it connects; when s2s_connect_timeout passes they bounce
    with remote-server-timeout, except an IQ result; beyond
    s2s_queue_size they bounce at once with resource-constraint.
    """
    reactor = MemoryReactorClock()
    server = makeServer(tmp_path, {"s2s_connect_timeout": 5.0,
                                   "s2s_queue_size": 2,
                                   "s2s_routes": {"far.example": "127.0.0.9"}},
                        reactor=reactor)
    session = Session("a@fed.example/r")
    server.hosts["fed.example"].sessions.bind(session)
    for held in (stanza("message"), stanza("iq", "result")):
        server.router.route(held)
    route = server.federation.routes[("fed.example", "far.example")]
    assert route.state.value == "connecting" and len(route.queue) == 2
    server.router.route(stanza("presence", "subscribe"))
    [full] = session.delivered
    assert (full.name, condition(full)) == ("presence", "resource-constraint")
    reactor.advance(4.9)
    assert len(session.delivered) == 1
    reactor.advance(0.2)
    [_, timedOut] = session.delivered
    assert (timedOut.name, condition(timedOut)) == ("message",
                                                    "remote-server-timeout")
    assert timedOut["from"] == "b@far.example"
    assert route.state.value == "idle" and not route.queue
