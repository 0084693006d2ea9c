import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { DragnetError, type ErrorCode, toDragnetError } from '../errors.js'
import type { NodeIdentity, Roster, Member } from '../identity/index.js'
import type { Logger } from '../log.js'
import { type Policy, type PolicySubject, type SubjectExtras, policySubject } from '../policy/index.js'
import { canonicalJson, checkShape, createRecord, decodeRecord, parseDecodedRecord, idOfEnvelope, authorOfEnvelope, isTlp, scopesOf, type DecodeLimits, type SignedRecord, type Tlp, TLP_LEVELS } from '../record/index.js'
import { analyzeStixObject, compareVersionNames, type StixAnalysis } from '../stix/index.js'
import { contributionsOf, feedbackTargets, type AuditEntry, type KnownWrite, type RecordInfo, type RecordSource, type RecordWrite, type Store } from '../store/index.js'
import { StoredRecordView } from '../store/reads.js'
import { hopTrace, type HopMark } from '../util/hops.js'
import { stageClock } from '../util/stages.js'
import { RosterKeys, keyHex } from './roster-keys.js'
import { TlpResolver } from './tlp.js'
import { checkError, type CheckedRecord } from './checks.js'
import { UnwrittenClaims } from './unwritten.js'
import { MIN_PARALLEL, VerifyPool, verifyInline } from './verify-pool.js'

export interface Stored {
  status: 'stored'
  id: string
  record: SignedRecord
  info: RecordInfo
  subject: PolicySubject
  source: RecordSource
  from?: string
  /** the author equivocated with this record (same seq as another stored record) */
  equivocation?: boolean
}

/**
 * A received record verified, STIX-valid, allowed by the inbound policy and sure to be admitted
 * (no ownership or seq conflict), with its durable write in flight: it may be passed on, but it
 * is not held yet. Nothing may announce it as held (IHAVE, sync, TAXII, API) before onStored.
 */
export interface Forwardable {
  id: string
  record: SignedRecord
  subject: PolicySubject
  source: RecordSource
  from?: string
}

export interface Duplicate {
  status: 'duplicate'
  id: string
}

export interface Rejected {
  status: 'rejected'
  id?: string
  code: ErrorCode
  reason: string
  rule?: string
  details?: Record<string, unknown>
  /**
   * the sending peer misbehaved (forged, malformed or TLP-violating record, an attempt to revoke
   * or supersede another member's object, an equivocation from its own author): cut it off
   */
  penalize: boolean
  /**
   * not proof of misbehaviour (an honest relay can hand this over: an author this node does not
   * know yet), but counted against the sender; distinct strikes above a threshold are a penalty
   */
  strike?: string
  /** remembered as known (not offered again by reconciliation): its sync scopes and ts */
  known?: { scopes: string[], ts: number }
}

export type Verdict = Stored | Duplicate | Rejected

export interface ReceivedRecord {
  bytes: Uint8Array
  /** the peer that handed the record over (for a records file: the member that wrote it) */
  from: string
  /** import: signed records carried in a records file, checked exactly as if received */
  source: 'gossip' | 'sync' | 'import'
  /** idOfEnvelope(bytes), when the caller hashed these exact bytes already (sync does, to check them against its requests) */
  id?: string
}

export interface PublishOptions {
  /** the record TLP; absent, each object's strictest TLP marking decides (green without one) */
  tlp?: Tlp
  to?: string[]
  source?: 'local' | 'import'
  /** import mode: an object this node already published in any version is skipped */
  skipExisting?: boolean
  /** cancels the publication before anything is signed or stored */
  signal?: AbortSignal
}

export interface IngestInit {
  limits?: DecodeLimits
  /** worker threads verifying signatures of large batches; 0 verifies inline */
  verifyWorkers?: number
  /** records signed more than this far ahead of the local clock are refused (default 10 minutes) */
  maxSkewMs?: number
}

export const DEFAULT_MAX_SKEW_MS = 600_000

/** Unknown-author rejections are audited at most this often per sender: a flood leaves one entry a minute. */
const UNKNOWN_AUDIT_EVERY_MS = 60_000

export interface IngestComponents {
  store: Store
  identity: NodeIdentity
  roster: Roster
  /** the policy in force right now (it can be reloaded while the node runs) */
  policy: () => Policy
  log: Logger
  clock?: () => number
}

type StoredListener = (v: Stored) => void
type ForwardableListener = (v: Forwardable) => void
/**
 * Asked about every received record of a member before policy: a refusal (rule, reason) keeps
 * it out before it is stored or forwarded, as a record an honoured erasure request named.
 */
export type ArrivalGate = (id: string, signed: SignedRecord) => { rule: string, reason: string } | undefined
type VerdictListener = (v: Verdict, source: RecordSource) => void

interface Candidate {
  index: number
  id: string
  signed: SignedRecord
  analysis: StixAnalysis
  subject: PolicySubject
  from?: string
  source: RecordSource
  rule: string
  reason: string
}

function rejected (err: unknown, id: string | undefined, penalize: boolean): Rejected {
  const e = toDragnetError(err)
  const out: Rejected = { status: 'rejected', code: e.code, reason: e.message, penalize }
  if (id != null) out.id = id
  if (Object.keys(e.details).length > 0) out.details = e.details
  return out
}

function versionName (body: Record<string, unknown>): string {
  if (typeof body.modified === 'string') return body.modified
  if (typeof body.created === 'string') return body.created
  return ''
}

function validUntilMs (body: Record<string, unknown>): number | undefined {
  if (body.type !== 'indicator' || typeof body.valid_until !== 'string') return undefined
  const t = Date.parse(body.valid_until)
  return Number.isNaN(t) ? undefined : t
}

/**
 * The one path every record takes into the store, whatever its source (API, CLI, import, gossip,
 * sync): bounded decode → dedupe → verify → STIX → roster → inbound policy → version order and
 * equivocation → one atomic batch with its indexes and audit entry. It returns a verdict per
 * record and throws only for programmer errors; listeners hear about stored records (gossip
 * forwards them).
 */
export class Ingest {
  private readonly c: IngestComponents
  private readonly limits: DecodeLimits
  private readonly workers: number
  private pool: VerifyPool | null = null
  private readonly storedListeners: StoredListener[] = []
  private readonly forwardableListeners: ForwardableListener[] = []
  private readonly verdictListeners: VerdictListener[] = []
  private readonly gates: ArrivalGate[] = []
  private readonly inFlight = new Set<string>()
  private readonly rosterKeys: RosterKeys
  private readonly maxSkewMs: number
  /** when each sender's last unknown-author rejection was audited (senders are roster peers: bounded) */
  private readonly unknownAudited = new Map<string, number>()
  private lock: Promise<unknown> = Promise.resolve()
  /** receives whose candidates wait for the next group commit */
  private readonly commitQueue: CommitGroup[] = []
  private readonly unwritten = new UnwrittenClaims()
  private nextSeq = 0
  private started = false

  constructor (components: IngestComponents, init: IngestInit = {}) {
    this.c = components
    this.limits = init.limits ?? {}
    this.workers = init.verifyWorkers ?? 0
    this.maxSkewMs = init.maxSkewMs ?? DEFAULT_MAX_SKEW_MS
    this.rosterKeys = new RosterKeys(components.roster)
  }

  async start (): Promise<void> {
    if (this.started) return
    // Our next seq continues after the highest one stored: records are stored (with sync) before
    // they leave the node, so no seq that anyone has seen is ever issued twice, also after a crash.
    this.nextSeq = (await this.c.store.maxSeq(this.c.identity.peerId)) + 1
    // Threads only while running: a node opened and never started must leave nothing behind.
    if (this.workers > 0) {
      this.pool = new VerifyPool(this.workers)
      await this.pool.ready
    }
    this.started = true
  }

  async stop (): Promise<void> {
    // A group commit may queue the next one behind itself: wait until the lock stops moving.
    let held: Promise<unknown>
    do { held = this.lock; await held.catch(() => {}) } while (held !== this.lock)
    await this.pool?.close()
    this.pool = null
    this.started = false
  }

  /** Adds a listener for stored records; returns its removal. */
  onStored (fn: StoredListener): () => void {
    this.storedListeners.push(fn)
    return () => { const i = this.storedListeners.indexOf(fn); if (i >= 0) this.storedListeners.splice(i, 1) }
  }

  /**
   * Adds a listener for received records that will be stored, called before their write
   * completes (gossip pushes them on meanwhile); returns its removal. A crash before the write
   * loses only what sync fetches again; onStored still follows once the record is held.
   */
  onForwardable (fn: ForwardableListener): () => void {
    this.forwardableListeners.push(fn)
    return () => { const i = this.forwardableListeners.indexOf(fn); if (i >= 0) this.forwardableListeners.splice(i, 1) }
  }

  /** Adds a gate for received records (see ArrivalGate); returns its removal. */
  addGate (fn: ArrivalGate): () => void {
    this.gates.push(fn)
    return () => { const i = this.gates.indexOf(fn); if (i >= 0) this.gates.splice(i, 1) }
  }

  /** Adds a listener for every verdict; returns its removal. */
  onVerdict (fn: VerdictListener): () => void {
    this.verdictListeners.push(fn)
    return () => { const i = this.verdictListeners.indexOf(fn); if (i >= 0) this.verdictListeners.splice(i, 1) }
  }

  /**
   * Received records handed to ingest and not yet decided: how far behind this node is. Gossip
   * waits longer before repairing and sync starts no session while it is high.
   */
  get backlog (): number {
    return this.inFlight.size
  }

  /** The record with this id is being ingested right now (a copy of it would be a duplicate). */
  inFlightHas (id: string): boolean {
    return this.inFlight.has(id)
  }

  get limitsInForce (): DecodeLimits {
    return this.limits
  }

  private now (): number {
    return this.c.clock?.() ?? Date.now()
  }

  private exclusive<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn)
    this.lock = run.catch(() => {})
    return run
  }

  private member (peerId: string): Member | undefined {
    return this.c.roster.get(peerId)
  }

  /** Marks a stage of these records' hop in the trace, when one runs (benches). */
  private traceHop (ids: Iterable<string | undefined>, mark: HopMark): void {
    const trace = hopTrace()
    if (trace == null) return
    const self = this.c.identity.peerId
    const t = performance.now()
    for (const id of ids) if (id != null) trace.mark(self, id, mark, undefined, t)
  }

  private emit (verdicts: Verdict[], sources: RecordSource[]): void {
    this.traceHop(verdicts.map(v => v.status === 'stored' ? v.id : undefined), 'stored')
    for (let i = 0; i < verdicts.length; i++) {
      const v = verdicts[i]
      for (const fn of this.verdictListeners) fn(v, sources[i])
      if (v.status === 'stored') for (const fn of this.storedListeners) fn(v)
    }
  }

  /**
   * The policy view of a stored record, for outbound decisions (gossip and sync re-ask the
   * policy when serving it). Stored records were validated on the way in; observables are
   * extracted again only if an outbound rule looks at them.
   */
  subjectOf (signed: SignedRecord | StoredRecordView): PolicySubject {
    const view = signed instanceof StoredRecordView ? signed : undefined
    const record = view ?? { ...(signed as SignedRecord).record, id: signed.id }
    // A record read back from the store parses its body only if something here reads it: the
    // feedback targets of a sighting or an opinion, the observables, or a rule.
    const type = view != null ? view.type : record.body.type
    const stixId = view != null ? view.stixId : record.body.id
    const feedback = this.feedbackExtras(type === 'sighting' || type === 'opinion' ? record.body : { id: stixId, type })
    if (!this.c.policy().needsObservables.outbound) return policySubject(record, { observables: [], scoTypes: [], ...feedback })
    const a = analyzeStixObject(record.body, record.body.id)
    return policySubject(record, { observables: a.observables, scoTypes: a.scoTypes, ...feedback })
  }

  /**
   * What the policy knows of feedback: the counts about this object, and for a sighting or an
   * opinion its targets with their owners (from `owners` when given, else from the feedback
   * index in memory, which knows every target of a stored sighting or opinion).
   */
  private feedbackExtras (body: Record<string, unknown>, owners?: Map<string, string | undefined>): Pick<SubjectExtras, 'feedback' | 'targets'> {
    const out: Pick<SubjectExtras, 'feedback' | 'targets'> = {}
    const counts = this.c.store.feedbackCounts(String(body.id))
    if (counts != null) out.feedback = counts
    const targets = feedbackTargets(body)
    if (targets.length > 0) {
      out.targets = targets.map(t => {
        const owner = owners != null ? owners.get(t) : this.c.store.feedbackCounts(t)?.owner
        return { id: t, held: owners != null ? owner != null : true, ...(owner != null ? { owner } : {}) }
      })
    }
    return out
  }

  /**
   * Owners of the objects these sightings and opinions are about (undefined: never held here),
   * objects of the same batch counted as held: the inbound policy can refuse feedback on
   * objects this node never had.
   */
  private async targetOwners (records: Array<{ author: string, body: Record<string, unknown> }>): Promise<Map<string, string | undefined>> {
    const targets = [...new Set(records.flatMap(r => feedbackTargets(r.body)))]
    const out = new Map<string, string | undefined>()
    if (targets.length === 0) return out
    const owners = await this.c.store.owners(targets)
    targets.forEach((t, i) => out.set(t, owners[i]))
    for (const r of records) if (out.has(String(r.body.id)) && out.get(String(r.body.id)) == null) out.set(String(r.body.id), r.author)
    return out
  }

  // ------------------------------------------------------------------ publish (local author)

  /** Validates, signs and stores objects as this node's records. One verdict per object, in order. */
  async publish (objects: unknown[], opts: PublishOptions): Promise<Verdict[]> {
    if (!this.started) throw new DragnetError('DRAGNET_STOPPED', 'ingest is not started')
    opts.signal?.throwIfAborted()
    const source: RecordSource = opts.source ?? 'local'
    const self = this.c.roster.self
    const fail = (err: unknown): Verdict[] => objects.map(() => rejected(err, undefined, false))
    if (opts.tlp != null && !isTlp(opts.tlp)) return fail(new DragnetError('DRAGNET_BAD_TLP', `tlp must be one of ${TLP_LEVELS.join(', ')}, got ${String(opts.tlp)}`))
    if (self.role === 'observer') return fail(new DragnetError('DRAGNET_ROLE_FORBIDDEN', 'this node is an observer: observers never author records'))
    const to = opts.to != null && opts.to.length > 0 ? opts.to : undefined
    if (to != null) {
      if (opts.tlp != null && opts.tlp !== 'amber' && opts.tlp !== 'amber+strict') return fail(new DragnetError('DRAGNET_BAD_RECIPIENT', `a recipient list applies to amber records only, not ${opts.tlp}`))
      for (const p of to) {
        if (!this.c.roster.has(p) || p === self.peerId) return fail(new DragnetError('DRAGNET_BAD_RECIPIENT', `recipient ${p} is not a member on this node's roster`))
      }
    }

    const verdicts: Verdict[] = new Array(objects.length)
    const resolver = new TlpResolver(objects, opts.tlp, to)
    const tlps: Tlp[] = new Array(objects.length)
    const analyses: Array<StixAnalysis | undefined> = objects.map((obj, i) => {
      try {
        const a = analyzeStixObject(obj, `objects[${i}]`)
        tlps[i] = resolver.tlpOf(a.object)
        return a
      } catch (err) {
        verdicts[i] = rejected(err, undefined, false)
        return undefined
      }
    })

    await this.exclusive(async () => {
      opts.signal?.throwIfAborted()
      const writes: RecordWrite[] = []
      const stored: Stored[] = []
      // Per STIX id: its owner, and per version the bodies this node already signed (canonical
      // JSON → record id), as of the store plus this batch. Identical content is a duplicate;
      // other content under the same version name (spec examples do this) is a record of its own.
      const owners = new Map<string, string | undefined>()
      const ownBodies = new Map<string, Map<string, string>>()
      const pending = new Set<string>()
      const targets = await this.targetOwners(analyses.flatMap(a => a != null ? [{ author: self.peerId, body: a.object }] : []))
      for (let i = 0; i < objects.length; i++) {
        const a = analyses[i]
        if (a == null) continue
        const body = a.object
        const modified = versionName(body)
        try {
          if (!owners.has(body.id)) owners.set(body.id, await this.c.store.owner(body.id))
          const owner = owners.get(body.id)
          if (owner != null && owner !== self.peerId) {
            throw new DragnetError('DRAGNET_NOT_OWNER', `${body.id} was first published by ${owner}; only its original author may publish a new version`, { object: body.id })
          }
          // Import mode (files, feeds) fetches the same objects again and again: a purged object stays out.
          if (opts.skipExisting === true && await this.c.store.isStixIdPurged(body.id)) {
            throw new DragnetError('DRAGNET_PURGED', `${body.id} was purged on this node; import mode does not publish it again (publish it explicitly to share it anew)`, { object: body.id })
          }
          let bodies = ownBodies.get(body.id)
          if (bodies == null) {
            bodies = new Map()
            if (owner === self.peerId) {
              const mine = (await this.c.store.versions(body.id)).filter(v => v.author === self.peerId)
              if (opts.skipExisting === true && mine.length > 0) { verdicts[i] = { status: 'duplicate', id: mine[mine.length - 1].id }; continue }
              for (const v of mine) {
                const rec = await this.c.store.getRecord(v.id)
                if (rec != null) bodies.set(`${v.modified}|${rec.record.record.tlp}|${(rec.record.record.to ?? []).join(',')}|${canonicalJson(rec.record.record.body)}`, v.id)
              }
            }
            ownBodies.set(body.id, bodies)
          }
          // The same object at another TLP or for other recipients is a new sharing decision: a new record.
          const contentKey = `${modified}|${tlps[i]}|${[...new Set(to ?? [])].sort().join(',')}|${canonicalJson(body)}`
          const same = bodies.get(contentKey)
          if (same != null) { verdicts[i] = { status: 'duplicate', id: same }; continue }
          const signed = createRecord(this.c.identity, { seq: this.nextSeq, ts: this.now(), tlp: tlps[i], to, body }, this.limits)
          this.nextSeq++
          this.traceHop([signed.id], 'signed')
          const subject = policySubject({ ...signed.record, id: signed.id }, { observables: a.observables, scoTypes: a.scoTypes, ...this.feedbackExtras(body, targets) })
          const write: RecordWrite = {
            record: signed,
            source,
            modified,
            revoked: body.revoked === true,
            observables: a.observables,
            feedback: contributionsOf(body, self.peerId, tlps[i]),
            newOwner: owner == null && !pending.has(body.id),
            audit: [{ at: this.now(), direction: 'local', verdict: 'accept', rule: `local:${source}`, reason: `published by this node (${source})`, record: signed.id }]
          }
          const vu = validUntilMs(body)
          if (vu != null) write.validUntil = vu
          write.scopes = scopesOf(signed.record)
          writes.push(write)
          pending.add(body.id)
          bodies.set(contentKey, signed.id)
          const v: Stored = { status: 'stored', id: signed.id, record: signed, info: undefined as unknown as RecordInfo, subject, source }
          stored.push(v)
          verdicts[i] = v
        } catch (err) {
          verdicts[i] = rejected(err, undefined, false)
        }
      }
      if (writes.length > 0) {
        // sync: a record we acknowledge as published survives a crash of the machine.
        let infos: RecordInfo[]
        try {
          infos = await this.c.store.write(writes, { sync: true })
          this.unwritten.written()
        } catch (err) {
          // Nothing was stored or sent: the seqs signed in this batch are free again, so a
          // failed write (a full disk) leaves no gap in this node's numbering.
          this.nextSeq = writes[0].record.record.seq
          throw err
        }
        infos.forEach((info, j) => { stored[j].info = info })
      }
    })
    this.emit(verdicts, verdicts.map(() => source))
    return verdicts
  }

  // ------------------------------------------------------------------ receive (from peers)

  /**
   * Records handed over by peers, in one batch. Cheap checks first — shape, id, already held,
   * author on the roster (by the key in the header, before any cryptography) — then the
   * signature (in the worker pool for big batches) before anything is parsed, then STIX, clock,
   * roster role, policy, ownership and seq.
   */
  async receive (items: ReceivedRecord[], opts: { signal?: AbortSignal } = {}): Promise<Verdict[]> {
    if (!this.started) throw new DragnetError('DRAGNET_STOPPED', 'ingest is not started')
    opts.signal?.throwIfAborted()
    // Stage profile for benches (off in a running node: one null check per stage).
    const clock = stageClock()
    clock?.count(items.length)
    let t = clock?.now() ?? 0
    const verdicts: Verdict[] = new Array(items.length)
    const ids: string[] = new Array(items.length)
    const live = this.claim(items, ids, verdicts)
    this.traceHop(live.map(i => ids[i]), 'admitted')
    try {
      t = clock?.add('decode', t) ?? 0
      const present = await this.c.store.hasMany(live.map(i => ids[i]))
      const purged = await this.c.store.purgedOf(live.map(i => ids[i]))
      t = clock?.add('store_wait', t) ?? 0
      const audit: AuditEntry[] = []
      const known: KnownWrite[] = []
      const fresh = live.filter((i, j) => {
        if (present[j]) verdicts[i] = { status: 'duplicate', id: ids[i] }
        else if (purged[j]) verdicts[i] = this.refusePurged(items[i], ids[i], audit)
        return !present[j] && verdicts[i] == null
      })
      this.traceHop(fresh.map(i => ids[i]), 'checked')
      const members = this.screenAuthors(items, fresh, ids, verdicts, audit)
      opts.signal?.throwIfAborted()
      const envelopes = members.map(i => items[i].bytes)
      t = clock?.add('policy', t) ?? 0
      // With workers, they also decode and validate what they verified (nothing there needs the store).
      const { ok, checked } = this.pool != null ? await this.pool.verifyAndCheck(envelopes, { ids: members.map(i => ids[i]), limits: this.limits }) : { ok: verifyInline(envelopes), checked: undefined }
      t = clock?.add(this.pool != null && envelopes.length >= MIN_PARALLEL ? 'verify_wait' : 'verify', t) ?? 0
      const decoded = members.map((i, j) => this.check(items[i], ids[i], i, ok[j] === 1, checked?.[j], verdicts, audit))
      this.traceHop(members.map((i, j) => decoded[j] != null ? ids[i] : undefined), 'verified')
      const targets = await this.targetOwners(decoded.flatMap(d => d != null ? [d.signed.record] : []))
      const candidates: Candidate[] = []
      members.forEach((i, j) => {
        const d = decoded[j]
        if (d == null) return
        const clock = stageClock()
        const t = clock?.now() ?? 0
        const c = this.decide(items[i], ids[i], i, d.signed, d.analysis, targets, verdicts, audit, known, this.now())
        clock?.add('policy', t)
        if (c != null) candidates.push(c)
      })
      this.traceHop(candidates.map(c => c.id), 'decided')
      opts.signal?.throwIfAborted()
      const admissible = await this.admissible(candidates)
      opts.signal?.throwIfAborted()
      // Claimed, queued and announced as forwardable in one synchronous step: the write has not started.
      const early = candidates.filter((c, j) => this.claimForCommit(c, admissible[j]))
      const committed = this.commitGrouped({ candidates, verdicts, known, audit })
      this.traceHop(early.map(c => c.id), 'forwardable')
      for (const c of early) {
        const v: Forwardable = { id: c.id, record: c.signed, subject: c.subject, source: c.source }
        if (c.from != null) v.from = c.from
        for (const fn of this.forwardableListeners) fn(v)
      }
      await committed
    } finally {
      for (const i of live) this.inFlight.delete(ids[i])
    }
    t = clock?.now() ?? 0
    this.emit(verdicts, items.map(it => it.source))
    clock?.add('index', t)
    return verdicts
  }

  /**
   * Per candidate: whether the store lets it in as it stands (its STIX id unowned or the
   * author's, its seq free). Most reads are answered by the store's filters without I/O. All
   * false when a commit completed during the reads (they may have missed what it wrote) or when
   * nothing listens.
   */
  private async admissible (candidates: Candidate[]): Promise<boolean[]> {
    if (this.forwardableListeners.length === 0 || candidates.length === 0) return candidates.map(() => false)
    const generation = this.unwritten.generation
    const records = candidates.map(c => c.signed.record)
    const [owners, slots] = await Promise.all([
      this.c.store.owners(records.map(r => r.body.id)),
      this.c.store.seqSlots(records.map(r => ({ author: r.author, seq: r.seq })))
    ])
    if (generation !== this.unwritten.generation) return candidates.map(() => false)
    return records.map((r, j) => (owners[j] == null || owners[j] === r.author) && slots[j].length === 0)
  }

  /** Claims a candidate's STIX id and seq until its commit is over; true if it may be forwarded before it. */
  private claimForCommit (c: Candidate, admissible: boolean): boolean {
    const r = c.signed.record
    const early = admissible && !this.unwritten.conflicts(r.author, r.body.id, r.seq)
    this.unwritten.add(r.author, r.body.id, r.seq)
    return early
  }

  /**
   * A record this node purged, offered again (a peer that has not purged it, a records file):
   * refused before its signature is checked, nothing stored. Not the sender's fault.
   */
  private refusePurged (item: ReceivedRecord, id: string, audit: AuditEntry[]): Rejected {
    const reason = `record ${id} was purged on this node; purged records are never taken back`
    audit.push({ at: this.now(), direction: 'inbound', verdict: 'reject', rule: 'purge:tombstone', reason, record: id, peer: item.from, source: item.source, code: 'DRAGNET_PURGED' })
    return { status: 'rejected', id, code: 'DRAGNET_PURGED', reason, rule: 'purge:tombstone', penalize: false }
  }

  /** Shape and id of each item; claims the ids not already in flight, so two paths never race one record into the store. */
  private claim (items: ReceivedRecord[], ids: string[], verdicts: Verdict[]): number[] {
    const live: number[] = []
    const seenInBatch = new Set<string>()
    for (let i = 0; i < items.length; i++) {
      try {
        checkShape(items[i].bytes, this.limits)
      } catch (err) {
        verdicts[i] = rejected(err, undefined, true)
        continue
      }
      const id = items[i].id ?? idOfEnvelope(items[i].bytes)
      ids[i] = id
      if (seenInBatch.has(id) || this.inFlight.has(id)) { verdicts[i] = { status: 'duplicate', id }; continue }
      seenInBatch.add(id)
      this.inFlight.add(id)
      live.push(i)
    }
    return live
  }

  /**
   * Refuses records whose author key names no roster member, before verifying anything: no
   * signature can make them acceptable. Nothing about them is stored — no "known" id, no index,
   * at most one audit entry a minute per sender — so a flood of made-up authors costs a hash and
   * a map lookup each and leaves no trace that grows. Each such author is a strike against the
   * sender (an honest relay may hold members this node has not been told about yet).
   */
  private screenAuthors (items: ReceivedRecord[], fresh: number[], ids: string[], verdicts: Verdict[], audit: AuditEntry[]): number[] {
    const out: number[] = []
    const now = this.now()
    for (const i of fresh) {
      const key = items[i].bytes.subarray(1, 33)
      if (this.rosterKeys.member(key) != null || this.rosterKeys.former(key)) { out.push(i); continue }
      const hex = keyHex(key)
      const author = peerIdOfKey(key)
      const reason = `author ${author} is not on this node's roster`
      verdicts[i] = { status: 'rejected', id: ids[i], code: 'DRAGNET_UNKNOWN_AUTHOR', reason, rule: 'roster:unknown-author', penalize: false, strike: `author:${hex}` }
      const from = items[i].from
      if (now - (this.unknownAudited.get(from) ?? -Infinity) < UNKNOWN_AUDIT_EVERY_MS) continue
      this.unknownAudited.set(from, now)
      audit.push({ at: now, direction: 'inbound', verdict: 'reject', rule: 'roster:unknown-author', reason: `${reason} (for a minute, further records of unknown authors from this peer are refused without an entry)`, record: ids[i], peer: from, source: items[i].source, code: 'DRAGNET_UNKNOWN_AUTHOR' })
    }
    return out
  }

  /** Signature and decoding (record and STIX) of one record; undefined with its verdict set when either fails. */
  private check (item: ReceivedRecord, id: string, index: number, signatureOk: boolean, checked: CheckedRecord | undefined, verdicts: Verdict[], audit: AuditEntry[]): Decoded | undefined {
    const now = this.now()
    const entry = (rule: string, reason: string, code: string): AuditEntry => ({ at: now, direction: 'inbound', verdict: 'reject', rule, reason, record: id, peer: item.from, source: item.source, code })
    if (!signatureOk) {
      verdicts[index] = rejected(new DragnetError('DRAGNET_BAD_SIGNATURE', 'signature does not match the record bytes'), id, true)
      audit.push(entry('verify:signature', 'forged or corrupted: bad signature', 'DRAGNET_BAD_SIGNATURE'))
      return undefined
    }
    let signed: SignedRecord
    let analysis: StixAnalysis
    const clock = stageClock()
    try {
      const t = clock?.now() ?? 0
      const failed = checked != null ? checkError(checked) : undefined
      if (failed != null) throw failed
      if (checked != null && 'observables' in checked) {
        // A worker decoded and validated these bytes already: parse only.
        signed = parseDecodedRecord(item.bytes, id)
        analysis = { object: signed.record.body, observables: checked.observables, scoTypes: checked.scoTypes }
        clock?.add('decode', t)
      } else {
        signed = decodeRecord(item.bytes, this.limits, authorOfEnvelope(item.bytes), id)
        clock?.add('decode', t)
        analysis = analyzeStixObject(signed.record.body, signed.record.body.id)
      }
    } catch (err) {
      const v = rejected(err, id, true)
      verdicts[index] = v
      audit.push(entry('verify:decode', v.reason, v.code))
      return undefined
    }
    return { signed, analysis }
  }

  /** Clock, roster role and inbound policy of a decoded, STIX-valid record. */
  private decide (item: ReceivedRecord, id: string, index: number, signed: SignedRecord, analysis: StixAnalysis, targets: Map<string, string | undefined>, verdicts: Verdict[], audit: AuditEntry[], known: KnownWrite[], now: number): Candidate | undefined {
    const entry = (rule: string, reason: string, code: string): AuditEntry => ({ at: now, direction: 'inbound', verdict: 'reject', rule, reason, record: id, peer: item.from, source: item.source, code })
    const r = signed.record
    const refuse = (code: ErrorCode, rule: string, reason: string, penalize: boolean, remember: boolean): undefined => {
      const v: Rejected = { status: 'rejected', id, code, reason, rule, penalize }
      audit.push(entry(rule, reason, code))
      // Remembered as known, so reconciliation does not offer it to us every round.
      const scopes = scopesOf(r)
      if (remember && scopes.length > 0) {
        for (const scope of scopes) known.push({ peer: '*', scope, ts: r.ts, id, why: rule })
        v.known = { scopes, ts: r.ts }
      }
      verdicts[index] = v
      return undefined
    }
    if (r.ts > now + this.maxSkewMs) {
      // Not remembered: once the clocks agree it is acceptable, and sync offers it again.
      return refuse('DRAGNET_FUTURE_TIMESTAMP', 'record:future-timestamp', `signed ${r.ts - now} ms ahead of this node's clock (record.maxSkewMs is ${this.maxSkewMs}): refused until its time comes`, false, false)
    }
    const standing = this.c.roster.authorAt(r.author, r.ts)
    if (!standing.ok && standing.status === 'unknown') return refuse('DRAGNET_UNKNOWN_AUTHOR', standing.rule, standing.reason, false, false)
    // A former member's records are refused (a revoked or rotated key's for good: remembered, so
    // sync stops offering them); the relay may not have heard of it yet, so it is not blamed.
    if (!standing.ok) return refuse('DRAGNET_REVOKED_AUTHOR', standing.rule, standing.reason, false, standing.status === 'revoked' || standing.status === 'rotated')
    const author = standing.member
    if (author.role === 'observer') return refuse('DRAGNET_ROLE_FORBIDDEN', 'role:observer-author', `author ${r.author} is an observer; observers never author records`, true, false)
    for (const gate of this.gates) {
      const no = gate(id, signed)
      if (no != null) return refuse('DRAGNET_PURGED', no.rule, no.reason, false, true)
    }
    const subject = policySubject({ ...r, id }, { observables: analysis.observables, scoTypes: analysis.scoTypes, ...this.feedbackExtras(r.body, targets) })
    const from = this.member(item.from)
    const decision = this.c.policy().inbound(subject, { self: this.c.roster.self, from: from ?? { peerId: item.from, name: '', country: 'ZZ', role: 'observer', addrs: [] }, author, now })
    if (decision.verdict !== 'accept') {
      // A TLP floor violation is the sender's fault (it relayed what it must not); a jurisdiction rule is ours.
      const floor = decision.rule.startsWith('tlp-floor:')
      return refuse('DRAGNET_POLICY_REJECTED', decision.rule, decision.reason, floor, !floor)
    }
    return { index, id, signed, analysis, subject, from: item.from, source: item.source, rule: decision.rule, reason: decision.reason }
  }

  /**
   * Group commit: the candidates of every receive that reaches the store while the previous
   * write is in flight go into the next LevelDB batch together (each record's writes are still
   * in one atomic batch). Each receive resolves only once the batch holding its records is
   * written, so nothing is acknowledged or announced before it is stored (onForwardable
   * listeners alone hear of it earlier).
   */
  private commitGrouped (group: Omit<CommitGroup, 'done'>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.commitQueue.push({ ...group, done: { resolve, reject } })
      if (this.commitQueue.length === 1) void this.exclusive(async () => { await this.flushCommits() })
    })
  }

  private async flushCommits (): Promise<void> {
    // Bounded: a batch of many sessions' records at once would hold the lock (and memory) too long.
    let n = 0
    let take = 0
    while (take < this.commitQueue.length && (take === 0 || n + this.commitQueue[take].candidates.length <= MAX_GROUP_COMMIT)) n += this.commitQueue[take++].candidates.length
    const groups = this.commitQueue.splice(0, take)
    if (this.commitQueue.length > 0) void this.exclusive(async () => { await this.flushCommits() })
    let failure: { err: unknown } | undefined
    try {
      await this.commitReceived(groups)
    } catch (err) {
      failure = { err }
    }
    // Written (or refused) now: the store answers for these ids, seqs and owners again.
    this.unwritten.release(groups.flatMap(g => g.candidates.map(c => ({ author: c.signed.record.author, stixId: c.signed.record.body.id, seq: c.signed.record.seq }))))
    for (const g of groups) {
      if (failure != null) g.done.reject(failure.err)
      else g.done.resolve()
    }
  }

  /** Ownership and seq checks against the store (and the batch), then one write for every group. */
  private async commitReceived (groups: CommitGroup[]): Promise<void> {
    const clock = stageClock()
    const t0 = clock?.now() ?? 0
    const batch = await this.batchState(groups.flatMap(g => g.candidates))
    const t = clock?.add('store_wait', t0) ?? 0
    const writes: RecordWrite[] = []
    const stored: Stored[] = []
    const now = this.now()
    for (const g of groups) {
      for (const c of g.candidates) {
        const r = c.signed.record
        const owner = batch.owners.get(r.body.id)
        if (owner != null && owner !== r.author) {
          g.verdicts[c.index] = await this.refuseNotOwner(c, owner, versionName(r.body), batch, g.known, g.audit)
          continue
        }
        // Synchronous for every other record: no await (a microtask) per record of a group of thousands.
        const admitted = this.admit(c, g, batch, owner, now)
        if (admitted == null) continue
        writes.push(admitted.write)
        stored.push(admitted.stored)
        g.verdicts[c.index] = admitted.stored
      }
    }
    clock?.add('store', t)
    const infos = await this.c.store.write(writes, { known: groups.flatMap(g => g.known), audit: groups.flatMap(g => g.audit) })
    infos.forEach((info, j) => { stored[j].info = info })
  }

  /** One candidate its STIX id's owner admits (none yet, or its author) against its (author, seq) slot: its write, or undefined with its verdict set. */
  private admit (c: Candidate, g: CommitGroup, batch: BatchState, owner: string | undefined, now: number): { write: RecordWrite, stored: Stored } | undefined {
    const r = c.signed.record
    const body = r.body
    const modified = versionName(body)
    const slotKey = `${r.author}!${r.seq}`
    const slot = batch.slots.get(slotKey)!
    if (slot.length >= 2) {
      g.verdicts[c.index] = this.refuseEquivocation(c, slot, g.known, g.audit)
      return undefined
    }
    // Our own records coming back from peers (after our data dir was wiped) move our counter
    // past them, so a seq anyone has seen is never issued again.
    if (r.author === this.c.identity.peerId && r.seq >= this.nextSeq) this.nextSeq = r.seq + 1
    const evidence = slot.length === 1 ? [slot[0], c.id] : undefined
    batch.slots.set(slotKey, evidence ?? [c.id])
    const write: RecordWrite = {
      record: c.signed,
      source: c.source,
      modified,
      revoked: body.revoked === true,
      observables: c.analysis.observables,
      feedback: contributionsOf(body, r.author, r.tlp),
      newOwner: owner == null,
      scopes: scopesOf(r),
      audit: [{ at: now, direction: 'inbound', verdict: 'accept', rule: c.rule, reason: c.reason, record: c.id, peer: c.from, source: c.source }]
    }
    if (owner == null) batch.owners.set(body.id, r.author)
    batch.versions.push({ stixId: body.id, author: r.author, modified, revoked: body.revoked === true })
    if (c.from != null) write.from = c.from
    if (evidence != null) {
      write.equivocation = evidence
      write.audit!.push({ at: now, direction: 'inbound', verdict: 'accept', rule: 'equivocation', reason: `author ${r.author} signed two different records with seq ${r.seq}: both kept as evidence, the author is flagged, further records under this seq are refused`, record: c.id, peer: c.from, source: c.source })
      this.c.log.warn({ author: r.author, seq: r.seq, ids: evidence }, 'equivocation: one author, one seq, different records')
    }
    const vu = validUntilMs(body)
    if (vu != null) write.validUntil = vu
    const v: Stored = { status: 'stored', id: c.id, record: c.signed, info: undefined as unknown as RecordInfo, subject: c.subject, source: c.source }
    if (c.from != null) v.from = c.from
    if (evidence != null) v.equivocation = true
    return { write, stored: v }
  }

  /** Owners and (author, seq) slots of a batch's candidates, read once; kept current as the batch is decided. */
  private async batchState (candidates: Candidate[]): Promise<BatchState> {
    const owners = await this.c.store.owners(candidates.map(c => c.signed.record.body.id))
    const slots = await this.c.store.seqSlots(candidates.map(c => ({ author: c.signed.record.author, seq: c.signed.record.seq })))
    const state: BatchState = { owners: new Map(), slots: new Map(), versions: [] }
    candidates.forEach((c, j) => {
      const r = c.signed.record
      if (!state.owners.has(r.body.id)) state.owners.set(r.body.id, owners[j])
      const k = `${r.author}!${r.seq}`
      if (!state.slots.has(k)) state.slots.set(k, slots[j])
    })
    return state
  }

  /**
   * Only the owner (the first author) of a STIX id defines its versions and revocation; anyone
   * else's record for it is refused. One that would revoke or supersede the owner's version is
   * an attempt to take the object over: from its author directly it is a violation; relayed,
   * it is a strike against the relay (which may honestly have seen the other author first).
   * A plain copy of an existing version (two members importing one public bundle) is only
   * refused, and remembered so reconciliation does not offer it again.
   */
  private async refuseNotOwner (c: Candidate, owner: string, modified: string, batch: BatchState, known: KnownWrite[], audit: AuditEntry[]): Promise<Rejected> {
    const r = c.signed.record
    const body = r.body
    const revoked = body.revoked === true
    const ownerVersions = [
      ...(await this.c.store.versions(body.id)).filter(v => v.author === owner),
      ...batch.versions.filter(v => v.stixId === body.id && v.author === owner)
    ]
    let newest: string | undefined
    for (const v of ownerVersions) if (newest == null || compareVersionNames(v.modified, newest) > 0) newest = v.modified
    const contradicts = newest == null || compareVersionNames(modified, newest) > 0 ||
      (revoked && !ownerVersions.some(v => compareVersionNames(v.modified, modified) === 0 && v.revoked))
    const direct = c.from === r.author
    const reason = contradicts
      ? `${body.id} belongs to ${owner}; ${r.author} tried to ${revoked ? 'revoke' : 'supersede'} it`
      : `${body.id} belongs to ${owner}; only its owner's records for it are kept`
    const v: Rejected = { status: 'rejected', id: c.id, code: 'DRAGNET_NOT_OWNER', reason, rule: 'version:not-owner', penalize: contradicts && direct }
    if (contradicts && !direct) v.strike = `not-owner:${r.author}:${body.id}`
    audit.push({ at: this.now(), direction: 'inbound', verdict: 'reject', rule: 'version:not-owner', reason, record: c.id, peer: c.from, source: c.source, code: 'DRAGNET_NOT_OWNER' })
    const scopes = scopesOf(r)
    if (!v.penalize && scopes.length > 0) {
      for (const scope of scopes) known.push({ peer: '*', scope, ts: r.ts, id: c.id, why: 'version:not-owner' })
      v.known = { scopes, ts: r.ts }
    }
    return v
  }

  /**
   * A third (or later) record under one (author, seq): the two kept already prove the
   * equivocation. Refused in O(1) with nothing stored but a counter in memory and, the first
   * time, one audit entry. From its author directly it is a violation; a relay that holds a
   * different pair than ours is honest, and the id is remembered so sync stops offering it.
   */
  private refuseEquivocation (c: Candidate, slot: string[], known: KnownWrite[], audit: AuditEntry[]): Rejected {
    const r = c.signed.record
    const direct = c.from === r.author
    const refused = this.c.store.noteEquivocationRefused(r.author, r.seq)
    const reason = `author ${r.author} equivocated on seq ${r.seq} (evidence ${slot[0]}, ${slot[1]} kept); further records under it are refused`
    const v: Rejected = { status: 'rejected', id: c.id, code: 'DRAGNET_EQUIVOCATION', reason, rule: 'equivocation', penalize: direct }
    if (refused === 1) audit.push({ at: this.now(), direction: 'inbound', verdict: 'reject', rule: 'equivocation', reason, record: c.id, peer: c.from, source: c.source, code: 'DRAGNET_EQUIVOCATION' })
    const scopes = scopesOf(r)
    if (!direct && scopes.length > 0) {
      for (const scope of scopes) known.push({ peer: '*', scope, ts: r.ts, id: c.id, why: 'equivocation' })
      v.known = { scopes, ts: r.ts }
    }
    return v
  }
}

/** Records one LevelDB batch takes from the receives waiting for the store (see commitGrouped). */
const MAX_GROUP_COMMIT = 4096

/** One receive's part of a group commit: its candidates, and where its verdicts and decisions go. */
interface CommitGroup {
  candidates: Candidate[]
  verdicts: Verdict[]
  known: KnownWrite[]
  audit: AuditEntry[]
  done: { resolve: () => void, reject: (err: unknown) => void }
}

interface Decoded {
  signed: SignedRecord
  analysis: StixAnalysis
}

interface BatchState {
  /** STIX id → owner (undefined: none yet) */
  owners: Map<string, string | undefined>
  /** `author!seq` → ids stored under it (at most two: the evidence pair) */
  slots: Map<string, string[]>
  /** versions decided earlier in this batch, not yet in the store */
  versions: Array<{ stixId: string, author: string, modified: string, revoked: boolean }>
}

function peerIdOfKey (key: Uint8Array): string {
  try {
    return publicKeyFromRaw(key.slice()).toString()
  } catch {
    return `(key ${keyHex(key)})`
  }
}
