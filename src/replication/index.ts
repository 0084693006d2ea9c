/*
 * The peer edge shared by every replication protocol: outbound decisions, the hand-off to
 * ingest with its one verdict→penalty mapping, per-peer limits, the records frame codec, failure
 * kinds and one stats type. Gossip (net/) and sync (sync/) import it; it imports neither.
 */
export * from './admission.js'
export * from './author-budget.js'
export * from './edge.js'
export * from './fair-queue.js'
export * from './expected.js'
export * from './faults.js'
export * from './ids.js'
export * from './peer-guard.js'
export * from './records-frame.js'
export * from './stats.js'
