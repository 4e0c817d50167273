"""
Tests for L{jabberd.throttle}.
"""

from twisted.internet.task import Clock

from jabberd.throttle import AuthThrottle


def makeThrottle(**kwargs):
    clock = Clock()
    return clock, AuthThrottle(clock, **kwargs)


def test_noFailuresNoDelay():
    _, throttle = makeThrottle()
    assert throttle.delayFor("192.0.2.1") == 0.0


def test_delayDoublesPerFailure():
    _, throttle = makeThrottle(baseDelay=0.5, maxDelay=100.0)
    delays = []
    for _ in range(4):
        throttle.failed("192.0.2.1")
        delays.append(throttle.delayFor("192.0.2.1"))
    assert delays == [0.5, 1.0, 2.0, 4.0]


def test_delayCapped():
    _, throttle = makeThrottle(baseDelay=0.5, maxDelay=10.0)
    for _ in range(10):
        throttle.failed("192.0.2.1")
    assert throttle.delayFor("192.0.2.1") == 10.0


def test_manyFailuresDoNotOverflow():
    """
    The exponent is bounded, so thousands of failures still give maxDelay.
    """
    _, throttle = makeThrottle(maxDelay=10.0)
    for _ in range(5000):
        throttle.failed("192.0.2.1")
    assert throttle.delayFor("192.0.2.1") == 10.0


def test_addressesIndependent():
    _, throttle = makeThrottle()
    throttle.failed("192.0.2.1")
    throttle.failed("192.0.2.1")
    assert throttle.delayFor("192.0.2.1") == 1.0
    assert throttle.delayFor("2001:db8::1") == 0.0


def test_successForgets():
    _, throttle = makeThrottle()
    throttle.failed("192.0.2.1")
    throttle.failed("192.0.2.1")
    throttle.succeeded("192.0.2.1")
    assert throttle.delayFor("192.0.2.1") == 0.0
    assert len(throttle) == 0


def test_successForUnknownAddressIsHarmless():
    _, throttle = makeThrottle()
    throttle.succeeded("192.0.2.9")
    assert len(throttle) == 0


def test_expiresAfterIdleTime():
    clock, throttle = makeThrottle(expiry=60.0)
    throttle.failed("192.0.2.1")
    clock.advance(59)
    assert throttle.delayFor("192.0.2.1") == 0.5
    clock.advance(2)
    assert throttle.delayFor("192.0.2.1") == 0.0
    assert len(throttle) == 0


def test_newFailureRestartsIdleTime():
    clock, throttle = makeThrottle(expiry=60.0)
    throttle.failed("192.0.2.1")
    clock.advance(50)
    throttle.failed("192.0.2.1")
    clock.advance(50)
    assert throttle.delayFor("192.0.2.1") == 1.0


def test_failureAfterExpiryStartsAgain():
    clock, throttle = makeThrottle(expiry=60.0)
    throttle.failed("192.0.2.1")
    throttle.failed("192.0.2.1")
    clock.advance(61)
    throttle.failed("192.0.2.1")
    assert throttle.delayFor("192.0.2.1") == 0.5


def test_boundedEvictsOldest():
    clock, throttle = makeThrottle(maxEntries=3)
    for address in ["a", "b", "c"]:
        throttle.failed(address)
        clock.advance(1)
    throttle.failed("a")  # now the most recent
    throttle.failed("d")
    assert len(throttle) == 3
    assert throttle.delayFor("b") == 0.0
    assert throttle.delayFor("a") == 1.0
    assert throttle.delayFor("c") == 0.5
    assert throttle.delayFor("d") == 0.5
