"""
Service Discovery (XEP-0030) and the server's entity capabilities
(XEP-0115).

Nothing here is listed by hand.  The domain's identities, features and
extended information forms (XEP-0128) are whatever the plugins enabled on
it declared through their host context (C{declareIdentity},
C{declareFeature}, C{declareInfoForm}); its items are the subdomains the
server routes (hosted domains and components).  For an account, the
server answers on the user's behalf (XEP-0030 sections 3.1 and 4.1) with
the features plugins declared with C{declareAccountFeature}, and only to
those entitled to the user's presence (section 8).

The domain's capabilities are offered as a stream feature (XEP-0115
section 6.3) whose verification string is computed as section 5.1
describes, and a disco#info request for C{node#ver} is answered with the
information it was computed from (section 6.2).
"""

import base64
import hashlib
from typing import NamedTuple

from twisted.words.xish import domish

from jabberd.bus import Address
from jabberd.context import POSTAUTH, PREAUTH
from jabberd.errors import StanzaError
from jabberd.plugin import PluginFactory
from jabberd.xml import NS_XML
from plugins._access import mayViewPresence

NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
NS_CAPS = "http://jabber.org/protocol/caps"
NS_DATA = "jabber:x:data"

#: The software's node in its capabilities (XEP-0115 section 4): a URI
#: that names jabberd.
CAPS_NODE = "https://pypi.org/project/jabberd/"


class Identity(NamedTuple):
    """
    A service discovery identity (XEP-0030 section 3.1).
    """

    category: str
    type: str
    name: str = None
    lang: str = None

    def toElement(self):
        element = domish.Element((NS_DISCO_INFO, "identity"))
        element["category"] = self.category
        element["type"] = self.type
        if self.lang:
            element[(NS_XML, "lang")] = self.lang
        if self.name:
            element["name"] = self.name
        return element


def verificationString(identities, features, forms=()):
    """
    The XEP-0115 section 5.1 verification string (SHA-1) of an entity's
    service discovery information.

    @param identities: L{Identity} values (or tuples of the same shape).
    @param features: feature namespaces.
    @param forms: XEP-0128 forms (C{jabber:x:data} elements); those
        without a hidden C{FORM_TYPE} are left out (section 5.4).
    @rtype: C{str}
    """
    pieces = sorted(_identityString(Identity(*i)) for i in set(identities))
    pieces += sorted(set(features))
    for formType, fields in sorted(_formsForHashing(forms)):
        pieces.append(formType)
        for var, values in sorted(fields):
            pieces.append(var)
            pieces.extend(sorted(values))
    text = "".join(piece + "<" for piece in pieces)
    digest = hashlib.sha1(text.encode("utf-8")).digest()
    return base64.b64encode(digest).decode("ascii")


def _identityString(identity):
    return "/".join((identity.category, identity.type or "",
                     identity.lang or "", identity.name or ""))


def _formsForHashing(forms):
    """
    C{(FORM_TYPE, [(var, [values])])} for each form with a hidden
    C{FORM_TYPE}, the C{FORM_TYPE} field itself left out.
    """
    for form in forms:
        fields = list(form.elements(NS_DATA, "field"))
        formType = [f for f in fields if f.getAttribute("var") == "FORM_TYPE"]
        if (not formType or formType[0].getAttribute("type") != "hidden"
                or not _values(formType[0])):
            continue
        yield _values(formType[0])[0], [
            (f.getAttribute("var", ""), _values(f))
            for f in fields if f.getAttribute("var") != "FORM_TYPE"]


def _values(field):
    return [str(value) for value in field.elements(NS_DATA, "value")]


def isSubdomain(domain, parent):
    """
    Whether C{domain} is a proper subdomain of C{parent}.
    """
    return domain.endswith("." + parent)


class Discovery:
    """
    The service discovery service of one host.
    """

    def __init__(self, context):
        self.context = context
        context.declareIdentity("server", "im", context.config["name"] or None)
        for namespace in (NS_DISCO_INFO, NS_DISCO_ITEMS):
            context.declareFeature(namespace)
            context.declareAccountFeature(namespace)
        context.handleIQ("get", NS_DISCO_INFO, "query", self.infoRequested,
                         Address.HOST)
        context.handleIQ("get", NS_DISCO_ITEMS, "query", self.itemsRequested,
                         Address.HOST)
        context.handleIQ("get", NS_DISCO_INFO, "query",
                         self.accountInfoRequested, Address.BARE)
        context.handleIQ("get", NS_DISCO_ITEMS, "query",
                         self.accountItemsRequested, Address.BARE)
        if context.config["caps"]:
            for stage in (PREAUTH, POSTAUTH):
                context.addStreamFeature(stage, self.capsFeature)

    # -- the domain ----------------------------------------------------------

    def hostInformation(self):
        """
        The domain's identities, features and forms, as declared now.
        """
        context = self.context
        identities = sorted({Identity(*i)
                             for i in context.declaredIdentities()})
        return (identities, sorted(context.declaredFeatures()),
                context.declaredInfoForms())

    def verification(self):
        """
        The domain's current XEP-0115 verification string.
        """
        return verificationString(*self.hostInformation())

    def capsNode(self):
        """
        The C{node#ver} a capabilities request names (XEP-0115 section 6.2).
        """
        return "%s#%s" % (CAPS_NODE, self.verification())

    def capsFeature(self, stream):
        """
        The C{<c/>} stream feature (XEP-0115 section 6.3).
        """
        caps = domish.Element((NS_CAPS, "c"))
        caps["hash"] = "sha-1"
        caps["node"] = CAPS_NODE
        caps["ver"] = self.verification()
        return caps

    def infoRequested(self, stanza):
        """
        XEP-0030 section 3.1: the domain's identities and features; a
        node other than our capabilities' C{node#ver} is unknown
        (section 3.2).
        """
        node = stanza.payload().getAttribute("node")
        if node is not None and node != self.capsNode():
            raise StanzaError("item-not-found")
        identities, features, forms = self.hostInformation()
        query = _query(NS_DISCO_INFO, node)
        for identity in identities:
            query.addChild(identity.toElement())
        for feature in features:
            query.addElement("feature")["var"] = feature
        for form in forms:
            query.addChild(form)
        return query

    def itemsRequested(self, stanza):
        """
        XEP-0030 section 4.1: the subdomains the server routes (hosted
        domains and components), which the domain vouches for.
        """
        node = stanza.payload().getAttribute("node")
        if node is not None:
            raise StanzaError("item-not-found")
        query = _query(NS_DISCO_ITEMS, None)
        for domain in sorted(self.context.routedDomains()):
            if isSubdomain(domain, self.context.domain):
                query.addElement("item")["jid"] = domain
        return query

    # -- accounts -------------------------------------------------------------

    def accountInfoRequested(self, stanza):
        """
        XEP-0030 sections 3.1 and 8: answer for an account with identity
        C{account/registered}, to requesters entitled to its presence; to
        anyone else, and for an account that does not exist,
        C{service-unavailable}.
        """
        node = stanza.payload().getAttribute("node")
        d = self._visibleAccount(stanza)
        d.addCallback(self._accountInfo, node)
        return d

    def _accountInfo(self, visible, node):
        if not visible:
            raise StanzaError("service-unavailable")
        if node is not None:
            raise StanzaError("item-not-found")
        query = _query(NS_DISCO_INFO, None)
        query.addChild(Identity("account", "registered").toElement())
        for feature in sorted(self.context.declaredAccountFeatures()):
            query.addElement("feature")["var"] = feature
        return query

    def accountItemsRequested(self, stanza):
        """
        XEP-0030 sections 4.1 and 8: the account's connected resources,
        to requesters entitled to its presence; an empty result to anyone
        else and for an account that does not exist.
        """
        node = stanza.payload().getAttribute("node")
        d = self._visibleAccount(stanza)
        d.addCallback(self._accountItems, stanza.recipient, node)
        return d

    def _accountItems(self, visible, owner, node):
        query = _query(NS_DISCO_ITEMS, node)
        if not visible or node is not None:
            return query
        sessions = self.context.sessions.sessionsOf(owner.user)
        for jid in sorted(s.jid.full() for s in sessions.values()):
            query.addElement("item")["jid"] = jid
        return query

    def _visibleAccount(self, stanza):
        """
        Whether the requester may learn about the addressed account, which
        must exist.

        @return: a L{Deferred} firing with a C{bool}.
        """
        owner = stanza.recipient

        def allowed(allowed):
            if not allowed:
                return False
            return self.context.accounts.userExists(owner.user)

        d = mayViewPresence(self.context, owner, stanza.sender)
        return d.addCallback(allowed)


def _query(namespace, node):
    query = domish.Element((namespace, "query"))
    if node is not None:
        query["node"] = node
    return query


class DiscoveryFactory(PluginFactory):
    name = "disco"
    description = ("XEP-0030 service discovery and XEP-0115 capabilities "
                   "of the domain and its accounts")
    options = {
        "name": "",
        "caps": True,
    }
    instanceClass = Discovery


disco = DiscoveryFactory()
