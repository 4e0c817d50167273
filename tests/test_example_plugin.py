"""
The worked example of the plugin guide, C{examples/jabberd-echo}, as an
author and an operator would use it: installed with pip into a fresh
virtual environment, discovered there, tested with its own tests, and
enabled for one domain of a server started from that environment, where
it works, while the other domain does not have it.

The new environment gets jabberd and its dependencies from the current
one through a C{.pth} file (like C{--system-site-packages}, which would
point at the base interpreter instead, not at this virtual environment),
so nothing is downloaded: pip installs the example with
C{--no-deps --no-build-isolation --no-index}.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import xml.etree.ElementTree as ET

import pytest

from harness import runScenario, PASSWORD, Client, RunningServer
from jabberd.loader import discoverPlugins

pytestmark = pytest.mark.integration

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "examples", "jabberd-echo")
NS_ECHO = "urn:example:echo"

DISCOVER = """
import json, sys
from jabberd.loader import discoverPlugins
factories = discoverPlugins()
echo = factories.get("echo")
print(json.dumps({
    "names": sorted(factories),
    "file": echo and sys.modules[type(echo).__module__].__file__,
}))
"""


class Environment:
    """
    A virtual environment made for the test.
    """

    def __init__(self, directory):
        self.directory = str(directory)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip",
                        self.directory], check=True, timeout=120)
        self.python = os.path.join(self.directory, "bin", "python")
        self.sitePackages = self.run(
            "-c", "import sysconfig; print(sysconfig.get_paths()"
            "['purelib'])").stdout.strip()
        parent = sysconfig.get_paths()["purelib"]
        with open(os.path.join(self.sitePackages, "_jabberd_parent.pth"),
                  "w") as f:
            f.write("import site; site.addsitedir(%r)\n" % (parent,))

    def run(self, *args, cwd=None, timeout=300):
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        env.pop("PYTHONPATH", None)
        return subprocess.run([self.python] + list(args), cwd=cwd, env=env,
                              capture_output=True, text=True,
                              timeout=timeout)


class VenvServer(RunningServer):
    """
    A L{RunningServer} whose C{twistd} runs in another environment.
    """

    def __init__(self, directory, python, **kwargs):
        self.python = python
        RunningServer.__init__(self, directory, **kwargs)

    def start(self, timeout=30):
        self.log = open(self.logPath, "ab")
        self.process = subprocess.Popen(
            [self.python, "-c", "from twisted.scripts.twistd import run; "
             "run()", "-n", "--pidfile=", "jabberd",
             "--config", self.configPath],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.directory)
        deadline = time.monotonic() + timeout
        while "jabberd started" not in self.logText():
            if self.process.poll() is not None:
                raise RuntimeError("jabberd exited: " + self.logText())
            if time.monotonic() > deadline:
                raise RuntimeError("jabberd did not start: " + self.logText())
            time.sleep(0.05)
        return self


def canBuildWheels():
    """
    Whether setuptools here can build a wheel without downloading
    anything: it needs the C{wheel} package before setuptools 70.1.
    """
    import importlib.util

    import setuptools
    version = setuptools.__version__.split(".")
    major, minor = int(version[0]), int(version[1])
    return (major, minor) >= (70, 1) or \
        importlib.util.find_spec("wheel") is not None


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """
    The example installed with pip into a new environment, from a copy
    (a build leaves C{build/} and C{*.egg-info} behind in its source).
    """
    assert canBuildWheels(), (
        "building the example offline needs 'wheel' (or setuptools >= 70.1) "
        "in the test environment: it belongs in setup.cfg's test extra")
    root = tmp_path_factory.mktemp("example")
    source = root / "jabberd-echo"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns(
        "__pycache__", "build", "*.egg-info", "dropin.cache", ".pytest_cache"))
    environment = Environment(root / "venv")
    result = environment.run("-m", "pip", "install", "--no-deps",
                             "--no-build-isolation", "--no-index",
                             str(source))
    assert result.returncode == 0, result.stdout + result.stderr
    environment.source = str(source)
    environment.root = str(root)
    return environment


def test_installedWithoutInitFile(installed):
    """
    The distribution adds a module to the drop-in package and no
    C{__init__.py}, which would hide jabberd's own plugins.
    """
    package = os.path.join(installed.sitePackages, "plugins")
    assert os.path.isfile(os.path.join(package, "echo.py"))
    assert not os.path.exists(os.path.join(package, "__init__.py"))


def test_discoveredInItsEnvironmentOnly(installed):
    result = installed.run("-c", DISCOVER, cwd=installed.root)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert "echo" in found["names"] and "ping" in found["names"]
    assert found["file"].startswith(installed.sitePackages)
    assert "echo" not in discoverPlugins()


def test_exampleOwnTests(installed):
    """
    The example's tests pass against the installed copy (run from outside
    its source tree, so that the source's C{plugins/} is not on the path).
    """
    result = installed.run("-m", "pytest", "-q", "-p", "no:cacheprovider",
                           os.path.join(installed.source, "tests"),
                           cwd=installed.root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "failed" not in result.stdout


@pytest.fixture(scope="module")
def server(installed, tmp_path_factory):
    running = VenvServer(
        tmp_path_factory.mktemp("echo-server"), installed.python,
        hosts=("localhost", "example.net"),
        hostExtra={
            "localhost": 'plugins = ["ping", "echo"]\n'
                         '[hosts."localhost".plugin.echo]\n'
                         'prefix = "echo: "\n',
            "example.net": 'plugins = ["ping"]\n',
        })
    running.start()
    running.adduser("alice@localhost")
    yield running
    running.stop()


def run(coroutine):
    return runScenario(coroutine, 60)


async def echoCount(client, domain):
    iq = client.make_iq_get(ito=domain)
    iq.append(ET.Element("{%s}count" % (NS_ECHO,)))
    result = await iq.send(timeout=10)
    return result.xml.find("{%s}count" % (NS_ECHO,)).text


def test_enabledOnOneDomainOnly(server):
    """
    On localhost, where it is enabled, the echo service answers (and
    counts in its own SQL table); on example.net, where it is not, the
    same address is refused.
    """
    log = server.logText()
    assert "plugin echo enabled on localhost" in log
    assert "plugin echo enabled on example.net" not in log

    async def scenario():
        alice = await Client("alice@localhost/desk", PASSWORD,
                             server).login()
        alice.send_message(mto="localhost/echo", mbody="hi", mtype="chat")
        reply = await alice.nextMessage()
        assert (reply["type"], reply["body"]) == ("chat", "echo: hi")
        assert str(reply["from"]) == "localhost/echo"
        assert await echoCount(alice, "localhost") == "1"
        alice.send_message(mto="example.net/echo", mbody="hi",
                           mtype="chat")
        refused = await alice.nextMessage()
        assert refused["type"] == "error"
        assert refused["error"]["condition"] == "service-unavailable"
        assert str(refused["from"]) == "example.net/echo"
        alice.disconnect()
    run(scenario())
