"""
Tests for L{jabberd.jid}: RFC 7622 addresses, the parse cache, and the ASCII
fast paths checked against the full PRECIS and IDNA algorithms.
"""

import copy
import pickle

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jabberd import jid as jidModule
from jabberd.jid import (
    DEFAULT_CACHE_SIZE,
    JID,
    InvalidJID,
    cacheInfo,
    internJID,
    makeJID,
    parseJID,
    prepDomain,
    setCacheSize,
)


@pytest.fixture(autouse=True)
def freshCache():
    """
    Give every test an empty cache of the default size, and leave one
    behind.
    """
    setCacheSize(DEFAULT_CACHE_SIZE)
    yield
    setCacheSize(DEFAULT_CACHE_SIZE)


def parts(jid):
    return (jid.user, jid.host, jid.resource)


# RFC 7622 section 3.5.1, Table 1, with the prepared parts.
RFC7622_VALID = [
    ("juliet@example.com", ("juliet", "example.com", None)),
    ("juliet@example.com/foo", ("juliet", "example.com", "foo")),
    ("juliet@example.com/foo bar", ("juliet", "example.com", "foo bar")),
    ("juliet@example.com/foo@bar", ("juliet", "example.com", "foo@bar")),
    ("foo\\20bar@example.com", ("foo\\20bar", "example.com", None)),
    ("fussball@example.com", ("fussball", "example.com", None)),
    ("fu\u00dfball@example.com", ("fu\u00dfball", "example.com", None)),
    ("\u03c0@example.com", ("\u03c0", "example.com", None)),
    ("\u03a3@example.com/foo", ("\u03c3", "example.com", "foo")),
    ("\u03c3@example.com/foo", ("\u03c3", "example.com", "foo")),
    ("\u03c2@example.com/foo", ("\u03c2", "example.com", "foo")),
    ("king@example.com/\u265a", ("king", "example.com", "\u265a")),
    ("example.com", (None, "example.com", None)),
    ("example.com/foobar", (None, "example.com", "foobar")),
    ("a.example.com/b@example.net", (None, "a.example.com", "b@example.net")),
]

# RFC 7622 section 3.5.2, Table 2.  "Leading space in resourcepart" is left
# out: RFC 7622 erratum 4560 notes that OpaqueString allows it.
RFC7622_INVALID = [
    '"juliet"@example.com',
    "foo bar@example.com",
    "juliet@example.com/",
    "@example.com/",
    "henry\u2163@example.com",
    "\u265a@example.com",
    "juliet@",
    "/foobar",
]


@pytest.mark.parametrize("text, expected", RFC7622_VALID)
def test_rfc7622Valid(text, expected):
    """
    Every valid example of RFC 7622 section 3.5.1 parses to its parts.
    """
    assert parts(parseJID(text)) == expected


@pytest.mark.parametrize("text", RFC7622_INVALID)
def test_rfc7622Invalid(text):
    """
    Every invalid example of RFC 7622 section 3.5.2 is refused.
    """
    with pytest.raises(InvalidJID):
        parseJID(text)


def test_leadingSpaceInResource():
    """
    A leading space in a resourcepart is allowed (RFC 7622 erratum 4560).
    """
    assert parseJID("juliet@example.com/ foo").resource == " foo"


@pytest.mark.parametrize("text, expected", [
    ("server/resource@foo", (None, "server", "resource@foo")),
    ("server/resource@foo/bar", (None, "server", "resource@foo/bar")),
    ("u@h/r/s@t", ("u", "h", "r/s@t")),
])
def test_splitAtFirstSlashThenFirstAt(text, expected):
    """
    The resourcepart starts after the first C{/}; the localpart ends at the
    first C{@} before it (RFC 7622 section 3.1).
    """
    assert parts(parseJID(text)) == expected


@pytest.mark.parametrize("text", [
    "", "@", "/", "@/", "@server", "@server/resource", "node@/server",
    "user@", "user@@", "user@@host", "user@@host/resource", "user@@host/",
    "u@h/", "h/",
])
def test_emptyOrMisplacedParts(text):
    """
    Empty parts and a second C{@} in the bare JID are refused.
    """
    with pytest.raises(InvalidJID):
        parseJID(text)


def test_errorSaysWhatIsWrong():
    """
    The message of L{InvalidJID} names the part and the reason.
    """
    with pytest.raises(InvalidJID, match="empty resourcepart"):
        parseJID("juliet@example.com/")
    with pytest.raises(InvalidJID, match="localpart.*spaces"):
        parseJID("foo bar@example.com")
    with pytest.raises(InvalidJID, match="domainpart"):
        parseJID("juliet@exa_mple.com")
    assert issubclass(InvalidJID, ValueError)


def test_localpartCaseMapped():
    """
    UsernameCaseMapped lowers the case of a localpart, ASCII or not, and
    maps fullwidth characters to their ASCII forms.
    """
    assert parseJID("JuLiEt@example.com").user == "juliet"
    assert parseJID("\u00c9LODIE@example.com").user == "\u00e9lodie"
    assert parseJID("\uff2a\uff55\uff4c\uff49\uff45\uff54@x.org").user == (
        "juliet")


def test_localpartNormalisedToNFC():
    """
    A decomposed localpart is composed (NFC), so both spellings are one JID.
    """
    assert parseJID("e\u0301@example.com") == parseJID("\u00e9@example.com")


def test_finalSigmaIsNotSigma():
    """
    RFC 8265 maps case with toLowerCase, not case folding, so final sigma
    stays distinct from sigma.
    """
    assert parseJID("\u03c2@example.com") != parseJID("\u03c3@example.com")


def test_resourceCasePreserved():
    """
    OpaqueString keeps the case of a resourcepart and maps non-ASCII spaces
    to U+0020.
    """
    assert parseJID("a@example.com/Balcony").resource == "Balcony"
    assert parseJID("a@example.com/x\u00a0y").resource == "x y"


@pytest.mark.parametrize("char", list("\"&'/:<>@"))
def test_localpartExcludedCharacters(char):
    """
    RFC 7622 section 3.3.1 forbids C{" & ' / : < > @} in a localpart.
    """
    with pytest.raises(InvalidJID, match="not allowed"):
        makeJID(f"a{char}b", "example.com")


def test_localpartExcludedAfterWidthMapping():
    """
    A fullwidth C{@} maps to C{@} in the localpart, which is then refused.
    """
    with pytest.raises(InvalidJID, match="not allowed"):
        parseJID("a\uff20b@example.com")


@pytest.mark.parametrize("char", ["\x00", "\x1f", "\x7f", " ", "\u2163"])
def test_localpartDisallowedCodePoints(char):
    """
    Controls, spaces and compatibility characters are refused in a
    localpart.
    """
    with pytest.raises(InvalidJID):
        makeJID(f"a{char}b", "example.com")


@pytest.mark.parametrize("char", ["\x00", "\n", "\x7f", "\u200b"])
def test_resourceDisallowedCodePoints(char):
    """
    Controls and default-ignorable code points are refused in a
    resourcepart.
    """
    with pytest.raises(InvalidJID):
        makeJID("a", "example.com", f"r{char}s")


@pytest.mark.parametrize("raw, expected", [
    ("EXAMPLE.Com", "example.com"),
    ("example.com.", "example.com"),
    ("M\u00dcNCHEN.de", "m\u00fcnchen.de"),
    ("xn--mnchen-3ya.de", "m\u00fcnchen.de"),
    ("XN--MNCHEN-3YA.DE", "m\u00fcnchen.de"),
    ("fu\u00dfball.example", "fu\u00dfball.example"),
    ("\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d",
     "example.com"),
    ("example\u3002com", "example.com"),
    ("example.com\u3002", "example.com"),
    ("\u2163.com", "iv.com"),
    ("\u0645\u062b\u0627\u0644.example", "\u0645\u062b\u0627\u0644.example"),
])
def test_domainIDNA(raw, expected):
    """
    A domainpart is mapped with UTS #46, checked with IDNA2008 and kept as
    lowercase U-labels, a final dot stripped (RFC 7622 section 3.2).
    """
    assert prepDomain(raw) == expected
    assert parseJID(f"u@{raw}/r").host == expected


@pytest.mark.parametrize("raw", [
    "", ".", "..", "example..com", "example.com..", ".example.com",
    "-example.com", "example-.com", "ab--cd.com", "exa_mple.com",
    "exa mple.com", "a" * 64 + ".com", "xn--", "xn--abc-.com",
    "example.com:5222", "\u265a.com", "a\u200db.com",
])
def test_domainInvalid(raw):
    """
    Empty labels, bad hyphens, non-LDH ASCII, overlong labels, broken
    A-labels and IDNA2008-disallowed code points are refused.
    """
    with pytest.raises(InvalidJID):
        prepDomain(raw)


def test_ipv4Literal():
    """
    An IPv4 address is a valid domainpart.
    """
    assert parts(parseJID("juliet@192.0.2.1/r")) == ("juliet", "192.0.2.1",
                                                      "r")


@pytest.mark.parametrize("raw, expected", [
    ("[::1]", "[::1]"),
    ("[2001:DB8:0:0:0:0:0:1]", "[2001:db8::1]"),
    ("[2001:db8::1].", "[2001:db8::1]"),
])
def test_ipv6Literal(raw, expected):
    """
    A bracketed IPv6 address is a valid domainpart, kept in RFC 5952 form
    so that equal addresses make equal JIDs.
    """
    assert prepDomain(raw) == expected
    assert parseJID(f"u@{raw}/r").host == expected


@pytest.mark.parametrize("raw", [
    "::1", "[::1", "::1]", "[]", "[example.com]", "[192.0.2.1]",
    "[fe80::1%eth0]", "[v1.fe]", "[2001:db8::1::2]",
])
def test_ipv6LiteralInvalid(raw):
    """
    Unbracketed, malformed, zoned and IPvFuture literals are refused.
    """
    with pytest.raises(InvalidJID):
        prepDomain(raw)


@pytest.mark.parametrize("char, count, valid", [
    ("a", 1023, True),
    ("a", 1024, False),
    ("\u00e9", 511, True),
    ("\u00e9", 512, False),
])
def test_localpartLength(char, count, valid):
    """
    A localpart is at most 1023 octets of UTF-8.
    """
    local = char * count
    if valid:
        assert makeJID(local, "example.com").user == local
    else:
        with pytest.raises(InvalidJID, match="too long"):
            makeJID(local, "example.com")


@pytest.mark.parametrize("char, count, valid", [
    ("r", 1023, True),
    ("r", 1024, False),
    ("\u265a", 341, True),
    ("\u265a", 342, False),
])
def test_resourceLength(char, count, valid):
    """
    A resourcepart is at most 1023 octets of UTF-8.
    """
    text = f"a@example.com/{char * count}"
    if valid:
        assert parseJID(text).resource == char * count
    else:
        with pytest.raises(InvalidJID, match="too long"):
            parseJID(text)


def test_domainLength():
    """
    A domain name is at most 253 octets in A-label form (RFC 1035), well
    inside the 1023 octets of RFC 7622.
    """
    longest = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert prepDomain(longest) == longest
    with pytest.raises(InvalidJID):
        prepDomain(longest + "d")


def test_hugeInputRefusedEarly():
    """
    A part far beyond any legal length is refused before Unicode work.
    """
    with pytest.raises(InvalidJID, match="too long"):
        parseJID("\u00e9" * 100000 + "@example.com")
    with pytest.raises(InvalidJID, match="too long"):
        parseJID("a@example.com/" + "\u00e9" * 100000)
    with pytest.raises(InvalidJID):
        parseJID("a@" + "\u00e9" * 100000)


def test_parseTypeError():
    """
    Only a L{str} is parsed.
    """
    with pytest.raises(TypeError):
        parseJID(b"juliet@example.com")


def test_cacheHitSameObject():
    """
    Parsing the same text twice returns the same object.
    """
    first = parseJID("juliet@example.com/balcony")
    assert parseJID("juliet@example.com/balcony") is first
    assert internJID("juliet@example.com/balcony") is first


def test_cacheKeyedByRawText():
    """
    Different spellings of one JID are equal though cached apart.
    """
    upper = parseJID("JULIET@example.com")
    lower = parseJID("juliet@example.com")
    assert upper == lower
    assert cacheInfo().currsize == 2


def test_cacheBounded():
    """
    The cache never holds more entries than its limit, and the least
    recently used entry goes first.
    """
    setCacheSize(5)
    first = parseJID("user0@example.com")
    for i in range(1, 50):
        parseJID(f"user{i}@example.com")
        assert cacheInfo().currsize <= 5
    assert cacheInfo().maxsize == 5
    assert parseJID("user0@example.com") is not first
    assert parseJID("user0@example.com") == first


def test_cacheRecentlyUsedKept():
    """
    An entry used again is kept while newer ones are evicted.
    """
    setCacheSize(3)
    kept = parseJID("kept@example.com")
    for i in range(10):
        parseJID(f"user{i}@example.com")
        assert parseJID("kept@example.com") is kept


def test_cacheDisabled():
    """
    C{setCacheSize(0)} turns the cache off: every call parses afresh.
    """
    setCacheSize(0)
    first = parseJID("juliet@example.com")
    second = parseJID("juliet@example.com")
    assert first == second
    assert first is not second
    assert cacheInfo().currsize == 0


def test_cacheFailures():
    """
    Invalid text is remembered too, and every call still raises with the
    reason.
    """
    for _ in range(2):
        with pytest.raises(InvalidJID, match="empty localpart"):
            parseJID("@example.com")
    assert cacheInfo().hits == 1


def test_setCacheSizeEmptiesCache():
    """
    Resizing starts a fresh cache.
    """
    first = parseJID("juliet@example.com")
    setCacheSize(10)
    assert cacheInfo().currsize == 0
    assert parseJID("juliet@example.com") is not first


@pytest.mark.parametrize("size", [-1, 1.5, "10", True, None])
def test_setCacheSizeInvalid(size):
    """
    The cache size is a non-negative integer.
    """
    with pytest.raises(ValueError):
        setCacheSize(size)


def test_immutable():
    """
    Setting or deleting any attribute of a L{JID} raises.
    """
    jid = parseJID("juliet@example.com/balcony")
    for name in ("user", "host", "resource", "other"):
        with pytest.raises(AttributeError):
            setattr(jid, name, "x")
        with pytest.raises(AttributeError):
            delattr(jid, name)
    assert parts(jid) == ("juliet", "example.com", "balcony")


def test_equalityAndHash():
    """
    JIDs are equal and hash alike when their prepared parts are equal.
    """
    a = JID("Juliet@Example.COM/balcony")
    b = makeJID("juliet", "example.com", "balcony")
    assert a == b
    assert not a != b
    assert hash(a) == hash(b) == hash(("juliet", "example.com", "balcony"))
    assert len({a, b, parseJID("juliet@example.com/orchard")}) == 2
    assert {a: 1}[b] == 1


@pytest.mark.parametrize("other", [
    "juliet@example.com/Balcony", "juliet@example.com", "example.com/Balcony",
    "juliet@example.org/Balcony",
])
def test_unequalParts(other):
    """
    A difference in any part, including resource case, makes JIDs unequal.
    """
    jid = parseJID("juliet@example.com/balcony")
    assert jid != parseJID(other)
    assert not jid == parseJID(other)


def test_comparisonWithStr():
    """
    A L{JID} is never equal to a L{str}, and comparing is not an error.
    """
    jid = parseJID("juliet@example.com")
    assert (jid == "juliet@example.com") is False
    assert (jid != "juliet@example.com") is True
    assert ("juliet@example.com" == jid) is False
    assert (jid == None) is False  # noqa: E711


def test_fullAndStr():
    """
    C{full}, C{str} and C{repr} give the prepared address.
    """
    jid = parseJID("JULIET@example.com/Balcony")
    assert jid.full() == str(jid) == "juliet@example.com/Balcony"
    assert repr(jid) == "JID('juliet@example.com/Balcony')"
    assert str(parseJID("example.com")) == "example.com"
    assert str(parseJID("example.com/r")) == "example.com/r"


def test_userhost():
    """
    C{userhost} drops the resource.
    """
    assert parseJID("juliet@example.com/r").userhost() == "juliet@example.com"
    assert parseJID("example.com/r").userhost() == "example.com"


def test_userhostJID():
    """
    C{userhostJID} returns the bare JID, the same object on every call;
    a bare JID is its own bare JID.
    """
    full = parseJID("juliet@example.com/balcony")
    bare = full.userhostJID()
    assert parts(bare) == ("juliet", "example.com", None)
    assert full.userhostJID() is bare
    assert bare.userhostJID() is bare
    assert bare == parseJID("juliet@example.com")


def test_isBareIsHost():
    """
    C{isBare} is true without a resource; C{isHost} only for a domainpart
    alone.
    """
    cases = {
        "juliet@example.com/r": (False, False),
        "juliet@example.com": (True, False),
        "example.com/r": (False, False),
        "example.com": (True, True),
    }
    for text, (isBare, isHost) in cases.items():
        jid = parseJID(text)
        assert (jid.isBare(), jid.isHost()) == (isBare, isHost), text


def test_constructorText():
    """
    C{JID(text)} prepares like L{parseJID} and makes a new object.
    """
    jid = JID("Juliet@Example.com/r")
    assert parts(jid) == ("juliet", "example.com", "r")
    assert jid is not JID("Juliet@Example.com/r")
    with pytest.raises(InvalidJID):
        JID("juliet@")


def test_constructorTuple():
    """
    C{JID(tuple=...)} prepares each part; L{None} means absent, an empty
    string is invalid.
    """
    assert parts(JID(tuple=("Juliet", "EXAMPLE.com", "R"))) == (
        "juliet", "example.com", "R")
    assert parts(JID(tuple=(None, "example.com", None))) == (
        None, "example.com", None)
    for bad in [("", "example.com", None), ("u", "", None),
                ("u", "example.com", ""), ("u", None, None),
                ("a@b", "example.com", None)]:
        with pytest.raises(InvalidJID):
            JID(tuple=bad)


def test_constructorNeedsOneArgument():
    """
    C{JID()} needs exactly one of text and tuple.
    """
    with pytest.raises(TypeError):
        JID()
    with pytest.raises(TypeError):
        JID("a@b", tuple=("a", "b", None))


def test_makeJID():
    """
    L{makeJID} prepares and validates each part.
    """
    assert parts(makeJID("Romeo", "Example.NET")) == (
        "romeo", "example.net", None)
    assert parts(makeJID(None, "example.net", "r/s@t")) == (
        None, "example.net", "r/s@t")
    with pytest.raises(InvalidJID):
        makeJID("romeo", "example.net", "")
    with pytest.raises(TypeError):
        makeJID(b"romeo", "example.net")


def test_copyAndPickle():
    """
    Copies are the object itself; a pickle round trip gives an equal JID.
    """
    jid = parseJID("juliet@example.com/balcony")
    assert copy.copy(jid) is jid
    assert copy.deepcopy(jid) is jid
    restored = pickle.loads(pickle.dumps(jid))
    assert restored == jid
    assert hash(restored) == hash(jid)


def test_fastPathsTaken():
    """
    Canonical and upper-case ASCII take the fast paths; anything they
    cannot prove is left to the full algorithms.
    """
    assert jidModule._fastLocalpart("Juliet") == "juliet"
    assert jidModule._fastResourcepart("foo bar") == "foo bar"
    assert jidModule._fastDomainpart("Example.COM") == "example.com"
    assert jidModule._fastLocalpart("foo bar") is None
    assert jidModule._fastLocalpart("fu\u00dfball") is None
    assert jidModule._fastResourcepart("a\tb") is None
    assert jidModule._fastDomainpart("xn--mnchen-3ya.de") is None
    assert jidModule._fastDomainpart("[::1]") is None


# Property tests: the fast paths against the full PRECIS / IDNA paths.

def outcome(prepare, text):
    """
    @return: the prepared text, or L{None} if C{prepare} refuses it.
    """
    try:
        return prepare(text)
    except InvalidJID:
        return None


def fullDomainpart(text):
    return jidModule._ipv6Literal(text) or jidModule._idnaDomainpart(text)


ascii_text = st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=40)
ldhish_label = st.text(alphabet="aZ09-x_n.", min_size=0, max_size=8)
ldhish_domain = st.lists(ldhish_label, min_size=1, max_size=4).map(".".join)


@settings(max_examples=2000)
@given(ascii_text)
@example("Juliet")
@example("foo bar")
@example("a\x7fb")
def test_asciiLocalpartFastPathMatchesPrecis(text):
    """
    On ASCII, the fast localpart path accepts exactly what
    UsernameCaseMapped accepts, with the same result.
    """
    fast = jidModule._fastLocalpart(text)
    full = outcome(jidModule._precisLocalpart, text)
    assert fast == full


@settings(max_examples=2000)
@given(ascii_text)
@example("foo bar")
@example(" x ")
@example("a\tb")
def test_asciiResourceFastPathMatchesPrecis(text):
    """
    On ASCII, the fast resourcepart path accepts exactly what OpaqueString
    accepts, with the same result.
    """
    fast = jidModule._fastResourcepart(text)
    full = outcome(jidModule._precisResourcepart, text)
    assert fast == full


@settings(max_examples=3000)
@given(st.one_of(ascii_text, ldhish_domain))
@example("Example.COM")
@example("ab--cd")
@example("a" * 63 + ".b")
@example("1.2.3.4")
def test_asciiDomainFastPathMatchesIDNA(text):
    """
    On ASCII, whatever the fast domainpart path accepts, IDNA2008 with
    UTS #46 accepts with the same result; what it leaves to the full path
    is either refused there, an IPv6 literal or holds an A-label.
    """
    fast = jidModule._fastDomainpart(text)
    full = outcome(fullDomainpart, text)
    if fast is not None:
        assert fast == full
    elif full is not None:
        assert text.startswith("[") or "xn--" in text.lower()


@settings(max_examples=1000)
@given(st.text(max_size=30))
@example("\u03a3@\uff45\uff58.com/\u00a0")
def test_preparedFormIsStable(text):
    """
    Preparing a prepared JID changes nothing (RFC 8264 idempotence).
    """
    try:
        jid = parseJID(text)
    except InvalidJID:
        return
    again = parseJID(jid.full())
    assert again == jid
    assert again.full() == jid.full()

