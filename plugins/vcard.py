"""
vcard-temp (XEP-0054): one vCard per account, kept by the server.

A user stores their vCard with an IQ set to their own bare JID (or with
no C{to}, section 3.2) and anyone reads it with an IQ get to that bare
JID, which the server answers on the user's behalf (section 3.3).  The
vCard is published as sent: the server does not interpret it.

  - A user without a vCard who asks for their own gets an empty
    C{<vCard/>} (section 3.1 allows it in place of an error); anyone
    else gets C{service-unavailable}, as for an account that does not
    exist (section 3.3), so that the answer does not tell the two apart.
  - Setting another user's vCard is C{forbidden} (section 3.2).
  - A vCard larger than C{max_size} bytes (serialised as UTF-8) is
    refused with C{not-acceptable}: the request does not meet the
    server's criteria (RFC 6120 section 8.3.3.12).

vCards are kept in an L{IVCardStore} and deleted with their account.
"""

from sqlalchemy import select
from twisted.internet.defer import maybeDeferred, succeed
from twisted.words.xish import domish
from zope.interface import Attribute, Interface, implementer

from jabberd.bus import Address
from jabberd.errors import StanzaError
from jabberd.plugin import PluginFactory
from jabberd.storage.schema import vcards
from jabberd.storage.users import NoSuchUser
from plugins._accountdata import (MemoryAccountRows, keyClause,
                                  requireAccountTxn, upsertTxn)
from plugins._storedxml import (elementToText, elementsFromText,
                                parseSizeLimit, textSize)

NS_VCARD = "vcard-temp"


class IVCardStore(Interface):
    """
    The vCards of one domain's accounts, as serialised XML.
    """

    domain = Attribute("the domain this store is bound to")

    def getVCard(username):
        """
        @return: a L{Deferred} firing with the vCard text, or C{None}.
        """

    def setVCard(username, text):
        """
        Replace the vCard of C{username}.

        @return: a L{Deferred} firing with C{None}, or failing with
            L{NoSuchUser}.
        """


@implementer(IVCardStore)
class MemoryVCardStore:
    """
    vCards in a L{MemoryDatabase}.
    """

    def __init__(self, backend, domain):
        self.domain = domain
        self._table = MemoryAccountRows(backend, "vcards", domain)

    def _set(self, username, text):
        self._table.require(username)
        self._table.rows[username] = text

    def getVCard(self, username):
        if not self._table.exists(username):
            return succeed(None)
        return succeed(self._table.rows.get(username))

    def setVCard(self, username, text):
        return maybeDeferred(self._set, username, text)


def getVCardTxn(connection, domain, username):
    """
    The vCard text of C{username}, or C{None}.
    """
    query = select(vcards.c.vcard).where(
        keyClause(vcards, domain=domain, username=username))
    return connection.execute(query).scalar()


def setVCardTxn(connection, domain, username, text):
    """
    Replace the vCard of C{username}.

    @raise NoSuchUser: if there is no such account.
    """
    requireAccountTxn(connection, domain, username)
    upsertTxn(connection, vcards, dict(domain=domain, username=username),
              dict(vcard=text))


@implementer(IVCardStore)
class SQLVCardStore:
    """
    vCards in the C{vcards} table.
    """

    def __init__(self, database, domain):
        self.domain = domain
        self._database = database

    def getVCard(self, username):
        return self._database.runInteraction(getVCardTxn, self.domain,
                                             username)

    def setVCard(self, username, text):
        return self._database.runInteraction(setVCardTxn, self.domain,
                                             username, text)


def isOwn(stanza):
    """
    Whether an IQ to a bare JID comes from that account itself.
    """
    return stanza.sender.userhost() == stanza.recipient.userhost()


class VCards:
    """
    The vcard-temp service of one host.
    """

    def __init__(self, context):
        self.context = context
        self.store = context.store(IVCardStore)
        context.declareFeature(NS_VCARD)
        context.declareAccountFeature(NS_VCARD)
        context.handleIQ("get", NS_VCARD, "vCard", self.vCardRequested,
                         Address.BARE)
        context.handleIQ("set", NS_VCARD, "vCard", self.vCardReceived,
                         Address.BARE)

    def vCardRequested(self, stanza):
        """
        Sections 3.1 and 3.3: the addressed account's vCard.
        """
        own = isOwn(stanza)
        d = self.store.getVCard(stanza.recipient.user)
        d.addCallback(self._found, own)
        return d

    def _found(self, text, own):
        if text is not None:
            return elementsFromText(text)[0]
        if own:
            return domish.Element((NS_VCARD, "vCard"))
        raise StanzaError("service-unavailable")

    def vCardReceived(self, stanza):
        """
        Section 3.2: the owner replaces their vCard.
        """
        if not isOwn(stanza):
            raise StanzaError("forbidden")
        text = elementToText(stanza.payload())
        limit = self.context.config["max_size"]
        if textSize(text) > limit:
            raise StanzaError("not-acceptable",
                              text="vCard larger than %d bytes" % (limit,))
        d = self.store.setVCard(stanza.sender.user, text)
        d.addCallback(lambda _: None)
        d.addErrback(_noAccount)
        return d


def _noAccount(reason):
    """
    The account was deleted meanwhile.
    """
    reason.trap(NoSuchUser)
    raise StanzaError("item-not-found")


class VCardsFactory(PluginFactory):
    name = "vcard"
    description = "XEP-0054 vcard-temp: one vCard per account"
    options = {"max_size": 65536}
    stores = {IVCardStore: (MemoryVCardStore, SQLVCardStore)}
    instanceClass = VCards

    def parseConfig(self, options):
        return parseSizeLimit(self.options, options)


vcard = VCardsFactory()
