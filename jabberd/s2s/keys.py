"""
Dialback keys (XEP-0185).

The key proves that the server sending it knows the secret of the
authoritative server of its domain, for one stream only:

    key = HMAC-SHA256(hex(SHA256(secret)),
                      receiving + " " + originating + " " + streamID)

written in hexadecimal.  The secret is made at random when the server
starts (XEP-0185 section 2, item 3), so nothing needs configuring and a
key never outlives the process that issued it.
"""

import hashlib
import hmac
import secrets


def newSecret():
    """
    A fresh random dialback secret.

    @rtype: C{bytes}
    """
    return secrets.token_bytes(32)


def dialbackKey(secret, receiving, originating, streamID):
    """
    The dialback key for a stream (XEP-0185 section 2).

    @param secret: the authoritative server's secret (C{bytes} or C{str}).
    @param receiving: the domain of the server that receives the key.
    @param originating: the domain that claims to send.
    @param streamID: the ID the receiving server gave the stream.
    @return: the key, as lowercase hexadecimal C{str}.
    """
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    hashed = hashlib.sha256(secret).hexdigest().encode("ascii")
    text = " ".join((receiving, originating, streamID)).encode("utf-8")
    return hmac.new(hashed, text, hashlib.sha256).hexdigest()


def keyMatches(secret, receiving, originating, streamID, key):
    """
    Whether C{key} is the dialback key for these inputs; compared in
    constant time, so that timing does not leak how much of a guess was
    right.
    """
    expected = dialbackKey(secret, receiving, originating, streamID)
    return hmac.compare_digest(expected.encode("ascii"),
                               key.strip().lower().encode("utf-8"))
