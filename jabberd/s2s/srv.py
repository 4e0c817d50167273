"""
Where a remote domain's XMPP servers are (RFC 6120 section 3.2).

The domain's C{_xmpps-server._tcp} (direct TLS, XEP-0368 section 3) and
C{_xmpp-server._tcp} (STARTTLS) SRV records are looked up together and
put in one order by priority and weight (RFC 2782); without any, the
domain itself is tried on port 5269 (RFC 6120 section 3.2.2).  A static
route from the configuration replaces all of this.
"""

import random as _random
from typing import NamedTuple

from twisted.internet import defer
from twisted.names import dns

from jabberd.tls import _aLabel

#: The port of RFC 6120 section 14.7, used without SRV records.
DEFAULT_PORT = 5269

SERVICES = (("_xmpps-server._tcp.", True), ("_xmpp-server._tcp.", False))

#: What a lookup gives for a domain that refuses the service.
_REFUSED = object()


class NoService(Exception):
    """
    The domain says, with an SRV target of C{.}, that it offers no XMPP
    server (RFC 2782, "Target"; RFC 6120 section 3.2.1 step 4).
    """


class Target(NamedTuple):
    """
    One place to connect to.

    @ivar host: a host name or IP address.
    @ivar port: the TCP port.
    @ivar directTLS: whether TLS starts at once (XEP-0368) rather than
        with STARTTLS.
    """

    host: str
    port: int
    directTLS: bool = False


class SRVRecord(NamedTuple):
    """
    The parts of an SRV record that order it, and its target.
    """

    priority: int
    weight: int
    target: Target


def orderRecords(records, random=_random):
    """
    Put SRV records in the order RFC 2782 says to try them: by priority,
    lowest first; within one priority, by repeated weighted random choice,
    so that a record of weight 20 is chosen first twice as often as one of
    weight 10 and records of weight 0 only rarely come first.

    @param records: L{SRVRecord}s.
    @param random: something with C{randint(a, b)}, for tests.
    @return: the L{Target}s in order.
    """
    ordered = []
    for priority in sorted({record.priority for record in records}):
        group = [r for r in records if r.priority == priority]
        ordered.extend(_weightedOrder(group, random))
    return ordered


def _weightedOrder(group, random):
    """
    RFC 2782's selection within one priority: records of weight 0 first in
    the list, then pick the first whose running sum of weights reaches a
    random number between 0 and the total, remove it, and repeat.
    """
    remaining = sorted(group, key=lambda record: record.weight != 0)
    ordered = []
    while remaining:
        total = sum(record.weight for record in remaining)
        chosen = random.randint(0, total)
        running = 0
        for index, record in enumerate(remaining):
            running += record.weight
            if running >= chosen:
                ordered.append(remaining.pop(index).target)
                break
    return ordered


def _recordsFrom(answers, directTLS):
    """
    The SRV records among a lookup's answers.

    @raise NoService: the only record has the target C{.}.
    """
    records = [answer.payload for answer in answers
               if answer.type == dns.SRV]
    if len(records) == 1 and records[0].target.name in (b"", b"."):
        raise NoService()
    return [SRVRecord(r.priority, r.weight,
                      Target(r.target.name.decode("ascii").rstrip("."),
                             r.port, directTLS))
            for r in records if r.target.name not in (b"", b".")]


@defer.inlineCallbacks
def _lookup(resolver, name, directTLS):
    """
    The SRV records at C{name}; none if the name does not exist or the
    lookup fails (RFC 6120 section 3.2.1 falls back to A/AAAA then).

    @return: a L{Deferred} firing with a list, or with L{_REFUSED}.
    """
    try:
        answers, _, _ = yield resolver.lookupService(name)
    except Exception:
        # NXDOMAIN, a server failure or a timeout: all mean "no records
        # to go by", and the caller falls back to the domain itself.
        return []
    try:
        return _recordsFrom(answers, directTLS)
    except NoService:
        return _REFUSED


@defer.inlineCallbacks
def resolveTargets(resolver, domain, random=_random):
    """
    Where to connect for C{domain}, in order.

    @param resolver: a L{twisted.names} resolver (C{lookupService}).
    @return: a L{Deferred} firing with a list of L{Target}s; it fails with
        L{NoService} if the domain refuses XMPP service outright.
    """
    name = _aLabel(domain)
    results = yield defer.gatherResults(
        [_lookup(resolver, prefix + name, tls) for prefix, tls in SERVICES])
    records = [record for result in results if result is not _REFUSED
               for record in result]
    if records:
        return orderRecords(records, random)
    if results[-1] is _REFUSED:
        # "." for _xmpp-server: no server-to-server service at all.  (For
        # _xmpps-server alone it only rules out direct TLS.)
        raise NoService(domain)
    return [Target(name, DEFAULT_PORT, False)]


def parseRoute(text):
    """
    Parse a static route: C{"host"}, C{"host:port"} or C{"[v6]:port"}.

    @rtype: L{Target}
    @raise ValueError: with the reason.
    """
    host, port = text.strip(), DEFAULT_PORT
    if host.startswith("["):
        inner, _, rest = host[1:].partition("]")
        host = inner
        if rest:
            port = _port(rest[1:] if rest.startswith(":") else None)
    elif host.count(":") == 1:
        host, _, portText = host.partition(":")
        port = _port(portText)
    if not host:
        raise ValueError("no host in %r" % (text,))
    return Target(host, port, False)


def _port(text):
    if text is None or not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError("not a port number: %r" % (text,))
    return int(text)
