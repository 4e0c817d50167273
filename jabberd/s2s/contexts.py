"""
TLS contexts for server-to-server streams.

Both directions present the certificate of our domain in the stream and
ask the peer for its own: the initiating server sends one as a TLS client
certificate so that the receiving server may offer SASL EXTERNAL
(XEP-0178).  Neither side lets the handshake fail over the peer's
certificate: whether it verifies is decided afterwards, against the
domain named in the stream, by L{jabberd.s2s.identity} (a certificate
that does not verify still allows dialback, XEP-0220).
"""

from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL, crypto
from twisted.internet.interfaces import (
    IOpenSSLClientConnectionCreator, IOpenSSLServerConnectionCreator)
from zope.interface import implementer

from jabberd.tls import _aLabel, tlsConnection


def _acceptAny(connection, certificate, errno, depth, ok):
    """
    The verify callback: let every handshake through; the chain is judged
    once the stream says which domain it is for.
    """
    return True


#: The ALPN protocol of server-to-server streams (XEP-0368 section 3).
ALPN_PROTOCOL = b"xmpp-server"


def _selectALPN(connection, offered):
    """
    Agree on C{xmpp-server} if the peer offers it; otherwise go on
    without ALPN (a STARTTLS peer need not use it).
    """
    if ALPN_PROTOCOL in offered:
        return ALPN_PROTOCOL
    return SSL.NO_OVERLAPPING_PROTOCOLS


def _requestPeerCertificate(context):
    """
    Ask for the peer's certificate without requiring one.  A server
    context that asks must name its session ID context, or OpenSSL refuses
    to resume sessions.
    """
    context.set_verify(SSL.VERIFY_PEER, _acceptAny)
    context.set_session_id(b"jabberd-s2s")


def _serverContext(context):
    """
    Finish a server context made by L{CertificateOptions}: request the
    peer's certificate, and answer ALPN ourselves (Twisted's own ALPN
    callback fails the handshake with an internal error on a stream
    switched to TLS with C{startTLS}, where it finds no protocol factory
    to ask; Prosody offers C{xmpp-server} on every s2s connection).
    """
    _requestPeerCertificate(context)
    context.set_alpn_select_callback(_selectALPN)


def clientContext(credentials):
    """
    A client context presenting C{credentials} (or no certificate if
    C{None}), TLS 1.2 or later.
    """
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    context.set_options(SSL.OP_NO_COMPRESSION)
    _requestPeerCertificate(context)
    context.set_alpn_protos([ALPN_PROTOCOL])
    if credentials is not None:
        context.use_certificate(
            crypto.X509.from_cryptography(credentials.certificate))
        context.use_privatekey(
            crypto.PKey.from_cryptography_key(credentials.privateKey))
        for extra in credentials.chain[1:]:
            context.add_extra_chain_cert(crypto.X509.from_cryptography(extra))
    return context


@implementer(IOpenSSLClientConnectionCreator)
class _ClientCreator:
    """
    Makes the client side of one outgoing stream's TLS: our domain's
    certificate, the remote domain as Server Name Indication (XEP-0368
    section 3 and RFC 6120 section 13.7.2.1 want it sent).
    """

    def __init__(self, context, serverName):
        self._context = context
        self._serverName = serverName

    def clientConnectionForTLS(self, tlsProtocol):
        connection = SSL.Connection(self._context, None)
        connection.set_tlsext_host_name(self._serverName)
        return connection


@implementer(IOpenSSLServerConnectionCreator)
class _ServerCreator:
    """
    Makes the server side of one incoming stream's TLS from the current
    certificate of a domain, switching by SNI to another hosted domain.
    """

    def __init__(self, contexts, domain):
        self._contexts = contexts
        self._domain = domain

    def serverConnectionForTLS(self, tlsProtocol):
        options = self._contexts._serverOptions(self._domain)
        return options.serverConnectionForTLS(tlsProtocol)


class S2SContexts:
    """
    The server-to-server TLS contexts of one server, made from its
    per-domain credentials (L{jabberd.tls.TLSContexts}) and remade when
    those are reloaded.
    """

    def __init__(self, tls):
        self.tls = tls
        self._server = {}
        self._client = {}

    def serverCreator(self, domain):
        """
        The connection creator for an incoming stream to C{domain}, for
        C{transport.startTLS}; C{None} for a direct TLS listener, which
        knows no domain before the peer's SNI (any hosted domain's
        certificate is the default then).

        @raise KeyError: C{domain} has no certificate.
        """
        if domain is not None:
            self.tls.credentials(domain)
        return _ServerCreator(self, domain)

    def clientCreator(self, localDomain, remoteDomain):
        """
        The connection creator for a stream from C{localDomain} to
        C{remoteDomain}.
        """
        credentials = self.credentials(localDomain)
        cached = self._client.get(localDomain)
        if cached is None or cached[0] is not credentials:
            cached = (credentials, clientContext(credentials))
            self._client[localDomain] = cached
        return _ClientCreator(cached[1], _aLabel(remoteDomain).encode("ascii"))

    def credentials(self, domain):
        """
        The L{DomainCredentials} of our C{domain}, or C{None}.
        """
        try:
            return self.tls.credentials(domain)
        except KeyError:
            return None

    def _serverOptions(self, domain):
        if domain is None:
            domain = min(self.tls.domains())
        credentials = self.tls.credentials(domain)
        cached = self._server.get(domain)
        if cached is None or cached[0] is not credentials:
            options = credentials.contextFactory(self._contextForServerName)
            _serverContext(options.getContext())
            cached = (credentials, options)
            self._server[domain] = cached
        return cached[1]

    def _contextForServerName(self, serverName):
        """
        The SNI callback: the context of the hosted domain the peer named.
        """
        if serverName is None:
            return None
        name = serverName.decode("ascii", "replace").lower()
        for domain in self.tls.domains():
            if _aLabel(domain) == name:
                return self._serverOptions(domain).getContext()
        return None


def peerChain(transport):
    """
    The certificates the peer presented on a TLS transport, leaf first, as
    C{cryptography} objects; empty without TLS or without a certificate.
    (OpenSSL leaves the leaf out of a server's view of a client's chain.)
    """
    connection = tlsConnection(transport)
    if connection is None:
        return []
    leaf = connection.get_peer_certificate(as_cryptography=True)
    if leaf is None:
        return []
    chain = connection.get_peer_cert_chain(as_cryptography=True) or []
    der = serialization.Encoding.DER
    if chain and chain[0].public_bytes(der) == leaf.public_bytes(der):
        return list(chain)
    return [leaf] + list(chain)


def serverName(transport):
    """
    The SNI name the peer asked for, as text, or C{None}.
    """
    connection = tlsConnection(transport)
    if connection is None:
        return None
    name = connection.get_servername()
    return name.decode("ascii", "replace") if name else None
