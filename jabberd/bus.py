"""
The per-host event bus.

Each L{jabberd.host.VirtualHost} has one bus.  Handlers hang on typed keys
(L{StanzaKey}, L{IQKey}, L{Signal}) in named priority bands; firing a key
calls its handlers from the highest band down until one claims the event by
returning anything but C{None}.  That single rule lets policy (privacy,
blocking) sit above services and the core's default behaviour sit below
them, without any special case in the router.
"""

import enum
from typing import NamedTuple


class Priority(enum.IntEnum):
    """
    Named priority bands; higher runs first.  Within a band, handlers run
    in the order they were hooked.
    """

    #: Checks that may veto delivery: privacy lists, blocking, rate limits.
    POLICY = 300
    #: The services that implement protocols: roster, presence, message.
    DEFAULT = 200
    #: The core's behaviour when no service claimed the event.
    FALLBACK = 100


class _Member(enum.Enum):
    """
    An enum whose members hash by identity.

    Members are singletons compared by identity, so the identity hash is
    correct; C{enum.Enum} hashes the member's name in a Python method
    instead, and every bus lookup hashes three members.
    """

    __hash__ = object.__hash__


class Kind(_Member):
    """
    The three stanza kinds (RFC 6120 section 8).
    """

    MESSAGE = "message"
    PRESENCE = "presence"
    IQ = "iq"


class Address(_Member):
    """
    How a stanza is addressed, from its C{to} (RFC 6121 section 8.5).
    """

    #: C{user@host/resource}
    FULL = "full"
    #: C{user@host}
    BARE = "bare"
    #: C{host} or C{host/resource}: the server itself.
    HOST = "host"
    #: No C{to} on a presence stanza: a broadcast (RFC 6121 section 4.2).
    NONE = "none"
    #: An IQ on a stream that has not authenticated (e.g. XEP-0077).
    PREAUTH = "preauth"


class Phase(_Member):
    """
    Where a stanza is being processed.
    """

    #: On the sender's host, before routing (stanzas from local clients).
    OUTBOUND = "outbound"
    #: On the recipient's host, before delivery.
    INBOUND = "inbound"
    #: On the sending host, as any stanza leaves it for the router: those
    #: of clients after their outbound phase, and those the server or a
    #: plugin sends (presence broadcasts, replies).  Nothing hooks here by
    #: default; a handler that claims the stanza stops it (privacy lists
    #: checking outgoing presence, archiving).
    EGRESS = "egress"


class StanzaKey(NamedTuple):
    """
    Key for stanza events: kind x addressing class x phase.
    """

    kind: Kind
    address: Address
    phase: Phase


class IQKey(NamedTuple):
    """
    Key for IQ request handlers: C{type} x addressing class x the payload's
    namespace and name.
    """

    type: str
    address: Address
    namespace: str
    name: str


class DeliveryKey(NamedTuple):
    """
    Key for the last check before a stanza from someone else is written
    to one session: handlers get C{(session, stanza)}; one that returns
    anything but C{None} keeps the stanza from that session (privacy
    lists that differ between a user's sessions).
    """

    kind: Kind


class Signal(NamedTuple):
    """
    Key for lifecycle notifications (sessions bound and closed, ...).
    """

    name: str


#: A resource is being bound; handlers may return a Deferred (e.g. to load
#: the user's roster) and the bind result waits for all of them.
SESSION_BINDING = Signal("session-binding")
SESSION_BOUND = Signal("session-bound")
SESSION_CLOSED = Signal("session-closed")
HOST_STOPPING = Signal("host-stopping")

#: The delivery key of each stanza kind.
DELIVERY_KEYS = {kind: DeliveryKey(kind) for kind in Kind}

#: Every stanza key, built once so that dispatch never constructs keys.
STANZA_KEYS = {
    (kind, address, phase): StanzaKey(kind, address, phase)
    for kind in Kind for address in Address for phase in Phase
}


class Registration:
    """
    Handle on one hooked handler; L{remove} unhooks it.
    """

    def __init__(self, bus, key, entry):
        self._bus = bus
        self._key = key
        self._entry = entry

    def remove(self):
        """
        Unhook the handler; removing twice is harmless.
        """
        if self._bus is not None:
            self._bus._remove(self._key, self._entry)
            self._bus = None


class Bus:
    """
    Handlers per key, in priority order, first claim stops.
    """

    def __init__(self):
        self._entries = {}
        self._handlers = {}
        self._sequence = 0

    def hook(self, key, handler, priority=Priority.DEFAULT):
        """
        Call C{handler} when C{key} fires.

        @return: a L{Registration}.
        """
        if not isinstance(priority, Priority):
            raise TypeError("priority must be a Priority band, not %r"
                            % (priority,))
        self._sequence += 1
        entry = (-int(priority), self._sequence, handler)
        entries = self._entries.setdefault(key, [])
        entries.append(entry)
        self._rebuild(key)
        return Registration(self, key, entry)

    def _remove(self, key, entry):
        entries = self._entries.get(key, [])
        if entry in entries:
            entries.remove(entry)
        if not entries:
            self._entries.pop(key, None)
        self._rebuild(key)

    def _rebuild(self, key):
        entries = self._entries.get(key)
        if entries:
            entries.sort(key=lambda e: e[:2])
            self._handlers[key] = tuple(e[2] for e in entries)
        else:
            self._handlers.pop(key, None)

    def fire(self, key, *args):
        """
        Call the handlers of C{key} in order until one returns something
        other than C{None}, and return that.
        """
        for handler in self._handlers.get(key, ()):
            result = handler(*args)
            if result is not None:
                return result
        return None

    def notify(self, key, *args):
        """
        Call every handler of C{key}, ignoring what they return.
        """
        for handler in self._handlers.get(key, ()):
            handler(*args)

    def gather(self, key, *args):
        """
        Call every handler of C{key} and return their results as a list.
        """
        return [handler(*args) for handler in self._handlers.get(key, ())]

    def hasHandlers(self, key):
        """
        Whether anything is hooked on C{key}.
        """
        return key in self._handlers
