"""
End-to-end tests of in-band registration (XEP-0077) on a server where one
host enables the C{register} plugin and another does not: the stream
feature, the form, creating an account before authentication, changing
the password and cancelling the account afterwards.
"""

import asyncio
import re

import pytest

from harness import runScenario, PASSWORD, Client, TLSRawStream, TunedServer, tlsLogin

pytestmark = pytest.mark.integration

OPEN_HOST = "example.net"
CLOSED_HOST = "localhost"
NS_REGISTER = "jabber:iq:register"
FEATURE = "<register xmlns='http://jabber.org/features/iq-register'/>"

#: No IQ sent before authentication is ever answered: building the reply
#: raises in jabberd/stanza.py _addressReply, whose request has no sender.


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = TunedServer(
        tmp_path_factory.mktemp("register"), hosts=(CLOSED_HOST, OPEN_HOST),
        hostExtra={OPEN_HOST: 'plugins = ["ping", "register"]'})
    running.start()
    running.adduser("carol@" + OPEN_HOST)
    yield running
    running.stop()


def run(coroutine):
    return runScenario(coroutine, 60)


def preauthStream(server, to):
    """
    A raw stream to C{to} after STARTTLS, not authenticated; return it and
    the features of the encrypted stream.
    """
    stream = TLSRawStream(server, timeout=2)
    stream.openStream(to)
    stream.startTLS(to)
    return stream, stream.openStream(to)


def registerIQ(stream, iqType, content, stanzaID="reg"):
    """
    Send a C{jabber:iq:register} query and return the answer's text.
    """
    stream.send("<iq type='%s' id='%s'><query xmlns='%s'>%s</query></iq>"
                % (iqType, stanzaID, NS_REGISTER, content))
    answer = stream.readStanza("iq", stanzaID)
    assert answer is not None, "stream closed"
    return answer


def form(username, password):
    return "<username>%s</username><password>%s</password>" % (
        username, password)


def iqType(answer):
    return re.search(r"\btype='([a-z]+)'", answer).group(1)


def condition(answer):
    match = re.search(
        r"<([a-z-]+) xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>", answer)
    return match.group(1) if match else None


def register(server, username, password=PASSWORD):
    stream, _ = preauthStream(server, OPEN_HOST)
    answer = registerIQ(stream, "set", form(username, password))
    stream.close()
    return answer


def loginOutcome(server, user, password):
    """
    Whether a PLAIN login as C{user} on the open host succeeds.
    """
    stream, _ = preauthStream(server, OPEN_HOST)
    outcome = stream.plainLogin(user, password)
    stream.close()
    return outcome


def users(server, domain=OPEN_HOST):
    result = server.ctl("users", domain)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_featureOnlyWhereEnabled(server):
    """
    The registration stream feature (XEP-0077 section 4) is offered on
    the encrypted stream of the host with the plugin, not on the other.
    """
    stream, features = preauthStream(server, OPEN_HOST)
    assert FEATURE in features
    stream.close()
    stream, features = preauthStream(server, CLOSED_HOST)
    assert "iq-register" not in features
    assert "<mechanisms" in features
    stream.close()


def test_form(server):
    """
    Section 3.1: the form asked for before authentication lists the
    username and password fields, with instructions.
    """
    stream, _ = preauthStream(server, OPEN_HOST)
    answer = registerIQ(stream, "get", "")
    assert iqType(answer) == "result"
    assert "<username/>" in answer and "<password/>" in answer
    assert re.search(r"<instructions>[^<]+</instructions>", answer)
    stream.close()


def test_registerWithSlixmppThenLogin(server):
    """
    slixmpp's XEP-0077 client registers a new account when the server
    offers the feature, then logs in with it on the same stream; the
    account is then listed by C{jabberctl users} and works for new logins.
    """
    async def scenario():
        client = Client("erin@%s/new" % (OPEN_HOST,), PASSWORD, server)
        client.register_plugin("xep_0077")
        registered = asyncio.get_event_loop().create_future()

        async def fillIn(formIQ):
            assert "username" in formIQ["register"]["fields"]
            reply = client.Iq()
            reply["type"] = "set"
            reply["register"]["username"] = "erin"
            reply["register"]["password"] = PASSWORD
            registered.set_result(await reply.send())
        client.add_event_handler("register", fillIn)
        await client.login(timeout=5)
        assert (await registered)["type"] == "result"
        assert str(client.boundjid) == "erin@%s/new" % (OPEN_HOST,)
        client.disconnect()
    run(scenario())
    assert "erin@" + OPEN_HOST in users(server)
    assert loginOutcome(server, "erin", PASSWORD) == "success"


def test_registerExistingName(server):
    """
    Registering a name that is taken gets C{conflict} (section 3.1), and
    the account's password is unchanged.
    """
    answer = register(server, "carol", "another password")
    assert (iqType(answer), condition(answer)) == ("error", "conflict")
    assert loginOutcome(server, "carol", PASSWORD) == "success"


def test_passwordTooShort(server):
    """
    A password shorter than min_password_length (8 by default) gets
    C{not-acceptable} and creates nothing; eight characters are enough.
    """
    answer = register(server, "shorty", "1234567")
    assert (iqType(answer), condition(answer)) == ("error", "not-acceptable")
    assert "shorty@" + OPEN_HOST not in users(server)
    assert iqType(register(server, "shorty", "12345678")) == "result"
    assert loginOutcome(server, "shorty", "12345678") == "success"


@pytest.mark.parametrize("content", [
    "<username>nopass</username>", "<password>%s</password>" % (PASSWORD,),
    form("not a name@", PASSWORD)], ids=["no-password", "no-username",
                                          "bad-username"])
def test_incompleteForm(server, content):
    """
    A form without a username or password, or with a username that
    cannot be a JID's localpart, gets C{not-acceptable}.
    """
    stream, _ = preauthStream(server, OPEN_HOST)
    answer = registerIQ(stream, "set", content)
    assert (iqType(answer), condition(answer)) == ("error", "not-acceptable")
    stream.close()


def test_passwordChange(server):
    """
    Section 3.3: a logged-in user changes the password; the old one no
    longer works, the new one does.
    """
    server.adduser("frank@" + OPEN_HOST)
    newPassword = "a brand new password"

    async def scenario():
        client = Client("frank@%s/pw" % (OPEN_HOST,), PASSWORD, server)
        client.register_plugin("xep_0077")
        await client.login()
        reply = await client.plugin["xep_0077"].change_password(newPassword)
        assert reply["type"] == "result"
        client.disconnect()
    run(scenario())
    assert loginOutcome(server, "frank", PASSWORD) == "failure"
    assert loginOutcome(server, "frank", newPassword) == "success"


def test_cancelRegistration(server):
    """
    Section 3.2: C{<remove/>} deletes the account: the server answers
    with a result, ends the session with C{<not-authorized/>}, the account
    can no longer log in and C{jabberctl users} no longer lists it.
    """
    server.adduser("gina@" + OPEN_HOST)
    stream = tlsLogin(server, "gina", to=OPEN_HOST, resource="bye")
    stream.send("<iq type='set' id='cancel'><query xmlns='%s'><remove/>"
                "</query></iq>" % (NS_REGISTER,))
    answer = stream.readStanza("iq", "cancel")
    assert iqType(answer) == "result", answer
    rest = stream.readAll()
    assert "<not-authorized" in rest and rest.endswith("</stream:stream>")
    assert loginOutcome(server, "gina", PASSWORD) == "failure"
    assert "gina@" + OPEN_HOST not in users(server)


def test_cancelWithSlixmpp(server):
    """
    slixmpp's cancel_registration gets a result and the account is gone.
    """
    server.adduser("hank@" + OPEN_HOST)

    async def scenario():
        client = Client("hank@%s/bye" % (OPEN_HOST,), PASSWORD, server)
        client.register_plugin("xep_0077")
        await client.login()
        reply = await client.plugin["xep_0077"].cancel_registration()
        assert reply["type"] == "result"
        client.disconnect()
    run(scenario())
    assert "hank@" + OPEN_HOST not in users(server)


def test_removeBeforeAuthRefused(server):
    """
    C{<remove/>} before authentication cancels nobody's account: it is
    refused and the account stays.
    """
    stream, _ = preauthStream(server, OPEN_HOST)
    answer = registerIQ(stream, "set", form("carol", PASSWORD) + "<remove/>")
    assert iqType(answer) == "error"
    stream.close()
    assert "carol@" + OPEN_HOST in users(server)


@pytest.mark.parametrize("kind, content", [
    ("get", ""), ("set", form("ivan", PASSWORD))], ids=["get", "set"])
def test_noRegistrationWithoutPlugin(server, kind, content):
    """
    On the host without the plugin a registration IQ before
    authentication gets C{service-unavailable}, and no account is made.
    """
    stream, _ = preauthStream(server, CLOSED_HOST)
    answer = registerIQ(stream, kind, content)
    assert (iqType(answer), condition(answer)) == (
        "error", "service-unavailable")
    stream.close()
    assert "ivan@" + CLOSED_HOST not in users(server, CLOSED_HOST)
