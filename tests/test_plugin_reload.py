"""
Plugins switched on, off and reconfigured per domain by a config reload
(L{jabberd.server.Server.reload}), on the public test harness: sessions
stay, dependents follow what they require, a plugin that fails to attach
is left off without taking its domain down.
"""

import pytest
from twisted.logger import formatEvent, globalLogPublisher
from twisted.words.xish import domish
from zope.interface import Interface, implementer

from jabberd.bus import Address
from jabberd.plugin import IDetachable, PluginFactory
from jabberd.testing import HostHarness, errorCondition, iq, message
from plugins.ping import NS_PING, ping

NS_PROBE = "urn:test:probe"


class IGreeting(Interface):
    """
    What the C{greeter} plugin offers the other plugins of its host.
    """


@implementer(IDetachable)
class Greeter:
    """
    Provides L{IGreeting} with its configured text; fails to start when
    its C{fail} option says so.
    """

    def __init__(self, context):
        if context.config["fail"]:
            raise RuntimeError("greeter told to fail")
        self.text = context.config["text"]
        self.detachedCalls = 0
        context.provide(IGreeting, self)

    def detached(self):
        self.detachedCalls += 1


class GreeterFactory(PluginFactory):
    name = "greeter"
    options = {"text": "hello", "fail": False}
    instanceClass = Greeter


class Announcer:
    """
    Requires C{greeter}: answers C{<query xmlns='urn:test:probe'/>} at the
    domain with the greeting it looked up when it attached.
    """

    def __init__(self, context):
        self.greeting = context.lookup(IGreeting)
        context.handleIQ("get", NS_PROBE, "query", self.queried,
                         Address.HOST)

    def queried(self, stanza):
        answer = domish.Element((NS_PROBE, "query"))
        answer.addContent(self.greeting.text)
        return answer


class AnnouncerFactory(PluginFactory):
    name = "announcer"
    requires = ("greeter",)
    instanceClass = Announcer


FACTORIES = [ping, GreeterFactory(), AnnouncerFactory()]
ORG, NET = "example.org", "example.net"


def hosts(org, net=("ping",), orgOptions=None):
    table = {"plugins": list(org)}
    if orgOptions:
        table["plugin"] = orgOptions
    return {ORG: table, NET: {"plugins": list(net)}}


@pytest.fixture
def harness():
    with HostHarness(FACTORIES, hosts=hosts(["ping"])) as harness:
        yield harness


@pytest.fixture
def errors():
    events = []

    def observer(event):
        if event.get("log_level") is not None and \
                event["log_level"].name in ("error", "critical"):
            events.append(event)

    globalLogPublisher.addObserver(observer)
    yield events
    globalLogPublisher.removeObserver(observer)


def ping_(client, domain=ORG):
    return client.request(iq("get", (NS_PING, "ping"), to=domain))


def probe(client):
    reply = client.request(iq("get", (NS_PROBE, "query"), to=ORG))
    if reply["type"] == "error":
        return errorCondition(reply)
    return str(reply.query)


def test_disableAndEnableKeepsSessions(harness):
    alice = harness.client("alice@example.org/pc")
    bob = harness.client("bob@example.org/laptop")
    harness.reconfigure(hosts=hosts([]))
    assert errorCondition(ping_(alice)) == "service-unavailable"
    assert ping_(alice, NET)["type"] == "result"
    harness.reconfigure(hosts=hosts(["ping"]))
    assert ping_(alice)["type"] == "result"
    alice.send(message(to="bob@example.org", body="still here"))
    assert str(bob.take()[0].body) == "still here"
    assert alice.bound and alice.closed is None
    assert bob.bound and bob.closed is None


def test_enableOnOneDomainOnly(harness):
    harness.reconfigure(hosts=hosts(["ping"], net=[]))
    alice = harness.client("alice@example.org/pc")
    assert ping_(alice)["type"] == "result"
    assert errorCondition(ping_(alice, NET)) == "service-unavailable"


def test_unchangedPluginsKept(harness):
    harness.reconfigure(hosts=hosts(["ping", "greeter", "announcer"]))
    before = dict(harness.host.plugins)
    harness.reconfigure(hosts=hosts(["ping", "greeter", "announcer"]))
    assert harness.host.plugins == before


def test_reconfigureMakesNewInstance(harness):
    alice = harness.client("alice@example.org/pc")
    harness.reconfigure(hosts=hosts(["greeter", "announcer"]))
    old = harness.plugin("greeter")
    assert probe(alice) == "hello"
    harness.reconfigure(hosts=hosts(["greeter", "announcer"], orgOptions={
        "greeter": {"text": "bonjour"}}))
    assert old.detachedCalls == 1
    assert harness.plugin("greeter") is not old
    assert probe(alice) == "bonjour"


def test_dependentsFollowTheirRequirement(harness):
    """
    A plugin that requires a reconfigured one is attached afresh too, so
    it does not keep what the old instance provided.
    """
    harness.reconfigure(hosts=hosts(["greeter", "announcer"]))
    announcer = harness.plugin("announcer")
    harness.reconfigure(hosts=hosts(["greeter", "announcer"], orgOptions={
        "greeter": {"text": "salut"}}))
    assert harness.plugin("announcer") is not announcer
    assert harness.plugin("announcer").greeting is harness.plugin("greeter")


def test_failingPluginLeftOff(harness, errors):
    """
    A plugin that raises while attaching on reload is reported and left
    off; the domain and its other plugins carry on.  Fixing its options
    on the next reload attaches it.
    """
    alice = harness.client("alice@example.org/pc")
    harness.reconfigure(hosts=hosts(["ping", "greeter"], orgOptions={
        "greeter": {"fail": True}}))
    assert list(harness.host.plugins) == ["ping"]
    assert any("greeter failed to attach" in formatEvent(event)
               for event in errors)
    assert ping_(alice)["type"] == "result"
    assert alice.bound
    harness.reconfigure(hosts=hosts(["ping", "greeter"]))
    assert list(harness.host.plugins) == ["ping", "greeter"]


def test_dependentOfFailedPluginLeftOff(harness, errors):
    alice = harness.client("alice@example.org/pc")
    harness.reconfigure(hosts=hosts(["ping", "greeter", "announcer"],
                                    orgOptions={"greeter": {"fail": True}}))
    assert list(harness.host.plugins) == ["ping"]
    messages = [formatEvent(event) for event in errors]
    assert any("announcer left off on example.org: it requires greeter"
               in text for text in messages)
    assert probe(alice) == "service-unavailable"
    harness.reconfigure(hosts=hosts(["ping", "greeter", "announcer"]))
    assert probe(alice) == "hello"


def test_disablingRequirementRefused(harness):
    """
    A config that keeps a plugin but drops what it requires is refused
    whole, so nothing changes.
    """
    from jabberd.config import ConfigError
    harness.reconfigure(hosts=hosts(["greeter", "announcer"]))
    plugins = dict(harness.host.plugins)
    with pytest.raises(ConfigError):
        harness.reconfigure(hosts=hosts(["announcer"]))
    assert harness.host.plugins == plugins
