"""
Tests for L{jabberd.tls}: certificate files, per-domain selection by SNI,
reloading, and channel binding data, over real TCP and TLS on 127.0.0.1.
"""

import datetime
import hashlib
import os
import pathlib
import shutil
import stat
import tempfile

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from OpenSSL import SSL
from twisted.internet import defer, reactor, task
from twisted.internet.endpoints import SSL4ServerEndpoint, TCP4ClientEndpoint
from twisted.internet.interfaces import (
    IHandshakeListener,
    IOpenSSLClientConnectionCreator,
)
from twisted.internet.protocol import Factory, Protocol
from twisted.trial import unittest
from zope.interface import implementer

from jabberd import tls

#: An ECDSA-with-SHA-1 certificate for sha1.example and its key.
SHA1_SIGNED_PAIR = b"""\
-----BEGIN CERTIFICATE-----
MIIBnTCCAUOgAwIBAgIUduS0p3gRhJN6CUMB23hRDe+n4pYwCQYHKoZIzj0EATAX
MRUwEwYDVQQDDAxzaGExLmV4YW1wbGUwIBcNMjYxMTIyMDEzMzE2WhgPMjEyNjEw
MjkwMTMzMTZaMBcxFTATBgNVBAMMDHNoYTEuZXhhbXBsZTBZMBMGByqGSM49AgEG
CCqGSM49AwEHA0IABFYI7+Qn035FV1iL0HJfSpqjh94PUlYpfSVTa6asJlnkmJpM
qamk4URTzFw2FJboyxfzREs5IWHNLwL2W2tLNXajbDBqMB0GA1UdDgQWBBQgDXh2
Ob4FTgWWIX8gESNXkdHRrzAfBgNVHSMEGDAWgBQgDXh2Ob4FTgWWIX8gESNXkdHR
rzAPBgNVHRMBAf8EBTADAQH/MBcGA1UdEQQQMA6CDHNoYTEuZXhhbXBsZTAJBgcq
hkjOPQQBA0kAMEYCIQDBsCZOKjWPN3BzqImSh3fUI1xYNz9hvy5hzTjdYPgeMAIh
ALqYvqwtDh3cKwrRB0ECQbZaglavHcxfv3JTkMw4hNyR
-----END CERTIFICATE-----
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgS9IKKug8BvHZ7VSP
KSFAjoqaTy9oZ0u4KcfOjyPlFN6hRANCAARWCO/kJ9N+RVdYi9ByX0qao4feD1JW
KX0lU2umrCZZ5JiaTKmppOFEU8xcNhSW6MsX80RLOSFhzS8C9ltrSzV2
-----END PRIVATE KEY-----
"""

# RFC 7627 turns the extended master secret off when set (SSL_OP_BIT(0)).
OP_NO_EXTENDED_MASTER_SECRET = 1 << 0


# -- Helpers ---------------------------------------------------------------


def writeCertificate(
    directory, name, domain, notBefore, notAfter, algorithm=None, key=None, sign=True
):
    """
    Write a self-signed certificate for C{domain} valid between the given
    times, signed with C{algorithm} (SHA-256 by default, none if not
    C{sign}, as Ed25519 needs); return C{(certPath, keyPath)}.
    """
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(notBefore)
        .not_valid_after(notAfter)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), False)
        .sign(key, (algorithm or hashes.SHA256()) if sign else None)
    )
    certPath = os.path.join(directory, name + ".crt")
    keyPath = os.path.join(directory, name + ".key")
    with open(certPath, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(keyPath, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return certPath, keyPath


def leafOf(certPath):
    with open(certPath, "rb") as f:
        return x509.load_pem_x509_certificates(f.read())[0]


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


# -- Self-signed certificates ----------------------------------------------


def test_selfSignedNamesTheDomain(tmp_path):
    """
    The generated certificate carries the domain as a dNSName and as an
    id-on-xmppAddr otherName holding a DER UTF8String (RFC 6120 13.7.1.4).
    """
    certPath, keyPath = tls.ensureSelfSigned(str(tmp_path), "a.example")
    assert certPath == str(tmp_path / "certs" / "a.example.crt")
    assert keyPath == str(tmp_path / "certs" / "a.example.key")
    extensions = leafOf(certPath).extensions
    san = extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.DNSName) == ["a.example"]
    [other] = san.value.get_values_for_type(x509.OtherName)
    assert other.type_id.dotted_string == "1.3.6.1.5.5.7.8.5"
    assert other.value == b"\x0c\x09a.example"
    assert tls.certificateNames(leafOf(certPath)) == (["a.example"], ["a.example"])


def test_selfSignedLongXmppAddr(tmp_path):
    """
    A domain of 128 bytes or more gets a long-form DER length that parses
    back.
    """
    domain = ".".join(["label" * 10] * 3) + ".example"
    assert len(domain) > 127
    certPath, _ = tls.ensureSelfSigned(str(tmp_path), domain)
    assert tls.certificateNames(leafOf(certPath))[1] == [domain]


def test_selfSignedValidForTenYears(tmp_path):
    """
    The certificate is valid now and for about ten years.
    """
    certPath, keyPath = tls.ensureSelfSigned(str(tmp_path), "a.example")
    leaf = leafOf(certPath)
    lifetime = leaf.not_valid_after_utc - utcnow()
    assert datetime.timedelta(days=3640) < lifetime < datetime.timedelta(days=3660)
    assert tls.checkCertificate(certPath, keyPath, "a.example") == []


def test_selfSignedKeyIsPrivate(tmp_path):
    """
    The private key file is readable by its owner only.
    """
    _, keyPath = tls.ensureSelfSigned(str(tmp_path), "a.example")
    assert stat.S_IMODE(os.stat(keyPath).st_mode) == 0o600


def test_selfSignedReused(tmp_path):
    """
    A second call, as on the next start, keeps the files already there.
    """
    certPath, keyPath = tls.ensureSelfSigned(str(tmp_path), "a.example")
    with open(certPath, "rb") as f:
        first = f.read()
    assert tls.ensureSelfSigned(str(tmp_path), "a.example") == (certPath, keyPath)
    with open(certPath, "rb") as f:
        assert f.read() == first


def test_selfSignedReplacedWhenExpired(tmp_path):
    """
    An expired generated certificate is replaced by a fresh one.
    """
    (tmp_path / "certs").mkdir()
    past = utcnow() - datetime.timedelta(days=30)
    certPath, keyPath = writeCertificate(
        str(tmp_path / "certs"), "a.example", "a.example", past, past
    )
    tls.ensureSelfSigned(str(tmp_path), "a.example")
    assert tls.checkCertificate(certPath, keyPath, "a.example") == []


def test_selfSignedUsesReactorTime(tmp_path):
    """
    With a reactor given, its clock dates the certificate.
    """
    clock = task.Clock()
    clock.advance(1_000_000_000)
    certPath, keyPath = tls.ensureSelfSigned(str(tmp_path), "a.example", clock)
    notAfter = leafOf(certPath).not_valid_after_utc
    assert notAfter.year == 2011


def test_selfSignedRejectsPathInDomain(tmp_path):
    """
    A domain that would escape the certs directory is refused.
    """
    with pytest.raises(ValueError):
        tls.ensureSelfSigned(str(tmp_path), "../evil")


# -- Loading and checking --------------------------------------------------


def test_loadCredentials(tmp_path):
    """
    A matching pair loads; the chain's first certificate is the leaf.
    """
    certPath, keyPath = tls.ensureSelfSigned(str(tmp_path), "a.example")
    credentials = tls.loadCredentials(certPath, keyPath)
    assert (credentials.certPath, credentials.keyPath) == (certPath, keyPath)
    assert credentials.certificate == leafOf(certPath)


def test_loadCredentialsMismatchedKey(tmp_path):
    """
    A key from another certificate is refused, naming the key file.
    """
    certPath, _ = tls.ensureSelfSigned(str(tmp_path), "a.example")
    _, otherKey = tls.ensureSelfSigned(str(tmp_path), "b.example")
    with pytest.raises(tls.CertificateError) as raised:
        tls.loadCredentials(certPath, otherKey)
    assert otherKey in str(raised.value)
    assert "does not match" in str(raised.value)


def test_loadCredentialsGarbageCertificate(tmp_path):
    """
    A certificate file that is not PEM is refused, naming it.
    """
    _, keyPath = tls.ensureSelfSigned(str(tmp_path), "a.example")
    garbage = tmp_path / "garbage.crt"
    garbage.write_bytes(b"this is not a certificate\n")
    with pytest.raises(tls.CertificateError) as raised:
        tls.loadCredentials(str(garbage), keyPath)
    assert str(garbage) in str(raised.value)


def test_loadCredentialsGarbageKey(tmp_path):
    """
    A key file that is not PEM is refused, naming it.
    """
    certPath, _ = tls.ensureSelfSigned(str(tmp_path), "a.example")
    garbage = tmp_path / "garbage.key"
    garbage.write_bytes(
        b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"
    )
    with pytest.raises(tls.CertificateError) as raised:
        tls.loadCredentials(certPath, str(garbage))
    assert str(garbage) in str(raised.value)


def test_loadCredentialsMissingFile(tmp_path):
    """
    A missing file is reported as unreadable, by name.
    """
    missing = str(tmp_path / "missing.crt")
    with pytest.raises(tls.CertificateError) as raised:
        tls.loadCredentials(missing, missing)
    assert missing in str(raised.value)
    assert "cannot read" in str(raised.value)


def test_loadCredentialsEncryptedKey(tmp_path):
    """
    A passphrase-protected key is refused: nobody is there to type it.
    """
    certPath, keyPath = tls.ensureSelfSigned(str(tmp_path), "a.example")
    key = serialization.load_pem_private_key(pathlib.Path(keyPath).read_bytes(), None)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(tls.CertificateError) as raised:
        tls.loadCredentials(certPath, str(encrypted))
    assert "encrypted" in str(raised.value)


def test_loadCredentialsCombinedFile(tmp_path):
    """
    Certificate and key may share one PEM file.
    """
    certPath, keyPath = tls.ensureSelfSigned(str(tmp_path), "a.example")
    combined = tmp_path / "combined.pem"
    pem = pathlib.Path(certPath).read_bytes() + pathlib.Path(keyPath).read_bytes()
    combined.write_bytes(pem)
    credentials = tls.loadCredentials(str(combined), str(combined))
    assert credentials.certificate == leafOf(certPath)


def test_checkCertificateExpired(tmp_path):
    """
    An expired certificate is reported with its file name.
    """
    past = utcnow() - datetime.timedelta(days=10)
    certPath, keyPath = writeCertificate(
        str(tmp_path), "old", "a.example", past - datetime.timedelta(days=10), past
    )
    [problem] = tls.checkCertificate(certPath, keyPath, "a.example")
    assert certPath in problem and "expired" in problem


def test_checkCertificateNotYetValid(tmp_path):
    """
    A certificate from the future is reported.
    """
    future = utcnow() + datetime.timedelta(days=10)
    certPath, keyPath = writeCertificate(
        str(tmp_path), "new", "a.example", future, future + datetime.timedelta(days=1)
    )
    [problem] = tls.checkCertificate(certPath, keyPath, "a.example")
    assert "not valid before" in problem


def test_checkCertificateAtGivenTime(tmp_path):
    """
    C{now} chooses the moment checked, as a datetime or as POSIX seconds.
    """
    certPath, keyPath = tls.ensureSelfSigned(str(tmp_path), "a.example")
    later = utcnow() + datetime.timedelta(days=3700)
    assert "expired" in tls.checkCertificate(certPath, keyPath, "a.example", later)[0]
    assert "expired" in tls.checkCertificate(
        certPath, keyPath, "a.example", later.timestamp()
    )[0]


def test_checkCertificateMismatchedKey(tmp_path):
    """
    A key that does not belong to the certificate is reported.
    """
    certPath, _ = tls.ensureSelfSigned(str(tmp_path), "a.example")
    _, otherKey = tls.ensureSelfSigned(str(tmp_path), "b.example")
    [problem] = tls.checkCertificate(certPath, otherKey, "a.example")
    assert "does not match" in problem and otherKey in problem


def test_checkCertificateWrongDomain(tmp_path):
    """
    A certificate that does not name the domain gets a warning.
    """
    certPath, keyPath = tls.ensureSelfSigned(str(tmp_path), "a.example")
    [problem] = tls.checkCertificate(certPath, keyPath, "b.example")
    assert "warning" in problem and "b.example" in problem and certPath in problem


def test_checkCertificateWildcard(tmp_path):
    """
    A wildcard dNSName covers one label, not the bare parent domain.
    """
    now = utcnow()
    certPath, keyPath = writeCertificate(
        str(tmp_path), "wild", "*.example.org", now, now + datetime.timedelta(days=1)
    )
    assert tls.checkCertificate(certPath, keyPath, "chat.example.org") == []
    assert tls.checkCertificate(certPath, keyPath, "example.org") != []
    assert tls.checkCertificate(certPath, keyPath, "a.b.example.org") != []


# -- tls-server-end-point hashes -------------------------------------------


def test_endPointHashUsesSignatureHash(tmp_path):
    """
    RFC 5929 4.1: a certificate signed with SHA-384 is hashed with SHA-384.
    """
    now = utcnow()
    certPath, keyPath = writeCertificate(
        str(tmp_path), "c", "a.example", now, now + datetime.timedelta(days=1),
        hashes.SHA384(),
    )
    der = leafOf(certPath).public_bytes(serialization.Encoding.DER)
    credentials = tls.loadCredentials(certPath, keyPath)
    assert credentials.endPointHash() == hashlib.sha384(der).digest()


def test_endPointHashUpgradesSHA1(tmp_path):
    """
    RFC 5929 4.1: a certificate signed with SHA-1 is hashed with SHA-256.
    (C{cryptography} no longer signs with SHA-1, so this pair was made once
    with C{openssl req -x509 -sha1}.)
    """
    combined = tmp_path / "sha1.pem"
    combined.write_bytes(SHA1_SIGNED_PAIR)
    credentials = tls.loadCredentials(str(combined), str(combined))
    assert isinstance(credentials.certificate.signature_hash_algorithm, hashes.SHA1)
    der = credentials.certificate.public_bytes(serialization.Encoding.DER)
    assert credentials.endPointHash() == hashlib.sha256(der).digest()


def test_endPointHashUndefinedForEd25519(tmp_path):
    """
    RFC 5929 4.1 leaves tls-server-end-point undefined for a signature
    without a single hash; no data is given.
    """
    now = utcnow()
    certPath, keyPath = writeCertificate(
        str(tmp_path), "c", "a.example", now, now + datetime.timedelta(days=1),
        None, ed25519.Ed25519PrivateKey.generate(), sign=False,
    )
    assert tls.loadCredentials(certPath, keyPath).endPointHash() is None


# -- TLSContexts bookkeeping ------------------------------------------------


def test_contextsDomains(tmp_path):
    """
    Domains come and go with setDomain and removeDomain.
    """
    contexts = tls.TLSContexts()
    credentials = tls.loadCredentials(*tls.ensureSelfSigned(str(tmp_path), "a.example"))
    contexts.setDomain("a.example", credentials)
    assert contexts.domains() == {"a.example"}
    assert contexts.credentials("a.example") is credentials
    contexts.removeDomain("a.example")
    assert contexts.domains() == set()
    with pytest.raises(KeyError):
        contexts.serverContextFactory("a.example")


def test_contextsReloadKeepsOldOnError(tmp_path):
    """
    reload() re-reads the files; a domain whose files broke keeps serving
    its previous certificate and the problem is reported.
    """
    contexts = tls.TLSContexts()
    certPath, keyPath = tls.ensureSelfSigned(str(tmp_path), "a.example")
    old = tls.loadCredentials(certPath, keyPath)
    contexts.setDomain("a.example", old)
    assert contexts.reload() == []
    assert contexts.credentials("a.example") is not old
    current = contexts.credentials("a.example")
    with open(certPath, "wb") as f:
        f.write(b"broken")
    [problem] = contexts.reload()
    assert "a.example" in problem and certPath in problem
    assert contexts.credentials("a.example") is current


def test_minimumVersionIsTLS12(tmp_path):
    """
    The contexts refuse protocol versions older than TLS 1.2.
    """
    credentials = tls.loadCredentials(*tls.ensureSelfSigned(str(tmp_path), "a.example"))
    # set_options returns the resulting bitmask; adding nothing reads it.
    options = credentials.contextFactory().getContext().set_options(0)
    assert options & SSL.OP_NO_TLSv1 and options & SSL.OP_NO_TLSv1_1
    assert not options & SSL.OP_NO_TLSv1_2


# -- Real connections ------------------------------------------------------


@implementer(IOpenSSLClientConnectionCreator)
class ClientTLS:
    """
    A pyOpenSSL client that trusts anything (the tests compare the
    certificate themselves) and sends SNI when told to.
    """

    def __init__(self, serverName=None, maxVersion=None, options=0):
        self.serverName = serverName
        self.maxVersion = maxVersion
        self.options = options

    def clientConnectionForTLS(self, tlsProtocol):
        context = SSL.Context(SSL.TLS_CLIENT_METHOD)
        context.set_verify(SSL.VERIFY_NONE)
        if self.maxVersion is not None:
            context.set_max_proto_version(self.maxVersion)
        context.set_options(self.options)
        connection = SSL.Connection(context, None)
        if self.serverName is not None:
            connection.set_tlsext_host_name(self.serverName.encode("ascii"))
        return connection


@implementer(IHandshakeListener)
class Peer(Protocol):
    """
    One end of a test connection.  The client asks for STARTTLS; the server
    answers as RFC 6120 section 5.4.2.3 has it and both start TLS.  With
    C{direct}, TLS is already there (XEP-0368).
    """

    def __init__(self, startTLS, direct=False):
        self.startTLS = startTLS
        self.buffer = b""
        self.handshake = defer.Deferred()
        self.lost = defer.Deferred()
        self.beforeTLS = None
        self.direct = direct

    def connectionMade(self):
        if self.direct:
            return
        if isinstance(self.startTLS, ClientTLS):
            self.transport.write(b"<starttls/>")

    def dataReceived(self, data):
        self.buffer += data
        if self.buffer == b"<starttls/>":
            self.beforeTLS = tls.supportedBindingTypes(self.transport)
            self.transport.write(b"<proceed/>")
            self.transport.startTLS(self.startTLS)
        elif self.buffer == b"<proceed/>":
            self.transport.startTLS(self.startTLS)
        else:
            return
        self.buffer = b""

    def handshakeCompleted(self):
        self.handshake.callback(self)

    def connectionLost(self, reason):
        self.lost.callback(None)


class ConnectionTests(unittest.TestCase):
    """
    STARTTLS and direct TLS between a L{TLSContexts} server and a pyOpenSSL
    client on 127.0.0.1.
    """

    timeout = 10

    def setUp(self):
        self.dataDir = self.makeDirectory()
        self.contexts = tls.TLSContexts()
        for domain in ("a.example", "b.example"):
            paths = tls.ensureSelfSigned(self.dataDir, domain)
            self.contexts.setDomain(domain, tls.loadCredentials(*paths))
        self.servers = []

    def makeDirectory(self):
        """
        A fresh directory outside the working tree (trial's C{mktemp} would
        put it under the current directory when run by pytest).
        """
        path = tempfile.mkdtemp(prefix="jabberd-tls-")
        self.addCleanup(shutil.rmtree, path, True)
        return path

    def cert(self, domain):
        return self.contexts.credentials(domain).certificate

    def listenStartTLS(self, streamDomain):
        """
        Listen for STARTTLS streams addressed to C{streamDomain}.
        """

        def buildProtocol(addr):
            creator = self.contexts.serverContextFactory(streamDomain)
            server = Peer(creator)
            self.servers.append(server)
            return server

        factory = Factory()
        factory.buildProtocol = buildProtocol
        port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        return port.getHost().port

    @defer.inlineCallbacks
    def listenDirectTLS(self, streamDomain):
        """
        Listen with direct TLS, one connection creator for the whole port.
        """

        def buildProtocol(addr):
            server = Peer(None, direct=True)
            self.servers.append(server)
            return server

        factory = Factory()
        factory.buildProtocol = buildProtocol
        creator = self.contexts.serverContextFactory(streamDomain)
        endpoint = SSL4ServerEndpoint(reactor, 0, creator, interface="127.0.0.1")
        port = yield endpoint.listen(factory)
        self.addCleanup(port.stopListening)
        return port.getHost().port

    @defer.inlineCallbacks
    def connect(self, portNumber, clientTLS, direct=False):
        """
        Connect a client, wait for both handshakes, and return
        C{(client, server)}.
        """
        client = Peer(clientTLS, direct=direct)
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", portNumber)
        yield endpoint.connect(Factory.forProtocol(lambda: client))
        if direct:
            client.transport.startTLS(clientTLS)
        self.addCleanup(self.disconnect, client)
        yield client.handshake
        server = self.servers[-1]
        yield server.handshake
        return client, server

    def disconnect(self, client):
        server = self.servers[-1]
        client.transport.loseConnection()
        return defer.gatherResults([client.lost, server.lost])

    def presented(self, client):
        return tls.tlsConnection(client.transport).get_peer_certificate(
            as_cryptography=True
        )

    @defer.inlineCallbacks
    def test_sniChoosesCertificate(self):
        """
        On a stream to a.example, a client naming b.example by SNI gets
        b.example's certificate, and one naming a.example gets a.example's.
        """
        port = self.listenStartTLS("a.example")
        client, server = yield self.connect(port, ClientTLS("b.example"))
        self.assertEqual(self.presented(client), self.cert("b.example"))
        credentials = self.contexts.credentialsForConnection(server.transport)
        self.assertIs(credentials, self.contexts.credentials("b.example"))
        client, server = yield self.connect(port, ClientTLS("a.example"))
        self.assertEqual(self.presented(client), self.cert("a.example"))

    @defer.inlineCallbacks
    def test_noSNIGetsStreamDomain(self):
        """
        Without SNI, the certificate of the stream's domain is presented.
        """
        port = self.listenStartTLS("b.example")
        client, server = yield self.connect(port, ClientTLS())
        self.assertEqual(self.presented(client), self.cert("b.example"))

    @defer.inlineCallbacks
    def test_unknownSNIGetsStreamDomain(self):
        """
        SNI naming a domain we do not host leaves the stream's certificate.
        """
        port = self.listenStartTLS("a.example")
        client, server = yield self.connect(port, ClientTLS("c.example"))
        self.assertEqual(self.presented(client), self.cert("a.example"))

    @defer.inlineCallbacks
    def test_reloadAffectsNewConnections(self):
        """
        After setDomain with a new certificate, new connections on the same
        listening port get it and an established one keeps the old.  (No
        SNI here: this is about the port's own default, not the SNI switch.)
        """
        port = yield self.listenDirectTLS("a.example")
        oldClient, oldServer = yield self.connect(port, ClientTLS(), True)
        old = self.contexts.credentials("a.example")
        newPaths = tls.ensureSelfSigned(self.makeDirectory(), "a.example")
        self.contexts.setDomain("a.example", tls.loadCredentials(*newPaths))
        client, server = yield self.connect(port, ClientTLS(), True)
        self.assertEqual(self.presented(client), leafOf(newPaths[0]))
        self.assertNotEqual(self.presented(client), old.certificate)
        self.assertEqual(self.presented(oldClient), old.certificate)
        self.assertIs(self.contexts.credentialsForConnection(oldServer.transport), old)
        self.assertEqual(
            tls.channelBindingData(
                oldServer.transport, "tls-server-end-point", self.contexts
            ),
            old.endPointHash(),
        )

    @defer.inlineCallbacks
    def test_reloadThroughSNI(self):
        """
        A reloaded certificate is also what SNI switches to.
        """
        port = self.listenStartTLS("a.example")
        newPaths = tls.ensureSelfSigned(self.makeDirectory(), "b.example")
        self.contexts.setDomain("b.example", tls.loadCredentials(*newPaths))
        client, server = yield self.connect(port, ClientTLS("b.example"))
        self.assertEqual(self.presented(client), leafOf(newPaths[0]))

    def assertBindingsMatch(self, client, server):
        """
        The client's own computation of both binding types equals the
        server's L{tls.channelBindingData}.
        """
        clientConnection = tls.tlsConnection(client.transport)
        exported = clientConnection.export_keying_material(
            b"EXPORTER-Channel-Binding", 32, b""
        )
        self.assertEqual(len(exported), 32)
        self.assertEqual(
            tls.channelBindingData(server.transport, "tls-exporter", self.contexts),
            exported,
        )
        received = self.presented(client).public_bytes(serialization.Encoding.DER)
        self.assertEqual(
            tls.channelBindingData(
                server.transport, "tls-server-end-point", self.contexts
            ),
            hashlib.sha256(received).digest(),
        )

    @defer.inlineCallbacks
    def test_channelBindingTLS13(self):
        """
        On TLS 1.3 after STARTTLS, both binding types agree with the client
        and both are offered; before TLS, none were.
        """
        port = self.listenStartTLS("a.example")
        client, server = yield self.connect(port, ClientTLS("b.example"))
        connection = tls.tlsConnection(server.transport)
        self.assertEqual(connection.get_protocol_version(), SSL.TLS1_3_VERSION)
        self.assertBindingsMatch(client, server)
        self.assertEqual(
            tls.supportedBindingTypes(server.transport),
            ("tls-exporter", "tls-server-end-point"),
        )
        self.assertEqual(server.beforeTLS, ())

    @defer.inlineCallbacks
    def test_channelBindingDirectTLS(self):
        """
        On a direct TLS port the bindings are found the same way.
        """
        port = yield self.listenDirectTLS("a.example")
        client, server = yield self.connect(port, ClientTLS(), direct=True)
        self.assertBindingsMatch(client, server)

    @defer.inlineCallbacks
    def test_channelBindingTLS12(self):
        """
        On TLS 1.2 with the extended master secret, tls-exporter is offered
        and agrees with the client.
        """
        port = self.listenStartTLS("a.example")
        client, server = yield self.connect(
            port, ClientTLS("a.example", maxVersion=SSL.TLS1_2_VERSION)
        )
        connection = tls.tlsConnection(server.transport)
        self.assertEqual(connection.get_protocol_version(), SSL.TLS1_2_VERSION)
        self.assertBindingsMatch(client, server)
        self.assertIn("tls-exporter", tls.supportedBindingTypes(server.transport))

    @defer.inlineCallbacks
    def test_noExporterWithoutExtendedMasterSecret(self):
        """
        RFC 9266 (with RFC 7627): on TLS 1.2 without the extended master secret,
        tls-exporter is neither offered nor given; tls-server-end-point is.
        """
        port = self.listenStartTLS("a.example")
        client, server = yield self.connect(
            port,
            ClientTLS(
                "a.example",
                maxVersion=SSL.TLS1_2_VERSION,
                options=OP_NO_EXTENDED_MASTER_SECRET,
            ),
        )
        self.assertIsNone(
            tls.channelBindingData(server.transport, "tls-exporter", self.contexts)
        )
        self.assertEqual(
            tls.supportedBindingTypes(server.transport), ("tls-server-end-point",)
        )

    @defer.inlineCallbacks
    def test_endPointWithoutContexts(self):
        """
        Without a L{TLSContexts}, tls-server-end-point is computed from the
        certificate the connection presented.
        """
        port = self.listenStartTLS("a.example")
        client, server = yield self.connect(port, ClientTLS("b.example"))
        received = self.presented(client).public_bytes(serialization.Encoding.DER)
        self.assertEqual(
            tls.channelBindingData(server.transport, "tls-server-end-point"),
            hashlib.sha256(received).digest(),
        )
        self.assertIsNone(tls.channelBindingData(server.transport, "tls-unique"))
