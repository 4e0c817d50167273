"""
Connecting to a remote domain: its targets one after the other, until one
accepts the TCP connection (RFC 6120 section 3.2.1 step 7: "try the next
target" when a connection fails).
"""

from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.error import ConnectError


class NoTargetAnswered(ConnectError):
    """
    Every target of a domain refused or failed the connection.
    """


def endpointFor(reactor, target, timeout, tlsCreator):
    """
    The client endpoint for one L{jabberd.s2s.srv.Target}: TCP to its host
    name or address, wrapped in TLS from the start for a direct TLS target
    (XEP-0368).

    @param tlsCreator: a callable returning the TLS connection creator.
    """
    endpoint = HostnameEndpoint(reactor, target.host, target.port,
                                timeout=timeout)
    if target.directTLS:
        endpoint = wrapClientTLS(tlsCreator(), endpoint)
    return endpoint


@defer.inlineCallbacks
def connectFirst(reactor, targets, factoryFor, timeout, tlsCreator):
    """
    Connect to the first of C{targets} that accepts.  Cancelling the
    returned L{Deferred} cancels the attempt under way.

    @param factoryFor: called with a target, returns the protocol factory.
    @return: a L{Deferred} firing with the connected protocol; it fails
        with L{NoTargetAnswered} if none accepted.
    """
    problems = []
    for target in targets:
        endpoint = endpointFor(reactor, target, timeout, tlsCreator)
        try:
            connected = yield endpoint.connect(factoryFor(target))
        except defer.CancelledError:
            raise
        except Exception as e:
            problems.append("%s:%d: %s" % (target.host, target.port, e))
            continue
        return connected
    raise NoTargetAnswered("; ".join(problems) or "no targets")
