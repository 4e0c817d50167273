"""
In-band registration (XEP-0077), off unless a host enables C{register}.

Before authentication a client may create an account (section 3.1);
afterwards it may change its password (section 3.3) or cancel its account
(section 3.2).  Passwords become SCRAM credentials at once, derived off the
reactor thread.
"""

from twisted.internet import threads
from twisted.words.xish import domish

from jabberd.bus import Address
from jabberd.context import PREAUTH
from jabberd.credentials import deriveCredentials
from jabberd.errors import StanzaError
from jabberd.jid import InvalidJID, makeJID
from jabberd.plugin import PluginFactory
from jabberd.storage.users import NoSuchUser, UserExists

NS_REGISTER = "jabber:iq:register"
NS_FEATURE = "http://jabber.org/features/iq-register"


class Registration:
    """
    The XEP-0077 service of one host.
    """

    def __init__(self, context):
        self.context = context
        self.accounts = context.accounts
        context.declareFeature(NS_REGISTER)
        context.addStreamFeature(PREAUTH, self.streamFeature)
        context.handleIQ("get", NS_REGISTER, "query", self.formRequested,
                         Address.PREAUTH)
        context.handleIQ("set", NS_REGISTER, "query", self.registerReceived,
                         Address.PREAUTH)
        context.handleIQ("get", NS_REGISTER, "query", self.statusRequested,
                         Address.BARE)
        context.handleIQ("set", NS_REGISTER, "query", self.changeReceived,
                         Address.BARE)

    def streamFeature(self, stream):
        """
        Advertise registration before authentication (XEP-0077 section 4).
        """
        return domish.Element((NS_FEATURE, "register"))

    def formRequested(self, stanza):
        """
        Section 3.1: the fields a new account needs.
        """
        query = domish.Element((NS_REGISTER, "query"))
        query.addElement("instructions",
                         content=self.context.config["instructions"])
        query.addElement("username")
        query.addElement("password")
        return query

    def registerReceived(self, stanza):
        """
        Section 3.1: create the account, or C{conflict} if it exists.
        """
        username, password = self._fields(stanza)
        if stanza.payload().remove is not None:
            raise StanzaError("not-authorized")
        d = self._derive(password)
        d.addCallback(lambda creds: self.accounts.createUser(username, creds))
        d.addCallback(self._logged, "account {user}@{domain} registered",
                      username)
        d.addErrback(_translate, UserExists, "conflict")
        return d

    def statusRequested(self, stanza):
        """
        Section 3.2.1: an authenticated user asks what is registered.
        """
        user = self._ownAccount(stanza)
        query = domish.Element((NS_REGISTER, "query"))
        query.addElement("registered")
        query.addElement("username", content=user)
        return query

    def changeReceived(self, stanza):
        """
        Section 3.2 (C{<remove/>}) or 3.3 (a new password).
        """
        user = self._ownAccount(stanza)
        if stanza.payload().remove is not None:
            return self._cancel(user)
        username, password = self._fields(stanza)
        if username != user:
            raise StanzaError("not-allowed", text="wrong username")
        d = self._derive(password)
        d.addCallback(lambda creds: self.accounts.setCredentials(user, creds))
        d.addCallback(self._logged, "password of {user}@{domain} changed",
                      user)
        return d

    def _cancel(self, user):
        d = self.accounts.deleteUser(user)
        d.addCallback(self._logged, "account {user}@{domain} removed", user)
        d.addCallback(lambda _: self.context.reactor.callLater(
            0, self._closeSessions, user))
        d.addCallback(lambda _: None)
        d.addErrback(_translate, NoSuchUser, "item-not-found")
        return d

    def _closeSessions(self, user):
        for session in list(self.context.sessions.sessionsOf(user).values()):
            session.close("not-authorized", "account removed")

    def _ownAccount(self, stanza):
        if stanza.sender.userhost() != stanza.recipient.userhost():
            raise StanzaError("forbidden")
        return stanza.sender.user

    def _fields(self, stanza):
        """
        The normalised username and the password of a registration form.
        """
        query = stanza.payload()
        username = str(query.username or "").strip()
        password = str(query.password or "")
        if query.remove is not None:
            return username, password
        if not username or not password:
            raise StanzaError("not-acceptable",
                              text="username and password are required")
        try:
            username = makeJID(username, self.context.domain).user
        except InvalidJID:
            raise StanzaError("not-acceptable", text="invalid username")
        if len(password) < self.context.config["min_password_length"]:
            raise StanzaError("not-acceptable", text="password too short")
        return username, password

    def _derive(self, password):
        reactor = self.context.reactor
        return threads.deferToThreadPool(reactor, reactor.getThreadPool(),
                                         deriveCredentials, password)

    def _logged(self, result, message, user):
        self.context.log.info(message, user=user, domain=self.context.domain)
        return None


def _translate(reason, exceptionType, condition):
    reason.trap(exceptionType)
    raise StanzaError(condition)


class RegistrationFactory(PluginFactory):
    name = "register"
    description = "XEP-0077 in-band registration"
    options = {
        "min_password_length": 8,
        "instructions": "Choose a username and password to register.",
    }
    instanceClass = Registration


register = RegistrationFactory()
