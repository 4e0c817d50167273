"""
Finding a remote domain's servers: RFC 2782 ordering, XEP-0368 merging of
direct TLS and STARTTLS records, the fallback to the domain on 5269, and
lookups against a real DNS server on loopback (twisted.names).
"""

import collections
import random

import pytest
from twisted.internet import defer, reactor
from twisted.names import authority, client, dns, server
from twisted.trial import unittest

from jabberd.s2s.srv import (
    NoService, SRVRecord, Target, orderRecords, parseRoute, resolveTargets)


def record(priority, weight, host, port=5269, directTLS=False):
    return SRVRecord(priority, weight, Target(host, port, directTLS))


def test_priorityOrder():
    """
    Lower priority values come first, whatever the weights.
    """
    records = [record(20, 100, "c"), record(10, 0, "a"), record(15, 5, "b")]
    for seed in range(20):
        ordered = orderRecords(records, random.Random(seed))
        assert [t.host for t in ordered] == ["a", "b", "c"]


def test_weightsWithinPriority():
    """
    Within one priority, a record is chosen first in proportion to its
    weight (RFC 2782): 60/30/10 over many draws.
    """
    records = [record(1, 60, "big"), record(1, 30, "mid"),
               record(1, 10, "small")]
    rng = random.Random(7)
    firsts = collections.Counter(orderRecords(records, rng)[0].host
                                 for _ in range(3000))
    assert 1650 < firsts["big"] < 1950
    assert 750 < firsts["mid"] < 1050
    assert 200 < firsts["small"] < 400


def test_zeroWeightRarelyFirst():
    """
    Weight 0 records are placed first in the list before the running sum,
    so one is picked first only when the random number is 0.
    """
    records = [record(1, 0, "zero"), record(1, 50, "fifty")]
    rng = random.Random(3)
    firsts = collections.Counter(orderRecords(records, rng)[0].host
                                 for _ in range(2000))
    assert firsts["zero"] < 100
    assert firsts["fifty"] > 1900


def test_allZeroWeightsStillAllTried():
    records = [record(1, 0, "a"), record(1, 0, "b"), record(1, 0, "c")]
    ordered = orderRecords(records, random.Random(1))
    assert sorted(t.host for t in ordered) == ["a", "b", "c"]


def test_everyRecordOnce():
    records = [record(p, w, "h%d-%d" % (p, w)) for p in (1, 2)
               for w in (0, 1, 5, 10)]
    ordered = orderRecords(records, random.Random(9))
    assert sorted(ordered) == sorted(r.target for r in records)


@pytest.mark.parametrize("text, target", [
    ("peer.example", Target("peer.example", 5269)),
    ("127.0.0.2:5270", Target("127.0.0.2", 5270)),
    ("[::1]:5299", Target("::1", 5299)),
    ("[::1]", Target("::1", 5269)),
])
def test_parseRoute(text, target):
    assert parseRoute(text) == target


@pytest.mark.parametrize("text", ["", ":5269", "host:0", "host:99999",
                                  "host:abc", "[::1]:x"])
def test_parseRouteRefuses(text):
    with pytest.raises(ValueError):
        parseRoute(text)


class _Zone(authority.FileAuthority):
    """
    An in-memory zone for C{example}.
    """

    def __init__(self, records):
        authority.FileAuthority.__init__(self, None)
        soa = dns.Record_SOA(mname=b"ns.example", rname=b"root.example",
                             serial=1, refresh=1, retry=1, expire=1,
                             minimum=1)
        self.soa = (b"example", soa)
        self.records = {b"example": [soa]}
        for name, payload in records:
            self.records.setdefault(name.encode(), []).append(payload)

    def loadFile(self, filename):
        pass


def srv(priority, weight, port, target):
    return dns.Record_SRV(priority, weight, port, target, ttl=1)


class ResolveTargetsTests(unittest.TestCase):
    """
    L{resolveTargets} against a real DNS server on 127.0.0.1.
    """

    def setUp(self):
        zone = _Zone([
            ("_xmpp-server._tcp.both.example", srv(10, 1, 5269, b"b.both.example")),
            ("_xmpps-server._tcp.both.example", srv(5, 1, 5270, b"a.both.example")),
            ("_xmpp-server._tcp.plain.example", srv(0, 0, 5299, b"s.plain.example")),
            ("_xmpp-server._tcp.none.example", srv(0, 0, 0, b".")),
            ("_xmpps-server._tcp.half.example", srv(0, 0, 0, b".")),
            ("_xmpp-server._tcp.half.example", srv(1, 1, 5269, b"x.half.example")),
            ("_xmpps-server._tcp.starttls.example", srv(0, 0, 0, b".")),
        ])
        factory = server.DNSServerFactory(authorities=[zone])
        factory.noisy = False
        self.udp = reactor.listenUDP(0, dns.DNSDatagramProtocol(factory),
                                     interface="127.0.0.1")
        self.addCleanup(self.udp.stopListening)
        port = self.udp.getHost().port
        self.resolver = client.Resolver(servers=[("127.0.0.1", port)],
                                        reactor=reactor)

    @defer.inlineCallbacks
    def test_directTLSAndStartTLSMerged(self):
        """
        XEP-0368: both services' records in one order by priority; the
        direct TLS one (priority 5) before the STARTTLS one (10).
        """
        targets = yield resolveTargets(self.resolver, "both.example")
        self.assertEqual(targets, [Target("a.both.example", 5270, True),
                                   Target("b.both.example", 5269, False)])

    @defer.inlineCallbacks
    def test_startTLSOnly(self):
        targets = yield resolveTargets(self.resolver, "plain.example")
        self.assertEqual(targets, [Target("s.plain.example", 5299, False)])

    @defer.inlineCallbacks
    def test_noRecordsFallsBackToDomain(self):
        """
        RFC 6120 section 3.2.2: without SRV records, the domain itself on
        5269.
        """
        targets = yield resolveTargets(self.resolver, "nothing.example")
        self.assertEqual(targets, [Target("nothing.example", 5269, False)])

    @defer.inlineCallbacks
    def test_dotTargetMeansNoService(self):
        with self.assertRaises(NoService):
            yield resolveTargets(self.resolver, "none.example")

    @defer.inlineCallbacks
    def test_dotForOneServiceOnly(self):
        """
        A domain that refuses direct TLS but offers STARTTLS is reached by
        STARTTLS.
        """
        targets = yield resolveTargets(self.resolver, "half.example")
        self.assertEqual(targets, [Target("x.half.example", 5269, False)])

    @defer.inlineCallbacks
    def test_dotForDirectTLSWithoutOtherRecords(self):
        """
        "." for _xmpps-server only rules out direct TLS: without
        _xmpp-server records the domain itself is tried.
        """
        targets = yield resolveTargets(self.resolver, "starttls.example")
        self.assertEqual(targets, [Target("starttls.example", 5269, False)])
