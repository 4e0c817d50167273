"""
Peer certificate checks (RFC 6120 section 13.7.2, RFC 6125): DNS-IDs with
and without wildcards, SRV-IDs, XmppAddr identifiers, and chains against
a test CA.
"""

import pytest

from jabberd.s2s.identity import (
    XmppAddrPattern, identityPatterns, namesDomain, trustStore, verifyChain,
    verifyPeer)
from testca import CertificateAuthority, srvName, xmppAddr


@pytest.fixture(scope="module")
def ca():
    return CertificateAuthority()


@pytest.fixture(scope="module")
def store(ca, tmp_path_factory):
    return trustStore(ca.writeCA(tmp_path_factory.mktemp("ca")))


def cert(ca, *names):
    return ca.issue(list(names))[0]


@pytest.mark.parametrize("names, domain, expected", [
    # DNS-ID, exact, case-insensitive.
    (["example.com"], "example.com", True),
    (["EXAMPLE.com"], "example.com", True),
    (["example.com"], "example.org", False),
    # Wildcards: the whole left-most label, one label only.
    (["*.example.com"], "xmpp.example.com", True),
    (["*.example.com"], "example.com", False),
    (["*.example.com"], "a.b.example.com", False),
    (["*.com"], "example.com", False),
    (["xmpp.*.com"], "xmpp.example.com", False),
    (["x*.example.com"], "xmpp.example.com", False),
    # No wildcard match against an A-label (RFC 6125 section 6.4.3).
    (["*.example.com"], "xn--bcher-kva.example.com", False),
    # IDN domains compare in their A-label form.
    (["xn--bcher-kva.example"], "b\u00fccher.example", True),
])
def test_dnsID(ca, names, domain, expected):
    assert namesDomain(cert(ca, *names), domain) is expected


def test_xmppAddr(ca):
    """
    RFC 6120 section 13.7.1.4: an id-on-xmppAddr names the domain, after
    preparation; it never carries a wildcard.
    """
    assert namesDomain(cert(ca, xmppAddr("chat.example")), "chat.example")
    assert namesDomain(cert(ca, xmppAddr("Chat.Example")), "chat.example")
    assert not namesDomain(cert(ca, xmppAddr("chat.example")),
                           "other.example")
    assert not namesDomain(cert(ca, xmppAddr("*.example")), "chat.example")
    assert not namesDomain(cert(ca, xmppAddr("user@chat.example")),
                           "chat.example")


def test_xmppAddrIsAPattern(ca):
    patterns = identityPatterns(cert(ca, "a.example", xmppAddr("b.example")))
    assert XmppAddrPattern("b.example") in patterns


def test_srvID(ca):
    """
    RFC 6125 section 6.5.1 with the XMPP server services: _xmpp-server
    (and _xmpps-server for XEP-0368) name the domain; other services or
    other domains do not.
    """
    assert namesDomain(cert(ca, srvName("_xmpp-server.example.net")),
                       "example.net")
    assert namesDomain(cert(ca, srvName("_xmpps-server.example.net")),
                       "example.net")
    assert not namesDomain(cert(ca, srvName("_xmpp-client.example.net")),
                           "example.net")
    assert not namesDomain(cert(ca, srvName("_xmpp-server.example.org")),
                           "example.net")


def test_commonNameIsNotAnIdentity(ca):
    """
    A certificate naming the domain only in its subject's CN does not
    name it (RFC 9525 retired the CN-ID).
    """
    certificate = ca.issue([], commonName="example.com")[0]
    assert not namesDomain(certificate, "example.com")


def test_malformedNameDoesNotSpoilTheOthers(ca):
    certificate = cert(ca, "*.*.example", "good.example")
    assert namesDomain(certificate, "good.example")


def test_chainToTrustAnchor(ca, store):
    certificate = cert(ca, "a.example")
    assert verifyChain(store, [certificate]) == (True, None)


def test_chainFromStrangerRefused(store):
    stranger = CertificateAuthority("stranger")
    ok, reason = verifyChain(store, [cert(stranger, "a.example")])
    assert not ok and "chain" in reason


def test_expiredRefused(ca, store):
    certificate = ca.issue(["a.example"], expired=True)[0]
    ok, reason = verifyChain(store, [certificate])
    assert not ok and "expired" in reason


def test_verifyPeer(ca, store):
    certificate = cert(ca, "a.example", xmppAddr("a.example"))
    assert verifyPeer(store, [certificate], "a.example").valid
    wrong = verifyPeer(store, [certificate], "b.example")
    assert (wrong.chainValid, wrong.identityValid) == (True, False)
    assert "b.example" in wrong.reason
    assert not verifyPeer(store, [], "a.example").valid
