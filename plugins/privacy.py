"""
Privacy lists (XEP-0016, first RFC 3921 section 10) and the blocking
command (XEP-0191), on one storage model: the blocklist is a view of the
user's default privacy list (XEP-0191 section 5), so a client using
either protocol sees the same truth.

  - XEP-0016 section 2: list names with the active and default list, one
    list, creating, replacing and removing lists, the session's active
    list and the account's default list, with the errors of sections
    2.3 to 2.8 (C{conflict} when another resource uses a list being
    removed or the default list being changed or declined).  A changed
    list is pushed, by name, to the resources that asked for lists.
  - XEP-0191 section 3: the blocklist, blocking, unblocking and
    unblocking everything, pushed to the resources that asked for the
    blocklist.  Blocking with no default list creates one and makes it
    the default.
  - Any change that newly denies presence to a contact subscribed to
    the user sends the contact unavailable presence from each available
    resource; one that allows it again sends the current presence
    (XEP-0016 section 2.11, XEP-0191 sections 3.3 and 3.4).

Enforcement is in L{plugins._privacyguard}, the in-memory lists in
L{jabberd.usercache}, the model and the matching in
L{jabberd.privacy}.
"""

from twisted.internet import defer
from twisted.words.xish import domish

from jabberd.bus import SESSION_BINDING, SESSION_CLOSED, Address
from jabberd.errors import StanzaError
from jabberd.im import IPresence, IRoster
from jabberd.jid import parseJID
from jabberd.plugin import PluginFactory
from jabberd.privacy import (NS_BLOCKING, NS_PRIVACY, PRESENCE_OUT,
                             blockElement, listElement, listName,
                             parseBlockItems, parseItems, withBlocked,
                             withUnblocked)
from jabberd.stanza import makeElement
from jabberd.storage.privacy import (IPrivacyStore, MemoryPrivacyStore,
                                     SQLPrivacyStore)
from jabberd.usercache import UserStateCache
from plugins._privacyguard import PrivacyGuard, sessionPrivacy
from plugins.presence import copyPresence, stateOf

#: The name of the list that blocking creates when there is no default.
BLOCKLIST_NAME = "blocklist"


class PrivacyService:
    """
    The privacy plugin of one host.

    @ivar cache: the users' lists in memory (L{jabberd.usercache.UserStateCache}).
    @ivar guard: the enforcement hooks (L{PrivacyGuard}).
    """

    def __init__(self, context):
        self.context = context
        self.config = context.config
        self.roster = context.lookup(IRoster)
        self.presence = context.lookup(IPresence)
        store = context.store(IPrivacyStore)
        self.cache = UserStateCache(store, store.loadPrivacy,
                                    self.config["cache_size"], context.log)
        self.guard = PrivacyGuard(context, self.cache, self.roster)
        self._pushes = 0
        context.declareFeature(NS_PRIVACY)
        context.declareFeature(NS_BLOCKING)
        context.onSignal(SESSION_BINDING, self.sessionBinding)
        context.onSignal(SESSION_CLOSED, self.sessionClosed)
        for type, namespace, name, handler in (
                ("get", NS_PRIVACY, "query", self.listsRequested),
                ("set", NS_PRIVACY, "query", self.listsChanged),
                ("get", NS_BLOCKING, "blocklist", self.blocklistRequested),
                ("set", NS_BLOCKING, "block", self.blockRequested),
                ("set", NS_BLOCKING, "unblock", self.unblockRequested)):
            context.handleIQ(type, namespace, name, handler, Address.BARE)
        for user in list(context.sessions.users()):
            defer.maybeDeferred(self.cache.loadAndPin, user).addErrback(
                lambda f, user=user: context.log.failure(
                    "reading the privacy lists of {user}", f, user=user))

    # -- session lifecycle ------------------------------------------------------

    def sessionBinding(self, session):
        """
        Read the user's lists before the session exists, so that every
        stanza it sends or receives is decided from memory.
        """
        return self.cache.loadAndPin(session.jid.user)

    def sessionClosed(self, session, reason):
        user = session.jid.user
        if not self.context.sessions.sessionsOf(user):
            self.cache.unpin(user)

    # -- requests ---------------------------------------------------------------

    def _owner(self, stanza):
        """
        Only the user manages their lists.

        @return: C{(user, session)}; the session is C{None} for a request
            that did not come from a local client.
        """
        if stanza.sender.userhost() != stanza.recipient.userhost():
            raise StanzaError("forbidden")
        return stanza.sender.user, stanza.origin

    def _change(self, stanza, operation, *args):
        """
        Run C{operation(privacy, session, *args)} on the user's lists,
        after the user's earlier changes (the lists of a user with a
        session stay in memory, so the object is the cached one).
        """
        user, session = self._owner(stanza)
        d = self.cache.load(user)
        d.addCallback(lambda privacy: self.cache.serialised(
            user, operation, privacy, session, *args))
        return d

    def listsRequested(self, stanza):
        """
        XEP-0016 section 2.3: the names of the lists, preceded by the
        session's active list and the default list; or one list.
        """
        user, session = self._owner(stanza)
        sessionPrivacy(session).lists = True
        children = list(stanza.payload().elements())
        if len(children) > 1:
            raise StanzaError("bad-request", text="one list at a time")
        d = self.cache.load(user)
        if not children:
            return d.addCallback(self._names, session)
        return d.addCallback(self._oneList, _requestedList(children[0]))

    def _names(self, privacy, session):
        query = domish.Element((NS_PRIVACY, "query"))
        active = sessionPrivacy(session).active
        if active is not None:
            query.addElement("active")["name"] = active
        if privacy.default is not None:
            query.addElement("default")["name"] = privacy.default
        for name in privacy.lists:
            query.addElement("list")["name"] = name
        return query

    def _oneList(self, privacy, name):
        items = privacy.lists.get(name)
        if items is None:
            raise StanzaError("item-not-found")
        query = domish.Element((NS_PRIVACY, "query"))
        query.addChild(listElement(name, items))
        return query

    def listsChanged(self, stanza):
        """
        XEP-0016 sections 2.4 to 2.8: exactly one C{<active/>},
        C{<default/>} or C{<list/>} (section 2.1, else C{bad-request}).
        """
        children = list(stanza.payload().elements())
        if len(children) != 1 or children[0].uri != NS_PRIVACY:
            raise StanzaError("bad-request", text="exactly one element")
        child = children[0]
        operation = {"active": self._setActive, "default": self._setDefault,
                     "list": self._setList}.get(child.name)
        if operation is None:
            raise StanzaError("bad-request", text="unknown element")
        sessionPrivacy(stanza.origin).lists = True
        return self._change(stanza, operation, child)

    # -- XEP-0016 changes ---------------------------------------------------------

    def _setActive(self, privacy, session, element):
        """
        Section 2.4: activate a list for this session, or decline any.
        """
        name = listName(element)
        if name is not None and name not in privacy.lists:
            raise StanzaError("item-not-found")
        before = self._before(privacy)
        sessionPrivacy(session).active = name
        self._after(privacy, before)

    def _setDefault(self, privacy, session, element):
        """
        Section 2.5: make a list the default, or decline any default; a
        C{conflict} while the default list applies to another resource.
        """
        name = listName(element)
        if name is not None and name not in privacy.lists:
            raise StanzaError("item-not-found")
        if name == privacy.default:
            return None
        if privacy.default is not None and \
                self._othersUseDefault(privacy, session):
            raise StanzaError("conflict")
        return self._storeDefault(privacy, name)

    @defer.inlineCallbacks
    def _storeDefault(self, privacy, name):
        before = self._before(privacy)
        yield self.cache.store.setDefault(privacy.user, name)
        privacy.default = name
        self._after(privacy, before)

    def _setList(self, privacy, session, element):
        """
        Sections 2.6 to 2.8: a list with items creates or replaces it
        (all the items, not a delta); an empty one removes it.
        """
        name = listName(element)
        if name is None:
            raise StanzaError("bad-request", text="a list needs a name")
        if not list(element.elements()):
            return self._removeList(privacy, session, name)
        self._checkLimits(privacy, name, len(list(element.elements())))
        items = parseItems(element, self._groups(privacy.user))
        return self._storeList(privacy, name, items)

    def _checkLimits(self, privacy, name, count):
        if count > self.config["max_items"]:
            raise StanzaError("policy-violation", text="too many items")
        if name not in privacy.lists and \
                len(privacy.lists) >= self.config["max_lists"]:
            raise StanzaError("policy-violation", text="too many lists")

    @defer.inlineCallbacks
    def _storeList(self, privacy, name, items, makeDefault=False,
                   blockPushes=None):
        """
        Store and apply list C{name}; push it, and what it changes.
        """
        before = self._before(privacy)
        yield self.cache.store.saveList(privacy.user, name, items)
        if makeDefault:
            yield self.cache.store.setDefault(privacy.user, name)
            privacy.default = name
        privacy.put(name, items)
        self._after(privacy, before, name, blockPushes)

    def _removeList(self, privacy, session, name):
        """
        Section 2.8: C{item-not-found} for an unknown list, C{conflict}
        while it applies to another resource (business rule 11).
        """
        if name not in privacy.lists:
            raise StanzaError("item-not-found")
        if self._appliesElsewhere(privacy, session, name):
            raise StanzaError("conflict")
        return self._dropList(privacy, session, name)

    @defer.inlineCallbacks
    def _dropList(self, privacy, session, name):
        before = self._before(privacy)
        yield self.cache.store.removeList(privacy.user, name)
        privacy.remove(name)
        state = sessionPrivacy(session)
        if state.active == name:
            state.active = None
        self._after(privacy, before, name)

    def _otherSessions(self, privacy, session):
        return [s for s in self.context.sessions.sessionsOf(
            privacy.user).values() if s is not session]

    def _othersUseDefault(self, privacy, session):
        """
        Whether the default list applies to another resource: one with
        no active list.
        """
        return any(sessionPrivacy(s).active is None
                   for s in self._otherSessions(privacy, session))

    def _appliesElsewhere(self, privacy, session, name):
        if any(sessionPrivacy(s).active == name
               for s in self._otherSessions(privacy, session)):
            return True
        return name == privacy.default and \
            self._othersUseDefault(privacy, session)

    def _groups(self, user):
        """
        The groups of the user's roster (section 2.1: a group item names
        one of them).
        """
        roster = self.roster.cached(user)
        if roster is None:
            return set()
        return {group for item in roster.items.values()
                for group in item.groups}

    # -- XEP-0191 ---------------------------------------------------------------

    def blocklistRequested(self, stanza):
        """
        XEP-0191 section 3.2: the JIDs the default list blocks.
        """
        user, session = self._owner(stanza)
        sessionPrivacy(session).blocklist = True
        d = self.cache.load(user)
        return d.addCallback(
            lambda privacy: blockElement("blocklist", privacy.blocked()))

    def blockRequested(self, stanza):
        """
        XEP-0191 section 3.3: block at least one JID (C{bad-request}
        without any, C{jid-malformed} for an invalid one).
        """
        self._owner(stanza)
        jids = parseBlockItems(stanza.payload())
        if not jids:
            raise StanzaError("bad-request", text="nothing to block")
        return self._change(stanza, self._block, jids)

    def _block(self, privacy, session, jids):
        """
        Add entries for the JIDs not yet blocked to the default list,
        made (and made the default) if there is none.
        """
        name = privacy.default
        if name is None:
            name = _freeName(privacy.lists)
        current = privacy.lists.get(name, ())
        blocked = privacy.blocked()
        new = [jid for jid in jids if jid not in blocked]
        if not new and name == privacy.default:
            return None
        items = withBlocked(current, new)
        self._checkLimits(privacy, name, len(items))
        return self._storeList(privacy, name, items,
                               makeDefault=name != privacy.default,
                               blockPushes=[blockElement("block", new)])

    def unblockRequested(self, stanza):
        """
        XEP-0191 sections 3.4 and 3.5: unblock the JIDs given, or every
        JID with an empty C{<unblock/>}.
        """
        self._owner(stanza)
        jids = parseBlockItems(stanza.payload())
        return self._change(stanza, self._unblock, jids)

    def _unblock(self, privacy, session, jids):
        """
        Remove the entries for C{jids} (all if empty) from the default
        list; the push names those that were blocked.
        """
        name = privacy.default
        blocked = privacy.blocked()
        gone = [jid for jid in jids if jid in blocked] if jids else blocked
        if name is None or not gone:
            return None
        items = withUnblocked(privacy.lists[name], gone)
        push = blockElement("unblock", gone if jids else [])
        return self._storeList(privacy, name, items, blockPushes=[push])

    # -- what a change means for the others ----------------------------------------

    def _before(self, privacy):
        return privacy.blocked(), self._presenceVerdicts(privacy)

    def _after(self, privacy, before, changed=None, blockPushes=None):
        """
        Push the changed list and blocklist, and tell contacts whose
        presence the change blocks or unblocks.

        @param blockPushes: the XEP-0191 pushes of a blocking command;
            by default, what the change did to the blocklist.
        """
        blocked, verdicts = before
        user = privacy.user
        if changed is not None:
            self._push(user, "lists", lambda: _listPush(changed))
        if blockPushes is None:
            blockPushes = _blocklistChanges(blocked, privacy.blocked())
        for push in blockPushes:
            self._push(user, "blocklist", lambda push=push: _copy(push))
        self._presenceChanged(privacy, verdicts)

    def _push(self, user, interest, payload):
        """
        Send an IQ set with C{payload()} to each resource of C{user} whose
        L{SessionPrivacy} has C{interest}.
        """
        for session in list(self.context.sessions.sessionsOf(user).values()):
            if getattr(sessionPrivacy(session), interest):
                self._pushes += 1
                iq = makeElement("iq", type="set", to=session.jid.full(),
                                 id="privacy%d" % (self._pushes,))
                iq.addChild(payload())
                session.deliver(iq)

    def _presenceVerdicts(self, privacy):
        """
        For each available resource and each contact subscribed to the
        user or given directed presence by the resource (RFC 6121 section
        4.6): whether the lists deny the resource's presence to it.
        """
        roster = self.roster.cached(privacy.user)
        if roster is None:
            return {}
        contacts = [parseJID(c) for c in roster.subscribers()]
        verdicts = {}
        for session in self.presence.availableSessions(privacy.user):
            rules = self.guard.rulesFor(privacy, session)
            directed = [parseJID(t) for t in stateOf(session).directed]
            for contact in contacts + directed:
                verdicts[session, contact] = rules.denies(
                    PRESENCE_OUT, contact, roster)
        return verdicts

    def _presenceChanged(self, privacy, before):
        """
        XEP-0016 section 2.11 and XEP-0191 sections 3.3 and 3.4: a contact
        newly denied gets unavailable presence from the resource, one
        allowed again its current presence.
        """
        for (session, contact), denied in self._presenceVerdicts(
                privacy).items():
            if before.get((session, contact), denied) == denied:
                continue
            sender = session.jid.full()
            if denied:
                element = makeElement("presence", type="unavailable",
                                      to=contact.full())
                element["from"] = sender
                self.guard.sendUnfiltered(element)
            else:
                self.context.send(copyPresence(stateOf(session).element,
                                               sender, contact.full()))


def _requestedList(element):
    if element.uri != NS_PRIVACY or element.name != "list":
        raise StanzaError("bad-request", text="only a list may be asked for")
    name = listName(element)
    if name is None:
        raise StanzaError("bad-request", text="a list needs a name")
    return name


def _freeName(lists):
    name, n = BLOCKLIST_NAME, 1
    while name in lists:
        n += 1
        name = "%s-%d" % (BLOCKLIST_NAME, n)
    return name


def _listPush(name):
    query = domish.Element((NS_PRIVACY, "query"))
    query.addChild(listElement(name))
    return query


def _blocklistChanges(before, after):
    """
    The XEP-0191 pushes for a blocklist changed through XEP-0016: the
    newly blocked JIDs and the unblocked ones.
    """
    pushes = []
    added = [jid for jid in after if jid not in before]
    if added:
        pushes.append(blockElement("block", added))
    removed = [jid for jid in before if jid not in after]
    if removed:
        pushes.append(blockElement("unblock", removed))
    return pushes


def _copy(element):
    copy = domish.Element((element.uri, element.name))
    copy.attributes = dict(element.attributes)
    for child in element.elements():
        copy.addChild(_copy(child))
    return copy


class PrivacyFactory(PluginFactory):
    name = "privacy"
    description = "XEP-0016 privacy lists and XEP-0191 blocking"
    requires = ("roster", "presence")
    options = {"cache_size": 10000, "max_lists": 50, "max_items": 1000}
    stores = {IPrivacyStore: (MemoryPrivacyStore, SQLPrivacyStore)}
    minimums = dict.fromkeys(options, 1)
    instanceClass = PrivacyService


privacy = PrivacyFactory()
