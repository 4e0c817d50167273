"""
End-to-end tests of message delivery (RFC 6121 section 8.5) and offline
messages (XEP-0160): the real server in a subprocess with the roster,
presence and message plugins, and real slixmpp clients.
"""

import asyncio
import os

import pytest

from harness import runScenario, PASSWORD, Client, RunningServer

pytestmark = pytest.mark.integration

PLUGINS = 'plugins = ["ping", "roster", "presence", "message"]'
QUOTA = 2
HOST_EXTRA = {
    "localhost": PLUGINS,
    "example.net": PLUGINS + '\n[hosts."example.net".plugin.message]\n'
                             'max_offline_messages = %d' % (QUOTA,),
}
USERS = ("alice", "bob", "carol", "dave", "erin", "frank", "gina")


def newServer(directory):
    running = RunningServer(directory, hostExtra=HOST_EXTRA)
    running.start()
    for user in USERS:
        running.adduser(user + "@localhost")
    running.adduser("eve@example.net")
    return running


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = newServer(tmp_path_factory.mktemp("message"))
    yield running
    running.stop()


def run(coroutine):
    return runScenario(coroutine, 90)


async def login(server, jid, priority=None):
    """
    A logged-in client; with C{priority}, available with that priority.
    """
    client = Client(jid, PASSWORD, server)
    client.register_plugin("xep_0203")
    await client.login()
    if priority is not None:
        await available(client, priority)
    return client


async def synced(client):
    """
    Wait until the server has processed what C{client} sent so far: it
    handles one stream's stanzas in order, so a ping's answer comes after.
    """
    await client.plugin["xep_0199"].ping(client.boundjid.domain, timeout=10)


async def available(client, priority=0):
    client.send_presence(ppriority=priority)
    await synced(client)


async def nothingFor(client, seconds=0.7):
    """
    Assert that C{client} receives no message for a while.
    """
    with pytest.raises(asyncio.TimeoutError):
        message = await client.nextMessage(timeout=seconds)
        pytest.fail("unexpected message: %s" % (message,))


async def send(sender, to, body, type="chat"):
    sender.send_message(mto=to, mbody=body, mtype=type)
    await synced(sender)


async def logout(*clients):
    """
    Close the clients' streams and wait for the server to close its side.
    """
    await asyncio.gather(*(client.disconnect() for client in clients))


def test_bareJIDPriorityRouting(server):
    """
    Two resources with priorities 5 and 1: a chat to the bare JID goes to
    the one with 5 only; on a tie it goes to both; a resource with
    negative priority never gets a message to the bare JID, while a
    headline goes to every resource of non-negative priority.
    """
    async def scenario():
        high = await login(server, "alice@localhost/high", 5)
        low = await login(server, "alice@localhost/low", 1)
        shy = await login(server, "alice@localhost/shy", -1)
        bob = await login(server, "bob@localhost/b", 0)
        await send(bob, "alice@localhost", "to the most available")
        message = await high.nextMessage()
        assert message["body"] == "to the most available"
        assert str(message["from"]) == "bob@localhost/b"
        await nothingFor(low)
        await available(low, 5)
        await send(bob, "alice@localhost", "tie", type="normal")
        assert (await high.nextMessage())["body"] == "tie"
        assert (await low.nextMessage())["body"] == "tie"
        await send(bob, "alice@localhost", "news", type="headline")
        for client in (high, low):
            message = await client.nextMessage()
            assert (message["body"], message["type"]) == ("news", "headline")
        await nothingFor(shy)
        await logout(high, low, shy, bob)
    run(scenario())


def test_fullJIDOfMissingResource(server):
    """
    A chat to a resource that does not exist is handled as to the bare
    JID; a normal message to it is refused (RFC 6121 section 8.5.3.2.1);
    a negative-priority resource gets what is sent to its own full JID.
    """
    async def scenario():
        pc = await login(server, "frank@localhost/pc", 2)
        shy = await login(server, "frank@localhost/shy", -1)
        bob = await login(server, "bob@localhost/b", 0)
        await send(bob, "frank@localhost/gone", "falls back")
        message = await pc.nextMessage()
        assert message["body"] == "falls back"
        assert str(message["to"]) == "frank@localhost/gone"
        await send(bob, "frank@localhost/shy", "just for you")
        assert (await shy.nextMessage())["body"] == "just for you"
        await send(bob, "frank@localhost/gone", "refused", type="normal")
        error = await bob.nextMessage()
        assert error["type"] == "error"
        assert error["error"]["condition"] == "service-unavailable"
        assert str(error["from"]) == "frank@localhost/gone"
        await nothingFor(pc)
        await logout(pc, shy, bob)
    run(scenario())


def test_groupchatToBareJIDRefused(server):
    async def scenario():
        gina = await login(server, "gina@localhost/gc", 0)
        bob = await login(server, "bob@localhost/b", 0)
        await send(bob, "gina@localhost", "not a room", type="groupchat")
        error = await bob.nextMessage()
        assert error["type"] == "error"
        assert error["error"]["condition"] == "service-unavailable"
        await nothingFor(gina)
        await logout(gina, bob)
    run(scenario())


async def readBacklog(server, jid, count):
    """
    Log in as C{jid}, send initial presence and read C{count} messages.
    """
    client = await login(server, jid)
    client.send_presence()
    messages = [await client.nextMessage(timeout=10) for _ in range(count)]
    return client, messages


def test_offlineMessagesDeliveredOnce(server):
    """
    Messages for a user who is offline are stored and delivered, in
    order and with a delay stamp from the server, when the user next
    sends initial presence; logging in again delivers nothing more.
    """
    async def scenario():
        bob = await login(server, "bob@localhost/b", 0)
        for n, type in enumerate(["chat", "normal", "chat"]):
            await send(bob, "carol@localhost", "offline %d" % n, type=type)
        await nothingFor(bob, 0.3)
        carol, messages = await readBacklog(server, "carol@localhost/c", 3)
        assert [m["body"] for m in messages] == [
            "offline 0", "offline 1", "offline 2"]
        assert [m["type"] for m in messages] == ["chat", "normal", "chat"]
        for message in messages:
            assert str(message["from"]) == "bob@localhost/b"
            assert str(message["delay"]["from"]) == "localhost"
            assert message["delay"]["stamp"] is not None
        await nothingFor(carol)
        await logout(carol)
        again = await login(server, "carol@localhost/c2", 0)
        await nothingFor(again)
        await logout(again, bob)
    run(scenario())


def test_offlineNotToNegativePriority(server):
    """
    A resource that comes online with negative priority does not take
    the stored messages; one with a non-negative priority does.
    """
    async def scenario():
        bob = await login(server, "bob@localhost/b", 0)
        await send(bob, "erin@localhost", "wait for it")
        shy = await login(server, "erin@localhost/shy", -1)
        await nothingFor(shy)
        erin, [message] = await readBacklog(server, "erin@localhost/e", 1)
        assert message["body"] == "wait for it"
        await logout(shy, erin, bob)
    run(scenario())


def test_quotaBounce(server):
    """
    When the user's offline storage is full the sender gets
    service-unavailable, and only what fitted is delivered.
    """
    async def scenario():
        bob = await login(server, "bob@localhost/b", 0)
        for n in range(QUOTA + 1):
            await send(bob, "eve@example.net", "q%d" % n)
        error = await bob.nextMessage(timeout=10)
        assert error["type"] == "error"
        assert error["error"]["condition"] == "service-unavailable"
        assert str(error["from"]) == "eve@example.net"
        eve, messages = await readBacklog(server, "eve@example.net/e", QUOTA)
        assert [m["body"] for m in messages] == [
            "q%d" % n for n in range(QUOTA)]
        await nothingFor(eve)
        await logout(eve, bob)
    run(scenario())


def restart(server):
    """
    Stop the server and start it again on the same data directory.
    """
    server.stop()
    os.replace(server.logPath, server.logPath + ".before-restart")
    server.start()


def test_offlineKeptAcrossRestart(tmp_path):
    """
    Stored messages survive a restart of the server, and are delivered
    once after it.
    """
    running = newServer(tmp_path)
    try:
        async def before():
            bob = await login(running, "bob@localhost/b", 0)
            await send(bob, "dave@localhost", "first")
            await send(bob, "dave@localhost", "second", type="normal")
            await nothingFor(bob, 0.5)
            await logout(bob)

        async def after():
            dave, messages = await readBacklog(running, "dave@localhost/d", 2)
            assert [m["body"] for m in messages] == ["first", "second"]
            assert all(m["delay"]["stamp"] is not None for m in messages)
            await logout(dave)
            again = await login(running, "dave@localhost/d", 0)
            await nothingFor(again)
            await logout(again)

        run(before())
        restart(running)
        run(after())
    finally:
        running.stop()
