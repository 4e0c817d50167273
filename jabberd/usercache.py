"""
Per-user state in memory, in front of its store.

Rosters and privacy lists are read on every stanza a user sends or
receives, so they live in memory: pinned while their user has a session,
otherwise kept in a least-recently-used cache of bounded size.  Everything
that touches one user's rows in the store (loads and writes) runs one at a
time, in order, behind a per-user lock: state evicted and loaded again
while its last changes are still being written is read only after they
are, and one user's writes reach the store in the order they were made,
whatever the backend's thread pool does.  Concurrent loads of one user
share one read.
"""

from collections import OrderedDict

from twisted.internet import defer


class UserStateCache:
    """
    State by user (a localpart).

    @ivar store: the store behind the cache, for the owner's writes.
    """

    def __init__(self, store, loader, size, log=None):
        """
        @param loader: C{loader(user)} returns a L{Deferred} of the user's
            state from C{store}.
        @param size: how many users without a session stay cached.
        @param log: where failed writes are reported.
        """
        self.store = store
        self.loader = loader
        self.size = size
        self.log = log
        self._pinned = {}
        self._recent = OrderedDict()
        self._loading = {}
        self._locks = {}

    def cached(self, user):
        """
        The state of C{user} if it is in memory, else C{None}.
        """
        state = self._pinned.get(user)
        if state is None:
            state = self._recent.get(user)
            if state is not None:
                self._recent.move_to_end(user)
        return state

    def load(self, user):
        """
        @return: a L{Deferred} firing with the user's state, at once if it
            is in memory.
        """
        state = self.cached(user)
        if state is not None:
            return defer.succeed(state)
        waiting = defer.Deferred()
        waiters = self._loading.get(user)
        if waiters is not None:
            waiters.append(waiting)
            return waiting
        self._loading[user] = [waiting]
        d = self.serialised(user, self.loader, user)
        d.addCallbacks(self._loaded, self._loadFailed,
                       callbackArgs=(user,), errbackArgs=(user,))
        return waiting

    def _loaded(self, state, user):
        existing = self.cached(user)
        if existing is None:
            self._remember(user, state)
        else:
            state = existing
        for waiting in self._loading.pop(user, []):
            waiting.callback(state)

    def _loadFailed(self, reason, user):
        for waiting in self._loading.pop(user, []):
            waiting.errback(reason)

    def _remember(self, user, state):
        self._recent[user] = state
        self._recent.move_to_end(user)
        while len(self._recent) > self.size:
            self._recent.popitem(last=False)

    def loadAndPin(self, user):
        """
        Keep the state of C{user}, who is getting a session, in memory:
        pinned at once if it is there, else once it is read.

        @return: C{None} if it was in memory, else a L{Deferred} that
            fires when it is.
        """
        if self.cached(user) is not None:
            self.pin(user)
            return None
        d = self.load(user)
        d.addCallback(lambda state: self.pin(user))
        return d

    def pin(self, user):
        """
        Keep the state of C{user} (a user with a session) in memory.
        """
        state = self._recent.pop(user, None) or self._pinned.get(user)
        if state is not None:
            self._pinned[user] = state

    def unpin(self, user):
        """
        C{user} has no session left: the state may be evicted.
        """
        state = self._pinned.pop(user, None)
        if state is not None:
            self._remember(user, state)

    def write(self, user, operation, *args):
        """
        Run C{operation(user, *args)} on the store after the user's earlier
        loads and writes.  A failure is logged: the change stays in memory
        and the user's next write still runs.
        """
        d = self.serialised(user, operation, user, *args)
        d.addErrback(self._writeFailed, user)
        return d

    def _writeFailed(self, reason, user):
        if self.log is not None:
            self.log.failure("storing the state of {user}", reason,
                             user=user)

    def serialised(self, user, operation, *args):
        """
        Run C{operation(*args)} after the loads and changes of C{user}
        already under way.

        @return: a L{Deferred} of its result.
        """
        lock = self._locks.get(user)
        if lock is None:
            lock = self._locks[user] = defer.DeferredLock()
        d = lock.run(operation, *args)
        d.addBoth(self._release, user, lock)
        return d

    def _release(self, result, user, lock):
        if not lock.locked and self._locks.get(user) is lock:
            del self._locks[user]
        return result

    def idle(self):
        """
        Whether no load or write is under way (for tests and shutdown).
        """
        return not self._locks
