"""
The benchmark's accounts, the same on every server.

Users are C{u0}, C{u1}, ... on one domain, all with one password.  The
first L{Layout.rosterUsers} of them have rosters: each is subscribed both
ways (RFC 6121 section 3) to its L{Layout.fanout} neighbours on a ring,
so every presence update has exactly C{fanout} contacts to reach.  The
rest, used for the idle-session workload, have empty rosters.

Every server stores the same salted SCRAM-SHA-1 and SCRAM-SHA-256
credentials (RFC 5802 section 3, RFC 7677), derived once here: hashed
storage everywhere, and a load generator that runs PBKDF2 once per run
instead of once per login.
"""

import hashlib
import hmac
from dataclasses import dataclass

DOMAIN = "bench.local"
PASSWORD = "bench-password"
ITERATIONS = 4096

#: ASCII, so that every server's storage format holds it as it is.
SALT = b"jabberd-benchmark-salt"

#: SCRAM mechanism name to hashlib name.
HASHES = {"SCRAM-SHA-1": "sha1", "SCRAM-SHA-256": "sha256"}


@dataclass(frozen=True)
class Keys:
    """
    What RFC 5802 section 3 lets a server store for one hash.
    """

    mechanism: str
    salt: bytes
    iterations: int
    storedKey: bytes
    serverKey: bytes


def deriveKeys(mechanism, password=PASSWORD, salt=SALT, iterations=ITERATIONS):
    """
    @return: the L{Keys} of C{password} for C{mechanism}.
    """
    name = HASHES[mechanism]
    salted = hashlib.pbkdf2_hmac(name, password.encode(), salt, iterations)
    clientKey = hmac.new(salted, b"Client Key", name).digest()
    serverKey = hmac.new(salted, b"Server Key", name).digest()
    return Keys(mechanism, salt, iterations,
                hashlib.new(name, clientKey).digest(), serverKey)


def allKeys():
    """
    @return: L{Keys} for every mechanism in L{HASHES}, by mechanism name.
    """
    return {mechanism: deriveKeys(mechanism) for mechanism in HASHES}


def userName(index):
    return "u%d" % (index,)


@dataclass(frozen=True)
class Layout:
    """
    How many accounts to make and who is on whose roster.

    @ivar rosterUsers: users C{0 .. rosterUsers - 1} have rosters; the
        message, presence and login workloads use them.
    @ivar idleUsers: users after those, without rosters, for idle sessions
        (the warm-up sessions included).
    @ivar fanout: contacts per roster; even, less than C{rosterUsers}.
    """

    rosterUsers: int = 1000
    idleUsers: int = 5100
    fanout: int = 20

    @property
    def users(self):
        return self.rosterUsers + self.idleUsers

    def contacts(self, index):
        """
        @return: the indices of user C{index}'s contacts: its C{fanout / 2}
            neighbours on each side, on the ring of roster users.
        """
        if index >= self.rosterUsers:
            return []
        n, half = self.rosterUsers, self.fanout // 2
        return [(index + d) % n for d in range(-half, half + 1) if d != 0]
