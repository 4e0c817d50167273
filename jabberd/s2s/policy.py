"""
What the operator allows federation to do, read from the current
configuration on every question so that a reload applies at once.

Per local domain (host options): whether it federates at all
(C{s2s_enabled}), whether peers must use TLS (C{s2s_require_encryption})
and whether they must present a certificate that verifies
(C{s2s_secure_auth}).  Server-wide: domains exempt from that
(C{s2s_insecure_domains}), domains never talked to (C{s2s_blocklist}),
static routes (C{s2s_routes}).
"""


class Policy:
    """
    The federation rules of one server.

    @ivar server: the L{jabberd.server.Server}, whose C{config} and
        C{hosts} are read afresh on each call.
    """

    def __init__(self, server):
        self.server = server

    def _hostConfig(self, domain):
        host = self.server.hosts.get(domain)
        return host.config if host is not None else None

    def enabled(self, localDomain):
        """
        Whether C{localDomain} is hosted here and federates.
        """
        config = self._hostConfig(localDomain)
        return config is not None and config.s2sEnabled

    def anyEnabled(self):
        """
        Whether any hosted domain federates (so listeners are needed).
        """
        hosts = self.server.config.hosts.values()
        return any(host.s2sEnabled for host in hosts)

    def blocked(self, remoteDomain):
        """
        Whether C{remoteDomain} is on the blocklist.
        """
        return remoteDomain in self.server.config.s2sBlocklist

    def requireEncryption(self, localDomain):
        """
        Whether streams for C{localDomain} must be encrypted before
        anything but TLS negotiation happens (RFC 6120 section 5.3.1).
        """
        config = self._hostConfig(localDomain)
        return config is None or config.s2sRequireEncryption

    def secureAuth(self, localDomain, remoteDomain):
        """
        Whether C{remoteDomain} must authenticate to C{localDomain} with a
        certificate that verifies: on where the local domain says so,
        unless the remote domain is listed as insecure.
        """
        config = self._hostConfig(localDomain)
        if config is None or not config.s2sSecureAuth:
            return False
        return remoteDomain not in self.server.config.s2sInsecureDomains

    def staticRoute(self, remoteDomain):
        """
        The configured L{jabberd.s2s.srv.Target} for C{remoteDomain}, or
        C{None} to look it up in DNS.
        """
        return self.server.config.s2sRoutes.get(remoteDomain)
