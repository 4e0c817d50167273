"""
The operator's view: zero-config start, start-up errors, reload by SIGHUP
and by jabberctl, JSON logs.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from harness import runScenario, Client, RawStream, RunningServer, PASSWORD

pytestmark = pytest.mark.integration

TWISTD = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]


def run(coroutine):
    return runScenario(coroutine, 60)


def _waitFor(predicate, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


class ZeroConfigServer(RunningServer):
    """
    C{twistd -n jabberd} with no options at all, in an empty directory.
    """

    def __init__(self, directory):
        self.directory = str(directory)
        self.hosts = ("localhost",)
        self.port = 5222
        self.logPath = os.path.join(self.directory, "server.log")
        self.dataDir = os.path.join(self.directory, "jabberd-data")
        self.process = None

    def start(self, timeout=20):
        self.log = open(self.logPath, "ab")
        self.process = subprocess.Popen(TWISTD + ["-n", "jabberd"],
                                        stdout=self.log,
                                        stderr=subprocess.STDOUT,
                                        cwd=self.directory)
        assert _waitFor(lambda: "jabberd started" in self.logText()
                        or self.process.poll() is not None, timeout)
        assert self.process.poll() is None, self.logText()
        return self

    def ctl(self, *args, stdin=None):
        return subprocess.run([sys.executable, "-m", "jabberd.ctl"]
                              + list(args), input=stdin, cwd=self.directory,
                              capture_output=True, text=True, timeout=60)


def test_zeroConfigStart(tmp_path):
    """
    The README's flow: 'twistd -n jabberd' with no options serves
    localhost on 127.0.0.1:5222 with an SQLite database and a generated
    certificate under ./jabberd-data, 'jabberctl adduser' (no --config)
    creates an account in that database while the server runs, and a
    client logs in with SCRAM-SHA-256 over STARTTLS.
    """
    server = ZeroConfigServer(tmp_path).start()
    try:
        data = tmp_path / "jabberd-data"
        assert (data / "jabberd.sqlite").exists()
        assert (data / "certs" / "localhost.crt").exists()
        server.adduser("alice@localhost")

        async def scenario():
            client = Client("alice@localhost/readme", PASSWORD, server)
            client.plugin["feature_mechanisms"].use_mech = "SCRAM-SHA-256"
            await client.login()
            assert str(client.boundjid) == "alice@localhost/readme"
            client.disconnect()
        run(scenario())
        assert "alice@localhost authenticated" in server.logText()
    finally:
        server.stop()


def test_badConfigStopsStartup(tmp_path):
    """
    A config mistake ends start-up with one line naming the file, the key
    and the problem, and a non-zero exit status.
    """
    config = tmp_path / "bad.toml"
    config.write_text('max_stanza_size = "big"\n')
    result = subprocess.run(TWISTD + ["-n", "--pidfile=", "jabberd",
                                      "--config", str(config)],
                            capture_output=True, text=True, timeout=60,
                            cwd=str(tmp_path))
    assert result.returncode != 0
    lines = [l for l in (result.stdout + result.stderr).splitlines() if l]
    assert len(lines) == 1, lines
    assert str(config) in lines[0] and "max_stanza_size" in lines[0]


def test_unknownPluginStopsStartup(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('data_dir = "%s"\n[hosts."a.example"]\n'
                      'plugins = ["nope"]\n' % (tmp_path / "d",))
    result = subprocess.run(TWISTD + ["-n", "--pidfile=", "jabberd",
                                      "--config", str(config)],
                            capture_output=True, text=True, timeout=60,
                            cwd=str(tmp_path))
    assert result.returncode != 0
    assert 'hosts."a.example".plugins' in result.stderr
    assert "nope" in result.stderr


def test_twistdHelpFromAnyDirectory(tmp_path):
    """
    The drop-in is installed with the package: 'twistd jabberd --help'
    works outside the source tree.
    """
    result = subprocess.run(TWISTD + ["jabberd", "--help"],
                            capture_output=True, text=True, timeout=60,
                            cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "--config" in result.stdout


@pytest.fixture
def reloadable(tmp_path):
    server = RunningServer(tmp_path, hosts=("localhost", "example.net"))
    server.start()
    server.adduser("alice@localhost")
    server.adduser("carol@example.net")
    yield server
    server.stop()


def _reconfigure(server, hosts):
    server.hosts = hosts
    server.writeConfig()


def _reloadedCount(server):
    return server.logText().count("config reloaded")


def test_sighupReload(reloadable):
    """
    SIGHUP re-reads the config: a removed domain's sessions get
    <host-gone/>, an added domain accepts logins, and the sessions of the
    domain that stayed keep working.
    """
    async def scenario():
        alice = await Client("alice@localhost/r", PASSWORD,
                             reloadable).login()
        await alice.goOnline()
        carol = await Client("carol@example.net/r", PASSWORD,
                             reloadable).login()
        gone = asyncio.Queue()
        carol.add_event_handler("stream_error", gone.put_nowait)
        _reconfigure(reloadable, ("localhost", "example.org"))
        os.kill(reloadable.process.pid, signal.SIGHUP)
        error = await asyncio.wait_for(gone.get(), 10)
        assert error["condition"] == "host-gone"
        pong = await alice.plugin["xep_0199"].send_ping("localhost",
                                                         timeout=5)
        assert pong["type"] == "result"
        reloadable.adduser("dave@example.org")
        dave = await Client("dave@example.org/new", PASSWORD,
                            reloadable).login()
        dave.send_message(mto="alice@localhost", mbody="new domain")
        message = await alice.nextMessage()
        assert str(message["from"]) == "dave@example.org/new"
        alice.disconnect()
        dave.disconnect()
    run(scenario())


def test_jabberctlReload(reloadable):
    """
    'jabberctl reload' signals the running server, which then serves the
    domain added to the config.
    """
    before = _reloadedCount(reloadable)
    _reconfigure(reloadable, ("localhost", "example.net", "third.example"))
    result = reloadable.ctl("reload")
    assert result.returncode == 0, result.stderr
    assert _waitFor(lambda: _reloadedCount(reloadable) > before)
    raw = RawStream(reloadable)
    raw.open("third.example")
    assert "<stream:features>" in raw.readUntil("</stream:features>")


def test_badReloadKeepsRunning(reloadable):
    """
    A broken config on reload is refused whole and logged; the server
    keeps serving with the old one.
    """
    with open(reloadable.configPath, "a") as f:
        f.write("bogus_key = 1\n")
    os.kill(reloadable.process.pid, signal.SIGHUP)
    assert _waitFor(lambda: "config reload refused" in reloadable.logText())
    assert "bogus_key" in reloadable.logText()
    raw = RawStream(reloadable)
    raw.open("example.net")
    assert "<stream:features>" in raw.readUntil("</stream:features>")


def test_jsonLogs(tmp_path):
    """
    With log_format = "json" every log line is a JSON object carrying the
    event's fields.
    """
    server = RunningServer(tmp_path, hosts=("localhost",),
                           extra='log_format = "json"')
    server.start()
    server.stop()
    lines = [l for l in server.logText().splitlines() if l.strip()]
    events = [json.loads(l) for l in lines]
    assert any(e.get("domain") == "localhost" for e in events)
