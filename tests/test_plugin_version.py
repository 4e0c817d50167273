"""
Tests for L{plugins.version}: software version (XEP-0092) of the server.
"""

import platform

import pytest

import jabberd
from jabberd.plugin import PluginConfigError
from jabberd.testing import HostHarness, errorCondition, iq
from plugins.version import NS_VERSION, version

QUERY = "<query xmlns='%s'/>" % (NS_VERSION,)


def askVersion(options=None, to="example.org"):
    """
    Ask a server with the given C{version} options; return the answer and
    the features its host declared.
    """
    with HostHarness([version], options={"version": options or {}}) as h:
        alice = h.client("alice@example.org/pc")
        answer = alice.request(iq("get", QUERY, to=to, id="version_1"))
        return answer, set(h.host.features)


def children(result):
    return {child.name: str(child) for child in result.query.elements()}


def test_version():
    """
    XEP-0092 section 3: name, version and operating system.
    """
    result, features = askVersion()
    assert result["type"] == "result" and result["id"] == "version_1"
    assert result["from"] == "example.org"
    assert result.query.uri == NS_VERSION
    assert children(result) == {"name": "jabberd",
                                "version": jabberd.__version__,
                                "os": platform.system()}
    assert features == {NS_VERSION}


def test_hideVersion():
    """
    The version element stays (section 2 requires it) but says nothing.
    """
    result, _ = askVersion({"hide_version": True})
    assert children(result) == {"name": "jabberd", "version": "",
                                "os": platform.system()}


def test_hideOS():
    """
    Section 5: the operator can stop revealing the operating system.
    """
    result, _ = askVersion({"hide_os": True})
    assert children(result) == {"name": "jabberd",
                                "version": jabberd.__version__}


def test_notForAccounts():
    """
    The server does not answer for a user's software: a bare JID's
    version request is not its to answer.
    """
    result, _ = askVersion(to="bob@example.org")
    assert errorCondition(result) == "service-unavailable"


@pytest.mark.parametrize("options", [{"hide_os": "yes"}, {"show_os": True}])
def test_badOptions(options):
    with pytest.raises(PluginConfigError):
        version.parseConfig(options)
