"""
Interoperability with Prosody (Debian's package): a user on jabberd and a
user on Prosody add each other, see each other's presence and chat, over
TLS, first with dialback (certificates that do not verify), then with
SASL EXTERNAL (certificates from a test CA that both servers trust, and
s2s_secure_auth on both sides).

jabberd finds Prosody through a static route; Prosody finds jabberd
through SRV and A records served by a loopback DNS server, to which its
libunbound resolver forwards.
"""

import re
import ssl


import pytest

from harness import runScenario

from s2sharness import (
    befriend, chatBothWays, loginBoth, requirePeer,
    DNSServer, FederatedServer, PeerClient, ProsodyServer, combinedCAFile,
    prosodyInstalled)
from testca import CertificateAuthority

pytestmark = [
    pytest.mark.integration,
    requirePeer(prosodyInstalled, "prosody"),
]

JABBERD, PROSODY = "jabberd.example", "prosody.example"


def run(coroutine, timeout=90):
    return runScenario(coroutine, timeout)


class Federation:
    """
    jabberd on 127.0.0.1 and Prosody on 127.0.0.3, federating.
    """

    def __init__(self, directory, verified):
        self.ca = CertificateAuthority("jabberd test CA")
        caFile = self.ca.writeCA(directory)
        prosodyCertificate = self.ca.writeDomain(directory, PROSODY)
        if verified:
            certificate = self.ca.writeDomain(directory, JABBERD)
            jabberdTrusts = caFile
        else:
            # jabberd keeps its self-signed certificate, which Prosody
            # cannot verify, and trusts a CA that did not sign Prosody's.
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
                "s2s_routes": {PROSODY: "pending"},
            }, hostOptions={"s2s_secure_auth": verified},
            certificate=certificate, trusted=[caFile])
        self.dns = DNSServer(directory, "example", [
            ("SRV", "_xmpp-server._tcp." + JABBERD, 0, 5,
             self.jabberd.s2sPort, JABBERD),
            ("A", JABBERD, "127.0.0.1")])
        self.prosody = ProsodyServer(PROSODY, "127.0.0.3", prosodyCertificate,
                                     caFile, self.dns, secureAuth=verified)
        self.jabberd.options["s2s_routes"] = {PROSODY: self.prosody.route()}
        self.jabberd.writeConfig()
        self.clientCAs = combinedCAFile(directory, [caFile])

    def start(self):
        self.dns.start()
        self.prosody.start()
        self.jabberd.start()
        self.jabberd.adduser("alice@" + JABBERD)
        self.prosody.register("carol")
        return self

    def stop(self):
        self.jabberd.stop()
        self.prosody.stop()
        self.dns.stop()

    def alice(self):
        return PeerClient("alice@%s/phone" % JABBERD, self.jabberd,
                          "127.0.0.1", self.jabberd.port)

    def carol(self):
        client = PeerClient("carol@%s/laptop" % PROSODY, self.jabberd,
                            self.prosody.address, self.prosody.c2sPort)
        client.ssl_context = ssl.create_default_context(cafile=self.clientCAs)
        return client


@pytest.fixture(scope="module", params=["dialback", "verified"])
def federation(request, tmp_path_factory):
    running = Federation(tmp_path_factory.mktemp("prosody-" + request.param),
                         verified=request.param == "verified")
    running.start()
    running.variant = request.param
    yield running
    running.stop()


def test_messagesBothWays(federation):
    """
    A chat message from jabberd reaches Prosody's user and her answer
    comes back, each stamped with the sender's full JID.
    """
    async def scenario():
        alice, carol = await loginBoth(federation.alice(), federation.carol())
        await chatBothWays(alice, carol)
    run(scenario())
    _assertAuthenticated(federation)


def _assertAuthenticated(federation):
    """
    Both directions authenticated the way the variant means, over TLS.
    """
    log = federation.jabberd.logText()
    how = "SASL EXTERNAL" if federation.variant == "verified" else "dialback"
    assert "%s authenticated to %s (%s)" % (JABBERD, PROSODY, how) in log
    assert "%s authenticated to %s (%s)" % (PROSODY, JABBERD, how) in log
    prosodyLog = federation.prosody.logText()
    for direction in ("s2sin", "s2sout"):
        assert re.search(direction + r"\w+\s+info\s+Stream encrypted \(TLS",
                         prosodyLog), direction
    if federation.variant == "verified":
        assert "Accepting SASL EXTERNAL identity from " + JABBERD in prosodyLog
        assert "SASL EXTERNAL with %s succeeded" % (JABBERD,) in prosodyLog


def test_subscriptionBothWaysAndPresence(federation):
    """
    alice adds carol; carol's client approves and adds her back; both
    rosters end in C{both}, each sees the other's presence, and a change
    of presence reaches the other server's user.
    """
    async def scenario():
        alice, carol = await loginBoth(federation.alice(), federation.carol())
        await befriend(alice, carol)
    run(scenario())
