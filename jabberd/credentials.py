"""
Salted, iterated SCRAM credentials (RFC 5802 section 3, RFC 7677).

jabberd never stores a password: an account holds one L{ScramCredential} for
each SCRAM hash it supports.  The same credential verifies SCRAM exchanges
and PLAIN logins (by re-deriving the StoredKey from the offered password).
"""

import hmac
from dataclasses import dataclass

from scramp import ScramMechanism

#: SCRAM mechanisms whose credentials every account carries, by hash name.
SCRAM_HASHES = {"SCRAM-SHA-1": "sha1", "SCRAM-SHA-256": "sha256"}

DEFAULT_ITERATIONS = 4096


@dataclass(frozen=True)
class ScramCredential:
    """
    What RFC 5802 section 3 lets a server keep instead of a password.

    @ivar mechanism: the base SCRAM mechanism name, e.g. C{"SCRAM-SHA-256"}
        (the C{-PLUS} variants use the same credential).
    """

    mechanism: str
    salt: bytes
    iterations: int
    storedKey: bytes
    serverKey: bytes


def deriveCredentials(password, iterations=DEFAULT_ITERATIONS):
    """
    Derive one credential per supported SCRAM hash from C{password}.

    Each mechanism gets its own random salt.  PBKDF2 is deliberately slow:
    call this off the reactor thread (C{deferToThread}) in a server.

    @rtype: C{dict} mapping mechanism name to L{ScramCredential}
    """
    result = {}
    for name in SCRAM_HASHES:
        salt, storedKey, serverKey, count = ScramMechanism(name).make_auth_info(
            password, iteration_count=iterations
        )
        result[name] = ScramCredential(name, salt, count, storedKey, serverKey)
    return result


def verifyPassword(password, credential):
    """
    Check a plaintext password (from SASL PLAIN) against a stored credential.

    Re-derives the StoredKey (RFC 5802 section 3) and compares in constant
    time.  Slow by design; run off the reactor thread.
    """
    salt, storedKey, _, _ = ScramMechanism(credential.mechanism).make_auth_info(
        password, iteration_count=credential.iterations, salt=credential.salt
    )
    return hmac.compare_digest(storedKey, credential.storedKey)


def hashName(mechanism):
    """
    The C{hashlib} name behind a SCRAM mechanism name (C{-PLUS} or not).
    """
    return SCRAM_HASHES[mechanism.removesuffix("-PLUS")]
