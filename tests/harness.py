"""
Run the real server for integration tests: C{twistd -n jabberd} in a
subprocess on a loopback port, configured from a TOML text, with accounts
made by the real C{jabberctl}.  Clients (slixmpp, raw sockets) connect over
real TCP and TLS.
"""

import asyncio
import os
import weakref
import socket
import ssl
import subprocess
import sys
import time

import slixmpp

from jabberd.config import loadConfig
from jabberd.storage.contract import credentialsFor
from jabberd.storage.database import Database
from jabberd.storage.users import createUserTxn

PASSWORD = "correct horse battery"

_clients = weakref.WeakSet()


def runScenario(coroutine, timeout=60):
    """
    Run an asyncio test scenario, then end every client stream it left
    open and wait for them to close, so that the server has seen each of
    those sessions end before the next test starts.
    """
    async def main():
        try:
            return await asyncio.wait_for(coroutine, timeout)
        finally:
            await closeClients()
    return asyncio.run(main())


async def closeClients(timeout=3):
    """
    Disconnect the clients of the running loop that are still connected.
    """
    loop = asyncio.get_running_loop()
    clients = [c for c in list(_clients)
               if c.loop is loop and c.transport is not None]
    if clients:
        await asyncio.wait([c.disconnect(wait=1.0) for c in clients],
                           timeout=timeout)
    for client in clients:
        if client.transport is not None:
            client.transport.abort()


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

    def createAccounts(self, jids):
        """
        Make accounts (bare JIDs) directly in the server's database, before
        it starts: one derivation of L{PASSWORD} for all, where C{adduser}
        derives per account.
        """
        database = Database(loadConfig(self.configPath).storage, None)
        try:
            database.checkSchema(True)
            credentials = credentialsFor(PASSWORD)
            for jid in jids:
                user, domain = jid.split("@")
                database.runNow(createUserTxn, domain, user, credentials)
        finally:
            database.dispose()

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
        _clients.add(self)
        self.jabberd = server
        self.ssl_context = server.sslContext()
        # slixmpp tries direct TLS (XEP-0368) first on an explicit port;
        # our c2s listeners speak STARTTLS.
        self.enable_direct_tls = False
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

    async def goOnline(self, timeout=5, **presence):
        """
        Send initial presence (RFC 6121 section 4.2) and wait for the
        server to echo it back, as it does to the sending resource: from
        then on the session is available and gets bare-JID messages.
        """
        echoed = asyncio.get_event_loop().create_future()

        def seen(stanza):
            if stanza["from"] == self.boundjid and not echoed.done():
                echoed.set_result(stanza)

        self.add_event_handler("presence_available", seen)
        self.send_presence(**presence)
        try:
            await asyncio.wait_for(echoed, timeout)
        finally:
            self.del_event_handler("presence_available", seen)
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


# -- Helpers for the auth, limits and registration integration tests ---------

import base64  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402

from OpenSSL import SSL  # noqa: E402

NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"


def tomlValue(value):
    """
    A Python bool, number, string or list of those, written as TOML.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[%s]" % (", ".join(tomlValue(v) for v in value),)
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


class TunedServer(RunningServer):
    """
    A L{RunningServer} whose global C{options} replace the harness's
    defaults (such as C{auth_failure_delay}) instead of repeating them,
    which TOML forbids.
    """

    def __init__(self, directory, options=None, **kwargs):
        self.options = dict(options or {})
        RunningServer.__init__(self, directory, **kwargs)

    def writeConfig(self, extra="", hostExtra=None):
        RunningServer.writeConfig(self, extra, hostExtra)
        with open(self.configPath) as f:
            lines = f.read().split("\n")
        tables = next((i for i, line in enumerate(lines)
                       if line.startswith("[")), len(lines))
        kept = [line for line in lines[:tables]
                if line.split("=")[0].strip() not in self.options]
        settings = ["%s = %s" % (key, tomlValue(value))
                    for key, value in self.options.items()]
        with open(self.configPath, "w") as f:
            f.write("\n".join(settings + kept + lines[tables:]))


class TLSRawStream(RawStream):
    """
    A L{RawStream} that can upgrade itself with STARTTLS through pyOpenSSL
    (memory BIOs, so the socket's timeout still applies), which exposes
    what channel binding needs: the exported keying material and the
    server's certificate.  Reads are buffered: L{readUntil} returns the
    text up to and including its needle and keeps the rest.

    @ivar tls: the L{SSL.Connection} once TLS is up, else C{None}.
    """

    tls = None

    def __init__(self, server, timeout=5):
        RawStream.__init__(self, server, timeout)
        self.pending = b""

    def send(self, data):
        data = data if isinstance(data, bytes) else data.encode()
        if self.tls is None:
            self.sock.sendall(data)
        else:
            self.tls.sendall(data)
            self._flush()

    def _flush(self):
        while True:
            try:
                data = self.tls.bio_read(65536)
            except SSL.WantReadError:
                return
            self.sock.sendall(data)

    def _receive(self):
        """
        The next bytes from the server, decrypted once TLS is up; C{b""}
        when it closed the connection.
        """
        if self.tls is None:
            return self.sock.recv(65536)
        while True:
            try:
                return self.tls.recv(65536)
            except SSL.WantReadError:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return b""
                self.tls.bio_write(chunk)
            except (SSL.ZeroReturnError, SSL.SysCallError):
                return b""

    def readUntil(self, needle, limit=1 << 20):
        needle = needle.encode()
        while needle not in self.pending and len(self.pending) < limit:
            chunk = self._receive()
            if not chunk:
                break
            self.pending += chunk
        index = self.pending.find(needle)
        end = len(self.pending) if index < 0 else index + len(needle)
        data, self.pending = self.pending[:end], self.pending[end:]
        return data.decode("utf-8", "replace")

    def openStream(self, to="localhost"):
        """
        Send a stream header; return the text up to the end of the
        server's features.
        """
        self.open(to)
        return self.readUntil("</stream:features>")

    def startTLS(self, serverName=None, maxVersion=None):
        """
        Ask for TLS (RFC 6120 section 5.4.2), expect C{<proceed/>}, and do
        the handshake, with SNI C{serverName} if given.
        """
        self.send("<starttls xmlns='%s'/>" % (NS_TLS,))
        answer = self.readUntil("/>")
        assert "<proceed" in answer, answer
        context = SSL.Context(SSL.TLS_CLIENT_METHOD)
        if maxVersion is not None:
            context.set_max_proto_version(maxVersion)
        self.tls = SSL.Connection(context, None)
        if serverName is not None:
            self.tls.set_tlsext_host_name(serverName.encode("idna"))
        self.tls.set_connect_state()
        self._handshake()

    def _handshake(self):
        while True:
            try:
                self.tls.do_handshake()
                break
            except SSL.WantReadError:
                self._flush()
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed during the TLS handshake")
                self.tls.bio_write(chunk)
        self._flush()

    def serverCertificate(self):
        """
        The certificate the server presented (a C{cryptography} object).
        """
        return self.tls.get_peer_certificate(as_cryptography=True)

    def sasl(self, mechanism, data=None):
        """
        Send C{<auth/>} with C{data} (bytes) as its initial response.
        """
        text = "" if data is None else (
            base64.b64encode(data).decode() or "=")
        self.send("<auth xmlns='%s' mechanism='%s'>%s</auth>"
                  % (NS_SASL, mechanism, text))

    def respond(self, data):
        self.send("<response xmlns='%s'>%s</response>"
                  % (NS_SASL, base64.b64encode(data).decode() or "="))

    def readMatch(self, pattern):
        """
        Read until the regular expression C{pattern} matches the text
        received; consume and return the match (C{None} if the server
        closed first).
        """
        regex = re.compile(pattern.encode(), re.DOTALL)
        while regex.search(self.pending) is None:
            chunk = self._receive()
            if not chunk:
                return None
            self.pending += chunk
        match = regex.search(self.pending)
        self.pending = self.pending[match.end():]
        return re.match(pattern, match.group(0).decode(), re.DOTALL)

    def readElement(self, *names):
        """
        The next complete top-level element named one of C{names}, as a
        match whose group 1 is the name and group 0 the element's text.
        """
        alternatives = "|".join(re.escape(name) for name in names)
        return self.readMatch(r"<(%s)\b(?:[^>]*/>|.*?</\1>)" % (alternatives,))

    def readStanza(self, name, stanzaID):
        """
        The text of the next C{name} element with id C{stanzaID}; C{None}
        if the server closed first.  Elements before it are passed over.
        """
        match = self.readMatch(
            r"<%s\b[^>]*\bid=['\"]%s['\"][^>]*?(?:/>|>.*?</%s>)"
            % (name, re.escape(stanzaID), name))
        return match.group(0) if match else None

    def saslAnswer(self):
        """
        The server's next SASL element, as C{(name, text)}: C{name} is
        C{challenge}, C{success} or C{failure}; C{text} is the element.
        """
        match = self.readElement("challenge", "success", "failure")
        assert match is not None, "closed: " + self.pending.decode()
        return match.group(1), match.group(0)

    def plainLogin(self, user, password=PASSWORD):
        """
        SASL PLAIN (RFC 4616); return the server's answer element name.
        """
        self.sasl("PLAIN", ("\0%s\0%s" % (user, password)).encode())
        return self.saslAnswer()[0]

    def bind(self, resource):
        """
        Restart the stream after SASL and bind C{resource}; return the
        bound JID (RFC 6120 section 7).
        """
        self.openStream(self.to)
        self.send("<iq type='set' id='bind1'><bind xmlns='%s'><resource>%s"
                  "</resource></bind></iq>" % (NS_BIND, resource))
        answer = self.readElement("iq").group(0)
        match = re.search(r"<jid>([^<]*)</jid>", answer)
        assert match, answer
        return match.group(1)

    def open(self, to="localhost"):
        self.to = to
        RawStream.open(self, to)


def saslData(elementText):
    """
    The decoded base64 content of a SASL element's text.
    """
    match = re.search(r">([^<]*)<", elementText)
    content = match.group(1).strip() if match else ""
    return b"" if content in ("", "=") else base64.b64decode(content)


def tlsLogin(server, user, to="localhost", resource="raw", password=PASSWORD,
             timeout=5):
    """
    A L{TLSRawStream} that did STARTTLS, PLAIN and bound C{resource}.
    """
    stream = TLSRawStream(server, timeout)
    stream.openStream(to)
    stream.startTLS(to)
    stream.openStream(to)
    assert stream.plainLogin(user, password) == "success"
    stream.jid = stream.bind(resource)
    return stream
