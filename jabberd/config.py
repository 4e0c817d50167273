"""
Server configuration: one TOML file, read and validated once at start-up.

The file has a global section and one C{[hosts."<domain>"]} table per virtual
host.  Host options may also appear in the global section, where they are the
defaults for every host; a host table overrides them key by key.  Plugin
options live in C{[plugin.<name>]} tables, merged the same way with
C{[hosts."<domain>".plugin.<name>]}.

Every option is one row of L{OPTIONS}; L{ServerConfig} and L{HostConfig} are
built from that table, so adding an option is one line.  Any problem stops the
server with one L{ConfigError} that names the file, the key and what is wrong.
"""

import copy
import difflib
import ipaddress
import json
import math
import os
import tomllib
from dataclasses import dataclass, field, make_dataclass
from datetime import date, datetime, time
from types import MappingProxyType
from typing import Any, Callable, Mapping

import idna
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

__all__ = [
    "ComponentConfig",
    "ConfigError",
    "GLOBAL",
    "HOST",
    "HostConfig",
    "OPTIONS",
    "Option",
    "ServerConfig",
    "globalKeys",
    "hostKeys",
    "loadConfig",
    "parseConfig",
]

#: L{Option.scope} of a server-wide option: allowed in the global section only.
GLOBAL = "global"
#: L{Option.scope} of a per-host option: global default, overridable per host.
HOST = "host"

#: Source name of a configuration that was not read from a file.
DEFAULTS_SOURCE = "<defaults>"

_HOSTS = "hosts"
_PLUGIN = "plugin"


class ConfigError(Exception):
    """
    The configuration cannot be used; the server must not start.

    C{str(error)} is the single message for the operator:
    C{"<file>: <key path>: <what is wrong>"} (without the key path when the
    problem is not about one key, e.g. a TOML syntax error).

    @ivar source: the file name, or C{"<defaults>"}.
    @ivar key: the dotted TOML key path, e.g. C{'hosts."example.org".tls_key'}.
    @ivar reason: what is wrong with it.
    """

    def __init__(self, source, key, reason):
        super().__init__(source, key, reason)
        self.source = source
        self.key = key
        self.reason = reason

    def __str__(self):
        return ": ".join(part for part in (self.source, self.key, self.reason) if part)


class _Invalid(ValueError):
    """
    A value is wrong; raised by type checks and validators, which do not know
    the file or the key.  The caller turns it into a L{ConfigError}.
    """


@dataclass(frozen=True)
class Option:
    """
    One configuration option: one row of L{OPTIONS}.

    @ivar name: the TOML key, in snake_case.
    @ivar type: C{str}, C{bool}, C{int}, C{float}, or C{tuple} (an array of
        strings).  Checked strictly: a boolean is not an integer and a string
        is never converted; an integer is accepted where a float is expected.
    @ivar default: the value when the key is absent, or a callable taking the
        C{dict} of server values resolved so far (by attribute name) for a
        default that depends on an earlier option, such as C{data_dir}.
    @ivar scope: L{GLOBAL} or L{HOST}.
    @ivar doc: one line for the operator.
    @ivar validator: C{None}, or a callable taking the type-checked value and
        returning the value to keep (e.g. an absolute path); it raises
        C{ValueError} with a reason when the value is not acceptable.
    """

    name: str
    type: type
    default: Any
    scope: str
    doc: str
    validator: Callable[[Any], Any] | None = None

    @property
    def attribute(self):
        """
        The Python attribute name: C{tls_certificate} becomes C{tlsCertificate}.
        """
        first, *rest = self.name.split("_")
        return first + "".join(word[:1].upper() + word[1:] for word in rest)

    def defaultFor(self, resolved):
        """
        @param resolved: server values resolved so far, by attribute name.
        @return: this option's default value, validated like a configured
            one (so that a default path is made absolute too).
        """
        value = self.default(resolved) if callable(self.default) else self.default
        if value is None or self.validator is None:
            return value
        return self.validator(value)

    def parse(self, value):
        """
        Type-check C{value} as read by C{tomllib} and run the validator.

        @raise ValueError: with the reason the value is not acceptable.
        """
        value = _checkType(value, self.type)
        if self.validator is not None:
            value = self.validator(value)
        return value


# Type checks.

_EXPECTED = {
    str: "a string",
    bool: "a boolean (true or false)",
    int: "an integer",
    float: "a number",
    tuple: "an array of strings",
    dict: "a table",
}


def _describe(value):
    """
    Name a TOML value's type (and the value, if short) for an error message.
    """
    if isinstance(value, bool):
        return f"boolean {json.dumps(value)}"
    for kind, name in ((int, "integer"), (float, "float"), (str, "string")):
        if isinstance(value, kind):
            return f"{name} {json.dumps(value, ensure_ascii=False)}"
    if isinstance(value, (datetime, date, time)):
        return f"date/time {value.isoformat()}"
    return "a table" if isinstance(value, dict) else "an array"


def _isInstance(value, pythonType):
    """
    Strict C{isinstance}: C{bool} is not an C{int}; an C{int} is a C{float}.
    """
    if pythonType is bool or isinstance(value, bool):
        return pythonType is bool and isinstance(value, bool)
    if pythonType is float:
        return isinstance(value, (int, float))
    return isinstance(value, pythonType)


def _checkType(value, pythonType):
    """
    Check C{value} against an L{Option.type}; return it converted to that type.
    """
    if pythonType is tuple:
        return _checkStrings(value)
    if not _isInstance(value, pythonType):
        raise _Invalid(f"expected {_EXPECTED[pythonType]}, got {_describe(value)}")
    if pythonType is float:
        if not math.isfinite(value):
            raise _Invalid(f"expected a finite number, got {value}")
        return float(value)
    return value


def _checkStrings(value):
    """
    Check that C{value} is an array of strings; return it as a tuple.
    """
    if not isinstance(value, list):
        raise _Invalid(f"expected {_EXPECTED[tuple]}, got {_describe(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise _Invalid(f"expected a string at index {index}, got {_describe(item)}")
    return tuple(value)


# Validators: each takes a type-checked value and returns the value to keep.


def atLeast(minimum):
    """
    @return: a validator accepting numbers C{>= minimum}.
    """

    def check(value):
        if value < minimum:
            raise _Invalid(f"must be at least {minimum}, got {value}")
        return value

    return check


def above(minimum):
    """
    @return: a validator accepting numbers C{> minimum}.
    """

    def check(value):
        if value <= minimum:
            raise _Invalid(f"must be greater than {minimum}, got {value}")
        return value

    return check


def _quoted(values):
    return ", ".join(json.dumps(value) for value in values)


def oneOf(*choices):
    """
    @return: a validator accepting exactly one of C{choices}.
    """

    def check(value):
        if value not in choices:
            raise _Invalid(f"must be one of {_quoted(choices)}, got {json.dumps(value)}")
        return value

    return check


def uniqueNames(value):
    """
    Validate a list of names: none empty, none repeated.
    """
    seen = set()
    for name in value:
        if not name:
            raise _Invalid("names must not be empty")
        if name in seen:
            raise _Invalid(f"{json.dumps(name)} is listed twice")
        seen.add(name)
    return value


def subsetOf(*choices):
    """
    @return: a validator accepting a non-empty list of distinct C{choices}.
    """

    def check(value):
        if not value:
            raise _Invalid(f"must list at least one of {_quoted(choices)}")
        for item in uniqueNames(value):
            oneOf(*choices)(item)
        return value

    return check


def absolutePath(value):
    """
    Validate a non-empty path; return it made absolute against the current
    working directory.
    """
    if not value:
        raise _Invalid("must not be empty")
    return os.path.abspath(value)


def existingFile(value):
    """
    Validate the path of a file that must exist now (a certificate or key);
    return it absolute.
    """
    path = absolutePath(value)
    if not os.path.exists(path):
        raise _Invalid(f"file not found: {path}")
    if not os.path.isfile(path):
        raise _Invalid(f"not a regular file: {path}")
    return path


def storageUrl(value):
    """
    Validate an SQLAlchemy database URL naming a dialect SQLAlchemy has (its
    database driver is only imported when the engine is created).  A
    relative SQLite file path is made absolute against the current working
    directory, so that the database does not move if the process changes
    directory.
    """
    try:
        url = make_url(value)
    except (ArgumentError, ValueError):
        raise _Invalid(f"not an SQLAlchemy database URL: {json.dumps(value)}") from None
    try:
        url.get_dialect()
    except NoSuchModuleError:
        raise _Invalid(f"unknown database type {json.dumps(url.drivername)}") from None
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return value
    if database.startswith("file:") or os.path.isabs(database):
        return value
    return url.set(database=os.path.abspath(database)).render_as_string(hide_password=False)


#: Server endpoint types that Twisted parses without a plugin
#: (see L{twisted.internet.endpoints.serverFromString}).
_BUILTIN_ENDPOINT_TYPES = frozenset({"tcp", "ssl", "unix"})


def _endpointType(description):
    """
    @return: the endpoint type of a Twisted endpoint string: the text before
        the first colon that is not escaped with a backslash.
    """
    prefix, chars = [], iter(description)
    for char in chars:
        if char == ":":
            break
        prefix.append(next(chars, "") if char == "\\" else char)
    return "".join(prefix).lower()


def _pluginEndpointTypes():
    """
    @return: the endpoint types added by L{IStreamServerEndpointStringParser}
        plugins (C{tls}, C{systemd}, C{tcp6}, ...).  Imported lazily: scanning
        plugins is only needed for types that are not built in.
    """
    from twisted.internet.interfaces import IStreamServerEndpointStringParser
    from twisted.plugin import getPlugins

    plugins = getPlugins(IStreamServerEndpointStringParser)
    return {plugin.prefix.lower() for plugin in plugins}


def serverEndpoints(value):
    """
    Validate a list of Twisted server endpoint strings: each must name an
    endpoint type Twisted knows.  The arguments are checked when the
    endpoint is created, since parsing some of them (C{systemd:}, C{tls:})
    touches the environment or the file system.
    """
    for description in uniqueNames(value):
        kind = _endpointType(description)
        if kind in _BUILTIN_ENDPOINT_TYPES or kind in _pluginEndpointTypes():
            continue
        raise _Invalid(f"unknown endpoint type {json.dumps(kind)} in {json.dumps(description)}")
    return value


def _underDataDir(fileName, prefix=""):
    """
    @return: an L{Option.default} callable for a file inside C{data_dir}.
    """
    return lambda resolved: prefix + os.path.join(resolved["dataDir"], fileName)


@dataclass(frozen=True)
class ComponentConfig:
    """
    One external component (XEP-0114): the domain it serves and the secret
    it proves in its handshake (kept out of C{repr}, hence out of logs).
    """

    domain: str
    secret: str = field(repr=False)


def componentTables(value):
    """
    Validate the C{[components."<domain>"]} tables: each names a domain and
    holds one non-empty C{secret} string.

    @return: a read-only mapping from normalised domain to
        L{ComponentConfig}.
    """
    components = {}
    for rawName, table in value.items():
        where = json.dumps(rawName, ensure_ascii=False)
        try:
            domain = _normaliseDomain(rawName)
        except ValueError as e:
            raise _Invalid(f"{where}: invalid domain name: {e}") from None
        if not isinstance(table, dict):
            raise _Invalid(f"{where}: expected a table, got {_describe(table)}")
        for key in table:
            if key != "secret":
                raise _Invalid(f'{where}: unknown key {json.dumps(key)} (a component has only "secret")')
        secret = table.get("secret")
        if not isinstance(secret, str) or not secret:
            raise _Invalid(f"{where}: secret must be a non-empty string")
        if domain in components:
            raise _Invalid(f"{where}: {json.dumps(domain)} is listed twice")
        components[domain] = ComponentConfig(domain, secret)
    return MappingProxyType(components)


def domainList(value):
    """
    Validate a list of domain names; return them normalised (as
    L{jabberd.jid.prepDomain} would), so that they compare equal to the
    domains of streams and JIDs.
    """
    domains = []
    for name in uniqueNames(value):
        try:
            domains.append(_normaliseDomain(name))
        except ValueError as e:
            raise _Invalid(f"{json.dumps(name, ensure_ascii=False)}: invalid domain name: {e}") from None
    return tuple(domains)


def routeTable(value):
    """
    Validate the C{[s2s_routes]} table: remote domain to C{"host:port"}
    (or C{"host"} for port 5269, C{"[v6]:port"} for an IPv6 address).

    @return: a read-only mapping from normalised domain to
        L{jabberd.s2s.srv.Target}.
    """
    from jabberd.s2s.srv import parseRoute

    routes = {}
    for rawName, target in value.items():
        where = json.dumps(rawName, ensure_ascii=False)
        try:
            domain = _normaliseDomain(rawName)
        except ValueError as e:
            raise _Invalid(f"{where}: invalid domain name: {e}") from None
        if not isinstance(target, str):
            raise _Invalid(f'{where}: expected a string "host:port", got {_describe(target)}')
        try:
            routes[domain] = parseRoute(target)
        except ValueError as e:
            raise _Invalid(f"{where}: {e}") from None
    return MappingProxyType(routes)


def dnsServers(value):
    """
    Validate a list of DNS servers, C{"address"} or C{"address:port"}
    (C{"[v6]:port"}); return C{(address, port)} pairs.
    """
    servers = []
    for text in uniqueNames(value):
        address, port = text, 53
        if text.startswith("["):
            address, _, rest = text[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else (rest or 53)
        elif text.count(":") == 1:
            address, port = text.split(":")
        try:
            ipaddress.ip_address(address)
            port = int(port)
        except ValueError:
            raise _Invalid(f"{json.dumps(text)}: expected an IP address, optionally with :port") from None
        if not 0 < port < 65536:
            raise _Invalid(f"{json.dumps(text)}: port out of range")
        servers.append((address, port))
    return tuple(servers)


SASL_MECHANISMS = (
    "SCRAM-SHA-256-PLUS",
    "SCRAM-SHA-1-PLUS",
    "SCRAM-SHA-256",
    "SCRAM-SHA-1",
    "PLAIN",
)

_O = Option

#: What a domain runs unless its config says otherwise: a complete IM
#: service (RFC 6121) with the discovery and account services clients
#: probe for.  In-band registration and contact addresses are opt-in.
DEFAULT_PLUGINS = ("ping", "roster", "presence", "message", "disco",
                   "version", "last", "vcard", "private", "keepalive")

#: The configuration schema, in the order of the sample file.
# fmt: off
OPTIONS = (
    _O("data_dir", str, "jabberd-data", GLOBAL, "Directory for the server's own files (database, pid file).", absolutePath),
    _O("storage", str, _underDataDir("jabberd.sqlite", "sqlite:///"), GLOBAL, "SQLAlchemy database URL (sqlite:///..., postgresql+psycopg://...).", storageUrl),
    _O("storage_auto_upgrade", bool, True, GLOBAL, "Apply pending database migrations at start-up."),
    _O("c2s_listeners", tuple, ("tcp:5222:interface=127.0.0.1",), GLOBAL, "Twisted endpoint strings to accept client connections on.", serverEndpoints),
    _O("log_format", str, "text", GLOBAL, 'Log output format: "text" or "json".', oneOf("text", "json")),
    _O("log_level", str, "info", GLOBAL, 'Least severe level logged: "debug", "info", "warn" or "error".', oneOf("debug", "info", "warn", "error")),
    _O("pidfile", str, _underDataDir("jabberd.pid"), GLOBAL, "File the daemon writes its process id to.", absolutePath),
    _O("jid_cache_size", int, 10000, GLOBAL, "Number of prepared JIDs kept in memory (0 disables the cache).", atLeast(0)),
    _O("credential_cache_size", int, 10000, GLOBAL, "Logins' SCRAM credentials kept in memory per domain (0 disables the cache).", atLeast(0)),
    _O("credential_cache_ttl", float, 600.0, GLOBAL, "Seconds a cached credential is trusted before the database is asked again.", above(0)),
    _O("auth_failure_delay", float, 0.5, GLOBAL, "Seconds to wait before answering a failed authentication; grows per failure.", atLeast(0)),
    _O("auth_failure_max_delay", float, 10.0, GLOBAL, "Upper bound in seconds for the failed-authentication delay.", atLeast(0)),
    _O("max_connections_per_address", int, 32, GLOBAL, "Simultaneous client connections allowed from one IP address.", atLeast(1)),
    _O("max_stanza_size", int, 262144, GLOBAL, "Largest stanza accepted, in bytes (RFC 6120 section 13.12 item 4).", atLeast(4096)),
    _O("max_depth", int, 32, GLOBAL, "Deepest element nesting accepted inside a stanza.", atLeast(2)),
    _O("auth_timeout", float, 30.0, GLOBAL, "Seconds a client has to authenticate and bind a resource.", above(0)),
    _O("c2s_read_rate", int, 102400, GLOBAL, "Bytes per second read from each client connection (0 = unlimited).", atLeast(0)),
    _O("tls_certificate", str, None, HOST, "PEM certificate (chain) file for the domain.", existingFile),
    _O("tls_key", str, None, HOST, "PEM private key file for tls_certificate.", existingFile),
    _O("c2s_require_encryption", bool, True, HOST, "Refuse to authenticate clients before TLS (RFC 6120 section 5.3.1).", None),
    _O("sasl_mechanisms", tuple, SASL_MECHANISMS, HOST, "SASL mechanisms offered to clients, in order of preference.", subsetOf(*SASL_MECHANISMS)),
    _O("plugins", tuple, DEFAULT_PLUGINS, HOST, "Plugins enabled for the domain; a host's list replaces the global one.", uniqueNames),
    _O("component_listeners", tuple, (), GLOBAL, "Twisted endpoint strings to accept external components (XEP-0114) on; none by default.", serverEndpoints),
    _O("components", dict, {}, GLOBAL, 'External components (XEP-0114): [components."<domain>"] tables, each with its secret.', componentTables),
    _O("s2s_enabled", bool, False, HOST, "Exchange stanzas with other XMPP servers (federation, RFC 6120 server-to-server streams).", None),
    _O("s2s_listeners", tuple, ("tcp:5269",), GLOBAL, "Twisted endpoint strings to accept server-to-server connections on; bound only if some host has s2s_enabled.", serverEndpoints),
    _O("s2s_direct_tls_listeners", tuple, (), GLOBAL, "Endpoints on which peers start with TLS (XEP-0368), certificate chosen by SNI; none by default.", serverEndpoints),
    _O("s2s_require_encryption", bool, True, HOST, "Refuse server-to-server streams that do not negotiate TLS (RFC 6120 section 5.3.1).", None),
    _O("s2s_secure_auth", bool, False, HOST, "Refuse peers whose certificate does not verify (no dialback on DNS alone).", None),
    _O("s2s_insecure_domains", tuple, (), GLOBAL, "Remote domains allowed to authenticate with dialback without a valid certificate even where s2s_secure_auth is on.", domainList),
    _O("s2s_blocklist", tuple, (), GLOBAL, "Remote domains never federated with, in either direction.", domainList),
    _O("s2s_routes", dict, {}, GLOBAL, 'Static routes that override DNS: [s2s_routes] "peer.example" = "host:port".', routeTable),
    _O("s2s_ca_file", str, None, GLOBAL, "PEM file of the CAs trusted to vouch for peers' certificates; default: the system's store.", existingFile),
    _O("s2s_dns_servers", tuple, (), GLOBAL, "DNS servers for SRV lookups, \"address\" or \"address:port\"; default: those of /etc/resolv.conf.", dnsServers),
    _O("s2s_connect_timeout", float, 30.0, GLOBAL, "Seconds to set up a server-to-server stream: outgoing, before queued stanzas bounce; incoming, before an unauthenticated peer is dropped.", above(0)),
    _O("s2s_idle_timeout", float, 600.0, GLOBAL, "Seconds without traffic after which a server-to-server stream is closed.", above(0)),
    _O("s2s_queue_size", int, 1000, GLOBAL, "Stanzas held per remote domain while its stream is being set up; more bounce.", atLeast(1)),
)
# fmt: on

_BY_NAME = {option.name: option for option in OPTIONS}


def globalKeys():
    """
    @return: the names of the server-wide options, in schema order.
    """
    return tuple(option.name for option in OPTIONS if option.scope == GLOBAL)


def hostKeys():
    """
    @return: the names of the options that may appear in a host table (and,
        as defaults for every host, in the global section), in schema order.
    """
    return tuple(option.name for option in OPTIONS if option.scope == HOST)


# The configuration objects, built from OPTIONS.


def _annotation(option):
    if option.type is tuple:
        return tuple[str, ...]
    return option.type | None if option.default is None else option.type


def _field(option, withDefault):
    """
    @return: a L{make_dataclass} field spec for C{option}; with its static
        default if C{withDefault}, so that tests can build a L{HostConfig}
        from a domain alone.
    """
    if withDefault:
        return (option.attribute, _annotation(option), field(default=option.default))
    return (option.attribute, _annotation(option))


def _docFor(summary, scope, extra):
    lines = [summary, ""]
    for option in OPTIONS:
        if option.scope == scope:
            lines.append(f"@ivar {option.attribute}: (C{{{option.name}}}) {option.doc}")
    return "\n".join(lines + extra)


def _makeConfigClass(name, head, scope, tail, summary, extra, namespace=None):
    """
    Build a frozen dataclass whose middle fields are the C{scope} options.
    """
    fields = [_field(option, scope == HOST) for option in OPTIONS if option.scope == scope]
    namespace = dict(namespace or {}, __doc__=_docFor(summary, scope, extra))
    cls = make_dataclass(name, head + fields + tail, frozen=True, namespace=namespace)
    cls.__module__ = __name__
    return cls


HostConfig = _makeConfigClass(
    "HostConfig",
    [("domain", str)],
    HOST,
    [("pluginOptions", Mapping[str, Mapping], field(default_factory=lambda: MappingProxyType({})))],
    "The settings of one virtual host: its globals overridden by its table.",
    [
        "@ivar domain: the normalised domain name (lowercase, IDNA U-labels).",
        "@ivar pluginOptions: plugin name to its options, from C{[plugin.<name>]}",
        "    merged key by key with C{[hosts.\"<domain>\".plugin.<name>]}.",
    ],
)


def _hostFor(self, domain):
    """
    Look up a virtual host by domain, normalising the domain first.

    @return: the L{HostConfig}, or C{None} if C{domain} is not hosted here.
    """
    try:
        return self.hosts.get(_normaliseDomain(domain))
    except ValueError:
        return None


ServerConfig = _makeConfigClass(
    "ServerConfig",
    [("source", str)],
    GLOBAL,
    [("hosts", Mapping[str, HostConfig])],
    "The whole server's configuration, as validated at start-up.",
    [
        "@ivar source: the file it was read from, or C{\"<defaults>\"}.",
        "@ivar hosts: normalised domain to L{HostConfig}, in file order.",
    ],
    {"host": _hostFor},
)


# Key paths and domains.


def _keyPart(part):
    """
    Spell one key as TOML would: bare if it can be, quoted otherwise.
    """
    if part and all(c.isascii() and (c.isalnum() or c in "-_") for c in part):
        return part
    return json.dumps(part, ensure_ascii=False)


def _keyPath(path):
    """
    @param path: a tuple of keys, e.g. C{("hosts", "example.org", "tls_key")}.
    @return: the dotted TOML key path, e.g. C{'hosts."example.org".tls_key'}.
        A host's domain is always quoted, as in the sample file.
    """
    parts = [_keyPart(part) for part in path]
    if len(path) > 1 and path[0] == _HOSTS:
        parts[1] = json.dumps(path[1], ensure_ascii=False)
    return ".".join(parts)


#: Label separators IDNA treats as a full stop (RFC 3490 section 3.1).
_FULL_STOPS = ".\u3002\uff0e\uff61"


def _normaliseDomain(name):
    """
    Normalise a domain name as an XMPP domainpart (RFC 7622 section 3.2.1):
    one trailing full stop removed, case folded and mapped by UTS 46,
    checked by IDNA2008 with the STD3 (letters, digits, hyphen) rules, and
    any A-labels turned into U-labels.  A bracketed IPv6 literal is kept in
    its compressed form.  These are the rules of L{jabberd.jid.prepDomain},
    so a configured domain matches the domain of an incoming stream.

    @raise ValueError: if C{name} is not a valid domain name.
    """
    name = name[:-1] if name and name[-1] in _FULL_STOPS else name
    if name.startswith("[") and name.endswith("]"):
        return f"[{ipaddress.IPv6Address(name[1:-1]).compressed}]"
    if not name:
        raise ValueError("empty domain name")
    return idna.decode(idna.encode(name, uts46=True, std3_rules=True))


# Parsing.


def _expectTable(value, path, source):
    if not isinstance(value, dict):
        raise ConfigError(source, _keyPath(path), f"expected a table, got {_describe(value)}")
    return value


def _unknownKey(key, path, allowed, source):
    """
    @return: the L{ConfigError} for a key that is not allowed at C{path}.
    """
    where = _keyPath(path + (key,))
    option = _BY_NAME.get(key)
    if path and option is not None and option.scope == GLOBAL:
        reason = (
            "server-wide option, not allowed in a host table"
            " (set it in the global section, above the first [table])"
        )
        return ConfigError(source, where, reason)
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f" (did you mean {json.dumps(close[0])}?)" if close else ""
    return ConfigError(source, where, f"unknown key{hint}")


def _parseOptions(table, scope, path, source):
    """
    Check the option keys of the global section (C{scope} L{GLOBAL}) or of a
    host table (C{scope} L{HOST}); nested tables are left to the caller.

    @return: the parsed values present in C{table}, by attribute name.
    """
    nested = {_HOSTS, _PLUGIN} if scope == GLOBAL else {_PLUGIN}
    allowed = [o.name for o in OPTIONS if scope == GLOBAL or o.scope == HOST]
    values = {}
    for key, value in table.items():
        if key in nested:
            continue
        if key not in allowed:
            raise _unknownKey(key, path, allowed + sorted(nested), source)
        try:
            values[_BY_NAME[key].attribute] = _BY_NAME[key].parse(value)
        except ValueError as e:
            raise ConfigError(source, _keyPath(path + (key,)), str(e)) from None
    _checkCertificatePair(values, path, source)
    return values


def _checkCertificatePair(values, path, source):
    """
    A certificate is useless without its key and the other way round, so a
    table that sets one of C{tls_certificate} and C{tls_key} must set both.
    """
    hasCertificate, hasKey = "tlsCertificate" in values, "tlsKey" in values
    if hasCertificate != hasKey:
        given, missing = ("tls_certificate", "tls_key")[:: 1 if hasCertificate else -1]
        raise ConfigError(source, _keyPath(path + (missing,)), f"required when {given} is set")


def _parsePluginTables(table, path, source):
    """
    Parse a C{plugin} table: one table of options per plugin name.  The
    options themselves are checked by each plugin's own C{parseConfig}.

    @return: plugin name to a C{dict} of its options.
    """
    if table is None:
        return {}
    _expectTable(table, path, source)
    return {
        name: copy.deepcopy(_expectTable(options, path + (name,), source))
        for name, options in table.items()
    }


def _mergePluginOptions(globalOptions, hostOptions):
    """
    Merge global and host plugin options key by key, the host winning.

    @return: a read-only mapping of read-only mappings.
    """
    merged = {name: dict(options) for name, options in globalOptions.items()}
    for name, options in hostOptions.items():
        merged.setdefault(name, {}).update(options)
    return MappingProxyType({name: MappingProxyType(options) for name, options in merged.items()})


def _resolveGlobals(values, source):
    """
    Fill in the defaults of the server-wide options, in schema order so that
    derived defaults (C{storage}, C{pidfile}) see C{data_dir}.
    """
    resolved = {}
    for option in OPTIONS:
        if option.scope != GLOBAL:
            continue
        if option.attribute in values:
            resolved[option.attribute] = values[option.attribute]
        else:
            resolved[option.attribute] = option.defaultFor(resolved)
    if resolved["authFailureMaxDelay"] < resolved["authFailureDelay"]:
        reason = f"must be at least auth_failure_delay ({resolved['authFailureDelay']})"
        raise ConfigError(source, "auth_failure_max_delay", reason)
    return resolved


class _HostDefaults:
    """
    What the global section says about every host: host options and plugin
    options, which each host table overrides.
    """

    def __init__(self, values, pluginOptions):
        self.values = {o.attribute: o.default for o in OPTIONS if o.scope == HOST}
        self.values.update((k, v) for k, v in values.items() if k in self.values)
        self.pluginOptions = pluginOptions

    def build(self, domain, values=(), pluginOptions=None):
        """
        @return: the L{HostConfig} of C{domain}, overridden by C{values} and
            C{pluginOptions} from its host table.
        """
        merged = _mergePluginOptions(self.pluginOptions, pluginOptions or {})
        return HostConfig(domain=domain, **dict(self.values, **dict(values)), pluginOptions=merged)


def _parseHost(rawName, table, defaults, source):
    """
    Parse one C{[hosts."<domain>"]} table.

    @return: the L{HostConfig}.
    """
    path = (_HOSTS, rawName)
    try:
        domain = _normaliseDomain(rawName)
    except ValueError as e:
        raise ConfigError(source, _keyPath(path), f"invalid domain name: {e}") from None
    _expectTable(table, path, source)
    values = _parseOptions(table, HOST, path, source)
    plugins = _parsePluginTables(table.get(_PLUGIN), path + (_PLUGIN,), source)
    return defaults.build(domain, values, plugins)


def _parseHosts(data, defaults, source):
    """
    Parse the C{hosts} table; without one, the server hosts C{localhost}.

    @return: a read-only mapping from normalised domain to L{HostConfig}.
    """
    if _HOSTS not in data:
        return MappingProxyType({"localhost": defaults.build("localhost")})
    hosts, rawNames = {}, {}
    for rawName, table in _expectTable(data[_HOSTS], (_HOSTS,), source).items():
        host = _parseHost(rawName, table, defaults, source)
        if host.domain in hosts:
            first = _keyPath((_HOSTS, rawNames[host.domain]))
            raise ConfigError(source, _keyPath((_HOSTS, rawName)), f"same domain as {first}")
        hosts[host.domain], rawNames[host.domain] = host, rawName
    return MappingProxyType(hosts)


def parseConfig(data, source):
    """
    Validate a parsed configuration document and build the L{ServerConfig}.

    @param data: the document as returned by L{tomllib.load}.
    @param source: the file name, used in error messages.
    @raise ConfigError: naming the first key found to be wrong.
    """
    values = _parseOptions(data, GLOBAL, (), source)
    plugins = _parsePluginTables(data.get(_PLUGIN), (_PLUGIN,), source)
    hosts = _parseHosts(data, _HostDefaults(values, plugins), source)
    return ServerConfig(source=source, hosts=hosts, **_resolveGlobals(values, source))


def _readToml(source):
    """
    Read and parse a TOML file.

    @raise ConfigError: if it cannot be read or is not valid TOML; a syntax
        error's message gives the line and column.
    """
    try:
        with open(source, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise ConfigError(source, "", f"cannot read file: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(source, "", f"not valid UTF-8 (byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(source, "", f"invalid TOML: {e}") from None


def loadConfig(path=None):
    """
    Load the server configuration.

    @param path: the TOML file, or C{None} for the zero-configuration
        defaults (source C{"<defaults>"}): one host, C{localhost}.
    @return: a L{ServerConfig}.
    @raise ConfigError: if the file is unreadable or any value is wrong.
    """
    if path is None:
        return parseConfig({}, DEFAULTS_SOURCE)
    source = os.fspath(path)
    return parseConfig(_readToml(source), source)
