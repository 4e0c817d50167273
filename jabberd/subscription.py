"""
The presence subscription state machine of RFC 6121 (Appendix A).

A plain library: given the state of one roster relationship (seen from the
user whose server is processing the stanza) and a subscription stanza
type, it says what the server does.  The presence plugin applies the
answer; nothing here touches stanzas, stores or the network.

The tables follow Appendix A.2 (the user's server processing what the user
sends) and A.3 (the user's server processing what arrives for the user).
"""

import enum
from dataclasses import dataclass


class State(enum.Enum):
    """
    The nine subscription states (RFC 6121 Appendix A.1).
    """

    NONE = ("none", False, False)
    NONE_PENDING_OUT = ("none", True, False)
    NONE_PENDING_IN = ("none", False, True)
    NONE_PENDING_OUT_IN = ("none", True, True)
    TO = ("to", False, False)
    TO_PENDING_IN = ("to", False, True)
    FROM = ("from", False, False)
    FROM_PENDING_OUT = ("from", True, False)
    BOTH = ("both", False, False)

    @property
    def subscription(self):
        """
        The roster item's C{subscription} attribute.
        """
        return self.value[0]

    @property
    def pendingOut(self):
        """
        Whether the user asked for the contact's presence and awaits an
        answer (the item's C{ask='subscribe'}).
        """
        return self.value[1]

    @property
    def pendingIn(self):
        """
        Whether the contact asked for the user's presence and awaits an
        answer.
        """
        return self.value[2]

    @property
    def hasTo(self):
        """
        Whether the user receives the contact's presence.
        """
        return self.subscription in ("to", "both")

    @property
    def hasFrom(self):
        """
        Whether the contact receives the user's presence.
        """
        return self.subscription in ("from", "both")

    @classmethod
    def of(cls, subscription, pendingOut, pendingIn):
        """
        The state with these three parts.

        @raise ValueError: no such state (e.g. C{both} with pending in).
        """
        return cls((subscription, bool(pendingOut), bool(pendingIn)))


@dataclass(frozen=True)
class Outcome:
    """
    What the server does with one subscription stanza.

    @ivar state: the new state.
    @ivar forward: whether the stanza is routed (outbound) or delivered to
        the user (inbound).
    @ivar autoReply: the type of presence the server sends back to the
        sender on the user's behalf, or C{None}.
    @ivar preApprove: for outbound C{subscribed} without a pending request:
        C{True} to set pre-approval (section 3.4), C{False} to cancel it
        (outbound C{unsubscribed}), C{None} to leave it.
    """

    state: State
    forward: bool
    autoReply: str = None
    preApprove: bool = None


S = State
_UNCHANGED = None

#: Appendix A.2: outbound stanzas from the user, by type: state ->
#: (new state or None for no change, routed).
OUTBOUND = {
    "subscribe": {
        S.NONE: (S.NONE_PENDING_OUT, True),
        S.NONE_PENDING_OUT: (_UNCHANGED, True),
        S.NONE_PENDING_IN: (S.NONE_PENDING_OUT_IN, True),
        S.NONE_PENDING_OUT_IN: (_UNCHANGED, True),
        S.TO: (_UNCHANGED, True),
        S.TO_PENDING_IN: (_UNCHANGED, True),
        S.FROM: (S.FROM_PENDING_OUT, True),
        S.FROM_PENDING_OUT: (_UNCHANGED, True),
        S.BOTH: (_UNCHANGED, True),
    },
    "unsubscribe": {
        S.NONE: (_UNCHANGED, True),
        S.NONE_PENDING_OUT: (S.NONE, True),
        S.NONE_PENDING_IN: (_UNCHANGED, True),
        S.NONE_PENDING_OUT_IN: (S.NONE_PENDING_IN, True),
        S.TO: (S.NONE, True),
        S.TO_PENDING_IN: (S.NONE_PENDING_IN, True),
        S.FROM: (_UNCHANGED, True),
        S.FROM_PENDING_OUT: (S.FROM, True),
        S.BOTH: (S.FROM, True),
    },
    "subscribed": {
        S.NONE: (_UNCHANGED, False),
        S.NONE_PENDING_OUT: (_UNCHANGED, False),
        S.NONE_PENDING_IN: (S.FROM, True),
        S.NONE_PENDING_OUT_IN: (S.FROM_PENDING_OUT, True),
        S.TO: (_UNCHANGED, False),
        S.TO_PENDING_IN: (S.BOTH, True),
        S.FROM: (_UNCHANGED, False),
        S.FROM_PENDING_OUT: (_UNCHANGED, False),
        S.BOTH: (_UNCHANGED, False),
    },
    "unsubscribed": {
        S.NONE: (_UNCHANGED, False),
        S.NONE_PENDING_OUT: (_UNCHANGED, False),
        S.NONE_PENDING_IN: (S.NONE, True),
        S.NONE_PENDING_OUT_IN: (S.NONE_PENDING_OUT, True),
        S.TO: (_UNCHANGED, False),
        S.TO_PENDING_IN: (S.TO, True),
        S.FROM: (S.NONE, True),
        S.FROM_PENDING_OUT: (S.NONE_PENDING_OUT, True),
        S.BOTH: (S.TO, True),
    },
}

#: Appendix A.3: inbound stanzas for the user, by type: state ->
#: (new state or None for no change, delivered, auto-reply).
INBOUND = {
    "subscribe": {
        S.NONE: (S.NONE_PENDING_IN, True, None),
        S.NONE_PENDING_OUT: (S.NONE_PENDING_OUT_IN, True, None),
        S.NONE_PENDING_IN: (_UNCHANGED, False, None),
        S.NONE_PENDING_OUT_IN: (_UNCHANGED, False, None),
        S.TO: (S.TO_PENDING_IN, True, None),
        S.TO_PENDING_IN: (_UNCHANGED, False, None),
        S.FROM: (_UNCHANGED, False, "subscribed"),
        S.FROM_PENDING_OUT: (_UNCHANGED, False, "subscribed"),
        S.BOTH: (_UNCHANGED, False, "subscribed"),
    },
    "unsubscribe": {
        S.NONE: (_UNCHANGED, False, None),
        S.NONE_PENDING_OUT: (_UNCHANGED, False, None),
        S.NONE_PENDING_IN: (S.NONE, True, None),
        S.NONE_PENDING_OUT_IN: (S.NONE_PENDING_OUT, True, None),
        S.TO: (_UNCHANGED, False, None),
        S.TO_PENDING_IN: (S.TO, True, None),
        S.FROM: (S.NONE, True, None),
        S.FROM_PENDING_OUT: (S.NONE_PENDING_OUT, True, None),
        S.BOTH: (S.TO, True, None),
    },
    "subscribed": {
        S.NONE: (_UNCHANGED, False, None),
        S.NONE_PENDING_OUT: (S.TO, True, None),
        S.NONE_PENDING_IN: (_UNCHANGED, False, None),
        S.NONE_PENDING_OUT_IN: (S.TO_PENDING_IN, True, None),
        S.TO: (_UNCHANGED, False, None),
        S.TO_PENDING_IN: (_UNCHANGED, False, None),
        S.FROM: (_UNCHANGED, False, None),
        S.FROM_PENDING_OUT: (S.BOTH, True, None),
        S.BOTH: (_UNCHANGED, False, None),
    },
    "unsubscribed": {
        S.NONE: (_UNCHANGED, False, None),
        S.NONE_PENDING_OUT: (S.NONE, True, None),
        S.NONE_PENDING_IN: (_UNCHANGED, False, None),
        S.NONE_PENDING_OUT_IN: (S.NONE_PENDING_IN, True, None),
        S.TO: (S.NONE, True, None),
        S.TO_PENDING_IN: (S.NONE_PENDING_IN, True, None),
        S.FROM: (_UNCHANGED, False, None),
        S.FROM_PENDING_OUT: (S.FROM, True, None),
        S.BOTH: (S.FROM, True, None),
    },
}

SUBSCRIPTION_TYPES = frozenset(OUTBOUND)

#: Pre-approval (section 3.4) turns an inbound subscribe in these states
#: into an automatic approval, as if the user had sent "subscribed".
_PREAPPROVED = {
    S.NONE: S.FROM,
    S.NONE_PENDING_OUT: S.FROM_PENDING_OUT,
    S.TO: S.BOTH,
}


def outbound(state, type):
    """
    Appendix A.2: the user sent a subscription stanza of C{type} to a
    contact with whom the relationship is in C{state}.
    """
    newState, route = OUTBOUND[type][state]
    preApprove = None
    if type == "subscribed" and newState is None and not state.hasFrom:
        preApprove = True
    elif type == "unsubscribed" and newState is None:
        preApprove = False
    return Outcome(newState or state, route, preApprove=preApprove)


def inbound(state, type, approved=False):
    """
    Appendix A.3: a subscription stanza of C{type} arrived for the user
    from a contact with whom the relationship is in C{state}.

    @param approved: whether the user pre-approved this contact.
    """
    if type == "subscribe" and approved and state in _PREAPPROVED:
        return Outcome(_PREAPPROVED[state], False, autoReply="subscribed",
                       preApprove=False)
    newState, deliver, reply = INBOUND[type][state]
    return Outcome(newState or state, deliver, autoReply=reply)
