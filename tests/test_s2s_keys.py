"""
Dialback keys (XEP-0185) and the dialback elements on the wire
(XEP-0220).
"""

from jabberd.s2s.dialback import (
    dialbackFeature, dialbackXML, offersErrors, parseDialback)
from jabberd.s2s.keys import dialbackKey, keyMatches, newSecret
from jabberd.testing import parseXML
from jabberd.xml import serialize

SECRET = "s3cr3tf0rd14lb4ck"
EXAMPLE_KEY = "37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643"


def test_xep0185Example():
    """
    XEP-0185 section 4: secret s3cr3tf0rd14lb4ck, receiving server
    xmpp.example.com, originating example.org, stream ID D60000229F.
    """
    assert dialbackKey(SECRET, "xmpp.example.com", "example.org",
                       "D60000229F") == EXAMPLE_KEY


def test_keyMatchesExampleAndNothingElse():
    assert keyMatches(SECRET, "xmpp.example.com", "example.org",
                      "D60000229F", EXAMPLE_KEY)
    assert keyMatches(SECRET, "xmpp.example.com", "example.org",
                      "D60000229F", "\n  " + EXAMPLE_KEY.upper() + "\n")
    for receiving, originating, streamID in [
            ("xmpp.example.com", "example.org", "D60000229G"),
            ("example.org", "xmpp.example.com", "D60000229F"),
            ("evil.example", "example.org", "D60000229F")]:
        assert not keyMatches(SECRET, receiving, originating, streamID,
                              EXAMPLE_KEY)
    assert not keyMatches("other secret", "xmpp.example.com", "example.org",
                          "D60000229F", EXAMPLE_KEY)
    assert not keyMatches(SECRET, "xmpp.example.com", "example.org",
                          "D60000229F", "")


def test_concatenationIsUnambiguous():
    """
    XEP-0185 section 2 note 5: the separator keeps example.info +
    rm.example.org apart from example.in + form.example.org.
    """
    assert dialbackKey(SECRET, "example.info", "rm.example.org", "x") != \
        dialbackKey(SECRET, "example.in", "form.example.org", "x")


def test_secretsAreRandom():
    assert newSecret() != newSecret()
    assert len(newSecret()) == 32


def test_resultRequestOnTheWire():
    assert dialbackXML("result", "example.org", "xmpp.example.com",
                       key=EXAMPLE_KEY) == (
        "<db:result from='example.org' to='xmpp.example.com'>%s</db:result>"
        % EXAMPLE_KEY)


def test_verifyAnswerOnTheWire():
    assert dialbackXML("verify", "example.org", "xmpp.example.com",
                       "valid", "D60000229F") == (
        "<db:verify from='example.org' to='xmpp.example.com' type='valid' "
        "id='D60000229F'/>")


def test_errorAnswerCarriesCondition():
    text = dialbackXML("result", "a.example", "b.example", "error",
                       condition="item-not-found")
    element = _parse(text)
    answer = parseDialback(element)
    assert (answer.type, answer.condition) == ("error", "item-not-found")


def test_attributesEscaped():
    text = dialbackXML("result", "a'b", "c<d", key="k&")
    assert "a&apos;b" in text and "c&lt;d" in text and "k&amp;" in text


def _parse(text):
    return parseXML(
        "<wrapper xmlns:db='jabber:server:dialback'>%s</wrapper>" % text
    ).firstChildElement()


def test_parseRequest():
    element = _parse("<db:verify from='r.example' to='o.example' "
                     "id='abc'> %s </db:verify>" % EXAMPLE_KEY)
    request = parseDialback(element)
    assert request == ("verify", "r.example", "o.example", None, "abc",
                       EXAMPLE_KEY, None)


def test_featureAnnouncesErrors():
    features = parseXML(
        "<features xmlns='http://etherx.jabber.org/streams'>%s</features>"
        % serialize(dialbackFeature()))
    assert offersErrors(features)
    bare = parseXML("<features xmlns='http://etherx.jabber.org/streams'>"
                    "<dialback xmlns='urn:xmpp:features:dialback'/>"
                    "</features>")
    assert not offersErrors(bare)
    assert not offersErrors(None)
