"""
Tests for L{jabberd.bus}: priority bands, first claim stops.
"""

import pytest

from jabberd.bus import (STANZA_KEYS, Address, Bus, IQKey, Kind, Phase,
                         Priority, Signal, StanzaKey)

KEY = STANZA_KEYS[(Kind.MESSAGE, Address.FULL, Phase.INBOUND)]


def recorder(calls, name, result=None):
    def handler(*args):
        calls.append((name, args))
        return result
    return handler


def test_bandsRunHighestFirst():
    bus, calls = Bus(), []
    bus.hook(KEY, recorder(calls, "fallback"), Priority.FALLBACK)
    bus.hook(KEY, recorder(calls, "default"))
    bus.hook(KEY, recorder(calls, "policy"), Priority.POLICY)
    assert bus.fire(KEY, "s") is None
    assert [name for name, _ in calls] == ["policy", "default", "fallback"]
    assert all(args == ("s",) for _, args in calls)


def test_registrationOrderWithinBand():
    bus, calls = Bus(), []
    for name in "abcd":
        bus.hook(KEY, recorder(calls, name), Priority.DEFAULT)
    bus.hook(KEY, recorder(calls, "p"), Priority.POLICY)
    bus.fire(KEY)
    assert [name for name, _ in calls] == ["p", "a", "b", "c", "d"]


@pytest.mark.parametrize("claim", [True, False, 0, "", [], "yes"])
def test_firstNonNoneStops(claim):
    """
    Anything but C{None} claims, falsy values included.
    """
    bus, calls = Bus(), []
    bus.hook(KEY, recorder(calls, "first"))
    bus.hook(KEY, recorder(calls, "claims", claim))
    bus.hook(KEY, recorder(calls, "never"))
    bus.hook(KEY, recorder(calls, "fallback"), Priority.FALLBACK)
    assert bus.fire(KEY) is claim
    assert [name for name, _ in calls] == ["first", "claims"]


def test_fireWithoutHandlers():
    assert Bus().fire(KEY, 1) is None


def test_notifyCallsAll():
    bus, calls = Bus(), []
    signal = Signal("test")
    bus.hook(signal, recorder(calls, "a", True))
    bus.hook(signal, recorder(calls, "b", True), Priority.FALLBACK)
    bus.hook(signal, recorder(calls, "c", True), Priority.POLICY)
    assert bus.notify(signal, 1, 2) is None
    assert calls == [("c", (1, 2)), ("a", (1, 2)), ("b", (1, 2))]


def test_keysAreIndependent():
    bus, calls = Bus(), []
    other = STANZA_KEYS[(Kind.MESSAGE, Address.FULL, Phase.OUTBOUND)]
    bus.hook(KEY, recorder(calls, "inbound"))
    bus.hook(other, recorder(calls, "outbound"))
    bus.fire(other)
    assert [name for name, _ in calls] == ["outbound"]


def test_equalKeysShareHandlers():
    """
    Keys are values: an L{IQKey} built twice is the same key.
    """
    bus, calls = Bus(), []
    bus.hook(IQKey("get", Address.HOST, "urn:xmpp:ping", "ping"),
             recorder(calls, "ping", True))
    assert bus.fire(IQKey("get", Address.HOST, "urn:xmpp:ping", "ping"))
    other = IQKey("set", Address.HOST, "urn:xmpp:ping", "ping")
    assert bus.fire(other) is None
    assert len(calls) == 1


def test_removeUnhooks():
    bus, calls = Bus(), []
    registration = bus.hook(KEY, recorder(calls, "gone", True))
    bus.hook(KEY, recorder(calls, "kept"), Priority.FALLBACK)
    registration.remove()
    bus.fire(KEY)
    assert [name for name, _ in calls] == ["kept"]


def test_removeLastHandler():
    bus = Bus()
    registration = bus.hook(KEY, lambda: True)
    assert bus.hasHandlers(KEY)
    registration.remove()
    assert not bus.hasHandlers(KEY)
    assert bus.fire(KEY) is None


def test_removeTwiceHarmless():
    """
    A second remove does not take away a handler hooked again since, nor
    another hook of the same function.
    """
    bus, calls = Bus(), []
    handler = recorder(calls, "h", True)
    first = bus.hook(KEY, handler)
    first.remove()
    bus.hook(KEY, handler)
    first.remove()
    assert bus.fire(KEY) is True
    assert len(calls) == 1


def test_sameHandlerHookedTwice():
    bus, calls = Bus(), []
    handler = recorder(calls, "h")
    first = bus.hook(KEY, handler)
    bus.hook(KEY, handler)
    first.remove()
    bus.fire(KEY)
    assert len(calls) == 1


def test_removeDuringFire():
    """
    A handler that removes itself while the key fires does not disturb
    this dispatch.
    """
    bus, calls = Bus(), []

    def once():
        calls.append("once")
        registration.remove()

    registration = bus.hook(KEY, once)
    bus.hook(KEY, recorder(calls, "next"))
    bus.fire(KEY)
    bus.fire(KEY)
    assert calls == ["once", ("next", ()), ("next", ())]


@pytest.mark.parametrize("priority", [300, 200.0, "policy", None])
def test_barePriorityRefused(priority):
    bus = Bus()
    with pytest.raises(TypeError):
        bus.hook(KEY, lambda: None, priority)
    assert not bus.hasHandlers(KEY)


def test_stanzaKeysComplete():
    assert len(STANZA_KEYS) == len(Kind) * len(Address) * len(Phase)
    key = STANZA_KEYS[(Kind.IQ, Address.BARE, Phase.OUTBOUND)]
    assert key == StanzaKey(Kind.IQ, Address.BARE, Phase.OUTBOUND)
