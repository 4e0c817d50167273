"""
A token bucket that throttles reading from one connection.

When a peer sends faster than its allowance the transport stops reading
(TCP back-pressure does the rest) until enough time has passed; nothing is
dropped.  A single read larger than the allowance is split: the part that
fits is processed now, the rest when the bucket has refilled.
"""


class ReadLimiter:
    """
    Pause C{transport} while its reads exceed C{rate} bytes per second,
    allowing bursts of up to C{burst} bytes.  A rate of 0 disables it.

    @ivar onResume: called just before reading resumes, so the protocol
        can process what it held back.
    """

    def __init__(self, reactor, transport, rate, burst, onResume=None):
        self.reactor = reactor
        self.transport = transport
        self.rate = rate
        self.burst = burst
        self.onResume = onResume
        self._tokens = burst
        self._last = reactor.seconds()
        self._resume = None

    def _refill(self):
        now = self.reactor.seconds()
        self._tokens = min(self.burst,
                           self._tokens + (now - self._last) * self.rate)
        self._last = now

    def consumed(self, count):
        """
        Account for C{count} bytes just read.
        """
        self.admit(count)

    def admit(self, count):
        """
        Account for C{count} bytes just read.

        @return: how many of them may be processed now; if fewer than
            C{count}, reading is paused until the rest is allowed.
        """
        if not self.rate:
            return count
        self._refill()
        allowed = min(count, max(int(self._tokens), 0))
        self._tokens -= count
        if self._tokens < 0 and self._resume is None:
            self.transport.pauseProducing()
            delay = -self._tokens / self.rate
            self._resume = self.reactor.callLater(delay, self._resumeReading)
        return count if self._tokens >= 0 else allowed

    @property
    def paused(self):
        """
        Whether reading is paused now.
        """
        return self._resume is not None

    def _resumeReading(self):
        self._resume = None
        if self.onResume is not None:
            self.onResume()
        self.transport.resumeProducing()

    def stop(self):
        """
        Cancel a pending resume (the connection is gone).
        """
        if self._resume is not None and self._resume.active():
            self._resume.cancel()
        self._resume = None
