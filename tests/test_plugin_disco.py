"""
Tests for L{plugins.disco}: service discovery (XEP-0030) of a domain and
its accounts, assembled from the enabled plugins, and the domain's entity
capabilities (XEP-0115), on the public host harness.
"""

import pytest
from twisted.words.xish import domish

from jabberd.context import POSTAUTH, PREAUTH
from jabberd.plugin import PluginFactory
from jabberd.testing import (HostHarness, errorCondition, iq, parseXML,
                             presence, toXML)
from plugins.disco import (CAPS_NODE, NS_CAPS, NS_DATA, NS_DISCO_INFO,
                           NS_DISCO_ITEMS, Identity, disco,
                           verificationString)
from plugins.ping import NS_PING, ping
from plugins.presence import presence as presencePlugin
from plugins.roster import roster
from plugins.version import NS_VERSION, version

ORG = "example.org"
INFO = "<query xmlns='%s'/>" % (NS_DISCO_INFO,)
ITEMS = "<query xmlns='%s'/>" % (NS_DISCO_ITEMS,)


# -- a plugin that declares the rest of what disco publishes -----------------


class Directory:
    """
    Declares an identity and an extended information form.
    """

    def __init__(self, context):
        context.declareIdentity("directory", "user", "People")
        form = parseXML(
            "<x xmlns='jabber:x:data' type='result'>"
            "<field var='FORM_TYPE' type='hidden'>"
            "<value>urn:test:directory</value></field>"
            "<field var='size'><value>3</value></field></x>")
        context.declareInfoForm(form)


class DirectoryFactory(PluginFactory):
    name = "directory"
    instanceClass = Directory


directory = DirectoryFactory()
FACTORIES = [disco, ping, version, directory, roster, presencePlugin]


@pytest.fixture
def harness():
    with HostHarness(FACTORIES, plugins=["disco", "ping"]) as harness:
        harness.addUser("alice@example.org")
        harness.addUser("bob@example.org")
        yield harness


@pytest.fixture
def alice(harness):
    return harness.client("alice@example.org/pc")


def infoOf(client, to=None, node=None):
    query = domish.Element((NS_DISCO_INFO, "query"))
    if node is not None:
        query["node"] = node
    return client.request(iq("get", query, to=to))


def identities(result):
    return [(i["category"], i["type"], i.getAttribute("name"))
            for i in result.query.elements(NS_DISCO_INFO, "identity")]


def features(result):
    return [f["var"] for f in result.query.elements(NS_DISCO_INFO, "feature")]


def items(result):
    return [i["jid"] for i in result.query.elements(NS_DISCO_ITEMS, "item")]


def forms(result):
    return list(result.query.elements(NS_DATA, "x"))


# -- the verification string (XEP-0115 section 5) -----------------------------


SIMPLE_FEATURES = ["http://jabber.org/protocol/caps",
                   "http://jabber.org/protocol/disco#info",
                   "http://jabber.org/protocol/disco#items",
                   "http://jabber.org/protocol/muc"]


def test_verificationSimple():
    """
    XEP-0115 section 5.2: the simple example's string.
    """
    ver = verificationString([("client", "pc", "Exodus 0.9.1")],
                             reversed(SIMPLE_FEATURES))
    assert ver == "QgayPKawpkPSDYmwT/WM94uAlu0="


SOFTWARE_INFO = parseXML(
    "<x xmlns='jabber:x:data' type='result'>"
    "<field var='FORM_TYPE' type='hidden'>"
    "<value>urn:xmpp:dataforms:softwareinfo</value></field>"
    "<field var='ip_version' type='text-multi'>"
    "<value>ipv6</value><value>ipv4</value></field>"
    "<field var='os'><value>Mac</value></field>"
    "<field var='os_version'><value>10.5.1</value></field>"
    "<field var='software'><value>Psi</value></field>"
    "<field var='software_version'><value>0.11</value></field></x>")


def test_verificationComplex():
    """
    XEP-0115 section 5.3: identities with languages, a form whose values
    must be sorted.
    """
    ver = verificationString(
        [Identity("client", "pc", "Psi 0.11", "en"),
         Identity("client", "pc", "Ψ 0.11", "el")],
        SIMPLE_FEATURES, [SOFTWARE_INFO])
    assert ver == "q07IKJEyjvHSyhy//CH0CxmKi8w="


def test_verificationIgnoresFormsWithoutHiddenFormType():
    """
    Section 5.4: a form without a hidden FORM_TYPE does not count.
    """
    plain = verificationString([("server", "im")], [NS_PING])
    stray = parseXML("<x xmlns='jabber:x:data' type='result'>"
                     "<field var='FORM_TYPE'><value>urn:x</value></field>"
                     "</x>")
    assert verificationString([("server", "im")], [NS_PING], [stray]) == plain
    empty = parseXML("<x xmlns='jabber:x:data' type='result'>"
                     "<field var='FORM_TYPE' type='hidden'/></x>")
    assert verificationString([("server", "im")], [NS_PING], [empty]) == plain


def test_verificationIgnoresDuplicates():
    assert (verificationString([("server", "im")] * 2, [NS_PING] * 2)
            == verificationString([("server", "im")], [NS_PING]))


# -- disco#info of the domain -------------------------------------------------


def test_domainInfo(alice):
    """
    XEP-0030 section 3.1: the server identity and exactly the features of
    the enabled plugins.
    """
    result = infoOf(alice, ORG)
    assert result["type"] == "result" and result["from"] == ORG
    assert identities(result) == [("server", "im", None)]
    assert features(result) == [NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING]
    assert forms(result) == []


def test_domainInfoFollowsPlugins(harness, alice):
    """
    Enabling a plugin adds its feature, identity and form; disabling it
    takes them away again.  Nothing is listed by hand.
    """
    harness.reconfigure(plugins=["disco", "ping", "version", "directory"])
    result = infoOf(alice, ORG)
    assert NS_VERSION in features(result)
    assert identities(result) == [("directory", "user", "People"),
                                  ("server", "im", None)]
    [form] = forms(result)
    assert form.field.value.children == ["urn:test:directory"]
    harness.reconfigure(plugins=["disco", "version"])
    result = infoOf(alice, ORG)
    assert features(result) == [NS_DISCO_INFO, NS_DISCO_ITEMS, NS_VERSION]
    assert identities(result) == [("server", "im", None)]
    assert forms(result) == []


def test_domainInfoName():
    with HostHarness([disco], options={"disco": {"name": "Example"}}) as h:
        alice = h.client("alice@example.org/pc")
        assert identities(infoOf(alice, ORG)) == [("server", "im", "Example")]


def test_domainInfoUnknownNode(alice):
    """
    Section 3.2: a node the domain does not have.
    """
    result = infoOf(alice, ORG, node="urn:nothing")
    assert errorCondition(result) == "item-not-found"


def test_noSetOfInfo(alice):
    result = alice.request(iq("set", INFO, to=ORG))
    assert errorCondition(result) == "service-unavailable"


# -- entity capabilities (XEP-0115) -------------------------------------------


def capsOf(harness, stage):
    features = [f(None) for f in harness.host.streamFeatures[stage]]
    [caps] = [f for f in features if f is not None and f.uri == NS_CAPS]
    return caps


@pytest.mark.parametrize("stage", [PREAUTH, POSTAUTH])
def test_capsStreamFeature(harness, alice, stage):
    """
    Section 6.3: the stream feature carries the hash of what disco#info
    answers for the domain.
    """
    caps = capsOf(harness, stage)
    assert (caps["hash"], caps["node"]) == ("sha-1", CAPS_NODE)
    result = infoOf(alice, ORG)
    expected = verificationString(
        [Identity(*i) for i in identities(result)], features(result))
    assert caps["ver"] == expected


def test_capsNodeAnswered(harness, alice):
    """
    Section 6.2: disco#info to node#ver is answered, the node mirrored.
    """
    node = "%s#%s" % (CAPS_NODE, capsOf(harness, POSTAUTH)["ver"])
    result = infoOf(alice, ORG, node=node)
    assert result["type"] == "result"
    assert result.query["node"] == node
    assert features(result) == features(infoOf(alice, ORG))


def test_capsFollowPlugins(harness, alice):
    """
    The hash changes with the enabled plugins; the old node#ver is then
    unknown.
    """
    before = capsOf(harness, POSTAUTH)["ver"]
    harness.reconfigure(plugins=["disco", "ping", "directory"])
    after = capsOf(harness, POSTAUTH)["ver"]
    assert after != before
    result = infoOf(alice, ORG, node="%s#%s" % (CAPS_NODE, before))
    assert errorCondition(result) == "item-not-found"
    form = forms(infoOf(alice, ORG))[0]
    assert after == verificationString(
        [("directory", "user", "People"), ("server", "im")],
        [NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING], [form])


def test_capsOff():
    with HostHarness([disco], options={"disco": {"caps": False}}) as h:
        assert h.host.streamFeatures[PREAUTH] == []
        assert h.host.streamFeatures[POSTAUTH] == []


# -- disco#items of the domain ------------------------------------------------


class Component:
    def receive(self, stanza):
        pass


def test_domainItemsListSubdomains():
    """
    Section 4.1: the subdomains the server routes, hosted domains and
    components alike; other domains are not the domain's items.
    """
    domains = (ORG, "muc.example.org", "example.net", "notexample.org")
    with HostHarness([disco], domains=domains) as h:
        h.server.router.addRoute("echo.example.org", Component())
        alice = h.client("alice@example.org/pc")
        result = alice.request(iq("get", ITEMS, to=ORG))
        assert items(result) == ["echo.example.org", "muc.example.org"]
        result = alice.request(iq("get", ITEMS, to="example.net"))
        assert result["type"] == "result" and items(result) == []
        h.server.router.removeRoute("echo.example.org")
        result = alice.request(iq("get", ITEMS, to=ORG))
        assert items(result) == ["muc.example.org"]


def test_domainItemsUnknownNode(alice):
    result = alice.request(iq(
        "get", "<query xmlns='%s' node='x'/>" % (NS_DISCO_ITEMS,), to=ORG))
    assert errorCondition(result) == "item-not-found"


# -- accounts -----------------------------------------------------------------


def test_ownAccountInfo(harness, alice):
    """
    Section 3.1: the server answers for the account with identity
    account/registered and the account features plugins declared; a
    request without 'to' is the user's own account.
    """
    harness.reconfigure(plugins=["disco", "ping"])
    for to in (None, "alice@example.org"):
        result = infoOf(alice, to)
        assert result["type"] == "result"
        assert identities(result) == [("account", "registered", None)]
        assert features(result) == [NS_DISCO_INFO, NS_DISCO_ITEMS]


def test_accountInfoForStranger(harness, alice):
    """
    Section 8: someone not entitled to the user's presence gets
    service-unavailable, as for an account that does not exist.
    """
    bob = harness.client("bob@example.org/pc")
    assert errorCondition(infoOf(bob, "alice@example.org")) == \
        "service-unavailable"
    assert errorCondition(infoOf(bob, "nobody@example.org")) == \
        "service-unavailable"


def test_accountInfoUnknownNode(alice):
    result = infoOf(alice, "alice@example.org", node="urn:x")
    assert errorCondition(result) == "item-not-found"


def test_ownAccountItems(harness, alice):
    """
    Section 4.1: the account's connected resources.
    """
    harness.client("alice@example.org/phone")
    result = alice.request(iq("get", ITEMS))
    assert items(result) == ["alice@example.org/pc",
                             "alice@example.org/phone"]


def test_accountItemsForStranger(harness, alice):
    """
    Section 8: an empty result, also for an account that does not exist.
    """
    bob = harness.client("bob@example.org/pc")
    for to in ("alice@example.org", "nobody@example.org"):
        result = bob.request(iq("get", ITEMS, to=to))
        assert result["type"] == "result" and items(result) == []


def test_accountItemsNode(alice):
    result = alice.request(iq(
        "get", "<query xmlns='%s' node='urn:x'/>" % (NS_DISCO_ITEMS,)))
    assert result["type"] == "result" and items(result) == []
    assert result.query["node"] == "urn:x"


@pytest.fixture
def subscribed():
    """
    A harness with rosters where bob has a presence subscription to alice
    (alice's item for bob: subscription 'from') and carol has none.
    """
    plugins = ["disco", "roster", "presence"]
    with HostHarness(FACTORIES, plugins=plugins) as harness:
        for user in ("alice", "bob", "carol"):
            harness.addUser(user + "@example.org")
        alice = harness.client("alice@example.org/pc")
        bob = harness.client("bob@example.org/pc")
        bob.send(presence(to="alice@example.org", type="subscribe"))
        alice.send(presence(to="bob@example.org", type="subscribed"))
        yield harness


def test_accountInfoForSubscriber(subscribed):
    """
    Section 8: a contact with a subscription to the user's presence may
    discover the account; another may not.
    """
    bob = subscribed.client("bob@example.org/laptop")
    result = infoOf(bob, "alice@example.org")
    assert result["type"] == "result", toXML(result)
    assert identities(result) == [("account", "registered", None)]
    carol = subscribed.client("carol@example.org/pc")
    assert errorCondition(infoOf(carol, "alice@example.org")) == \
        "service-unavailable"


def test_accountItemsForSubscriber(subscribed):
    bob = subscribed.client("bob@example.org/laptop")
    result = bob.request(iq("get", ITEMS, to="alice@example.org"))
    assert items(result) == ["alice@example.org/pc"]


def test_subscriptionToTheUserIsNotEnough(subscribed):
    """
    Alice's subscription to bob's presence ('to' on her roster) does not
    let bob's server tell her about bob.
    """
    alice = subscribed.client("alice@example.org/phone")
    assert errorCondition(infoOf(alice, "bob@example.org")) == \
        "service-unavailable"
