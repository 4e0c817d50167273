"""
Tests for L{plugins.vcard}: vcard-temp (XEP-0054) and the vCard store on
memory, SQLite and PostgreSQL.
"""

import pytest
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase
from zope.interface.verify import verifyObject

from jabberd.plugin import PluginConfigError
from jabberd.storage import defaultRegistry
from jabberd.storage.users import IUserStore, NoSuchUser
from jabberd.testing import (BackendMixin, HostHarness, errorCondition, iq,
                             toXML)
from plugins.vcard import (IVCardStore, MemoryVCardStore, NS_VCARD,
                           SQLVCardStore, vcard)

EMPTY = "<vCard xmlns='vcard-temp'/>"
PETER = ("<vCard xmlns='vcard-temp'><FN>Peter Saint-Andre</FN>"
         "<N><FAMILY>Saint-Andre</FAMILY><GIVEN>Peter</GIVEN><MIDDLE/></N>"
         "<NICKNAME>stpeter</NICKNAME>"
         "<TEL><WORK/><VOICE/><NUMBER>303-308-3282</NUMBER></TEL>"
         "<EMAIL><INTERNET/><PREF/><USERID>stpeter@jabber.org</USERID>"
         "</EMAIL><JABBERID>stpeter@jabber.org</JABBERID>"
         "<DESC>Zoë &amp; co &lt;3</DESC></vCard>")


# -- the store ----------------------------------------------------------------


class VCardStoreContract(BackendMixin):
    """
    What every L{IVCardStore} must do.
    """

    def store(self, domain="a.example"):
        registry = defaultRegistry()
        registry.register(IVCardStore, MemoryVCardStore, SQLVCardStore)
        return self.openStore(IVCardStore, domain, registry)

    def addUser(self, username, domain="a.example"):
        return self.openStore(IUserStore, domain).createUser(username, {})

    def test_interface(self):
        store = self.store()
        self.assertTrue(verifyObject(IVCardStore, store))
        self.assertEqual(store.domain, "a.example")

    @inlineCallbacks
    def test_noVCard(self):
        yield self.addUser("alice")
        self.assertIsNone((yield self.store().getVCard("alice")))
        self.assertIsNone((yield self.store().getVCard("nobody")))

    @inlineCallbacks
    def test_setAndReplace(self):
        store = self.store()
        yield self.addUser("alice")
        yield store.setVCard("alice", PETER)
        self.assertEqual((yield store.getVCard("alice")), PETER)
        yield store.setVCard("alice", EMPTY)
        self.assertEqual((yield store.getVCard("alice")), EMPTY)

    @inlineCallbacks
    def test_large(self):
        """
        A vCard of the default size limit fits.
        """
        store = self.store()
        yield self.addUser("alice")
        text = "<vCard xmlns='vcard-temp'><DESC>%s</DESC></vCard>" % (
            "é" * 32000,)
        yield store.setVCard("alice", text)
        self.assertEqual((yield store.getVCard("alice")), text)

    def test_unknownAccount(self):
        return self.assertFailure(self.store().setVCard("nobody", EMPTY),
                                  NoSuchUser)

    @inlineCallbacks
    def test_deletedWithAccount(self):
        store = self.store()
        yield self.addUser("alice")
        yield store.setVCard("alice", PETER)
        yield self.openStore(IUserStore, "a.example").deleteUser("alice")
        self.assertIsNone((yield store.getVCard("alice")))
        yield self.addUser("alice")
        self.assertIsNone((yield store.getVCard("alice")))

    @inlineCallbacks
    def test_domainIsolation(self):
        yield self.addUser("alice", "a.example")
        yield self.addUser("alice", "b.example")
        yield self.store("a.example").setVCard("alice", PETER)
        self.assertIsNone((yield self.store("b.example").getVCard("alice")))


class MemoryVCardStoreTests(VCardStoreContract, TestCase):
    backendKind = "memory"


class SQLiteVCardStoreTests(VCardStoreContract, TestCase):
    backendKind = "sqlite"


class PostgreSQLVCardStoreTests(VCardStoreContract, TestCase):
    backendKind = "postgresql"


# -- the service --------------------------------------------------------------


@pytest.fixture
def harness():
    with HostHarness([vcard], options={"vcard": {"max_size": 1024}}) as h:
        for user in ("stpeter", "jer"):
            h.addUser(user + "@example.org")
        yield h


@pytest.fixture
def stpeter(harness):
    return harness.client("stpeter@example.org/roundabout")


def test_declared(harness):
    assert NS_VCARD in harness.host.features
    assert NS_VCARD in harness.host.accountFeatures


def test_ownEmpty(stpeter):
    """
    XEP-0054 section 3.1: without a vCard, one's own is an empty one.
    """
    result = stpeter.request(iq("get", EMPTY, id="v1"))
    assert result["type"] == "result" and result["id"] == "v1"
    assert toXML(result.vCard) == EMPTY


def test_setAndGetOwn(stpeter):
    """
    Sections 3.1 and 3.2: the vCard set is the vCard returned.
    """
    result = stpeter.request(iq("set", PETER, id="v2"))
    assert result["type"] == "result" and result.children == []
    for to in (None, "stpeter@example.org"):
        result = stpeter.request(iq("get", EMPTY, to=to))
        assert toXML(result.vCard) == PETER


def test_othersVCard(harness, stpeter):
    """
    Section 3.3: anyone reads a user's vCard from the bare JID, answered
    by the server.
    """
    stpeter.request(iq("set", PETER))
    jer = harness.client("jer@example.org/home")
    result = jer.request(iq("get", EMPTY, to="stpeter@example.org", id="v3"))
    assert result["from"] == "stpeter@example.org"
    assert toXML(result.vCard) == PETER
    assert stpeter.take() == []


def test_othersMissing(harness, stpeter):
    """
    Section 3.3: no vCard and no such user look the same.
    """
    for to in ("jer@example.org", "nobody@example.org"):
        result = stpeter.request(iq("get", EMPTY, to=to))
        assert errorCondition(result) == "service-unavailable"


def test_setOthersForbidden(harness, stpeter):
    """
    Section 3.2: setting another user's vCard is forbidden.
    """
    result = stpeter.request(iq("set", PETER, to="jer@example.org"))
    assert errorCondition(result) == "forbidden"
    jer = harness.client("jer@example.org/home")
    assert toXML(jer.request(iq("get", EMPTY)).vCard) == EMPTY


def vCardOfSize(size):
    """
    A vCard whose serialisation is exactly C{size} bytes.
    """
    shell = "<vCard xmlns='vcard-temp'><DESC></DESC></vCard>"
    return shell.replace("<DESC>", "<DESC>" + "x" * (size - len(shell)))


def test_sizeLimit(stpeter):
    """
    A vCard over max_size bytes is refused and the old one kept.
    """
    fits = vCardOfSize(1024)
    assert stpeter.request(iq("set", fits))["type"] == "result"
    result = stpeter.request(iq("set", vCardOfSize(1025)))
    assert errorCondition(result) == "not-acceptable"
    assert toXML(stpeter.request(iq("get", EMPTY)).vCard) == fits


def test_notForTheDomain(stpeter):
    result = stpeter.request(iq("get", EMPTY, to="example.org"))
    assert errorCondition(result) == "service-unavailable"


@pytest.mark.parametrize("options", [{"max_size": 0}, {"max_size": "big"},
                                     {"limit": 5}])
def test_badOptions(options):
    with pytest.raises(PluginConfigError):
        vcard.parseConfig(options)
