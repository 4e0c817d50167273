"""
jabberctl: the operator's command line for jabberd.

Account commands (C{adduser}, C{passwd}, C{deluser}, C{users}) work on the
configured database directly, whether or not the server is running: they
run the same SQL functions as the server's L{SQLUserStore}, synchronously
(L{Database.runNow}).  Passwords never reach the database: each becomes one
salted, iterated SCRAM credential per mechanism (RFC 5802 section 3).

The account commands that change credentials then tell a running server
(C{SIGUSR2}, found through its pidfile) to forget the credentials it
cached for logins (L{jabberd.credcache}), so the change applies at once.

C{check} validates a configuration before a (re)start; C{db upgrade} applies
schema migrations; C{reload} asks a running server to re-read its
configuration (SIGHUP).

Operator mistakes end with one line on stderr and exit status 1, never a
traceback.
"""

import argparse
import getpass
import os
import signal
import sys
from contextlib import contextmanager
from datetime import datetime, timezone

import idna
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from jabberd.config import ConfigError, loadConfig
from jabberd.credentials import deriveCredentials
from jabberd.jid import InvalidJID, parseJID
from jabberd.storage import users
from jabberd.storage.database import Database, SchemaError, sqliteFile

CONFIG_ENV = "JABBERD_CONFIG"


class CtlError(Exception):
    """
    An operator mistake or an unusable environment; C{str(error)} is the
    one line to print.
    """


# Configuration and database.


def loadServerConfig(args):
    """
    Load the configuration named by C{--config}, else C{$JABBERD_CONFIG},
    else the zero-configuration defaults.
    """
    path = args.config or os.environ.get(CONFIG_ENV) or None
    try:
        return loadConfig(path)
    except ConfigError as e:
        raise CtlError(str(e)) from None


def describeDatabaseError(error):
    """
    One line for a database failure: the driver's message if there is one.
    """
    reason = error.orig if isinstance(error, DBAPIError) else error
    return " ".join(str(reason).split())


@contextmanager
def openDatabase(config, checkSchema=True):
    """
    The configured database, its schema checked (and upgraded if
    C{storage_auto_upgrade} is set) unless C{checkSchema} is false.

    Database failures inside the block become L{CtlError}s.
    """
    database = Database(config.storage, None)
    try:
        if checkSchema:
            database.checkSchema(config.storageAutoUpgrade)
        yield database
    except SchemaError as e:
        raise CtlError(str(e)) from None
    except SQLAlchemyError as e:
        reason = describeDatabaseError(e)
        raise CtlError(f"database at {database.safeURL}: {reason}") from None
    finally:
        database.dispose()


def hostFor(config, domain):
    """
    The L{HostConfig} of C{domain}, which must be served by this server.
    """
    host = config.host(domain)
    if host is None:
        configured = ", ".join(config.hosts) or "none"
        raise CtlError(
            f"{domain} is not a configured host in {config.source} "
            f"(configured: {configured})"
        )
    return host


def parseAccount(config, text):
    """
    Split an account JID into its normalised localpart (RFC 7622 section
    3.3, PRECIS UsernameCaseMapped) and the domain of a configured host.

    @return: C{(username, domain)}
    """
    try:
        jid = parseJID(text)
    except InvalidJID as e:
        raise CtlError(f"invalid JID {text!r}: {e}") from None
    if jid.user is None or jid.resource is not None:
        raise CtlError(f"expected an account JID like user@example.org, got {text!r}")
    return jid.user, hostFor(config, jid.host).domain


# Passwords.


def readPassword(args):
    """
    Read a new password: asked twice on a terminal, else one line of stdin
    (with C{--password-stdin}, or when stdin is not a terminal).
    """
    if args.passwordStdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password (again): ") != password:
            raise CtlError("the passwords do not match")
    if not password:
        raise CtlError("empty password")
    return password


# Account commands.


def requireUser(database, username, domain):
    if not database.runNow(users.userExistsTxn, domain, username):
        raise CtlError(f"no such user: {username}@{domain}")


def tellServerAccountsChanged(config):
    """
    Signal a running server (C{SIGUSR2}) to forget its cached login
    credentials.  No server running is fine: it reads the database when it
    starts.  A server we may not signal is told to the operator, with how
    long the old credentials may still be accepted.
    """
    try:
        pid = readPidfile(config.pidfile)
        os.kill(pid, signal.SIGUSR2)
    except (CtlError, ProcessLookupError):
        return
    except PermissionError:
        print(f"jabberctl: not allowed to signal jabberd (pid {pid}); it may accept "
              f"the old credentials for up to {config.credentialCacheTtl:g} s",
              file=sys.stderr)


def cmdAdduser(args):
    """
    Create an account with a password.
    """
    config = loadServerConfig(args)
    username, domain = parseAccount(config, args.jid)
    with openDatabase(config) as database:
        if database.runNow(users.userExistsTxn, domain, username):
            raise CtlError(f"user already exists: {username}@{domain}")
        credentials = deriveCredentials(readPassword(args))
        try:
            database.runNow(users.createUserTxn, domain, username, credentials)
        except users.UserExists:
            raise CtlError(f"user already exists: {username}@{domain}") from None
    print(f"created {username}@{domain}")
    tellServerAccountsChanged(config)


def cmdPasswd(args):
    """
    Replace the password of an account.
    """
    config = loadServerConfig(args)
    username, domain = parseAccount(config, args.jid)
    with openDatabase(config) as database:
        requireUser(database, username, domain)
        credentials = deriveCredentials(readPassword(args))
        try:
            database.runNow(users.setCredentialsTxn, domain, username, credentials)
        except users.NoSuchUser:
            raise CtlError(f"no such user: {username}@{domain}") from None
    print(f"changed the password of {username}@{domain}")
    tellServerAccountsChanged(config)


def cmdDeluser(args):
    """
    Delete an account and its credentials.
    """
    config = loadServerConfig(args)
    username, domain = parseAccount(config, args.jid)
    with openDatabase(config) as database:
        try:
            database.runNow(users.deleteUserTxn, domain, username)
        except users.NoSuchUser:
            raise CtlError(f"no such user: {username}@{domain}") from None
    print(f"deleted {username}@{domain}")
    tellServerAccountsChanged(config)


def cmdUsers(args):
    """
    List the accounts of a host, one bare JID per line.
    """
    config = loadServerConfig(args)
    domain = hostFor(config, args.domain).domain
    with openDatabase(config) as database:
        names = database.runNow(users.listUsersTxn, domain)
    for name in names:
        print(f"{name}@{domain}")


def cmdHosts(args):
    """
    List the configured hosts, one per line.
    """
    for domain in loadServerConfig(args).hosts:
        print(domain)


# check


def certificateNames(certificate):
    """
    The DNS names a certificate is for: its subjectAltName dNSNames, else
    its subject common names (RFC 6125 section 6.4.4).
    """
    try:
        extension = certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        )
        return extension.value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        attributes = certificate.subject.get_attributes_for_oid(
            x509.NameOID.COMMON_NAME
        )
        return [attribute.value for attribute in attributes]


def nameMatches(pattern, domain):
    """
    Whether a certificate DNS name matches C{domain} (both A-labels); a
    wildcard stands for one whole leftmost label (RFC 6125 section 6.4.3).
    """
    pattern, domain = pattern.lower().rstrip("."), domain.lower()
    if pattern.startswith("*."):
        first, dot, rest = domain.partition(".")
        return bool(first and dot) and rest == pattern[2:]
    return pattern == domain


def asciiDomain(domain):
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        return domain


def loadCertificate(path):
    """
    The first (leaf) certificate of a PEM file.
    """
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificates(f.read())[0]


def loadKey(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def publicBytes(key):
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def certificateProblem(certificate, key, domain):
    """
    What makes a certificate unusable for C{domain}, or C{None}.
    """
    now = datetime.now(timezone.utc)
    if publicBytes(certificate.public_key()) != publicBytes(key.public_key()):
        return "the key does not match the certificate"
    if certificate.not_valid_after_utc < now:
        return f"the certificate expired on {certificate.not_valid_after_utc:%Y-%m-%d}"
    if certificate.not_valid_before_utc > now:
        return f"the certificate is not valid before {certificate.not_valid_before_utc}"
    names = certificateNames(certificate)
    if not any(nameMatches(name, asciiDomain(domain)) for name in names):
        return f"the certificate is for {', '.join(names) or 'no DNS name'}, not {domain}"
    return None


def checkHost(host):
    """
    Check the certificate and key of one host.

    @return: C{(ok, message)}
    """
    prefix = f"host {host.domain}:"
    if host.tlsCertificate is None:
        return True, f"{prefix} no certificate configured; a self-signed one is made at start"
    try:
        certificate = loadCertificate(host.tlsCertificate)
        key = loadKey(host.tlsKey)
    except (OSError, ValueError, TypeError) as e:
        return False, f"{prefix} cannot load certificate or key: {e}"
    problem = certificateProblem(certificate, key, host.domain)
    if problem is not None:
        return False, f"{prefix} {problem} ({host.tlsCertificate})"
    until = certificate.not_valid_after_utc
    return True, f"{prefix} certificate {host.tlsCertificate} valid until {until:%Y-%m-%d}"


def schemaStatus(database, autoUpgrade):
    """
    Compare the database's schema revision with this jabberd's.

    @return: C{(ok, message)}
    """
    current, head = database.currentRevision(), database.headRevision()
    prefix = f"database {database.safeURL}:"
    if current == head:
        return True, f"{prefix} schema at revision {head}"
    if autoUpgrade and (current is None or database.isKnownRevision(current)):
        return True, f"{prefix} schema at revision {current}, upgraded to {head} at start"
    try:
        database.checkSchema(False)
    except SchemaError as e:
        return False, f"{prefix} {e}"
    return True, f"{prefix} schema at revision {head}"


def checkDatabase(config):
    """
    Check that the database is reachable and its schema usable, without
    creating or changing anything.

    @return: C{(ok, message)}
    """
    database = Database(config.storage, None)
    path = sqliteFile(database.url)
    if path is not None and not os.path.exists(path):
        if config.storageAutoUpgrade:
            return True, f"database {database.safeURL}: not created yet; created at start"
        return False, f"database {database.safeURL}: does not exist: run 'jabberctl db upgrade'"
    try:
        return schemaStatus(database, config.storageAutoUpgrade)
    except SQLAlchemyError as e:
        return False, f"database {database.safeURL}: unusable: {describeDatabaseError(e)}"
    finally:
        database.dispose()


def runChecks(args):
    """
    Yield C{(ok, message)} for the configuration, each host, and the database.
    """
    try:
        config = loadServerConfig(args)
    except CtlError as e:
        yield False, f"config: {e}"
        return
    yield True, f"config {config.source}: {len(config.hosts)} host(s)"
    for host in config.hosts.values():
        yield checkHost(host)
    yield checkDatabase(config)


def cmdCheck(args):
    """
    Check the configuration, certificates and database; print one line per
    check.  Exit status 1 if any failed.
    """
    allOK = True
    for ok, message in runChecks(args):
        print(f"{'ok' if ok else 'FAIL':4} {message}")
        allOK = allOK and ok
    return 0 if allOK else 1


# db upgrade, reload


def cmdDbUpgrade(args):
    """
    Apply pending schema migrations.
    """
    config = loadServerConfig(args)
    with openDatabase(config, checkSchema=False) as database:
        current, head = database.currentRevision(), database.headRevision()
        if current == head:
            print(f"database {database.safeURL} is already at revision {head}")
            return
        if current is not None and not database.isKnownRevision(current):
            database.checkSchema(False)
        database.upgrade()
    print(f"database {database.safeURL} upgraded from revision {current} to {head}")


def readPidfile(path):
    """
    The process id in a pidfile.
    """
    try:
        with open(path) as f:
            content = f.read().strip()
    except FileNotFoundError:
        raise CtlError(f"no pidfile at {path}: is jabberd running?") from None
    if not content.isdigit():
        raise CtlError(f"pidfile {path} does not hold a process id")
    return int(content)


def cmdReload(args):
    """
    Ask the running server to re-read its configuration (SIGHUP).
    """
    path = loadServerConfig(args).pidfile
    pid = readPidfile(path)
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        raise CtlError(f"no process {pid}: stale pidfile {path}?") from None
    except PermissionError:
        raise CtlError(f"not allowed to signal process {pid}: run as its user") from None
    print(f"asked jabberd (pid {pid}) to reload")


# Command line.


def addCommand(subparsers, name, function, helpText, common):
    parser = subparsers.add_parser(name, help=helpText, parents=[common])
    parser.set_defaults(function=function)
    return parser


def addAccountCommand(subparsers, name, function, helpText, common, password):
    parser = addCommand(subparsers, name, function, helpText, common)
    parser.add_argument("jid", help="the account, as user@domain")
    if password:
        parser.add_argument(
            "--password-stdin", dest="passwordStdin", action="store_true",
            help="read the password as one line from stdin",
        )


def commonOptions():
    """
    The options every subcommand accepts too, so C{--config} may come last.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", default=argparse.SUPPRESS, metavar="PATH",
        help=f"configuration file (default: ${CONFIG_ENV}, else built-in defaults)",
    )
    return common


def buildParser():
    """
    The argument parser of C{jabberctl}.
    """
    common = commonOptions()
    parser = argparse.ArgumentParser(prog="jabberctl", description="Manage a jabberd server.")
    parser.add_argument(
        "--config", metavar="PATH",
        help=f"configuration file (default: ${CONFIG_ENV}, else built-in defaults)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    addAccountCommand(commands, "adduser", cmdAdduser, "create an account", common, True)
    addAccountCommand(commands, "passwd", cmdPasswd, "change a password", common, True)
    addAccountCommand(commands, "deluser", cmdDeluser, "delete an account", common, False)
    usersParser = addCommand(commands, "users", cmdUsers, "list a host's accounts", common)
    usersParser.add_argument("domain", help="a configured host")
    addCommand(commands, "hosts", cmdHosts, "list the configured hosts", common)
    addCommand(commands, "check", cmdCheck, "check config, certificates, database", common)
    db = commands.add_parser("db", help="database schema", parents=[common])
    dbCommands = db.add_subparsers(dest="dbCommand", required=True, metavar="COMMAND")
    addCommand(dbCommands, "upgrade", cmdDbUpgrade, "apply schema migrations", common)
    addCommand(commands, "reload", cmdReload, "make the server re-read its config", common)
    return parser


def main(argv=None):
    """
    Run C{jabberctl} with C{argv} (default: C{sys.argv[1:]}).

    @return: the exit status.
    """
    args = buildParser().parse_args(argv)
    try:
        return args.function(args) or 0
    except CtlError as e:
        print(f"jabberctl: {e}", file=sys.stderr)
    except OSError as e:
        print(f"jabberctl: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
