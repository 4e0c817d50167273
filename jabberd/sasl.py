"""
The server side of SASL (RFC 4422) as XMPP uses it (RFC 6120 section 6).

This module knows nothing about XML.  The stream turns C{<auth/>} into
L{SASLServer.start}, C{<response/>} into L{SASLServer.respond} and
C{<abort/>} into L{SASLServer.abort}; it turns the L{Challenge} and L{Success}
steps those return into C{<challenge/>} and C{<success/>}, and a
L{SASLFailure} into C{<failure/>} with the condition it names (RFC 6120
section 6.5).

Mechanisms:

  - C{SCRAM-SHA-1} and C{SCRAM-SHA-256} (RFC 5802, RFC 7677), and their
    C{-PLUS} variants bound to the TLS channel with C{tls-exporter}
    (RFC 9266) or C{tls-server-end-point} (RFC 5929);
  - C{PLAIN} (RFC 4616), offered only on an encrypted stream (RFC 6120
    section 6.4) and checked against the stored SCRAM-SHA-256 credential.

The server never holds a password (see L{jabberd.credentials}).  C{scramp}
supplies the SCRAM arithmetic (hash functions, HMAC, PBKDF2 and SASLprep);
the message handling is ours because an XMPP server must accept an
authorization identity in the GS2 header and the C{tls-exporter} binding,
neither of which C{scramp}'s own server state machine allows.
"""

import hmac
import os
import re
from base64 import b64decode, b64encode
from binascii import Error as Base64Error
from dataclasses import dataclass
from functools import partial
from string import ascii_letters

from scramp import ScramException, ScramMechanism
from scramp.utils import h as scramHash
from scramp.utils import hmac as scramHmac
from scramp.utils import xor
from twisted.internet import threads
from twisted.internet.defer import Deferred, fail, maybeDeferred, succeed
from twisted.python.failure import Failure
from zope.interface import Interface

from jabberd.credentials import DEFAULT_ITERATIONS, ScramCredential, verifyPassword
from jabberd.jid import InvalidJID, makeJID, parseJID
from jabberd.logsetup import Logger

#: Every mechanism this module implements, strongest first.
SUPPORTED_MECHANISMS = (
    "SCRAM-SHA-256-PLUS",
    "SCRAM-SHA-1-PLUS",
    "SCRAM-SHA-256",
    "SCRAM-SHA-1",
    "PLAIN",
)

#: Channel binding types a C{-PLUS} mechanism accepts, preferred first.
#: C{tls-unique} is left out: it is unsafe with TLS 1.3 (RFC 9266 section 1).
CHANNEL_BINDING_TYPES = ("tls-exporter", "tls-server-end-point")

#: The credential PLAIN passwords are checked against.
PLAIN_CREDENTIAL = "SCRAM-SHA-256"

#: A per-process secret from which unknown users' salts are derived.
_UNKNOWN_USER_SECRET = os.urandom(32)

_SASLNAME = re.compile(r"(?:[^=,]|=2C|=3D)+")
_NONCE = re.compile(r"[\x21-\x2b\x2d-\x7e]+")
_CB_NAME = re.compile(r"[A-Za-z0-9.-]+")


class SASLFailure(Exception):
    """
    An authentication exchange failed.

    @ivar condition: the RFC 6120 section 6.5 condition element name, such
        as C{"not-authorized"} or C{"invalid-mechanism"}.
    @ivar text: an optional human readable explanation for C{<text/>}.  It
        never says whether an account exists.
    """

    def __init__(self, condition, text=None):
        super().__init__(condition, text)
        self.condition = condition
        self.text = text


@dataclass(frozen=True)
class Challenge:
    """
    Data for a C{<challenge/>} (RFC 6120 section 6.4.3); C{b""} is empty.
    """

    data: bytes


@dataclass(frozen=True)
class Success:
    """
    The exchange succeeded (RFC 6120 section 6.4.6).

    @ivar username: the authenticated, normalised localpart.
    @ivar additionalData: data for the C{<success/>} element (the SCRAM
        server-final message), or C{None}.
    """

    username: str
    additionalData: bytes | None = None


class IChannelBinding(Interface):
    """
    The TLS channel a stream runs over, as channel binding sees it.
    """

    def bindingTypes():
        """
        @return: the channel binding types this channel can produce data
            for, e.g. C{("tls-exporter", "tls-server-end-point")}; C{()}
            when the stream is not encrypted.
        @rtype: C{tuple} of C{str}
        """

    def bindingData(cbType):
        """
        @param cbType: one of the names L{bindingTypes} returned.
        @return: the channel binding data for C{cbType} (RFC 5929, RFC 9266).
        @rtype: C{bytes}
        """


class ICredentialSource(Interface):
    """
    Where a virtual host keeps its accounts' SCRAM credentials.
    """

    def getCredential(username, mechanism):
        """
        @param username: a normalised localpart.
        @param mechanism: a base SCRAM name such as C{"SCRAM-SHA-256"}.
        @return: a L{Deferred} firing with the account's
            L{ScramCredential} for C{mechanism}, or C{None} if there is no
            such account or credential.
        """


class _UnknownUserCredential(ScramCredential):
    """
    A stand-in credential for an account that does not exist.
    """


def unknownUserCredential(username, mechanism, iterations=DEFAULT_ITERATIONS):
    """
    A stable, fake credential for a user that has none.

    A server must not reveal which accounts exist (RFC 5802 section 9), so
    an unknown user gets a server-first message of the same shape as a
    known one: the salt is an HMAC of the name under a per-process secret,
    and so the same on every attempt, and as long as a real salt.  The
    exchange then fails where a wrong password would.

    @rtype: L{ScramCredential} that no proof or password ever matches.
    """
    message = f"{mechanism}\0{username}".encode("utf-8")
    salt = hmac.digest(_UNKNOWN_USER_SECRET, message, "sha256")
    size = ScramMechanism(mechanism).hf().digest_size
    return _UnknownUserCredential(
        mechanism, salt, iterations, os.urandom(size), os.urandom(size)
    )


def normaliseUsername(username, domain):
    """
    Enforce the XMPP localpart rules on a SASL username.

    RFC 6120 section 6.3.7 makes the simple user name the localpart of the
    account's JID, which RFC 7622 section 3.3 prepares with the PRECIS
    UsernameCaseMapped profile (RFC 8265 section 3.3), less a few
    characters; L{jabberd.jid} does that preparation.

    @return: the normalised localpart, or C{None} if C{username} cannot be
        one (so no account can have it).
    """
    try:
        return makeJID(username, domain).user
    except InvalidJID:
        return None


def checkAuthzid(authzid, username, domain):
    """
    Allow an authorization identity only if it names the user's own account.

    RFC 6120 section 6.3.8: the authzid, when present, is a bare JID.
    jabberd lets nobody act for anyone else, so it must be
    C{username@domain}, compared after both are prepared (RFC 7622).

    @param authzid: the identity the client asked for, or C{None}.
    @param username: the normalised localpart, or C{None} if it had none.
    @raise SASLFailure: C{invalid-authzid}.
    """
    if authzid is None:
        return
    try:
        requested = parseJID(authzid)
    except InvalidJID:
        requested = None
    if username is None or requested != makeJID(username, domain):
        raise SASLFailure("invalid-authzid")


def _malformed(text):
    return SASLFailure("malformed-request", text)


def _decodeText(data):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed("not UTF-8") from None


def _decodeBase64(text):
    try:
        return b64decode(text, validate=True)
    except (Base64Error, ValueError):
        raise _malformed("bad base64 in SCRAM message") from None


def _unescapeSaslname(text):
    """
    Decode a SCRAM C{saslname} (RFC 5802 section 5.1: C{=2C} and C{=3D}).
    """
    if not _SASLNAME.fullmatch(text):
        raise _malformed("bad saslname")
    return text.replace("=2C", ",").replace("=3D", "=")


def _parseAttributes(text):
    """
    Split a SCRAM message into its C{(letter, value)} pairs (RFC 5802 s. 7).
    """
    attributes = []
    for part in text.split(","):
        if len(part) < 3 or part[1] != "=" or part[0] not in ascii_letters:
            raise _malformed("bad SCRAM attribute")
        attributes.append((part[0], part[2:]))
    return attributes


@dataclass(frozen=True)
class _Gs2Header:
    """
    The GS2 header opening a SCRAM client-first message (RFC 5802 s. 7).

    @ivar flag: C{"n"}, C{"y"} or C{"p"}.
    @ivar cbType: the channel binding type named by C{p=}, else C{None}.
    @ivar authzid: the decoded authorization identity, or C{None}.
    @ivar raw: the header exactly as sent, which the client-final message's
        C{c=} attribute must repeat.
    """

    flag: str
    cbType: str | None
    authzid: str | None
    raw: str


def _parseGs2Header(text):
    """
    Split a client-first message into its L{_Gs2Header} and bare part.
    """
    flag, comma1, rest = text.partition(",")
    authzid, comma2, bare = rest.partition(",")
    if not (comma1 and comma2):
        raise _malformed("no GS2 header")
    cbType = None
    if flag.startswith("p=") and _CB_NAME.fullmatch(flag[2:]):
        cbType = flag[2:]
    elif flag not in ("n", "y"):
        raise _malformed("bad GS2 channel binding flag")
    raw = f"{flag},{authzid},"
    if authzid:
        if not authzid.startswith("a="):
            raise _malformed("bad GS2 authzid")
        authzid = _unescapeSaslname(authzid[2:])
    return _Gs2Header(flag[0], cbType, authzid or None, raw), bare


def _parseClientFirstBare(bare):
    """
    @return: the unescaped username and the client nonce (RFC 5802 s. 7).
    @raise SASLFailure: C{malformed-request}, also for a mandatory
        extension (C{m=}), which we do not support.
    """
    attributes = _parseAttributes(bare)
    if len(attributes) < 2 or [k for k, _ in attributes[:2]] != ["n", "r"]:
        raise _malformed("client-first must start with n= and r=")
    username, nonce = attributes[0][1], attributes[1][1]
    if not _NONCE.fullmatch(nonce):
        raise _malformed("bad client nonce")
    return _unescapeSaslname(username), nonce


def _parseClientFinal(text):
    """
    @return: the client-final message without its proof, the channel
        binding input, the nonce and the proof (RFC 5802 section 7).
    """
    withoutProof, _, proof = text.rpartition(",p=")
    attributes = _parseAttributes(withoutProof) if withoutProof and proof else []
    if len(attributes) < 2 or [k for k, _ in attributes[:2]] != ["c", "r"]:
        raise _malformed("client-final must be c=, r=, ..., p=")
    cbindInput = _decodeBase64(attributes[0][1])
    return withoutProof, cbindInput, attributes[1][1], _decodeBase64(proof)


class _ScramExchange:
    """
    One SCRAM exchange (RFC 5802 section 5), with or without channel binding.
    """

    def __init__(self, server, mechanism):
        self._server = server
        self._base = mechanism.removesuffix("-PLUS")
        self._plus = mechanism.endswith("-PLUS")
        self._hf = ScramMechanism(self._base).hf
        self.step = self._clientFirst

    def _clientFirst(self, data):
        """
        Read the client-first message: GS2 header, username and nonce.
        Without an initial response, first send an empty challenge for it.
        """
        if data is None:
            return Challenge(b"")
        text = _decodeText(data)
        self._header, self._bare = _parseGs2Header(text)
        self._checkBindingFlag(self._header)
        rawName, self._clientNonce = _parseClientFirstBare(self._bare)
        self._username = normaliseUsername(rawName, self._server.domain)
        checkAuthzid(self._header.authzid, self._username, self._server.domain)
        d = self._server.findCredential(self._username, rawName, self._base)
        return d.addCallback(self._serverFirst)

    def _checkBindingFlag(self, header):
        """
        Enforce RFC 5802 section 6 on the GS2 channel binding flag.

        C{p=} is for C{-PLUS} mechanisms only, with a type we offer.  C{y}
        says the client could bind but thinks we cannot: if we did offer a
        C{-PLUS} mechanism someone removed it from our list, so we fail.
        """
        if self._plus != (header.flag == "p"):
            raise _malformed("channel binding flag does not fit the mechanism")
        if self._plus and header.cbType not in self._server.channelBindingTypes():
            raise SASLFailure("not-authorized", "unsupported channel binding type")
        if header.flag == "y" and self._server.plusAdvertised():
            raise SASLFailure("not-authorized", "channel binding downgrade")

    def _serverFirst(self, credential):
        """
        Answer with our nonce, the salt and the iteration count.
        """
        self._credential = credential
        self._nonce = self._clientNonce + b64encode(os.urandom(18)).decode()
        self._serverFirstMessage = "r={},s={},i={}".format(
            self._nonce, b64encode(credential.salt).decode(), credential.iterations
        )
        self.step = self._clientFinal
        return Challenge(self._serverFirstMessage.encode("ascii"))

    def _clientFinal(self, data):
        """
        Check the channel binding, nonce and proof; on success send the
        ServerSignature (C{v=}) as additional data.  Every check runs, and
        every failure looks the same, whether or not the user exists.
        """
        withoutProof, cbindInput, nonce, proof = _parseClientFinal(_decodeText(data))
        authMessage = ",".join([self._bare, self._serverFirstMessage, withoutProof])
        authMessage = authMessage.encode("utf-8")
        checks = [
            self._proofMatches(authMessage, proof),
            hmac.compare_digest(cbindInput, self._expectedBindingInput()),
            hmac.compare_digest(nonce.encode(), self._nonce.encode()),
            not isinstance(self._credential, _UnknownUserCredential),
        ]
        if not all(checks):
            raise SASLFailure("not-authorized")
        signature = scramHmac(self._hf, self._credential.serverKey, authMessage)
        return Success(self._username, b"v=" + b64encode(signature))

    def _proofMatches(self, authMessage, proof):
        """
        Check the ClientProof against the StoredKey (RFC 5802 section 3).
        """
        storedKey = self._credential.storedKey
        signature = scramHmac(self._hf, storedKey, authMessage)
        if len(proof) != len(signature):
            return False
        clientKey = xor(proof, signature)
        return hmac.compare_digest(scramHash(self._hf, clientKey), storedKey)

    def _expectedBindingInput(self):
        """
        What C{c=} must decode to: the GS2 header plus, for C{p=}, the
        channel binding data (RFC 5802 section 7, C{cbind-input}).
        """
        expected = self._header.raw.encode("utf-8")
        if self._header.flag == "p":
            data = self._server.bindingData(self._header.cbType)
            if not data:
                raise SASLFailure("temporary-auth-failure", "no channel binding data")
            expected += data
        return expected


class _PlainExchange:
    """
    One PLAIN exchange (RFC 4616), checked against a SCRAM credential.
    """

    def __init__(self, server):
        self._server = server

    def step(self, data):
        """
        Check C{authzid NUL authcid NUL passwd}; without an initial
        response, first send an empty challenge for it.
        """
        if data is None:
            return Challenge(b"")
        authzid, authcid, password = self._parse(data)
        username = normaliseUsername(authcid, self._server.domain)
        checkAuthzid(authzid, username, self._server.domain)
        d = self._server.findCredential(username, authcid, PLAIN_CREDENTIAL)
        d.addCallback(self._verify, password)
        return d.addCallback(self._decide, username)

    def _parse(self, data):
        """
        Split C{[authzid] NUL authcid NUL passwd} (RFC 4616 section 2).
        """
        parts = _decodeText(data).split("\0")
        if len(parts) != 3 or not parts[1] or not parts[2]:
            raise _malformed("PLAIN needs authzid NUL authcid NUL passwd")
        return parts[0] or None, parts[1], parts[2]

    def _verify(self, credential, password):
        d = self._server.deferToThread(_passwordMatches, password, credential)
        known = not isinstance(credential, _UnknownUserCredential)
        return d.addCallback(lambda ok: ok and known)

    def _decide(self, ok, username):
        if not ok:
            raise SASLFailure("not-authorized")
        return Success(username)


def _passwordMatches(password, credential):
    """
    Check a PLAIN password the way L{jabberd.credentials.deriveCredentials}
    made the credential: C{verifyPassword} hands the unmodified password to
    C{scramp}, which applies SASLprep (RFC 4013), exactly as it does when the
    credential is derived and as SCRAM clients do (RFC 5802 section 2.2).

    Runs PBKDF2: call it in a thread.
    """
    try:
        return verifyPassword(password, credential)
    except ScramException:
        return False


def _threadRunner(reactor, deferToThread):
    """
    Choose how PLAIN runs PBKDF2 off the reactor thread.
    """
    if deferToThread is not None:
        return deferToThread
    if reactor is not None:
        return partial(threads.deferToThreadPool, reactor, reactor.getThreadPool())
    return threads.deferToThread


class SASLServer:
    """
    One SASL authentication exchange on one stream (RFC 6120 section 6.4).

    Each call to L{start} or L{respond} returns a L{Deferred} that fires
    with a L{Challenge} or L{Success}, or fails with L{SASLFailure}.  After
    a failure or an abort the client may L{start} again (RFC 6120 section
    6.4.5 lets it retry).

    @ivar domain: the virtual host the stream is for.
    """

    _log = Logger()

    def __init__(
        self,
        mechanisms,
        credentials,
        channelBinding,
        encrypted,
        domain,
        reactor=None,
        deferToThread=None,
        iterations=DEFAULT_ITERATIONS,
    ):
        """
        @param mechanisms: the mechanism names the host allows, preferred
            first; each must be in L{SUPPORTED_MECHANISMS}.
        @param credentials: an L{ICredentialSource} for C{domain}.
        @param channelBinding: an L{IChannelBinding}, or C{None} without TLS.
        @param encrypted: whether the stream is protected by TLS.
        @param reactor: its thread pool runs PBKDF2 for PLAIN, unless
            C{deferToThread} is given.
        @param deferToThread: a C{deferToThread}-like callable used instead.
        @param iterations: the iteration count shown to unknown users, which
            should be the one real credentials use.
        @raise ValueError: for a mechanism name we do not implement.
        """
        unknown = set(mechanisms) - set(SUPPORTED_MECHANISMS)
        if unknown:
            raise ValueError(f"unsupported SASL mechanisms: {sorted(unknown)}")
        self._mechanisms = list(mechanisms)
        self._credentials = credentials
        self._channelBinding = channelBinding
        self._encrypted = encrypted
        self.domain = domain
        self.deferToThread = _threadRunner(reactor, deferToThread)
        self._iterations = iterations
        self._exchange = None
        self._pending = None
        self._succeeded = False

    def channelBindingTypes(self):
        """
        The channel binding types both we and the channel support, for
        C{-PLUS} mechanisms and XEP-0440 C{<sasl-channel-binding/>}.
        """
        offered = self._channelBinding.bindingTypes() if self._channelBinding else ()
        return tuple(t for t in CHANNEL_BINDING_TYPES if t in offered)

    def availableMechanisms(self):
        """
        The mechanisms to advertise, in the host's order (RFC 6120 s. 6.4.1).

        C{-PLUS} mechanisms need a channel binding type; PLAIN needs an
        encrypted stream (RFC 6120 section 6.4).
        """
        canBind = bool(self.channelBindingTypes())
        return [
            name
            for name in self._mechanisms
            if (canBind or not name.endswith("-PLUS"))
            and (self._encrypted or name != "PLAIN")
        ]

    def plusAdvertised(self):
        """
        Whether L{availableMechanisms} offers channel binding, which makes a
        client's GS2 C{y} flag a sign of a downgrade (RFC 5802 section 6).
        """
        return any(name.endswith("-PLUS") for name in self.availableMechanisms())

    def bindingData(self, cbType):
        """
        The channel binding data for C{cbType}, from the stream's channel.
        """
        return self._channelBinding.bindingData(cbType)

    def start(self, mechanism, initialResponse):
        """
        Begin an exchange (RFC 6120 section 6.4.2).

        @param mechanism: the name from C{<auth mechanism='...'/>}.
        @param initialResponse: the decoded initial response: C{None} if the
            element was empty (none sent), C{b""} if it was C{=} (an empty
            one).
        @return: a L{Deferred} firing with the first step.
        """
        if self._succeeded:
            return fail(_malformed("already authenticated"))
        if self._exchange is not None:
            return fail(_malformed("an exchange is already in progress"))
        try:
            self._exchange = self._newExchange(mechanism)
        except SASLFailure as failure:
            return fail(failure)
        return self._step(initialResponse)

    def respond(self, response):
        """
        Answer the last challenge (RFC 6120 section 6.4.3).

        @param response: the decoded content of C{<response/>}.
        """
        if self._exchange is None or self._pending is not None:
            return fail(_malformed("no challenge to respond to"))
        return self._step(response)

    def abort(self):
        """
        End the exchange at the client's request (RFC 6120 section 6.4.4).

        The stream answers with C{<failure><aborted/></failure>}.  A step
        still in progress is dropped: its L{Deferred} never fires, so that no
        late challenge or success follows that failure.
        """
        self._exchange = None
        self._pending = None

    def findCredential(self, username, rawName, mechanism):
        """
        The credential to test a client against, real or fake.

        @param username: the normalised name, or C{None} if it was invalid.
        @param rawName: the name as sent, for an invalid name's fake salt.
        @return: a L{Deferred} firing with a L{ScramCredential}; for an
            unknown user, one from L{unknownUserCredential}.
        """
        if username is None:
            d = succeed(None)
        else:
            d = maybeDeferred(self._credentials.getCredential, username, mechanism)
        name = rawName if username is None else username
        return d.addCallback(self._orUnknown, name, mechanism)

    def _orUnknown(self, credential, username, mechanism):
        if credential is None:
            return unknownUserCredential(username, mechanism, self._iterations)
        return credential

    def _newExchange(self, mechanism):
        if mechanism == "PLAIN" and not self._encrypted and "PLAIN" in self._mechanisms:
            raise SASLFailure("encryption-required")
        if mechanism not in self.availableMechanisms():
            raise SASLFailure("invalid-mechanism")
        if mechanism == "PLAIN":
            return _PlainExchange(self)
        return _ScramExchange(self, mechanism)

    def _step(self, data):
        outer = Deferred()
        self._pending = outer
        d = maybeDeferred(self._exchange.step, data)
        d.addBoth(self._settle, outer)
        return outer

    def _settle(self, result, outer):
        """
        Hand a step's result to the stream, unless it was aborted meanwhile.
        """
        if self._pending is not outer:
            return None
        self._pending = None
        if isinstance(result, Failure):
            self._exchange = None
            outer.errback(self._asSASLFailure(result))
            return None
        if isinstance(result, Success):
            self._exchange = None
            self._succeeded = True
        outer.callback(result)
        return None

    def _asSASLFailure(self, failure):
        """
        Pass a L{SASLFailure} on; log anything else as our fault and report
        C{temporary-auth-failure} (RFC 6120 section 6.5.10).
        """
        if failure.check(SASLFailure):
            return failure
        self._log.failure("SASL exchange failed unexpectedly", failure)
        return Failure(SASLFailure("temporary-auth-failure"))
