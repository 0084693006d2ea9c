import { DragnetError } from '../errors.js'
import type { Roster } from '../identity/index.js'
import type { Ingest, Stored } from '../ingest/index.js'
import type { Logger } from '../log.js'
import { policySubject, type Policy, type PolicySubject } from '../policy/index.js'
import { scopesOf, type SignedRecord } from '../record/index.js'
import { analyzeStixObject } from '../stix/index.js'
import type { AuditEntry, PurgeResult, Store, Tombstone } from '../store/index.js'
import { ERASURE_RECEIPT_TYPE, ERASURE_REQUEST_TYPE, erasureReceiptBody, erasureRequestBody, isRecordId, receiptOf, requestedIds, requestGroups, type RequestGroup } from './request.js'

/*
 * Purge, erasure and retention: the three ways a record leaves this node for good. Each ends in
 * Store.purge (record and indexes gone, a tombstone left, the range compacted, an audit entry),
 * after which ingest refuses the id and reconciliation keeps counting it, so no peer brings it
 * back. Purge is the operator's act; erasure is a member's request for its own records, which
 * this node's policy honours or refuses; retention is the policy's own clock.
 */

export interface PurgeTarget {
  ids?: string[]
  stixId?: string
  author?: string
}

export interface PurgeComponents {
  store: Store
  ingest: Pick<Ingest, 'publish' | 'onStored' | 'addGate'>
  roster: Roster
  policy: () => Policy
  log: Logger
  /** the node's clock (tests drive retention with their own) */
  clock?: () => number
  /** the federation's roots (`federation.roots`): besides an author, they may ask for erasure */
  roots?: () => readonly string[]
}

export interface PurgeInit {
  /** how often retention rules are applied, ms */
  retentionIntervalMs: number
}

export interface EraseResult {
  /** the requests published, one per TLP and audience of the records named */
  requests: Array<{ id: string, tlp: string, to?: string[], records: string[] }>
  purged: Tombstone[]
}

type PurgedListener = (tombstones: Tombstone[]) => void

/** What this service did since the node started (exported as metrics). */
export interface PurgeStats {
  /** records purged, by kind of reason: operator, retention, erasure (honoured), requested (our own erasure requests) */
  purged: Record<PurgeKind, number>
  /** records named by members' erasure requests, honoured or refused by our policy */
  erasure: { honoured: number, refused: number }
  retention: { runs: number, expired: number }
  /** records declined on arrival because an honoured erasure request named them */
  declined: number
}

export type PurgeKind = 'operator' | 'retention' | 'erasure' | 'requested'

function kindOf (rule: string): PurgeKind {
  if (rule.startsWith('retention:')) return 'retention'
  if (rule === 'erasure:honoured') return 'erasure'
  if (rule === 'erasure:requested') return 'requested'
  return 'operator'
}

/** Erasure targets that had not arrived when their request did, kept so they are purged on arrival (bounded). */
const MAX_PENDING = 100_000
const DAY_MS = 86_400_000
const PENDING_META = 'erasurePending'

export class PurgeService {
  private readonly c: PurgeComponents
  private readonly init: PurgeInit
  private readonly listeners: PurgedListener[] = []
  private pending = new Map<string, { request: string, requester: string }>()
  private timer: ReturnType<typeof setInterval> | null = null
  private offStored: (() => void) | null = null
  private offGate: (() => void) | null = null
  private retaining: Promise<number> | null = null
  private work: Promise<unknown> = Promise.resolve()
  /** tasks in `work` not finished yet */
  private queued = 0
  readonly stats: PurgeStats = { purged: { operator: 0, retention: 0, erasure: 0, requested: 0 }, erasure: { honoured: 0, refused: 0 }, retention: { runs: 0, expired: 0 }, declined: 0 }

  constructor (components: PurgeComponents, init: PurgeInit) {
    this.c = components
    this.init = init
  }

  async start (): Promise<void> {
    this.pending = new Map(Object.entries(await this.c.store.getMeta<Record<string, { request: string, requester: string }>>(PENDING_META) ?? {}))
    this.offStored = this.c.ingest.onStored((v) => { if (this.concerns(v)) this.serial(async () => { await this.onStored(v) }) })
    this.offGate = this.c.ingest.addGate((id, signed) => this.gate(id, signed))
    this.timer = setInterval(() => { void this.runRetention().catch(() => 0) }, this.init.retentionIntervalMs)
    this.timer.unref?.()
  }

  async stop (): Promise<void> {
    if (this.timer != null) clearInterval(this.timer)
    this.timer = null
    this.offStored?.()
    this.offStored = null
    this.offGate?.()
    this.offGate = null
    await this.work.catch(() => {})
    await this.retaining?.catch(() => 0)
  }

  /** Adds a listener for purges (sync keeps counting the ids); returns its removal. */
  onPurged (fn: PurgedListener): () => void {
    this.listeners.push(fn)
    return () => { const i = this.listeners.indexOf(fn); if (i >= 0) this.listeners.splice(i, 1) }
  }

  private now (): number {
    return this.c.clock?.() ?? Date.now()
  }

  /** Erasure handling runs one stored record at a time, in arrival order. */
  private serial (fn: () => Promise<void>): void {
    this.queued++
    this.work = this.work.then(fn).catch((err: Error) => { this.c.log.warn({ err: err.message }, 'erasure handling failed') }).finally(() => { this.queued-- })
  }

  /** Waits for the erasure handling of records stored so far (tests, shutdown). */
  async settled (): Promise<void> {
    await this.work
  }

  // ------------------------------------------------------------------ purge (operator)

  /** Record ids a target names: the ids themselves, every version of a STIX object, or every record of an author. */
  async resolve (t: PurgeTarget): Promise<string[]> {
    const given = [t.ids != null && t.ids.length > 0, t.stixId != null, t.author != null].filter(Boolean).length
    if (given !== 1) throw new DragnetError('DRAGNET_BAD_REQUEST', 'name exactly one of: record ids, a STIX id, an author PeerId')
    if (t.ids != null) {
      for (const id of t.ids) if (!isRecordId(id)) throw new DragnetError('DRAGNET_BAD_REQUEST', `not a record id: ${id}`, { property: 'ids' })
      return [...new Set(t.ids)]
    }
    if (t.stixId != null) return await this.c.store.idsOfStixId(t.stixId)
    return await this.c.store.idsOfAuthor(t.author!)
  }

  /** The operator's purge: every record the target names, with a tombstone and an audit entry each. */
  async purge (t: PurgeTarget, opts: { reason: string, operator?: string }): Promise<PurgeResult> {
    const reason = checkReason(opts.reason)
    const ids = await this.resolve(t)
    const res = await this.purgeIds(ids, { reason, operator: opts.operator ?? 'operator', rule: 'purge:operator' })
    if (res.purged.length === 0 && res.already.length === 0) {
      throw new DragnetError('DRAGNET_NOT_FOUND', `no stored record matches ${describe(t)}`)
    }
    return res
  }

  async list (): Promise<Tombstone[]> {
    return await this.c.store.tombstones()
  }

  private async purgeIds (ids: string[], how: { reason: string, operator: string, rule: string }): Promise<PurgeResult> {
    if (ids.length === 0) return { purged: [], already: [], missing: [] }
    const res = await this.c.store.purge(ids, { ...how, at: this.now(), observablesOf })
    if (res.purged.length > 0) {
      this.stats.purged[kindOf(how.rule)] += res.purged.length
      this.c.log.info({ purged: res.purged.length, rule: how.rule, operator: how.operator }, 'records purged')
      for (const fn of this.listeners) fn(res.purged)
    }
    return res
  }

  // ------------------------------------------------------------------ retention

  /**
   * Purges every record whose retention period (the first matching retention rule of the
   * policy, counted from the record's signing time) has ended. Returns how many were purged.
   */
  async runRetention (): Promise<number> {
    if (this.retaining != null) return await this.retaining
    this.retaining = this.retentionPass().finally(() => { this.retaining = null })
    return await this.retaining
  }

  private async retentionPass (): Promise<number> {
    const policy = this.c.policy()
    if (policy.retentionRules.length === 0 || !this.c.store.isOpen) return 0
    const now = this.now()
    const self = this.c.roster.self
    const due = new Map<string, { days: number, ids: string[] }>()
    // No period is shorter than the shortest rule's: younger records are never visited (the
    // store walks indexes ordered by signing time up to that instant).
    const youngest = now - Math.min(...policy.retentionRules.map(r => r.days)) * DAY_MS
    const visited = new Set<string>()
    for await (const id of this.c.store.idsSignedUpTo(youngest)) {
      if (visited.has(id)) continue
      visited.add(id)
      const rec = await this.c.store.getRecord(id)
      if (rec == null) continue
      const end = policy.retentionEnds(subjectOf(rec.record), this.c.roster.get(rec.record.record.author), self, now)
      if (end == null || end.until > now) continue
      const d = due.get(end.rule) ?? { days: end.days, ids: [] }
      d.ids.push(id)
      due.set(end.rule, d)
    }
    let n = 0
    for (const [rule, d] of due) {
      const res = await this.purgeIds(d.ids, { reason: `retention period of ${d.days} days ended (policy ${policy.name}, rule ${rule})`, operator: `retention:${rule}`, rule: `retention:${rule}` })
      n += res.purged.length
    }
    this.stats.retention.runs++
    this.stats.retention.expired += n
    return n
  }

  // ------------------------------------------------------------------ erasure (author side)

  /**
   * Asks the federation to erase records this node authored: one signed request per TLP and
   * audience of the records named (red records never left the node and need none), then purges
   * them here with the operator's reason. The requests name the ids only.
   */
  async erase (ids: string[], reasonText: string): Promise<EraseResult> {
    const reason = checkReason(reasonText)
    const self = this.c.roster.self.peerId
    // A root of the federation may ask for any record; anyone else for its own.
    const mayAsk = (author: string | undefined): boolean => author === self || (this.c.roots?.() ?? []).includes(self)
    const records: Array<{ id: string, tlp: SignedRecord['record']['tlp'], to?: readonly string[] }> = []
    for (const id of await this.resolve({ ids })) {
      const rec = await this.c.store.getRecord(id)
      if (rec == null) {
        const t = await this.c.store.getTombstone(id)
        if (t == null) throw new DragnetError('DRAGNET_NOT_FOUND', `no record ${id} on this node`)
        if (!mayAsk(t.author)) throw new DragnetError('DRAGNET_FORBIDDEN', `record ${id} was authored by ${t.author}; only its author or a federation root may ask to erase it`)
        records.push({ id, tlp: t.tlp })
        continue
      }
      const r = rec.record.record
      if (!mayAsk(r.author)) throw new DragnetError('DRAGNET_FORBIDDEN', `record ${id} was authored by ${r.author}; only its author or a federation root may ask to erase it`)
      records.push({ id, tlp: r.tlp, ...(r.to != null ? { to: r.to } : {}) })
    }
    const out: EraseResult = { requests: [], purged: [] }
    for (const g of requestGroups(records)) out.requests.push(await this.publishRequest(g))
    const byRequest = new Map(out.requests.flatMap(q => q.records.map(id => [id, q.id] as const)))
    for (const r of records) {
      const q = byRequest.get(r.id)
      const res = await this.purgeIds([r.id], { reason: q != null ? `${reason} (erasure request ${q})` : reason, operator: 'operator', rule: 'erasure:requested' })
      out.purged.push(...res.purged)
    }
    return out
  }

  private async publishRequest (g: RequestGroup): Promise<{ id: string, tlp: string, to?: string[], records: string[] }> {
    const [v] = await this.c.ingest.publish([erasureRequestBody(g.ids, this.now())], { tlp: g.tlp, ...(g.to != null ? { to: g.to } : {}) })
    if (v.status === 'rejected') throw new DragnetError(v.code, `the erasure request could not be published: ${v.reason}`)
    return { id: v.id, tlp: g.tlp, ...(g.to != null ? { to: g.to } : {}), records: g.ids }
  }

  // ------------------------------------------------------------------ erasure (member side)

  /**
   * Whether a stored record may need erasure handling: a request, a receipt, or any record while
   * requests wait for their records (queued work may add to them). Every other record (nearly
   * all of a catch-up) costs no queued task.
   */
  private concerns (v: Stored): boolean {
    const type = v.record.record.body.type
    return type === ERASURE_REQUEST_TYPE || type === ERASURE_RECEIPT_TYPE || this.pending.size > 0 || this.queued > 0
  }

  private async onStored (v: Stored): Promise<void> {
    if (!this.c.store.isOpen) return
    const body = v.record.record.body as Record<string, unknown>
    const author = v.record.record.author
    const self = this.c.roster.self.peerId
    const ids = requestedIds(body)
    if (ids != null) {
      // Our own requests were acted on by erase(), with the operator's reason.
      if (author !== self) await this.honourRequest(v.id, author, ids)
      return
    }
    const receipt = receiptOf(body)
    if (receipt != null) {
      if (author !== self && (v.record.record.to ?? []).includes(self)) await this.noteReceipt(v.id, author, receipt)
      return
    }
    const wait = this.pending.get(v.id)
    if (wait != null) {
      this.pending.delete(v.id)
      await this.c.store.putMeta(PENDING_META, Object.fromEntries(this.pending))
      await this.decide(wait.request, wait.requester, [v.id], true)
    }
  }

  /**
   * A record an erasure request named before it arrived: when our policy honours the request it
   * is declined before it is stored or forwarded, and a tombstone keeps it out from then on.
   * When the policy refuses, it is stored as usual and the refusal is audited on storing.
   */
  private gate (id: string, signed: SignedRecord): { rule: string, reason: string } | undefined {
    const wait = this.pending.get(id)
    if (wait == null || !this.c.store.isOpen) return undefined
    const d = this.erasureDecision(signed, wait.requester)
    if (d.verdict !== 'honour') return undefined
    const reason = `erasure request ${wait.request} from ${wait.requester} (record arrived after the request); ${d.rule}: ${d.reason}`
    this.serial(async () => { await this.declined(id, signed, wait, reason) })
    return { rule: 'erasure:honoured', reason: `${reason}; declined before it was stored or forwarded` }
  }

  private async declined (id: string, signed: SignedRecord, wait: { request: string, requester: string }, reason: string): Promise<void> {
    const r = signed.record
    const stixId = typeof r.body.id === 'string' ? r.body.id : undefined
    const t: Tombstone = { id, reason, at: this.now(), operator: `erasure:${wait.request}`, author: r.author, tlp: r.tlp, ...(stixId != null ? { stixId } : {}), scopes: scopesOf(r), ts: r.ts }
    const fresh = await this.c.store.addTombstones([t], 'erasure:honoured')
    if (this.pending.delete(id)) await this.c.store.putMeta(PENDING_META, Object.fromEntries(this.pending))
    if (fresh.length === 0) return
    this.stats.purged.erasure++
    this.stats.erasure.honoured++
    this.stats.declined++
    this.c.log.info({ id, request: wait.request }, 'record declined on arrival: an honoured erasure request names it')
    for (const fn of this.listeners) fn(fresh)
    await this.sendReceipt(wait.request, wait.requester, [id], [])
  }

  private erasureDecision (signed: SignedRecord, requester: string): ReturnType<Policy['erasure']> {
    const isRoot = (this.c.roots?.() ?? []).includes(requester)
    return this.c.policy().erasure(subjectOf(signed), requester, this.c.roster.get(signed.record.author), this.c.roster.self, this.now(), isRoot)
  }

  /**
   * A member's request: for each id held here, this node's policy decides (by default: honour
   * its own author's requests); ids not held yet wait for their record. The decisions go back
   * to the requester in a receipt.
   */
  private async honourRequest (request: string, requester: string, ids: string[]): Promise<void> {
    const held: string[] = []
    for (const id of ids) {
      if (await this.c.store.isPurged(id)) continue
      if (await this.c.store.has(id)) held.push(id)
      else if (this.pending.size < MAX_PENDING) this.pending.set(id, { request, requester })
    }
    await this.c.store.putMeta(PENDING_META, Object.fromEntries(this.pending))
    await this.decide(request, requester, held, false)
  }

  private async decide (request: string, requester: string, ids: string[], late: boolean): Promise<void> {
    const now = this.now()
    const honoured: string[] = []
    const refused: string[] = []
    const audit: AuditEntry[] = []
    for (const id of ids) {
      const rec = await this.c.store.getRecord(id)
      if (rec == null) continue
      const d = this.erasureDecision(rec.record, requester)
      if (d.verdict === 'honour') {
        const res = await this.purgeIds([id], { reason: `erasure request ${request} from ${requester}${late ? ' (record arrived after the request)' : ''}; ${d.rule}: ${d.reason}`, operator: `erasure:${request}`, rule: 'erasure:honoured' })
        if (res.purged.length > 0) honoured.push(id)
      } else {
        // A request for someone else's record gets no answer: a receipt would tell the requester this node holds it.
        if (d.rule !== 'erasure:not-author') refused.push(id)
        audit.push({ at: now, direction: 'inbound', verdict: 'reject', rule: d.rule, reason: `erasure request ${request} from ${requester} refused: ${d.reason}`, record: id, peer: requester, code: 'DRAGNET_POLICY_REJECTED' })
      }
    }
    if (audit.length > 0) await this.c.store.writeDecisions(audit)
    this.stats.erasure.honoured += honoured.length
    this.stats.erasure.refused += audit.length
    if (honoured.length + refused.length > 0) await this.sendReceipt(request, requester, honoured, refused)
  }

  /** Tells the requester (alone) what this member did: the audit on both sides names who confirmed. */
  private async sendReceipt (request: string, requester: string, honoured: string[], refused: string[]): Promise<void> {
    if (this.c.roster.self.role === 'observer' || this.c.roster.get(requester) == null) return
    const [v] = await this.c.ingest.publish([erasureReceiptBody(request, honoured, refused, this.now())], { tlp: 'amber', to: [requester] })
    if (v.status === 'rejected') this.c.log.warn({ request, reason: v.reason }, 'could not publish an erasure receipt')
  }

  private async noteReceipt (id: string, member: string, r: { request: string, honoured: string[], refused: string[] }): Promise<void> {
    const verdict = r.refused.length === 0 ? 'accept' : 'reject'
    await this.c.store.writeDecisions([{
      at: this.now(),
      direction: 'inbound',
      verdict,
      rule: 'erasure:receipt',
      reason: `member ${member} ${r.honoured.length > 0 ? `erased ${r.honoured.length} record(s)` : 'erased nothing'}${r.refused.length > 0 ? ` and refused ${r.refused.length}: ${r.refused.join(', ')}` : ''} (receipt ${id})`,
      record: r.request,
      peer: member
    }])
  }
}

/** The policy view of a stored record with every observable (retention and erasure rules may name kinds). */
function subjectOf (signed: SignedRecord): PolicySubject {
  const a = analyzeStixObject(signed.record.body, signed.record.body.id)
  return policySubject({ ...signed.record, id: signed.id }, { observables: a.observables, scoTypes: a.scoTypes })
}

function observablesOf (signed: SignedRecord): ReturnType<typeof analyzeStixObject>['observables'] {
  return analyzeStixObject(signed.record.body, signed.record.body.id).observables
}

function checkReason (reason: string | undefined): string {
  const r = (reason ?? '').trim()
  if (r === '') throw new DragnetError('DRAGNET_BAD_REQUEST', 'a reason is required (--reason TEXT): it is kept in the tombstone and the audit', { property: 'reason' })
  if (r.length > 1000) throw new DragnetError('DRAGNET_BAD_REQUEST', 'the reason is longer than 1000 characters', { property: 'reason' })
  return r
}

function describe (t: PurgeTarget): string {
  if (t.stixId != null) return `STIX id ${t.stixId}`
  if (t.author != null) return `author ${t.author}`
  return (t.ids ?? []).join(', ')
}


