"""
External components (XEP-0114) end to end: the real server in a
subprocess with a component listener on loopback, slixmpp's
C{ComponentXMPP} as the component and slixmpp clients as users.
"""

import asyncio
import socket

import pytest
import slixmpp

from harness import runScenario, PASSWORD, Client, RunningServer, freePort

pytestmark = pytest.mark.integration

ECHO = "echo.localhost"
SECRET = "component secret for tests"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    componentPort = freePort()
    running = RunningServer(
        tmp_path_factory.mktemp("component"),
        extra='component_listeners = ["tcp:%d:interface=127.0.0.1"]\n'
              '[components."%s"]\nsecret = "%s"\n'
              '[components."gateway.localhost"]\nsecret = "other"\n'
              % (componentPort, ECHO, SECRET))
    running.componentPort = componentPort
    running.start()
    running.adduser("alice@localhost")
    yield running
    running.stop()


def run(coroutine):
    return runScenario(coroutine, 60)


class EchoComponent(slixmpp.ComponentXMPP):
    """
    A component that answers chat messages with their body, prefixed;
    it records stream errors and whether it was disconnected.
    """

    def __init__(self, server, jid=ECHO, secret=SECRET):
        slixmpp.ComponentXMPP.__init__(self, jid, secret, "127.0.0.1",
                                       server.componentPort)
        self.enable_direct_tls = False
        loop = asyncio.get_event_loop()
        self.started = loop.create_future()
        self.gone = loop.create_future()
        self.errors = asyncio.Queue()
        self.add_event_handler("session_start", self._started)
        self.add_event_handler("disconnected", self._gone)
        self.add_event_handler("stream_error", self.errors.put_nowait)
        self.add_event_handler("message", self._echo)

    def _started(self, event):
        if not self.started.done():
            self.started.set_result(True)

    def _gone(self, event):
        if not self.gone.done():
            self.gone.set_result(True)

    def _echo(self, message):
        if message["type"] in ("chat", "normal"):
            message.reply("echo: %s" % (message["body"],)).send()

    async def start(self, timeout=10):
        self.connect()
        await asyncio.wait_for(self.started, timeout)
        return self

    async def refused(self, timeout=10):
        """
        Connect, expect a stream error, and return its condition.
        """
        self.connect()
        error = await asyncio.wait_for(self.errors.get(), timeout)
        await asyncio.wait_for(self.gone, timeout)
        assert not self.started.done()
        return error["condition"]


async def _login(server, jid="alice@localhost/desk"):
    return await Client(jid, PASSWORD, server).login()


def test_componentAnswersClient(server):
    """
    A component connects with its secret; a client on localhost sends it
    a chat message and gets its reply, from the component's address.
    """
    async def scenario():
        component = await EchoComponent(server).start()
        alice = await _login(server)
        alice.send_message(mto="bot@echo.localhost", mbody="hello",
                           mtype="chat")
        reply = await alice.nextMessage()
        assert reply["type"] == "chat"
        assert reply["body"] == "echo: hello"
        assert str(reply["from"]) == "bot@echo.localhost"
        assert str(reply["to"]) == "alice@localhost/desk"
        alice.disconnect()
        component.disconnect()
        await asyncio.wait_for(component.gone, 10)
    run(scenario())


def test_componentUsesServerServices(server):
    """
    The component's stanzas reach our hosts: the server answers its ping.
    """
    async def scenario():
        component = await EchoComponent(server).start()
        component.register_plugin("xep_0199")
        await component.plugin["xep_0199"].send_ping(
            "localhost", ifrom="bot@echo.localhost", timeout=10)
        component.disconnect()
        await asyncio.wait_for(component.gone, 10)
    run(scenario())


def test_wrongSecretRefused(server):
    async def scenario():
        component = EchoComponent(server, secret="not the secret")
        assert await component.refused() == "not-authorized"
    run(scenario())


def test_unknownComponentRefused(server):
    async def scenario():
        component = EchoComponent(server, jid="unknown.localhost")
        assert await component.refused() == "host-unknown"
    run(scenario())


def test_secondConnectionConflict(server):
    async def scenario():
        first = await EchoComponent(server).start()
        second = EchoComponent(server)
        assert await second.refused() == "conflict"
        alice = await _login(server, "alice@localhost/conflict")
        alice.send_message(mto="bot@echo.localhost", mbody="first?",
                           mtype="chat")
        assert (await alice.nextMessage())["body"] == "echo: first?"
        alice.disconnect()
        first.disconnect()
        await asyncio.wait_for(first.gone, 10)
    run(scenario())


def test_spoofedFromRefused(server):
    """
    A component that sends from outside its domain is cut off with
    <invalid-from/>; the forged stanza is not delivered, and the domain
    is offline afterwards.
    """
    async def scenario():
        alice = await _login(server, "alice@localhost/spoof")
        component = await EchoComponent(server).start()
        component.send_message(mto="alice@localhost/spoof",
                               mfrom="admin@localhost", mbody="forged",
                               mtype="chat")
        error = await asyncio.wait_for(component.errors.get(), 10)
        assert error["condition"] == "invalid-from"
        await asyncio.wait_for(component.gone, 10)
        alice.send_message(mto="bot@echo.localhost", mbody="there?",
                           mtype="chat")
        bounce = await alice.nextMessage()
        assert bounce["type"] == "error"
        assert bounce["error"]["condition"] == "service-unavailable"
        assert alice.messages.empty()
        alice.disconnect()
    run(scenario())


def test_offlineComponentBounces(server):
    """
    A configured component that is not connected: messages to it come
    back as service-unavailable, from the address they were sent to.
    """
    async def scenario():
        alice = await _login(server, "alice@localhost/offline")
        alice.send_message(mto="user@gateway.localhost", mbody="anyone?",
                           mtype="chat")
        bounce = await alice.nextMessage()
        assert bounce["type"] == "error"
        assert bounce["error"]["condition"] == "service-unavailable"
        assert str(bounce["from"]) == "user@gateway.localhost"
        alice.disconnect()
    run(scenario())


def test_listenerSpeaksOnlyComponentProtocol(server):
    """
    A client stream header on the component port is refused.
    """
    with socket.create_connection(("127.0.0.1", server.componentPort),
                                  timeout=5) as sock:
        sock.sendall(b"<?xml version='1.0'?><stream:stream to='localhost' "
                     b"xmlns='jabber:client' version='1.0' "
                     b"xmlns:stream='http://etherx.jabber.org/streams'>")
        data = b""
        while b"</stream:stream>" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    assert b"<host-unknown" in data
