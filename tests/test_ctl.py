"""
End-to-end tests for C{jabberctl} (L{jabberd.ctl}): each runs the real
command in a subprocess against a temporary configuration file and a real
SQLite (or PostgreSQL) database.
"""

import os
import pty
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from jabberd.credentials import verifyPassword
from jabberd.storage import users
from jabberd.storage.contract import temporaryPostgreSQLSchema
from jabberd.storage.database import Database

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMAND = [sys.executable, "-m", "jabberd.ctl"]
MECHANISMS = ("SCRAM-SHA-1", "SCRAM-SHA-256")


def environment(**extra):
    env = {k: v for k, v in os.environ.items() if k != "JABBERD_CONFIG"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def jabberctl(directory, *args, input=None, env=None):
    """
    Run jabberctl in C{directory}; stdin is a pipe (not a terminal).
    """
    return subprocess.run(
        COMMAND + list(args),
        cwd=directory,
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        env=env or environment(),
        timeout=60,
    )


def assertFails(result, *fragments):
    """
    The command failed with exactly one line on stderr holding C{fragments}.
    """
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("jabberctl: ")
    for fragment in fragments:
        assert fragment in lines[0]


def assertSucceeds(result):
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert result.stderr == ""
    return result.stdout.splitlines()


class Server:
    """
    A temporary configuration and database for jabberctl to manage.
    """

    def __init__(self, directory, storage=None, autoUpgrade=False, hosts=None):
        self.directory = str(directory)
        self.config = os.path.join(self.directory, "jabberd.toml")
        self.storage = storage or "sqlite:///" + os.path.join(self.directory, "db.sqlite")
        self.pidfile = os.path.join(self.directory, "jabberd.pid")
        self.write(autoUpgrade, hosts or {"a.example": "", "b.example": ""})

    def write(self, autoUpgrade, hosts):
        lines = [
            f'data_dir = "{self.directory}"',
            f'storage = "{self.storage}"',
            f"storage_auto_upgrade = {str(autoUpgrade).lower()}",
            f'pidfile = "{self.pidfile}"',
        ]
        for domain, body in hosts.items():
            lines += [f'[hosts."{domain}"]', textwrap.dedent(body)]
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    def ctl(self, *args, **kw):
        return jabberctl(self.directory, *args, "--config", self.config, **kw)

    def adduser(self, jid, password):
        return self.ctl("adduser", jid, input=password + "\n")

    def database(self):
        return Database(self.storage, None)

    def credential(self, domain, username, mechanism="SCRAM-SHA-256"):
        database = self.database()
        try:
            return database.runNow(users.getCredentialTxn, domain, username, mechanism)
        finally:
            database.dispose()


@pytest.fixture
def server(tmp_path):
    """
    Two hosts on an SQLite database already at the schema head.
    """
    server = Server(tmp_path)
    assertSucceeds(server.ctl("db", "upgrade"))
    return server


# Accounts.


def test_adduserThenUsers(server):
    """
    An account added with a password is listed, and holds a verifying SCRAM
    credential for each mechanism, never the password itself.
    """
    assert assertSucceeds(server.adduser("alice@a.example", "s3cret-pw")) == [
        "created alice@a.example"
    ]
    assert assertSucceeds(server.ctl("users", "a.example")) == ["alice@a.example"]
    for mechanism in MECHANISMS:
        credential = server.credential("a.example", "alice", mechanism)
        assert verifyPassword("s3cret-pw", credential)
    with open(server.storage.removeprefix("sqlite:///"), "rb") as f:
        assert b"s3cret-pw" not in f.read()


def test_adduserNormalisesLocalpart(server):
    """
    The localpart is prepared with UsernameCaseMapped and the domain
    normalised (RFC 7622 section 3).
    """
    assertSucceeds(server.adduser("ÉMILE@A.Example", "pw"))
    assert assertSucceeds(server.ctl("users", "a.example")) == ["émile@a.example"]


def test_adduserExisting(server):
    """
    Adding an account twice fails and keeps the first password.
    """
    assertSucceeds(server.adduser("alice@a.example", "first"))
    assertFails(server.adduser("Alice@a.example", "second"), "already exists")
    assert verifyPassword("first", server.credential("a.example", "alice"))


def test_adduserEmptyPassword(server):
    """
    An empty password is refused and no account is made.
    """
    assertFails(server.adduser("alice@a.example", ""), "empty password")
    assert assertSucceeds(server.ctl("users", "a.example")) == []


def test_usersPerDomain(server):
    """
    Each host lists only its own accounts, sorted.
    """
    for jid in ["bob@a.example", "alice@a.example", "carol@b.example"]:
        assertSucceeds(server.adduser(jid, "pw"))
    assert assertSucceeds(server.ctl("users", "a.example")) == [
        "alice@a.example",
        "bob@a.example",
    ]
    assert assertSucceeds(server.ctl("users", "b.example")) == ["carol@b.example"]


def test_passwd(server):
    """
    passwd replaces the credentials: the new password verifies, the old not.
    """
    assertSucceeds(server.adduser("alice@a.example", "old-pw"))
    result = server.ctl("passwd", "alice@a.example", "--password-stdin", input="new-pw\n")
    assert assertSucceeds(result) == ["changed the password of alice@a.example"]
    for mechanism in MECHANISMS:
        credential = server.credential("a.example", "alice", mechanism)
        assert verifyPassword("new-pw", credential)
        assert not verifyPassword("old-pw", credential)


def test_passwdNoSuchUser(server):
    result = server.ctl("passwd", "nobody@a.example", input="pw\n")
    assertFails(result, "no such user: nobody@a.example")


def test_deluser(server):
    """
    deluser removes the account and its credentials; a second time fails.
    """
    assertSucceeds(server.adduser("alice@a.example", "pw"))
    assertSucceeds(server.adduser("bob@a.example", "pw"))
    assert assertSucceeds(server.ctl("deluser", "alice@a.example")) == [
        "deleted alice@a.example"
    ]
    assert assertSucceeds(server.ctl("users", "a.example")) == ["bob@a.example"]
    assert server.credential("a.example", "alice") is None
    assertFails(server.ctl("deluser", "alice@a.example"), "no such user")


def test_unknownDomain(server):
    """
    An account on a domain this server does not host is refused by name.
    """
    result = server.adduser("alice@c.example", "pw")
    assertFails(result, "c.example is not a configured host", "a.example, b.example")
    assertFails(server.ctl("users", "c.example"), "c.example is not a configured host")
    assertFails(server.ctl("deluser", "alice@c.example"), "not a configured host")


@pytest.mark.parametrize(
    "jid, message",
    [
        ("a b@a.example", "invalid JID"),
        ("a.example", "expected an account JID"),
        ("alice@a.example/phone", "expected an account JID"),
        ("al:ce@a.example", "invalid JID"),
    ],
)
def test_invalidJID(server, jid, message):
    assertFails(server.adduser(jid, "pw"), message)


def test_schemaBehind(tmp_path):
    """
    Without auto-upgrade, account commands refuse an unmigrated database
    and say what to run.
    """
    server = Server(tmp_path, autoUpgrade=False)
    result = server.adduser("alice@a.example", "pw")
    assertFails(result, "is at revision None, expected", "jabberctl db upgrade")


def test_schemaAutoUpgrade(tmp_path):
    """
    With auto-upgrade, account commands migrate a fresh database first.
    """
    server = Server(tmp_path, autoUpgrade=True)
    assertSucceeds(server.adduser("alice@a.example", "pw"))
    database = server.database()
    assert database.currentRevision() == database.headRevision()
    database.dispose()


def test_postgresql(tmp_path):
    """
    The same commands work on a PostgreSQL database given by URL.
    """
    with temporaryPostgreSQLSchema() as url:
        server = Server(tmp_path, storage=url)
        assertSucceeds(server.ctl("db", "upgrade"))
        assertSucceeds(server.adduser("alice@a.example", "pw"))
        assert assertSucceeds(server.ctl("users", "a.example")) == ["alice@a.example"]
        assert verifyPassword("pw", server.credential("a.example", "alice"))
        assertSucceeds(server.ctl("check"))


def test_configFromEnvironment(server, tmp_path):
    """
    Without --config, $JABBERD_CONFIG names the configuration.
    """
    env = environment(JABBERD_CONFIG=server.config)
    assert assertSucceeds(jabberctl(str(tmp_path), "hosts", env=env)) == [
        "a.example",
        "b.example",
    ]


def test_zeroConfigHosts(tmp_path):
    """
    Without any configuration, the server hosts localhost.
    """
    assert assertSucceeds(jabberctl(str(tmp_path), "hosts")) == ["localhost"]


def test_badConfig(tmp_path):
    """
    A configuration error is one line naming the file and the key.
    """
    path = tmp_path / "bad.toml"
    path.write_text("storage_auto_upgrade = 3\n")
    result = jabberctl(str(tmp_path), "--config", str(path), "hosts")
    assertFails(result, "bad.toml", "storage_auto_upgrade")


# Passwords on a terminal.


def runOnTerminal(server, args, answers):
    """
    Run jabberctl on a pseudo-terminal, typing C{answers} at each prompt.

    @return: C{(exit status, everything written to the terminal)}
    """
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(server.directory)
        os.execve(sys.executable, COMMAND + args + ["--config", server.config], environment())
    output = b""
    for count, answer in enumerate(answers, 1):
        while output.count(b"Password") < count or not output.rstrip().endswith(b":"):
            output += os.read(fd, 1024)
        os.write(fd, answer.encode() + b"\n")
    output += readAll(fd)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), output.decode()


def readAll(fd):
    data = b""
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            return data
        if not chunk:
            return data
        data += chunk


def test_terminalPasswordTwice(server):
    """
    On a terminal the password is asked twice, without echo.
    """
    status, output = runOnTerminal(server, ["adduser", "alice@a.example"], ["pw1", "pw1"])
    assert status == 0, output
    assert output.count("Password") == 2
    assert "pw1" not in output
    assert verifyPassword("pw1", server.credential("a.example", "alice"))


def test_terminalPasswordMismatch(server):
    """
    Two different answers on a terminal create no account.
    """
    status, output = runOnTerminal(server, ["adduser", "alice@a.example"], ["pw1", "pw2"])
    assert status == 1
    assert "do not match" in output
    assert server.credential("a.example", "alice") is None


# check


def makeKey():
    return ec.generate_private_key(ec.SECP256R1())


def makeCertificate(directory, names, key=None, signingKey=None, days=30, name="cert"):
    """
    Write a self-signed certificate for C{names} and its key as PEM files.

    @param signingKey: the key written next to the certificate, if not the
        certificate's own (to make a mismatched pair).
    @return: C{(certificate path, key path)}
    """
    key = key or makeKey()
    now = datetime.now(timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=60))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )
    certPath, keyPath = (os.path.join(directory, f"{name}.{ext}") for ext in ("pem", "key"))
    with open(certPath, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(keyPath, "wb") as f:
        f.write(
            (signingKey or key).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return certPath, keyPath


def tlsTable(paths):
    certPath, keyPath = paths
    return f'tls_certificate = "{certPath}"\ntls_key = "{keyPath}"\n'


def checkWith(server, hosts, autoUpgrade=False):
    server.write(autoUpgrade, hosts)
    return server.ctl("check")


def test_checkOK(server, tmp_path):
    """
    Valid certificates, a host without one and a migrated database pass.
    """
    hosts = {
        "a.example": tlsTable(makeCertificate(tmp_path, ["a.example"], name="a")),
        "b.example": tlsTable(makeCertificate(tmp_path, ["*.example"], name="b")),
        "c.example": "",
    }
    result = checkWith(server, hosts)
    lines = assertSucceeds(result)
    assert len(lines) == 5
    assert all(line.startswith("ok ") for line in lines), lines
    assert "no certificate configured" in lines[3]
    assert "schema at revision" in lines[4]


@pytest.mark.parametrize(
    "makePaths, message",
    [
        (lambda d: makeCertificate(d, ["a.example"], days=-1), "expired"),
        (lambda d: makeCertificate(d, ["a.example"], signingKey=makeKey()), "does not match"),
        (lambda d: makeCertificate(d, ["other.example"]), "not a.example"),
        (lambda d: makeCertificate(d, ["*.a.example"]), "not a.example"),
    ],
)
def test_checkBadCertificate(server, tmp_path, makePaths, message):
    """
    An expired certificate, a key of another certificate, or a certificate
    for another name fails the check of that host only.
    """
    result = checkWith(server, {"a.example": tlsTable(makePaths(tmp_path)), "b.example": ""})
    assert result.returncode == 1, result.stdout
    lines = result.stdout.splitlines()
    assert lines[1].startswith("FAIL host a.example:") and message in lines[1], lines
    assert [line[:4] for line in lines] == ["ok  ", "FAIL", "ok  ", "ok  "]


def test_checkUnreadableCertificate(server, tmp_path):
    """
    A file that is not a PEM certificate fails with a reason.
    """
    certPath, keyPath = makeCertificate(tmp_path, ["a.example"])
    with open(certPath, "w") as f:
        f.write("not a certificate\n")
    result = checkWith(server, {"a.example": tlsTable((certPath, keyPath))})
    assert result.returncode == 1
    assert "FAIL host a.example: cannot load certificate or key" in result.stdout


def test_checkBadConfig(tmp_path):
    """
    A configuration error is reported as a failed check.
    """
    path = tmp_path / "bad.toml"
    path.write_text('[hosts."a.example"]\ntls_key = "/nonexistent.key"\n')
    result = jabberctl(str(tmp_path), "--config", str(path), "check")
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL config: ")
    assert "tls_key" in result.stdout
    assert "Traceback" not in result.stderr


def test_checkSchemaBehind(tmp_path):
    """
    Without auto-upgrade, a database not created yet or not migrated fails
    the check, which creates nothing.
    """
    server = Server(tmp_path, autoUpgrade=False)
    result = server.ctl("check")
    assert result.returncode == 1
    assert "FAIL database" in result.stdout and "jabberctl db upgrade" in result.stdout
    assert not os.path.exists(os.path.join(server.directory, "db.sqlite"))
    server.database().runNow(lambda c: None)
    result = server.ctl("check")
    assert result.returncode == 1
    assert "is at revision None, expected" in result.stdout


def test_checkSchemaAutoUpgrade(tmp_path):
    """
    With auto-upgrade, a database behind is fine: start-up migrates it.
    """
    server = Server(tmp_path, autoUpgrade=True)
    lines = assertSucceeds(server.ctl("check"))
    assert lines[-1].startswith("ok   database") and "created at start" in lines[-1]


def test_checkDatabaseUnreachable(tmp_path):
    """
    A database that cannot be reached fails the check.
    """
    server = Server(
        tmp_path, storage="postgresql+psycopg://postgres:pw@127.0.0.1:1/none"
    )
    result = server.ctl("check")
    assert result.returncode == 1
    line = result.stdout.splitlines()[-1]
    assert line.startswith("FAIL database postgresql+psycopg://postgres@127.0.0.1:1/none")
    assert ":pw@" not in result.stdout


# db upgrade


def test_dbUpgrade(tmp_path):
    """
    db upgrade migrates a fresh database to head, then has nothing to do.
    """
    server = Server(tmp_path)
    database = server.database()
    head = database.headRevision()
    assert assertSucceeds(server.ctl("db", "upgrade"))[0].endswith(
        f"upgraded from revision None to {head}"
    )
    assert database.currentRevision() == head
    assert assertSucceeds(server.ctl("db", "upgrade"))[0].endswith(
        f"already at revision {head}"
    )
    database.dispose()


def test_dbUpgradeUnknownRevision(server):
    """
    A database migrated by a newer jabberd is left alone.
    """
    from sqlalchemy import text

    database = server.database()
    database.runNow(lambda c: c.execute(text("UPDATE alembic_version SET version_num='f00d'")))
    assertFails(server.ctl("db", "upgrade"), "revision f00d", "newer jabberd")
    assert database.currentRevision() == "f00d"
    database.dispose()


def test_accountCommandUnreachableDatabase(tmp_path):
    server = Server(tmp_path, storage="postgresql+psycopg://postgres@127.0.0.1:1/none")
    assertFails(server.ctl("users", "a.example"), "database at postgresql+psycopg://")


# reload


def test_reload(server, tmp_path):
    """
    reload sends SIGHUP to the process named in the pidfile.
    """
    marker = tmp_path / "hup"
    child = subprocess.Popen(
        [sys.executable, "-c", HUP_CATCHER, str(marker)], stdout=subprocess.PIPE
    )
    try:
        child.stdout.readline()
        with open(server.pidfile, "w") as f:
            f.write(f"{child.pid}\n")
        result = server.ctl("reload")
        assert assertSucceeds(result) == [f"asked jabberd (pid {child.pid}) to reload"]
        assert child.wait(timeout=10) == 0
        assert marker.read_text() == "SIGHUP"
    finally:
        child.kill()
        child.wait()


HUP_CATCHER = """
import signal, sys, time
def hup(signum, frame):
    open(sys.argv[1], "w").write("SIGHUP")
    sys.exit(0)
signal.signal(signal.SIGHUP, hup)
print("ready", flush=True)
time.sleep(30)
"""


def test_reloadNoPidfile(server):
    assertFails(server.ctl("reload"), "no pidfile at", "is jabberd running?")


def test_reloadStalePidfile(server):
    """
    A pidfile naming a dead process is reported as stale.
    """
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    with open(server.pidfile, "w") as f:
        f.write(f"{child.pid}\n")
    assertFails(server.ctl("reload"), f"no process {child.pid}", "stale pidfile")


def test_reloadGarbagePidfile(server):
    with open(server.pidfile, "w") as f:
        f.write("jabberd\n")
    assertFails(server.ctl("reload"), "does not hold a process id")
