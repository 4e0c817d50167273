"""
Tests for L{jabberd.subscription}: the subscription state machine of RFC
6121 Appendix A.

The tables below are typed in from the RFC, independently of the module's
own tables, in the RFC's words: the existing state, whether the server
routes (outbound, A.2) or delivers (inbound, A.3) the stanza, and the new
state ("no state change" is C{None}).  Every cell is checked against
L{outbound} and L{inbound}.
"""

import pytest

from jabberd.subscription import (
    SUBSCRIPTION_TYPES, Outcome, State, inbound, outbound)

#: The states of Appendix A.1 by the RFC's names.
STATES = {
    "None": State.NONE,
    "None + Pending Out": State.NONE_PENDING_OUT,
    "None + Pending In": State.NONE_PENDING_IN,
    "None + Pending Out/In": State.NONE_PENDING_OUT_IN,
    "To": State.TO,
    "To + Pending In": State.TO_PENDING_IN,
    "From": State.FROM,
    "From + Pending Out": State.FROM_PENDING_OUT,
    "Both": State.BOTH,
}

NO_CHANGE = None

#: Appendix A.2: the user's server processing what the user sends.
#: type -> [(existing state, route?, new state)]
RFC_OUTBOUND = {
    # A.2.1
    "subscribe": [
        ("None", True, "None + Pending Out"),
        ("None + Pending Out", True, NO_CHANGE),
        ("None + Pending In", True, "None + Pending Out/In"),
        ("None + Pending Out/In", True, NO_CHANGE),
        ("To", True, NO_CHANGE),
        ("To + Pending In", True, NO_CHANGE),
        ("From", True, "From + Pending Out"),
        ("From + Pending Out", True, NO_CHANGE),
        ("Both", True, NO_CHANGE),
    ],
    # A.2.2
    "unsubscribe": [
        ("None", True, NO_CHANGE),
        ("None + Pending Out", True, "None"),
        ("None + Pending In", True, NO_CHANGE),
        ("None + Pending Out/In", True, "None + Pending In"),
        ("To", True, "None"),
        ("To + Pending In", True, "None + Pending In"),
        ("From", True, NO_CHANGE),
        ("From + Pending Out", True, "From"),
        ("Both", True, "From"),
    ],
    # A.2.3
    "subscribed": [
        ("None", False, NO_CHANGE),
        ("None + Pending Out", False, NO_CHANGE),
        ("None + Pending In", True, "From"),
        ("None + Pending Out/In", True, "From + Pending Out"),
        ("To", False, NO_CHANGE),
        ("To + Pending In", True, "Both"),
        ("From", False, NO_CHANGE),
        ("From + Pending Out", False, NO_CHANGE),
        ("Both", False, NO_CHANGE),
    ],
    # A.2.4
    "unsubscribed": [
        ("None", False, NO_CHANGE),
        ("None + Pending Out", False, NO_CHANGE),
        ("None + Pending In", True, "None"),
        ("None + Pending Out/In", True, "None + Pending Out"),
        ("To", False, NO_CHANGE),
        ("To + Pending In", True, "To"),
        ("From", True, "None"),
        ("From + Pending Out", True, "None + Pending Out"),
        ("Both", True, "To"),
    ],
}

#: Appendix A.3: the user's server processing what arrives for the user.
#: type -> [(existing state, deliver?, new state, automatic reply)]
RFC_INBOUND = {
    # A.3.1 ("no *": the server SHOULD auto-reply with "subscribed")
    "subscribe": [
        ("None", True, "None + Pending In", None),
        ("None + Pending Out", True, "None + Pending Out/In", None),
        ("None + Pending In", False, NO_CHANGE, None),
        ("None + Pending Out/In", False, NO_CHANGE, None),
        ("To", True, "To + Pending In", None),
        ("To + Pending In", False, NO_CHANGE, None),
        ("From", False, NO_CHANGE, "subscribed"),
        ("From + Pending Out", False, NO_CHANGE, "subscribed"),
        ("Both", False, NO_CHANGE, "subscribed"),
    ],
    # A.3.2
    "unsubscribe": [
        ("None", False, NO_CHANGE, None),
        ("None + Pending Out", False, NO_CHANGE, None),
        ("None + Pending In", True, "None", None),
        ("None + Pending Out/In", True, "None + Pending Out", None),
        ("To", False, NO_CHANGE, None),
        ("To + Pending In", True, "To", None),
        ("From", True, "None", None),
        ("From + Pending Out", True, "None + Pending Out", None),
        ("Both", True, "To", None),
    ],
    # A.3.3
    "subscribed": [
        ("None", False, NO_CHANGE, None),
        ("None + Pending Out", True, "To", None),
        ("None + Pending In", False, NO_CHANGE, None),
        ("None + Pending Out/In", True, "To + Pending In", None),
        ("To", False, NO_CHANGE, None),
        ("To + Pending In", False, NO_CHANGE, None),
        ("From", False, NO_CHANGE, None),
        ("From + Pending Out", True, "Both", None),
        ("Both", False, NO_CHANGE, None),
    ],
    # A.3.4
    "unsubscribed": [
        ("None", False, NO_CHANGE, None),
        ("None + Pending Out", True, "None", None),
        ("None + Pending In", False, NO_CHANGE, None),
        ("None + Pending Out/In", True, "None + Pending In", None),
        ("To", True, "None", None),
        ("To + Pending In", True, "None + Pending In", None),
        ("From", False, NO_CHANGE, None),
        ("From + Pending Out", True, "From", None),
        ("Both", True, "From", None),
    ],
}

#: Appendix A.1: how each state shows in the user's roster item
#: (subscription attribute, ask='subscribe'), and whether an inbound
#: request awaits the user's answer.
RFC_ROSTER_VIEW = [
    ("None", "none", False, False),
    ("None + Pending Out", "none", True, False),
    ("None + Pending In", "none", False, True),
    ("None + Pending Out/In", "none", True, True),
    ("To", "to", False, False),
    ("To + Pending In", "to", False, True),
    ("From", "from", False, False),
    ("From + Pending Out", "from", True, False),
    ("Both", "both", False, False),
]


def _cells(table):
    return [(type, *row) for type, rows in table.items() for row in rows]


def _id(cell):
    return "%s-%s" % (cell[0], cell[1].replace(" ", ""))


def test_tablesAreComplete():
    """
    The typed-in tables have one row per state for each of the four
    subscription types, as the RFC has, and the module knows exactly
    those four types.
    """
    assert SUBSCRIPTION_TYPES == {"subscribe", "unsubscribe", "subscribed",
                                  "unsubscribed"}
    for table in (RFC_OUTBOUND, RFC_INBOUND):
        assert set(table) == SUBSCRIPTION_TYPES
        for rows in table.values():
            assert [row[0] for row in rows] == list(STATES)
    assert len(_cells(RFC_OUTBOUND)) == len(_cells(RFC_INBOUND)) == 36


@pytest.mark.parametrize("cell", _cells(RFC_OUTBOUND), ids=_id)
def test_outboundCell(cell):
    """
    Appendix A.2: each cell of the outbound tables.
    """
    type, existing, route, new = cell
    before = STATES[existing]
    outcome = outbound(before, type)
    assert isinstance(outcome, Outcome)
    assert outcome.forward is route
    assert outcome.state is (before if new is None else STATES[new])
    assert outcome.autoReply is None


@pytest.mark.parametrize("cell", _cells(RFC_INBOUND), ids=_id)
def test_inboundCell(cell):
    """
    Appendix A.3: each cell of the inbound tables, without pre-approval.
    """
    type, existing, deliver, new, reply = cell
    before = STATES[existing]
    outcome = inbound(before, type)
    assert outcome.forward is deliver
    assert outcome.state is (before if new is None else STATES[new])
    assert outcome.autoReply == reply


@pytest.mark.parametrize("name, subscription, ask, pendingIn",
                         RFC_ROSTER_VIEW)
def test_rosterView(name, subscription, ask, pendingIn):
    """
    Appendix A.1: each state's roster attributes, and back.
    """
    state = STATES[name]
    assert (state.subscription, state.pendingOut, state.pendingIn) == (
        subscription, ask, pendingIn)
    assert State.of(subscription, ask, pendingIn) is state
    assert state.hasTo == (subscription in ("to", "both"))
    assert state.hasFrom == (subscription in ("from", "both"))


@pytest.mark.parametrize("parts", [
    ("to", True, False), ("both", False, True), ("from", False, True),
    ("both", True, False), ("bogus", False, False),
])
def test_noSuchState(parts):
    """
    Combinations that are none of the nine states are refused.
    """
    with pytest.raises(ValueError):
        State.of(*parts)


# -- pre-approval (section 3.4) -------------------------------------------------


@pytest.mark.parametrize("existing", ["None", "None + Pending Out", "To"])
def test_preApprovalRecorded(existing):
    """
    Section 3.4.2: "subscribed" in None, None + Pending Out or To (or for
    a contact not in the roster, which is None) notes a pre-approval; the
    stanza is not routed and the state does not change.
    """
    before = STATES[existing]
    outcome = outbound(before, "subscribed")
    assert (outcome.state, outcome.forward, outcome.preApprove) == (
        before, False, True)


@pytest.mark.parametrize("existing", ["From", "From + Pending Out", "Both"])
def test_preApprovalIgnoredWhenSubscribed(existing):
    """
    Section 3.4.2: "subscribed" when the contact already has a
    subscription is silently ignored: nothing routed, nothing noted.
    """
    before = STATES[existing]
    outcome = outbound(before, "subscribed")
    assert (outcome.state, outcome.forward, outcome.preApprove) == (
        before, False, None)


@pytest.mark.parametrize("existing, new", [
    ("None + Pending In", "From"),
    ("None + Pending Out/In", "From + Pending Out"),
    ("To + Pending In", "Both"),
])
def test_subscribedWithPendingRequestIsApproval(existing, new):
    """
    Section 3.4.2: "subscribed" with a request pending is a normal
    approval, not a pre-approval.
    """
    outcome = outbound(STATES[existing], "subscribed")
    assert (outcome.state, outcome.forward, outcome.preApprove) == (
        STATES[new], True, None)


@pytest.mark.parametrize("existing", ["None", "None + Pending Out", "To"])
def test_unsubscribedCancelsPreApproval(existing):
    """
    Appendix A.2.4 note and section 3.2.2: "unsubscribed" where the table
    routes nothing cancels a pre-approval.
    """
    before = STATES[existing]
    outcome = outbound(before, "unsubscribed")
    assert (outcome.state, outcome.forward, outcome.preApprove) == (
        before, False, False)


@pytest.mark.parametrize("type", ["subscribe", "unsubscribe"])
@pytest.mark.parametrize("existing", list(STATES))
def test_otherTypesLeavePreApproval(type, existing):
    """
    Subscribing and unsubscribing neither note nor cancel a pre-approval.
    """
    assert outbound(STATES[existing], type).preApprove is None


@pytest.mark.parametrize("existing, new", [
    ("None", "From"),
    ("None + Pending Out", "From + Pending Out"),
    ("To", "Both"),
])
def test_preApprovedRequest(existing, new):
    """
    Section 3.4: a request from a pre-approved contact is approved by the
    server: not delivered, answered with "subscribed", the state moves on
    as if the user had approved, and the pre-approval is used up.
    """
    outcome = inbound(STATES[existing], "subscribe", approved=True)
    assert outcome == Outcome(STATES[new], False, autoReply="subscribed",
                              preApprove=False)


@pytest.mark.parametrize("type", ["unsubscribe", "subscribed",
                                  "unsubscribed"])
@pytest.mark.parametrize("existing", ["None", "None + Pending Out", "To"])
def test_preApprovalOnlyForRequests(type, existing):
    """
    A pre-approval changes nothing for the other inbound types.
    """
    before = STATES[existing]
    assert inbound(before, type, approved=True) == inbound(before, type)


@pytest.mark.parametrize("existing", ["From", "From + Pending Out", "Both"])
def test_preApprovalWhenAlreadySubscribed(existing):
    """
    A request from a contact that is already subscribed is auto-answered
    as the table says, pre-approved or not.
    """
    before = STATES[existing]
    assert inbound(before, "subscribe", approved=True).autoReply == \
        "subscribed"
    assert inbound(before, "subscribe", approved=True).state is before
