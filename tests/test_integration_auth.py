"""
End-to-end authentication tests (RFC 6120 sections 5 and 6): STARTTLS,
SASL PLAIN and SCRAM with and without channel binding, certificate choice
by SNI, and the slowing down of password guessing, against the real
server over real TCP and TLS.

SCRAM-*-PLUS is driven by a hand-written client on pyOpenSSL, because it
needs what client libraries hide: the TLS exporter (RFC 9266) and the
server's certificate (RFC 5929 section 4.1).
"""

import base64
import hashlib
import hmac
import re
import secrets
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL

from harness import (
    runScenario,
    NS_SASL, PASSWORD, Client, TLSRawStream, TunedServer, saslData, tlsLogin)

pytestmark = pytest.mark.integration

#: The host that lets clients authenticate without TLS.
PLAIN_HOST = "plain.example"

ALL_MECHANISMS = ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256",
                  "SCRAM-SHA-1", "PLAIN"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = TunedServer(
        tmp_path_factory.mktemp("auth"),
        hosts=("localhost", "example.net", PLAIN_HOST),
        options={"auth_failure_delay": 0.2, "auth_failure_max_delay": 1.0},
        hostExtra={PLAIN_HOST: "c2s_require_encryption = false"})
    running.start()
    for jid in ("alice@localhost", "dave@" + PLAIN_HOST):
        running.adduser(jid)
    yield running
    running.stop()


def forgiven(server):
    """
    Make the server forget the failed logins of 127.0.0.1, which it does
    when the address logs in successfully, so that the next failure is
    answered after the shortest delay.
    """
    tlsLogin(server, "alice", resource="reset").close()


@pytest.fixture(autouse=True)
def fresh(server):
    """
    Start each test with no failures held against 127.0.0.1.
    """
    forgiven(server)


def run(coroutine):
    return runScenario(coroutine, 60)


def mechanisms(features):
    return re.findall(r"<mechanism>([^<]*)</mechanism>", features)


def tlsStream(server, to="localhost", serverName=None, maxVersion=None):
    """
    A raw stream to C{to} after STARTTLS; return it and the features
    offered on the encrypted stream.
    """
    stream = TLSRawStream(server)
    stream.openStream(to)
    stream.startTLS(serverName or to, maxVersion)
    return stream, stream.openStream(to)


# -- A SCRAM client (RFC 5802 section 3) --------------------------------------


def scramKeys(hashName, password, salt, iterations, authMessage):
    """
    The ClientProof and the ServerSignature expected for C{authMessage}.
    """
    salted = hashlib.pbkdf2_hmac(hashName, password.encode(), salt,
                                 iterations)
    clientKey = hmac.digest(salted, b"Client Key", hashName)
    storedKey = hashlib.new(hashName, clientKey).digest()
    clientSignature = hmac.digest(storedKey, authMessage, hashName)
    proof = bytes(a ^ b for a, b in zip(clientKey, clientSignature))
    serverKey = hmac.digest(salted, b"Server Key", hashName)
    return proof, hmac.digest(serverKey, authMessage, hashName)


def scramLogin(stream, mechanism, user, password=PASSWORD, header="n,,",
               cbData=b""):
    """
    Run SCRAM on C{stream} with GS2 C{header} and channel binding data
    C{cbData}; check the server's signature on success.

    @return: C{(name, text, serverFirst)}: the name and text of the
        server's last SASL element and the decoded server-first message
        (C{None} if it sent none).
    """
    hashName = "sha256" if mechanism.startswith("SCRAM-SHA-256") else "sha1"
    nonce = secrets.token_urlsafe(18)
    bare = "n=%s,r=%s" % (user, nonce)
    stream.sasl(mechanism, (header + bare).encode())
    name, text = stream.saslAnswer()
    if name != "challenge":
        return name, text, None
    serverFirst = saslData(text).decode()
    attributes = dict(part.split("=", 1) for part in serverFirst.split(","))
    assert attributes["r"].startswith(nonce)
    cbind = base64.b64encode(header.encode() + cbData).decode()
    withoutProof = "c=%s,r=%s" % (cbind, attributes["r"])
    authMessage = ",".join([bare, serverFirst, withoutProof]).encode()
    proof, signature = scramKeys(hashName, password,
                                 base64.b64decode(attributes["s"]),
                                 int(attributes["i"]), authMessage)
    stream.respond(("%s,p=%s" % (
        withoutProof, base64.b64encode(proof).decode())).encode())
    name, text = stream.saslAnswer()
    if name == "success":
        assert saslData(text) == b"v=" + base64.b64encode(signature)
    return name, text, serverFirst


def exporterBinding(stream):
    """
    C{tls-exporter} data (RFC 9266 section 2): 32 bytes exported with the
    label C{EXPORTER-Channel-Binding} and an empty context.
    """
    return stream.tls.export_keying_material(b"EXPORTER-Channel-Binding", 32,
                                             b"")


def endPointBinding(stream):
    """
    C{tls-server-end-point} data (RFC 5929 section 4.1): the hash of the
    server's certificate, SHA-256 for its ecdsa-with-SHA256 signature.
    """
    der = stream.serverCertificate().public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).digest()


BINDINGS = {"tls-exporter": exporterBinding,
            "tls-server-end-point": endPointBinding}


def isFailure(text, condition):
    """
    Whether C{text} is a SASL C{<failure/>} with C{condition} and at most
    an explanatory C{<text/>} (RFC 6120 section 6.4.5).
    """
    pattern = r"<failure xmlns='%s'><%s/>(<text>[^<]*</text>)?</failure>"
    return re.fullmatch(pattern % (re.escape(NS_SASL), condition),
                        text) is not None


# -- SCRAM with channel binding -----------------------------------------------


@pytest.mark.parametrize("cbType", sorted(BINDINGS))
@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256-PLUS",
                                       "SCRAM-SHA-1-PLUS"])
def test_scramPlus(server, mechanism, cbType):
    """
    SCRAM-*-PLUS over TLS 1.3 with each channel binding type: the server
    accepts the client's proof, proves it knows the credential (C{v=}), and
    the stream binds the resource asked for.
    """
    stream, features = tlsStream(server)
    assert stream.tls.get_protocol_version_name() == "TLSv1.3"
    assert mechanism in mechanisms(features)
    name, text, _ = scramLogin(stream, mechanism, "alice",
                               header="p=%s,," % (cbType,),
                               cbData=BINDINGS[cbType](stream))
    assert name == "success", text
    resource = "%s-%s" % (mechanism, cbType)
    assert stream.bind(resource) == "alice@localhost/" + resource
    stream.close()


@pytest.mark.parametrize("cbType", sorted(BINDINGS))
def test_scramPlusOverTLS12(server, cbType):
    """
    On TLS 1.2 (with the extended master secret OpenSSL negotiates by
    default) both channel binding types work too.
    """
    stream, features = tlsStream(server, maxVersion=SSL.TLS1_2_VERSION)
    assert stream.tls.get_protocol_version_name() == "TLSv1.2"
    assert "SCRAM-SHA-256-PLUS" in mechanisms(features)
    name, text, _ = scramLogin(stream, "SCRAM-SHA-256-PLUS", "alice",
                               header="p=%s,," % (cbType,),
                               cbData=BINDINGS[cbType](stream))
    assert name == "success", text
    assert stream.bind("tls12") == "alice@localhost/tls12"
    stream.close()


def test_scramPlusFollowsSNICertificate(server):
    """
    A stream to localhost whose SNI named example.net was given example.net's
    certificate; tls-server-end-point binds to that certificate, the one
    the client actually saw.
    """
    stream, _ = tlsStream(server, to="localhost", serverName="example.net")
    assert sanNames(stream) == ["example.net"]
    name, text, _ = scramLogin(stream, "SCRAM-SHA-256-PLUS", "alice",
                               header="p=tls-server-end-point,,",
                               cbData=endPointBinding(stream))
    assert name == "success", text
    stream.close()


@pytest.mark.parametrize("header, cbData", [
    ("p=tls-exporter,,", b"\0" * 32),
    ("p=tls-server-end-point,,", hashlib.sha256(b"another cert").digest()),
    ("p=tls-unique,,", b"\0" * 12),
], ids=["wrong-exporter", "wrong-end-point", "unsupported-type"])
def test_wrongChannelBinding(server, header, cbData):
    """
    Channel binding data that is not this channel's, or a type the server
    does not offer, ends in C{<failure><not-authorized/></failure>}.
    """
    stream, _ = tlsStream(server)
    name, text, _ = scramLogin(stream, "SCRAM-SHA-256-PLUS", "alice",
                               header=header, cbData=cbData)
    assert name == "failure"
    assert isFailure(text, "not-authorized"), text
    stream.close()


def test_bindingDowngradeRefused(server):
    """
    GS2 flag C{y} ("I could bind, but you cannot") on a stream where the
    server offered -PLUS means someone stripped those mechanisms: the
    server refuses (RFC 5802 section 6).
    """
    stream, _ = tlsStream(server)
    name, text, _ = scramLogin(stream, "SCRAM-SHA-256", "alice", header="y,,")
    assert (name, isFailure(text, "not-authorized")) == ("failure", True)
    stream.close()


# -- Mechanisms offered, and PLAIN --------------------------------------------


def test_mechanismsAfterStartTLS(server):
    """
    After STARTTLS every mechanism is offered, in the configured order,
    and STARTTLS itself is not offered again.
    """
    stream, features = tlsStream(server)
    assert mechanisms(features) == ALL_MECHANISMS
    assert "starttls" not in features
    stream.close()


def test_plainOverTLS(server):
    """
    PLAIN with C{NUL user NUL password} over TLS succeeds and the stream
    binds its resource.
    """
    stream, _ = tlsStream(server)
    stream.sasl("PLAIN", b"\0alice\0" + PASSWORD.encode())
    name, text = stream.saslAnswer()
    assert name == "success", text
    assert stream.bind("plain") == "alice@localhost/plain"
    stream.close()


# -- Encryption required, or not ----------------------------------------------


def test_requiredEncryptionFeatures(server):
    """
    With c2s_require_encryption (the default), the features before TLS
    are exactly C{<starttls><required/></starttls>} (RFC 6120 s. 5.3.1).
    """
    stream = TLSRawStream(server)
    features = stream.openStream("localhost")
    assert features.endswith(
        "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
        "<required/></starttls></stream:features>"), features
    stream.close()


@pytest.mark.parametrize("mechanism, data", [
    ("PLAIN", b"\0alice\0" + PASSWORD.encode()),
    ("SCRAM-SHA-256", b"n,,n=alice,r=abcdefgh"),
])
def test_authBeforeStartTLSRefused(server, mechanism, data):
    """
    C{<auth/>} before STARTTLS on a host that requires encryption gets
    C{<failure><encryption-required/></failure>} (RFC 6120 s. 6.5.3).
    """
    stream = TLSRawStream(server)
    stream.openStream("localhost")
    stream.sasl(mechanism, data)
    name, text = stream.saslAnswer()
    assert name == "failure"
    assert isFailure(text, "encryption-required"), text
    stream.close()


def test_optionalEncryptionFeatures(server):
    """
    On a host without c2s_require_encryption the features before TLS
    offer STARTTLS without C{<required/>} and only the SCRAM mechanisms
    that need no TLS: no PLAIN, no -PLUS.  After STARTTLS all are there.
    """
    stream = TLSRawStream(server)
    features = stream.openStream(PLAIN_HOST)
    assert "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" in features
    assert "<required" not in features
    assert mechanisms(features) == ["SCRAM-SHA-256", "SCRAM-SHA-1"]
    stream.startTLS(PLAIN_HOST)
    assert mechanisms(stream.openStream(PLAIN_HOST)) == ALL_MECHANISMS
    stream.close()


def test_plainInTheClearRefused(server):
    """
    PLAIN in the clear, even where unencrypted logins are allowed, gets
    C{<failure><encryption-required/></failure>}: the server knows the
    mechanism but will not take a password unprotected.
    """
    stream = TLSRawStream(server)
    stream.openStream(PLAIN_HOST)
    stream.sasl("PLAIN", b"\0dave\0" + PASSWORD.encode())
    name, text = stream.saslAnswer()
    assert name == "failure"
    assert isFailure(text, "encryption-required"), text
    stream.close()


def test_scramInTheClearRaw(server):
    """
    Where encryption is optional, SCRAM-SHA-256 without TLS succeeds and
    binds.
    """
    stream = TLSRawStream(server)
    stream.openStream(PLAIN_HOST)
    name, text, _ = scramLogin(stream, "SCRAM-SHA-256", "dave")
    assert name == "success", text
    assert stream.bind("clear") == "dave@%s/clear" % (PLAIN_HOST,)
    stream.close()


def test_scramInTheClearSlixmpp(server):
    """
    slixmpp, told to skip STARTTLS and to allow SCRAM unencrypted, logs
    in with SCRAM-SHA-256 in plaintext and gets an answer to a ping.
    """
    async def scenario():
        client = Client("dave@%s/slix" % (PLAIN_HOST,), PASSWORD, server)
        client.enable_direct_tls = False
        client.enable_starttls = False
        client.enable_plaintext = True
        mechanismsPlugin = client.plugin["feature_mechanisms"]
        mechanismsPlugin.unencrypted_scram = True
        mechanismsPlugin.use_mech = "SCRAM-SHA-256"
        await client.login()
        assert mechanismsPlugin.mech.name == "SCRAM-SHA-256"
        assert "starttls" not in client.features
        assert str(client.boundjid) == "dave@%s/slix" % (PLAIN_HOST,)
        assert await client.plugin["xep_0199"].ping(PLAIN_HOST, timeout=5) >= 0
        client.disconnect()
    run(scenario())


# -- Certificate choice -------------------------------------------------------


def sanNames(stream):
    extension = stream.serverCertificate().extensions.get_extension_for_class(
        x509.SubjectAlternativeName)
    return extension.value.get_values_for_type(x509.DNSName)


@pytest.mark.parametrize("to, serverName, expected", [
    ("example.net", None, "example.net"),
    ("localhost", None, "localhost"),
    ("localhost", "example.net", "example.net"),
    ("example.net", "localhost", "localhost"),
    ("example.net", "elsewhere.example", "example.net"),
], ids=["to-only", "to-localhost", "sni-wins", "sni-wins-back",
        "unknown-sni-falls-back"])
def test_certificateChoice(server, to, serverName, expected):
    """
    The certificate presented after STARTTLS is the one of the domain the
    client's SNI names (RFC 6066 section 3), else of the stream's C{to}.
    """
    stream = TLSRawStream(server)
    stream.openStream(to)
    stream.startTLS(serverName)
    assert sanNames(stream) == [expected]
    stream.close()


# -- Password guessing --------------------------------------------------------


def test_sameFailureForUnknownUser(server):
    """
    An unknown user gets exactly the failure a wrong password gets, with
    PLAIN and with SCRAM, whose server-first message also has the same
    shape (salt length, iteration count) as a real account's: nothing
    tells whether an account exists (RFC 5802 section 9).
    """
    plain = []
    for user, password in (("alice", "wrong password"),
                           ("nobody", "wrong password")):
        forgiven(server)
        stream, _ = tlsStream(server)
        stream.sasl("PLAIN", ("\0%s\0%s" % (user, password)).encode())
        plain.append(stream.saslAnswer())
        stream.close()
    assert plain[0] == plain[1] == (
        "failure", "<failure xmlns='%s'><not-authorized/></failure>"
        % (NS_SASL,))
    scram = []
    for user in ("alice", "nobody"):
        forgiven(server)
        stream, _ = tlsStream(server)
        name, text, serverFirst = scramLogin(stream, "SCRAM-SHA-256", user,
                                             password="wrong password")
        fields = dict(part.split("=", 1) for part in serverFirst.split(","))
        scram.append((name, text, len(base64.b64decode(fields["s"])),
                      fields["i"]))
        stream.close()
    assert scram[0] == scram[1]
    assert isFailure(scram[0][1], "not-authorized")


def test_repeatedFailuresSlowedDown(server):
    """
    Each failed login from an address waits longer before its answer:
    auth_failure_delay (0.2 s) doubling per failure up to
    auth_failure_max_delay (1 s).  After five failures on one stream the
    server ends it with C{<policy-violation/>}.
    """
    stream, _ = tlsStream(server)
    timings = []
    for attempt in range(5):
        started = time.monotonic()
        stream.sasl("PLAIN", b"\0alice\0not the password")
        name, text = stream.saslAnswer()
        timings.append(time.monotonic() - started)
        assert isFailure(text, "not-authorized"), text
    expected = [0.2, 0.4, 0.8, 1.0, 1.0]
    for took, least in zip(timings, expected):
        assert least - 0.05 <= took < least + 0.5, timings
    assert timings[3] > timings[0] + 0.6, timings
    rest = stream.readAll()
    assert re.search(r"<stream:error><policy-violation ", rest), rest
    assert rest.endswith("</stream:stream>")
    stream.close()


# -- Cached credentials (jabberd.credcache) ------------------------------------


def _scramAs(server, user, password):
    forgiven(server)
    stream, _ = tlsStream(server)
    try:
        return scramLogin(stream, "SCRAM-SHA-256", user, password)[0]
    finally:
        stream.close()


def _forgottenAfter(server, command):
    """
    Run a C{jabberctl} command and wait until the server says it dropped
    its cached credentials, as C{jabberctl} signals it to.
    """
    before = server.logText().count("cached credentials forgotten")
    result = server.ctl(*command[:-1], stdin=command[-1] + "\n")
    assert result.returncode == 0, result.stderr
    deadline = time.monotonic() + 10
    while server.logText().count("cached credentials forgotten") == before:
        assert time.monotonic() < deadline, "jabberctl did not signal"
        time.sleep(0.05)


def test_jabberctlPasswdAppliesAtOnce(server):
    """
    Logins are answered from cached credentials, yet a password changed
    with C{jabberctl passwd} while the server runs takes effect at once:
    the old one fails, the new one works.
    """
    server.adduser("frank@localhost", "first password")
    assert _scramAs(server, "frank", "first password") == "success"
    _forgottenAfter(server, ("passwd", "frank@localhost", "--password-stdin",
                             "second password"))
    assert _scramAs(server, "frank", "first password") == "failure"
    assert _scramAs(server, "frank", "second password") == "success"


def test_jabberctlDeluserAndAdduserApplyAtOnce(server):
    """
    A deleted account cannot log in with its cached credentials, and an
    account created again (after a login attempt cached "no such user")
    can log in at once.
    """
    server.adduser("gina@localhost", "first password")
    assert _scramAs(server, "gina", "first password") == "success"
    _forgottenAfter(server, ("deluser", "gina@localhost", ""))
    assert _scramAs(server, "gina", "first password") == "failure"
    _forgottenAfter(server, ("adduser", "gina@localhost", "--password-stdin",
                             "second password"))
    assert _scramAs(server, "gina", "second password") == "success"
