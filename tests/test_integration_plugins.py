"""
Plugins enabled, disabled and reconfigured per domain by SIGHUP on the
real server, with logged-in slixmpp clients that must stay connected
throughout; and a third-party drop-in plugin that fails to attach is
reported and left off without taking its domain down.
"""

import os
import signal
import textwrap
import time
import xml.etree.ElementTree as ET

import pytest
from slixmpp.exceptions import IqError

from harness import runScenario, PASSWORD, Client, RunningServer, TLSRawStream

pytestmark = pytest.mark.integration

NS_REGISTER = "jabber:iq:register"
NS_PROBE = "urn:test:probe"

PROBE_PLUGIN = '''
"""A drop-in test plugin: answers a query with its greeting."""

from twisted.words.xish import domish

from jabberd.bus import Address
from jabberd.plugin import PluginFactory


class Probe:
    def __init__(self, context):
        if context.config["fail"]:
            raise RuntimeError("probe told to fail")
        self.context = context
        context.handleIQ("get", "urn:test:probe", "query", self.queried,
                         Address.HOST)

    def queried(self, stanza):
        answer = domish.Element(("urn:test:probe", "query"))
        answer.addContent(self.context.config["greeting"])
        return answer


class ProbeFactory(PluginFactory):
    name = "probe"
    options = {"fail": False, "greeting": "hello"}
    instanceClass = Probe


probe = ProbeFactory()
'''


def run(coroutine):
    return runScenario(coroutine, 90)


@pytest.fixture
def dropins(tmp_path):
    """
    A directory on C{PYTHONPATH} holding C{plugins/probe.py}, the way a
    third-party distribution installs a plugin (no C{__init__.py}).
    """
    directory = tmp_path / "dropins"
    (directory / "plugins").mkdir(parents=True)
    (directory / "plugins" / "probe.py").write_text(PROBE_PLUGIN)
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(directory)
    yield directory
    if saved is None:
        del os.environ["PYTHONPATH"]
    else:
        os.environ["PYTHONPATH"] = saved


@pytest.fixture
def server(tmp_path, dropins):
    (tmp_path / "server").mkdir()
    running = RunningServer(tmp_path / "server",
                            hosts=("localhost", "example.net"))
    yield running
    running.stop()


def hostTables(localhost, net='plugins = ["ping"]'):
    return {"localhost": textwrap.dedent(localhost),
            "example.net": textwrap.dedent(net)}


def reload(server, hostExtra):
    """
    Rewrite the config, send SIGHUP and wait until it is applied.
    """
    before = server.logText().count("config reloaded")
    server.writeConfig(hostExtra=hostExtra)
    os.kill(server.process.pid, signal.SIGHUP)
    deadline = time.monotonic() + 15
    while server.logText().count("config reloaded") == before:
        assert "config reload refused" not in server.logText(), \
            server.logText()
        assert time.monotonic() < deadline, "no reload: " + server.logText()
        time.sleep(0.05)


async def query(client, to, namespace, payload=None, type="get"):
    """
    Send an IQ; return its payload element, or C{"error:<condition>"}.
    """
    if type == "get":
        iq = client.make_iq_get(queryxmlns=namespace, ito=to)
    else:
        iq = client.make_iq_set(ito=to)
        iq.append(payload)
    try:
        result = await iq.send(timeout=10)
    except IqError as e:
        return "error:" + e.iq["error"]["condition"]
    return result.xml.find("{%s}query" % (namespace,))


async def ping(client, to):
    try:
        await client.plugin["xep_0199"].send_ping(to, timeout=10)
    except IqError as e:
        return "error:" + e.iq["error"]["condition"]
    return "pong"


def passwordChange(user, password):
    query = ET.Element("{%s}query" % (NS_REGISTER,))
    ET.SubElement(query, "{%s}username" % (NS_REGISTER,)).text = user
    ET.SubElement(query, "{%s}password" % (NS_REGISTER,)).text = password
    return query


def streamFeatures(server, domain):
    """
    The features a client sees after STARTTLS on C{domain}.
    """
    stream = TLSRawStream(server)
    stream.openStream(domain)
    stream.startTLS(domain)
    features = stream.openStream(domain)
    stream.close()
    return features


class Watched(Client):
    """
    A client that notes when it is disconnected.
    """

    def __init__(self, *args):
        Client.__init__(self, *args)
        self.dropped = []
        self.add_event_handler("disconnected", self.dropped.append)


def test_sighupTogglesPluginsPerDomain(server):
    """
    Switching C{ping} and C{register} on and off, and changing an option
    of C{register}, on one domain by SIGHUP: each takes effect for the
    logged-in clients at once, the other domain is untouched, and nobody
    is disconnected.
    """
    server.writeConfig(hostExtra=hostTables('plugins = ["ping"]'))
    server.start()
    server.adduser("alice@localhost")
    server.adduser("carol@example.net")

    async def scenario():
        alice = await Watched("alice@localhost/r", PASSWORD, server).login()
        carol = await Watched("carol@example.net/r", PASSWORD,
                              server).login()
        assert await ping(alice, "localhost") == "pong"
        assert "iq-register" not in streamFeatures(server, "localhost")

        reload(server, hostTables('plugins = ["register"]'))
        assert await ping(alice, "localhost") == \
            "error:service-unavailable"
        assert await ping(alice, "example.net") == "pong"
        status = await query(alice, "alice@localhost", NS_REGISTER)
        assert status.find("{%s}registered" % (NS_REGISTER,)) is not None
        assert await query(carol, "carol@example.net", NS_REGISTER) == \
            "error:service-unavailable"
        assert "iq-register" in streamFeatures(server, "localhost")
        assert "iq-register" not in streamFeatures(server, "example.net")

        reload(server, hostTables('''
            plugins = ["ping", "register"]
            [hosts."localhost".plugin.register]
            min_password_length = 40
            '''))
        assert await ping(alice, "localhost") == "pong"
        short = passwordChange("alice", "a password of 30 characters...")
        assert await query(alice, "alice@localhost", NS_REGISTER, short,
                           "set") == "error:not-acceptable"

        alice.send_message(mto="carol@example.net", mbody="still here")
        message = await carol.nextMessage()
        assert message["body"] == "still here"
        assert alice.dropped == [] and carol.dropped == []
        alice.disconnect()
        carol.disconnect()
    run(scenario())


def test_failingPluginReportedAndLeftOff(server):
    """
    A drop-in plugin that raises while attaching at start-up is reported
    in the log and left off; its domain serves clients.  A reload that
    fixes its options attaches it, and another reload reconfigures it,
    with the client still connected.
    """
    server.writeConfig(hostExtra=hostTables('''
        plugins = ["ping", "probe"]
        [hosts."localhost".plugin.probe]
        fail = true
        '''))
    server.start()
    server.adduser("alice@localhost")
    assert "plugin probe failed to attach to localhost" in server.logText()
    assert "probe told to fail" in server.logText()

    async def scenario():
        alice = await Watched("alice@localhost/r", PASSWORD, server).login()
        assert await ping(alice, "localhost") == "pong"
        assert await query(alice, "localhost", NS_PROBE) == \
            "error:service-unavailable"

        reload(server, hostTables('plugins = ["ping", "probe"]'))
        assert (await query(alice, "localhost", NS_PROBE)).text == "hello"
        assert await query(alice, "example.net", NS_PROBE) == \
            "error:service-unavailable"

        reload(server, hostTables('''
            plugins = ["ping", "probe"]
            [hosts."localhost".plugin.probe]
            greeting = "bonjour"
            '''))
        assert (await query(alice, "localhost", NS_PROBE)).text == "bonjour"
        assert alice.dropped == []
        alice.disconnect()
    run(scenario())
