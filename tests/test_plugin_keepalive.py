"""
Tests for L{plugins.keepalive}: the server pings idle clients (XEP-0199
section 4.1) and closes those that do not answer, on a fake clock.
"""

import math

import pytest

from jabberd.plugin import PluginConfigError
from jabberd.testing import HostHarness, iq, message, parseXML
from plugins.keepalive import keepalive, sweepInterval
from plugins.ping import NS_PING

ORG = "example.org"


@pytest.fixture
def harness():
    options = {"keepalive": {"idle_after": 100.0, "timeout": 20}}
    with HostHarness([keepalive], options=options) as harness:
        yield harness


@pytest.fixture
def alice(harness):
    return harness.client("alice@example.org/pc")


def pings(client):
    return [stanza for stanza in client.take()
            if stanza.name == "iq" and stanza.ping is not None]


def answer(client, ping, type="result"):
    """
    Answer a ping: a result, or the error of a client without ping.
    """
    reply = iq(type, to=ping["from"], id=ping["id"])
    if type == "error":
        reply.addChild(parseXML(
            "<error type='cancel'><service-unavailable "
            "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"))
    client.send(reply)


def test_idleSessionPinged(harness, alice):
    """
    A session silent for idle_after seconds gets a ping from the domain,
    and only one while it is pending.
    """
    harness.advance(90)
    assert pings(alice) == []
    harness.advance(20)
    [ping] = pings(alice)
    assert ping["type"] == "get" and ping["from"] == ORG
    assert ping["to"] == "alice@example.org/pc"
    assert ping.ping.uri == NS_PING
    harness.advance(10)
    assert pings(alice) == []


def test_activeSessionNotPinged(harness, alice):
    for _ in range(10):
        harness.advance(60)
        alice.send(message(to="bob@example.org", body="still here"))
    assert pings(alice) == []


def test_answeredPingKeepsSession(harness, alice):
    harness.advance(110)
    [ping] = pings(alice)
    answer(alice, ping)
    harness.advance(30)
    assert alice.closed is None and alice.bound


def test_errorAnswerKeepsSession(harness, alice):
    """
    A client that does not support ping answers with an error, which
    shows it is alive.
    """
    harness.advance(110)
    [ping] = pings(alice)
    answer(alice, ping, "error")
    harness.advance(30)
    assert alice.closed is None


def test_silentSessionClosed(harness, alice):
    """
    No answer within timeout seconds: the stream is closed with
    connection-timeout, and the resource is free again.
    """
    bob = harness.client("bob@example.org/pc")
    harness.advance(110)
    pings(alice)
    [ping] = pings(bob)
    answer(bob, ping)
    harness.advance(19)
    assert alice.closed is None
    harness.advance(1)
    assert alice.closed == ("connection-timeout", None)
    assert harness.host.sessions.get(alice.jid) is None
    assert bob.closed is None


def test_otherTrafficKeepsSession(harness, alice):
    """
    Anything the client sends after the ping proves it alive.
    """
    harness.advance(110)
    pings(alice)
    harness.advance(10)
    alice.send(message(to="bob@example.org", body="busy"))
    harness.advance(20)
    assert alice.closed is None


def test_pingedAgainLater(harness, alice):
    harness.advance(110)
    answer(alice, pings(alice)[0])
    harness.advance(90)
    assert pings(alice) == []
    harness.advance(20)
    assert len(pings(alice)) == 1


def test_detachStopsPinging(harness, alice):
    harness.advance(110)
    pings(alice)
    harness.reconfigure(plugins=[])
    harness.advance(1000)
    assert pings(alice) == [] and alice.closed is None


def test_sweepInterval():
    assert sweepInterval(300, 60) == 30
    assert sweepInterval(10, 60) == 5
    assert sweepInterval(0.01, 0.01) == 0.05


@pytest.mark.parametrize("options", [
    {"idle_after": 0}, {"timeout": -1}, {"timeout": math.nan},
    {"timeout": "60"}, {"interval": 5}])
def test_badOptions(options):
    with pytest.raises(PluginConfigError):
        keepalive.parseConfig(options)
