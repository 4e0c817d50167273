"""
Private XML Storage (XEP-0049): a user keeps arbitrary XML on the server,
one element per namespace and element name, for themself only.

The rules of XEP-0049 section 2.3:

  - Only the user themself may get or set their data; anyone else gets
    C{forbidden} (the condition the XEP prefers).
  - A query without a child element, or whose child has no namespace of
    its own, is C{not-acceptable}; a get names exactly one element, so
    a get with more is a C{bad-request}.
  - The reserved namespaces (C{jabber:*}, C{http://jabber.org/*} and
    C{vcard-temp}) are refused with C{not-acceptable}.
  - A get for an element never stored is answered with the empty element
    the client asked for.

An IQ set replaces each element it carries, all at once; it may store at
most C{max_size} bytes (serialised as UTF-8), else C{not-acceptable}.
Data is kept in an L{IPrivateStore} and deleted with its account.
"""

from sqlalchemy import select
from twisted.internet.defer import maybeDeferred, succeed
from twisted.words.xish import domish
from zope.interface import Attribute, Interface, implementer

from jabberd.bus import Address
from jabberd.errors import StanzaError
from jabberd.plugin import PluginFactory
from jabberd.storage.schema import XML_NAME_LENGTH, privateStorage
from jabberd.storage.users import NoSuchUser
from plugins._accountdata import (MemoryAccountRows, keyClause,
                                  requireAccountTxn, upsertTxn)
from plugins._storedxml import (elementToText, elementsFromText,
                                parseSizeLimit, textSize)

NS_PRIVATE = "jabber:iq:private"
RESERVED_PREFIXES = ("jabber:", "http://jabber.org/")
RESERVED_NAMESPACES = frozenset(("vcard-temp",))


class IPrivateStore(Interface):
    """
    The private XML of one domain's accounts: serialised elements by
    account, namespace and element name.
    """

    domain = Attribute("the domain this store is bound to")

    def getPrivate(username, namespace, name):
        """
        @return: a L{Deferred} firing with the element's text, or C{None}.
        """

    def setPrivate(username, items):
        """
        Store every C{(namespace, name, text)} of C{items} at once,
        replacing what was stored under the same namespace and name.

        @return: a L{Deferred} firing with C{None}, or failing with
            L{NoSuchUser}.
        """


@implementer(IPrivateStore)
class MemoryPrivateStore:
    """
    Private XML in a L{MemoryDatabase}.
    """

    def __init__(self, backend, domain):
        self.domain = domain
        self._table = MemoryAccountRows(backend, "private_storage", domain)

    def _set(self, username, items):
        self._table.require(username)
        elements = self._table.rows.setdefault(username, {})
        for namespace, name, text in items:
            elements[(namespace, name)] = text

    def getPrivate(self, username, namespace, name):
        if not self._table.exists(username):
            return succeed(None)
        elements = self._table.rows.get(username, {})
        return succeed(elements.get((namespace, name)))

    def setPrivate(self, username, items):
        return maybeDeferred(self._set, username, list(items))


def getPrivateTxn(connection, domain, username, namespace, name):
    """
    The stored text of one element, or C{None}.
    """
    table = privateStorage
    query = select(table.c.data).where(keyClause(
        table, domain=domain, username=username, namespace=namespace,
        name=name))
    return connection.execute(query).scalar()


def setPrivateTxn(connection, domain, username, items):
    """
    Store C{(namespace, name, text)} items of one account.

    @raise NoSuchUser: if there is no such account.
    """
    requireAccountTxn(connection, domain, username)
    for namespace, name, text in items:
        upsertTxn(connection, privateStorage,
                  dict(domain=domain, username=username,
                       namespace=namespace, name=name),
                  dict(data=text))


@implementer(IPrivateStore)
class SQLPrivateStore:
    """
    Private XML in the C{private_storage} table.
    """

    def __init__(self, database, domain):
        self.domain = domain
        self._database = database

    def getPrivate(self, username, namespace, name):
        return self._database.runInteraction(
            getPrivateTxn, self.domain, username, namespace, name)

    def setPrivate(self, username, items):
        return self._database.runInteraction(
            setPrivateTxn, self.domain, username, list(items))


def checkNamespace(namespace):
    """
    Refuse elements without a namespace of their own, or in a reserved
    one (XEP-0049 section 2.3).

    @raise StanzaError: C{not-acceptable}.
    """
    if not namespace or len(namespace) > XML_NAME_LENGTH:
        raise StanzaError("not-acceptable", text="a namespace is required")
    if (namespace.startswith(RESERVED_PREFIXES)
            or namespace in RESERVED_NAMESPACES):
        raise StanzaError("not-acceptable",
                          text="namespace %s is reserved" % (namespace,))


def storedElements(query):
    """
    The child elements of a C{jabber:iq:private} query, checked.

    @raise StanzaError: C{not-acceptable} if there is none or one is in
        no or a reserved namespace.
    """
    children = list(query.elements())
    if not children:
        raise StanzaError("not-acceptable", text="no element to store")
    for child in children:
        checkNamespace(child.uri)
        if len(child.name) > XML_NAME_LENGTH:
            raise StanzaError("not-acceptable", text="element name too long")
    return children


class PrivateStorage:
    """
    The XEP-0049 service of one host.
    """

    def __init__(self, context):
        self.context = context
        self.store = context.store(IPrivateStore)
        context.declareFeature(NS_PRIVATE)
        context.handleIQ("get", NS_PRIVATE, "query", self.privateRequested,
                         Address.BARE)
        context.handleIQ("set", NS_PRIVATE, "query", self.privateReceived,
                         Address.BARE)

    def privateRequested(self, stanza):
        """
        Retrieve one stored element.
        """
        user = _owner(stanza)
        children = storedElements(stanza.payload())
        if len(children) > 1:
            raise StanzaError("bad-request", text="ask for one element")
        wanted = children[0]
        d = self.store.getPrivate(user, wanted.uri, wanted.name)
        d.addCallback(_answer, wanted)
        return d

    def privateReceived(self, stanza):
        """
        Store the elements of the query.
        """
        user = _owner(stanza)
        items = [(child.uri, child.name, elementToText(child))
                 for child in storedElements(stanza.payload())]
        limit = self.context.config["max_size"]
        if sum(textSize(text) for _, _, text in items) > limit:
            raise StanzaError("not-acceptable",
                              text="more than %d bytes" % (limit,))
        d = self.store.setPrivate(user, items)
        d.addCallback(lambda _: None)
        d.addErrback(_noAccount)
        return d


def _owner(stanza):
    """
    The localpart of the requesting user, who must address themself.

    @raise StanzaError: C{forbidden} for another user's data.
    """
    if stanza.sender.userhost() != stanza.recipient.userhost():
        raise StanzaError("forbidden")
    return stanza.sender.user


def _answer(text, wanted):
    query = domish.Element((NS_PRIVATE, "query"))
    if text is None:
        query.addElement((wanted.uri, wanted.name))
    else:
        query.addChild(elementsFromText(text)[0])
    return query


def _noAccount(reason):
    reason.trap(NoSuchUser)
    raise StanzaError("item-not-found")


class PrivateStorageFactory(PluginFactory):
    name = "private"
    description = "XEP-0049 private XML storage"
    options = {"max_size": 65536}
    stores = {IPrivateStore: (MemoryPrivateStore, SQLPrivateStore)}
    instanceClass = PrivateStorage

    def parseConfig(self, options):
        return parseSizeLimit(self.options, options)


private = PrivateStorageFactory()
