"""
The servers under test, each started in its own directory on loopback,
pinned to one CPU, with equivalent settings: plaintext client streams,
SCRAM over hashed credentials, rosters, presence and messages, and no
rate limits.

  - L{Jabberd}: this repository's server, provisioned with its own
    storage functions.
  - L{Prosody}: Debian's C{prosody} (0.12), its files written directly.
  - L{Ejabberd}: Debian's C{ejabberd} (23.01) on SQLite, with one Erlang
    scheduler (C{+S 1}), its tables written directly.
  - L{Stub}: C{xmppstub}, a do-nothing server that measures the load
    generator's own ceiling.

Anchors run as their Debian system users when we are root, as packaged
servers do; never as root.
"""

import glob
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time

from accounts import DOMAIN, PASSWORD, SALT, ITERATIONS, allKeys, userName

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKLOG = 1024


def freePort():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def waitForStream(port, timeout=60, process=None):
    """
    Wait until a client stream on C{port} gets its stream features (RFC
    6120 section 4.3.2): the server is up, not merely listening.
    """
    header = ("<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' "
              "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
              % (DOMAIN,)).encode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError("exited with status %s" % (process.returncode,))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(header)
                data = b""
                while b"features" not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                if b"features" in data:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("no stream features on port %d after %ds" % (port, timeout))


def processStat(pid):
    """
    @return: C{(cpuSeconds, rssKilobytes)} of process C{pid}, all threads.
    """
    with open("/proc/%d/stat" % (pid,)) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    with open("/proc/%d/status" % (pid,)) as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return cpu, rss


def descendants(pid):
    """
    @return: C{pid} and every process below it, parents first.
    """
    children = {}
    for entry in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.split("/")[2]))
    found, queue = [], [pid]
    while queue:
        current = queue.pop(0)
        found.append(current)
        queue.extend(children.get(current, []))
    return found


def realtimePrefix():
    """
    The command prefix that runs a program at SCHED_FIFO priority 10, so
    that ordinary processes sharing its CPU cannot delay it by a time
    slice (a few milliseconds); empty where we may not (not root).
    """
    if os.geteuid() != 0 or not shutil.which("chrt"):
        return []
    return ["chrt", "-f", "10"]


def commandName(pid):
    with open("/proc/%d/comm" % (pid,)) as f:
        return f.read().strip()


class Server:
    """
    One server under test.

    @cvar name: its name in the table.
    @cvar processName: the C{comm} of the process to measure, which may be
        a descendant of the one we start (an C{erl} script execs C{beam}).
    @ivar cpu: the CPU list (C{taskset -c}) it is pinned to.
    """

    name = None
    processName = None
    systemUser = None

    def __init__(self, directory, layout, cpu="0"):
        self.directory = directory
        self.layout = layout
        self.cpu = cpu
        self.port = freePort()
        self.process = None
        self.pid = None
        os.makedirs(directory, exist_ok=True)

    def available(self):
        """
        @return: C{None} if this server can run here, else why not.
        """
        return None

    def provision(self):
        """
        Write the configuration and the accounts of L{layout}.
        """
        raise NotImplementedError()

    def command(self):
        raise NotImplementedError()

    def environment(self):
        return dict(os.environ)

    def wrapped(self, command, realtime=False):
        """
        C{command} pinned to L{cpu}, and run as the package's own system
        user when we are root; with C{realtime}, at a SCHED_FIFO priority.
        """
        prefix = (realtimePrefix() if realtime else []) + ["taskset", "-c", self.cpu]
        if self.systemUser and os.geteuid() == 0:
            prefix += ["setpriv", "--reuid", self.systemUser, "--regid",
                       self.systemUser, "--init-groups", "--"]
        return prefix + command

    def start(self, timeout=60, realtime=False):
        log = open(os.path.join(self.directory, "console.log"), "ab")
        self.process = subprocess.Popen(
            self.wrapped(self.command(), realtime), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, cwd=self.directory, env=self.environment())
        log.close()
        try:
            waitForStream(self.port, timeout, self.process)
        except RuntimeError as e:
            self.stop()
            raise RuntimeError("%s did not start: %s; see %s" % (
                self.name, e, self.directory)) from None
        self.pid = self.findProcess()

    def findProcess(self):
        for pid in descendants(self.process.pid):
            if self.processName is None or commandName(pid).startswith(self.processName):
                return pid
        return self.process.pid

    def stat(self):
        return processStat(self.pid)

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def chownToSystemUser(self):
        if self.systemUser and os.geteuid() == 0:
            shutil.chown(self.directory, self.systemUser, self.systemUser)
            for root, dirs, files in os.walk(self.directory):
                for name in dirs + files:
                    shutil.chown(os.path.join(root, name), self.systemUser,
                                 self.systemUser)


class Jabberd(Server):
    """
    jabberd from this repository, started the way C{tests/harness.py} does.
    """

    name = "jabberd"

    def configText(self):
        return "\n".join([
            'data_dir = "%s"' % (os.path.join(self.directory, "data"),),
            'c2s_listeners = ["tcp:%d:interface=127.0.0.1:backlog=%d"]'
            % (self.port, BACKLOG),
            "max_connections_per_address = 1000000",
            "c2s_read_rate = 0",
            'log_level = "warn"',
            '[hosts."%s"]' % (DOMAIN,),
            "c2s_require_encryption = false",
            'sasl_mechanisms = ["SCRAM-SHA-1", "SCRAM-SHA-256"]',
            'plugins = ["roster", "presence", "message"]',
            ""])

    @property
    def configPath(self):
        return os.path.join(self.directory, "jabberd.toml")

    def provision(self):
        with open(self.configPath, "w") as f:
            f.write(self.configText())
        # A kept --workdir may hold an earlier run's accounts.
        shutil.rmtree(os.path.join(self.directory, "data"), ignore_errors=True)
        sys.path.insert(0, REPOSITORY)
        from jabberdaccounts import provisionJabberd  # needs the repository
        provisionJabberd(self.configPath, self.layout)

    def command(self):
        return [sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
                "-n", "--pidfile=", "jabberd", "--config", self.configPath]

    def environment(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = REPOSITORY + os.pathsep + env.get("PYTHONPATH", "")
        return env


class Prosody(Server):
    """
    Prosody from Debian, with C{internal_hashed} accounts in its file store.
    """

    name = "Prosody"
    processName = "lua"
    systemUser = "prosody"

    def available(self):
        return None if shutil.which("prosody") else "prosody is not installed"

    def configText(self):
        d = self.directory
        return "\n".join([
            'pidfile = "%s/prosody.pid"' % (d,),
            'data_path = "%s/data"' % (d,),
            'certificates = "%s/certs"' % (d,),
            'log = { warn = "%s/prosody.log" }' % (d,),
            'interfaces = { "127.0.0.1" }',
            "c2s_ports = { %d }" % (self.port,),
            'modules_enabled = { "roster", "saslauth" }',
            'modules_disabled = { "s2s" }',
            'authentication = "internal_hashed"',
            'storage = "internal"',
            "c2s_require_encryption = false",
            "allow_unencrypted_plain_auth = false",
            'network_backend = "epoll"',
            "network_settings = { tcp_backlog = %d }" % (BACKLOG,),
            'VirtualHost "%s"' % (DOMAIN,),
            ""])

    def provision(self):
        os.makedirs(os.path.join(self.directory, "certs"), exist_ok=True)
        with open(os.path.join(self.directory, "prosody.cfg.lua"), "w") as f:
            f.write(self.configText())
        host = os.path.join(self.directory, "data", DOMAIN.replace(".", "%2e"))
        for store in ("accounts", "roster"):
            os.makedirs(os.path.join(host, store), exist_ok=True)
        keys = allKeys()["SCRAM-SHA-1"]
        account = _luaTable({"iteration_count": ITERATIONS, "salt": SALT.decode(),
                             "stored_key": keys.storedKey.hex(),
                             "server_key": keys.serverKey.hex()})
        for index in range(self.layout.users):
            name = userName(index)
            _write(os.path.join(host, "accounts", name + ".dat"), account)
            contacts = self.layout.contacts(index)
            if contacts:
                _write(os.path.join(host, "roster", name + ".dat"),
                       _prosodyRoster(contacts))
        self.chownToSystemUser()

    def command(self):
        return ["prosody", "-F", "--config",
                os.path.join(self.directory, "prosody.cfg.lua")]


def _luaTable(fields):
    items = "".join('\t["%s"] = %s;\n' % (k, '"%s"' % (v,) if isinstance(v, str) else v)
                    for k, v in fields.items())
    return "return {\n%s};\n" % (items,)


def _prosodyRoster(contacts):
    lines = ["return {", '\t[false] = { ["version"] = 1; ["pending"] = {}; };']
    lines += ['\t["%s@%s"] = { ["subscription"] = "both"; ["groups"] = {}; };'
              % (userName(c), DOMAIN) for c in contacts]
    return "\n".join(lines + ["};", ""])


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


class Ejabberd(Server):
    """
    ejabberd from Debian on one Erlang scheduler, accounts and rosters in
    SQLite (SCRAM-SHA-1, C{auth_password_format: scram}).
    """

    name = "ejabberd"
    processName = "beam"
    systemUser = "ejabberd"

    def available(self):
        if not shutil.which("erl") or not self.libraryDirectory():
            return "ejabberd is not installed"
        if not glob.glob("/usr/lib/erlang/lib/p1_sqlite3-*"):
            return "erlang-p1-sqlite3 is not installed"
        return None

    def libraryDirectory(self):
        found = glob.glob("/usr/lib/*/ejabberd-*/priv/sql/lite.sql")
        return os.path.dirname(found[0].rsplit("/priv/", 1)[0]) if found else None

    def configText(self):
        d = self.directory
        return "\n".join([
            'hosts: ["%s"]' % (DOMAIN,),
            "loglevel: warning",
            "auth_method: sql",
            "auth_password_format: scram",
            "auth_scram_hash: sha",
            "sql_type: sqlite",
            'sql_database: "%s/ejabberd.db"' % (d,),
            "default_db: sql",
            "new_sql_schema: false",
            "shaper_rules:",
            "  c2s_shaper: none",
            "acl:",
            "  local:",
            '    user_regexp: ""',
            "access_rules:",
            "  c2s:",
            "    allow: all",
            "  local:",
            "    allow: local",
            "listen:",
            "  -",
            "    port: %d" % (self.port,),
            '    ip: "127.0.0.1"',
            "    module: ejabberd_c2s",
            "    max_stanza_size: 262144",
            "    shaper: c2s_shaper",
            "    access: c2s",
            "    backlog: %d" % (BACKLOG,),
            "    starttls: false",
            "modules:",
            "  mod_roster: {}",
            ""])

    def provision(self):
        with open(os.path.join(self.directory, "ejabberd.yml"), "w") as f:
            f.write(self.configText())
        path = os.path.join(self.directory, "ejabberd.db")
        if os.path.exists(path):
            os.remove(path)
        schema = glob.glob(os.path.join(self.libraryDirectory(), "ejabberd-*",
                                        "priv", "sql", "lite.sql"))[0]
        with sqlite3.connect(path) as db, open(schema) as f:
            db.executescript(f.read())
            _ejabberdRows(db, self.layout)
        self.chownToSystemUser()

    def command(self):
        d = self.directory
        return ["erl", "+S", "1", "+P", "250000", "-noinput", "-noshell",
                "-mnesia", "dir", '"%s/mnesia"' % (d,), "-s", "ejabberd"]

    def environment(self):
        env = dict(os.environ)
        env.update(EJABBERD_CONFIG_PATH=os.path.join(self.directory, "ejabberd.yml"),
                   EJABBERD_LOG_PATH=os.path.join(self.directory, "ejabberd.log"),
                   ERL_LIBS=self.libraryDirectory(), HOME=self.directory)
        return env


def _ejabberdRows(db, layout):
    """
    Insert ejabberd's SCRAM rows (base64 fields, as C{ejabberd_auth_sql}
    keeps them) and roster rows (subscription C{B}: both).
    """
    from base64 import b64encode
    keys = allKeys()["SCRAM-SHA-1"]
    encode = lambda b: b64encode(b).decode()   # noqa: E731
    db.executemany(
        "insert into users (username, password, serverkey, salt, iterationcount) "
        "values (?, ?, ?, ?, ?)",
        [(userName(i), encode(keys.storedKey), encode(keys.serverKey),
          encode(SALT), ITERATIONS) for i in range(layout.users)])
    db.executemany(
        "insert into rosterusers (username, jid, nick, subscription, ask, askmessage, "
        "server, subscribe, type) values (?, ?, '', 'B', 'N', '', 'N', '', 'item')",
        [(userName(i), "%s@%s" % (userName(c), DOMAIN))
         for i in range(layout.rosterUsers) for c in layout.contacts(i)])


class Stub(Server):
    """
    C{xmppstub}: routes raw bytes, so the generator is the only real work.
    """

    name = "stub"

    def __init__(self, directory, layout, cpu="0", binary=None):
        Server.__init__(self, directory, layout, cpu)
        self.binary = binary

    def provision(self):
        pass

    def command(self):
        from base64 import b64encode
        return [self.binary, "--port", str(self.port), "--host", DOMAIN,
                "--users", str(self.layout.rosterUsers),
                "--fanout", str(self.layout.fanout), "--password", PASSWORD,
                "--salt", b64encode(SALT).decode(), "--iterations", str(ITERATIONS)]


SERVERS = {"jabberd": Jabberd, "prosody": Prosody, "ejabberd": Ejabberd}
