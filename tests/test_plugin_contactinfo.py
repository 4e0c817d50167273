"""
Tests for L{plugins.contactinfo}: contact addresses (XEP-0157) published
in the domain's service discovery information.
"""

import pytest

from jabberd.context import POSTAUTH
from jabberd.plugin import PluginConfigError
from jabberd.testing import HostHarness, iq, parseXML, toXML
from plugins.contactinfo import contactinfo
from plugins.disco import NS_DATA, NS_DISCO_INFO, disco, verificationString

INFO = "<query xmlns='%s'/>" % (NS_DISCO_INFO,)

#: The addresses of XEP-0157 section 3's example.
SHAKESPEARE = {
    "abuse": ["mailto:abuse@shakespeare.lit", "xmpp:abuse@shakespeare.lit"],
    "admin": ["mailto:xmpp@shakespeare.lit", "xmpp:admins@shakespeare.lit"],
    "feedback": ["http://shakespeare.lit/feedback.php",
                 "mailto:feedback@shakespeare.lit",
                 "xmpp:feedback@shakespeare.lit"],
    "sales": ["xmpp:bard@shakespeare.lit"],
    "security": ["xmpp:security@shakespeare.lit"],
    "support": ["http://shakespeare.lit/support.php",
                "xmpp:support@shakespeare.lit"],
}


def field(var, values, type="list-multi"):
    return ("<field var='%s' type='%s'>%s</field>"
            % (var, type, "".join("<value>%s</value>" % v for v in values)))


def discoForm(addresses):
    """
    The forms in the domain's disco#info with these addresses configured.
    """
    options = {"contactinfo": addresses}
    with HostHarness([disco, contactinfo], options=options) as harness:
        juliet = harness.client("juliet@example.org/chamber")
        result = juliet.request(iq("get", INFO, to="example.org"))
        return list(result.query.elements(NS_DATA, "x"))


def test_example():
    """
    XEP-0157 section 3: the form of the example, field by field.
    """
    [form] = discoForm(SHAKESPEARE)
    expected = ("<x xmlns='jabber:x:data' type='result'>"
                + field("FORM_TYPE", ["http://jabber.org/network/serverinfo"],
                        "hidden")
                + "".join(field(role + "-addresses", SHAKESPEARE[role])
                          for role in sorted(SHAKESPEARE))
                + "</x>")
    assert toXML(form) == expected


def test_onlyConfiguredRoles():
    [form] = discoForm({"admin": ["xmpp:admin@example.org"]})
    fields = [f["var"] for f in form.elements(NS_DATA, "field")]
    assert fields == ["FORM_TYPE", "admin-addresses"]


def test_nothingConfigured():
    assert discoForm({}) == []


def test_capsIncludeForm():
    """
    The form counts in the domain's capabilities hash (XEP-0115 section
    5.1, step 6).
    """
    options = {"contactinfo": {"admin": ["xmpp:admin@example.org"]}}
    with HostHarness([disco, contactinfo], options=options) as harness:
        [caps] = [f(None) for f in harness.host.streamFeatures[POSTAUTH]]
        form = parseXML(
            "<x xmlns='jabber:x:data' type='result'>"
            + field("FORM_TYPE", ["http://jabber.org/network/serverinfo"],
                    "hidden")
            + field("admin-addresses", ["xmpp:admin@example.org"]) + "</x>")
        features = ["http://jabber.org/protocol/disco#info",
                    "http://jabber.org/protocol/disco#items"]
        assert caps["ver"] == verificationString([("server", "im")],
                                                 features, [form])
        assert caps["ver"] != verificationString([("server", "im")],
                                                 features)


@pytest.mark.parametrize("options", [
    {"admin": "mailto:a@example.org"},
    {"admin": ["not a uri"]},
    {"admin": [5]},
    {"status": ["https://status.example.org"]},
])
def test_badOptions(options):
    with pytest.raises(PluginConfigError):
        contactinfo.parseConfig(options)


def test_parsedOptions():
    config = contactinfo.parseConfig({"abuse": ["mailto:abuse@example.org"]})
    assert config["abuse"] == ("mailto:abuse@example.org",)
    assert config["admin"] == ()
