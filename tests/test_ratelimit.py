"""
Tests for L{jabberd.ratelimit.ReadLimiter}.
"""

import pytest
from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import Clock
from zope.interface import implementer
from zope.interface.verify import verifyObject

from jabberd.ratelimit import ReadLimiter


@implementer(IPushProducer)
class RecordingTransport:
    """
    Records the producer calls a limiter makes, and whether it is paused.
    """

    def __init__(self):
        self.calls = []

    @property
    def paused(self):
        return bool(self.calls) and self.calls[-1] == "pause"

    def pauseProducing(self):
        self.calls.append("pause")

    def resumeProducing(self):
        self.calls.append("resume")

    def stopProducing(self):
        self.calls.append("stop")


def makeLimiter(rate=100, burst=1000):
    clock = Clock()
    transport = RecordingTransport()
    return clock, transport, ReadLimiter(clock, transport, rate, burst)


def test_transportVerifies():
    verifyObject(IPushProducer, RecordingTransport())


def test_withinBurstNotPaused():
    clock, transport, limiter = makeLimiter()
    limiter.consumed(600)
    limiter.consumed(400)
    assert transport.calls == []
    assert clock.getDelayedCalls() == []


def test_overBurstPausesUntilRefilled():
    """
    1000 bytes over the allowance at 100 bytes/s: paused for 10 seconds.
    """
    clock, transport, limiter = makeLimiter()
    limiter.consumed(2000)
    assert transport.calls == ["pause"]
    clock.advance(9.9)
    assert transport.paused
    clock.advance(0.1)
    assert transport.calls == ["pause", "resume"]


def test_pausedOnlyOnce():
    """
    Bytes already buffered while paused do not pause again or schedule a
    second resume.
    """
    clock, transport, limiter = makeLimiter()
    limiter.consumed(1500)
    limiter.consumed(500)
    assert transport.calls == ["pause"]
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(5)
    assert transport.calls == ["pause", "resume"]


def test_debtCarriedOver():
    """
    What was read while paused is still owed: the next read pauses again.
    """
    clock, transport, limiter = makeLimiter()
    limiter.consumed(1500)
    limiter.consumed(500)
    clock.advance(5)
    limiter.consumed(1)
    assert transport.calls == ["pause", "resume", "pause"]
    clock.advance(5)
    assert transport.paused
    clock.advance(0.02)
    assert not transport.paused


def test_refillOverTime():
    clock, transport, limiter = makeLimiter()
    limiter.consumed(1000)
    clock.advance(3)
    limiter.consumed(300)
    assert transport.calls == []
    limiter.consumed(1)
    assert transport.calls == ["pause"]


def test_refillCappedAtBurst():
    """
    A long idle period allows one burst, not an unbounded one.
    """
    clock, transport, limiter = makeLimiter()
    clock.advance(3600)
    limiter.consumed(1000)
    assert transport.calls == []
    limiter.consumed(1)
    assert transport.calls == ["pause"]


def test_steadyRateNeverPauses():
    clock, transport, limiter = makeLimiter(rate=100, burst=100)
    for _ in range(100):
        limiter.consumed(100)
        clock.advance(1)
    assert transport.calls == []


@pytest.mark.parametrize("rate", [0, None])
def test_zeroRateDisables(rate):
    clock, transport, limiter = makeLimiter(rate=rate, burst=0)
    limiter.consumed(10 ** 9)
    assert transport.calls == []
    assert clock.getDelayedCalls() == []


def test_stopCancelsResume():
    clock, transport, limiter = makeLimiter()
    limiter.consumed(2000)
    limiter.stop()
    assert clock.getDelayedCalls() == []
    clock.advance(60)
    assert transport.calls == ["pause"]


def test_stopHarmless():
    clock, transport, limiter = makeLimiter()
    limiter.stop()
    limiter.consumed(2000)
    clock.advance(10)
    limiter.stop()
    limiter.stop()
    assert transport.calls == ["pause", "resume"]
