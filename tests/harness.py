"""
Run the real server for integration tests: C{twistd -n jabberd} in a
subprocess on a loopback port, configured from a TOML text, with accounts
made by the real C{jabberctl}.  Clients (slixmpp, raw sockets) connect over
real TCP and TLS.
"""

import asyncio
import os
import socket
import ssl
import subprocess
import sys
import time

import slixmpp

PASSWORD = "correct horse battery"


def freePort(host="127.0.0.1"):
    """
    A TCP port that was free a moment ago.
    """
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class RunningServer:
    """
    One jabberd process.

    @ivar port: its c2s port on 127.0.0.1.
    """

    def __init__(self, directory, hosts=("localhost", "example.net"),
                 extra="", hostExtra=None):
        self.directory = str(directory)
        self.hosts = hosts
        self.port = freePort()
        self.configPath = os.path.join(self.directory, "jabberd.toml")
        self.dataDir = os.path.join(self.directory, "data")
        self.logPath = os.path.join(self.directory, "server.log")
        self.writeConfig(extra, hostExtra or {})
        self.process = None

    def writeConfig(self, extra="", hostExtra=None):
        lines = ['data_dir = "%s"' % (self.dataDir,),
                 'c2s_listeners = ["tcp:%d:interface=127.0.0.1"]' % (self.port,),
                 'auth_failure_delay = 0.05',
                 'auth_failure_max_delay = 0.2',
                 extra]
        for domain in self.hosts:
            lines.append('[hosts."%s"]' % (domain,))
            lines.append((hostExtra or {}).get(domain, ""))
        with open(self.configPath, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, timeout=20):
        self.log = open(self.logPath, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from twisted.scripts.twistd import run; "
             "run()", "-n", "--pidfile=", "jabberd",
             "--config", self.configPath],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.directory)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("jabberd exited: " + self.logText())
            if "jabberd started" in self.logText():
                return self
            time.sleep(0.05)
        raise RuntimeError("jabberd did not start: " + self.logText())

    def logText(self):
        with open(self.logPath, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None:
            self.log.close()

    def ctl(self, *args, stdin=None):
        """
        Run C{jabberctl} against this server's config.
        """
        return subprocess.run(
            [sys.executable, "-m", "jabberd.ctl", "--config", self.configPath]
            + list(args), input=stdin, capture_output=True, text=True,
            timeout=60)

    def adduser(self, jid, password=PASSWORD):
        result = self.ctl("adduser", jid, "--password-stdin",
                          stdin=password + "\n")
        assert result.returncode == 0, result.stderr
        return jid

    def caFile(self):
        """
        A PEM file holding every host's self-signed certificate.
        """
        path = os.path.join(self.directory, "ca.pem")
        with open(path, "w") as out:
            for domain in self.hosts:
                with open(os.path.join(self.dataDir, "certs",
                                       domain + ".crt")) as f:
                    out.write(f.read())
        return path

    def sslContext(self):
        return ssl.create_default_context(cafile=self.caFile())


class Client(slixmpp.ClientXMPP):
    """
    A slixmpp client that records what it receives.
    """

    def __init__(self, jid, password, server):
        slixmpp.ClientXMPP.__init__(self, jid, password)
        self.jabberd = server
        self.ssl_context = server.sslContext()
        self.messages = asyncio.Queue()
        self.started = asyncio.get_event_loop().create_future()
        self.register_plugin("xep_0199")
        self.add_event_handler("session_start", self._started)
        self.add_event_handler("failed_all_auth", self._failed)
        self.add_event_handler("message", self.messages.put_nowait)
        self.add_event_handler("message_error", self.messages.put_nowait)

    def _started(self, event):
        if not self.started.done():
            self.started.set_result(True)

    def _failed(self, event):
        if not self.started.done():
            self.started.set_exception(PermissionError("authentication failed"))

    async def login(self, timeout=15):
        self.connect(host="127.0.0.1", port=self.jabberd.port)
        await asyncio.wait_for(self.started, timeout)
        return self

    async def nextMessage(self, timeout=5):
        return await asyncio.wait_for(self.messages.get(), timeout)


class RawStream:
    """
    A plain socket speaking hand-written XML, for edge cases that a client
    library would never send.
    """

    def __init__(self, server, timeout=5):
        self.sock = socket.create_connection(("127.0.0.1", server.port),
                                             timeout=timeout)

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def open(self, to="localhost"):
        self.send("<?xml version='1.0'?><stream:stream to='%s' "
                  "xmlns='jabber:client' version='1.0' "
                  "xmlns:stream='http://etherx.jabber.org/streams'>" % (to,))

    def readUntil(self, needle, limit=1 << 20):
        """
        Read until C{needle} appears or the peer closes; return all text.
        """
        data = b""
        needle = needle.encode()
        while needle not in data and len(data) < limit:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.decode("utf-8", "replace")

    def readAll(self):
        """
        Everything until the server closes the connection.
        """
        return self.readUntil("\0never\0")

    def close(self):
        self.sock.close()
