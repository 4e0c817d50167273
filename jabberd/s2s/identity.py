"""
Is a peer's certificate good for the domain it claims?  (RFC 6120 section
13.7.2, RFC 6125.)

Two questions, answered separately so that logs can say which failed:

  - the chain: does the certificate lead to one of our trust anchors
    (L{trustStore}: the configured CA file, else the system's store)?
  - the identity: does it name the domain, as a DNS-ID (a dNSName, with
    RFC 6125 section 6.4.3 wildcards), an SRV-ID (an id-on-dnsSRV
    otherName for C{_xmpp-server} or C{_xmpps-server}, RFC 6125 section
    6.5.1), or an XmppAddr (an id-on-xmppAddr otherName, RFC 6120 section
    13.7.1.4, which service-identity does not know and which never holds a
    wildcard)?

DNS-ID and SRV-ID matching is service-identity's; the XmppAddr identifier
is added here.  The subject's commonName is not consulted (RFC 9525
retired the CN-ID).
"""

import ssl
from typing import NamedTuple

from cryptography import x509
from OpenSSL import crypto
from service_identity import CertificateError
from service_identity.hazmat import DNS_ID, SRV_ID, DNSPattern, SRVPattern

from jabberd.jid import InvalidJID, prepDomain
from jabberd.tls import certificateNames

#: id-on-dnsSRV (RFC 4985).
DNS_SRV_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.8.7")

#: The SRV services whose SRV-IDs name an XMPP server.
SERVER_SERVICES = ("_xmpp-server", "_xmpps-server")


class XmppAddrPattern(NamedTuple):
    """
    An id-on-xmppAddr identifier of a certificate, prepared as a domain.
    """

    domain: str


class Verification(NamedTuple):
    """
    The outcome of checking a peer's certificate for one domain.

    @ivar chainValid: whether it chains to a trust anchor.
    @ivar identityValid: whether it names the domain.
    @ivar reason: what failed, for the log; C{None} if nothing did.
    """

    chainValid: bool
    identityValid: bool
    reason: str | None = None

    @property
    def valid(self):
        """
        Whether the certificate authenticates the domain.
        """
        return self.chainValid and self.identityValid


#: What a stream without a peer certificate verifies as.
NO_CERTIFICATE = Verification(False, False, "no certificate")


def trustStore(caFile=None):
    """
    The trust anchors for verifying peers.

    @param caFile: a PEM file of CA certificates, or C{None} for the
        system's default store.
    @rtype: L{crypto.X509Store}
    """
    store = crypto.X509Store()
    if caFile is not None:
        store.load_locations(caFile)
        return store
    paths = ssl.get_default_verify_paths()
    if paths.cafile or paths.capath:
        store.load_locations(paths.cafile, paths.capath)
    return store


def verifyChain(store, chain):
    """
    Whether C{chain} (leaf first, then the intermediates the peer sent)
    leads to a trust anchor in C{store} and is valid now.

    @return: C{(ok, reason)}
    """
    leaf = crypto.X509.from_cryptography(chain[0])
    untrusted = [crypto.X509.from_cryptography(c) for c in chain[1:]]
    context = crypto.X509StoreContext(store, leaf, untrusted)
    try:
        context.verify_certificate()
    except crypto.X509StoreContextError as e:
        return False, "chain: %s" % (e,)
    return True, None


def identityPatterns(certificate):
    """
    The identifiers in C{certificate}'s subjectAltName that can name an
    XMPP server: L{DNSPattern}s, L{SRVPattern}s and L{XmppAddrPattern}s.
    Malformed ones (a wildcard out of place, bad encoding) are left out
    rather than spoiling the others.
    """
    patterns = []
    dnsNames, xmppAddrs = certificateNames(certificate)
    for name in dnsNames:
        _append(patterns, DNSPattern.from_bytes, name.encode("utf-8"))
    for name in _srvNames(certificate):
        _append(patterns, SRVPattern.from_bytes, name.encode("ascii"))
    for addr in xmppAddrs:
        try:
            patterns.append(XmppAddrPattern(prepDomain(addr)))
        except InvalidJID:
            pass
    return patterns


def _append(patterns, parse, value):
    try:
        patterns.append(parse(value))
    except (CertificateError, ValueError, UnicodeError):
        pass


def _srvNames(certificate):
    """
    The id-on-dnsSRV otherNames (DER IA5Strings) of C{certificate}.
    """
    try:
        extension = certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    names = []
    for other in extension.value.get_values_for_type(x509.OtherName):
        if other.type_id == DNS_SRV_OID:
            name = _ia5String(other.value)
            if name is not None:
                names.append(name)
    return names


def _ia5String(der):
    """
    Decode a short-form DER IA5String (tag 22); C{None} if it is not one.
    """
    if len(der) < 2 or der[0] != 0x16 or der[1] & 0x80:
        return None
    data = der[2:2 + der[1]]
    if len(data) != der[1] or not data.isascii():
        return None
    return data.decode("ascii")


def _referenceIdentifiers(domain):
    """
    The DNS-ID and SRV-IDs a certificate may use to name C{domain}.
    """
    try:
        references = [DNS_ID(domain)]
        references += [SRV_ID(service + "." + domain)
                       for service in SERVER_SERVICES]
    except (ValueError, UnicodeError):
        return []
    return references


def namesDomain(certificate, domain):
    """
    Whether C{certificate} names the XMPP domain C{domain}.
    """
    patterns = identityPatterns(certificate)
    try:
        prepared = prepDomain(domain)
    except InvalidJID:
        return False
    if XmppAddrPattern(prepared) in patterns:
        return True
    references = _referenceIdentifiers(prepared)
    return any(reference.verify(pattern) for reference in references
               for pattern in patterns
               if not isinstance(pattern, XmppAddrPattern))


def verifyPeer(store, chain, domain):
    """
    Check a peer's certificate chain for C{domain}.

    @param chain: the peer's certificates (C{cryptography}), leaf first;
        empty if it sent none.
    @rtype: L{Verification}
    """
    if not chain:
        return NO_CERTIFICATE
    chainValid, reason = verifyChain(store, chain)
    identityValid = namesDomain(chain[0], domain)
    if not identityValid:
        reason = "the certificate does not name %s" % (domain,)
    return Verification(chainValid, identityValid, reason)
