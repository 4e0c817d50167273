"""
XMPP addresses (JIDs) as defined by RFC 7622, for addressing as used by
RFC 6120.

A JID is C{[localpart "@"] domainpart ["/" resourcepart]}.  Each part is
prepared and enforced on its own (RFC 7622 section 3):

  - the localpart with the PRECIS UsernameCaseMapped profile (RFC 8265),
    minus the characters C{" & ' / : < > @} (RFC 7622 section 3.3.1);
  - the domainpart with IDNA2008 after UTS #46 mapping, as U-labels, or as an
    IP literal (RFC 7622 section 3.2);
  - the resourcepart with the PRECIS OpaqueString profile (RFC 7622 section
    3.4).

Every stanza carries addresses, so this module is on the hot path:
L{parseJID} keeps a bounded LRU cache keyed by the raw text, and each part
has an ASCII fast path that skips PRECIS and IDNA when their result is
provably the input itself (or its ASCII lowercase).  The tests check each
fast path against the full algorithm on random ASCII strings.

The class mirrors the method names of Twisted's
C{twisted.words.protocols.jabber.jid.JID} (C{full}, C{userhost},
C{userhostJID}, C{internJID}) so plugin authors feel at home; the string
preparation is this module's own.
"""

import functools
import ipaddress
import re

import idna
import precis_i18n

__all__ = [
    "InvalidJID",
    "JID",
    "parseJID",
    "internJID",
    "makeJID",
    "setCacheSize",
    "cacheInfo",
    "prepDomain",
    "DEFAULT_CACHE_SIZE",
]

#: Each part of a JID is at most this many octets of UTF-8
#: (RFC 7622 section 3.1).
MAX_PART_BYTES = 1023

#: Default number of raw strings remembered by L{parseJID}.
DEFAULT_CACHE_SIZE = 10000

# NFC composes at most four code points into one, and no PRECIS profile
# used here removes code points, so a raw part longer than this cannot
# prepare to 1023 octets or fewer: it is refused before any Unicode work.
_MAX_RAW_CHARS = 4 * MAX_PART_BYTES

# RFC 7622 section 3.3.1: not allowed in a localpart even though PRECIS
# IdentifierClass allows them.
_LOCAL_EXCLUDED = re.compile("[\"&'/:<>@]")

# An ASCII domainpart in canonical form: dot-separated NR-LDH labels of 1-63
# lowercase letters, digits and hyphens, no hyphen at either end of a label
# and none in both the third and fourth position (RFC 5891 section 4.2.3.1),
# which also leaves every A-label ("xn--") to the full IDNA path.
_LABEL = r"(?![a-z0-9-]{2}--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_LDH_DOMAIN = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}", re.ASCII)

# IDNA2008 label separators (RFC 5892 via UTS #46); a final one is stripped
# before anything else (RFC 7622 section 3.2).
_DOTS = ".\u3002\uff0e\uff61"

# The longest DNS name without its trailing dot (RFC 1035 section 2.3.4).
_MAX_DNS_NAME = 253

_localProfile = precis_i18n.get_profile("UsernameCaseMapped")
_resourceProfile = precis_i18n.get_profile("OpaqueString")


class InvalidJID(ValueError):
    """
    A string is not a valid JID, or a part is not a valid JID part.

    C{str(error)} says which part is wrong and why.
    """


def _show(text):
    """
    Quote untrusted text for an error message, cut short if long.

    @param text: the offending text.
    @type text: L{str}
    @return: a printable, bounded representation.
    @rtype: L{str}
    """
    if len(text) > 64:
        return repr(text[:64]) + "..."
    return repr(text)


def _checkRawLength(text, name):
    """
    Refuse a part that cannot possibly prepare to a legal length, before
    spending Unicode work on it.

    @param text: the raw part.
    @param name: the part's name for the error message.
    @raise InvalidJID: if C{text} is empty or far too long.
    """
    if not text:
        raise InvalidJID(f"empty {name}")
    if len(text) > _MAX_RAW_CHARS:
        raise InvalidJID(f"{name} too long ({len(text)} characters)")


def _checkLength(part, name):
    """
    Enforce the 1..1023 octet limit of RFC 7622 section 3.1 on a prepared
    part.

    @param part: the prepared part.
    @param name: the part's name for the error message.
    @raise InvalidJID: if the UTF-8 form is longer than 1023 octets.
    """
    # A code point is at most four octets, so short parts need no encoding.
    if len(part) * 4 > MAX_PART_BYTES:
        size = len(part.encode("utf-8"))
        if size > MAX_PART_BYTES:
            raise InvalidJID(
                f"{name} too long ({size} octets, at most {MAX_PART_BYTES})"
            )


def _precisError(name, text, error):
    """
    Describe a PRECIS rejection.

    @param name: the part's name.
    @param text: the raw part.
    @param error: the L{UnicodeError} raised by C{precis_i18n}.
    @return: the exception to raise.
    @rtype: L{InvalidJID}
    """
    reason = getattr(error, "reason", str(error))
    return InvalidJID(f"invalid {name} {_show(text)}: {reason}")


def _fastLocalpart(text):
    """
    Prepare an ASCII localpart without PRECIS, when that is provably the
    same.

    For ASCII input, UsernameCaseMapped (RFC 8265 section 3.3) maps nothing
    but upper case to lower case, and its IdentifierClass allows exactly the
    printable characters U+0021..U+007E; NFC and the bidi rule leave such a
    string alone.

    @param text: the raw localpart.
    @return: the prepared localpart, or L{None} if the full PRECIS path
        must decide (non-ASCII, spaces, controls, or empty input).
    """
    if text.isascii() and text.isprintable() and " " not in text:
        return text.lower() or None
    return None


def _precisLocalpart(text):
    """
    Prepare a localpart with the PRECIS UsernameCaseMapped profile.

    @param text: the raw localpart.
    @return: the enforced localpart.
    @raise InvalidJID: if the profile refuses it.
    """
    _checkRawLength(text, "localpart")
    try:
        return _localProfile.enforce(text)
    except UnicodeError as e:
        raise _precisError("localpart", text, e) from None


def _prepLocalpart(text):
    """
    Prepare and enforce a localpart (RFC 7622 section 3.3).

    @param text: the raw localpart.
    @return: the canonical localpart.
    @raise InvalidJID: if it is empty, too long, refused by PRECIS or holds
        one of C{" & ' / : < > @}.
    """
    local = _fastLocalpart(text) or _precisLocalpart(text)
    bad = _LOCAL_EXCLUDED.search(local)
    if bad is not None:
        raise InvalidJID(
            f"invalid localpart {_show(text)}: {bad.group()!r} not allowed"
        )
    _checkLength(local, "localpart")
    return local


def _fastResourcepart(text):
    """
    Prepare an ASCII resourcepart without PRECIS, when that is provably the
    same.

    OpaqueString (RFC 8265 section 4.2) maps only non-ASCII spaces, and its
    FreeformClass allows every printable ASCII character including U+0020,
    so printable ASCII is already canonical.

    @param text: the raw resourcepart.
    @return: C{text}, or L{None} if the full PRECIS path must decide.
    """
    if text and text.isascii() and text.isprintable():
        return text
    return None


def _precisResourcepart(text):
    """
    Prepare a resourcepart with the PRECIS OpaqueString profile.

    @param text: the raw resourcepart.
    @return: the enforced resourcepart.
    @raise InvalidJID: if the profile refuses it.
    """
    _checkRawLength(text, "resourcepart")
    try:
        return _resourceProfile.enforce(text)
    except UnicodeError as e:
        raise _precisError("resourcepart", text, e) from None


def _prepResourcepart(text):
    """
    Prepare and enforce a resourcepart (RFC 7622 section 3.4).

    @param text: the raw resourcepart.
    @return: the canonical resourcepart.
    @raise InvalidJID: if it is empty, too long or refused by PRECIS.
    """
    resource = _fastResourcepart(text) or _precisResourcepart(text)
    _checkLength(resource, "resourcepart")
    return resource


def _fastDomainpart(text):
    """
    Prepare an ASCII domainpart without IDNA, when that is provably the
    same.

    UTS #46 maps ASCII upper case to lower case and nothing else in ASCII;
    a lowercase string of NR-LDH labels is then valid IDNA2008 and its own
    U-label form.  Dotted-quad IPv4 literals match too, unchanged.

    @param text: the raw domainpart, final dot already stripped.
    @return: the prepared domainpart, or L{None} if the full path must
        decide.
    """
    if text.isascii() and len(text) <= _MAX_DNS_NAME:
        lowered = text.lower()
        if _LDH_DOMAIN.fullmatch(lowered):
            return lowered
    return None


def _ipv6Literal(text):
    """
    Parse a bracketed IPv6 literal (RFC 3986 section 3.2.2 C{IP-literal},
    allowed by RFC 7622 section 3.2.1).

    @param text: the raw domainpart.
    @return: C{"[address]"} in RFC 5952 text form, or L{None} if C{text} is
        not bracketed.
    @raise InvalidJID: if the brackets hold no IPv6 address.
    """
    if not (text.startswith("[") and text.endswith("]")):
        return None
    inner = text[1:-1]
    try:
        if "%" in inner:
            raise ValueError("zone identifiers are not allowed")
        address = ipaddress.IPv6Address(inner)
    except ValueError as e:
        raise InvalidJID(f"invalid IPv6 literal {_show(text)}: {e}") from None
    return f"[{address.compressed}]"


def _idnaDomainpart(text):
    """
    Prepare a domain name with UTS #46 mapping and IDNA2008, as U-labels
    (RFC 7622 section 3.2.1: A-labels are converted to U-labels).

    @param text: the raw domainpart, final dot already stripped.
    @return: the prepared domainpart.
    @raise InvalidJID: if IDNA2008 refuses it.
    """
    try:
        aLabels = idna.encode(text, uts46=True, std3_rules=True)
        domain = idna.decode(aLabels)
    except UnicodeError as e:
        raise InvalidJID(f"invalid domainpart {_show(text)}: {e}") from None
    if not domain or domain[-1] == ".":
        raise InvalidJID(f"invalid domainpart {_show(text)}: empty label")
    return domain


@functools.lru_cache(maxsize=4096)
def prepDomain(text):
    """
    Prepare and enforce a domainpart (RFC 7622 section 3.2).

    A final label separator is stripped first; then the text must be a
    bracketed IPv6 literal, or a domain name (IPv4 dotted quads included)
    that IDNA2008 accepts after UTS #46 mapping.  The result is lowercase
    U-labels, so C{prepDomain("XN--FUBALL-CTA.Example.")} is
    C{"fu\\xdfball.example"}.  Use it for a stream header's C{to} and
    C{from} (RFC 6120 section 4.7), which are bare domains.

    @param text: the raw domainpart.
    @type text: L{str}
    @return: the canonical domainpart.
    @rtype: L{str}
    @raise InvalidJID: if it is empty, too long or not a valid domain.

    A server meets few domains (its own and its peers') over and over, so
    results are remembered (4096 at most; the least recently used goes).
    """
    if text and text[-1] in _DOTS:
        text = text[:-1]
    if not text:
        raise InvalidJID("empty domainpart")
    domain = (
        _fastDomainpart(text) or _ipv6Literal(text) or _idnaDomainpart(text)
    )
    _checkLength(domain, "domainpart")
    return domain


class JID:
    """
    An immutable, prepared XMPP address (RFC 7622).

    Equality and hashing are by C{(user, host, resource)}; the hash is
    computed once.  Comparing with anything that is not a L{JID} (a
    L{str} included) is simply unequal.

    @ivar user: the localpart, or L{None}.
    @type user: L{str} or L{None}
    @ivar host: the domainpart.
    @type host: L{str}
    @ivar resource: the resourcepart, or L{None}.
    @type resource: L{str} or L{None}
    """

    __slots__ = ("user", "host", "resource", "_userhost", "_full", "_hash",
                 "_bare")

    def __init__(self, text=None, tuple=None):
        """
        Prepare a JID from text or from parts, like Twisted's C{JID}.

        For untrusted input prefer L{parseJID}, which caches.

        @param text: a JID such as C{"juliet@example.com/balcony"}.
        @type text: L{str}
        @param tuple: C{(user, host, resource)}, with L{None} for an absent
            localpart or resourcepart.
        @raise InvalidJID: if the address is invalid.
        @raise TypeError: unless exactly one of C{text} and C{tuple} is
            given.
        """
        if (text is None) == (tuple is None):
            raise TypeError("JID() needs exactly one of text or tuple")
        if text is not None:
            source = parseJID(text)
            parts = (source.user, source.host, source.resource)
        else:
            parts = _prepGivenParts(*tuple)
        _fill(self, *parts)

    def __setattr__(self, name, value):
        raise AttributeError(f"JID is immutable: cannot set {name!r}")

    def __delattr__(self, name):
        raise AttributeError(f"JID is immutable: cannot delete {name!r}")

    def full(self):
        """
        @return: the whole address, C{user@host/resource} with absent parts
            left out.
        @rtype: L{str}
        """
        return self._full

    __str__ = full

    def userhost(self):
        """
        @return: the bare address, C{user@host} or C{host}.
        @rtype: L{str}
        """
        return self._userhost

    def userhostJID(self):
        """
        The bare JID (RFC 6120 section 1.4): this JID without its resource.

        @return: C{self} if already bare, else one L{JID} made on the first
            call and returned again on every later one.
        @rtype: L{JID}
        """
        bare = self._bare
        if bare is None:
            if self.resource is None:
                return self
            bare = _makeTrusted(self.user, self.host, None)
            _setBare(self, bare)
        return bare

    def isBare(self):
        """
        @return: whether this JID has no resourcepart.
        @rtype: L{bool}
        """
        return self.resource is None

    def isHost(self):
        """
        @return: whether this JID is a domainpart alone (no localpart, no
            resourcepart), such as a server or component address.
        @rtype: L{bool}
        """
        return self.user is None and self.resource is None

    def __eq__(self, other):
        # The full string determines the parts: neither the localpart nor
        # the domainpart can hold '@' or '/'.
        if isinstance(other, JID):
            return self._full == other._full
        return NotImplemented

    def __ne__(self, other):
        if isinstance(other, JID):
            return self._full != other._full
        return NotImplemented

    def __hash__(self):
        return self._hash

    def __repr__(self):
        return f"JID({self._full!r})"

    def __reduce__(self):
        return (JID, (None, (self.user, self.host, self.resource)))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


def _fill(jid, user, host, resource):
    """
    Set the slots of a L{JID} from prepared parts.

    @param jid: a L{JID} whose slots are not yet set.
    @param user: the prepared localpart or L{None}.
    @param host: the prepared domainpart.
    @param resource: the prepared resourcepart or L{None}.
    """
    userhost = host if user is None else f"{user}@{host}"
    full = userhost if resource is None else f"{userhost}/{resource}"
    _setUser(jid, user)
    _setHost(jid, host)
    _setResource(jid, resource)
    _setUserhost(jid, userhost)
    _setFull(jid, full)
    _setHash(jid, hash((user, host, resource)))
    _setBare(jid, None)


# The slots' own setters: they bypass JID.__setattr__, and are quicker than
# object.__setattr__ on the hot path.
_setUser = JID.user.__set__
_setHost = JID.host.__set__
_setResource = JID.resource.__set__
_setUserhost = JID._userhost.__set__
_setFull = JID._full.__set__
_setHash = JID._hash.__set__
_setBare = JID._bare.__set__


def _makeTrusted(user, host, resource):
    """
    Make a L{JID} from parts that are already prepared.

    @return: a new L{JID}.
    """
    jid = JID.__new__(JID)
    _fill(jid, user, host, resource)
    return jid


def _prepParts(user, host, resource):
    """
    Prepare each part of a JID; L{None} stands for an absent localpart or
    resourcepart.

    @param user: the raw localpart or L{None}.
    @type user: L{str}
    @param host: the raw domainpart.
    @type host: L{str}
    @param resource: the raw resourcepart or L{None}.
    @type resource: L{str}
    @return: the prepared C{(user, host, resource)}.
    @raise InvalidJID: if a part is invalid.
    """
    if user is not None:
        user = _prepLocalpart(user)
    if resource is not None:
        resource = _prepResourcepart(resource)
    return user, prepDomain(host), resource


def _prepGivenParts(user, host, resource):
    """
    Prepare parts handed over by code rather than split from a string.

    @return: the prepared C{(user, host, resource)}.
    @raise InvalidJID: if the domainpart is missing or a part is invalid.
    @raise TypeError: if a part is neither L{str} nor L{None}.
    """
    if host is None:
        raise InvalidJID("a JID needs a domainpart")
    for part in (user, host, resource):
        if part is not None and not isinstance(part, str):
            raise TypeError(f"JID parts must be str, not {type(part)!r}")
    return _prepParts(user, host, resource)


def _splitJID(text):
    """
    Split a JID string into raw parts (RFC 7622 section 3.1).

    The separators are found before any preparation: the resourcepart is
    everything after the first C{/}, and the localpart is everything before
    the first C{@} that precedes it.

    @param text: the raw JID.
    @return: raw C{(user, host, resource)}, L{None} for an absent part.
    """
    slash = text.find("/")
    if slash == -1:
        bare, resource = text, None
    else:
        bare, resource = text[:slash], text[slash + 1:]
    at = bare.find("@")
    if at == -1:
        return None, bare, resource
    return bare[:at], bare[at + 1:], resource


def makeJID(user, host, resource=None):
    """
    Make a JID from separate parts, preparing and validating each.

    @param user: the localpart, or L{None}.
    @param host: the domainpart.
    @param resource: the resourcepart, or L{None}.
    @return: a new L{JID}.
    @rtype: L{JID}
    @raise InvalidJID: if a part is invalid (an empty string is invalid;
        use L{None} for an absent part).
    """
    return _makeTrusted(*_prepGivenParts(user, host, resource))


class _Failure:
    """
    A remembered reason why some text is not a JID, so that repeated bad
    input costs a cache lookup only.
    """

    __slots__ = ("reason",)

    def __init__(self, reason):
        self.reason = reason


def _parseOrFailure(text):
    """
    Parse a JID without the cache.

    @param text: the raw JID.
    @return: a L{JID}, or a L{_Failure} saying why C{text} is invalid.
    @raise TypeError: if C{text} is not a L{str}.
    """
    if not isinstance(text, str):
        raise TypeError(f"a JID is parsed from str, not {type(text)!r}")
    try:
        return _makeTrusted(*_prepParts(*_splitJID(text)))
    except InvalidJID as e:
        return _Failure(str(e))


_cachedParse = functools.lru_cache(maxsize=DEFAULT_CACHE_SIZE)(
    _parseOrFailure)


def parseJID(text):
    """
    Parse and prepare a JID from untrusted text.

    Results, failures included, are kept in a bounded LRU cache keyed by
    the raw text, so a repeated address returns the same L{JID} object.

    @param text: the raw JID, e.g. a stanza's C{to} attribute.
    @type text: L{str}
    @return: the prepared JID.
    @rtype: L{JID}
    @raise InvalidJID: if C{text} is not a valid JID.
    """
    result = _cachedParse(text)
    if result.__class__ is _Failure:
        raise InvalidJID(result.reason)
    return result


#: Twisted's name for L{parseJID}.
internJID = parseJID


def setCacheSize(size):
    """
    Set how many raw strings L{parseJID} remembers (configuration key
    C{jid_cache_size}), emptying the cache.

    @param size: the bound; C{0} disables caching.
    @type size: L{int}
    @raise ValueError: if C{size} is negative or not an integer.
    """
    global _cachedParse
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError(f"JID cache size must be an int >= 0, not {size!r}")
    _cachedParse = functools.lru_cache(maxsize=size)(_parseOrFailure)


def cacheInfo():
    """
    @return: statistics of the L{parseJID} cache: C{hits}, C{misses},
        C{maxsize} and C{currsize}.
    @rtype: L{functools._CacheInfo}
    """
    return _cachedParse.cache_info()
