/*
 * Where a record's time goes on each hop of its way through a federation (issue 18). The
 * propagation bench switches a trace on, runs many nodes in one process on one clock, and
 * rebuilds each record's critical path (publisher → … → the last node to store it) from the
 * marks: per relay, how long the frame waited to be read, for an admission ticket, for the
 * store's "already held" answer, for verification, policy and the forwarding checks, in the push
 * queue, and on the wire to the next node. In a running node no trace is on and each mark costs
 * one null check.
 */

export const HOP_MARKS = [
  /** publisher: signed, its durable write starting */
  'signed',
  /** the frame holding it was complete on the inbound stream (`peer`: the sender) */
  'arrive',
  /** the gossip reader took that frame */
  'read',
  /** ingest has it (admission ticket granted) */
  'admitted',
  /** "already held" and "purged" answered by the store */
  'checked',
  /** signature checked and record decoded, STIX-valid */
  'verified',
  /** roster and inbound policy decided */
  'decided',
  /** ownership and seq checks passed: handed to gossip before its write */
  'forwardable',
  /** its write completed: announced and visible from now on */
  'stored',
  /** put on the push queue to `peer` */
  'queued',
  /** the frame holding it handed to the stream to `peer` */
  'sent',
  /** announced by id to `peer` (IHAVE queued) */
  'announce',
  /** the IHAVE naming it handed to the stream to `peer` */
  'announce_sent',
  /** an IHAVE naming it arrived from `peer` */
  'ihave',
  /** asked for from `peer` (GRAFT) */
  'graft',
  /** `peer` asked us for it (GRAFT) */
  'graft_in'
] as const
export type HopMark = typeof HOP_MARKS[number]

export interface HopEvent { node: string, id: string, mark: HopMark, peer?: string, t: number }

export class HopTrace {
  readonly events: HopEvent[] = []

  mark (node: string, id: string, mark: HopMark, peer?: string, t = performance.now()): void {
    const e: HopEvent = { node, id, mark, t }
    if (peer != null) e.peer = peer
    this.events.push(e)
  }
}

let active: HopTrace | null = null

/** The trace in force, or null (the normal case: tracing off). */
export function hopTrace (): HopTrace | null {
  return active
}

/** Starts a fresh trace for this process (benches only); `stopHopTrace` ends it. */
export function startHopTrace (): HopTrace {
  active = new HopTrace()
  return active
}

export function stopHopTrace (): void {
  active = null
}
