"""
The core's own stanza handling: what happens when no plugin claims.

These handlers sit in the L{Priority.FALLBACK} band of every host's bus.
Outbound, a stanza is routed on.  Inbound, it is delivered to the bound
session(s) it names or answered as RFC 6120 section 10 and RFC 6121
section 8 require of a server that offers nothing more; the RFC 6121
plugins (roster, presence, message) claim stanzas before these run.

Nothing here reads the database: delivery uses the session registry only.
"""

from jabberd.bus import STANZA_KEYS, Address, IQKey, Kind, Phase, Priority


def installDelivery(host):
    """
    Hook the fallback handlers on C{host}'s bus.

    @return: the L{Registration}s, for removal.
    """
    table = {
        (Kind.MESSAGE, Address.FULL): _messageToFull,
        (Kind.MESSAGE, Address.BARE): _messageToBare,
        (Kind.MESSAGE, Address.HOST): _unhandled,
        (Kind.PRESENCE, Address.FULL): _presenceToFull,
        (Kind.PRESENCE, Address.BARE): _presenceToBare,
        (Kind.PRESENCE, Address.HOST): _dropped,
        (Kind.PRESENCE, Address.NONE): _dropped,
        (Kind.IQ, Address.FULL): _iqToFull,
        (Kind.IQ, Address.BARE): _iqToServer,
        (Kind.IQ, Address.HOST): _iqToServer,
        (Kind.IQ, Address.PREAUTH): _iqToServer,
    }
    registrations = []
    for kind in Kind:
        for address in Address:
            outbound = STANZA_KEYS[(kind, address, Phase.OUTBOUND)]
            registrations.append(host.bus.hook(
                outbound, _bind(_routeOn, host), Priority.FALLBACK))
            handler = table.get((kind, address), _dropped)
            inbound = STANZA_KEYS[(kind, address, Phase.INBOUND)]
            registrations.append(host.bus.hook(
                inbound, _bind(handler, host), Priority.FALLBACK))
    return registrations


def _bind(handler, host):
    return lambda stanza: handler(host, stanza)


def _routeOn(host, stanza):
    """
    Outbound default: hand the stanza to the router.  Presence without a
    C{to} is a broadcast, which only the presence service can perform.
    """
    if stanza.address is not Address.NONE:
        host.route(stanza)
    return True


def _dropped(host, stanza):
    return True


def _unhandled(host, stanza):
    """
    Nothing here handles this stanza: RFC 6120 section 8.3.3.19.
    """
    host.bounce(stanza, "service-unavailable")
    return True


def _deliverToAll(host, stanza):
    """
    Deliver to every session of the recipient; C{False} if there is none.
    """
    sessions = host.sessions.sessionsOf(stanza.recipient.user)
    for session in list(sessions.values()):
        host.deliver(session, stanza)
    return bool(sessions)


def _messageToFull(host, stanza):
    """
    RFC 6121 section 8.5.3: to the named resource, else as to the bare JID.
    """
    session = host.sessions.get(stanza.recipient)
    if session is not None:
        host.deliver(session, stanza)
        return True
    return _messageToBare(host, stanza)


def _messageToBare(host, stanza):
    """
    To the user's sessions.  Without any (and before offline storage is
    enabled) the message is refused with C{service-unavailable}, which RFC
    6121 section 8.5.2.2.1 allows in place of storing it.
    """
    if stanza.type != "groupchat" and _deliverToAll(host, stanza):
        return True
    if stanza.type != "headline":
        host.bounce(stanza, "service-unavailable")
    return True


def _presenceToFull(host, stanza):
    session = host.sessions.get(stanza.recipient)
    if session is not None:
        host.deliver(session, stanza)
    return True


def _presenceToBare(host, stanza):
    _deliverToAll(host, stanza)
    return True


def _iqToFull(host, stanza):
    """
    RFC 6121 section 8.5.3.2.2 / 8.5.4: an IQ to a full JID goes to that
    session only; with no such session a request gets
    C{service-unavailable} and a response is dropped.
    """
    session = host.sessions.get(stanza.recipient)
    if session is not None:
        host.deliver(session, stanza)
    elif stanza.isRequest():
        host.bounce(stanza, "service-unavailable")
    return True


def _iqToServer(host, stanza):
    """
    An IQ the server answers itself (to its domain, or to a bare JID on
    the user's behalf): dispatch requests to the IQ handler registered for
    the payload; match responses against the host's own requests.
    """
    if not stanza.isRequest():
        host.responseReceived(stanza)
        return True
    payload = stanza.payload()
    key = IQKey(stanza.type, stanza.address, payload.uri, payload.name)
    if host.bus.fire(key, stanza) is None:
        host.bounce(stanza, "service-unavailable")
    return True


