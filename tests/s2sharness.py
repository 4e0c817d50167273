"""
Federation test harness: jabberd processes configured for server-to-server
traffic, a real Prosody from Debian's package run unprivileged with its
own config file, a loopback DNS server, and slixmpp clients that record
messages and presence.

Set C{KEEP_PROSODY=1} to keep each Prosody's directory (config, log) in
C{/tmp/prosody-*} after the tests, for debugging; C{KEEP_EJABBERD=1}
does the same for ejabberd's (C{/tmp/ejabberd-*}).
"""

import asyncio
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import pytest

from dnsserver import zoneSource
from harness import PASSWORD, Client, RunningServer, freePort, tomlValue

HERE = os.path.dirname(os.path.abspath(__file__))


def waitForPort(address, port, timeout=20, process=None, log=None):
    """
    Wait until something accepts TCP connections on C{address:port}.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError("exited: " + (log() if log else ""))
        try:
            socket.create_connection((address, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listening on %s:%d" % (address, port))


def combinedCAFile(directory, paths):
    """
    One PEM file holding every certificate in C{paths}.
    """
    path = os.path.join(str(directory), "trusted-%d.pem" % (len(paths),))
    with open(path, "w") as out:
        for name in paths:
            with open(name) as f:
                out.write(f.read())
    return path


class FederatedServer(RunningServer):
    """
    A jabberd serving one domain with federation on, its s2s listener on
    C{s2sAddress}.

    @ivar s2sPort: the s2s listener's port.
    @ivar trusted: PEM files a client trusts to reach this server's c2s.
    """

    def __init__(self, directory, domain, s2sAddress="127.0.0.1",
                 options=None, hostOptions=None, certificate=None,
                 trusted=(), extraDomains=()):
        self.domain = domain
        self.extraDomains = tuple(extraDomains)
        self.s2sAddress = s2sAddress
        self.s2sPort = freePort(s2sAddress)
        self.options = dict(options or {})
        self.hostOptions = dict(hostOptions or {})
        if certificate is not None:
            self.hostOptions["tls_certificate"] = certificate[0]
            self.hostOptions["tls_key"] = certificate[1]
        self.trusted = list(trusted)
        RunningServer.__init__(self, directory,
                               hosts=(domain,) + self.extraDomains)

    def writeConfig(self, extra="", hostExtra=None):
        options = {"s2s_listeners": ["tcp:%d:interface=%s" % (
            self.s2sPort, self.s2sAddress)], "log_level": "debug"}
        options.update(self.options)
        lines = ["%s = %s" % (key, _toml(value))
                 for key, value in options.items()]
        hostOptions = {"s2s_enabled": True,
                       "plugins": ["ping", "roster", "presence", "message"]}
        hostOptions.update(self.hostOptions)
        host = "\n".join("%s = %s" % (key, _toml(value))
                         for key, value in hostOptions.items())
        extra = "\n".join("%s = %s" % (key, _toml(value))
                          for key, value in hostOptions.items()
                          if not key.startswith("tls_"))
        tables = {domain: extra for domain in self.extraDomains}
        tables[self.domain] = host
        RunningServer.writeConfig(self, "\n".join(lines), tables)

    def sslContext(self):
        paths = list(self.trusted)
        for domain in (self.domain,) + self.extraDomains:
            selfSigned = os.path.join(self.dataDir, "certs", domain + ".crt")
            if os.path.exists(selfSigned):
                paths.append(selfSigned)
        return ssl.create_default_context(
            cafile=combinedCAFile(self.directory, paths))

    def route(self):
        """
        This server's s2s address as a static route value.
        """
        return "%s:%d" % (self.s2sAddress, self.s2sPort)


def _toml(value):
    if isinstance(value, dict):
        return "{ %s }" % ", ".join("%s = %s" % (tomlValue(k), _toml(v))
                                    for k, v in value.items())
    return tomlValue(value)


class DNSServer:
    """
    The loopback DNS server of L{dnsserver}, in a process.
    """

    def __init__(self, directory, origin, records, address="127.0.0.1"):
        self.address = address
        self.port = freePort(address)
        self.zonePath = os.path.join(str(directory), "zone.py")
        with open(self.zonePath, "w") as f:
            f.write(zoneSource(origin, records))
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "dnsserver.py"),
             self.address, str(self.port), self.zonePath],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.process.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError("DNS server did not start: " + line
                               + self.process.stdout.read())
        return self

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


PROSODY_CONFIG = """\
pidfile = "{dir}/prosody.pid"
data_path = "{dir}/data"
interfaces = {{ "{address}" }}
c2s_ports = {{ {c2sPort} }}
s2s_ports = {{ {s2sPort} }}
c2s_direct_tls_ports = {{ }}
s2s_direct_tls_ports = {{ }}
modules_enabled = {{ "roster"; "saslauth"; "tls"; "dialback"; "disco"; "ping"; "posix" }}
modules_disabled = {{ "admin_shell"; "admin_socket" }}
log = {{ debug = "{dir}/prosody.log" }}
authentication = "internal_hashed"
c2s_require_encryption = true
s2s_require_encryption = true
s2s_secure_auth = {secureAuth}
s2s_timeout = 20
unbound = {{ forward = "{dnsAddress}@{dnsPort}"; resolvconf = false; hoststxt = false }}
ssl = {{ cafile = "{caFile}" }}
certificates = "{dir}/certs"
VirtualHost "{domain}"
  ssl = {{ certificate = "{certificate}"; key = "{key}"; cafile = "{caFile}" }}
"""


def prosodyInstalled():
    return shutil.which("prosody") is not None


class ProsodyServer:
    """
    A Prosody process serving C{domain} on C{address}, as the C{prosody}
    user when the tests run as root (Prosody refuses to run as root).
    """

    def __init__(self, domain, address, certificate, caFile, dns,
                 secureAuth):
        self.domain = domain
        self.address = address
        self.directory = tempfile.mkdtemp(prefix="prosody-")
        os.chmod(self.directory, 0o755)
        self.c2sPort = freePort(address)
        self.s2sPort = freePort(address)
        self.configPath = os.path.join(self.directory, "prosody.cfg.lua")
        self.logPath = os.path.join(self.directory, "prosody.log")
        certPath, keyPath = self._copy(certificate[0]), self._copy(
            certificate[1])
        self.caFile = self._copy(caFile)
        os.makedirs(os.path.join(self.directory, "data"))
        os.makedirs(os.path.join(self.directory, "certs"))
        with open(self.configPath, "w") as f:
            f.write(PROSODY_CONFIG.format(
                dir=self.directory, address=address, c2sPort=self.c2sPort,
                s2sPort=self.s2sPort, domain=domain,
                secureAuth="true" if secureAuth else "false",
                dnsAddress=dns.address, dnsPort=dns.port,
                caFile=self.caFile, certificate=certPath, key=keyPath))
        self._own()
        self.process = None

    def _copy(self, path):
        target = os.path.join(self.directory, os.path.basename(path))
        shutil.copyfile(path, target)
        return target

    def _own(self):
        if os.getuid() != 0:
            return
        import pwd
        user = pwd.getpwnam("prosody")
        for root, dirs, files in os.walk(self.directory):
            for name in [root] + [os.path.join(root, n) for n in dirs + files]:
                os.chown(name, user.pw_uid, user.pw_gid)

    def _user(self):
        return {"user": "prosody", "group": "prosody"} if os.getuid() == 0 \
            else {}

    def start(self):
        self.out = open(os.path.join(self.directory, "stdout.txt"), "wb")
        self.process = subprocess.Popen(
            ["prosody", "-F", "--config", self.configPath],
            stdout=self.out, stderr=subprocess.STDOUT, cwd=self.directory,
            start_new_session=True, **self._user())
        waitForPort(self.address, self.s2sPort, process=self.process,
                    log=self.logText)
        waitForPort(self.address, self.c2sPort, process=self.process,
                    log=self.logText)
        return self

    def register(self, user, password=PASSWORD):
        result = subprocess.run(
            ["prosodyctl", "--config", self.configPath, "register", user,
             self.domain, password], capture_output=True, text=True,
            timeout=60, cwd=self.directory, **self._user())
        assert result.returncode == 0, result.stdout + result.stderr
        return "%s@%s" % (user, self.domain)

    def logText(self):
        try:
            with open(self.logPath, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None:
            self.out.close()
        if not os.environ.get("KEEP_PROSODY"):
            shutil.rmtree(self.directory, ignore_errors=True)

    def route(self):
        return "%s:%d" % (self.address, self.s2sPort)


class PeerClient(Client):
    """
    A slixmpp client for any of the test servers (jabberd or Prosody),
    recording messages and presence, accepting and returning
    subscriptions like a person who adds back whoever adds them.
    """

    def __init__(self, jid, server, address, port, password=PASSWORD):
        self.address, self.c2sPort = address, port
        Client.__init__(self, jid, password, server)
        self.presences = asyncio.Queue()
        self.auto_authorize = True
        self.auto_subscribe = True
        self.add_event_handler("presence", self.presences.put_nowait)

    async def login(self, timeout=20):
        self.connect(host=self.address, port=self.c2sPort)
        await asyncio.wait_for(self.started, timeout)
        return self

    async def presenceFrom(self, bare, timeout=10, show=None):
        """
        The next available presence from C{bare}'s resources (with
        C{show} if given).
        """
        deadline = asyncio.get_event_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_event_loop().time()
            presence = await asyncio.wait_for(self.presences.get(),
                                              max(remaining, 0.01))
            if presence["from"].bare != bare or presence["type"] in (
                    "unavailable", "error", "subscribe", "subscribed",
                    "unsubscribe", "unsubscribed", "probe"):
                continue
            if show is None or presence["show"] == show:
                return presence

    async def subscriptionWith(self, bare, wanted, timeout=15):
        """
        Wait until the roster item for C{bare} has subscription C{wanted},
        as the server's roster pushes say; return the last state seen.
        """
        deadline = asyncio.get_event_loop().time() + timeout
        state = None
        while asyncio.get_event_loop().time() < deadline:
            if bare in self.client_roster:
                state = self.client_roster[bare]["subscription"]
                if state == wanted:
                    return state
            await asyncio.sleep(0.1)
        return state


class RawPeer:
    """
    A hand-written server-to-server stream to a jabberd, for what a real
    server would never send (forged addresses, bogus dialback keys).
    Reads are buffered: L{readUntil} returns up to its needle and keeps
    the rest.
    """

    def __init__(self, address, port, timeout=10):
        self.sock = socket.create_connection((address, port),
                                             timeout=timeout)
        self.pending = b""

    def send(self, text):
        self.sock.sendall(text.encode("utf-8"))

    def readUntil(self, *needles):
        """
        Read until one of C{needles} arrived or the peer closed; return
        the text up to the end of the needle (everything, if closed).
        """
        encoded = [n.encode() for n in needles]
        while True:
            found = [(self.pending.find(n), n) for n in encoded
                     if self.pending.find(n) >= 0]
            if found:
                index, needle = min(found)
                end = index + len(needle)
                data, self.pending = self.pending[:end], self.pending[end:]
                return data.decode("utf-8", "replace")
            try:
                chunk = self.sock.recv(65536)
            except (ssl.SSLError, OSError):
                chunk = b""
            if not chunk:
                data, self.pending = self.pending, b""
                return data.decode("utf-8", "replace")
            self.pending += chunk

    def open(self, to, sender):
        """
        Send a stream header; return the text up to the end of the
        features.
        """
        self.send("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
                  "xmlns:stream='http://etherx.jabber.org/streams' "
                  "xmlns:db='jabber:server:dialback' to='%s' from='%s' "
                  "version='1.0'>" % (to, sender))
        return self.readUntil("</stream:features>", "<stream:features/>")

    def startTLS(self, serverName, certificate=None):
        """
        STARTTLS, presenting C{certificate} (C{(certPath, keyPath)}) if
        given; the server's certificate is not checked here.
        """
        self.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        answer = self.readUntil("/>")
        assert "<proceed" in answer, answer
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if certificate is not None:
            context.load_cert_chain(*certificate)
        self.sock = context.wrap_socket(self.sock, server_hostname=serverName)

    def saslExternal(self, to, sender):
        """
        Authenticate as C{sender} with SASL EXTERNAL and restart the
        stream; return the server's answer to C{<auth/>}.
        """
        self.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
                  "mechanism='EXTERNAL'>=</auth>")
        answer = self.readUntil("/>", "</failure>")
        if "<success" in answer:
            self.open(to, sender)
        return answer

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class SilentPeer:
    """
    A TCP listener that accepts connections and never says a word: a
    remote server that does not answer.
    """

    def __init__(self, address="127.0.0.1"):
        self.sock = socket.socket()
        self.sock.bind((address, 0))
        self.sock.listen(16)
        self.address, self.port = self.sock.getsockname()

    def route(self):
        return "%s:%d" % (self.address, self.port)

    def close(self):
        self.sock.close()


EJABBERD_CONFIG = """\
hosts: ["{domain}"]
loglevel: info
certfiles:
  - "{certificate}"
  - "{key}"
ca_file: "{caFile}"
auth_method: sql
auth_password_format: plain
sql_type: sqlite
sql_database: "{dir}/ejabberd.db"
default_db: sql
new_sql_schema: false
s2s_use_starttls: required
s2s_access: s2s
s2s_timeout: 20
s2s_dns_timeout: 5
s2s_dns_retries: 1
outgoing_s2s_families: [ipv4]
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
  s2s:
    allow: all
listen:
  -
    port: {c2sPort}
    ip: "{address}"
    module: ejabberd_c2s
    starttls_required: true
    access: c2s
  -
    port: {s2sPort}
    ip: "{address}"
    module: ejabberd_s2s_in
modules:
  mod_roster: {{}}
  mod_disco: {{}}
  mod_ping: {{}}
{dialback}"""


def ejabberdLibraries():
    """
    The directory holding Debian's C{ejabberd-<version>} Erlang
    application (for C{ERL_LIBS}), or C{None} if it is not installed.
    """
    import glob
    found = glob.glob("/usr/lib/*/ejabberd-*/priv/sql/lite.sql")
    return os.path.dirname(found[0].rsplit("/priv/", 1)[0]) if found else None


def ejabberdInstalled():
    """
    Whether Debian's C{ejabberd} and C{erlang-p1-sqlite3} are installed.
    """
    import glob
    return shutil.which("ejabberdctl") is not None and \
        ejabberdLibraries() is not None and \
        bool(glob.glob("/usr/lib/erlang/lib/p1_sqlite3-*"))


class EjabberdServer:
    """
    An ejabberd (Debian's 23.01) serving C{domain} on C{address}, started
    with C{erl -s ejabberd} from a temp dir (as the C{ejabberd} user when
    the tests run as root), accounts in SQLite with plain passwords.

    ejabberd's resolver is Erlang's C{inet_res}: an C{inetrc} file
    (C{ERL_INETRC}) points it at the loopback DNS server only, for SRV
    lookups (RFC 6120 section 3.2.1; ejabberd resolves the SRV targets
    with C{net:getaddrinfo}, the system's resolver), with recursion off
    (C{inet_db:set_recurse(false)}, not settable in C{inetrc}): OTP 25
    rejects answers whose RD bit differs from the query's, and the
    loopback server, authoritative only, answers with RD clear.

    @param dialback: whether C{mod_s2s_dialback} (XEP-0220) is on; off,
        only SASL EXTERNAL with verified certificates authenticates.
    """

    def __init__(self, domain, address, certificate, caFile, dns, dialback):
        self.domain = domain
        self.address = address
        self.directory = tempfile.mkdtemp(prefix="ejabberd-")
        os.chmod(self.directory, 0o755)
        self.c2sPort = freePort(address)
        self.s2sPort = freePort(address)
        self.configPath = os.path.join(self.directory, "ejabberd.yml")
        self.logPath = os.path.join(self.directory, "ejabberd.log")
        self.inetrcPath = os.path.join(self.directory, "inetrc")
        certPath, keyPath = self._copy(certificate[0]), self._copy(
            certificate[1])
        with open(self.configPath, "w") as f:
            f.write(EJABBERD_CONFIG.format(
                dir=self.directory, domain=domain, address=address,
                c2sPort=self.c2sPort, s2sPort=self.s2sPort,
                certificate=certPath, key=keyPath,
                caFile=self._copy(caFile),
                dialback="  mod_s2s_dialback: {}\n" if dialback else ""))
        with open(self.inetrcPath, "w") as f:
            f.write("{resolv_conf, \"\"}.\n{nameserver, {%s}, %d}.\n"
                    "{lookup, [dns]}.\n" % (
                        dns.address.replace(".", ","), dns.port))
        self._createDatabase()
        self.users = []
        self.process = None

    def _copy(self, path):
        target = os.path.join(self.directory, os.path.basename(path))
        shutil.copyfile(path, target)
        return target

    def _createDatabase(self):
        import glob
        import sqlite3
        schema = glob.glob(os.path.join(ejabberdLibraries(), "ejabberd-*",
                                        "priv", "sql", "lite.sql"))[0]
        with sqlite3.connect(os.path.join(self.directory, "ejabberd.db")) \
                as db, open(schema) as f:
            db.executescript(f.read())

    def register(self, user, password=PASSWORD):
        """
        Create an account (before L{start}: a row in ejabberd's SQLite
        C{users} table, a plain password since C{auth_password_format}
        is C{plain}).
        """
        import sqlite3
        with sqlite3.connect(os.path.join(self.directory, "ejabberd.db")) \
                as db:
            db.execute("insert into users (username, password) values (?, ?)",
                       (user, password))
        return "%s@%s" % (user, self.domain)

    def _own(self):
        if os.getuid() != 0:
            return
        for root, dirs, files in os.walk(self.directory):
            for name in [root] + [os.path.join(root, n) for n in dirs + files]:
                shutil.chown(name, "ejabberd", "ejabberd")

    def _user(self):
        return {"user": "ejabberd", "group": "ejabberd"} \
            if os.getuid() == 0 else {}

    def _environment(self):
        env = dict(os.environ)
        env.update(EJABBERD_CONFIG_PATH=self.configPath,
                   EJABBERD_LOG_PATH=self.logPath,
                   ERL_LIBS=ejabberdLibraries(), HOME=self.directory,
                   ERL_INETRC=self.inetrcPath)
        return env

    def start(self):
        self._own()
        self.out = open(os.path.join(self.directory, "stdout.txt"), "wb")
        self.process = subprocess.Popen(
            ["erl", "-noinput", "-noshell", "-mnesia", "dir",
             '"%s/mnesia"' % (self.directory,),
             "-eval", "inet_db:set_recurse(false)", "-s", "ejabberd"],
            stdout=self.out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=self.directory, env=self._environment(),
            start_new_session=True, **self._user())
        for port in (self.s2sPort, self.c2sPort):
            waitForPort(self.address, port, timeout=60, process=self.process,
                        log=self.logText)
        return self

    def logText(self):
        try:
            with open(self.logPath, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def searchLog(self, pattern, timeout=10):
        """
        Wait until C{pattern} (a regular expression) matches the log,
        which ejabberd's logger writes out a while after the event.

        @return: the match, or C{None} after C{timeout} seconds.
        """
        import re
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.logText())
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.process is not None:
            self.out.close()
        if not os.environ.get("KEEP_EJABBERD"):
            shutil.rmtree(self.directory, ignore_errors=True)

    def route(self):
        return "%s:%d" % (self.address, self.s2sPort)


# -- interop scenarios shared by the Prosody and ejabberd tests ---------------


async def loginBoth(local, remote):
    """
    Log both clients in, fetch their rosters and send initial presence.
    """
    for client in (local, remote):
        await client.login()
    for client in (local, remote):
        await client.get_roster()
        client.send_presence()
    return local, remote


async def chatBothWays(local, remote, timeout=20):
    """
    A chat message to the remote user's bare JID and an answer to the
    local user's full JID, each received stamped with the sender's full
    JID.
    """
    exchanges = ((local, remote, remote.boundjid.bare, "hello over s2s"),
                 (remote, local, str(local.boundjid), "and back"))
    for sender, recipient, to, body in exchanges:
        sender.send_message(mto=to, mbody=body, mtype="chat")
        message = await recipient.nextMessage(timeout)
        assert (message["body"], str(message["from"])) == (
            body, str(sender.boundjid))


async def befriend(local, remote, timeout=20):
    """
    C{local} subscribes to C{remote}, whose client approves and subscribes
    back: both rosters end in C{both}, and a presence change of each
    reaches the other.
    """
    localBare, remoteBare = local.boundjid.bare, remote.boundjid.bare
    local.send_presence_subscription(pto=remoteBare)
    assert await local.subscriptionWith(remoteBare, "both") == "both"
    assert await remote.subscriptionWith(localBare, "both") == "both"
    remote.send_presence(pshow="away", pstatus="in a meeting")
    presence = await local.presenceFrom(remoteBare, show="away",
                                        timeout=timeout)
    assert presence["status"] == "in a meeting"
    local.send_presence(pshow="dnd")
    presence = await remote.presenceFrom(localBare, show="dnd",
                                         timeout=timeout)
    assert str(presence["from"]) == str(local.boundjid)


def requirePeer(installed, name):
    """
    The marker for tests that need a peer server from Debian's packages:
    outside CI a developer without it may skip them; in CI (whose
    C{.ci/run} installs it) a missing peer must fail them, never skip.
    """
    return pytest.mark.skipif(
        not installed() and os.environ.get("CI") != "true",
        reason="%s is not installed (.ci/run installs it)" % (name,))
