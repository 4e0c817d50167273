"""
Slow down password guessing: back off after repeated SASL failures.

RFC 6120 section 13.7.2 asks servers to protect against dictionary attacks
on SASL; RFC 4422 section 9 notes that SASL itself does not.  Each failed
exchange from an address doubles the delay before that address's next
answer, up to a ceiling; a success, or a quiet spell, forgets it.
"""

from collections import OrderedDict


class AuthThrottle:
    """
    Per-address exponential back-off for failed authentications.

    Memory is bounded: at most C{maxEntries} addresses are remembered, the
    least recently failed ones are forgotten first, and an address that has
    not failed for C{expiry} seconds is forgotten.

    @ivar baseDelay: the delay after one failure, in seconds.
    @ivar maxDelay: the longest delay ever asked for, in seconds.
    """

    def __init__(
        self, reactor, baseDelay=0.5, maxDelay=10.0, maxEntries=10000, expiry=600.0
    ):
        """
        @param reactor: an C{IReactorTime}; its C{seconds()} is the clock.
        @param expiry: seconds without a failure after which an address is
            forgotten.
        """
        self._reactor = reactor
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self._maxEntries = maxEntries
        self._expiry = expiry
        # address -> (failure count, time of the last failure), oldest first
        self._failures = OrderedDict()

    def __len__(self):
        """
        How many addresses are remembered (for tests and monitoring).
        """
        return len(self._failures)

    def delayFor(self, address):
        """
        How long to wait before answering C{address}'s next attempt.

        @return: C{0.0} without recent failures, else C{baseDelay *
            2 ** (failures - 1)}, at most C{maxDelay}.
        """
        self._expire()
        count, _ = self._failures.get(address, (0, None))
        if count == 0:
            return 0.0
        exponent = min(count - 1, 64)
        return min(self.baseDelay * 2**exponent, self.maxDelay)

    def failed(self, address):
        """
        Record a failed authentication from C{address}.
        """
        self._expire()
        count, _ = self._failures.pop(address, (0, None))
        self._failures[address] = (count + 1, self._reactor.seconds())
        while len(self._failures) > self._maxEntries:
            self._failures.popitem(last=False)

    def succeeded(self, address):
        """
        Forget C{address}'s failures: it has proved it knows a password.
        """
        self._failures.pop(address, None)

    def _expire(self):
        """
        Forget addresses whose last failure is older than C{expiry}.

        Entries are kept in order of their last failure, so only the front
        of the queue needs looking at.
        """
        horizon = self._reactor.seconds() - self._expiry
        while self._failures:
            address, (_, last) = next(iter(self._failures.items()))
            if last > horizon:
                break
            del self._failures[address]
