"""
The privacy lists of a host's users in memory, in front of their store.

A user's lists are pinned while the user has a session and otherwise kept
in a least-recently-used cache of bounded size, so that deciding on a
stanza reads no database (XEP-0016 rules are checked on every stanza a
user sends or receives).  Every change goes through the plugin, which
writes the store and changes the cached L{Privacy} in place: the cache is
never stale, whichever resource made the change.
"""

from collections import OrderedDict

from twisted.internet import defer


class PrivacyCache:
    """
    L{jabberd.privacy.Privacy} by user.

    Loads and the changes of one user run one at a time, in order, behind
    a per-user lock (L{serialised}); concurrent loads share one read.

    @ivar store: the L{jabberd.storage.privacy.IPrivacyStore}.
    """

    def __init__(self, store, size):
        self.store = store
        self.size = size
        self._pinned = {}
        self._recent = OrderedDict()
        self._loading = {}
        self._locks = {}

    def cached(self, user):
        """
        The lists of C{user} if they are in memory, else C{None}.
        """
        privacy = self._pinned.get(user)
        if privacy is None:
            privacy = self._recent.get(user)
            if privacy is not None:
                self._recent.move_to_end(user)
        return privacy

    def load(self, user):
        """
        @return: a L{Deferred} firing with the user's lists, at once if
            they are in memory.
        """
        privacy = self.cached(user)
        if privacy is not None:
            return defer.succeed(privacy)
        waiting = defer.Deferred()
        waiters = self._loading.get(user)
        if waiters is not None:
            waiters.append(waiting)
            return waiting
        self._loading[user] = [waiting]
        d = self.serialised(user, self.store.loadPrivacy, user)
        d.addCallbacks(self._loaded, self._loadFailed,
                       callbackArgs=(user,), errbackArgs=(user,))
        return waiting

    def _loaded(self, privacy, user):
        existing = self.cached(user)
        if existing is None:
            self._remember(user, privacy)
        else:
            privacy = existing
        for waiting in self._loading.pop(user, []):
            waiting.callback(privacy)

    def _loadFailed(self, reason, user):
        for waiting in self._loading.pop(user, []):
            waiting.errback(reason)

    def _remember(self, user, privacy):
        self._recent[user] = privacy
        self._recent.move_to_end(user)
        while len(self._recent) > self.size:
            self._recent.popitem(last=False)

    def pin(self, user):
        """
        Keep the lists of C{user} (a user with a session) in memory.
        """
        privacy = self._recent.pop(user, None) or self._pinned.get(user)
        if privacy is not None:
            self._pinned[user] = privacy

    def unpin(self, user):
        """
        C{user} has no session left: the lists may be evicted.
        """
        privacy = self._pinned.pop(user, None)
        if privacy is not None:
            self._remember(user, privacy)

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
        Whether no load or change is under way (for tests and shutdown).
        """
        return not self._locks
