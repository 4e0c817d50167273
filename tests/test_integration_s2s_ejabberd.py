"""
Interoperability with ejabberd (Debian's 23.01 package): a user on jabberd
and a user on ejabberd add each other, see each other's presence and chat,
over TLS, first with dialback (XEP-0220; certificates that do not
verify), then with SASL EXTERNAL (RFC 6120 section 6; certificates from a
test CA that both servers trust, dialback off on ejabberd and
s2s_secure_auth on jabberd).

jabberd finds ejabberd through a static route; ejabberd finds jabberd
through an SRV record served by a loopback DNS server, which its Erlang
resolver (C{inet_res}, configured by C{ERL_INETRC}) asks; the record's
target is C{localhost}, since ejabberd resolves targets with the system's
C{getaddrinfo}.
"""

import re
import ssl

import pytest

from harness import runScenario

from s2sharness import (
    befriend, chatBothWays, loginBoth, requirePeer,
    DNSServer, EjabberdServer, FederatedServer, PeerClient, combinedCAFile,
    ejabberdInstalled)
from testca import CertificateAuthority

pytestmark = [
    pytest.mark.integration,
    requirePeer(ejabberdInstalled, "ejabberd"),
]

JABBERD, EJABBERD = "jabberd.example", "ejabberd.example"


def run(coroutine, timeout=60):
    return runScenario(coroutine, timeout)


class Federation:
    """
    jabberd on 127.0.0.1 and ejabberd on 127.0.0.4, federating.
    """

    def __init__(self, directory, verified):
        self.ca = CertificateAuthority("jabberd test CA")
        caFile = self.ca.writeCA(directory)
        ejabberdCertificate = self.ca.writeDomain(directory, EJABBERD)
        if verified:
            # dNSName only: p1_xmpp 1.6.1 (ejabberd 23.01) crashes the
            # stream (badarg in xmpp_stream_pkix:get_domains_from_san)
            # on a certificate carrying an id-on-xmppAddr otherName.
            certificate = self.ca.writeDomain(directory, JABBERD,
                                              names=[JABBERD])
            jabberdTrusts = caFile
        else:
            # jabberd keeps its self-signed certificate, which ejabberd
            # cannot verify, and trusts a CA that did not sign ejabberd's.
            certificate = None
            stranger = CertificateAuthority("unrelated CA")
            (directory / "stranger").mkdir()
            jabberdTrusts = stranger.writeCA(directory / "stranger")
        jabberdDir = directory / "jabberd"
        jabberdDir.mkdir()
        self.jabberd = FederatedServer(
            jabberdDir, JABBERD, options={
                "s2s_ca_file": jabberdTrusts,
                "s2s_connect_timeout": 20.0,
            }, hostOptions={"s2s_secure_auth": verified},
            certificate=certificate, trusted=[caFile])
        # ejabberd asks inet_res (our DNS server) for SRV records but
        # resolves their targets with getaddrinfo (the system's resolver,
        # which we cannot point elsewhere unprivileged): the target is
        # "localhost", which any system resolves to 127.0.0.1.
        self.dns = DNSServer(directory, "example", [
            ("SRV", "_xmpp-server._tcp." + JABBERD, 0, 5,
             self.jabberd.s2sPort, "localhost")])
        self.ejabberd = EjabberdServer(EJABBERD, "127.0.0.4",
                                       ejabberdCertificate, caFile, self.dns,
                                       dialback=not verified)
        self.jabberd.options["s2s_routes"] = {EJABBERD: self.ejabberd.route()}
        self.jabberd.writeConfig()
        self.clientCAs = combinedCAFile(directory, [caFile])

    def start(self):
        self.dns.start()
        self.ejabberd.register("dave")
        self.ejabberd.start()
        self.jabberd.start()
        self.jabberd.adduser("alice@" + JABBERD)
        return self

    def stop(self):
        self.jabberd.stop()
        self.ejabberd.stop()
        self.dns.stop()

    def alice(self):
        return PeerClient("alice@%s/phone" % JABBERD, self.jabberd,
                          "127.0.0.1", self.jabberd.port)

    def dave(self):
        client = PeerClient("dave@%s/desk" % EJABBERD, self.jabberd,
                            self.ejabberd.address, self.ejabberd.c2sPort)
        client.ssl_context = ssl.create_default_context(cafile=self.clientCAs)
        return client


@pytest.fixture(scope="module", params=["dialback", "verified"])
def federation(request, tmp_path_factory):
    running = Federation(tmp_path_factory.mktemp("ejabberd-" + request.param),
                         verified=request.param == "verified")
    running.variant = request.param
    try:
        running.start()
        yield running
    finally:
        running.stop()


def test_messagesBothWays(federation):
    """
    A chat message from jabberd reaches ejabberd's user and his answer
    comes back, each stamped with the sender's full JID.
    """
    async def scenario():
        alice, dave = await loginBoth(federation.alice(), federation.dave())
        await chatBothWays(alice, dave)
    run(scenario())
    _assertAuthenticated(federation)


def _assertAuthenticated(federation):
    """
    Both directions authenticated the way the variant means, over TLS.
    """
    log = federation.jabberd.logText()
    how = "SASL EXTERNAL" if federation.variant == "verified" else "dialback"
    assert "%s authenticated to %s (%s)" % (JABBERD, EJABBERD, how) in log
    assert "%s authenticated to %s (%s)" % (EJABBERD, JABBERD, how) in log
    mechanism = "EXTERNAL" if federation.variant == "verified" else "dialback"
    for direction, pair in (("inbound", (JABBERD, EJABBERD)),
                            ("outbound", (EJABBERD, JABBERD))):
        assert federation.ejabberd.searchLog(
            r"\(tls\|[^)]*\) Accepted %s s2s %s authentication %s -> %s " % (
                (direction, mechanism) + tuple(map(re.escape, pair)))), \
            direction


def test_subscriptionBothWaysAndPresence(federation):
    """
    alice adds dave; dave's client approves and adds her back; both
    rosters end in C{both}, each sees the other's presence, and a change
    of presence reaches the other server's user.
    """
    async def scenario():
        alice, dave = await loginBoth(federation.alice(), federation.dave())
        await befriend(alice, dave)
    run(scenario())
