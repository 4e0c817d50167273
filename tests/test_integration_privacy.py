"""
Privacy lists (XEP-0016) and the blocking command (XEP-0191) end to end:
the real server in a subprocess serving the domains of the XEPs'
examples, real slixmpp clients (with their xep_0016 and xep_0191
plugins) over TCP and TLS.  Each example of XEP-0016 section 2 and
XEP-0191 section 3 is reproduced: the client sends the example's XML and
the test checks the exact stanzas that come back and that others
receive.

Two differences from the examples are by design and hold for every
reply of this server: a reply to a client carries the client's full JID
as C{to} (the examples often leave it out), and an error reply does not
echo the request's payload (RFC 6120 section 8.3.1 makes that a MAY;
only the not-acceptable error of section 2.14 echoes what the user
sent).  Push ids are the server's own.
"""

import asyncio
import copy
import xml.etree.ElementTree as ET

import pytest
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

from harness import PASSWORD, Client, RunningServer

pytestmark = pytest.mark.integration

HOSTS = ("example.net", "example.com", "example.org", "capulet.com",
         "montague.net")
PLUGINS = ('plugins = ["ping", "disco", "roster", "presence", "message", '
           '"privacy"]')
ACCOUNTS = ("romeo@example.net", "tybalt@example.com", "juliet@example.com",
            "paris@example.org", "benvolio@example.org",
            "mercutio@example.org", "juliet@capulet.com",
            "romeo@montague.net", "nurse@capulet.com")
ROMEO, TYBALT = "romeo@example.net", "tybalt@example.com"
NS_PRIVACY = "jabber:iq:privacy"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = RunningServer(tmp_path_factory.mktemp("privacy"), hosts=HOSTS,
                            hostExtra={host: PLUGINS for host in HOSTS})
    running.createAccounts(ACCOUNTS)
    running.start()
    yield running
    running.stop()


#: Every client made, kept until the end of the module so that none is
#: collected after its event loop closed.
PARTIES = []


@pytest.fixture(scope="module")
def loop(server):
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(asyncio.wait_for(relationships(server), 60))
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


def run(loop, coroutine):
    return loop.run_until_complete(asyncio.wait_for(coroutine, 90))


# -- comparing stanzas --------------------------------------------------------


def localName(tag):
    return tag.rsplit("}", 1)[-1]


def canonical(element):
    return (element.tag, dict(element.attrib), (element.text or "").strip(),
            [canonical(child) for child in element])


def expected(text):
    """
    An element from example XML, in the client namespace.
    """
    return ET.fromstring("<r xmlns='jabber:client'>%s</r>" % (text,))[0]


def assertStanza(element, text, anyID=False):
    """
    C{element} is exactly the stanza C{text} (its C{id} whatever it is
    with C{anyID}: the server's own push ids).
    """
    want = expected(text)
    if anyID:
        want.set("id", element.get("id"))
    assert canonical(element) == canonical(want), (
        ET.tostring(element).decode(), text)


def condition(element):
    error = element.find("{jabber:client}error")
    return None if error is None else [localName(c.tag) for c in error]


# -- clients ------------------------------------------------------------------


class Party(Client):
    """
    A slixmpp client with the XEP-0016 and XEP-0191 plugins that records
    every stanza it receives, acknowledges privacy list pushes (XEP-0016
    section 2.6) and answers no subscription request by itself.
    """

    def __init__(self, jid, server):
        Client.__init__(self, jid, PASSWORD, server)
        PARTIES.append(self)
        for plugin in ("xep_0030", "xep_0016", "xep_0191"):
            self.register_plugin(plugin)
        self.roster.auto_authorize = None
        self.roster.auto_subscribe = False
        self.received = []
        self.arrived = asyncio.Event()
        self.markers = 0
        self.add_filter("in", self._record)
        self.register_handler(Callback(
            "privacy push", StanzaPath("iq@type=set/privacy"),
            lambda iq: self.send_raw("<iq type='result' id='%s'/>"
                                     % (iq["id"],))))

    def _record(self, stanza):
        self.received.append(copy.deepcopy(stanza.xml))
        self.arrived.set()
        return stanza

    @property
    def full(self):
        return str(self.boundjid)

    async def until(self, predicate, timeout=10):
        """
        Wait for a stanza matching C{predicate}; return it and what came
        before it, all taken.
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

    async def request(self, text, stanzaID):
        """
        Send an IQ request; return its response, leaving what came before
        it (pushes) in L{received}.
        """
        self.send_raw(text)
        taken = await self.until(lambda e: localName(e.tag) == "iq"
                                 and e.get("id") == stanzaID
                                 and e.get("type") in ("result", "error"))
        self.received[:0] = taken[:-1]
        return taken[-1]

    async def settle(self):
        """
        Wait until everything the server sent so far has arrived (a
        message to oneself comes back after it) and return it.
        """
        self.markers += 1
        body = "marker %s %d" % (self.full, self.markers)
        self.send_raw("<message to='%s'><body>%s</body></message>"
                      % (self.full, body))
        taken = await self.until(
            lambda e: localName(e.tag) == "message"
            and e.findtext("{jabber:client}body") == body)
        return taken[:-1]

    async def privacy(self, inner, type="set", stanzaID="p"):
        return await self.request(
            "<iq type='%s' id='%s'><query xmlns='%s'>%s</query></iq>"
            % (type, stanzaID, NS_PRIVACY, inner), stanzaID)


async def login(server, jid, available=True):
    party = Party(jid, server)
    await party.login()
    if available:
        party.send_raw("<presence/>")
    await party.settle()
    return party


async def settled(*parties):
    """
    Everything sent to C{parties} so far has arrived: what did?
    """
    return [await party.settle() for party in parties]


async def logout(*parties):
    await asyncio.gather(*(party.disconnect() for party in parties))


async def subscribe(server, user, contact):
    """
    C{user} subscribes to C{contact}'s presence, which C{contact}
    approves.
    """
    a, b = await login(server, user + "/setup"), await login(
        server, contact + "/setup")
    a.send_raw("<presence to='%s' type='subscribe'/>" % (contact,))
    await a.settle()
    await b.settle()
    b.send_raw("<presence to='%s' type='subscribed'/>" % (user,))
    await b.settle()
    await a.settle()
    await logout(a, b)


async def relationships(server):
    """
    The rosters the examples assume: Tybalt is in Romeo's group
    "Enemies" (subscription none); Romeo subscribes to Benvolio's
    presence ("to"); Mercutio to Romeo's ("from"); Romeo of montague.net
    to Juliet of capulet.com's.
    """
    romeo = await login(server, ROMEO + "/setup", available=False)
    await romeo.request(
        "<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item "
        "jid='tybalt@example.com'><group>Enemies</group></item></query></iq>",
        "r1")
    await logout(romeo)
    await subscribe(server, ROMEO, "benvolio@example.org")
    await subscribe(server, "mercutio@example.org", ROMEO)
    await subscribe(server, "romeo@montague.net", "juliet@capulet.com")


async def fresh(server, jid="romeo@example.net/orchard"):
    """
    Log in and remove every privacy list of the user, left by an earlier
    test, so that each test starts with none.
    """
    party = await login(server, jid)
    await party.privacy("<default/>")
    names = await party.privacy("", type="get")
    for element in names.find("{%s}query" % (NS_PRIVACY,)):
        if localName(element.tag) == "list":
            await party.privacy("<list name='%s'/>" % (element.get("name"),))
    await party.settle()
    return party


def result(stanzaID, to="romeo@example.net/orchard"):
    return "<iq type='result' id='%s' to='%s'/>" % (stanzaID, to)


def error(stanzaID, name, type="cancel", to="romeo@example.net/orchard",
          text=None):
    """
    An IQ error reply; the server adds a C{<text/>} to some conditions
    to say what was wrong.
    """
    explanation = "" if text is None else "<text xmlns='%s'>%s</text>" % (
        NS_STANZAS, text)
    return ("<iq to='%s' type='error' id='%s'><error type='%s'><%s xmlns="
            "'%s'/>%s</error></iq>" % (to, stanzaID, type, name, NS_STANZAS,
                                       explanation))


async def exchange(party, request, stanzaID, reply, anyID=False):
    """
    Send an example's request and check the exact reply.
    """
    party.send_raw(request)
    taken = await party.until(lambda e: e.get("id") == stanzaID and
                              e.get("type") in ("result", "error"))
    party.received[:0] = taken[:-1]
    assertStanza(taken[-1], reply, anyID)


# -- XEP-0016 section 2.3: retrieving one's privacy lists -------------------------


LISTS = {
    "public": "<item type='jid' value='tybalt@example.com' action='deny' "
              "order='1'/><item action='allow' order='2'/>",
    "private": "<item type='subscription' value='both' action='allow' "
               "order='10'/><item action='deny' order='15'/>",
    "special": "<item type='jid' value='juliet@example.com' action='allow' "
               "order='6'/><item type='jid' value='benvolio@example.org' "
               "action='allow' order='7'/><item type='jid' "
               "value='mercutio@example.org' action='allow' order='42'/>"
               "<item action='deny' order='666'/>",
}


async def threeLists(orchard):
    for name, items in LISTS.items():
        reply = await orchard.privacy("<list name='%s'>%s</list>"
                                      % (name, items))
        assert reply.get("type") == "result"
    await orchard.settle()


def test_retrievingLists(server, loop):
    """
    Examples 1 to 10: the names with the active and default lists, each
    list, a list that does not exist, more than one list at once.
    """
    async def scenario():
        orchard = await fresh(server)
        await threeLists(orchard)
        await orchard.privacy("<active name='private'/>")
        await orchard.privacy("<default name='public'/>")
        await exchange(
            orchard, "<iq from='romeo@example.net/orchard' type='get' "
            "id='getlist1'><query xmlns='jabber:iq:privacy'/></iq>",
            "getlist1",
            "<iq type='result' id='getlist1' to='romeo@example.net/orchard'>"
            "<query xmlns='jabber:iq:privacy'><active name='private'/>"
            "<default name='public'/><list name='public'/>"
            "<list name='private'/><list name='special'/></query></iq>")
        for n, name in ((2, "public"), (3, "private"), (4, "special")):
            await exchange(
                orchard, "<iq from='romeo@example.net/orchard' type='get' "
                "id='getlist%d'><query xmlns='jabber:iq:privacy'>"
                "<list name='%s'/></query></iq>" % (n, name),
                "getlist%d" % (n,),
                "<iq type='result' id='getlist%d' to='romeo@example.net/"
                "orchard'><query xmlns='jabber:iq:privacy'><list name='%s'>"
                "%s</list></query></iq>" % (n, name, LISTS[name]))
        await exchange(
            orchard, "<iq type='get' id='getlist5'><query xmlns='jabber:iq:"
            "privacy'><list name='The Empty Set'/></query></iq>",
            "getlist5", error("getlist5", "item-not-found"))
        await exchange(
            orchard, "<iq type='get' id='getlist6'><query xmlns='jabber:iq:"
            "privacy'><list name='public'/><list name='private'/>"
            "<list name='special'/></query></iq>",
            "getlist6", error("getlist6", "bad-request", "modify",
                              text="one list at a time"))
        lists = await orchard.plugin["xep_0016"].get_privacy_lists()
        assert [l["name"] for l in lists["privacy"]["lists"]] == [
            "public", "private", "special"]
        assert lists["privacy"]["default"]["name"] == "public"
        await logout(orchard)
    run(loop, scenario())


# -- sections 2.4 to 2.8: active, default, edit, add, remove ------------------------


def test_managingActiveLists(server, loop):
    """
    Examples 11 to 15: activating a list for this session (and applying
    it at once), a list that does not exist, declining.
    """
    async def scenario():
        orchard = await fresh(server)
        tybalt = await login(server, TYBALT + "/pda")
        await threeLists(orchard)
        await exchange(
            orchard, "<iq from='romeo@example.net/orchard' type='set' "
            "id='active1'><query xmlns='jabber:iq:privacy'><active "
            "name='special'/></query></iq>", "active1", result("active1"))
        tybalt.send_raw("<message to='romeo@example.net/orchard' id='t1'>"
                        "<body>hi</body></message>")
        [bounce] = await tybalt.settle()
        assert condition(bounce) == ["service-unavailable"]
        await exchange(
            orchard, "<iq type='set' id='active2'><query xmlns='jabber:iq:"
            "privacy'><active name='The Empty Set'/></query></iq>",
            "active2", error("active2", "item-not-found"))
        await exchange(
            orchard, "<iq from='romeo@example.net/orchard' type='set' "
            "id='active3'><query xmlns='jabber:iq:privacy'><active/>"
            "</query></iq>", "active3", result("active3"))
        tybalt.send_raw("<message to='romeo@example.net/orchard' id='t2'>"
                        "<body>hi</body></message>")
        assert await tybalt.settle() == []
        [message] = await orchard.settle()
        assert message.findtext("{jabber:client}body") == "hi"
        await logout(orchard, tybalt)
    run(loop, scenario())


def test_managingTheDefaultList(server, loop):
    """
    Examples 16 to 22: the default list cannot change, nor be declined,
    while another resource uses it; otherwise it can; a list that does
    not exist cannot become the default.
    """
    async def scenario():
        orchard = await fresh(server)
        await threeLists(orchard)
        await orchard.privacy("<default name='public'/>")
        home = await login(server, ROMEO + "/home")
        await exchange(
            orchard, "<iq from='romeo@example.net/orchard' type='set' "
            "id='default1'><query xmlns='jabber:iq:privacy'><default "
            "name='special'/></query></iq>", "default1",
            error("default1", "conflict"))
        await exchange(
            orchard, "<iq from='romeo@example.net/orchard' type='set' "
            "id='default3'><query xmlns='jabber:iq:privacy'><default/>"
            "</query></iq>", "default3", error("default3", "conflict"))
        await home.privacy("<active name='public'/>")
        await exchange(
            orchard, "<iq from='romeo@example.net/orchard' type='set' "
            "id='default1'><query xmlns='jabber:iq:privacy'><default "
            "name='special'/></query></iq>", "default1", result("default1"))
        await exchange(
            orchard, "<iq type='set' id='default1'><query xmlns='jabber:iq:"
            "privacy'><default name='The Empty Set'/></query></iq>",
            "default1", error("default1", "item-not-found"))
        await exchange(
            orchard, "<iq from='romeo@example.net/orchard' type='set' "
            "id='default2'><query xmlns='jabber:iq:privacy'><default/>"
            "</query></iq>", "default2", result("default2"))
        names = await orchard.privacy("", type="get")
        assert [localName(e.tag) for e in names[0]] == ["list"] * 3
        await logout(orchard, home)
    run(loop, scenario())


def test_editingAndAddingLists(server, loop):
    """
    Examples 23 to 26 (and section 2.7): editing replaces the whole list;
    the server pushes the list's name to each connected resource that
    uses privacy lists, which acknowledge.
    """
    async def scenario():
        orchard = await fresh(server)
        home = await login(server, ROMEO + "/home")
        await home.privacy("", type="get")
        await threeLists(orchard)
        await home.settle()
        await exchange(
            orchard, "<iq from='romeo@example.net/orchard' type='set' "
            "id='edit1'><query xmlns='jabber:iq:privacy'><list name='public'>"
            "<item type='jid' value='tybalt@example.com' action='deny' "
            "order='3'/><item type='jid' value='paris@example.org' "
            "action='deny' order='5'/><item action='allow' order='68'/>"
            "</list></query></iq>", "edit1", result("edit1"))
        for party in (orchard, home):
            [push] = await party.settle()
            assertStanza(push, "<iq to='%s' type='set' id='push1'><query "
                         "xmlns='jabber:iq:privacy'><list name='public'/>"
                         "</query></iq>" % (party.full,), anyID=True)
        listed = await home.plugin["xep_0016"].get_list("public")
        assert [(i["type"], i["value"], i["action"], i["order"])
                for i in listed["privacy"]["list"]["items"]] == [
            ("jid", "tybalt@example.com", "deny", "3"),
            ("jid", "paris@example.org", "deny", "5"),
            ("", "", "allow", "68")]
        await home.settle()
        await exchange(
            home, "<iq type='set' id='add1'><query xmlns='jabber:iq:privacy'>"
            "<list name='new'><item action='deny' order='1'><iq/></item>"
            "</list></query></iq>", "add1",
            result("add1", "romeo@example.net/home"))
        for party in (orchard, home):
            [push] = await party.settle()
            assert push.find(".//{jabber:iq:privacy}list").get("name") == \
                "new"
        await logout(orchard, home)
    run(loop, scenario())


def test_removingLists(server, loop):
    """
    Examples 27 and 28, and the errors of section 2.8: a list another
    resource applies cannot be removed, nor one that does not exist.
    """
    async def scenario():
        orchard = await fresh(server)
        await threeLists(orchard)
        home = await login(server, ROMEO + "/home")
        await home.privacy("<active name='private'/>")
        await exchange(
            orchard, "<iq from='romeo@example.net/orchard' type='set' "
            "id='remove1'><query xmlns='jabber:iq:privacy'><list "
            "name='private'/></query></iq>", "remove1",
            error("remove1", "conflict"))
        await home.privacy("<active/>")
        await exchange(
            orchard, "<iq from='romeo@example.net/orchard' type='set' "
            "id='remove1'><query xmlns='jabber:iq:privacy'><list "
            "name='private'/></query></iq>", "remove1", result("remove1"))
        await exchange(
            orchard, "<iq type='set' id='remove2'><query xmlns='jabber:iq:"
            "privacy'><list name='private'/></query></iq>", "remove2",
            error("remove2", "item-not-found"))
        await exchange(
            orchard, "<iq type='set' id='remove3'><query xmlns='jabber:iq:"
            "privacy'><list name='public'/><list name='special'/></query>"
            "</iq>", "remove3", error("remove3", "bad-request", "modify",
                                      text="exactly one element"))
        await logout(orchard, home)
    run(loop, scenario())


# -- sections 2.9 to 2.15: what lists block -----------------------------------------


async def applyExample(orchard, stanzaID, listXML):
    """
    Create the example's list (checking the result) and make it the
    session's active list ("creating and applying the foregoing list").
    """
    await exchange(orchard, "<iq from='romeo@example.net/orchard' "
                   "type='set' id='%s'><query xmlns='jabber:iq:privacy'>%s"
                   "</query></iq>" % (stanzaID, listXML), stanzaID,
                   result(stanzaID))
    name = expected(listXML).get("name")
    await orchard.privacy("<active name='%s'/>" % (name,))
    await orchard.settle()


def examples(kind, orders, values=("tybalt@example.com", "Enemies", None)):
    """
    The four lists of one of sections 2.9 to 2.13: by JID, by group, by
    subscription, globally; C{kind} is the child element (C{None}: all).
    """
    child = "" if kind is None else "<%s/>" % (kind,)
    jid, group, subscription = values
    subscription = subscription or "none"
    items = [
        "<item type='jid' value='%s' action='deny' order='%d'>%s</item>",
        "<item type='group' value='%s' action='deny' order='%d'>%s</item>",
        "<item type='subscription' value='%s' action='deny' order='%d'>"
        "%s</item>"]
    made = [template % (value, order, child) for template, value, order
            in zip(items, (jid, group, subscription), orders)]
    made.append("<item action='deny' order='%d'>%s</item>"
                % (orders[3], child))
    return [item.replace("></item>", "/>") if not child else item
            for item in made]


def listOf(name, item):
    return "<list name='%s'>%s</list>" % (name, item)


async def messageBlocked(sender, recipient):
    """
    C{sender} writes to C{recipient}: whether it was refused with the
    exact error of section 2.14 (and not delivered).
    """
    sender.send_raw("<message to='%s' id='m1'><body>hello</body></message>"
                    % (recipient.full,))
    replies = await sender.settle()
    delivered = [e for e in await recipient.settle()
                 if localName(e.tag) == "message"]
    if replies:
        [reply] = replies
        assertStanza(reply, "<message to='%s' from='%s' id='m1' "
                     "type='error'><error type='cancel'><service-unavailable "
                     "xmlns='%s'/></error></message>"
                     % (sender.full, recipient.full, NS_STANZAS))
        assert delivered == []
        return True
    assert len(delivered) == 1
    return False


def test_blockingMessages(server, loop):
    """
    Examples 29 to 32: messages blocked by JID, roster group,
    subscription (Tybalt, in group Enemies with subscription none) and
    globally; Benvolio (subscription to) gets through the first three.
    """
    async def scenario():
        orchard = await fresh(server)
        tybalt = await login(server, TYBALT + "/pda")
        benvolio = await login(server, "benvolio@example.org/b")
        names = ("message-jid-example", "message-group-example",
                 "message-sub-example", "message-global-example")
        for n, (name, item) in enumerate(zip(names, examples(
                "message", (3, 4, 5, 6)))):
            await applyExample(orchard, "msg%d" % (n + 1,), listOf(name, item))
            assert await messageBlocked(tybalt, orchard)
            assert await messageBlocked(benvolio, orchard) == (n == 3)
        await logout(orchard, tybalt, benvolio)
    run(loop, scenario())


def test_blockingInboundPresence(server, loop):
    """
    Examples 33 to 36: presence notifications blocked by JID, group,
    subscription "to" (Benvolio) and globally; nothing tells the sender.
    """
    async def scenario():
        orchard = await fresh(server)
        tybalt = await login(server, TYBALT + "/pda")
        benvolio = await login(server, "benvolio@example.org/b")
        names = ("presin-jid-example", "presin-group-example",
                 "presin-sub-example", "presin-global-example")
        items = examples("presence-in", (7, 8, 9, 11),
                         ("tybalt@example.com", "Enemies", "to"))
        blocked = {0: {TYBALT}, 1: {TYBALT},
                   2: {"benvolio@example.org"},
                   3: {TYBALT, "benvolio@example.org"}}
        for n, (name, item) in enumerate(zip(names, items)):
            await applyExample(orchard, "presin%d" % (n + 1,),
                               listOf(name, item))
            for sender in (tybalt, benvolio):
                sender.send_raw("<presence to='%s'><status>%d</status>"
                                "</presence>" % (orchard.full, n))
                assert await sender.settle() == []
                got = [e for e in await orchard.settle()
                       if localName(e.tag) == "presence"]
                bare = sender.boundjid.bare
                if bare in blocked[n]:
                    assert got == [], (n, bare)
                else:
                    [notification] = got
                    assertStanza(notification, "<presence to='%s' from='%s'>"
                                 "<status>%d</status></presence>"
                                 % (orchard.full, sender.full, n))
        await logout(orchard, tybalt, benvolio)
    run(loop, scenario())


def test_blockingOutboundPresence(server, loop):
    """
    Examples 37 to 40: presence to Tybalt blocked by JID and group (his
    directed presence is refused with not-acceptable, section 2.14); to
    subscribers with subscription "from" (Mercutio) and globally, which
    first sends Mercutio unavailable presence (the note of section 2.11)
    and then skips him in broadcasts.
    """
    async def scenario():
        orchard = await fresh(server)
        tybalt = await login(server, TYBALT + "/pda")
        mercutio = await login(server, "mercutio@example.org/m")
        await settled(orchard, mercutio)
        names = ("presout-jid-example", "presout-group-example",
                 "presout-sub-example", "presout-global-example")
        items = examples("presence-out", (13, 15, 17, 23),
                         ("tybalt@example.com", "Enemies", "from"))
        for n, (name, item) in enumerate(zip(names[:2], items[:2])):
            await applyExample(orchard, "presout%d" % (n + 1,),
                               listOf(name, item))
            orchard.send_raw("<presence to='tybalt@example.com/pda' "
                             "id='d%d'/>" % (n,))
            [refused] = await orchard.settle()
            assertStanza(refused, "<presence to='romeo@example.net/orchard' "
                         "from='tybalt@example.com/pda' id='d%d' "
                         "type='error'><error type='cancel'><not-acceptable "
                         "xmlns='%s'/></error></presence>" % (n, NS_STANZAS))
            assert await tybalt.settle() == []
        for n, (name, item) in enumerate(zip(names[2:], items[2:]), 3):
            await exchange(orchard, "<iq from='romeo@example.net/orchard' "
                           "type='set' id='presout%d'><query xmlns='jabber:"
                           "iq:privacy'>%s</query></iq>"
                           % (n, listOf(name, item)), "presout%d" % (n,),
                           result("presout%d" % (n,)))
            await orchard.privacy("<active name='%s'/>" % (name,))
            [gone] = await mercutio.settle()
            assertStanza(gone, "<presence type='unavailable' to='mercutio@"
                         "example.org' from='romeo@example.net/orchard'/>")
            orchard.send_raw("<presence><show>away</show></presence>")
            assert await mercutio.settle() == []
            orchard.send_raw("<presence/>")
            await orchard.privacy("<active/>")
            [back] = await mercutio.settle()
            assertStanza(back, "<presence to='mercutio@example.org' "
                         "from='romeo@example.net/orchard'/>")
        await logout(orchard, tybalt, mercutio)
    run(loop, scenario())


def test_blockingIQ(server, loop):
    """
    Examples 41 to 44: IQ stanzas blocked by JID, group, subscription
    and globally, answered with service-unavailable from the user.
    """
    async def scenario():
        orchard = await fresh(server)
        tybalt = await login(server, TYBALT + "/pda")
        benvolio = await login(server, "benvolio@example.org/b")
        names = ("iq-jid-example", "iq-group-example", "iq-sub-example",
                 "iq-global-example")
        for n, (name, item) in enumerate(zip(names, examples(
                "iq", (29, 31, 17, 1)))):
            await applyExample(orchard, "iq%d" % (n + 1,), listOf(name, item))
            for sender in (tybalt, benvolio):
                sender.send_raw("<iq type='get' to='romeo@example.net/"
                                "orchard' id='v%d'><query xmlns='jabber:iq:"
                                "version'/></iq>" % (n,))
                replies = await sender.settle()
                got = [e for e in await orchard.settle()
                       if localName(e.tag) == "iq"]
                if sender is tybalt or n == 3:
                    [reply] = replies
                    assertStanza(reply, "<iq to='%s' from='romeo@example.net/"
                                 "orchard' id='v%d' type='error'><error "
                                 "type='cancel'><service-unavailable xmlns="
                                 "'%s'/></error></iq>"
                                 % (sender.full, n, NS_STANZAS))
                    assert got == []
                else:
                    assert [e.get("id") for e in got] == ["v%d" % (n,)]
                    if not [e for e in replies if e.get("id") == "v%d" % n]:
                        await sender.until(
                            lambda e: e.get("id") == "v%d" % (n,))
        await logout(orchard, tybalt, benvolio)
    run(loop, scenario())


def test_blockingAllCommunication(server, loop):
    """
    Examples 45 to 48: every stanza from and to the entity is blocked,
    subscription requests included (no roster push, nothing delivered).
    """
    async def scenario():
        orchard = await fresh(server)
        tybalt = await login(server, TYBALT + "/pda")
        names = ("all-jid-example", "all-group-example", "all-sub-example",
                 "all-global-example")
        for n, (name, item) in enumerate(zip(names, examples(
                None, (23, 13, 11, 7)))):
            await applyExample(orchard, "all%d" % (n + 1,), listOf(name, item))
            assert await messageBlocked(tybalt, orchard)
            tybalt.send_raw("<presence to='romeo@example.net' "
                            "type='subscribe'/>")
            assert await tybalt.settle() == []
            assert await orchard.settle() == []
            orchard.send_raw("<message to='tybalt@example.com/pda' id='o%d'>"
                             "<body>out</body></message>" % (n,))
            [refused] = await orchard.settle()
            assertStanza(refused, "<message to='romeo@example.net/orchard' "
                         "from='tybalt@example.com/pda' id='o%d' "
                         "type='error'><body>out</body><error type='cancel'>"
                         "<not-acceptable xmlns='%s'/></error></message>"
                         % (n, NS_STANZAS))
            assert await tybalt.settle() == []
        await logout(orchard, tybalt)
    run(loop, scenario())


def test_blockedEntityAttemptsToCommunicate(server, loop):
    """
    Examples 49 to 51: an IQ get to the user's bare JID from a blocked
    entity is answered with service-unavailable from the bare JID; its
    presence gets no answer; the user's own message to it is refused
    with not-acceptable.
    """
    async def scenario():
        orchard = await fresh(server)
        tybalt = await login(server, TYBALT + "/pda")
        await applyExample(orchard, "block1", listOf(
            "public", "<item type='jid' value='tybalt@example.com' "
            "action='deny' order='1'/><item action='allow' order='2'/>"))
        tybalt.send_raw("<iq type='get' to='romeo@example.net' "
                        "from='tybalt@example.com/pda' id='probing1'>"
                        "<query xmlns='jabber:iq:version'/></iq>")
        [reply] = await tybalt.settle()
        assertStanza(reply, "<iq type='error' from='romeo@example.net' "
                     "to='tybalt@example.com/pda' id='probing1'><error "
                     "type='cancel'><service-unavailable xmlns='%s'/>"
                     "</error></iq>" % (NS_STANZAS,))
        tybalt.send_raw("<presence to='romeo@example.net' type='probe'/>")
        tybalt.send_raw("<presence to='romeo@example.net/orchard'/>")
        assert await tybalt.settle() == []
        orchard.send_raw("<message to='tybalt@example.com'><body>Can you "
                         "hear me now?</body></message>")
        [refused] = await orchard.settle()
        assertStanza(refused, "<message type='error' from='tybalt@example."
                     "com' to='romeo@example.net/orchard'><body>Can you hear "
                     "me now?</body><error type='cancel'><not-acceptable "
                     "xmlns='%s'/></error></message>" % (NS_STANZAS,))
        await logout(orchard, tybalt)
    run(loop, scenario())


def test_higherLevelHeuristics(server, loop):
    """
    Section 2.15: "block communications with any user not in my roster"
    as one item: Paris (not in the roster) is refused, Benvolio is not.
    """
    async def scenario():
        orchard = await fresh(server)
        paris = await login(server, "paris@example.org/p")
        benvolio = await login(server, "benvolio@example.org/b")
        await exchange(
            orchard, "<iq type='set' id='heuristic1'><query xmlns='jabber:"
            "iq:privacy'><list name='heuristic-example'><item "
            "type='subscription' value='none' action='deny' order='437'/>"
            "</list></query></iq>", "heuristic1", result("heuristic1"))
        await orchard.privacy("<default name='heuristic-example'/>")
        assert await messageBlocked(paris, orchard)
        assert not await messageBlocked(benvolio, orchard)
        await logout(orchard, paris, benvolio)
    run(loop, scenario())


# -- XEP-0191 section 3 ---------------------------------------------------------------


JULIET = "juliet@capulet.com"


def test_userDiscoversSupport(server, loop):
    """
    Examples 1 and 2: the server's service discovery lists
    urn:xmpp:blocking (and jabber:iq:privacy).
    """
    async def scenario():
        chamber = await login(server, JULIET + "/chamber")
        reply = await chamber.request(
            "<iq from='juliet@capulet.com/chamber' to='capulet.com' "
            "type='get' id='disco1'><query xmlns='http://jabber.org/protocol/"
            "disco#info'/></iq>", "disco1")
        assert (reply.get("type"), reply.get("from"), reply.get("to")) == (
            "result", "capulet.com", "juliet@capulet.com/chamber")
        features = [f.get("var") for f in reply.iter(
            "{http://jabber.org/protocol/disco#info}feature")]
        assert "urn:xmpp:blocking" in features
        assert "jabber:iq:privacy" in features
        await logout(chamber)
    run(loop, scenario())


def test_blockingCommand(server, loop):
    """
    Examples 3 to 15: the blocklist (empty, then with items), blocking
    with pushes to both resources, the unavailable presence a subscribed
    contact gets, refusals both ways (example 9), unblocking with the
    current presence sent again, unblocking all.
    """
    async def scenario():
        chamber = await login(server, JULIET + "/chamber")
        balcony = await login(server, JULIET + "/balcony")
        romeo = await login(server, "romeo@montague.net/garden")
        for party in (chamber, balcony):
            await exchange(
                party, "<iq type='get' id='blocklist1'><blocklist xmlns="
                "'urn:xmpp:blocking'/></iq>", "blocklist1",
                "<iq type='result' id='blocklist1' to='%s'><blocklist "
                "xmlns='urn:xmpp:blocking'/></iq>" % (party.full,))
        await settled(chamber, balcony, romeo)

        await exchange(
            chamber, "<iq from='juliet@capulet.com/chamber' type='set' "
            "id='block1'><block xmlns='urn:xmpp:blocking'><item "
            "jid='romeo@montague.net'/></block></iq>", "block1",
            result("block1", "juliet@capulet.com/chamber"))
        for party in (chamber, balcony):
            [push] = await party.settle()
            assertStanza(push, "<iq to='%s' type='set' id='push1'><block "
                         "xmlns='urn:xmpp:blocking'><item jid='romeo@"
                         "montague.net'/></block></iq>" % (party.full,),
                         anyID=True)
        gone = await romeo.settle()
        assert sorted((e.get("type"), e.get("from"), e.get("to"))
                      for e in gone) == [
            ("unavailable", "juliet@capulet.com/balcony",
             "romeo@montague.net"),
            ("unavailable", "juliet@capulet.com/chamber",
             "romeo@montague.net")]

        await chamber.plugin["xep_0191"].block("iago@shakespeare.lit")
        await settled(chamber, balcony)
        await exchange(
            balcony, "<iq type='get' id='blocklist1'><blocklist xmlns="
            "'urn:xmpp:blocking'/></iq>", "blocklist1",
            "<iq type='result' id='blocklist1' to='juliet@capulet.com/"
            "balcony'><blocklist xmlns='urn:xmpp:blocking'><item "
            "jid='romeo@montague.net'/><item jid='iago@shakespeare.lit'/>"
            "</blocklist></iq>")

        romeo.send_raw("<message to='juliet@capulet.com' id='r1'><body>"
                       "Juliet?</body></message>")
        [bounce] = await romeo.settle()
        assert condition(bounce) == ["service-unavailable"]
        romeo.send_raw("<presence to='juliet@capulet.com' type='probe'/>")
        assert await romeo.settle() == []
        chamber.send_raw("<message type='chat' to='romeo@montague.net'>"
                         "<body>Can you hear me now?</body></message>")
        [refused] = await chamber.settle()
        assertStanza(refused, "<message type='error' from='romeo@montague."
                     "net' to='juliet@capulet.com/chamber'><body>Can you hear "
                     "me now?</body><error type='cancel'><not-acceptable "
                     "xmlns='%s'/><blocked xmlns='urn:xmpp:blocking:errors'/>"
                     "</error></message>" % (NS_STANZAS,))
        assert [e for e in await romeo.settle()] == []

        await exchange(
            chamber, "<iq type='set' id='unblock1'><unblock xmlns="
            "'urn:xmpp:blocking'><item jid='romeo@montague.net'/></unblock>"
            "</iq>", "unblock1", result("unblock1",
                                        "juliet@capulet.com/chamber"))
        for party in (chamber, balcony):
            [push] = await party.settle()
            assertStanza(push, "<iq to='%s' type='set' id='push3'><unblock "
                         "xmlns='urn:xmpp:blocking'><item jid='romeo@"
                         "montague.net'/></unblock></iq>" % (party.full,),
                         anyID=True)
        back = await romeo.settle()
        assert sorted((e.get("type"), e.get("from")) for e in back) == [
            (None, "juliet@capulet.com/balcony"),
            (None, "juliet@capulet.com/chamber")]
        romeo.send_raw("<message to='juliet@capulet.com/chamber'><body>"
                       "again</body></message>")
        assert await romeo.settle() == []
        [message] = await chamber.settle()
        assert message.findtext("{jabber:client}body") == "again"

        await exchange(
            chamber, "<iq type='set' id='unblock2'><unblock xmlns="
            "'urn:xmpp:blocking'/></iq>", "unblock2",
            result("unblock2", "juliet@capulet.com/chamber"))
        for party in (chamber, balcony):
            [push] = await party.settle()
            assertStanza(push, "<iq to='%s' type='set' id='push5'><unblock "
                         "xmlns='urn:xmpp:blocking'/></iq>" % (party.full,),
                         anyID=True)
        assert await chamber.plugin["xep_0191"].get_blocked_jids() == set()
        await logout(chamber, balcony, romeo)
    run(loop, scenario())


def test_oneTruthForBothProtocols(server, loop):
    """
    XEP-0191 section 5: a user blocks and unblocks from a blocking client
    and from a privacy list client, each sees the other's changes (with
    pushes), and nothing leaks past the block either way.
    """
    async def scenario():
        blocker = await login(server, "nurse@capulet.com/blocking")
        lister = await login(server, "nurse@capulet.com/lists")
        paris = await login(server, "paris@example.org/p")
        assert await blocker.plugin["xep_0191"].get_blocked_jids() == set()
        await lister.privacy("", type="get")
        await settled(blocker, lister, paris)

        await blocker.plugin["xep_0191"].block(["paris@example.org"])
        [push] = await lister.settle()
        assert push.find(".//{jabber:iq:privacy}list").get("name") == \
            "blocklist"
        names = await lister.plugin["xep_0016"].get_privacy_lists()
        assert names["privacy"]["default"]["name"] == "blocklist"
        listed = await lister.plugin["xep_0016"].get_list("blocklist")
        assert [(i["type"], i["value"], i["action"])
                for i in listed["privacy"]["list"]["items"]] == [
            ("jid", "paris@example.org", "deny")]
        assert await messageBlocked(paris, lister)

        await blocker.settle()
        await lister.plugin["xep_0016"].edit_list("blocklist", [
            {"type": "jid", "value": "tybalt@example.com", "action": "deny",
             "order": "1"}])
        pushes = await blocker.settle()
        assert [ET.tostring(p[0]).decode().replace('"', "'") for p in pushes] \
            == ["<ns0:block xmlns:ns0='urn:xmpp:blocking'><ns0:item "
                "jid='tybalt@example.com' /></ns0:block>",
                "<ns0:unblock xmlns:ns0='urn:xmpp:blocking'><ns0:item "
                "jid='paris@example.org' /></ns0:unblock>"]
        assert await blocker.plugin["xep_0191"].get_blocked_jids() == {
            "tybalt@example.com"}
        assert not await messageBlocked(paris, lister)
        paris.send_raw("<message to='nurse@capulet.com/blocking'><body>x"
                       "</body></message>")
        assert await paris.settle() == []

        await blocker.plugin["xep_0191"].unblock(["tybalt@example.com"])
        await lister.settle()
        listed = await lister.plugin["xep_0016"].get_list("blocklist")
        assert list(listed["privacy"]["list"]["items"]) == []
        await logout(blocker, lister, paris)
    run(loop, scenario())
