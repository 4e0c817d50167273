"""
RFC 6121 end to end: the real server in a subprocess, real slixmpp
clients over TCP and TLS, reproducing the RFC's worked examples (section
2 roster, sections 3.1 to 3.3 subscriptions, section 4 presence) and
checking the exact stanzas each side receives, for contacts on the same
domain and on another hosted domain.

The cells of Appendix A are driven through real stanzas against a raw
XEP-0114 component standing in for a remote server (C{peer.localhost}):
it sees exactly what the user's server routes, and sends exactly the
stanzas a cell needs, which two well-behaved servers would never let one
observe.  The tables come from L{test_subscription}, typed in from the
RFC.

The slixmpp clients answer nothing on their own (no automatic
authorisation or subscription) and record every stanza they receive.
"""

import asyncio
import copy
import hashlib
import os
import xml.etree.ElementTree as ET

import pytest

from harness import PASSWORD, Client, RunningServer, TLSRawStream, freePort
from test_subscription import RFC_INBOUND, RFC_OUTBOUND, STATES

pytestmark = pytest.mark.integration

PEER = "peer.localhost"
SECRET = "peer secret for the appendix A cells"
NS_ROSTER = "jabber:iq:roster"
NS_DELAY = "urn:xmpp:delay"
HERE = os.path.dirname(os.path.abspath(__file__))

#: Accounts made before the server starts: one pair per worked example
#: and domain arrangement, so the tests do not share rosters.
ACCOUNTS = (
    ["cells@localhost", "roster@localhost"]
    + ["%s%d@localhost" % (name, n) for name in ("romeo", "nurse")
       for n in range(1, 4)]
    + ["juliet%d@%s" % (n, domain) for n in range(1, 4)
       for domain in ("localhost", "example.net")]
    + ["alice@localhost", "carol@example.net", "mallory@example.net"])


def _plugins():
    plugins = ["ping", "roster", "presence"]
    if os.path.exists(os.path.join(HERE, "..", "plugins", "message.py")):
        plugins.append("message")
    return plugins


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    componentPort = freePort()
    table = "plugins = [%s]" % (", ".join('"%s"' % p for p in _plugins()),)
    running = RunningServer(
        tmp_path_factory.mktemp("rfc6121"),
        extra='component_listeners = ["tcp:%d:interface=127.0.0.1"]\n'
              '[components."%s"]\nsecret = "%s"\n'
              % (componentPort, PEER, SECRET),
        hostExtra={"localhost": table, "example.net": table})
    running.componentPort = componentPort
    running.createAccounts(ACCOUNTS)
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def loop():
    """
    One event loop for the module, so that clients and the peer can live
    across tests.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    for party in PARTIES:
        party.disconnect()
    loop.run_until_complete(asyncio.sleep(0.2))
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.close()
    asyncio.set_event_loop(None)


#: Every client made, kept until the end of the module so that none is
#: collected after its event loop closed.
PARTIES = []


def run(loop, coroutine):
    return loop.run_until_complete(asyncio.wait_for(coroutine, 60))


# -- reading what arrives -----------------------------------------------------


def localName(tag):
    return tag.rsplit("}", 1)[-1]


def summary(element):
    """
    A stanza as a tuple: C{("presence", type, from, to)} (type
    C{"available"} when absent), C{("push", jid, subscription, ask,
    approved, (groups))} for a roster push, C{("message", body)},
    C{("iq", type, id)} for anything else.
    """
    name = localName(element.tag)
    if name == "presence":
        return ("presence", element.get("type", "available"),
                element.get("from"), element.get("to"))
    if name == "message":
        body = element.find("{*}body")
        return ("message", None if body is None else body.text)
    query = element.find("{%s}query" % (NS_ROSTER,))
    if name == "iq" and element.get("type") == "set" and query is not None:
        [item] = query.findall("{%s}item" % (NS_ROSTER,))
        return ("push", item.get("jid"), item.get("subscription"),
                item.get("ask"), item.get("approved"),
                tuple(g.text for g in item.findall("{%s}group"
                                                    % (NS_ROSTER,))))
    return ("iq", element.get("type"), element.get("id"))


def push(jid, subscription="none", ask=None, approved=None, groups=()):
    return ("push", jid, subscription, ask, approved, tuple(groups))


def presence(type, sender, recipient):
    return ("presence", type, sender, recipient)


class Inbox:
    """
    The stanzas one party received, oldest first, waited for by
    predicate.
    """

    def initInbox(self):
        self.received = []
        self.arrived = asyncio.Event()
        self.markers = 0

    def arrive(self, element):
        self.received.append(element)
        self.arrived.set()

    async def until(self, predicate, timeout=10):
        """
        Wait for a stanza matching C{predicate}; return it and everything
        received before it, which are taken.
        """
        loop = asyncio.get_event_loop()
        deadline = loop.time() + timeout
        while True:
            for index, element in enumerate(self.received):
                if predicate(element):
                    taken = self.received[:index + 1]
                    self.received = self.received[index + 1:]
                    return taken
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(),
                                   max(0.01, deadline - loop.time()))

    async def untilMarker(self, body):
        """
        The summaries of what arrived up to the marker message C{body}
        (left out).
        """
        taken = await self.until(
            lambda e: localName(e.tag) == "message"
            and summary(e) == ("message", body))
        return [summary(e) for e in taken[:-1]]

    def take(self):
        taken, self.received = self.received, []
        return [summary(e) for e in taken]


class Party(Client, Inbox):
    """
    A slixmpp client that records every stanza it receives and answers
    no subscription request by itself.
    """

    def __init__(self, jid, server):
        Client.__init__(self, jid, PASSWORD, server)
        PARTIES.append(self)
        self.initInbox()
        self.roster.auto_authorize = None
        self.roster.auto_subscribe = False
        self.add_filter("in", self._record)

    def _record(self, stanza):
        self.arrive(copy.deepcopy(stanza.xml))
        return stanza

    @property
    def full(self):
        return str(self.boundjid)

    @property
    def bare(self):
        return self.boundjid.bare

    def sendXML(self, text):
        self.send_raw(text)

    async def request(self, text, stanzaID):
        """
        Send an IQ request and return its response element.
        """
        self.send_raw(text)
        taken = await self.until(lambda e: localName(e.tag) == "iq"
                                 and e.get("id") == stanzaID
                                 and e.get("type") in ("result", "error"))
        self.received[:0] = taken[:-1]
        return taken[-1]

    async def rosterItems(self, ver=None):
        """
        The roster as C{(jid, subscription, ask, approved)} tuples, sorted.
        """
        self.markers += 1
        stanzaID = "r%d" % (self.markers,)
        result = await self.request(
            "<iq type='get' id='%s'><query xmlns='%s'%s/></iq>"
            % (stanzaID, NS_ROSTER,
               "" if ver is None else " ver='%s'" % (ver,)), stanzaID)
        query = result.find("{%s}query" % (NS_ROSTER,))
        if query is None:
            return None
        return sorted((i.get("jid"), i.get("subscription"), i.get("ask"),
                       i.get("approved"))
                      for i in query.findall("{%s}item" % (NS_ROSTER,)))

    async def sync(self, other):
        """
        Send a marker message to C{other} (a L{Party} or the L{Peer}) and
        return the summaries of what C{other} received before it.
        """
        self.markers += 1
        body = "marker %s %d" % (self.full, self.markers)
        self.send_raw("<message to='%s'><body>%s</body></message>"
                      % (other.full, body))
        return await other.untilMarker(body)

    async def settle(self):
        """
        Wait until everything the server did for this client so far has
        arrived (a message to itself comes back after it).
        """
        return await self.sync(self)


class Peer(Inbox):
    """
    A raw XEP-0114 component serving C{peer.localhost}: a stand-in for a
    remote server that records what is routed to it and sends what it
    is told to.
    """

    def __init__(self, port):
        self.port = port
        self.initInbox()
        self.full = "marker@%s" % (PEER,)

    async def connect(self):
        self.reader, self.writer = await asyncio.open_connection(
            "127.0.0.1", self.port)
        self.parser = ET.XMLPullParser(events=("start", "end"))
        self.depth = 0
        self.started = asyncio.Event()
        self.task = asyncio.ensure_future(self._readForever())
        self.send("<?xml version='1.0'?><stream:stream "
                  "xmlns='jabber:component:accept' "
                  "xmlns:stream='http://etherx.jabber.org/streams' "
                  "to='%s'>" % (PEER,))
        await asyncio.wait_for(self.started.wait(), 10)
        digest = hashlib.sha1((self.streamID + SECRET).encode()).hexdigest()
        self.send("<handshake>%s</handshake>" % (digest,))
        await self.until(lambda e: localName(e.tag) == "handshake")
        return self

    async def _readForever(self):
        while True:
            data = await self.reader.read(65536)
            if not data:
                return
            self.parser.feed(data)
            for event, element in self.parser.read_events():
                self._event(event, element)

    def _event(self, event, element):
        if event == "start":
            self.depth += 1
            if self.depth == 1:
                self.streamID = element.get("id")
                self.started.set()
            return
        self.depth -= 1
        if self.depth == 1:
            self.arrive(element)

    def send(self, text):
        self.writer.write(text.encode("utf-8"))

    def presence(self, sender, recipient, type):
        self.send("<presence from='%s' to='%s' type='%s'/>"
                  % (sender, recipient, type))

    async def sync(self, other):
        """
        Send a marker message to C{other} and return what it received
        before it.
        """
        self.markers += 1
        body = "peer marker %d" % (self.markers,)
        self.send("<message from='%s' to='%s'><body>%s</body></message>"
                  % (self.full, other.full, body))
        return await other.untilMarker(body)

    def close(self):
        self.writer.close()
        self.task.cancel()


async def login(server, jid, available=True, interested=True,
                presenceXML="<presence/>"):
    """
    A logged-in L{Party}, an interested resource (it asked for the
    roster) and available (it sent initial presence) unless told
    otherwise, with what arrived until now taken.
    """
    party = Party(jid, server)
    await party.login()
    if interested:
        await party.rosterItems()
    if available:
        party.sendXML(presenceXML)
    await party.settle()
    return party


# -- roster (RFC 6121 section 2) ----------------------------------------------


def test_streamFeatures(server):
    """
    Sections 2.6.1 and 3.4.1: after authentication the server offers
    roster versioning and subscription pre-approval.
    """
    stream = TLSRawStream(server)
    stream.openStream("localhost")
    stream.startTLS("localhost")
    stream.openStream("localhost")
    assert stream.plainLogin("roster") == "success"
    features = stream.openStream("localhost")
    assert "<ver xmlns='urn:xmpp:features:rosterver'/>" in features.replace(
        '"', "'")
    assert "<sub xmlns='urn:xmpp:features:pre-approval'/>" in \
        features.replace('"', "'")
    stream.close()


def test_rosterManagement(server, loop):
    """
    Section 2: the roster examples, for two resources of one user: get,
    add (2.3), update (2.4), delete (2.5), the error cases, and a
    versioned get (2.6.3).
    """
    async def scenario():
        balcony = await login(server, "roster@localhost/balcony")
        chamber = await login(server, "roster@localhost/chamber",
                              interested=False)
        result = await balcony.request(
            "<iq id='bv1bs71f' type='get'><query xmlns='jabber:iq:roster'/>"
            "</iq>", "bv1bs71f")
        assert result.get("type") == "result"
        assert result.get("to") == balcony.full
        query = result.find("{jabber:iq:roster}query")
        assert (query.get("ver"), list(query)) == ("0", [])
        await chamber.rosterItems()

        result = await balcony.request(
            "<iq id='rs1' type='set'><query xmlns='jabber:iq:roster'>"
            "<item jid='nurse@example.com' name='Nurse'>"
            "<group>Servants</group></item></query></iq>", "rs1")
        assert (result.get("type"), list(result)) == ("result", [])
        expected = push("nurse@example.com", groups=["Servants"])
        for resource in (balcony, chamber):
            *_, element = await resource.until(lambda e: summary(e)[0] ==
                                               "push")
            assert summary(element) == expected
            item = element.find("{*}query/{*}item")
            assert item.get("name") == "Nurse"
            assert element.find("{*}query").get("ver") == "1"
            assert element.get("from") is None

        await balcony.request(
            "<iq id='ru1' type='set'><query xmlns='jabber:iq:roster'>"
            "<item jid='nurse@example.com' name='Nurse'>"
            "<group>Servants</group><group>Friends</group></item>"
            "</query></iq>", "ru1")
        assert await chamber.settle() == [
            push("nurse@example.com", groups=["Servants", "Friends"])]

        errors = {
            "<item jid='a@example.com'/><item jid='b@example.com'/>":
                "bad-request",
            "<item jid='a@example.com'><group>X</group><group>X</group>"
            "</item>": "bad-request",
            "<item jid='a@example.com'><group></group></item>":
                "not-acceptable",
            "<item jid='ghost@example.com' subscription='remove'/>":
                "item-not-found",
        }
        for n, (payload, condition) in enumerate(errors.items()):
            reply = await balcony.request(
                "<iq id='e%d' type='set'><query xmlns='jabber:iq:roster'>"
                "%s</query></iq>" % (n, payload), "e%d" % (n,))
            assert reply.get("type") == "error"
            assert reply.find("{*}error/{*}%s" % (condition,)) is not None
        reply = await balcony.request(
            "<iq id='f1' type='get' to='mallory@example.net'>"
            "<query xmlns='jabber:iq:roster'/></iq>", "f1")
        assert reply.find("{*}error/{*}forbidden") is not None

        await balcony.request(
            "<iq id='hm4hs97y' type='set'><query xmlns='jabber:iq:roster'>"
            "<item jid='nurse@example.com' subscription='remove'/>"
            "</query></iq>", "hm4hs97y")
        assert await chamber.settle() == [
            ("push", "nurse@example.com", "remove", None, None, ())]
        assert await balcony.rosterItems() == []

        # 2.6.3: versioned gets.
        for n, name in enumerate(("benvolio", "mercutio", "tybalt")):
            await balcony.request(
                "<iq id='v%d' type='set'><query xmlns='jabber:iq:roster'>"
                "<item jid='%s@example.com'/></query></iq>" % (n, name),
                "v%d" % (n,))
        await balcony.request(
            "<iq id='v9' type='set'><query xmlns='jabber:iq:roster'>"
            "<item jid='tybalt@example.com' name='Prince of Cats'/>"
            "</query></iq>", "v9")
        await chamber.settle()
        assert await chamber.rosterItems(ver="6") is None
        [pushed] = await chamber.until(lambda e: summary(e)[0] == "push")
        assert summary(pushed) == push("tybalt@example.com")
        assert pushed.find("{*}query").get("ver") == "7"
        assert pushed.find("{*}query/{*}item").get("name") == \
            "Prince of Cats"
        assert await chamber.rosterItems(ver="2") == [
            ("benvolio@example.com", "none", None, None),
            ("mercutio@example.com", "none", None, None),
            ("tybalt@example.com", "none", None, None)]
        assert await chamber.rosterItems(ver="7") is None
        assert await chamber.settle() == []
        for party in (balcony, chamber):
            party.disconnect()
    run(loop, scenario())


# -- subscriptions (RFC 6121 sections 3.1 to 3.3) ------------------------------


ARRANGEMENTS = [pytest.param(1, "localhost", id="same-domain"),
                pytest.param(2, "example.net", id="two-domains")]


@pytest.mark.parametrize("n, domain", ARRANGEMENTS)
def test_subscriptionExamples(server, loop, n, domain):
    """
    Sections 3.1 (request and approval), 3.2 (cancelling) and 3.3
    (unsubscribing), as in the RFC's examples: every stanza each side
    receives.
    """
    romeoJID, julietJID = "romeo%d@localhost" % (n,), "juliet%d@%s" % (
        n, domain)

    async def scenario():
        romeo = await login(server, romeoJID + "/orchard")
        juliet = await login(server, julietJID + "/balcony")

        # 3.1.1: the request, routed from the bare JID to the bare JID.
        romeo.sendXML("<presence id='xk3h1v69' to='%s' type='subscribe'/>"
                      % (julietJID,))
        assert await romeo.sync(juliet) == [
            presence("subscribe", romeoJID, julietJID)]
        assert await romeo.settle() == [push(julietJID, ask="subscribe")]
        assert juliet.received == []

        # 3.1.5: approval.
        juliet.sendXML("<presence id='h4v1c4kj' to='%s' type='subscribed'/>"
                       % (romeoJID,))
        assert await juliet.settle() == [push(romeoJID, "from")]
        assert await juliet.sync(romeo) == [
            presence("subscribed", julietJID, romeoJID),
            push(julietJID, "to"),
            presence("available", julietJID + "/balcony", romeoJID)]

        # 4.4: Juliet's subsequent presence reaches Romeo only.
        juliet.sendXML("<presence><show>away</show><status>be right back"
                       "</status></presence>")
        assert await juliet.sync(romeo) == [
            presence("available", julietJID + "/balcony", romeoJID)]
        assert await juliet.settle() == [
            presence("available", julietJID + "/balcony",
                     julietJID + "/balcony")]

        # 3.2: Juliet cancels Romeo's subscription.
        juliet.sendXML("<presence id='ij5b1v7g' to='%s' type='unsubscribed'/>"
                       % (romeoJID,))
        assert await juliet.settle() == [push(romeoJID)]
        assert await juliet.sync(romeo) == [
            presence("unavailable", julietJID + "/balcony", romeoJID),
            presence("unsubscribed", julietJID, romeoJID),
            push(julietJID)]

        # Subscribe again, then 3.3: Romeo unsubscribes.
        romeo.sendXML("<presence to='%s' type='subscribe'/>" % (julietJID,))
        await romeo.sync(juliet)
        juliet.sendXML("<presence to='%s' type='subscribed'/>" % (romeoJID,))
        await juliet.sync(romeo)
        await juliet.settle()
        romeo.sendXML("<presence id='ul4bs71n' to='%s' type='unsubscribe'/>"
                      % (julietJID,))
        assert await romeo.sync(juliet) == [
            presence("unsubscribe", romeoJID, julietJID), push(romeoJID)]
        assert await juliet.sync(romeo) == [
            push(julietJID),
            presence("unavailable", julietJID + "/balcony", romeoJID)]
        assert await romeo.rosterItems() == [(julietJID, "none", None, None)]
        assert await juliet.rosterItems() == [(romeoJID, "none", None, None)]
        for party in (romeo, juliet):
            party.disconnect()
    run(loop, scenario())


def test_requestWhileOffline(server, loop):
    """
    Section 3.1.3: a request for a user with no available resource is
    delivered at every initial presence until it is answered, and not
    after.
    """
    async def scenario():
        romeo = await login(server, "romeo3@localhost/orchard")
        romeo.sendXML("<presence id='o1' to='nurse3@localhost' "
                      "type='subscribe'><status>Hello</status></presence>")
        await romeo.settle()
        for attempt in range(2):
            nurse = await login(server, "nurse3@localhost/kitchen",
                                available=False)
            nurse.sendXML("<presence/>")
            received = await nurse.settle()
            assert presence("subscribe", "romeo3@localhost",
                            "nurse3@localhost") in received
            nurse.disconnect()
            await asyncio.sleep(0.1)
        nurse = await login(server, "nurse3@localhost/kitchen",
                            available=False)
        nurse.sendXML("<presence to='romeo3@localhost' type='subscribed'/>")
        await nurse.sync(romeo)
        nurse.disconnect()
        await asyncio.sleep(0.1)
        nurse = await login(server, "nurse3@localhost/kitchen",
                            available=False)
        nurse.sendXML("<presence/>")
        received = await nurse.settle()
        assert [s for s in received if s[1] == "subscribe"] == []
        for party in (romeo, nurse):
            party.disconnect()
    run(loop, scenario())


# -- presence (RFC 6121 section 4) ---------------------------------------------


@pytest.mark.parametrize("n, domain", ARRANGEMENTS)
def test_presenceExamples(server, loop, n, domain):
    """
    Section 4: initial presence with the full XML, probes answered with
    the contact's available resources and then with its last unavailable
    presence and a delay, directed presence tracked until unavailable.
    """
    romeoJID, julietJID = "nurse%d@localhost" % (n,), "juliet3@%s" % (
        domain,)
    strangerJID = "mallory@example.net"

    async def scenario():
        romeo = await login(server, romeoJID + "/orchard", available=False)
        juliet = await login(server, julietJID + "/chamber")
        for a, b in ((romeo, juliet), (juliet, romeo)):
            a.sendXML("<presence to='%s' type='subscribe'/>" % (b.bare,))
            await a.sync(b)
            b.sendXML("<presence to='%s' type='subscribed'/>" % (a.bare,))
            await b.sync(a)
        await romeo.settle()
        await juliet.settle()

        # 4.2: initial presence, broadcast in full to the subscriber, and
        # the probe answered with Juliet's last presence.
        romeo.sendXML("<presence xml:lang='en'><show>dnd</show>"
                      "<status>Wooing Juliet</status><priority>1</priority>"
                      "</presence>")
        received = await romeo.sync(juliet)
        assert received == [presence("available", romeoJID + "/orchard",
                                     julietJID)]
        assert await romeo.settle() == [
            presence("available", romeoJID + "/orchard",
                     romeoJID + "/orchard"),
            presence("available", julietJID + "/chamber", romeoJID)]

        # The full XML is carried: show, status, priority and xml:lang.
        romeo.sendXML("<presence xml:lang='en'><show>chat</show>"
                      "<status>Here</status><priority>2</priority>"
                      "</presence>")
        [broadcast] = await juliet.until(
            lambda e: localName(e.tag) == "presence")
        assert broadcast.get("{http://www.w3.org/XML/1998/namespace}lang") \
            == "en"
        assert [(localName(c.tag), c.text) for c in broadcast] == [
            ("show", "chat"), ("status", "Here"), ("priority", "2")]

        # 4.3: a new resource's probe is answered with the contact's
        # current presence.
        juliet.sendXML("<presence><status>On the balcony</status>"
                       "</presence>")
        await juliet.sync(romeo)
        second = await login(server, romeoJID + "/garden", available=False)
        second.sendXML("<presence/>")
        received = await second.settle()
        assert presence("available", julietJID + "/chamber",
                        romeoJID) in received

        # 4.5: Juliet goes; everyone learns it; a probe now gets her last
        # unavailable presence, from her bare JID, with a delay.
        juliet.sendXML("<presence type='unavailable'><status>Goodnight"
                       "</status></presence>")
        for party in (romeo, second):
            received = await juliet.sync(party)
            assert presence("unavailable", julietJID + "/chamber",
                            romeoJID) in received
        juliet.disconnect()
        third = await login(server, romeoJID + "/tower", available=False)
        third.sendXML("<presence/>")
        *_, answer = await third.until(
            lambda e: localName(e.tag) == "presence"
            and e.get("from") == julietJID)
        assert (answer.get("type"), answer.get("to")) == ("unavailable",
                                                          romeoJID)
        assert answer.find("{*}status").text == "Goodnight"
        assert answer.find("{%s}delay" % (NS_DELAY,)) is not None

        # 4.6: directed presence to a stranger, who gets no later
        # broadcast but does get unavailable presence at the end.
        stranger = await login(server, strangerJID + "/x")
        romeo.sendXML("<presence to='%s/x'><show>chat</show></presence>"
                      % (strangerJID,))
        assert await romeo.sync(stranger) == [
            presence("available", romeoJID + "/orchard",
                     strangerJID + "/x")]
        romeo.sendXML("<presence><show>away</show></presence>")
        assert await romeo.sync(stranger) == []
        romeo.disconnect()
        [gone] = await stranger.until(lambda e: localName(e.tag) ==
                                      "presence")
        assert summary(gone) == presence("unavailable", romeoJID + "/orchard",
                                         strangerJID + "/x")
        for party in (second, third, stranger):
            party.disconnect()
    run(loop, scenario())


def test_twoUsersTwoClients(server, loop):
    """
    Two users on different hosted domains, each with two clients, go
    through subscription both ways, presence, directed presence and
    unsubscription; every stanza each client receives is checked.
    """
    A, C = "alice@localhost", "carol@example.net"

    async def scenario():
        pc = await login(server, A + "/pc")
        phone = await login(server, A + "/phone")
        desk = await login(server, C + "/desk")
        laptop = await login(server, C + "/laptop")
        for party in (pc, phone, desk, laptop):
            await party.settle()
            party.take()

        pc.sendXML("<presence id='s1' to='%s' type='subscribe'/>" % (C,))
        assert await pc.sync(desk) == [presence("subscribe", A, C)]
        assert await pc.sync(laptop) == [presence("subscribe", A, C)]
        for party in (pc, phone):
            assert await party.settle() == [push(C, ask="subscribe")]

        laptop.sendXML("<presence id='a1' to='%s' type='subscribed'/>" % (A,))
        for party in (laptop, desk):
            assert await party.settle() == [push(A, "from")]
        expected = [presence("subscribed", C, A), push(C, "to"),
                    presence("available", C + "/desk", A),
                    presence("available", C + "/laptop", A)]
        assert await laptop.sync(pc) == expected
        assert await laptop.sync(phone) == expected

        desk.sendXML("<presence to='%s' type='subscribe'/>" % (A,))
        assert await desk.sync(pc) == [presence("subscribe", C, A)]
        assert await desk.sync(phone) == [presence("subscribe", C, A)]
        for party in (desk, laptop):
            assert await party.settle() == [push(A, "from", "subscribe")]
        phone.sendXML("<presence to='%s' type='subscribed'/>" % (C,))
        expected = [presence("subscribed", A, C), push(A, "both"),
                    presence("available", A + "/pc", C),
                    presence("available", A + "/phone", C)]
        assert await phone.sync(desk) == expected
        assert await phone.sync(laptop) == expected
        for party in (pc, phone):
            assert await party.settle() == [push(C, "both")]

        desk.sendXML("<presence><show>away</show></presence>")
        for party in (pc, phone):
            assert await desk.sync(party) == [
                presence("available", C + "/desk", A)]
        assert await desk.sync(laptop) == [
            presence("available", C + "/desk", C + "/laptop")]
        assert await desk.settle() == [
            presence("available", C + "/desk", C + "/desk")]

        phone.sendXML("<presence to='%s/laptop'><status>psst</status>"
                      "</presence>" % (C,))
        assert await phone.sync(laptop) == [
            presence("available", A + "/phone", C + "/laptop")]
        assert await phone.sync(desk) == []

        pc.sendXML("<presence to='%s' type='unsubscribe'/>" % (C,))
        for party in (desk, laptop):
            assert await pc.sync(party) == [presence("unsubscribe", A, C),
                                            push(A, "to")]
        for party in (pc, phone):
            assert await desk.sync(party) == [
                push(C, "from"),
                presence("unavailable", C + "/desk", A),
                presence("unavailable", C + "/laptop", A)]
        assert await pc.rosterItems() == [(C, "from", None, None)]
        assert await desk.rosterItems() == [(A, "to", None, None)]
        for party in (pc, phone, desk, laptop):
            party.disconnect()
    run(loop, scenario())


# -- Appendix A through real stanzas ------------------------------------------


#: How to reach each state from "None" (the user is U, the contact C):
#: the stanzas, in order, each from U ("out") or from C ("in").
PATHS = {
    "None": [],
    "None + Pending Out": [("out", "subscribe")],
    "None + Pending In": [("in", "subscribe")],
    "None + Pending Out/In": [("out", "subscribe"), ("in", "subscribe")],
    "To": [("out", "subscribe"), ("in", "subscribed")],
    "To + Pending In": [("out", "subscribe"), ("in", "subscribed"),
                        ("in", "subscribe")],
    "From": [("in", "subscribe"), ("out", "subscribed")],
    "From + Pending Out": [("in", "subscribe"), ("out", "subscribed"),
                           ("out", "subscribe")],
    "Both": [("out", "subscribe"), ("in", "subscribed"),
             ("in", "subscribe"), ("out", "subscribed")],
}


@pytest.fixture(scope="module")
def cells(server, loop):
    """
    The user whose server is under test, and the peer server.
    """
    user = run(loop, login(server, "cells@localhost/cells"))
    peer = run(loop, Peer(server.componentPort).connect())
    yield user, peer
    user.disconnect()
    peer.close()


_contacts = iter(range(1000))


def _view(state):
    """
    The roster item a state shows: C{(subscription, ask)}.
    """
    return (state.subscription, "subscribe" if state.pendingOut else None)


async def drive(user, peer, contact, name):
    """
    Bring the relationship of the user with C{contact} to state C{name}
    through real stanzas, waiting for each to be handled.
    """
    for direction, type in PATHS[name]:
        if direction == "out":
            user.sendXML("<presence to='%s' type='%s'/>" % (contact, type))
            await user.sync(peer)
        else:
            peer.presence(contact, user.bare, type)
            await peer.sync(user)
    await user.settle()
    user.take()
    peer.take()
    items = dict((jid, (sub, ask)) for jid, sub, ask, _ in
                 await user.rosterItems())
    expected = _view(STATES[name])
    assert items.get(contact, ("none", None)) == expected


def _itemAfter(items, contact):
    return items.get(contact, ("none", None))


def outboundCells():
    return [pytest.param(type, existing, route, new,
                         id="%s-%s" % (type, existing.replace(" ", "")))
            for type, rows in RFC_OUTBOUND.items()
            for existing, route, new in rows]


def inboundCells():
    return [pytest.param(type, existing, deliver, new, reply,
                         id="%s-%s" % (type, existing.replace(" ", "")))
            for type, rows in RFC_INBOUND.items()
            for existing, deliver, new, reply in rows]


@pytest.mark.parametrize("type, existing, route, new", outboundCells())
def test_appendixOutbound(cells, loop, type, existing, route, new):
    """
    Appendix A.2, one cell: the user sends a subscription stanza to a
    contact on a remote server in a given state; the peer sees it routed
    (stamped with the user's bare JID) or not, with the presence the
    RFC adds; the user's roster ends in the new state, pushed if it
    changed.
    """
    user, peer = cells
    contact = "c%d@%s" % (next(_contacts), PEER)
    before = STATES[existing]
    after = before if new is None else STATES[new]

    async def scenario():
        await drive(user, peer, contact, existing)
        user.sendXML("<presence to='%s/res' type='%s'/>" % (contact, type))
        routed = await user.sync(peer)
        expected = []
        if route and type == "unsubscribed" and before.hasFrom:
            expected.append(presence("unavailable", user.full, contact))
        if route:
            expected.append(presence(type, user.bare, contact))
        if route and type == "subscribed":
            expected.append(presence("available", user.full, contact))
        assert routed == expected
        preApproved = (type == "subscribed" and not route
                       and not before.hasFrom)
        pushes = await user.settle()
        if _view(after) != _view(before) or preApproved:
            assert pushes == [push(contact, after.subscription,
                                   _view(after)[1],
                                   "true" if preApproved else None)]
        else:
            assert pushes == []
        items = dict((jid, (sub, ask)) for jid, sub, ask, _ in
                     await user.rosterItems())
        assert _itemAfter(items, contact) == _view(after)
    run(loop, scenario())


@pytest.mark.parametrize("type, existing, deliver, new, reply",
                         inboundCells())
def test_appendixInbound(cells, loop, type, existing, deliver, new, reply):
    """
    Appendix A.3, one cell: a subscription stanza arrives from a remote
    contact in a given state; the user's client gets it or not, the
    server answers for the user where the RFC says so, and the roster
    ends in the new state, pushed if it changed.
    """
    user, peer = cells
    contact = "c%d@%s" % (next(_contacts), PEER)
    before = STATES[existing]
    after = before if new is None else STATES[new]

    async def scenario():
        await drive(user, peer, contact, existing)
        peer.presence(contact + "/res", user.bare, type)
        received = await peer.sync(user)
        expected = []
        if deliver:
            expected.append(presence(type, contact, user.bare))
        if _view(after) != _view(before):
            expected.append(push(contact, after.subscription,
                                 _view(after)[1]))
        assert received == expected
        answers = await user.sync(peer)
        expected = []
        if reply:
            expected = [presence(reply, user.bare, contact),
                        presence("available", user.full, contact)]
        if type == "unsubscribe" and before.hasFrom:
            expected = [presence("unavailable", user.full, contact)]
        assert answers == expected
        items = dict((jid, (sub, ask)) for jid, sub, ask, _ in
                     await user.rosterItems())
        assert _itemAfter(items, contact) == _view(after)
    run(loop, scenario())


def test_preApprovalThroughPeer(cells, loop):
    """
    Section 3.4: a pre-approval is pushed with approved='true' and not
    routed; the contact's later request is approved by the server,
    which answers 'subscribed' and sends the user's presence, without
    showing the request to the user.
    """
    user, peer = cells
    contact = "c%d@%s" % (next(_contacts), PEER)

    async def scenario():
        user.sendXML("<presence to='%s' type='subscribed'/>" % (contact,))
        assert await user.sync(peer) == []
        assert await user.settle() == [push(contact, approved="true")]
        peer.presence(contact, user.bare, "subscribe")
        assert await peer.sync(user) == [push(contact, "from")]
        assert await user.sync(peer) == [
            presence("subscribed", user.bare, contact),
            presence("available", user.full, contact)]
    run(loop, scenario())


def test_probeFromPeer(cells, loop):
    """
    Section 4.3.2 through the peer: a subscribed contact's probe is
    answered with the user's presence; anyone else's with
    'unsubscribed'.
    """
    user, peer = cells
    friend = "c%d@%s" % (next(_contacts), PEER)
    stranger = "c%d@%s" % (next(_contacts), PEER)

    async def scenario():
        await drive(user, peer, friend, "From")
        peer.presence(friend, user.bare, "probe")
        peer.presence(stranger, user.bare, "probe")
        await peer.sync(user)
        assert await user.sync(peer) == [
            presence("available", user.full, friend),
            presence("unsubscribed", user.bare, stranger)]
    run(loop, scenario())
