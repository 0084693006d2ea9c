import { DragnetError, type ErrorCode, toDragnetError } from '../errors.js'
import type { NodeIdentity, Roster, Member } from '../identity/index.js'
import type { Logger } from '../log.js'
import { type Policy, type PolicySubject, policySubject } from '../policy/index.js'
import { canonicalJson, checkShape, createRecord, decodeRecord, idOfEnvelope, authorOfEnvelope, isTlp, scopeOf, type DecodeLimits, type SignedRecord, type Tlp, TLP_LEVELS } from '../record/index.js'
import { analyzeStixObject, compareVersionNames, type StixAnalysis } from '../stix/index.js'
import type { AuditEntry, KnownWrite, RecordInfo, RecordSource, RecordWrite, Store } from '../store/index.js'
import { TlpResolver } from './tlp.js'
import { VerifyPool, verifyInline } from './verify-pool.js'

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
  /** the sending peer misbehaved (forged, malformed or TLP-violating record): cut it off */
  penalize: boolean
  /** remembered as known (not offered again by reconciliation): its sync scope and ts */
  known?: { scope: string, ts: number }
}

export type Verdict = Stored | Duplicate | Rejected

export interface ReceivedRecord {
  bytes: Uint8Array
  /** the peer that handed the record over (for a records file: the member that wrote it) */
  from: string
  /** import: signed records carried in a records file, checked exactly as if received */
  source: 'gossip' | 'sync' | 'import'
}

export interface PublishOptions {
  /** the record TLP; absent, each object's strictest TLP marking decides (green without one) */
  tlp?: Tlp
  to?: string[]
  source?: 'local' | 'import'
  /** import mode: an object this node already published in any version is skipped */
  skipExisting?: boolean
}

export interface IngestInit {
  limits?: DecodeLimits
  /** worker threads verifying signatures of large batches; 0 verifies inline */
  verifyWorkers?: number
}

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
  private readonly verdictListeners: VerdictListener[] = []
  private readonly inFlight = new Set<string>()
  private lock: Promise<unknown> = Promise.resolve()
  private nextSeq = 0
  private started = false

  constructor (components: IngestComponents, init: IngestInit = {}) {
    this.c = components
    this.limits = init.limits ?? {}
    this.workers = init.verifyWorkers ?? 0
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
    await this.lock.catch(() => {})
    await this.pool?.close()
    this.pool = null
    this.started = false
  }

  /** Adds a listener for stored records; returns its removal. */
  onStored (fn: StoredListener): () => void {
    this.storedListeners.push(fn)
    return () => { const i = this.storedListeners.indexOf(fn); if (i >= 0) this.storedListeners.splice(i, 1) }
  }

  /** Adds a listener for every verdict; returns its removal. */
  onVerdict (fn: VerdictListener): () => void {
    this.verdictListeners.push(fn)
    return () => { const i = this.verdictListeners.indexOf(fn); if (i >= 0) this.verdictListeners.splice(i, 1) }
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

  private emit (verdicts: Verdict[], sources: RecordSource[]): void {
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
  subjectOf (signed: SignedRecord): PolicySubject {
    if (!this.c.policy().needsObservables.outbound) return policySubject({ ...signed.record, id: signed.id }, { observables: [], scoTypes: [] })
    const a = analyzeStixObject(signed.record.body, signed.record.body.id)
    return policySubject({ ...signed.record, id: signed.id }, { observables: a.observables, scoTypes: a.scoTypes })
  }

  // ------------------------------------------------------------------ publish (local author)

  /** Validates, signs and stores objects as this node's records. One verdict per object, in order. */
  async publish (objects: unknown[], opts: PublishOptions): Promise<Verdict[]> {
    if (!this.started) throw new DragnetError('DRAGNET_STOPPED', 'ingest is not started')
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
      const writes: RecordWrite[] = []
      const stored: Stored[] = []
      // Per STIX id: its owner, and per version the bodies this node already signed (canonical
      // JSON → record id), as of the store plus this batch. Identical content is a duplicate;
      // other content under the same version name (spec examples do this) is a record of its own.
      const owners = new Map<string, string | undefined>()
      const ownBodies = new Map<string, Map<string, string>>()
      const pending = new Set<string>()
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
          const subject = policySubject({ ...signed.record, id: signed.id }, { observables: a.observables, scoTypes: a.scoTypes })
          const write: RecordWrite = {
            record: signed,
            source,
            modified,
            revoked: body.revoked === true,
            observables: a.observables,
            newOwner: owner == null && !pending.has(body.id),
            audit: [{ at: this.now(), direction: 'local', verdict: 'accept', rule: `local:${source}`, reason: `published by this node (${source})`, record: signed.id }]
          }
          const vu = validUntilMs(body)
          if (vu != null) write.validUntil = vu
          const scope = scopeOf(signed.record)
          if (scope != null) write.scope = scope
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
        const infos = await this.c.store.write(writes, { sync: true })
        infos.forEach((info, j) => { stored[j].info = info })
      }
    })
    this.emit(verdicts, verdicts.map(() => source))
    return verdicts
  }

  // ------------------------------------------------------------------ receive (from peers)

  /**
   * Records handed over by peers, in one batch. Cheap checks first, the signature (in the worker
   * pool for big batches) before anything is parsed, then STIX, roster, policy, versions.
   */
  async receive (items: ReceivedRecord[]): Promise<Verdict[]> {
    if (!this.started) throw new DragnetError('DRAGNET_STOPPED', 'ingest is not started')
    const verdicts: Verdict[] = new Array(items.length)
    const ids: string[] = new Array(items.length)
    const live: number[] = []
    const seenInBatch = new Set<string>()
    for (let i = 0; i < items.length; i++) {
      try {
        checkShape(items[i].bytes, this.limits)
      } catch (err) {
        verdicts[i] = rejected(err, undefined, true)
        continue
      }
      const id = idOfEnvelope(items[i].bytes)
      ids[i] = id
      if (seenInBatch.has(id) || this.inFlight.has(id)) { verdicts[i] = { status: 'duplicate', id }; continue }
      seenInBatch.add(id)
      // Claimed before the first await: a batch arriving meanwhile by another path (gossip and
      // sync at once) sees the id in flight instead of racing this one into the store.
      this.inFlight.add(id)
      live.push(i)
    }
    let fresh: number[] = live
    try {
      const present = await this.c.store.hasMany(live.map(i => ids[i]))
      fresh = live.filter((_, j) => !present[j])
      live.forEach((i, j) => { if (present[j]) verdicts[i] = { status: 'duplicate', id: ids[i] } })
      const envelopes = fresh.map(i => items[i].bytes)
      const ok = this.pool != null ? await this.pool.verify(envelopes) : verifyInline(envelopes)
      const candidates: Candidate[] = []
      const known: KnownWrite[] = []
      const audit: AuditEntry[] = []
      const now = this.now()
      const self = this.c.roster.self
      fresh.forEach((i, j) => {
        const item = items[i]
        const id = ids[i]
        if (ok[j] !== 1) {
          verdicts[i] = rejected(new DragnetError('DRAGNET_BAD_SIGNATURE', 'signature does not match the record bytes'), id, true)
          audit.push({ at: now, direction: 'inbound', verdict: 'reject', rule: 'verify:signature', reason: 'forged or corrupted: bad signature', record: id, peer: item.from, source: item.source, code: 'DRAGNET_BAD_SIGNATURE' })
          return
        }
        let signed: SignedRecord
        let analysis: StixAnalysis
        try {
          signed = decodeRecord(item.bytes, this.limits, authorOfEnvelope(item.bytes))
          analysis = analyzeStixObject(signed.record.body, signed.record.body.id)
        } catch (err) {
          const v = rejected(err, id, true)
          verdicts[i] = v
          audit.push({ at: now, direction: 'inbound', verdict: 'reject', rule: 'verify:decode', reason: v.reason, record: id, peer: item.from, source: item.source, code: v.code })
          return
        }
        const r = signed.record
        const scope = scopeOf(r)
        const refuse = (code: ErrorCode, rule: string, reason: string, penalize: boolean): void => {
          const v: Rejected = { status: 'rejected', id, code, reason, rule, penalize }
          audit.push({ at: now, direction: 'inbound', verdict: 'reject', rule, reason, record: id, peer: item.from, source: item.source, code })
          // Remembered as known, so reconciliation does not offer it to us every round.
          if (scope != null && !penalize) {
            known.push({ peer: '*', scope, ts: r.ts, id, why: rule })
            v.known = { scope, ts: r.ts }
          }
          verdicts[i] = v
        }
        const author = this.member(r.author)
        if (author == null) return refuse('DRAGNET_UNKNOWN_AUTHOR', 'roster:unknown-author', `author ${r.author} is not on this node's roster`, false)
        if (author.role === 'observer') return refuse('DRAGNET_ROLE_FORBIDDEN', 'role:observer-author', `author ${r.author} is an observer; observers never author records`, true)
        const subject = policySubject({ ...r, id }, { observables: analysis.observables, scoTypes: analysis.scoTypes })
        const from = this.member(item.from)
        const decision = this.c.policy().inbound(subject, { self, from: from ?? { peerId: item.from, name: '', country: 'ZZ', role: 'observer', addrs: [] }, author, now })
        if (decision.verdict !== 'accept') {
          // A TLP floor violation is the sender's fault (it relayed what it must not); a jurisdiction rule is ours.
          return refuse('DRAGNET_POLICY_REJECTED', decision.rule, decision.reason, decision.rule.startsWith('tlp-floor:'))
        }
        candidates.push({ index: i, id, signed, analysis, subject, from: item.from, source: item.source, rule: decision.rule, reason: decision.reason })
      })
      await this.exclusive(async () => this.commitReceived(candidates, verdicts, known, audit))
    } finally {
      for (const i of live) this.inFlight.delete(ids[i])
    }
    this.emit(verdicts, items.map(it => it.source))
    return verdicts
  }

  /** Version order and equivocation checks against the store (and the batch), then one write. */
  private async commitReceived (candidates: Candidate[], verdicts: Verdict[], known: KnownWrite[], audit: AuditEntry[]): Promise<void> {
    const owners = await this.c.store.owners(candidates.map(c => c.signed.record.body.id))
    const slots = await this.c.store.seqSlots(candidates.map(c => ({ author: c.signed.record.author, seq: c.signed.record.seq })))
    const ownerOf = new Map<string, string | undefined>()
    candidates.forEach((c, j) => { if (!ownerOf.has(c.signed.record.body.id)) ownerOf.set(c.signed.record.body.id, owners[j]) })
    const slotOf = new Map<string, string[]>()
    candidates.forEach((c, j) => {
      const k = `${c.signed.record.author}!${c.signed.record.seq}`
      if (!slotOf.has(k)) slotOf.set(k, slots[j])
    })
    const writes: RecordWrite[] = []
    const stored: Stored[] = []
    const now = this.now()
    for (const c of candidates) {
      const r = c.signed.record
      const body = r.body
      const modified = versionName(body)
      const owner = ownerOf.get(body.id)
      if (owner != null && owner !== r.author) {
        // A different author may carry an existing version of someone else's object (a shared
        // ATT&CK entry, say) but never a newer one.
        const ownerVersions = (await this.c.store.versions(body.id)).filter(v => v.author === owner)
        const newest = ownerVersions.length > 0 ? ownerVersions[ownerVersions.length - 1].modified : ''
        if (compareVersionNames(modified, newest) > 0) {
          const reason = `${body.id} belongs to ${owner}; ${r.author} may not publish a newer version`
          const v: Rejected = { status: 'rejected', id: c.id, code: 'DRAGNET_NOT_OWNER', reason, rule: 'version:not-owner', penalize: false }
          audit.push({ at: now, direction: 'inbound', verdict: 'reject', rule: 'version:not-owner', reason, record: c.id, peer: c.from, source: c.source, code: 'DRAGNET_NOT_OWNER' })
          const scope = scopeOf(r)
          if (scope != null) {
            known.push({ peer: '*', scope, ts: r.ts, id: c.id, why: 'version:not-owner' })
            v.known = { scope, ts: r.ts }
          }
          verdicts[c.index] = v
          continue
        }
      }
      // Our own records coming back from peers (after our data dir was wiped) move our counter
      // past them, so a seq anyone has seen is never issued again.
      if (r.author === this.c.identity.peerId && r.seq >= this.nextSeq) this.nextSeq = r.seq + 1
      const slotKey = `${r.author}!${r.seq}`
      const slot = slotOf.get(slotKey)!
      let equivocation: string[] | undefined
      if (slot.length > 0 && !slot.includes(c.id)) {
        equivocation = [...slot, c.id]
        slotOf.set(slotKey, equivocation)
      } else if (slot.length === 0) {
        slotOf.set(slotKey, [c.id])
      }
      const write: RecordWrite = {
        record: c.signed,
        source: c.source,
        modified,
        revoked: body.revoked === true,
        observables: c.analysis.observables,
        newOwner: owner == null,
        audit: [{ at: now, direction: 'inbound', verdict: 'accept', rule: c.rule, reason: c.reason, record: c.id, peer: c.from, source: c.source }]
      }
      if (owner == null) ownerOf.set(body.id, r.author)
      if (c.from != null) write.from = c.from
      if (equivocation != null) {
        write.equivocation = equivocation
        write.audit!.push({ at: now, direction: 'inbound', verdict: 'accept', rule: 'equivocation', reason: `author ${r.author} signed ${equivocation.length} different records with seq ${r.seq}`, record: c.id, peer: c.from, source: c.source })
        this.c.log.warn({ author: r.author, seq: r.seq, ids: equivocation }, 'equivocation: one author, one seq, different records')
      }
      const vu = validUntilMs(body)
      if (vu != null) write.validUntil = vu
      const scope = scopeOf(r)
      if (scope != null) write.scope = scope
      writes.push(write)
      const v: Stored = { status: 'stored', id: c.id, record: c.signed, info: undefined as unknown as RecordInfo, subject: c.subject, source: c.source }
      if (c.from != null) v.from = c.from
      if (equivocation != null) v.equivocation = true
      stored.push(v)
      verdicts[c.index] = v
    }
    const infos = await this.c.store.write(writes, { known, audit })
    infos.forEach((info, j) => { stored[j].info = info })
  }
}
