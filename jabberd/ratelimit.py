"""
A token bucket that throttles reading from one connection.

When a peer sends faster than its allowance the transport stops reading
(TCP back-pressure does the rest) until enough time has passed; nothing is
dropped.
"""


class ReadLimiter:
    """
    Pause C{transport} while its reads exceed C{rate} bytes per second,
    allowing bursts of up to C{burst} bytes.  A rate of 0 disables it.
    """

    def __init__(self, reactor, transport, rate, burst):
        self.reactor = reactor
        self.transport = transport
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._last = reactor.seconds()
        self._resume = None

    def consumed(self, count):
        """
        Account for C{count} bytes just read.
        """
        if not self.rate:
            return
        now = self.reactor.seconds()
        self._tokens = min(self.burst,
                           self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= count
        if self._tokens < 0 and self._resume is None:
            self.transport.pauseProducing()
            delay = -self._tokens / self.rate
            self._resume = self.reactor.callLater(delay, self._resumeReading)

    def _resumeReading(self):
        self._resume = None
        self.transport.resumeProducing()

    def stop(self):
        """
        Cancel a pending resume (the connection is gone).
        """
        if self._resume is not None and self._resume.active():
            self._resume.cancel()
        self._resume = None
