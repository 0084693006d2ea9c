/*
 * Range-based set reconciliation core for anti-entropy: the ordered, fingerprinted item index,
 * per-peer overlay views, and the pure reconciliation state machines with their wire format.
 * No I/O: the sync protocol carries the messages, the store feeds the index.
 */
export {
  ID_BYTES, MAX_BOUND, MIN_BOUND, compareBounds, compareItems, itemBound, separator,
  type Bound, type ReconItem
} from './item.js'
export { FINGERPRINT_BYTES, fingerprintOf, type RangeSummary } from './sum.js'
export type { ReconView } from './view.js'
export { ReconIndex, type ColumnarItems } from './recon-index.js'
export { OverlayView } from './overlay-view.js'
export {
  DEFAULT_ID_LIST_THRESHOLD, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MAX_ROUNDS, MIN_MAX_MESSAGE_BYTES,
  autoBranching, createInitiator, createResponder,
  type ReconInitiator, type ReconOptions, type ReconSession, type ReconStats, type ReconStep
} from './session.js'
export { createNaiveInitiator, createNaiveResponder } from './naive.js'
export { reconcileLocally, type LocalResult, type LocalSideResult, type Protocol } from './local.js'
export { WIRE_VERSION } from './codec.js'
