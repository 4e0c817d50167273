"""
Tests for L{jabberd.sasl}: SCRAM (RFC 5802, RFC 7677) with and without
channel binding (RFC 5929, RFC 9266), PLAIN (RFC 4616), and the XMPP rules
around them (RFC 6120 section 6).

SCRAM clients are C{scramp}'s L{ScramClient} where it can play the part,
and L{HandClient} (an independent implementation from C{hashlib}) where the
test needs what C{scramp} will not send: an authzid, C{tls-exporter}, or a
tampered message.
"""

import hashlib
import hmac
from base64 import b64decode, b64encode

import pytest
from scramp import ScramClient
from twisted.internet.defer import Deferred, fail, maybeDeferred, succeed
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from jabberd.credentials import DEFAULT_ITERATIONS, deriveCredentials
from jabberd.sasl import (
    Challenge,
    IChannelBinding,
    ICredentialSource,
    SASLFailure,
    SASLServer,
    Success,
    normaliseUsername,
)

DOMAIN = "example.com"
ALL = [
    "SCRAM-SHA-256-PLUS",
    "SCRAM-SHA-1-PLUS",
    "SCRAM-SHA-256",
    "SCRAM-SHA-1",
    "PLAIN",
]
EXPORTER = b"exporter-data-0123456789abcdef"
ENDPOINT = b"end-point-hash-0123456789abcdef"
HASHES = {"SCRAM-SHA-1": "sha1", "SCRAM-SHA-256": "sha256"}

#: Accounts by normalised localpart; passwords as the user types them.
PASSWORDS = {
    "juliet": "r0m30myr0m30",
    "ñandú": "contraseña",
    "a,b=c": "commas,and=equals",
    "ix": "IX",
}
CREDENTIALS = {name: deriveCredentials(pw) for name, pw in PASSWORDS.items()}


@implementer(ICredentialSource)
class MemoryCredentials:
    """
    Accounts held in a dict, recording what was asked for.
    """

    def __init__(self, accounts=CREDENTIALS):
        self.accounts = accounts
        self.lookups = []

    def getCredential(self, username, mechanism):
        self.lookups.append((username, mechanism))
        return succeed(self.accounts.get(username, {}).get(mechanism))


@implementer(ICredentialSource)
class BrokenCredentials:
    """
    A store that is down.
    """

    def getCredential(self, username, mechanism):
        return fail(ConnectionError("database unreachable"))


@implementer(ICredentialSource)
class SlowCredentials:
    """
    A store whose answers the test releases by hand.
    """

    def __init__(self):
        self.pending = []

    def getCredential(self, username, mechanism):
        d = Deferred()
        self.pending.append((d, CREDENTIALS.get(username, {}).get(mechanism)))
        return d


@implementer(IChannelBinding)
class FixedChannel:
    """
    A TLS channel whose binding data are fixed bytes.
    """

    def __init__(self, data):
        self.data = data

    def bindingTypes(self):
        return tuple(self.data)

    def bindingData(self, cbType):
        return self.data[cbType]


TLS = FixedChannel({"tls-exporter": EXPORTER, "tls-server-end-point": ENDPOINT})
NO_TLS = FixedChannel({})


def inline(f, *args, **kwargs):
    """
    A C{deferToThread} stand-in that runs C{f} at once.
    """
    return maybeDeferred(f, *args, **kwargs)


def makeServer(
    mechanisms=ALL, channel=TLS, encrypted=True, credentials=None, runner=inline
):
    if credentials is None:
        credentials = MemoryCredentials()
    return SASLServer(
        mechanisms, credentials, channel, encrypted, DOMAIN, deferToThread=runner
    )


def result(d):
    """
    The result of a Deferred that has fired; raise its failure if it failed.
    """
    results = []
    d.addBoth(results.append)
    assert results, "the Deferred has not fired"
    if isinstance(results[0], Failure):
        results[0].raiseException()
    return results[0]


def failure(d):
    """
    The L{SASLFailure} a fired Deferred failed with.
    """
    with pytest.raises(SASLFailure) as info:
        result(d)
    return info.value


def serverFirstAttributes(step):
    assert isinstance(step, Challenge)
    return dict(part.split("=", 1) for part in step.data.decode().split(","))


def scrampLogin(server, mechanism, username, password, channelBinding=None):
    """
    Run a whole SCRAM exchange with C{scramp}'s client.

    @return: the L{Success}, after the client has checked its server-final.
    """
    client = ScramClient([mechanism], username, password, channelBinding)
    first = result(server.start(mechanism, client.get_client_first().encode()))
    client.set_server_first(first.data.decode())
    final = result(server.respond(client.get_client_final().encode()))
    client.set_server_final(final.additionalData.decode())
    return final


def escape(name):
    return name.replace("=", "=3D").replace(",", "=2C")


class HandClient:
    """
    A SCRAM client written from RFC 5802 section 3 with C{hashlib}.
    """

    def __init__(self, mechanism, username, password, header="n,,", cbData=b""):
        self.hash = HASHES[mechanism.removesuffix("-PLUS")]
        self.header = header
        self.cbData = cbData
        self.bare = f"n={escape(username)},r=hAnDcLiEnTnOnCe"
        self.password = password.encode()

    def first(self):
        return (self.header + self.bare).encode()

    def final(self, serverFirst, nonce=None, cbindInput=None):
        attributes = serverFirstAttributes(serverFirst)
        salted = hashlib.pbkdf2_hmac(
            self.hash, self.password, b64decode(attributes["s"]), int(attributes["i"])
        )
        if cbindInput is None:
            cbindInput = self.header.encode() + self.cbData
        nonce = nonce or attributes["r"]
        withoutProof = f"c={b64encode(cbindInput).decode()},r={nonce}"
        authMessage = f"{self.bare},{serverFirst.data.decode()},{withoutProof}".encode()
        clientKey = hmac.digest(salted, b"Client Key", self.hash)
        storedKey = hashlib.new(self.hash, clientKey).digest()
        signature = hmac.digest(storedKey, authMessage, self.hash)
        proof = bytes(a ^ b for a, b in zip(clientKey, signature))
        serverKey = hmac.digest(salted, b"Server Key", self.hash)
        self.serverSignature = hmac.digest(serverKey, authMessage, self.hash)
        return f"{withoutProof},p={b64encode(proof).decode()}".encode()

    def login(self, server, mechanism):
        first = result(server.start(mechanism, self.first()))
        return server.respond(self.final(first))


# Interfaces


def test_testDoublesProvideInterfaces():
    assert verifyObject(ICredentialSource, MemoryCredentials())
    assert verifyObject(IChannelBinding, TLS)


# Advertisement (RFC 6120 section 6.4.1)


def test_advertiseWithoutTLS():
    """
    In the clear: no -PLUS (nothing to bind to) and no PLAIN.
    """
    server = makeServer(channel=NO_TLS, encrypted=False)
    assert server.availableMechanisms() == ["SCRAM-SHA-256", "SCRAM-SHA-1"]


def test_advertiseWithoutChannel():
    server = makeServer(channel=None, encrypted=False)
    assert server.availableMechanisms() == ["SCRAM-SHA-256", "SCRAM-SHA-1"]
    assert server.channelBindingTypes() == ()


def test_advertiseEncryptedWithoutBinding():
    server = makeServer(channel=NO_TLS, encrypted=True)
    assert server.availableMechanisms() == ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]


def test_advertiseEverythingWithTLS():
    assert makeServer().availableMechanisms() == ALL


def test_advertiseInHostOrder():
    server = makeServer(mechanisms=["PLAIN", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"])
    assert server.availableMechanisms() == ["PLAIN", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"]


def test_advertiseOnlyUsableBindingTypes():
    """
    tls-unique alone (unsafe with TLS 1.3, unsupported here) enables no -PLUS.
    """
    server = makeServer(channel=FixedChannel({"tls-unique": b"x" * 12}))
    assert server.channelBindingTypes() == ()
    assert "SCRAM-SHA-256-PLUS" not in server.availableMechanisms()


def test_channelBindingTypesPreferExporter():
    channel = FixedChannel({"tls-server-end-point": ENDPOINT, "tls-exporter": EXPORTER})
    server = makeServer(channel=channel)
    assert server.channelBindingTypes() == ("tls-exporter", "tls-server-end-point")


def test_unknownConfiguredMechanism():
    with pytest.raises(ValueError, match="DIGEST-MD5"):
        makeServer(mechanisms=["DIGEST-MD5", "SCRAM-SHA-1"])


# Choosing a mechanism (RFC 6120 section 6.4.2)


def test_startUnknownMechanism():
    assert failure(makeServer().start("DIGEST-MD5", None)).condition == (
        "invalid-mechanism"
    )


def test_startMechanismHostDisallows():
    server = makeServer(mechanisms=["SCRAM-SHA-256"])
    assert failure(server.start("SCRAM-SHA-1", None)).condition == "invalid-mechanism"


def test_startPlusWithoutBinding():
    server = makeServer(channel=NO_TLS)
    failed = failure(server.start("SCRAM-SHA-256-PLUS", None))
    assert failed.condition == "invalid-mechanism"


# SCRAM, driven by scramp's client


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_scramWithoutTLS(mechanism):
    server = makeServer(channel=NO_TLS, encrypted=False)
    success = scrampLogin(server, mechanism, "juliet", PASSWORDS["juliet"])
    assert success.username == "juliet"
    assert success.additionalData.startswith(b"v=")


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS"])
def test_scramPlusServerEndPoint(mechanism):
    server = makeServer()
    binding = ("tls-server-end-point", ENDPOINT)
    success = scrampLogin(server, mechanism, "juliet", PASSWORDS["juliet"], binding)
    assert success.username == "juliet"


def test_scramLooksUpBaseCredential():
    """
    -PLUS and plain SCRAM share one credential per hash.
    """
    credentials = MemoryCredentials()
    server = makeServer(credentials=credentials)
    binding = ("tls-server-end-point", ENDPOINT)
    scrampLogin(server, "SCRAM-SHA-1-PLUS", "juliet", PASSWORDS["juliet"], binding)
    assert credentials.lookups == [("juliet", "SCRAM-SHA-1")]


def test_scramWrongPassword():
    server = makeServer()
    with pytest.raises(SASLFailure) as info:
        scrampLogin(server, "SCRAM-SHA-256", "juliet", "wrong")
    assert info.value.condition == "not-authorized"


def test_scramNoInitialResponse():
    """
    Without an initial response the server sends an empty challenge and
    the client-first message arrives as a response (RFC 6120 section 6.4.2).
    """
    server = makeServer()
    client = ScramClient(["SCRAM-SHA-256"], "juliet", PASSWORDS["juliet"])
    assert result(server.start("SCRAM-SHA-256", None)) == Challenge(b"")
    first = result(server.respond(client.get_client_first().encode()))
    client.set_server_first(first.data.decode())
    final = result(server.respond(client.get_client_final().encode()))
    assert final.username == "juliet"


def test_scramEmptyInitialResponse():
    """
    C{=} (an empty initial response) is not a client-first message.
    """
    failed = failure(makeServer().start("SCRAM-SHA-256", b""))
    assert failed.condition == "malformed-request"


# SCRAM with every channel binding type, driven by HandClient


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS"])
@pytest.mark.parametrize(
    "cbType, cbData", [("tls-exporter", EXPORTER), ("tls-server-end-point", ENDPOINT)]
)
def test_scramPlusEachBindingType(mechanism, cbType, cbData):
    header = f"p={cbType},,"
    client = HandClient(mechanism, "juliet", PASSWORDS["juliet"], header, cbData)
    success = result(client.login(makeServer(), mechanism))
    assert success == Success("juliet", b"v=" + b64encode(client.serverSignature))


@pytest.mark.parametrize("cbType", ["tls-exporter", "tls-server-end-point"])
def test_scramPlusBindingMismatch(cbType):
    """
    Channel binding data from another TLS connection (a man in the middle)
    fails the exchange.
    """
    client = HandClient(
        "SCRAM-SHA-256-PLUS", "juliet", PASSWORDS["juliet"], f"p={cbType},,", b"other"
    )
    failed = failure(client.login(makeServer(), "SCRAM-SHA-256-PLUS"))
    assert failed.condition == "not-authorized"


def test_scramPlusWithScrampBindingMismatch():
    server = makeServer()
    with pytest.raises(SASLFailure) as info:
        scrampLogin(
            server,
            "SCRAM-SHA-256-PLUS",
            "juliet",
            PASSWORDS["juliet"],
            ("tls-server-end-point", b"not the server's certificate"),
        )
    assert info.value.condition == "not-authorized"


def test_scramPlusHeaderNotRepeated():
    """
    C{c=} must repeat the GS2 header exactly, not just the binding data.
    """
    header = "p=tls-exporter,,"
    client = HandClient(
        "SCRAM-SHA-256-PLUS", "juliet", PASSWORDS["juliet"], header, EXPORTER
    )
    server = makeServer()
    first = result(server.start("SCRAM-SHA-256-PLUS", client.first()))
    final = client.final(first, cbindInput=b"n,," + EXPORTER)
    assert failure(server.respond(final)).condition == "not-authorized"


def test_scramPlusTypeNotOffered():
    channel = FixedChannel({"tls-server-end-point": ENDPOINT})
    header = "p=tls-exporter,,"
    client = HandClient("SCRAM-SHA-256-PLUS", "juliet", "x", header, EXPORTER)
    server = makeServer(channel=channel)
    failed = failure(server.start("SCRAM-SHA-256-PLUS", client.first()))
    assert failed.condition == "not-authorized"


def test_scramPlusTlsUniqueRefused():
    channel = FixedChannel({"tls-unique": b"u" * 12, "tls-exporter": EXPORTER})
    client = HandClient("SCRAM-SHA-256-PLUS", "juliet", "x", "p=tls-unique,,")
    server = makeServer(channel=channel)
    failed = failure(server.start("SCRAM-SHA-256-PLUS", client.first()))
    assert failed.condition == "not-authorized"


def test_scramPlusEmptyBindingData():
    """
    A channel that yields no data for a type it listed cannot bind: the
    exchange fails rather than accept a bare GS2 header as proof.
    """
    channel = FixedChannel({"tls-exporter": b""})
    header = "p=tls-exporter,,"
    client = HandClient("SCRAM-SHA-256-PLUS", "juliet", PASSWORDS["juliet"], header)
    failed = failure(client.login(makeServer(channel=channel), "SCRAM-SHA-256-PLUS"))
    assert failed.condition == "temporary-auth-failure"


def test_scramPlusWithoutBindingFlag():
    client = HandClient("SCRAM-SHA-256-PLUS", "juliet", "x", "n,,")
    failed = failure(makeServer().start("SCRAM-SHA-256-PLUS", client.first()))
    assert failed.condition == "malformed-request"


def test_scramBindingFlagOnPlainScram():
    """
    C{p=} is only valid with a -PLUS mechanism.
    """
    client = HandClient("SCRAM-SHA-256", "juliet", "x", "p=tls-exporter,,")
    failed = failure(makeServer().start("SCRAM-SHA-256", client.first()))
    assert failed.condition == "malformed-request"


# The GS2 'y' flag and downgrades (RFC 5802 section 6)


def test_downgradeRefusedWhenPlusAdvertised():
    """
    C{y} means the client can bind but did not see a -PLUS mechanism: as we
    offered one, someone stripped it, and the exchange fails.
    """
    server = makeServer()
    with pytest.raises(SASLFailure) as info:
        scrampLogin(
            server,
            "SCRAM-SHA-256",
            "juliet",
            PASSWORDS["juliet"],
            ("tls-server-end-point", ENDPOINT),
        )
    assert info.value.condition == "not-authorized"


def test_yFlagAcceptedWithoutBindingSupport():
    server = makeServer(channel=NO_TLS)
    binding = ("tls-server-end-point", ENDPOINT)
    password = PASSWORDS["juliet"]
    success = scrampLogin(server, "SCRAM-SHA-256", "juliet", password, binding)
    assert success.username == "juliet"


def test_yFlagAcceptedWhenHostOffersNoPlus():
    """
    TLS can bind, but the host does not offer -PLUS: nothing was stripped.
    """
    server = makeServer(mechanisms=["SCRAM-SHA-256"])
    client = HandClient("SCRAM-SHA-256", "juliet", PASSWORDS["juliet"], "y,,")
    assert result(client.login(server, "SCRAM-SHA-256")).username == "juliet"


def test_nFlagAcceptedWhenPlusAdvertised():
    client = HandClient("SCRAM-SHA-1", "juliet", PASSWORDS["juliet"], "n,,")
    assert result(client.login(makeServer(), "SCRAM-SHA-1")).username == "juliet"


# Unknown users look like wrong passwords (RFC 5802 section 9)


def serverFirstFor(name, mechanism="SCRAM-SHA-256"):
    client = HandClient(mechanism, name, "x")
    step = result(makeServer().start(mechanism, client.first()))
    return serverFirstAttributes(step)


def test_unknownUserServerFirstLooksReal():
    real = serverFirstFor("juliet")
    fake = serverFirstFor("nobody")
    assert list(fake) == list(real) == ["r", "s", "i"]
    assert len(b64decode(fake["s"])) == len(b64decode(real["s"]))
    assert fake["i"] == real["i"] == str(DEFAULT_ITERATIONS)
    assert len(fake["r"]) == len(real["r"])


def test_unknownUserSaltStable():
    """
    Asking twice gives the same salt, as it would for a real account.
    """
    salt = serverFirstFor("nobody")["s"]
    assert serverFirstFor("nobody")["s"] == salt
    assert serverFirstFor("somebody")["s"] != salt
    assert serverFirstFor("nobody", "SCRAM-SHA-1")["s"] != salt


def test_unknownUserFailsLikeWrongPassword():
    """
    Both get a server-first and fail at the client-final message, alike.
    """
    outcomes = []
    for name, password in [("nobody", "guess"), ("juliet", "guess")]:
        client = HandClient("SCRAM-SHA-256", name, password)
        server = makeServer()
        first = result(server.start("SCRAM-SHA-256", client.first()))
        assert isinstance(first, Challenge)
        failed = failure(server.respond(client.final(first)))
        outcomes.append((failed.condition, failed.text))
    assert outcomes[0] == outcomes[1] == ("not-authorized", None)


def test_unknownUserIterationsFollowConfiguration():
    server = SASLServer(
        ALL, MemoryCredentials(), TLS, True, DOMAIN, iterations=8192
    )
    client = HandClient("SCRAM-SHA-1", "nobody", "y")
    step = result(server.start("SCRAM-SHA-1", client.first()))
    assert serverFirstAttributes(step)["i"] == "8192"


def test_invalidUsernameTreatedAsUnknown():
    """
    A name no account can have (a space, an '@') also fails at the end.
    """
    for name in ["ju liet", "juliet@example.com"]:
        client = HandClient("SCRAM-SHA-256", name, "x")
        server = makeServer()
        first = result(server.start("SCRAM-SHA-256", client.first()))
        failed = failure(server.respond(client.final(first)))
        assert failed.condition == "not-authorized"


def test_normaliseUsername():
    assert normaliseUsername("JULIET", DOMAIN) == "juliet"
    assert normaliseUsername("\uff2aULIET", DOMAIN) == "juliet"  # fullwidth J
    assert normaliseUsername("Ñandú", DOMAIN) == "ñandú"
    for invalid in ["", "ju liet", "juliet@example.com", "a/b", "\u2168", "x" * 1024]:
        assert normaliseUsername(invalid, DOMAIN) is None


# Authorization identities (RFC 6120 section 6.3.8)


@pytest.mark.parametrize(
    "authzid", ["juliet@example.com", "Juliet@EXAMPLE.COM", "juliet@example.com."]
)
def test_scramAuthzidOwnBareJid(authzid):
    header = f"n,a={escape(authzid)},"
    client = HandClient("SCRAM-SHA-256", "juliet", PASSWORDS["juliet"], header)
    assert result(client.login(makeServer(), "SCRAM-SHA-256")).username == "juliet"


@pytest.mark.parametrize(
    "authzid",
    [
        "romeo@example.com",
        "juliet@example.org",
        "juliet@example.com/balcony",
        "juliet",
        "example.com",
        "@example.com",
    ],
)
def test_scramAuthzidOther(authzid):
    header = f"n,a={escape(authzid)},"
    client = HandClient("SCRAM-SHA-256", "juliet", PASSWORDS["juliet"], header)
    failed = failure(makeServer().start("SCRAM-SHA-256", client.first()))
    assert failed.condition == "invalid-authzid"


def test_scramPlusAuthzid():
    """
    The authzid is part of the GS2 header repeated inside C{c=}.
    """
    header = "p=tls-exporter,a=juliet@example.com,"
    client = HandClient(
        "SCRAM-SHA-256-PLUS", "juliet", PASSWORDS["juliet"], header, EXPORTER
    )
    success = result(client.login(makeServer(), "SCRAM-SHA-256-PLUS"))
    assert success.username == "juliet"


def test_plainAuthzidOwnBareJid():
    response = b"juliet@example.com\0juliet\0" + PASSWORDS["juliet"].encode()
    assert result(makeServer().start("PLAIN", response)) == Success("juliet")


def test_plainAuthzidOther():
    response = b"romeo@example.com\0juliet\0" + PASSWORDS["juliet"].encode()
    assert failure(makeServer().start("PLAIN", response)).condition == "invalid-authzid"


# Malformed SCRAM messages


@pytest.mark.parametrize(
    "message",
    [
        b"n,,",
        b"n=juliet,r=abc",
        b"x,,n=juliet,r=abc",
        b"p=,,n=juliet,r=abc",
        b"n,b=juliet,n=juliet,r=abc",
        b"n,,r=abc,n=juliet",
        b"n,,m=ext,n=juliet,r=abc",
        b"n,,n=jul=41iet,r=abc",
        b"n,,n=,r=abc",
        b"n,,n=juliet",
        b"n,,n=juliet,r=a b",
        b"n,,n=juliet,r=abc,,",
        b"n,,n=juliet,r=\xff\xfe",
    ],
)
def test_scramMalformedClientFirst(message):
    failed = failure(makeServer().start("SCRAM-SHA-256", message))
    assert failed.condition == "malformed-request"


def _finalAfterFirst():
    client = HandClient("SCRAM-SHA-256", "juliet", PASSWORDS["juliet"])
    server = makeServer()
    first = result(server.start("SCRAM-SHA-256", client.first()))
    return server, client.final(first).decode(), serverFirstAttributes(first)["r"]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda final, nonce: final.split(",", 1)[1],  # no c=
        lambda final, nonce: final.rsplit(",", 1)[0],  # no p=
        lambda final, nonce: final.replace("c=biws", "c=b!ws"),
        lambda final, nonce: final.rsplit(",p=", 1)[0] + ",p=not base64!",
        lambda final, nonce: f"r={nonce},c=biws,p=AAAA",  # wrong order
        lambda final, nonce: "",
        lambda final, nonce: final.rsplit(",p=", 1)[0] + ",p=",
        lambda final, nonce: "\u212a" + final[1:],  # KELVIN SIGN lowers to k
    ],
)
def test_scramMalformedClientFinal(mangle):
    server, final, nonce = _finalAfterFirst()
    failed = failure(server.respond(mangle(final, nonce).encode()))
    assert failed.condition == "malformed-request"


def test_scramWrongNonce():
    client = HandClient("SCRAM-SHA-256", "juliet", PASSWORDS["juliet"])
    server = makeServer()
    first = result(server.start("SCRAM-SHA-256", client.first()))
    final = client.final(first, nonce="hAnDcLiEnTnOnCeFORGED")
    assert failure(server.respond(final)).condition == "not-authorized"


def test_scramShortProof():
    server, final, _ = _finalAfterFirst()
    final = final.rsplit(",p=", 1)[0] + ",p=AAAA"
    assert failure(server.respond(final.encode())).condition == "not-authorized"


# PLAIN (RFC 4616)


def test_plainSuccess():
    response = b"\0juliet\0" + PASSWORDS["juliet"].encode()
    assert result(makeServer().start("PLAIN", response)) == Success("juliet", None)


def test_plainWrongPassword():
    failed = failure(makeServer().start("PLAIN", b"\0juliet\0wrong"))
    assert failed.condition == "not-authorized"


def test_plainUnknownUserChecksFakeCredential():
    """
    An unknown user costs the same PBKDF2 as a known one, then fails alike.
    """
    calls = []

    def recording(f, *args):
        calls.append(args[1].iterations)
        return inline(f, *args)

    server = makeServer(runner=recording)
    failed = failure(server.start("PLAIN", b"\0nobody\0guess"))
    assert (failed.condition, failed.text) == ("not-authorized", None)
    assert calls == [DEFAULT_ITERATIONS]


def test_plainRunsPasswordCheckInThreadRunner():
    calls = []

    def recording(f, *args):
        calls.append(args[0])
        return inline(f, *args)

    server = makeServer(runner=recording)
    result(server.start("PLAIN", b"\0juliet\0" + PASSWORDS["juliet"].encode()))
    assert calls == [PASSWORDS["juliet"]]


def test_plainLooksUpSha256():
    credentials = MemoryCredentials()
    server = makeServer(credentials=credentials)
    result(server.start("PLAIN", b"\0juliet\0" + PASSWORDS["juliet"].encode()))
    assert credentials.lookups == [("juliet", "SCRAM-SHA-256")]


def test_plainUnencrypted():
    server = makeServer(channel=NO_TLS, encrypted=False)
    response = b"\0juliet\0" + PASSWORDS["juliet"].encode()
    assert failure(server.start("PLAIN", response)).condition == "encryption-required"


def test_plainUnencryptedNotConfigured():
    server = makeServer(mechanisms=["SCRAM-SHA-256"], encrypted=False)
    failed = failure(server.start("PLAIN", b"\0juliet\0x"))
    assert failed.condition == "invalid-mechanism"


def test_plainNoInitialResponse():
    server = makeServer()
    assert result(server.start("PLAIN", None)) == Challenge(b"")
    response = b"\0juliet\0" + PASSWORDS["juliet"].encode()
    assert result(server.respond(response)) == Success("juliet")


@pytest.mark.parametrize(
    "response",
    [
        b"",
        b"juliet",
        b"\0juliet",
        b"\0\0password",
        b"\0juliet\0",
        b"a\0b\0c\0d",
        b"\0juliet\0\xff",
    ],
)
def test_plainMalformed(response):
    failed = failure(makeServer().start("PLAIN", response))
    assert failed.condition == "malformed-request"


def test_plainProhibitedPasswordCharacter():
    """
    A password SASLprep rejects simply does not match.
    """
    failed = failure(makeServer().start("PLAIN", b"\0juliet\0bell\x07"))
    assert failed.condition == "not-authorized"


# Non-ASCII and escaped names, SASLprep'd passwords


def test_scramNonAsciiUsernameNormalised():
    server = makeServer()
    success = scrampLogin(server, "SCRAM-SHA-256", "Ñandú", "contraseña")
    assert success.username == "ñandú"


def test_scramEscapedUsername():
    """
    C{,} and C{=} travel as C{=2C} and C{=3D} (RFC 5802 section 5.1).
    """
    server = makeServer()
    success = scrampLogin(server, "SCRAM-SHA-1", "a,b=c", PASSWORDS["a,b=c"])
    assert success.username == "a,b=c"


def test_plainNonAsciiUsernameNormalised():
    response = "\0ÑANDÚ\0contraseña".encode()
    assert result(makeServer().start("PLAIN", response)) == Success("ñandú")


@pytest.mark.parametrize("typed", ["contraseña", "contrasen\u0303a"])
def test_nonAsciiPasswordBothPaths(typed):
    """
    Composed or decomposed, the password works with SCRAM and with PLAIN.
    """
    success = scrampLogin(makeServer(), "SCRAM-SHA-256", "ñandú", typed)
    assert success.username == "ñandú"
    response = f"\0ñandú\0{typed}".encode()
    assert result(makeServer().start("PLAIN", response)) == Success("ñandú")


@pytest.mark.parametrize("typed", ["IX", "I\u00adX", "\u2168"])
def test_saslprepEquivalentPasswordsBothPaths(typed):
    """
    RFC 4013 section 3: soft hyphen maps to nothing, U+2168 to "IX"; PLAIN
    agrees with SCRAM and with how the credential was derived.
    """
    assert scrampLogin(makeServer(), "SCRAM-SHA-1", "ix", typed).username == "ix"
    response = f"\0ix\0{typed}".encode()
    assert result(makeServer().start("PLAIN", response)) == Success("ix")


def test_saslprepDoesNotFoldCase():
    assert failure(makeServer().start("PLAIN", b"\0ix\0ix")).condition == (
        "not-authorized"
    )
    with pytest.raises(SASLFailure):
        scrampLogin(makeServer(), "SCRAM-SHA-256", "ix", "ix")


# Sequencing, aborts and internal errors


def test_respondWithoutStart():
    assert failure(makeServer().respond(b"n,,n=a,r=b")).condition == "malformed-request"


def test_respondAfterSuccess():
    server = makeServer()
    scrampLogin(server, "SCRAM-SHA-256", "juliet", PASSWORDS["juliet"])
    assert failure(server.respond(b"x")).condition == "malformed-request"
    assert failure(server.start("PLAIN", b"\0juliet\0x")).condition == (
        "malformed-request"
    )


def test_startTwice():
    server = makeServer()
    result(server.start("SCRAM-SHA-256", None))
    failed = failure(server.start("SCRAM-SHA-256", None))
    assert failed.condition == "malformed-request"


def test_retryAfterFailure():
    """
    RFC 6120 section 6.4.5: the client may try again after a failure.
    """
    server = makeServer()
    failure(server.start("PLAIN", b"\0juliet\0wrong"))
    assert failure(server.respond(b"\0juliet\0wrong")).condition == "malformed-request"
    response = b"\0juliet\0" + PASSWORDS["juliet"].encode()
    assert result(server.start("PLAIN", response)) == Success("juliet")


def test_abortThenRespond():
    server = makeServer()
    result(server.start("SCRAM-SHA-256", None))
    server.abort()
    client = HandClient("SCRAM-SHA-256", "juliet", "x")
    assert failure(server.respond(client.first())).condition == "malformed-request"


def test_abortWhileLookingUp():
    """
    A step still waiting for the store is dropped: its late result never
    reaches the stream, and a new exchange can start.
    """
    credentials = SlowCredentials()
    server = makeServer(credentials=credentials)
    client = HandClient("SCRAM-SHA-256", "juliet", "x")
    abandoned = server.start("SCRAM-SHA-256", client.first())
    server.abort()
    d, credential = credentials.pending.pop()
    d.callback(credential)
    fired = []
    abandoned.addBoth(fired.append)
    assert fired == []
    retry = server.start("SCRAM-SHA-256", client.first())
    d, credential = credentials.pending.pop()
    d.callback(credential)
    assert isinstance(result(retry), Challenge)


def test_respondWhileStepPending():
    credentials = SlowCredentials()
    server = makeServer(credentials=credentials)
    server.start("PLAIN", b"\0juliet\0x")
    assert failure(server.respond(b"\0juliet\0x")).condition == "malformed-request"


def test_storeFailureIsTemporary():
    server = makeServer(credentials=BrokenCredentials())
    failed = failure(server.start("PLAIN", b"\0juliet\0x"))
    assert failed.condition == "temporary-auth-failure"


def test_storeFailureLogged():
    events = []
    globalLogPublisher.addObserver(events.append)
    try:
        failure(makeServer(credentials=BrokenCredentials()).start("PLAIN", b"\0a\0b"))
    finally:
        globalLogPublisher.removeObserver(events.append)
    logged = [e["log_failure"] for e in events if "log_failure" in e]
    assert [f.type for f in logged] == [ConnectionError]


def test_storeFailureRetryable():
    server = makeServer(credentials=BrokenCredentials())
    client = HandClient("SCRAM-SHA-256", "juliet", "x")
    failed = failure(server.start("SCRAM-SHA-256", client.first()))
    assert failed.condition == "temporary-auth-failure"
    assert isinstance(result(server.start("SCRAM-SHA-256", None)), Challenge)


class ThreadedPlainTests(TestCase):
    """
    PLAIN with the default thread runner, on a running reactor.
    """

    def test_plainInThread(self):
        server = SASLServer(ALL, MemoryCredentials(), TLS, True, DOMAIN)
        d = server.start("PLAIN", b"\0juliet\0" + PASSWORDS["juliet"].encode())
        return d.addCallback(self.assertEqual, Success("juliet"))

    def test_plainInReactorThreadPool(self):
        from twisted.internet import reactor

        server = SASLServer(ALL, MemoryCredentials(), TLS, True, DOMAIN, reactor)
        d = server.start("PLAIN", b"\0juliet\0wrong")
        d = self.assertFailure(d, SASLFailure)
        return d.addCallback(
            lambda failed: self.assertEqual(failed.condition, "not-authorized")
        )
