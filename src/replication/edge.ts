import type { Member, Roster } from '../identity/index.js'
import type { Ingest, Verdict } from '../ingest/index.js'
import type { Logger } from '../log.js'
import { FEEDBACK_TO_AUTHOR, type Policy, type PolicySubject } from '../policy/index.js'
import type { AuditEntry } from '../store/index.js'
import { ExpectedIds } from './expected.js'
import { describe, failureKind, type FailureKind } from './faults.js'
import { PeerGuards, type PeerGuard, type PeerGuardInit } from './peer-guard.js'
import type { ReplicationStats } from './stats.js'

export type ReplicationSource = 'gossip' | 'sync'

/** Per-peer counters and penalties (the node's peer manager). */
export interface PeerAccounting {
  penalize: (peerId: string, reason: string, code?: string) => void
  count: (peerId: string, delta: Partial<Record<'recordsIn' | 'recordsOut' | 'withheld' | 'rejected' | 'syncRecordsIn' | 'syncRecordsOut', number>>) => void
}

/** What the edge needs from the node: narrow on purpose. */
export interface EdgeComponents {
  ingest: Pick<Ingest, 'receive' | 'subjectOf'>
  roster: Pick<Roster, 'self' | 'get' | 'entryOf'>
  peers: PeerAccounting
  /** the policy in force right now (it can be reloaded while the node runs) */
  policy: () => Policy
  /** outbound decisions are audited through this (batched by the node) */
  audit: (entry: AuditEntry) => void
  log: Logger
}

export type EdgeInit = PeerGuardInit

export interface HandOff {
  verdicts: Verdict[]
  stored: number
  /** set when the sender broke the rules: it has been penalised, the caller ends the stream */
  violation?: string
}

/**
 * The peer edge every replication protocol sits on (gossip, sync; anything later). It owns
 * the three decisions they share so each is made one way:
 *  - outbound: may this peer have this record? (policy and TLP floor; withholdings audited and
 *    counted);
 *  - inbound: records handed to ingest, and each verdict mapped to what it means for the sender
 *    (nothing, a strike, or a violation and its penalty);
 *  - failures: a violation is penalised, a timeout or a closed stream is not.
 * It also holds the per-peer limits (PeerGuard), so every protocol charges the same buckets.
 */
export class ReplicationEdge {
  readonly guards: PeerGuards
  /** ids gossip or sync expects to arrive: the other path does not fetch them meanwhile */
  readonly expected = new ExpectedIds()

  constructor (private readonly c: EdgeComponents, init: EdgeInit) {
    this.guards = new PeerGuards(init)
  }

  guard (peerId: string): PeerGuard {
    return this.guards.get(peerId)
  }

  member (peerId: string): Member | undefined {
    return this.c.roster.get(peerId)
  }

  subjectOf (...args: Parameters<Ingest['subjectOf']>): PolicySubject {
    return this.c.ingest.subjectOf(...args)
  }

  /** The outbound decision for one record and one peer; a withholding is audited and counted. */
  maySend (subject: PolicySubject, peer: Member, source: ReplicationSource, stats: ReplicationStats, now = Date.now()): boolean {
    const d = this.c.policy().outbound(subject, { self: this.c.roster.self, peer, author: this.c.roster.entryOf(subject.author, subject.ts), now, peerOnRoster: true })
    if (d.verdict === 'send') {
      // Feedback that goes to its object's author past the rules is audited: the operator can see why it left.
      if (d.rule === FEEDBACK_TO_AUTHOR.rule) this.c.audit({ at: now, direction: 'outbound', verdict: 'send', rule: d.rule, reason: d.reason, record: subject.id, peer: peer.peerId, source })
      return true
    }
    stats.withheld++
    this.c.peers.count(peer.peerId, { withheld: 1 })
    this.c.audit({ at: now, direction: 'outbound', verdict: 'withhold', rule: d.rule, reason: d.reason, record: subject.id, peer: peer.peerId, source })
    return false
  }

  /** Counts records sent to a peer (the bytes are counted per frame by the service). */
  sent (peerId: string, records: number, source: ReplicationSource, stats: ReplicationStats, payloadBytes: number): void {
    stats.recordsOut += records
    stats.payloadBytesOut += payloadBytes
    this.c.peers.count(peerId, source === 'sync' ? { recordsOut: records, syncRecordsOut: records } : { recordsOut: records })
  }

  /**
   * Hands records from `peerId` to ingest and maps every verdict to what it means for the
   * sender. This is the one verdict→penalty mapping:
   *  - rejected with `penalize` (forged, malformed, TLP floor broken, another member's object
   *    revoked or superseded, an equivocation from its author): violation;
   *  - stored as equivocation evidence, sent by the equivocating author itself: violation;
   *  - rejected with a `strike` (unknown author, relayed takeover): a strike, a violation once
   *    the peer is over its allowance;
   *  - anything else (duplicates, our own policy's rejections): nothing.
   * On a violation the peer is penalised here; the caller only ends the stream. `ids`: the
   * envelopes' ids when the caller computed them already (they are not hashed again).
   */
  async handOff (peerId: string, envelopes: Uint8Array[], source: ReplicationSource, stats: ReplicationStats, signal?: AbortSignal, ids?: string[]): Promise<HandOff> {
    let payload = 0
    for (const e of envelopes) payload += e.length
    stats.payloadBytesIn += payload
    stats.recordsIn += envelopes.length
    const verdicts = await this.c.ingest.receive(envelopes.map((bytes, i) => ids != null ? { bytes, from: peerId, source, id: ids[i] } : { bytes, from: peerId, source }), { signal })
    let stored = 0
    let rejected = 0
    let violation: { reason: string, code: string } | undefined
    const guard = this.guard(peerId)
    for (const v of verdicts) {
      // Here, whatever path was waiting for it: the wait is over.
      if (v.id != null) this.expected.settle(v.id)
      if (v.status === 'duplicate') { stats.duplicatesIn++; continue }
      if (v.status === 'stored') {
        stored++
        if (v.equivocation === true && v.record.record.author === peerId) violation ??= { reason: `equivocated: signed two records with seq ${v.record.record.seq}`, code: 'DRAGNET_EQUIVOCATION' }
        continue
      }
      rejected++
      if (v.penalize) violation ??= { reason: `sent a bad record: ${v.reason}`, code: v.code }
      else if (v.strike != null && guard.strike(v.strike)) violation ??= { reason: `relayed records from ${guard.strikeCount} unknown authors or that contradict their owners within the strike window (last: ${v.reason})`, code: v.code }
    }
    stats.rejectedIn += rejected
    if (stored > 0 || rejected > 0) this.c.peers.count(peerId, source === 'sync' ? { recordsIn: stored, syncRecordsIn: stored, rejected } : { recordsIn: stored, rejected })
    if (violation != null) {
      stats.violations++
      this.c.peers.penalize(peerId, `${source}: ${violation.reason}`, violation.code)
      return { verdicts, stored, violation: violation.reason }
    }
    return { verdicts, stored }
  }

  /** Counts a strike outside a records hand-off (an unknown author key in an announcement); true if that made it a violation, already penalised. */
  strike (peerId: string, key: string, source: ReplicationSource, stats: ReplicationStats, what: string): boolean {
    const guard = this.guard(peerId)
    if (!guard.strike(key)) return false
    stats.violations++
    this.c.peers.penalize(peerId, `${source}: ${guard.strikeCount} strikes within the strike window (last: ${what})`, 'DRAGNET_UNKNOWN_AUTHOR')
    return true
  }

  /**
   * A session or stream with `peerId` failed: penalise a violation, let a timeout or a closed
   * stream pass (the session is tried again later). Returns the kind for the caller's retry.
   */
  fail (peerId: string, err: unknown, source: ReplicationSource, stats: ReplicationStats): FailureKind {
    const kind = failureKind(err)
    const { code, message } = describe(err)
    stats.failures++
    if (kind === 'violation') {
      stats.violations++
      this.c.peers.penalize(peerId, `${source} protocol violation: ${message}`, code)
    } else {
      if (kind === 'timeout') stats.timeouts++
      this.c.log.debug({ peer: peerId, kind, code, err: message }, `${source} session ended`)
    }
    return kind
  }
}
