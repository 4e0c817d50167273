"""
An echo service for jabberd: a message sent to C{<domain>/echo} comes
back to its sender.

The worked example of jabberd's plugin guide (C{docs/plugins.md} in the
jabberd repository).  It uses each part of the plugin API once:

  - options with defaults, types and a check of their own (L{EchoFactory});
  - a stanza hook on the host's bus (L{Echo.messageReceived});
  - an IQ handler (L{Echo.countRequested}) and a declared feature;
  - a lifecycle signal (L{Echo.sessionBound});
  - a store with a memory and an SQL implementation (L{IEchoCounter}).

The service lives at the domain's own address with a resource
(C{example.org/echo}): addresses of the form C{user@domain} belong to
accounts and the message service, while stanzas to the domain itself are
the server's to answer, so nothing else on the bus claims them.
"""

import weakref

from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy import insert, update
from twisted.internet import defer
from twisted.words.xish import domish
from zope.interface import Attribute, Interface, implementer

from jabberd.bus import SESSION_BOUND, Address, Kind, Phase
from jabberd.errors import StanzaError
from jabberd.plugin import PluginConfigError, PluginFactory
from jabberd.stanza import makeElement

#: The namespace of the echo count query: C{<count xmlns='urn:example:echo'/>}.
NS_ECHO = "urn:example:echo"


# -- the store ----------------------------------------------------------------


class IEchoCounter(Interface):
    """
    How many messages each sender had echoed, on one domain.
    """

    domain = Attribute("The domain this store is bound to.")

    def increment(sender):
        """
        Count one more echo for C{sender} (a bare JID, as text).

        @return: a L{Deferred} firing with the new count.
        """

    def count(sender):
        """
        @return: a L{Deferred} firing with C{sender}'s count (0 if none).
        """


@implementer(IEchoCounter)
class MemoryEchoCounter:
    """
    Counts in a L{jabberd.storage.MemoryDatabase} table; results are
    already fired.
    """

    def __init__(self, backend, domain):
        self.domain = domain
        self._counts = backend.table("echo_counts", domain)

    def increment(self, sender):
        self._counts[sender] = self._counts.get(sender, 0) + 1
        return defer.succeed(self._counts[sender])

    def count(self, sender):
        return defer.succeed(self._counts.get(sender, 0))


#: This plugin's own tables: not in jabberd's schema or migrations.
metadata = MetaData()

echoCounts = Table(
    "echo_counts",
    metadata,
    Column("domain", String(1023), primary_key=True),
    Column("sender", String(3071), primary_key=True),
    Column("count", Integer, nullable=False),
)

_created = weakref.WeakSet()
_creating = weakref.WeakKeyDictionary()


async def ensureTables(database):
    """
    Create this plugin's tables on C{database} if they do not exist, once
    per process however many hosts share the database.
    """
    if database in _created:
        return
    lock = _creating.setdefault(database, defer.DeferredLock())
    await lock.acquire()
    try:
        if database not in _created:
            await database.runInteraction(metadata.create_all)
            _created.add(database)
    finally:
        lock.release()


def _incrementTxn(connection, domain, sender):
    where = (echoCounts.c.domain == domain) & (echoCounts.c.sender == sender)
    changed = connection.execute(
        update(echoCounts).where(where).values(count=echoCounts.c.count + 1))
    if changed.rowcount == 0:
        connection.execute(insert(echoCounts).values(
            domain=domain, sender=sender, count=1))
    return connection.execute(select(echoCounts.c.count).where(where)
                              ).scalar_one()


def _countTxn(connection, domain, sender):
    where = (echoCounts.c.domain == domain) & (echoCounts.c.sender == sender)
    return connection.execute(select(echoCounts.c.count).where(where)
                              ).scalar() or 0


@implementer(IEchoCounter)
class SQLEchoCounter:
    """
    Counts in the C{echo_counts} table of a L{jabberd.storage.Database};
    SQL runs on the database's thread pool, never on the reactor thread.
    """

    def __init__(self, database, domain):
        self.database = database
        self.domain = domain

    def increment(self, sender):
        return defer.ensureDeferred(self._run(_incrementTxn, sender))

    def count(self, sender):
        return defer.ensureDeferred(self._run(_countTxn, sender))

    async def _run(self, transaction, *args):
        await ensureTables(self.database)
        return await self.database.runInteraction(transaction, self.domain,
                                                  *args)


# -- the service --------------------------------------------------------------


class Echo:
    """
    The echo service of one host.
    """

    def __init__(self, context):
        self.context = context
        self.config = context.config
        self.counter = context.store(IEchoCounter)
        self.address = "%s/%s" % (context.domain, self.config["resource"])
        context.hookStanza(Kind.MESSAGE, Address.HOST, Phase.INBOUND,
                           self.messageReceived)
        context.handleIQ("get", NS_ECHO, "count", self.countRequested,
                         Address.HOST)
        context.declareFeature(NS_ECHO)
        if self.config["greeting"]:
            context.onSignal(SESSION_BOUND, self.sessionBound)

    def messageReceived(self, stanza):
        """
        A message to the domain: if it is addressed to our resource,
        answer it and claim it; anything else is passed on (C{None}).
        The echo goes out once the count includes it, so a count asked
        for after an echo arrived always includes that echo.
        """
        if stanza.recipient.resource != self.config["resource"]:
            return None
        body = stanza.element.body
        if stanza.type == "error" or body is None:
            return True
        text = str(body)
        if len(text) > self.config["max_length"]:
            self.context.send(stanza.errorReply(StanzaError(
                "not-acceptable", text="at most %d characters"
                % (self.config["max_length"],))))
            return True
        reply = self._echoOf(stanza, text)
        d = self.counter.increment(stanza.sender.userhost())
        d.addErrback(lambda f: self.context.log.failure("counting", f))
        d.addCallback(lambda _: self.context.send(reply))
        return True

    def _echoOf(self, stanza, text):
        reply = makeElement("message", to=stanza.sender.full(),
                            type=stanza.element.getAttribute("type"),
                            id=stanza.id)
        reply["from"] = self.address
        reply.addElement("body", content=self.config["prefix"] + text)
        thread = stanza.element.thread
        if thread is not None:
            reply.addElement("thread", content=str(thread))
        return reply

    def countRequested(self, stanza):
        """
        C{<count xmlns='urn:example:echo'/>}: how many of the sender's
        messages were echoed.
        """
        d = self.counter.count(stanza.sender.userhost())
        d.addCallback(self._countElement)
        return d

    def _countElement(self, count):
        element = domish.Element((NS_ECHO, "count"))
        element.addContent(str(count))
        return element

    def sessionBound(self, session):
        """
        Tell each new session where the echo service is.
        """
        greeting = makeElement("message", to=session.jid.full(),
                               type="headline")
        greeting["from"] = self.address
        greeting.addElement("body", content=self.config["greeting"])
        self.context.send(greeting)


class EchoFactory(PluginFactory):
    """
    Makes the echo service of each host that enables C{echo}.
    """

    name = "echo"
    description = "an echo service at <domain>/echo (example plugin)"
    options = {
        "resource": "echo",
        "prefix": "",
        "max_length": 1000,
        "greeting": "",
    }
    stores = {IEchoCounter: (MemoryEchoCounter, SQLEchoCounter)}
    instanceClass = Echo

    def parseConfig(self, options):
        config = PluginFactory.parseConfig(self, options)
        if not config["resource"]:
            raise PluginConfigError("resource", "must not be empty")
        if config["max_length"] < 1:
            raise PluginConfigError("max_length", "must be at least 1")
        return config


echo = EchoFactory()
