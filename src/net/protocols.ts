/** Protocol ids, versioned: a change to a wire format gets a new id, never a silent reinterpretation. */
export const GOSSIP_PROTOCOL = '/dragnet/gossip/1.0.0'
// 2.0.0: amber reconciled per recipient; scopes named by index in OPEN
export const SYNC_PROTOCOL = '/dragnet/sync/2.0.0'
// credentials, revocations and hand-overs: their own scope, reconciled with every member
export const MEMBERSHIP_PROTOCOL = '/dragnet/membership/1.0.0'
