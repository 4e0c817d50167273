"""
Federation: server-to-server streams (RFC 6120, XEP-0220, XEP-0178,
XEP-0368).

One module per job:

  - L{jabberd.s2s.keys}: dialback keys (XEP-0185).
  - L{jabberd.s2s.dialback}: the dialback elements on the wire (XEP-0220).
  - L{jabberd.s2s.srv}: where a remote domain's servers are (RFC 6120
    section 3.2, RFC 2782, XEP-0368).
  - L{jabberd.s2s.identity}: whether a peer's certificate names it (RFC 6125,
    RFC 6120 section 13.7.2).
  - L{jabberd.s2s.contexts}: TLS contexts for both directions.
  - L{jabberd.s2s.policy}: what the operator allows.
  - L{jabberd.s2s.stream}: what both stream directions share.
  - L{jabberd.s2s.incoming}: streams peers open to us.
  - L{jabberd.s2s.outgoing}: streams we open to peers.
  - L{jabberd.s2s.connector}: connecting to the first target that answers.
  - L{jabberd.s2s.route}: one local/remote domain pair: its queue and state.
  - L{jabberd.s2s.federation}: all of the above for one server.
"""
