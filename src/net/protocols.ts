/** Protocol ids, versioned: a change to a wire format gets a new id, never a silent reinterpretation. */
export const GOSSIP_PROTOCOL = '/dragnet/gossip/1.0.0'
export const SYNC_PROTOCOL = '/dragnet/sync/1.0.0'
