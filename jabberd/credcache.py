"""
SCRAM credentials in memory, in front of a domain's user store.

Every login asks the store for one credential (RFC 5802 section 3: salt,
iteration count, StoredKey, ServerKey); without a cache that is a database
round trip through the thread pool per login, the largest single cost of a
login.  L{CachingUserStore} keeps the answers, found or not, for a bounded
number of (user, mechanism) pairs and a bounded time.

What keeps a cached answer from outliving the account it describes:

  - writes through the wrapper (XEP-0077 registration, password changes
    and cancellations by the plugins) drop the user's entries before they
    reach the store;
  - C{jabberctl adduser}, C{passwd} and C{deluser}, which write the
    database from another process, signal the server (C{SIGUSR2}) to
    L{forget<CachingUserStore.forgetAll>} everything it cached;
  - every entry expires after C{credential_cache_ttl} seconds, which bounds
    the staleness any other writer can cause.

Caching "no such user" as well keeps a login for an unknown name from
taking measurably longer than one for a known name (RFC 6120 section
13.4 asks servers not to reveal which accounts exist).
"""

from collections import OrderedDict

from twisted.internet.defer import succeed
from zope.interface import implementer

from jabberd.storage.users import IUserStore


@implementer(IUserStore)
class CachingUserStore:
    """
    An L{IUserStore} that answers C{getCredential} from memory when it can
    and passes everything else to the store it wraps.

    @ivar store: the wrapped L{IUserStore}.
    """

    def __init__(self, store, clock, size, ttl):
        """
        @param clock: an L{IReactorTime}; its C{seconds()} dates entries.
        @param size: how many (user, mechanism) answers are kept; 0 turns
            the cache off.
        @param ttl: seconds an answer is trusted.
        """
        self.store = store
        self.domain = store.domain
        self._clock = clock
        self._size = size
        self._ttl = ttl
        self._entries = OrderedDict()
        self._generation = 0

    def getCredential(self, username, mechanism):
        key = (username, mechanism)
        entry = self._entries.get(key)
        if entry is not None:
            credential, expires = entry
            if expires > self._clock.seconds():
                self._entries.move_to_end(key)
                return succeed(credential)
            del self._entries[key]
        d = self.store.getCredential(username, mechanism)
        return d.addCallback(self._remember, key, self._generation)

    def _remember(self, credential, key, generation):
        """
        Keep a fresh answer, unless the user's credentials changed (or all
        were forgotten) while it was being read.
        """
        if self._size and generation == self._generation:
            self._entries[key] = (credential, self._clock.seconds() + self._ttl)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return credential

    def configure(self, size, ttl):
        """
        Apply new limits (a config reload); what was cached is dropped.
        """
        self._size = size
        self._ttl = ttl
        self.forgetAll()

    def forget(self, username):
        """
        Drop what is cached about C{username}.
        """
        for key in [key for key in self._entries if key[0] == username]:
            del self._entries[key]
        self._generation += 1

    def forgetAll(self):
        """
        Drop everything cached: the accounts changed behind our back.
        """
        self._entries.clear()
        self._generation += 1

    def _changing(self, username, write, *args):
        self.forget(username)
        d = write(username, *args)
        d.addBoth(self._changed, username)
        return d

    def _changed(self, result, username):
        # A read that started before the write may still be in flight.
        self.forget(username)
        return result

    def createUser(self, username, credentials):
        return self._changing(username, self.store.createUser, credentials)

    def setCredentials(self, username, credentials):
        return self._changing(username, self.store.setCredentials, credentials)

    def deleteUser(self, username):
        return self._changing(username, self.store.deleteUser)

    def userExists(self, username):
        return self.store.userExists(username)

    def listUsers(self):
        return self.store.listUsers()
