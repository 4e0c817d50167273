"""
Tests for L{jabberd.config}: loading, defaults, host overrides, plugin
options, and the one-line error an operator sees for each kind of mistake.
"""

import dataclasses
import math
import os
import re
import textwrap
import tomllib
from pathlib import Path

import pytest

from jabberd.config import (
    DEFAULT_PLUGINS,
    GLOBAL,
    HOST,
    OPTIONS,
    SASL_MECHANISMS,
    ConfigError,
    HostConfig,
    ServerConfig,
    globalKeys,
    hostKeys,
    loadConfig,
    parseConfig,
)

MECHANISMS = ", ".join(f'"{m}"' for m in SASL_MECHANISMS)
SAMPLE = Path(__file__).resolve().parent.parent / "etc" / "jabberd.toml"


@pytest.fixture(autouse=True)
def inTmpPath(tmp_path, monkeypatch):
    """
    Run every test in its own empty directory, so relative paths resolve there.
    """
    monkeypatch.chdir(tmp_path)


def writeConfig(tmp_path, text, name="jabberd.toml"):
    """
    Write a dedented TOML document and return its path.
    """
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def loadText(tmp_path, text):
    return loadConfig(writeConfig(tmp_path, text))


def loadError(tmp_path, text):
    """
    Load a configuration that must be refused; return the L{ConfigError}.
    """
    path = writeConfig(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        loadConfig(path)
    assert info.value.source == str(path)
    return info.value


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("-----BEGIN PLACEHOLDER-----\n")
    return path


# Zero-configuration defaults.


def test_zeroConfigDefaults(tmp_path):
    """
    Without a file every option has its documented default, paths are
    absolute against the working directory, and the server hosts localhost.
    """
    config = loadConfig()
    dataDir = str(tmp_path / "jabberd-data")
    assert config.source == "<defaults>"
    assert config.dataDir == dataDir
    assert config.storage == f"sqlite:///{dataDir}/jabberd.sqlite"
    assert config.pidfile == f"{dataDir}/jabberd.pid"
    assert config.storageAutoUpgrade is True
    assert config.c2sListeners == ("tcp:5222:interface=127.0.0.1",)
    assert (config.logFormat, config.logLevel) == ("text", "info")
    assert config.jidCacheSize == 10000
    assert (config.authFailureDelay, config.authFailureMaxDelay) == (0.5, 10.0)
    assert config.maxConnectionsPerAddress == 32
    assert config.maxStanzaSize == 262144
    assert config.maxDepth == 32
    assert config.authTimeout == 30.0
    assert config.c2sReadRate == 102400
    assert list(config.hosts) == ["localhost"]


def test_zeroConfigHostDefaults():
    """
    The default localhost host has no certificate, requires encryption,
    offers every SASL mechanism and enables the default IM plugins.
    """
    host = loadConfig().hosts["localhost"]
    assert host == HostConfig(domain="localhost")
    assert host.tlsCertificate is None and host.tlsKey is None
    assert host.c2sRequireEncryption is True
    assert host.saslMechanisms == (
        "SCRAM-SHA-256-PLUS",
        "SCRAM-SHA-1-PLUS",
        "SCRAM-SHA-256",
        "SCRAM-SHA-1",
        "PLAIN",
    )
    assert host.plugins == DEFAULT_PLUGINS
    assert {"roster", "presence", "message"} <= set(host.plugins)
    assert dict(host.pluginOptions) == {}


def test_emptyFileEqualsDefaults(tmp_path):
    """
    An empty file means the same as no file at all, except for its source.
    """
    config = loadText(tmp_path, "")
    assert dataclasses.replace(config, source="<defaults>") == loadConfig()


def test_parseConfigUsesSource():
    """
    L{parseConfig} takes a document as returned by tomllib and a source name.
    """
    config = parseConfig({"log_level": "debug"}, "test.toml")
    assert config.source == "test.toml"
    assert config.logLevel == "debug"


def test_dataDirDerivedDefaults(tmp_path):
    """
    The default database and pid file live in the configured data_dir.
    """
    config = loadText(tmp_path, 'data_dir = "var/lib"\n')
    assert config.dataDir == str(tmp_path / "var" / "lib")
    assert config.storage == f"sqlite:///{tmp_path}/var/lib/jabberd.sqlite"
    assert config.pidfile == str(tmp_path / "var" / "lib" / "jabberd.pid")


def test_globalValues(tmp_path):
    """
    Every server-wide option is read into its attribute.
    """
    config = loadText(
        tmp_path,
        """
        data_dir = "/srv/jabberd"
        storage = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        storage_auto_upgrade = false
        c2s_listeners = ["tcp:5222", "tcp6:5223"]
        log_format = "json"
        log_level = "warn"
        pidfile = "/run/jabberd.pid"
        jid_cache_size = 0
        auth_failure_delay = 1
        auth_failure_max_delay = 60
        max_connections_per_address = 1
        max_stanza_size = 4096
        max_depth = 2
        auth_timeout = 2.5
        c2s_read_rate = 0
        """,
    )
    assert config.dataDir == "/srv/jabberd"
    assert config.storage == "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    assert config.storageAutoUpgrade is False
    assert config.c2sListeners == ("tcp:5222", "tcp6:5223")
    assert (config.logFormat, config.logLevel) == ("json", "warn")
    assert config.pidfile == "/run/jabberd.pid"
    assert (config.jidCacheSize, config.maxConnectionsPerAddress) == (0, 1)
    assert (config.maxStanzaSize, config.maxDepth, config.c2sReadRate) == (4096, 2, 0)
    assert (config.authFailureDelay, config.authFailureMaxDelay) == (1.0, 60.0)
    assert config.authTimeout == 2.5


def test_intAcceptedForFloat(tmp_path):
    """
    An integer is accepted where a number of seconds is expected, and is
    stored as a float.
    """
    config = loadText(tmp_path, "auth_timeout = 5\n")
    assert config.authTimeout == 5.0
    assert isinstance(config.authTimeout, float)


def test_relativeSqlitePathMadeAbsolute(tmp_path):
    """
    A relative SQLite file path resolves against the working directory, so
    the database stays put if the process changes directory later.
    """
    config = loadText(tmp_path, 'storage = "sqlite:///db/x.sqlite"\n')
    assert config.storage == f"sqlite:///{tmp_path}/db/x.sqlite"


def test_sqliteMemoryUnchanged(tmp_path):
    """
    An in-memory SQLite URL has no file to resolve.
    """
    assert loadText(tmp_path, 'storage = "sqlite://"\n').storage == "sqlite://"


def test_frozen():
    """
    The configuration cannot be changed once loaded.
    """
    config = loadConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.logLevel = "debug"
    with pytest.raises(TypeError):
        config.hosts["evil.example"] = config.hosts["localhost"]


# Hosts.


def test_hostOverrides(tmp_path):
    """
    A host table overrides the global host options for that host only;
    other hosts keep the global values.  Hosts keep the file's order.
    """
    config = loadText(
        tmp_path,
        """
        c2s_require_encryption = false
        sasl_mechanisms = ["SCRAM-SHA-256", "PLAIN"]

        [hosts."b.example"]
        sasl_mechanisms = ["SCRAM-SHA-1"]

        [hosts."a.example"]
        """,
    )
    assert list(config.hosts) == ["b.example", "a.example"]
    b, a = config.hosts["b.example"], config.hosts["a.example"]
    assert b.saslMechanisms == ("SCRAM-SHA-1",)
    assert a.saslMechanisms == ("SCRAM-SHA-256", "PLAIN")
    assert a.c2sRequireEncryption is False and b.c2sRequireEncryption is False


def test_hostPluginListReplacesGlobal(tmp_path):
    """
    A host's plugins list replaces the global list rather than adding to it.
    """
    config = loadText(
        tmp_path,
        """
        plugins = ["ping", "disco"]
        [hosts."a.example"]
        plugins = ["register"]
        [hosts."b.example"]
        """,
    )
    assert config.hosts["a.example"].plugins == ("register",)
    assert config.hosts["b.example"].plugins == ("ping", "disco")


def test_globalHostOptionsApplyToDefaultHost(tmp_path):
    """
    Host options in the global section also shape the implicit localhost.
    """
    config = loadText(tmp_path, 'plugins = ["ping", "version"]\n')
    assert config.hosts["localhost"].plugins == ("ping", "version")


def test_explicitEmptyHosts(tmp_path):
    """
    Only a file without any hosts table gets the implicit localhost; an
    explicitly empty table means no hosts (they may be added at run time).
    """
    assert dict(loadText(tmp_path, "hosts = {}\n").hosts) == {}


@pytest.mark.parametrize(
    "written, domain",
    [
        ("Example.ORG", "example.org"),
        ("example.org.", "example.org"),
        ("example.org\u3002", "example.org"),
        ("BÜCHER.example", "bücher.example"),
        ("xn--bcher-kva.example", "bücher.example"),
        ("127.0.0.1", "127.0.0.1"),
        ("[0:0::1]", "[::1]"),
    ],
)
def test_domainNormalised(tmp_path, written, domain):
    """
    Host domains are lowercased, IDNA-mapped (UTS 46) to U-labels, and lose
    a trailing dot.
    """
    config = loadText(tmp_path, f'[hosts."{written}"]\n')
    assert list(config.hosts) == [domain]
    assert config.hosts[domain].domain == domain


def test_hostLookup(tmp_path):
    """
    L{ServerConfig.host} normalises the domain it is asked for and returns
    C{None} for a domain not hosted (or not a domain at all).
    """
    config = loadText(tmp_path, '[hosts."example.org"]\n')
    assert config.host("EXAMPLE.org.") is config.hosts["example.org"]
    assert config.host("example.net") is None
    assert config.host("not a domain") is None


@pytest.mark.parametrize("name", ["exa mple.org", "-bad.example", "a..b", "", "under_score.org"])
def test_badDomain(tmp_path, name):
    """
    A host table whose name is not a valid domain is refused, naming it.
    """
    error = loadError(tmp_path, f'[hosts."{name}"]\n')
    assert error.key == f'hosts."{name}"'
    assert error.reason.startswith("invalid domain name")


def test_duplicateDomainAfterNormalisation(tmp_path):
    """
    Two tables naming the same domain in different spellings are refused.
    """
    error = loadError(tmp_path, '[hosts."example.org"]\n[hosts."Example.Org"]\n')
    assert error.key == 'hosts."Example.Org"'
    assert error.reason == 'same domain as hosts."example.org"'


# Plugin options.


def test_pluginOptionMerge(tmp_path):
    """
    Global [plugin.<name>] options are merged key by key with a host's own,
    the host winning; hosts without their own table get the global options.
    """
    config = loadText(
        tmp_path,
        """
        [plugin.register]
        open = false
        min_password_length = 8

        [hosts."a.example".plugin.register]
        open = true
        welcome = "hi"

        [hosts."a.example".plugin.muc]
        rooms = ["lobby"]

        [hosts."b.example"]
        """,
    )
    a, b = config.hosts["a.example"], config.hosts["b.example"]
    assert dict(a.pluginOptions["register"]) == {
        "open": True,
        "min_password_length": 8,
        "welcome": "hi",
    }
    assert dict(a.pluginOptions["muc"]) == {"rooms": ["lobby"]}
    assert dict(b.pluginOptions["register"]) == {"open": False, "min_password_length": 8}
    assert "muc" not in b.pluginOptions


def test_pluginOptionsNotShared(tmp_path):
    """
    Each host's plugin options are its own read-only copy.
    """
    config = loadText(tmp_path, '[plugin.x]\nv = 1\n[hosts."a.example"]\n[hosts."b.example"]\n')
    a = config.hosts["a.example"].pluginOptions
    with pytest.raises(TypeError):
        a["x"]["v"] = 2
    assert a["x"] == config.hosts["b.example"].pluginOptions["x"]
    assert a["x"] is not config.hosts["b.example"].pluginOptions["x"]


@pytest.mark.parametrize(
    "text, key",
    [
        ("plugin = 1\n", "plugin"),
        ("[plugin]\nregister = 1\n", "plugin.register"),
        ('[hosts."a.example"]\nplugin = "x"\n', 'hosts."a.example".plugin'),
        ('[hosts."a.example".plugin]\nmuc = []\n', 'hosts."a.example".plugin.muc'),
        ("hosts = 1\n", "hosts"),
        ("[hosts]\nlocalhost = 1\n", 'hosts."localhost"'),
    ],
)
def test_tableExpected(tmp_path, text, key):
    """
    Where a table is expected, anything else is refused, naming the key.
    """
    error = loadError(tmp_path, text)
    assert error.key == key
    assert error.reason.startswith("expected a table, got ")


# Unknown keys.


def test_unknownGlobalKey(tmp_path):
    """
    A misspelt global key is refused, with a suggestion.
    """
    error = loadError(tmp_path, 'storag = "sqlite://"\n')
    assert error.key == "storag"
    assert error.reason == 'unknown key (did you mean "storage"?)'
    assert str(error) == f'{tmp_path / "jabberd.toml"}: storag: unknown key (did you mean "storage"?)'


def test_unknownHostKey(tmp_path):
    """
    An unknown key in a host table is refused with its full key path.
    """
    error = loadError(tmp_path, '[hosts."example.org"]\ncolour = "blue"\n')
    assert error.key == 'hosts."example.org".colour'
    assert error.reason == "unknown key"


def test_unknownNestedTable(tmp_path):
    """
    An unknown table nested in a host table is refused, naming the table.
    """
    error = loadError(tmp_path, '[hosts."example.org".tls]\ncertificate = "x.pem"\n')
    assert error.key == 'hosts."example.org".tls'
    assert error.reason.startswith("unknown key")


def test_serverWideKeyInHostTable(tmp_path):
    """
    A server-wide option inside a host table (typically written below a
    [hosts] header by mistake) is refused with a hint saying where it goes.
    """
    error = loadError(tmp_path, '[hosts."example.org"]\nlog_level = "debug"\n')
    assert error.key == 'hosts."example.org".log_level'
    assert "server-wide option" in error.reason
    assert "global section" in error.reason


# Wrong types and values.


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("max_stanza_size", '"65536"', 'expected an integer, got string "65536"'),
        ("jid_cache_size", "true", "expected an integer, got boolean true"),
        ("max_depth", "3.0", "expected an integer, got float 3.0"),
        ("storage_auto_upgrade", "1", "expected a boolean (true or false), got integer 1"),
        ("auth_timeout", '"30"', 'expected a number, got string "30"'),
        ("auth_failure_delay", "false", "expected a number, got boolean false"),
        ("log_level", "3", "expected a string, got integer 3"),
        ("data_dir", "1979-05-27", "expected a string, got date/time 1979-05-27"),
        ("c2s_listeners", '"tcp:5222"', 'expected an array of strings, got string "tcp:5222"'),
        ("sasl_mechanisms", '["PLAIN", 1]', "expected a string at index 1, got integer 1"),
        ("plugins", "{ping = true}", "expected an array of strings, got a table"),
        ("pidfile", '["a"]', "expected a string, got an array"),
    ],
)
def test_wrongType(tmp_path, key, value, expected):
    """
    Types are strict: no string-to-number conversion, a boolean is not an
    integer, and arrays must hold strings.
    """
    error = loadError(tmp_path, f"{key} = {value}\n")
    assert (error.key, error.reason) == (key, expected)


def test_wrongTypeInHostTable(tmp_path):
    """
    A wrong type in a host table is reported with the host's key path.
    """
    error = loadError(tmp_path, '[hosts."example.org"]\nc2s_require_encryption = "yes"\n')
    assert error.key == 'hosts."example.org".c2s_require_encryption'
    assert error.reason == 'expected a boolean (true or false), got string "yes"'


@pytest.mark.parametrize(
    "key, value, reason",
    [
        ("max_stanza_size", "4095", "must be at least 4096, got 4095"),
        ("max_depth", "1", "must be at least 2, got 1"),
        ("max_connections_per_address", "0", "must be at least 1, got 0"),
        ("jid_cache_size", "-1", "must be at least 0, got -1"),
        ("c2s_read_rate", "-5", "must be at least 0, got -5"),
        ("auth_failure_delay", "-0.5", "must be at least 0, got -0.5"),
        ("auth_timeout", "0", "must be greater than 0, got 0.0"),
        ("auth_timeout", "nan", "expected a finite number, got nan"),
        ("auth_failure_max_delay", "inf", "expected a finite number, got inf"),
        ("data_dir", '""', "must not be empty"),
    ],
)
def test_outOfRange(tmp_path, key, value, reason):
    """
    Numbers outside their allowed range are refused with the bound.
    """
    error = loadError(tmp_path, f"{key} = {value}\n")
    assert (error.key, error.reason) == (key, reason)


def test_maxDelayBelowDelay(tmp_path):
    """
    The failed-login delay cannot start above its own upper bound.
    """
    error = loadError(tmp_path, "auth_failure_delay = 20\n")
    assert error.key == "auth_failure_max_delay"
    assert error.reason == "must be at least auth_failure_delay (20.0)"


@pytest.mark.parametrize(
    "key, value, reason",
    [
        ("log_format", '"xml"', 'must be one of "text", "json", got "xml"'),
        ("log_level", '"warning"', 'must be one of "debug", "info", "warn", "error", got "warning"'),
        ("sasl_mechanisms", '["DIGEST-MD5"]', f'must be one of {MECHANISMS}, got "DIGEST-MD5"'),
        ("sasl_mechanisms", "[]", f"must list at least one of {MECHANISMS}"),
        ("sasl_mechanisms", '["PLAIN", "PLAIN"]', '"PLAIN" is listed twice'),
        ("plugins", '["ping", "ping"]', '"ping" is listed twice'),
        ("plugins", '[""]', "names must not be empty"),
        ("c2s_listeners", '["bogus:5222"]', 'unknown endpoint type "bogus" in "bogus:5222"'),
        ("storage", '"not a url"', 'not an SQLAlchemy database URL: "not a url"'),
        ("storage", '"nosuchdb://host/db"', 'unknown database type "nosuchdb"'),
        ("storage", '"postgresql+nodriver://host/db"', 'unknown database type "postgresql+nodriver"'),
    ],
)
def test_badValue(tmp_path, key, value, reason):
    """
    Values outside their set of choices are refused, listing the choices.
    """
    error = loadError(tmp_path, f"{key} = {value}\n")
    assert (error.key, error.reason) == (key, reason)


def test_listenerTypes(tmp_path):
    """
    Listeners are Twisted endpoint strings: built-in types and those added
    by endpoint plugins (tls:, systemd:, tcp6:) are accepted.
    """
    listeners = [
        "tcp:5222:interface=127.0.0.1",
        "tls:/etc/jabberd/certs:port=5223",
        "systemd:domain=INET6:name=jabberd",
        "tcp6:5222:interface=\\\\:\\\\:1",
        "unix:/run/jabberd.sock",
    ]
    text = "c2s_listeners = [" + ", ".join(f'"{x}"' for x in listeners) + "]\n"
    config = loadText(tmp_path, text)
    assert config.c2sListeners == tuple(x.replace("\\\\", "\\") for x in listeners)


# Certificates.


def test_missingCertificate(tmp_path):
    """
    A certificate file that does not exist stops the server with one
    message naming the file, the key and the absolute path.
    """
    touch(tmp_path / "key.pem")
    path = writeConfig(
        tmp_path,
        """
        [hosts."example.org"]
        tls_certificate = "certs/missing.pem"
        tls_key = "key.pem"
        """,
    )
    with pytest.raises(ConfigError) as info:
        loadConfig(path)
    missing = tmp_path / "certs" / "missing.pem"
    assert str(info.value) == f'{path}: hosts."example.org".tls_certificate: file not found: {missing}'


def test_missingGlobalKeyFile(tmp_path):
    """
    A missing key file given globally is reported under its global key.
    """
    touch(tmp_path / "cert.pem")
    error = loadError(tmp_path, 'tls_certificate = "cert.pem"\ntls_key = "nope.pem"\n')
    assert error.key == "tls_key"
    assert error.reason == f"file not found: {tmp_path / 'nope.pem'}"


def test_certificateIsDirectory(tmp_path):
    """
    A directory is not a certificate file.
    """
    (tmp_path / "certs").mkdir()
    touch(tmp_path / "key.pem")
    error = loadError(tmp_path, 'tls_certificate = "certs"\ntls_key = "key.pem"\n')
    assert (error.key, error.reason) == ("tls_certificate", f"not a regular file: {tmp_path / 'certs'}")


def test_certificatePaths(tmp_path):
    """
    Existing certificate and key paths are made absolute; a host's own pair
    overrides the global pair, which other hosts inherit.
    """
    for name in ("a.pem", "a.key", "o/cert.pem", "o/key.pem"):
        touch(tmp_path / name)
    config = loadText(
        tmp_path,
        """
        tls_certificate = "a.pem"
        tls_key = "a.key"
        [hosts."example.org"]
        tls_certificate = "o/cert.pem"
        tls_key = "o/key.pem"
        [hosts."example.net"]
        """,
    )
    org, net = config.hosts["example.org"], config.hosts["example.net"]
    assert (org.tlsCertificate, org.tlsKey) == (str(tmp_path / "o/cert.pem"), str(tmp_path / "o/key.pem"))
    assert (net.tlsCertificate, net.tlsKey) == (str(tmp_path / "a.pem"), str(tmp_path / "a.key"))


def test_certificateWithoutKey(tmp_path):
    """
    A host that sets a certificate must also set its key.
    """
    touch(tmp_path / "cert.pem")
    error = loadError(tmp_path, '[hosts."example.org"]\ntls_certificate = "cert.pem"\n')
    assert error.key == 'hosts."example.org".tls_key'
    assert error.reason == "required when tls_certificate is set"


def test_keyWithoutCertificate(tmp_path):
    """
    A key without a certificate is refused too.
    """
    touch(tmp_path / "key.pem")
    error = loadError(tmp_path, 'tls_key = "key.pem"\n')
    assert (error.key, error.reason) == ("tls_certificate", "required when tls_key is set")


# Reading the file.


def test_syntaxError(tmp_path):
    """
    A TOML syntax error names the file and the line.
    """
    error = loadError(tmp_path, 'log_level = "info"\nmax_depth = = 3\n')
    assert error.key == ""
    assert "line 2" in error.reason
    assert str(error).startswith(f"{tmp_path / 'jabberd.toml'}: invalid TOML: ")


def test_unreadableFile(tmp_path):
    """
    A configuration file that does not exist is named in the error.
    """
    with pytest.raises(ConfigError) as info:
        loadConfig(tmp_path / "nope.toml")
    assert str(info.value) == f"{tmp_path / 'nope.toml'}: cannot read file: No such file or directory"


def test_notUtf8(tmp_path):
    """
    A file that is not UTF-8 is refused with the position of the bad byte.
    """
    path = tmp_path / "latin1.toml"
    path.write_bytes('log_level = "d\xe9bug"\n'.encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        loadConfig(path)
    assert str(info.value) == f"{path}: not valid UTF-8 (byte 14)"


def test_configErrorWithoutKey():
    """
    Without a key path, the message is the file and the reason only.
    """
    error = ConfigError("x.toml", "", "invalid TOML: boom")
    assert (error.source, error.key, error.reason) == ("x.toml", "", "invalid TOML: boom")
    assert str(error) == "x.toml: invalid TOML: boom"


# The schema and the sample file.


def test_configClassesFollowSchema():
    """
    L{ServerConfig} and L{HostConfig} have one field per option, in schema
    order, so adding a row to L{OPTIONS} adds the attribute.
    """
    serverFields = [f.name for f in dataclasses.fields(ServerConfig)]
    hostFields = [f.name for f in dataclasses.fields(HostConfig)]
    assert serverFields == ["source"] + [o.attribute for o in OPTIONS if o.scope == GLOBAL] + ["hosts"]
    assert hostFields == ["domain"] + [o.attribute for o in OPTIONS if o.scope == HOST] + ["pluginOptions"]
    assert set(globalKeys()) | set(hostKeys()) == {o.name for o in OPTIONS}
    assert "tls_certificate" in hostKeys() and "storage" in globalKeys()


def test_optionDefaultsMatchZeroConfig():
    """
    The zero-configuration values are exactly the schema's defaults.
    """
    config = loadConfig()
    resolved = {}
    for option in OPTIONS:
        target = config if option.scope == GLOBAL else config.hosts["localhost"]
        resolved[option.attribute] = getattr(target, option.attribute)
        assert resolved[option.attribute] == option.defaultFor(resolved), option.name


def test_sampleLoads():
    """
    The sample configuration loads as shipped, with its two example hosts.
    """
    config = loadConfig(SAMPLE)
    assert list(config.hosts) == ["example.org", "example.net"]
    org, net = config.hosts["example.org"], config.hosts["example.net"]
    assert org.tlsCertificate is None
    assert "register" not in org.plugins
    assert net.plugins == ("ping", "register")
    assert net.pluginOptions["register"]["min_password_length"] == 12
    assert org.pluginOptions["register"]["min_password_length"] == 8


def sampleValue(text, name):
    """
    @return: the first commented-out C{# name = value} line of the sample,
        parsed as TOML, or C{None} if there is none.
    """
    match = re.search(rf"^# {re.escape(name)} = (.+)$", text, re.MULTILINE)
    return match and tomllib.loads(f"{name} = {match.group(1)}")[name]


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.name)
def test_sampleDocumentsOption(option):
    """
    Every option appears in the sample as a commented-out line with a
    comment above it; where the option has a default, that line shows it.
    """
    text = SAMPLE.read_text(encoding="utf-8")
    value = sampleValue(text, option.name)
    assert value is not None, f"{option.name} missing from {SAMPLE}"
    lines = text.splitlines()
    index = lines.index(next(x for x in lines if x.startswith(f"# {option.name} = ")))
    assert lines[index - 1].startswith("#"), f"{option.name} has no explanation"
    if option.default is None:
        return
    documented = parseConfig({option.name: value}, "sample")
    default = parseConfig({}, "defaults")
    if option.scope == HOST:
        documented, default = documented.hosts["localhost"], default.hosts["localhost"]
    assert getattr(documented, option.attribute) == getattr(default, option.attribute)


def test_sampleSurvivesUncommentedDefaults(tmp_path):
    """
    Uncommenting every documented global default (except certificates,
    which name files that do not exist here) still loads.
    """
    text = SAMPLE.read_text(encoding="utf-8")
    names = [o.name for o in OPTIONS if o.default is not None]
    lines = [f"{n} = {re.search(rf'^# {n} = (.+)$', text, re.M).group(1)}" for n in names]
    config = loadText(tmp_path, "\n".join(lines) + "\n")
    assert config.c2sListeners == ("tcp:5222:interface=127.0.0.1",)
    assert not math.isnan(config.authTimeout)
    assert os.path.isabs(config.dataDir)
