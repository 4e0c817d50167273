"""
Tests for the echo plugin, written with jabberd's public test helpers
(L{jabberd.testing}): a real jabberd server on memory stores with a fake
clock, in-memory clients, and the store contract on real backends.
"""

import pytest
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase
from zope.interface.verify import verifyObject

from jabberd.config import ConfigError
from jabberd.testing import (
    BackendMixin, HostHarness, errorCondition, iq, message)
from plugins.echo import NS_ECHO, IEchoCounter, echo

ECHO = "example.org/echo"


@pytest.fixture
def harness():
    with HostHarness([echo], options={"echo": {"prefix": "> "}}) as harness:
        yield harness


@pytest.fixture
def alice(harness):
    return harness.client("alice@example.org/pc")


def test_echo(alice):
    alice.send(message(to=ECHO, body="hello", type="chat", id="m1"))
    [reply] = alice.take()
    assert reply.attributes == {"to": "alice@example.org/pc", "type": "chat",
                                "id": "m1", "from": ECHO}
    assert str(reply.body) == "> hello"


def test_echoKeepsThread(alice):
    alice.send(message(to=ECHO, body="x",
                       children=["<thread>t-1</thread>"]))
    [reply] = alice.take()
    assert str(reply.thread) == "t-1"
    assert "type" not in reply.attributes


def test_withoutBodyNothingHappens(alice):
    alice.send(message(to=ECHO, children=[
        "<active xmlns='http://jabber.org/protocol/chatstates'/>"]))
    alice.send(message(to=ECHO, type="error", body="x"))
    assert alice.take() == []


def test_otherResourcesPassedOn(alice):
    """
    Messages to the domain that are not for us are left to the server,
    which refuses them.
    """
    alice.send(message(to="example.org/other", body="x"))
    [error] = alice.take()
    assert errorCondition(error) == "service-unavailable"


def test_tooLong():
    with HostHarness([echo], options={"echo": {"max_length": 3}}) as h:
        alice = h.client("alice@example.org/pc")
        alice.send(message(to=ECHO, body="four", id="long"))
        [error] = alice.take()
        assert errorCondition(error) == "not-acceptable"
        assert error["id"] == "long"


def test_count(harness, alice):
    bob = harness.client("bob@example.org/phone")
    for _ in range(2):
        alice.send(message(to=ECHO, body="x"))
    bob.send(message(to=ECHO, body="y"))
    reply = alice.request(iq("get", (NS_ECHO, "count"), to="example.org"))
    assert (reply["type"], str(reply.count)) == ("result", "2")
    reply = bob.request(iq("get", (NS_ECHO, "count"), to="example.org"))
    assert str(reply.count) == "1"


def test_greeting():
    with HostHarness([echo], options={"echo": {"greeting": "Hi!"}}) as h:
        alice = h.client("alice@example.org/pc")
        [greeting] = alice.take()
        assert greeting["type"] == "headline"
        assert (greeting["from"], str(greeting.body)) == (ECHO, "Hi!")


def test_noGreetingByDefault(alice):
    assert alice.take() == []


def test_ownResource():
    with HostHarness([echo], options={"echo": {"resource": "bot"}}) as h:
        alice = h.client("alice@example.org/pc")
        alice.send(message(to="example.org/bot", body="x"))
        assert alice.take()[0]["from"] == "example.org/bot"


def test_onlyWhereEnabled():
    with HostHarness([echo], hosts={"example.org": {"plugins": ["echo"]},
                                    "example.net": {"plugins": []}}) as h:
        alice = h.client("alice@example.org/pc")
        alice.send(message(to="example.net/echo", body="x"))
        assert errorCondition(alice.take()[0]) == "service-unavailable"
        alice.send(message(to=ECHO, body="x"))
        assert str(alice.take()[0].body) == "x"


def test_disabledByReload(harness, alice):
    harness.reconfigure(plugins=[])
    alice.send(message(to=ECHO, body="x"))
    assert errorCondition(alice.take()[0]) == "service-unavailable"
    assert NS_ECHO not in harness.host.features


@pytest.mark.parametrize("options, key", [
    ({"resource": ""}, "resource"),
    ({"max_length": 0}, "max_length"),
    ({"prefix": 3}, "prefix"),
    ({"colour": "red"}, "colour"),
])
def test_badOptions(options, key):
    with pytest.raises(ConfigError) as info:
        HostHarness([echo], options={"echo": options})
    assert str(info.value).split(": ")[1].endswith("plugin.echo." + key)


# -- the store contract, on each backend --------------------------------------


class EchoCounterContract(BackendMixin):
    """
    What every L{IEchoCounter} implementation must do.
    """

    def counter(self, domain="example.org"):
        from jabberd.storage import StoreRegistry
        registry = StoreRegistry()
        registry.register(IEchoCounter, *echo.stores[IEchoCounter])
        return self.openStore(IEchoCounter, domain, registry)

    def test_interface(self):
        verifyObject(IEchoCounter, self.counter())

    @inlineCallbacks
    def test_counts(self):
        counter = self.counter()
        self.assertEqual((yield counter.count("a@example.org")), 0)
        self.assertEqual((yield counter.increment("a@example.org")), 1)
        self.assertEqual((yield counter.increment("a@example.org")), 2)
        self.assertEqual((yield counter.count("a@example.org")), 2)
        self.assertEqual((yield counter.count("b@example.org")), 0)

    @inlineCallbacks
    def test_domainsApart(self):
        yield self.counter("a.example").increment("x@y")
        self.assertEqual((yield self.counter("b.example").count("x@y")), 0)
        self.assertEqual((yield self.counter("a.example").count("x@y")), 1)


class MemoryEchoCounterTests(EchoCounterContract, TestCase):
    backendKind = "memory"


class SQLiteEchoCounterTests(EchoCounterContract, TestCase):
    backendKind = "sqlite"
