"""
End-to-end tests of the small services every client probes for, on the
real server with real slixmpp clients: service discovery (XEP-0030) and
the server's capabilities (XEP-0115), software version (XEP-0092), last
activity (XEP-0012), vcard-temp (XEP-0054), private XML storage
(XEP-0049), the server pinging idle clients (XEP-0199) and contact
addresses (XEP-0157).  Each XEP's examples are replayed as the client
sends them; the server's answers are read back as XML.
"""

import asyncio
import os
import re
import signal
import textwrap
import time
import xml.etree.ElementTree as ET

import pytest
from slixmpp.exceptions import IqError

import jabberd
from harness import runScenario, PASSWORD, Client, RunningServer, TLSRawStream, tlsLogin

pytestmark = pytest.mark.integration

NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
NS_CAPS = "http://jabber.org/protocol/caps"
NS_DATA = "jabber:x:data"
NS_PING = "urn:xmpp:ping"
NS_VERSION = "jabber:iq:version"
NS_LAST = "jabber:iq:last"
NS_PRIVATE = "jabber:iq:private"
NS_VCARD = "vcard-temp"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"

SERVICES = ["ping", "disco", "version", "last", "vcard", "private",
            "contactinfo", "roster", "presence"]

CONFIG = textwrap.dedent("""\
    plugins = %s
    [plugin.contactinfo]
    admin = ["xmpp:admin@localhost", "mailto:xmpp@localhost"]
    abuse = ["mailto:abuse@localhost"]
    [plugin.vcard]
    max_size = 4096
    [plugin.keepalive]
    idle_after = 1.0
    timeout = 1.0
    """) % (str(SERVICES).replace("'", '"'),)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """
    localhost enables the services; example.net only ping, disco and the
    keepalive pings; muc.localhost is a subdomain of localhost.
    """
    running = RunningServer(
        tmp_path_factory.mktemp("services"),
        hosts=("localhost", "example.net", "muc.localhost"), extra=CONFIG,
        hostExtra={"example.net": 'plugins = ["ping", "disco", "keepalive"]',
                   "muc.localhost": 'plugins = ["disco"]'})
    running.start()
    for jid in ("alice@localhost", "bob@localhost", "carol@localhost",
                "dave@example.net", "erin@example.net"):
        running.adduser(jid)
    yield running
    running.stop()


def run(coroutine):
    return runScenario(coroutine, 90)


async def login(server, jid, *plugins):
    client = Client(jid, PASSWORD, server)
    for plugin in plugins:
        client.register_plugin(plugin)
    return await client.login()


async def request(client, type, payload, to=None):
    """
    Send an IQ whose payload is written as XML text; return the response
    as an C{ElementTree} element (a result or an error).
    """
    iq = client.make_iq(ito=to, itype=type)
    iq.append(ET.fromstring(payload))
    try:
        response = await iq.send(timeout=10)
    except IqError as e:
        response = e.iq
    return response.xml


def condition(response):
    """
    The stanza error condition of a response, or C{None}.
    """
    error = response.find("{jabber:client}error")
    if error is None:
        return None
    return next(c.tag.split("}")[1] for c in error
                if c.tag.startswith("{%s}" % (NS_STANZAS,))
                and not c.tag.endswith("}text"))


def child(response, namespace, name="query"):
    element = response.find("{%s}%s" % (namespace, name))
    assert element is not None, ET.tostring(response)
    return element


def features(response):
    return {f.get("var") for f in child(response, NS_DISCO_INFO)
            .iter("{%s}feature" % (NS_DISCO_INFO,))}


def identities(response):
    return {(i.get("category"), i.get("type")) for i in child(
        response, NS_DISCO_INFO).iter("{%s}identity" % (NS_DISCO_INFO,))}


def info(node=None):
    attributes = " node='%s'" % (node,) if node else ""
    return "<query xmlns='%s'%s/>" % (NS_DISCO_INFO, attributes)


# -- service discovery --------------------------------------------------------


def test_discoInfoOfTheDomain(server):
    """
    XEP-0030 section 3.1, example 1: the server's identity and the
    features of exactly the plugins enabled on the domain.
    """
    async def scenario():
        dave = await login(server, "dave@example.net/orchard")
        response = await request(dave, "get", info(), to="example.net")
        assert response.get("from") == "example.net"
        assert identities(response) == {("server", "im")}
        assert features(response) == {NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING}
        alice = await login(server, "alice@localhost/orchard")
        response = await request(alice, "get", info(), to="localhost")
        assert {NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, NS_VERSION, NS_LAST,
                NS_VCARD, NS_PRIVATE, "jabber:iq:roster"} <= features(response)
        dave.disconnect()
        alice.disconnect()
    run(scenario())


def test_discoWithSlixmpp(server):
    """
    slixmpp's own service discovery reads the same answer.
    """
    async def scenario():
        alice = await login(server, "alice@localhost/disco", "xep_0030")
        result = await alice.plugin["xep_0030"].get_info("localhost")
        assert ("server", "im", None, None) in result["disco_info"][
            "identities"]
        assert NS_VERSION in result["disco_info"]["features"]
        items = await alice.plugin["xep_0030"].get_items("localhost")
        assert [jid for jid, _, _ in items["disco_items"]["items"]] == [
            "muc.localhost"]
        alice.disconnect()
    run(scenario())


def test_discoItemsOfTheDomain(server):
    """
    XEP-0030 section 4.1: subdomains the server routes; a domain without
    any answers an empty list.
    """
    async def scenario():
        alice = await login(server, "alice@localhost/items")
        items = "<query xmlns='%s'/>" % (NS_DISCO_ITEMS,)
        response = await request(alice, "get", items, to="localhost")
        jids = [i.get("jid") for i in child(response, NS_DISCO_ITEMS)]
        assert jids == ["muc.localhost"]
        response = await request(alice, "get", items, to="example.net")
        assert list(child(response, NS_DISCO_ITEMS)) == []
        alice.disconnect()
    run(scenario())


def test_contactAddresses(server):
    """
    XEP-0157 section 3: the contact addresses form in disco#info.
    """
    async def scenario():
        alice = await login(server, "alice@localhost/contact")
        response = await request(alice, "get", info(), to="localhost")
        [form] = child(response, NS_DISCO_INFO).iter("{%s}x" % (NS_DATA,))
        fields = {f.get("var"): [v.text for v in f]
                  for f in form.iter("{%s}field" % (NS_DATA,))}
        assert fields == {
            "FORM_TYPE": ["http://jabber.org/network/serverinfo"],
            "abuse-addresses": ["mailto:abuse@localhost"],
            "admin-addresses": ["xmpp:admin@localhost",
                                "mailto:xmpp@localhost"]}
        alice.disconnect()
    run(scenario())


def streamFeatures(server, to):
    stream = TLSRawStream(server)
    stream.openStream(to)
    stream.startTLS(to)
    text = stream.openStream(to)
    stream.close()
    return text


def test_capabilities(server):
    """
    XEP-0115: the stream feature's verification string is what slixmpp
    computes from the domain's disco#info (forms included), and the
    capabilities node#ver is answered (section 6.2).
    """
    offered = streamFeatures(server, "localhost")
    match = re.search(r"<c xmlns='%s' hash='sha-1' node='([^']+)' "
                      r"ver='([^']+)'/>" % (NS_CAPS,), offered)
    assert match, offered
    node, ver = match.groups()

    async def scenario():
        alice = await login(server, "alice@localhost/caps", "xep_0115")
        result = await alice.plugin["xep_0030"].get_info("localhost")
        computed = alice.plugin["xep_0115"].generate_verstring(
            result["disco_info"], "sha-1")
        assert computed == ver
        capsNode = "%s#%s" % (node, ver)
        response = await request(alice, "get", info(node=capsNode),
                                 to="localhost")
        assert child(response, NS_DISCO_INFO).get("node") == capsNode
        assert NS_VERSION in features(response)
        response = await request(alice, "get", info(node=node + "#stale"),
                                 to="localhost")
        assert condition(response) == "item-not-found"
        alice.disconnect()
    run(scenario())


def test_discoOfAccounts(server):
    """
    XEP-0030 sections 3.1 and 8: the server answers for an account
    (account/registered) to the user and to subscribers; a stranger gets
    service-unavailable and no resources.
    """
    async def scenario():
        alice = await login(server, "alice@localhost/balcony")
        bob = await login(server, "bob@localhost/orchard")
        carol = await login(server, "carol@localhost/street")
        await subscribe(bob, alice)
        response = await request(bob, "get", info(), to="alice@localhost")
        assert identities(response) == {("account", "registered")}
        assert NS_LAST in features(response)
        items = "<query xmlns='%s'/>" % (NS_DISCO_ITEMS,)
        response = await request(bob, "get", items, to="alice@localhost")
        assert [i.get("jid") for i in child(response, NS_DISCO_ITEMS)] == [
            "alice@localhost/balcony"]
        response = await request(carol, "get", info(), to="alice@localhost")
        assert condition(response) == "service-unavailable"
        response = await request(carol, "get", items, to="alice@localhost")
        assert list(child(response, NS_DISCO_ITEMS)) == []
        for client in (alice, bob, carol):
            client.disconnect()
    run(scenario())


async def subscribe(subscriber, user):
    """
    C{subscriber} asks for C{user}'s presence and C{user}, available
    (RFC 6121 section 3.1.3 delivers requests to available resources),
    approves (slixmpp authorises automatically); wait until the server
    has applied it.
    """
    user.send_presence()
    subscriber.send_presence(pto=user.boundjid.bare, ptype="subscribe")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response = await request(subscriber, "get", info(),
                                 to=user.boundjid.bare)
        if condition(response) is None:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("subscription never approved")


# -- software version ---------------------------------------------------------


def test_softwareVersion(server):
    """
    XEP-0092 section 3: name and version of the server.
    """
    async def scenario():
        alice = await login(server, "alice@localhost/version", "xep_0092")
        result = await alice.plugin["xep_0092"].get_version("localhost")
        assert result["software_version"]["name"] == "jabberd"
        assert result["software_version"]["version"] == jabberd.__version__
        alice.disconnect()
    run(scenario())


# -- last activity ------------------------------------------------------------


def test_lastActivity(server):
    """
    XEP-0012: the server's uptime (section 5); a subscriber learns when
    the user logged out and what they said (section 3); a stranger is
    forbidden.
    """
    async def scenario():
        alice = await login(server, "alice@localhost/home")
        bob = await login(server, "bob@localhost/orchard", "xep_0012")
        carol = await login(server, "carol@localhost/last")
        await subscribe(bob, alice)
        uptime = await bob.plugin["xep_0012"].get_last_activity("localhost")
        assert uptime["last_activity"]["seconds"] >= 0
        online = await request(bob, "get", "<query xmlns='%s'/>" % NS_LAST,
                               to="alice@localhost")
        assert child(online, NS_LAST).get("seconds") == "0"
        alice.send_presence(ptype="unavailable", pstatus="Heading Home")
        alice.disconnect()
        await asyncio.sleep(1.5)
        result = await bob.plugin["xep_0012"].get_last_activity(
            "alice@localhost")
        assert result["last_activity"]["seconds"] >= 1
        assert result["last_activity"]["status"] == "Heading Home"
        response = await request(carol, "get", "<query xmlns='%s'/>" % NS_LAST,
                                 to="alice@localhost")
        assert condition(response) == "forbidden"
        bob.disconnect()
        carol.disconnect()
    run(scenario())


# -- vcard-temp ---------------------------------------------------------------


VCARD = ("<vCard xmlns='vcard-temp'><FN>Peter Saint-Andre</FN>"
         "<N><FAMILY>Saint-Andre</FAMILY><GIVEN>Peter</GIVEN><MIDDLE/></N>"
         "<NICKNAME>stpeter</NICKNAME>"
         "<JABBERID>alice@localhost</JABBERID></vCard>")


def test_vCard(server):
    """
    XEP-0054: a user publishes a vCard (section 3.2) and reads it back
    (3.1); another user reads it at the bare JID (3.3) but cannot
    replace it; an oversized one is refused.
    """
    async def scenario():
        alice = await login(server, "alice@localhost/vcard", "xep_0054")
        bob = await login(server, "bob@localhost/vcard", "xep_0054")
        response = await request(alice, "set", VCARD)
        assert response.get("type") == "result" and len(response) == 0
        response = await request(alice, "get", "<vCard xmlns='vcard-temp'/>")
        assert ET.tostring(child(response, NS_VCARD, "vCard")) == \
            ET.tostring(ET.fromstring(VCARD))
        result = await bob.plugin["xep_0054"].get_vcard("alice@localhost")
        assert result["vcard_temp"]["FN"] == "Peter Saint-Andre"
        assert result["vcard_temp"]["NICKNAME"] == ["stpeter"]
        response = await request(bob, "set", VCARD, to="alice@localhost")
        assert condition(response) == "forbidden"
        huge = VCARD.replace("stpeter", "x" * 5000)
        response = await request(alice, "set", huge)
        assert condition(response) == "not-acceptable"
        alice.disconnect()
        bob.disconnect()
    run(scenario())


# -- private XML storage ------------------------------------------------------


EXODUS = ("<exodus xmlns='exodus:prefs'><defaultnick>Hamlet</defaultnick>"
          "</exodus>")


def private(content):
    return "<query xmlns='%s'>%s</query>" % (NS_PRIVATE, content)


def test_privateStorage(server):
    """
    XEP-0049 examples 1 to 5.
    """
    async def scenario():
        alice = await login(server, "alice@localhost/denmark")
        bob = await login(server, "bob@localhost/castle")
        response = await request(alice, "set", private(EXODUS))
        assert response.get("type") == "result" and len(response) == 0
        response = await request(
            alice, "get", private("<exodus xmlns='exodus:prefs'/>"))
        stored = child(response, NS_PRIVATE).find(
            "{exodus:prefs}exodus/{exodus:prefs}defaultnick")
        assert stored.text == "Hamlet"
        response = await request(bob, "set", private(EXODUS),
                                 to="alice@localhost")
        assert condition(response) == "forbidden"
        response = await request(alice, "set", private(""))
        assert condition(response) == "not-acceptable"
        response = await request(alice, "set", private(
            "<vCard xmlns='vcard-temp'><FN>Hamlet</FN></vCard>"))
        assert condition(response) == "not-acceptable"
        alice.disconnect()
        bob.disconnect()
    run(scenario())


# -- the server pings idle clients --------------------------------------------


def test_idleClientsPinged(server):
    """
    XEP-0199 section 4.1 on example.net: a client that answers the
    server's pings stays connected; one that does not is closed with
    connection-timeout.
    """
    dead = tlsLogin(server, "erin", to="example.net", resource="dead",
                    timeout=15)

    async def scenario():
        dave = await login(server, "dave@example.net/alive")
        await asyncio.sleep(4)
        assert await dave.plugin["xep_0199"].ping("example.net",
                                                 timeout=5) >= 0
        dave.disconnect()
    run(scenario())
    text = dead.readAll()
    assert "<ping xmlns='%s'/>" % (NS_PING,) in text
    assert "<connection-timeout" in text
    assert "closing unresponsive session erin@example.net/dead" in \
        server.logText()


# -- disco follows a config reload --------------------------------------------


@pytest.fixture
def reloadable(tmp_path):
    running = RunningServer(tmp_path, hosts=("localhost",),
                            hostExtra={"localhost":
                                       'plugins = ["ping", "disco"]'})
    running.start()
    running.adduser("alice@localhost")
    yield running
    running.stop()


def reload(server, plugins):
    """
    Enable C{plugins} on localhost, SIGHUP, and wait until applied.
    """
    before = server.logText().count("config reloaded")
    server.writeConfig(hostExtra={
        "localhost": "plugins = %s" % (str(plugins).replace("'", '"'),)})
    os.kill(server.process.pid, signal.SIGHUP)
    deadline = time.monotonic() + 15
    while server.logText().count("config reloaded") == before:
        assert "config reload refused" not in server.logText()
        assert time.monotonic() < deadline, server.logText()
        time.sleep(0.05)


def capsVer(server):
    return re.search(r"ver='([^']+)'", streamFeatures(server, "localhost")
                     ).group(1)


def test_discoFollowsReload(reloadable):
    """
    Enabling a plugin by a config reload adds its feature to disco#info
    and changes the capabilities hash; disabling it takes both back.  The
    session asking stays connected throughout.
    """
    async def scenario():
        alice = await login(reloadable, "alice@localhost/reload")
        before = await request(alice, "get", info(), to="localhost")
        assert features(before) == {NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING}
        ver = capsVer(reloadable)
        reload(reloadable, ["ping", "disco", "version", "vcard"])
        enabled = await request(alice, "get", info(), to="localhost")
        assert features(enabled) == {NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING,
                                     NS_VERSION, NS_VCARD}
        assert capsVer(reloadable) != ver
        reload(reloadable, ["ping", "disco"])
        disabled = await request(alice, "get", info(), to="localhost")
        assert features(disabled) == features(before)
        assert capsVer(reloadable) == ver
        response = await request(alice, "get",
                                 "<query xmlns='%s'/>" % (NS_VERSION,),
                                 to="localhost")
        assert condition(response) == "service-unavailable"
        alice.disconnect()
    run(scenario())
