"""
TLS for jabberd's streams: one certificate per hosted domain, chosen by SNI.

RFC 6120 section 5 has a client upgrade its stream with STARTTLS; XEP-0368
lets it start with TLS directly.  Either way the server must present the
certificate of the domain the client wants: the stream's C{to} gives the
default (L{TLSContexts.serverContextFactory}) and the client's Server Name
Indication, when it names another hosted domain, overrides it.

A server with no certificate configured for a domain still starts: it makes
a self-signed one under its data directory (L{ensureSelfSigned}) and reuses
it afterwards.  Certificates are reloadable (L{TLSContexts.reload}, meant for
SIGHUP): new connections get the new certificate, established ones keep
theirs.

SCRAM-*-PLUS (RFC 5802 section 6, XEP-0440) binds authentication to the TLS
channel; L{channelBindingData} yields C{tls-exporter} (RFC 9266) and
C{tls-server-end-point} (RFC 5929 section 4.1) data for a stream.
"""

import datetime
import os
import tempfile
import time

import idna
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from OpenSSL import SSL
from OpenSSL._util import lib as _openSSLLib
from twisted.internet.interfaces import IOpenSSLServerConnectionCreator
from twisted.internet.ssl import CertificateOptions, TLSVersion
from zope.interface import implementer

#: id-on-xmppAddr, the otherName type of RFC 6120 section 13.7.1.4.
XMPP_ADDR_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.8.5")

#: The exporter label and length that define tls-exporter (RFC 9266).
EXPORTER_LABEL = b"EXPORTER-Channel-Binding"
EXPORTER_LENGTH = 32

#: How long a generated self-signed certificate stays valid.
SELF_SIGNED_LIFETIME = datetime.timedelta(days=3650)

#: The oldest protocol version jabberd accepts.
MINIMUM_TLS_VERSION = TLSVersion.TLSv1_2


class CertificateError(Exception):
    """
    A certificate or key file is unusable; the message names the file and
    what is wrong with it.
    """


# -- Files -----------------------------------------------------------------


def _aLabel(domain):
    """
    The ASCII (A-label) form of C{domain}, as it appears in a dNSName and in
    the SNI extension (RFC 6066 section 3); lowercased, no trailing dot.
    """
    domain = domain.rstrip(".").lower()
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        return domain


def _certificatePaths(dataDir, domain):
    """
    Where the generated certificate and key of C{domain} live.

    @raise ValueError: if C{domain} could escape the C{certs} directory.
    """
    if not domain or domain.startswith(".") or "/" in domain or os.sep in domain:
        raise ValueError(f"not a usable domain for a file name: {domain!r}")
    base = os.path.join(dataDir, "certs", domain.lower())
    return base + ".crt", base + ".key"


def _readFile(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise CertificateError(f"{path}: cannot read: {e.strerror}") from e


def _readCertificates(path):
    """
    Parse the PEM certificate chain in C{path}, leaf first.
    """
    try:
        return x509.load_pem_x509_certificates(_readFile(path))
    except ValueError as e:
        raise CertificateError(f"{path}: no PEM certificate could be parsed") from e


def _readPrivateKey(path):
    """
    Parse the unencrypted PEM private key in C{path}: a server restarting on
    its own has nobody to type a passphrase.
    """
    try:
        return serialization.load_pem_private_key(_readFile(path), password=None)
    except TypeError as e:
        raise CertificateError(f"{path}: the private key is encrypted") from e
    except (ValueError, UnsupportedAlgorithm) as e:
        raise CertificateError(f"{path}: no PEM private key could be parsed") from e


def _publicKeyInfo(key):
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _checkKeyMatches(key, keyPath, certificate, certPath):
    if _publicKeyInfo(key.public_key()) != _publicKeyInfo(certificate.public_key()):
        raise CertificateError(
            f"{keyPath}: the private key does not match the certificate in {certPath}"
        )


def loadCredentials(certPath, keyPath):
    """
    Load a domain's certificate chain and private key.

    @param certPath: a PEM file of certificates, the domain's own first and
        then the intermediates that chain it to a trusted root.
    @param keyPath: a PEM file holding the unencrypted private key of the
        first certificate (it may be the same file as C{certPath}).
    @rtype: L{DomainCredentials}
    @raise CertificateError: if a file is unreadable or unparsable, or the
        key does not belong to the certificate.
    """
    chain = _readCertificates(certPath)
    key = _readPrivateKey(keyPath)
    _checkKeyMatches(key, keyPath, chain[0], certPath)
    return DomainCredentials(certPath, keyPath, chain, key)


# -- Self-signed certificates ----------------------------------------------


def _derUTF8String(text):
    """
    DER-encode C{text} as an ASN.1 UTF8String (tag 12), the type RFC 6120
    section 13.7.1.4 gives an xmppAddr.
    """
    data = text.encode("utf-8")
    if len(data) < 0x80:
        length = bytes([len(data)])
    else:
        size = len(data).to_bytes((len(data).bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(size)]) + size
    return b"\x0c" + length + data


def _subjectAltNames(domain):
    """
    The names RFC 6120 section 13.7.1.2 wants in a server certificate: the
    domain as a dNSName and as an id-on-xmppAddr otherName.
    """
    return x509.SubjectAlternativeName(
        [
            x509.DNSName(_aLabel(domain)),
            x509.OtherName(XMPP_ADDR_OID, _derUTF8String(domain)),
        ]
    )


def _subjectName(domain):
    """
    The subject (and, self-signed, issuer) of a generated certificate: the
    domain as commonName when it fits the 64 characters X.520 allows.  A
    longer domain gets a generic name instead, since RFC 5280 section 4.1.2.4
    wants a non-empty issuer; its identity is in the subjectAltNames anyway.
    """
    name = _aLabel(domain)
    if len(name) > 64:
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "jabberd")])
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])


def _selfSignedCertificate(domain, key, now):
    """
    Build a self-signed certificate for C{domain}, usable for both c2s
    (server) and s2s (client and server) connections.
    """
    name = _subjectName(domain)
    usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + SELF_SIGNED_LIFETIME)
        .add_extension(_subjectAltNames(domain), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    )
    return builder.sign(key, hashes.SHA256())


def _writeAtomically(path, data, mode):
    """
    Replace C{path} with C{data} so that a reader never sees half a file
    and a key is never readable by others, not even for a moment.
    """
    fd, temporary = tempfile.mkstemp(dir=os.path.dirname(path))
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _now(reactor=None):
    seconds = reactor.seconds() if reactor is not None else time.time()
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)


def ensureSelfSigned(dataDir, domain, reactor=None):
    """
    Make sure C{domain} has a certificate under C{dataDir}, for a server
    started with none configured.

    An existing pair in C{<dataDir>/certs/} is reused as long as it loads and
    is still valid; otherwise a new EC P-256 key and a self-signed
    certificate for ten years are written there (the key with mode 0600).

    @param reactor: an L{IReactorTime} for the current time, or L{None} for
        the system clock.
    @return: C{(certPath, keyPath)}
    """
    certPath, keyPath = _certificatePaths(dataDir, domain)
    now = _now(reactor)
    if not checkCertificate(certPath, keyPath, domain, now):
        return certPath, keyPath
    os.makedirs(os.path.dirname(certPath), mode=0o700, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = _selfSignedCertificate(domain, key, now)
    keyPEM = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _writeAtomically(keyPath, keyPEM, 0o600)
    certPEM = certificate.public_bytes(serialization.Encoding.PEM)
    _writeAtomically(certPath, certPEM, 0o644)
    return certPath, keyPath


# -- Checks ----------------------------------------------------------------


def _asDatetime(now):
    if now is None:
        return _now()
    if isinstance(now, datetime.datetime):
        return now if now.tzinfo else now.replace(tzinfo=datetime.timezone.utc)
    return datetime.datetime.fromtimestamp(now, datetime.timezone.utc)


def _validityProblems(certPath, certificate, now):
    if now < certificate.not_valid_before_utc:
        return [f"{certPath}: not valid before {certificate.not_valid_before_utc}"]
    if now > certificate.not_valid_after_utc:
        return [f"{certPath}: expired on {certificate.not_valid_after_utc}"]
    return []


def _dnsNameMatches(pattern, name):
    """
    RFC 6125 section 6.4.3 matching, wildcards only as the whole left-most
    label.
    """
    pattern = pattern.rstrip(".").lower()
    if pattern.startswith("*."):
        head, _, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == name


def certificateNames(certificate):
    """
    The subjectAltNames of C{certificate} that can name an XMPP domain.

    @return: C{(dnsNames, xmppAddrs)}, two lists of C{str}
    """
    try:
        extension = certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        )
    except x509.ExtensionNotFound:
        return [], []
    dnsNames = extension.value.get_values_for_type(x509.DNSName)
    xmppAddrs = [
        _parseUTF8String(other.value)
        for other in extension.value.get_values_for_type(x509.OtherName)
        if other.type_id == XMPP_ADDR_OID
    ]
    return dnsNames, [addr for addr in xmppAddrs if addr is not None]


def _parseUTF8String(der):
    """
    Decode a DER UTF8String; L{None} if C{der} is not one.
    """
    if len(der) < 2 or der[0] != 0x0C:
        return None
    offset, length = 2, der[1]
    if length & 0x80:
        offset = 2 + (length & 0x7F)
        length = int.from_bytes(der[2:offset], "big")
    try:
        return der[offset : offset + length].decode("utf-8")
    except UnicodeDecodeError:
        return None


def certificateCovers(certificate, domain):
    """
    Whether C{certificate} names C{domain} (RFC 6120 section 13.7.2.1): in
    a dNSName, possibly by wildcard, or in an xmppAddr.
    """
    dnsNames, xmppAddrs = certificateNames(certificate)
    name = _aLabel(domain)
    if any(_dnsNameMatches(pattern, name) for pattern in dnsNames):
        return True
    return any(_aLabel(addr) == name for addr in xmppAddrs)


def checkCertificate(certPath, keyPath, domain, now=None):
    """
    Find what would make a certificate unfit to serve C{domain}.

    @param now: the time to check validity at (a C{datetime} or POSIX
        seconds); L{None} for now.
    @return: a list of human-readable problems, each naming the file; empty
        if the certificate is fine.
    """
    try:
        credentials = loadCredentials(certPath, keyPath)
    except CertificateError as e:
        return [str(e)]
    certificate = credentials.certificate
    problems = _validityProblems(certPath, certificate, _asDatetime(now))
    if not certificateCovers(certificate, domain):
        problems.append(
            f"{certPath}: warning: {domain} is not among the certificate's "
            "subjectAltNames; clients will reject it"
        )
    return problems


# -- Credentials and contexts ----------------------------------------------


def _serverEndPointHash(certificate):
    """
    RFC 5929 section 4.1: hash the DER certificate with the hash of its
    signature algorithm, using SHA-256 instead of MD5 or SHA-1.

    @return: the digest, or L{None} where the binding is undefined (a
        signature algorithm without a single hash, such as Ed25519).
    """
    try:
        algorithm = certificate.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return None
    if algorithm is None:
        return None
    if isinstance(algorithm, (hashes.MD5, hashes.SHA1)):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(certificate.public_bytes(serialization.Encoding.DER))
    return digest.finalize()


#: ALPN protocol names of XMPP (XEP-0368 section 3).
ALPN_PROTOCOLS = (b"xmpp-client", b"xmpp-server")


def _selectALPN(connection, offered):
    """
    Agree on an XMPP protocol if the client offers one, else go on without
    ALPN.  Answered here because Twisted's own ALPN selection fails the
    handshake of a stream switched to TLS with C{startTLS} (it finds no
    protocol factory to ask).
    """
    for protocol in offered:
        if protocol in ALPN_PROTOCOLS:
            return protocol
    return SSL.NO_OVERLAPPING_PROTOCOLS


class DomainCredentials:
    """
    One domain's certificate chain and private key, as loaded from files.

    @ivar certPath: the certificate file it was loaded from.
    @ivar keyPath: the private key file it was loaded from.
    @ivar chain: the certificates, leaf first (L{x509.Certificate}s).
    @ivar privateKey: the leaf certificate's private key.
    """

    def __init__(self, certPath, keyPath, chain, privateKey):
        self.certPath = certPath
        self.keyPath = keyPath
        self.chain = list(chain)
        self.privateKey = privateKey
        self._endPointHash = _serverEndPointHash(self.chain[0])

    @property
    def certificate(self):
        """
        The leaf certificate, the one naming the domain.
        """
        return self.chain[0]

    def contextFactory(self, contextForServerName=None):
        """
        A server TLS context factory presenting this certificate, TLS 1.2 or
        later.

        Its L{SSL.Context} carries these credentials as its app data, so
        L{TLSContexts.credentialsForConnection} can tell which certificate a
        connection was given, even after an SNI switch or a reload.

        @param contextForServerName: passed on to L{CertificateOptions} to
            switch contexts on SNI.
        @rtype: L{CertificateOptions}
        """
        options = CertificateOptions(
            privateKey=self.privateKey,
            certificate=self.certificate,
            extraCertChain=self.chain[1:],
            raiseMinimumTo=MINIMUM_TLS_VERSION,
            contextForServerName=contextForServerName,
        )
        context = options.getContext()
        context.set_app_data(self)
        context.set_alpn_select_callback(_selectALPN)
        return options

    def endPointHash(self):
        """
        The C{tls-server-end-point} channel binding data (RFC 5929 section
        4.1) of this certificate; L{None} if undefined for its algorithm.
        """
        return self._endPointHash

    def __repr__(self):
        return f"<DomainCredentials {self.certPath!r}>"


@implementer(IOpenSSLServerConnectionCreator)
class _DomainConnectionCreator:
    """
    Makes each server-side TLS connection from the current certificate of
    one domain, so a long-lived holder (a listening port) follows reloads.
    """

    def __init__(self, contexts, domain):
        self._contexts = contexts
        self._domain = domain

    def serverConnectionForTLS(self, tlsProtocol):
        options = self._contexts._optionsFor(self._domain)
        return options.serverConnectionForTLS(tlsProtocol)

    def __repr__(self):
        return f"<server TLS for {self._domain!r}>"


class TLSContexts:
    """
    Per-domain certificates of one server, reloadable.

    Each domain's credentials give one L{CertificateOptions}, made on first
    use and dropped when the domain's credentials change; its SNI callback
    switches a handshake to whichever hosted domain the client names.
    """

    def __init__(self):
        self._credentials = {}
        self._options = {}
        self._bySNIName = {}

    def setDomain(self, domain, credentials):
        """
        Serve C{domain} with C{credentials} on new connections from now on.

        @type credentials: L{DomainCredentials}
        """
        self._credentials[domain] = credentials
        self._options.pop(domain, None)
        self._bySNIName[_aLabel(domain)] = domain

    def removeDomain(self, domain):
        """
        Stop serving C{domain}; established connections are left alone.
        """
        self._credentials.pop(domain, None)
        self._options.pop(domain, None)
        self._bySNIName.pop(_aLabel(domain), None)

    def domains(self):
        """
        @return: the hosted domains that have credentials.
        @rtype: C{set}
        """
        return set(self._credentials)

    def credentials(self, domain):
        """
        @return: the current L{DomainCredentials} of C{domain}.
        @raise KeyError: if C{domain} has none.
        """
        return self._credentials[domain]

    def reload(self):
        """
        Re-read every domain's certificate and key files, e.g. on SIGHUP.

        A domain whose files no longer load keeps its current certificate.

        @return: the problems found, one message per failing domain.
        """
        problems = []
        for domain, current in list(self._credentials.items()):
            try:
                fresh = loadCredentials(current.certPath, current.keyPath)
            except CertificateError as e:
                problems.append(f"{domain}: {e}")
            else:
                self.setDomain(domain, fresh)
        return problems

    def serverContextFactory(self, domain):
        """
        The connection creator to pass to C{transport.startTLS} (or to a TLS
        listening endpoint) for a stream addressed to C{domain}.

        It presents C{domain}'s certificate unless the client's SNI names
        another hosted domain; each new connection uses the certificate
        current at that time.

        @rtype: L{IOpenSSLServerConnectionCreator}
        @raise KeyError: if C{domain} has no credentials.
        """
        if domain not in self._credentials:
            raise KeyError(f"no certificate for {domain!r}")
        return _DomainConnectionCreator(self, domain)

    def credentialsForConnection(self, transportOrConnection):
        """
        The credentials whose certificate was presented on a connection.

        @param transportOrConnection: a TLS transport (see L{tlsConnection})
            or an L{SSL.Connection}.
        @rtype: L{DomainCredentials}, or L{None} if not a TLS connection of
            ours.
        """
        connection = tlsConnection(transportOrConnection)
        if connection is None:
            return None
        credentials = connection.get_context().get_app_data()
        return credentials if isinstance(credentials, DomainCredentials) else None

    def _optionsFor(self, domain):
        options = self._options.get(domain)
        if options is None:
            credentials = self._credentials[domain]
            options = credentials.contextFactory(self._contextForServerName)
            self._options[domain] = options
        return options

    def _contextForServerName(self, serverName):
        """
        The SNI callback: the context of the hosted domain the client named
        (RFC 6066 section 3), or L{None} to keep the stream's default.
        """
        if serverName is None:
            return None
        domain = self._bySNIName.get(serverName.decode("ascii", "replace").lower())
        if domain is None:
            return None
        return self._optionsFor(domain).getContext()


# -- Channel binding -------------------------------------------------------


def tlsConnection(transport):
    """
    Reach the pyOpenSSL L{SSL.Connection} underneath a Twisted transport.

    After C{transport.startTLS(creator)} on a TCP transport, Twisted
    (C{twisted.internet._newtls.startTLS}) puts a
    L{twisted.protocols.tls.TLSMemoryBIOProtocol} between the socket and the
    application's protocol, and rebinds the transport's C{getHandle} to that
    protocol's C{getHandle}, which returns its L{SSL.Connection}.  On a
    direct TLS port (C{ssl:}/C{tls:} endpoint, C{listenSSL}) the
    application's transport I{is} a C{TLSMemoryBIOProtocol}, whose
    C{getHandle} returns the same kind of object.  Before TLS, C{getHandle}
    gives a socket instead.

    @param transport: a transport, or already an L{SSL.Connection}.
    @return: the L{SSL.Connection}, or L{None} if TLS is not in use.
    """
    if isinstance(transport, SSL.Connection):
        return transport
    getHandle = getattr(transport, "getHandle", None)
    handle = getHandle() if getHandle is not None else None
    return handle if isinstance(handle, SSL.Connection) else None


def _handshakeDone(connection):
    """
    Whether the peer's Finished message has arrived: only then are both
    sides sure of the same keys and certificate.
    """
    return connection.get_peer_finished() is not None


def _extendedMasterSecret(connection):
    """
    Whether a TLS 1.2 handshake used the extended master secret (RFC 7627).

    pyOpenSSL has no public call for this; the OpenSSL binding it is built
    on (C{SSL_get_extms_support}) does.  Without it, say no.
    """
    check = getattr(_openSSLLib, "SSL_get_extms_support", None)
    return check is not None and check(connection._ssl) == 1


def _exporterAvailable(connection):
    """
    RFC 9266: C{tls-exporter} is safe on TLS 1.3, and on TLS 1.2
    only with the extended master secret.
    """
    version = connection.get_protocol_version()
    if version == SSL.TLS1_3_VERSION:
        return True
    return version == SSL.TLS1_2_VERSION and _extendedMasterSecret(connection)


def _endPointBinding(connection, contexts):
    credentials = contexts.credentialsForConnection(connection) if contexts else None
    if credentials is not None:
        return credentials.endPointHash()
    certificate = connection.get_certificate(as_cryptography=True)
    return _serverEndPointHash(certificate) if certificate is not None else None


def channelBindingData(transport, cbType, contexts=None):
    """
    The channel binding data of an established TLS stream, from the
    server's side, for SCRAM-*-PLUS (RFC 5802 section 6).

    @param cbType: C{"tls-exporter"} (RFC 9266: the keying material
        exported with label C{EXPORTER-Channel-Binding}, 32 bytes, empty
        context) or C{"tls-server-end-point"} (RFC 5929 section 4.1: the
        hash of the certificate we presented).
    @param contexts: the L{TLSContexts} that made the connection, if any.
    @return: the data, or L{None} if the stream has no (completed) TLS or
        the type is unknown or unsafe on this connection.
    """
    connection = tlsConnection(transport)
    if connection is None or not _handshakeDone(connection):
        return None
    if cbType == "tls-exporter":
        if not _exporterAvailable(connection):
            return None
        return connection.export_keying_material(EXPORTER_LABEL, EXPORTER_LENGTH, b"")
    if cbType == "tls-server-end-point":
        return _endPointBinding(connection, contexts)
    return None


def supportedBindingTypes(transport):
    """
    The channel binding types available on a stream, best first, to offer
    in XEP-0440's C{<sasl-channel-binding/>} and to allow in SCRAM-*-PLUS.

    @rtype: C{tuple} of C{str}; empty without a completed TLS handshake.
    """
    connection = tlsConnection(transport)
    if connection is None or not _handshakeDone(connection):
        return ()
    types = []
    if _exporterAvailable(connection):
        types.append("tls-exporter")
    if _endPointBinding(connection, None) is not None:
        types.append("tls-server-end-point")
    return tuple(types)
