"""
A tiny authoritative DNS server for federation tests, run as a process:

    python dnsserver.py ADDRESS PORT ZONEFILE

ZONEFILE is a Python source zone (L{twisted.names.authority.
PySourceAuthority}); the server answers on UDP and TCP and prints
C{ready} once listening.  Test peers (Prosody through libunbound's
forwarder, jabberd through C{s2s_dns_servers}) find each other's SRV and
A records here, on loopback, with nothing leaving the machine.
"""

import sys


def main(address, port, zoneFile):
    from twisted.internet import reactor
    from twisted.names import authority, dns, server

    zone = authority.PySourceAuthority(zoneFile)
    factory = server.DNSServerFactory(authorities=[zone])
    factory.noisy = False
    protocol = dns.DNSDatagramProtocol(factory)
    reactor.listenUDP(port, protocol, interface=address)
    reactor.listenTCP(port, factory, interface=address)
    print("ready", flush=True)
    reactor.run()


def zoneSource(origin, records):
    """
    The Python source of a zone for C{origin} holding C{records}: a list
    of C{("A", name, address)} and C{("SRV", name, priority, weight,
    port, target)} tuples.
    """
    lines = ["zone = [",
             "    SOA(%r, mname='ns.%s', rname='root.%s', serial=1, "
             "refresh=60, retry=60, expire=60, minimum=1)," % (
                 origin, origin, origin)]
    for record in records:
        kind, name, rest = record[0], record[1], record[2:]
        if kind == "A":
            lines.append("    A(%r, %r, ttl=1)," % (name, rest[0]))
        elif kind == "SRV":
            priority, weight, port, target = rest
            lines.append("    SRV(%r, %d, %d, %d, %r, ttl=1)," % (
                name, priority, weight, port, target))
    lines.append("]")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
