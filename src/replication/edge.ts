import type { Member, Roster } from '../identity/index.js'
import type { Ingest, Verdict } from '../ingest/index.js'
import type { Logger } from '../log.js'
import { checkShape } from '../record/index.js'
import { FEEDBACK_TO_AUTHOR, type Policy, type PolicySubject } from '../policy/index.js'
import type { AuditEntry } from '../store/index.js'
import { Admission, yieldToLoop, type AdmissionInit } from './admission.js'
import { AuthorBudgets, type AuthorBudgetInit } from './author-budget.js'
import { ExpectedIds } from './expected.js'
import { describe, failureKind, type FailureKind } from './faults.js'
import { PeerGuards, type PeerGuard, type PeerGuardInit } from './peer-guard.js'
import type { ReplicationStats } from './stats.js'

export type ReplicationSource = 'gossip' | 'sync'

/** Per-peer counters and penalties (the node's peer manager). */
export interface PeerAccounting {
  penalize: (peerId: string, reason: string, code?: string) => void
  /** false while the peer is under penalty (or blocked): what it sends is refused unread */
  admits: (peerId: string) => boolean
  count: (peerId: string, delta: Partial<Record<'recordsIn' | 'recordsOut' | 'withheld' | 'rejected' | 'syncRecordsIn' | 'syncRecordsOut', number>>) => void
}

/** What the edge needs from the node: narrow on purpose. */
export interface EdgeComponents {
  ingest: Pick<Ingest, 'receive' | 'subjectOf' | 'limitsInForce'>
  roster: Pick<Roster, 'self' | 'get' | 'entryOf'>
  peers: PeerAccounting
  /** the policy in force right now (it can be reloaded while the node runs) */
  policy: () => Policy
  /** outbound decisions are audited through this (batched by the node) */
  audit: (entry: AuditEntry) => void
  log: Logger
}

export interface EdgeInit extends PeerGuardInit {
  /** the fair admission in front of ingest (admission.ts) */
  admission: AdmissionInit
  /** what one author's records may cost this node on gossip (author-budget.ts) */
  authorBudget: AuthorBudgetInit
}

export interface HandOff {
  /** the envelopes ingested (those not deferred), in order; `verdicts` line up with them */
  envelopes: Uint8Array[]
  verdicts: Verdict[]
  stored: number
  /** envelopes left out by the caller's `take` (past their author's budget) */
  deferred: number
  /** set when the sender broke the rules: it has been penalised, the caller ends the stream */
  violation?: string
}

/** The envelopes (and their ids, if given) that `take` keeps, in order. */
function taken (envelopes: Uint8Array[], ids: string[] | undefined, take: (envelope: Uint8Array) => boolean): { kept: Uint8Array[], keptIds?: string[] } {
  const kept: Uint8Array[] = []
  const keptIds: string[] = []
  envelopes.forEach((e, i) => {
    if (!take(e)) return
    kept.push(e)
    if (ids != null) keptIds.push(ids[i])
  })
  return ids != null ? { kept, keptIds } : { kept }
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
  readonly admission: Admission
  readonly authors: AuthorBudgets
  /** ids gossip or sync expects to arrive: the other path does not fetch them meanwhile */
  readonly expected = new ExpectedIds()

  constructor (private readonly c: EdgeComponents, init: EdgeInit) {
    this.guards = new PeerGuards(init)
    this.admission = new Admission(init.admission)
    this.authors = new AuthorBudgets(init.authorBudget)
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
   * Hands records from `peerId` to ingest — screened, then admitted fairly in chunks — and maps
   * every verdict to what it means for the sender (see `judge`). On a violation the peer is
   * penalised here; the caller only ends the stream. `ids`: the envelopes' ids when the caller
   * computed them already (they are not hashed again).
   */
  async handOff (peerId: string, envelopes: Uint8Array[], source: ReplicationSource, stats: ReplicationStats, signal?: AbortSignal, ids?: string[], take?: (envelope: Uint8Array) => boolean): Promise<HandOff> {
    let payload = 0
    for (const e of envelopes) payload += e.length
    stats.payloadBytesIn += payload
    const screened = this.screen(peerId, envelopes)
    if (screened != null) {
      stats.recordsIn += envelopes.length
      stats.rejectedIn += envelopes.length
      if (screened.penalise) {
        stats.violations++
        this.c.peers.penalize(peerId, `${source}: ${screened.reason}`, 'DRAGNET_MALFORMED_RECORD')
      }
      return { envelopes: [], verdicts: [], stored: 0, deferred: 0, violation: screened.reason }
    }
    // Only well-formed records are deferred: junk is penalised above whatever its author's budget.
    const { kept, keptIds } = take == null ? { kept: envelopes, keptIds: ids } : taken(envelopes, ids, take)
    const deferred = envelopes.length - kept.length
    stats.deferredIn += deferred
    stats.recordsIn += kept.length
    const verdicts = kept.length > 0 ? await this.admitted(peerId, kept, source, signal, keptIds) : []
    return { ...this.judge(peerId, verdicts, source, stats), envelopes: kept, deferred }
  }

  /**
   * Junk refused before it costs a ticket, a hash or a worker round trip: anything from a peer
   * under penalty (it is already cut off: not penalised again), and a frame holding a record of
   * the wrong size or framing (a violation at once; none of the frame is ingested).
   */
  private screen (peerId: string, envelopes: Uint8Array[]): { reason: string, penalise: boolean } | undefined {
    if (!this.c.peers.admits(peerId)) return { reason: 'is under penalty: its records are refused unread', penalise: false }
    const limits = this.c.ingest.limitsInForce
    for (const e of envelopes) {
      try {
        checkShape(e, limits)
      } catch (err) {
        return { reason: `sent a bad record: ${describe(err).message}`, penalise: true }
      }
    }
    return undefined
  }

  /**
   * Ingests the records in chunks, each behind a ticket of the fair admission (one peer holds
   * at most its share of verification and storage). Chunks run side by side as their tickets
   * come; between two, the event loop gets a turn. A chunk whose verdicts make the sender a
   * violator stops the rest from being admitted. Verdicts line up with the envelopes admitted.
   */
  private async admitted (peerId: string, envelopes: Uint8Array[], source: ReplicationSource, signal?: AbortSignal, ids?: string[]): Promise<Verdict[]> {
    const chunk = this.admission.chunk
    const parts: Array<Promise<Verdict[]>> = []
    let bad = false
    for (let i = 0; i < envelopes.length && !bad; i += chunk) {
      if (i > 0) await yieldToLoop()
      const slice = envelopes.slice(i, i + chunk)
      const release = await this.admission.acquire(peerId, slice.length, signal)
      const part = this.c.ingest.receive(slice.map((bytes, j) => ids != null ? { bytes, from: peerId, source, id: ids[i + j] } : { bytes, from: peerId, source }), { signal }).finally(release)
      part.then(vs => { if (vs.some(v => v.status === 'rejected' && v.penalize)) bad = true }, () => {})
      parts.push(part)
    }
    return (await Promise.all(parts)).flat()
  }

  /**
   * The one verdict→penalty mapping:
   *  - rejected with `penalize` (forged, malformed, TLP floor broken, another member's object
   *    revoked or superseded, an equivocation from its author): violation;
   *  - stored as equivocation evidence, sent by the equivocating author itself: violation;
   *  - rejected with a `strike` (unknown author, relayed takeover): a strike, a violation once
   *    the peer is over its allowance;
   *  - anything else (duplicates, our own policy's rejections): nothing.
   */
  private judge (peerId: string, verdicts: Verdict[], source: ReplicationSource, stats: ReplicationStats): Omit<HandOff, 'envelopes' | 'deferred'> {
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
