import { mkdir, statfs } from 'node:fs/promises'
import { Level } from 'level'
import { DragnetError } from '../errors.js'
import { decodeRecord, isLegacyAmberScope, scopesOf, type SignedRecord, type Tlp, TLP_LEVELS } from '../record/index.js'
import type { Observable } from '../stix/types.js'
import { parseIpNet, maskBytes } from '../stix/ip.js'
import { restrictTree } from '../util/private-file.js'
import { readSnapshot, writeSnapshot } from '../util/snapshot.js'
import { stageClock } from '../util/stages.js'
import { BLOOM_SCHEME, IdBloom, StringBloom } from './bloom.js'
import { applyContribution, contributionsOf, countsOf, type Contribution, type FeedbackCounts, type FeedbackSummary } from './feedback.js'
import { SeqIntervals } from './seq-set.js'
import { TombstoneIndex } from './tombstones.js'
import type { AuditEntry } from './audit-entry.js'
import { BUCKETS, key, range, prefixRange, pad, hexTs } from './buckets.js'
import { migrateDomainKeys, migrateRecordInfo, migrateVersionKeys, versionKey } from './migrate.js'
import { decodeStored, encodeStored, envelopeOf, type StoredRecord as StoredRecordValue } from './record-value.js'

/**
 * 5: a record and its RecordInfo under one key (`info:` folded into `rec:`), the accept audit entry
 *    found through the record instead of an `auditr:` key, domains indexed under `dom:` only
 * 4: purged records leave tombstones (`tomb:`) that a format-3 reader would ignore (and so take the records back)
 * 3: amber records indexed for sync per recipient (`amber:<author>:<recipient>`), no longer per author
 * 2: version keys by instant (1: by `modified` text); older formats are migrated at open
 */
export const STORE_FORMAT = 5

export type RecordSource = 'local' | 'import' | 'gossip' | 'sync'

/** What the node knows about a stored record besides its signed bytes. */
export interface RecordInfo {
  arrival: number
  /** local arrival time in ms (TAXII date_added) */
  addedAt: number
  source: RecordSource
  /** the peer that handed it over (gossip/sync) */
  from?: string
  stixId: string
  type: string
  /** STIX `modified` (or `created`, or '' for objects without either): with stixId it names the version */
  modified: string
  author: string
  seq: number
  ts: number
  tlp: Tlp
}

export interface VersionEntry {
  id: string
  modified: string
  author: string
  revoked: boolean
  /** indicator valid_until in ms, when present */
  validUntil?: number
}

export type { AuditDirection, AuditEntry } from './audit-entry.js'

export interface RecordWrite {
  record: SignedRecord
  source: RecordSource
  from?: string
  modified: string
  revoked: boolean
  validUntil?: number
  observables: Observable[]
  /** the sync scopes this record is reconciled in; none for records never synced (red) */
  scopes?: string[]
  /** this record makes its author the owner of its STIX id */
  newOwner: boolean
  /** equivocation evidence to record: the first id under (author, seq) and this one (two, never more) */
  equivocation?: string[]
  /** a sighting's or opinion's contributions to the feedback index (see feedback.ts) */
  feedback?: Contribution[]
  audit?: AuditEntry[]
}

export interface KnownWrite {
  /** '*' for ids this node rejected (known to everyone); a PeerId for ids that peer declined to hand over */
  peer: string
  scope: string
  ts: number
  id: string
  why: string
}

/**
 * What stays of a purged record: enough to refuse it forever (its id) and to keep counting it in
 * reconciliation (its scopes and ts), plus who purged it, when and why. No body, no observable.
 */
export interface Tombstone {
  id: string
  reason: string
  at: number
  /** who purged it: `operator` (CLI/API), `retention:<rule>`, `erasure:<request id>` */
  operator: string
  author: string
  tlp: Tlp
  /** the STIX object the record carried (a UUID, no content): import mode does not sign it again */
  stixId?: string
  scopes: string[]
  ts: number
}

/** The `why` of the `known:*` entries a purge leaves. */
export const PURGED = 'purged'

export interface PurgeInit {
  reason: string
  operator: string
  /** the audit rule (`purge:operator`, `retention:<id>`, `erasure:honoured`) */
  rule: string
  at?: number
  /** the observables a record was indexed under (the caller extracts them; the store knows no STIX) */
  observablesOf: (record: SignedRecord) => Observable[]
}

export interface PurgeResult {
  purged: Tombstone[]
  /** ids already purged before */
  already: string[]
  /** ids this store holds neither as records nor as tombstones */
  missing: string[]
}

export interface StoreCounters {
  arrival: number
  records: number
  byTlp: Record<Tlp, number>
  audit: number
  auditSeq: number
  /** changes with every write the in-memory indexes depend on (records, known ids): snapshots are valid only for theirs */
  generation: number
}

export interface StoreInit {
  /** records per arrival-order page read ahead by iterators */
  readAhead?: number
  /** after a failed write, how often to try writing again (and reopen LevelDB), ms; default 5000 */
  recoverMs?: number
  /** LevelDB's write buffer (memtable) in bytes; default LevelDB's 4 MiB (tests use small ones) */
  writeBufferSize?: number
}

/** Whether the store can write; after a storage failure, what failed and since when. */
export interface StoreHealth {
  ok: boolean
  /** the failure that made the store degraded */
  error?: string
  /** when it became degraded (ms) */
  since?: number
  /** writes that failed for storage reasons since the store was opened */
  errors: number
}

/** Free bytes the filesystem must have before a degraded store is reopened. */
const REOPEN_MIN_FREE = 1024 * 1024

function isStorageFailure (err: any): boolean {
  if (err instanceof DragnetError) return false
  const text = `${String(err?.message ?? '')} ${String(err?.cause?.message ?? '')}`
  return err?.code === 'LEVEL_IO_ERROR' || /IO error|No space left|ENOSPC|EDQUOT|EROFS|read-only file system/i.test(text)
}

const dec = new TextDecoder()

// Buffer.from copies small strings into Node's shared pool: a third of TextEncoder.encode's cost,
// which allocates an ArrayBuffer per value (several values per record on the write path).
// LevelDB copies every value into its batch, so pooled memory never outlives the call.
function json (value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value))
}

/** Ids, PeerIds and other ASCII text as value bytes (see json). */
function ascii (text: string): Uint8Array {
  return Buffer.from(text, 'latin1')
}

function parse<T> (bytes: Uint8Array): T {
  return JSON.parse(dec.decode(bytes)) as T
}

function emptyCounters (): StoreCounters {
  return { arrival: 0, records: 0, byTlp: Object.fromEntries(TLP_LEVELS.map(t => [t, 0])) as Record<Tlp, number>, audit: 0, auditSeq: 0, generation: 0 }
}

/** A domain with its labels reversed: `x.y.example.com` → `com.example.y.x`. */
export function reverseDomain (domain: string): string {
  return domain.split('.').reverse().join('.')
}

/** The `dom:` key of a domain observable: a name and its subdomains share the prefix `<reversed>.` */
export function domainKey (domain: string, id: string): string {
  return key('domains', `${reverseDomain(domain)}.!${id}`)
}

/**
 * One range of an index that answers a lookup. `minPrefix`: IP keys in the range count only with
 * a prefix length of at least this (the addresses and networks inside a CIDR).
 */
export interface IndexRange {
  gte: string
  lt: string
  minPrefix?: number
}

/** A position in a lookup scan: the range (phase) and the last key read in it. */
export interface ScanPosition {
  phase: number
  key: string
}

export interface IndexEntry extends ScanPosition {
  id: string
}

/** Does this key, of a record, fall in the plan? Its phase when it does. */
export function phaseOf (plan: IndexRange[], k: string): number | undefined {
  for (let p = 0; p < plan.length; p++) {
    const r = plan[p]
    if (k < r.gte || k >= r.lt) continue
    if (r.minPrefix != null && Number(k.split('!')[2]) < r.minPrefix) continue
    return p
  }
  return undefined
}

/** Every index key of a record naming these observables (observableKey plus the domain index). */
export function indexKeysOf (observables: Observable[], id: string): string[] {
  // Domains only under `dom:` (store format 5): a lookup of the exact name reads its `<reversed>.!` prefix.
  return observables.map(o => o.kind === 'domain' ? domainKey(o.value, id) : observableKey(o, id))
}

/**
 * The index ranges that answer a lookup of `o`, in the order a scan reads them. An IP or CIDR:
 * first the networks that contain it (one exact range per shorter prefix length), then every
 * address and network inside it. A domain: the name, and with `subdomains` every name under it.
 */
export function lookupPlan (o: Observable, opts: { subdomains?: boolean } = {}): IndexRange[] {
  if (o.kind === 'ipv4' || o.kind === 'ipv6' || o.kind === 'ipv4-cidr' || o.kind === 'ipv6-cidr') {
    const net = parseIpNet(o.value)
    if (net == null) return []
    const base = `${net.version}!`
    const plan: IndexRange[] = []
    for (let p = 0; p < net.prefix; p++) {
      const hex = Buffer.from(maskBytes(net.bytes, p)).toString('hex')
      plan.push(range('ips', `${base}${hex}!${pad(p, 3)}!`))
    }
    const first = Buffer.from(net.bytes).toString('hex')
    const lastBytes = net.bytes.slice()
    for (let i = 0; i < lastBytes.length; i++) {
      const bits = Math.max(0, Math.min(8, net.prefix - i * 8))
      lastBytes[i] |= (0xff >> bits) & 0xff
    }
    const last = Buffer.from(lastBytes).toString('hex')
    plan.push({ gte: key('ips', `${base}${first}!`), lt: prefixRange(key('ips', `${base}${last}!`)).lt, minPrefix: net.prefix })
    return plan
  }
  if (o.kind === 'domain') return [range('domains', `${reverseDomain(o.value)}.${opts.subdomains === true ? '' : '!'}`)]
  return [range('observables', `${o.kind}!${o.value}!`)]
}

/** Observable keys: IPs by address bytes (so CIDR containment is a range scan), the rest by text. */
export function observableKey (o: Observable, id: string): string {
  if (o.kind === 'ipv4' || o.kind === 'ipv6' || o.kind === 'ipv4-cidr' || o.kind === 'ipv6-cidr') {
    const net = parseIpNet(o.value)
    if (net == null) return key('observables', `${o.kind}!${o.value}!${id}`)
    return key('ips', `${net.version}!${Buffer.from(net.bytes).toString('hex')}!${pad(net.prefix, 3)}!${id}`)
  }
  return key('observables', `${o.kind}!${o.value}!${id}`)
}

const EMPTY = new Uint8Array(0)

/** Buckets whose keys hold observable values: compacted whole, never by a key span (see compactKeys). */
const VALUE_KEYED = new Set<string>([BUCKETS.observables, BUCKETS.ips, BUCKETS.domains])

/**
 * The node's LevelDB replica. It stores what ingest decided to store, one atomic batch per call,
 * and answers reads; it knows nothing of networks or policy. Writes are serialised so counters
 * and arrival numbers stay consistent.
 */
export class Store {
  readonly dir: string
  private readonly db: Level<string, Uint8Array>
  private counters: StoreCounters = emptyCounters()
  private bloom = new IdBloom()
  private ownerBloom = new StringBloom()
  private seqs = new SeqIntervals()
  /** purged record ids and their STIX ids (imports and feeds do not bring an object back): Bloom filters, confirmed on disk */
  private readonly tombs = new TombstoneIndex({
    ids: async (ids) => (await this.db.getMany(ids.map(id => key('tombstones', id)))).map(v => v != null),
    stixId: async (stixId) => await this.hasAnyKey(range('tombstoneStix', stixId + '!'))
  })
  /** target STIX id → feedback counts over every TLP, for every target with feedback (policy reads it synchronously) */
  private feedback = new Map<string, FeedbackCounts>()
  /** `author!seq` → records refused since start because the slot already holds its evidence pair */
  private readonly equivocationRefusals = new Map<string, number>()
  private writeChain: Promise<unknown> = Promise.resolve()
  private closed = false
  private degraded: { error: string, since: number } | null = null
  private storageErrors = 0
  private recoverTimer: ReturnType<typeof setInterval> | null = null
  private readonly recoverMs: number

  private constructor (dir: string, init: StoreInit) {
    this.dir = dir
    this.recoverMs = init.recoverMs ?? 5000
    this.db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view', ...(init.writeBufferSize != null ? { writeBufferSize: init.writeBufferSize } : {}) })
  }

  static async open (dir: string, init: StoreInit = {}): Promise<Store> {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const store = new Store(dir, init)
    try {
      await store.db.open()
    } catch (err: any) {
      const cause = String(err?.cause?.message ?? err?.message ?? err)
      if (/lock/i.test(cause)) {
        throw new DragnetError('DRAGNET_STORE_LOCKED', `store ${dir} is already in use by another process`, {}, { cause: err })
      }
      throw new DragnetError('DRAGNET_INTERNAL', `cannot open store ${dir}: ${cause}`, {}, { cause: err })
    }
    // What opening created (a new log, a manifest) is private even without the node's umask.
    await restrictTree(dir)
    await store.load()
    await store.indexFeedback()
    return store
  }

  private async load (): Promise<void> {
    const format = await this.db.get(key('meta', 'format'))
    const c = await this.db.get(key('meta', 'counters'))
    if (c != null) this.counters = { ...emptyCounters(), ...parse<StoreCounters>(c) }
    let at = format == null ? STORE_FORMAT : parse<number>(format)
    if (at === 1) {
      await migrateVersionKeys(this.db)
      await this.db.put(key('meta', 'format'), json(2))
      at = 2
    }
    if (at === 2) {
      await this.migrateAmberScopes()
      at = 3
    }
    if (at === 3) {
      // Nothing to convert: format 4 only adds the tombstone bucket, empty in a format-3 store.
      await this.db.put(key('meta', 'format'), json(4))
      at = 4
    }
    if (at === 4) {
      await migrateRecordInfo(this.db)
      await migrateDomainKeys(this.db)
      await this.db.put(key('meta', 'format'), json(5))
      at = 5
    }
    if (at !== STORE_FORMAT) throw new DragnetError('DRAGNET_INTERNAL', `store ${this.dir} has format ${at}, this dragnet reads ${STORE_FORMAT}`)
    if (format == null) await this.db.put(key('meta', 'format'), json(STORE_FORMAT))
    await this.loadTombstones()
    await this.indexDomains()
    await this.indexUnscopedTimes()
    for await (const [k, v] of this.db.iterator(range('feedback'))) this.feedback.set(k.slice(BUCKETS.feedback.length + 1), countsOf(parse<FeedbackSummary>(v)))
    if (await this.loadSnapshot()) return
    // Ids from the arrival index (small values) rather than record keys, whose blocks hold whole
    // records: a rebuild after a crash then reads a tenth of the bytes.
    for await (const v of this.db.values(range('arrival'))) this.bloom.add(dec.decode(v))
    for await (const k of this.db.keys(range('owners'))) this.ownerBloom.add(k.slice(BUCKETS.owners.length + 1))
    for (const bucket of ['authorSeq', 'equivocations'] as const) {
      for await (const k of this.db.keys(range(bucket))) {
        const rest = k.slice(BUCKETS[bucket].length + 1)
        const bang = rest.lastIndexOf('!')
        this.seqs.add(rest.slice(0, bang), Number(rest.slice(bang + 1)))
      }
    }
  }

  /**
   * Formats 1 and 2 filed every amber record of an author under one scope, `amber:<author>`, which was
   * reconciled with every peer (a non-recipient learnt amber ids, timestamps and counts). Each
   * such sync key becomes one per recipient scope; "known" entries under the old scopes are
   * dropped (they are learnt again). Amber records are few, so this reads each once.
   */
  private async migrateAmberScopes (): Promise<void> {
    const batch = this.db.batch()
    const cut = BUCKETS.sync.length + 1
    for await (const k of this.db.keys(range('sync', 'amber:'))) {
      const [scope, ts, id] = k.slice(cut).split('!')
      if (!isLegacyAmberScope(scope)) continue
      batch.del(k)
      const value = await this.db.get(key('records', id))
      if (value == null) continue
      for (const s of scopesOf(decodeRecord(envelopeOf(value), { maxRecordBytes: Number.MAX_SAFE_INTEGER, maxDepth: 10_000 }).record)) batch.put(key('sync', `${s}!${ts}!${id}`), EMPTY)
    }
    const kcut = BUCKETS.known.length + 1
    for await (const k of this.db.keys(range('known'))) {
      if (isLegacyAmberScope(k.slice(kcut).split('!')[1])) batch.del(k)
    }
    this.counters.generation++
    batch.put(key('meta', 'counters'), json(this.counters))
    batch.put(key('meta', 'format'), json(3))
    await batch.write()
  }

  /**
   * The domain index (`dom:`) came after the observable index: a store written before it gets
   * it built once from the `obs:domain!` keys, in batches.
   */
  private async indexDomains (): Promise<void> {
    if (await this.db.get(key('meta', 'domainIndex')) != null) return
    const cut = BUCKETS.observables.length + 1 + 'domain!'.length
    let batch = this.db.batch()
    let n = 0
    for await (const k of this.db.keys(range('observables', 'domain!'))) {
      const rest = k.slice(cut)
      const bang = rest.lastIndexOf('!')
      batch.put(domainKey(rest.slice(0, bang), rest.slice(bang + 1)), EMPTY)
      if (++n % 10_000 === 0) { await this.commit(batch); batch = this.db.batch() }
    }
    batch.put(key('meta', 'domainIndex'), json(1))
    await this.commit(batch)
  }

  /** The `uts:` index came after RED records (those with no sync scope) could be stored: built once from the stored records. */
  private async indexUnscopedTimes (): Promise<void> {
    if (await this.db.get(key('meta', 'unscopedTimeIndex')) != null) return
    let batch = this.db.batch()
    let n = 0
    for await (const [k, v] of this.db.iterator(range('records'))) {
      const { info } = decodeStored(v)
      if (info.tlp !== 'red') continue
      batch.put(key('unscopedByTime', `${hexTs(info.ts)}!${k.slice(BUCKETS.records.length + 1)}`), EMPTY)
      if (++n % 10_000 === 0) { await this.commit(batch); batch = this.db.batch() }
    }
    batch.put(key('meta', 'unscopedTimeIndex'), json(1))
    await this.commit(batch)
  }

  /**
   * Ids of the records signed at or before `ts`, oldest first within each sharing scope, from
   * indexes ordered by signing time: the sync keys (per scope; an amber record under several
   * recipients once per scope) and `uts:` for records with no scope (RED). Retention visits
   * only these instead of every record.
   */
  async * idsSignedUpTo (ts: number): AsyncGenerator<string> {
    this.assertOpen()
    const bound = hexTs(ts + 1)
    for await (const k of this.db.keys({ ...range('unscopedByTime'), lt: key('unscopedByTime', bound) })) yield k.slice(k.lastIndexOf('!') + 1)
    const all = range('sync')
    let from = all.gte
    while (true) {
      let scope: string | undefined
      for await (const k of this.db.keys({ gte: from, lt: all.lt, limit: 1 })) scope = k.slice(all.gte.length, k.indexOf('!'))
      if (scope == null) return
      for await (const k of this.db.keys({ gte: key('sync', `${scope}!`), lt: key('sync', `${scope}!${bound}`) })) yield k.slice(k.lastIndexOf('!') + 1)
      from = key('sync', `${scope}!\uffff`)
    }
  }

  /**
   * The feedback index (`fb:`, `fbc:`) came after sightings and opinions could be stored: a
   * store written before it gets it built once from the sightings and opinions it holds.
   */
  private async indexFeedback (): Promise<void> {
    if (await this.db.get(key('meta', 'feedbackIndex')) != null) return
    let pending: RecordWrite[] = []
    const flush = async (): Promise<void> => {
      const batch = this.db.batch()
      const written = await this.putFeedback(batch, pending)
      if (pending.length === 0) batch.put(key('meta', 'feedbackIndex'), json(1))
      await this.commit(batch)
      for (const [target, summary] of written) this.feedback.set(target, countsOf(summary))
      pending = []
    }
    for await (const { info, bytes } of this.iterateRecords()) {
      if (info.type !== 'sighting' && info.type !== 'opinion') continue
      const signed = decodeRecord(bytes, { maxRecordBytes: Number.MAX_SAFE_INTEGER, maxDepth: 10_000 })
      const r = signed.record
      pending.push({ record: signed, source: info.source, modified: info.modified, revoked: r.body.revoked === true, observables: [], newOwner: false, feedback: contributionsOf(r.body, r.author, r.tlp) })
      if (pending.length === 1000) await flush()
    }
    if (pending.length > 0) await flush()
    await flush()
  }

  /** Where the in-memory indexes are saved on a clean close, beside the LevelDB directory. */
  get snapshotFile (): string {
    return `${this.dir}.index.snap`
  }

  /**
   * The filters and seq intervals as saved by the last clean close. Rebuilding them means
   * reading every key, which at a million records makes LevelDB's mapped files resident
   * (hundreds of MB) and takes seconds; the snapshot is used only if the store has not changed since.
   */
  private async loadSnapshot (): Promise<boolean> {
    const snap = await readSnapshot(this.snapshotFile)
    if (snap == null || snap.header.kind !== 'store' || snap.header.generation !== this.counters.generation || snap.header.format !== STORE_FORMAT || snap.header.bloom !== BLOOM_SCHEME) return false
    try {
      const words = (b: Uint8Array): Uint32Array => new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4)
      let i = 0
      const bloomOf = (layers: Array<{ capacity: number, count: number }>): IdBloom => IdBloom.fromSnapshot({ layers: layers.map(l => ({ ...l, bits: words(snap.blobs[i++]) })) })
      this.bloom = bloomOf(snap.header.records)
      this.ownerBloom = StringBloom.fromSnapshot(bloomOf(snap.header.owners).toSnapshot())
      this.seqs = SeqIntervals.fromJSON(snap.header.seqs)
      return true
    } catch {
      this.bloom = new IdBloom()
      this.ownerBloom = new StringBloom()
      this.seqs = new SeqIntervals()
      return false
    }
  }

  private async saveSnapshot (): Promise<void> {
    const r = this.bloom.toSnapshot()
    const o = this.ownerBloom.toSnapshot()
    const meta = (s: typeof r): Array<{ capacity: number, count: number }> => s.layers.map(l => ({ capacity: l.capacity, count: l.count }))
    const blobs = [...r.layers, ...o.layers].map(l => new Uint8Array(l.bits.buffer, l.bits.byteOffset, l.bits.byteLength))
    await writeSnapshot(this.snapshotFile, { kind: 'store', format: STORE_FORMAT, bloom: BLOOM_SCHEME, generation: this.counters.generation, records: meta(r), owners: meta(o), seqs: this.seqs.toJSON() }, blobs)
  }

  get isOpen (): boolean {
    return !this.closed
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.recoverTimer != null) clearInterval(this.recoverTimer)
    this.recoverTimer = null
    await this.writeChain.catch(() => {})
    await this.saveSnapshot().catch(() => {})
    await this.db.close()
  }

  /**
   * Closes and reopens LevelDB to unmap its table files. LevelDB memory-maps every table it has
   * open (up to a thousand), so a start-up scan of a large keyspace leaves each page it read
   * resident in this process: at a million records, tens of MB that nothing reads again (the OS
   * keeps them in its page cache). Only while nothing else uses the store: no read, iterator or
   * write may be in flight (a node calls it first thing in its start).
   */
  async releaseMappedTables (): Promise<void> {
    this.assertOpen()
    await this.exclusive(async () => {
      await this.db.close()
      try {
        await this.db.open()
      } catch (err: any) {
        this.closed = true
        throw new DragnetError('DRAGNET_STORE_LOCKED', `store ${this.dir} could not be reopened: ${String(err?.cause?.message ?? err?.message ?? err)}`, {}, { cause: err })
      }
      await restrictTree(this.dir)
    })
  }

  /** Serialises every write so arrival numbers and counters are assigned in one order. */
  private exclusive<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.writeChain.then(fn, fn)
    this.writeChain = run.catch(() => {})
    return run
  }

  private assertOpen (): void {
    if (this.closed) throw new DragnetError('DRAGNET_STOPPED', 'store is closed')
  }

  counts (): StoreCounters {
    return structuredClone(this.counters)
  }

  // ---------------------------------------------------------------- storage failures

  health (): StoreHealth {
    return this.degraded == null
      ? { ok: true, errors: this.storageErrors }
      : { ok: false, error: this.degraded.error, since: this.degraded.since, errors: this.storageErrors }
  }

  /** Every write goes through here: a storage failure becomes DRAGNET_STORAGE and degrades the store. */
  private async commit (batch: ReturnType<Level<string, Uint8Array>['batch']>, opts: { sync?: boolean } = {}): Promise<void> {
    try {
      await (opts.sync === true ? batch.write({ sync: true }) : batch.write())
    } catch (err) {
      throw this.failed(err)
    }
    if (this.degraded != null) this.recovered()
  }

  private failed (err: any): Error {
    if (!isStorageFailure(err)) return err
    this.storageErrors++
    const message = String(err?.cause?.message ?? err?.message ?? err)
    if (this.degraded == null) {
      this.degraded = { error: message, since: Date.now() }
      // Retries run until a write succeeds again: space freed, LevelDB reopened if it must be.
      this.recoverTimer = setInterval(() => { void this.recover() }, this.recoverMs)
      this.recoverTimer.unref?.()
    }
    return new DragnetError('DRAGNET_STORAGE', `the store cannot write (${message}); nothing was stored. The node retries by itself and accepts writes again once the disk has room`, {}, { cause: err })
  }

  private recovered (): void {
    this.degraded = null
    if (this.recoverTimer != null) clearInterval(this.recoverTimer)
    this.recoverTimer = null
  }

  /**
   * One recovery attempt: a synced probe write; if LevelDB still refuses (it keeps a failed
   * background write as its state until reopened) and the filesystem has room, reopen it and
   * probe again. Reads in flight during the reopen fail (DRAGNET_STORAGE) and may be retried.
   */
  async recover (): Promise<boolean> {
    if (this.degraded == null) return true
    return await this.exclusive(async () => {
      if (this.degraded == null || this.closed) return this.degraded == null
      if (this.db.status === 'open' && await this.probe()) { this.recovered(); return true }
      if (!await this.hasRoom()) return false
      try {
        if (this.db.status === 'open') await this.db.close()
        await this.db.open()
      } catch {
        return false
      }
      if (await this.probe()) { this.recovered(); return true }
      return false
    })
  }

  private async probe (): Promise<boolean> {
    try {
      await this.db.put(key('meta', 'probe'), json(Date.now()), { sync: true })
      return true
    } catch {
      return false
    }
  }

  private async hasRoom (): Promise<boolean> {
    try {
      const st = await statfs(this.dir)
      return st.bavail * st.bsize >= REOPEN_MIN_FREE
    } catch {
      return true
    }
  }

  // ---------------------------------------------------------------- writes

  /** Stores records with all their index entries in one atomic LevelDB batch. */
  async write (writes: RecordWrite[], opts: { sync?: boolean, known?: KnownWrite[], audit?: AuditEntry[] } = {}): Promise<RecordInfo[]> {
    this.assertOpen()
    return await this.exclusive(async () => {
      const clock = stageClock()
      let t = clock?.now() ?? 0
      const batch = this.db.batch()
      const counters = structuredClone(this.counters)
      const infos: RecordInfo[] = []
      const now = Date.now()
      for (const w of writes) {
        const r = w.record.record
        const id = w.record.id
        const arrival = ++counters.arrival
        const info: RecordInfo = {
          arrival,
          addedAt: now,
          source: w.source,
          stixId: r.body.id,
          type: r.body.type,
          modified: w.modified,
          author: r.author,
          seq: r.seq,
          ts: r.ts,
          tlp: r.tlp
        }
        if (w.from != null) info.from = w.from
        infos.push(info)
        let acceptKey: string | undefined
        for (const a of w.audit ?? []) {
          // The entry accepting this record is found through the record: no `auditr:` key for it.
          const own = acceptKey == null && a.record === id && a.verdict === 'accept'
          const k = this.putAudit(batch, counters, a, !own)
          if (own) acceptKey = k
        }
        batch.put(key('records', id), encodeStored(info, w.record.bytes, acceptKey))
        batch.put(key('arrival', pad(arrival)), ascii(id))
        const ver: Omit<VersionEntry, 'id'> = { author: r.author, revoked: w.revoked, modified: w.modified }
        if (w.validUntil != null) ver.validUntil = w.validUntil
        batch.put(versionKey(r.body.id, w.modified, id), json(ver))
        if (w.newOwner) batch.put(key('owners', r.body.id), ascii(r.author))
        for (const k of indexKeysOf(w.observables, id)) batch.put(k, EMPTY)
        // The first id under (author, seq) keeps the slot; a second is evidence, kept beside it.
        if (w.equivocation != null) batch.put(key('equivocations', `${r.author}!${pad(r.seq)}`), json({ ids: w.equivocation.slice(0, 2), at: now }))
        else batch.put(key('authorSeq', `${r.author}!${pad(r.seq)}`), ascii(id))
        for (const scope of w.scopes ?? []) batch.put(key('sync', `${scope}!${hexTs(r.ts)}!${id}`), EMPTY)
        if ((w.scopes ?? []).length === 0) batch.put(key('unscopedByTime', `${hexTs(r.ts)}!${id}`), EMPTY)
        counters.records++
        counters.byTlp[r.tlp]++
      }
      const feedback = await this.putFeedback(batch, writes)
      for (const k of opts.known ?? []) batch.put(key('known', `${k.peer}!${k.scope}!${hexTs(k.ts)}!${k.id}`), json({ why: k.why, at: now }))
      for (const a of opts.audit ?? []) this.putAudit(batch, counters, a)
      if (writes.length > 0 || (opts.known?.length ?? 0) > 0) counters.generation++
      batch.put(key('meta', 'counters'), json(counters))
      t = clock?.add('store', t) ?? 0
      await this.commit(batch, { sync: opts.sync === true })
      t = clock?.add('store_wait', t) ?? 0
      this.counters = counters
      for (const w of writes) {
        this.bloom.add(w.record.id)
        if (w.newOwner) this.ownerBloom.add(w.record.record.body.id)
        this.seqs.add(w.record.record.author, w.record.record.seq)
      }
      for (const [target, summary] of feedback) this.feedback.set(target, countsOf(summary))
      clock?.add('index', t)
      return infos
    })
  }

  /**
   * Folds the writes' sightings and opinions into the feedback summaries of their targets, and
   * notes the owner of targets that gain one. Returns the summaries written.
   */
  private async putFeedback (batch: ReturnType<Level<string, Uint8Array>['batch']>, writes: RecordWrite[]): Promise<Map<string, FeedbackSummary>> {
    const contributions = writes.flatMap(w => w.feedback ?? [])
    const touched = new Set(contributions.map(c => c.target))
    const owned = writes.filter(w => w.newOwner && (this.feedback.has(w.record.record.body.id) || touched.has(w.record.record.body.id)))
    const out = new Map<string, FeedbackSummary>()
    if (contributions.length === 0 && owned.length === 0) return out
    const targets = [...new Set([...contributions.map(c => c.target), ...owned.map(w => w.record.record.body.id)])]
    const byKeys = [...new Set(contributions.map(c => `${c.target}!${c.source}`))]
    const [summaries, counted, owners] = await Promise.all([
      this.db.getMany(targets.map(t => key('feedback', t))),
      this.db.getMany(byKeys.map(k => key('feedbackBy', k))),
      this.owners(targets)
    ])
    targets.forEach((t, i) => {
      const s = summaries[i] != null ? parse<FeedbackSummary>(summaries[i]!) : { byTlp: {} }
      if (s.owner == null && owners[i] != null) s.owner = owners[i]
      out.set(t, s)
    })
    for (const w of owned) out.get(w.record.record.body.id)!.owner ??= w.record.record.author
    const prev = new Map(byKeys.map((k, i) => [k, counted[i] != null ? parse<Contribution>(counted[i]!) : undefined]))
    for (const c of contributions) {
      const k = `${c.target}!${c.source}`
      if (!applyContribution(out.get(c.target)!, prev.get(k), c)) continue
      prev.set(k, c)
      batch.put(key('feedbackBy', k), json(c))
    }
    for (const [t, s] of out) batch.put(key('feedback', t), json(s))
    return out
  }

  /** Feedback counts of a target over every TLP (undefined without feedback); from memory. */
  feedbackCounts (stixId: string): FeedbackCounts | undefined {
    return this.feedback.get(stixId)
  }

  /** The feedback summaries of these STIX ids (undefined where there is none), one LevelDB read. */
  async feedbackSummaries (stixIds: string[]): Promise<Array<FeedbackSummary | undefined>> {
    this.assertOpen()
    const probe = stixIds.map((id, i) => [id, i] as const).filter(([id]) => this.feedback.has(id))
    const out: Array<FeedbackSummary | undefined> = stixIds.map(() => undefined)
    if (probe.length === 0) return out
    const vals = await this.db.getMany(probe.map(([id]) => key('feedback', id)))
    probe.forEach(([, i], j) => { const v = vals[j]; if (v != null) out[i] = parse<FeedbackSummary>(v) })
    return out
  }

  /** Writes an audit entry and its lookup keys; returns its key (after `audit:`). */
  private putAudit (batch: ReturnType<Level<string, Uint8Array>['batch']>, counters: StoreCounters, a: AuditEntry, byRecord = true): string {
    const k = `${hexTs(a.at)}!${(++counters.auditSeq).toString(16).padStart(8, '0')}`
    batch.put(key('audit', k), json(a))
    if (a.record != null && byRecord) batch.put(key('auditByRecord', `${a.record}!${k}`), EMPTY)
    if (a.peer != null) batch.put(key('auditByPeer', `${a.peer}!${k}`), EMPTY)
    counters.audit++
    return k
  }

  /** Audit entries and "known" ids without a record (decisions that store nothing else). */
  async writeDecisions (audit: AuditEntry[], known: KnownWrite[] = []): Promise<void> {
    if (audit.length === 0 && known.length === 0) return
    await this.write([], { audit, known })
  }

  /** Forgets "known" ids (expired declines; rejections after a policy change). */
  async deleteKnown (entries: Array<{ peer: string, scope: string, ts: number, id: string }>): Promise<void> {
    this.assertOpen()
    if (entries.length === 0) return
    await this.exclusive(async () => {
      const batch = this.db.batch()
      for (const k of entries) batch.del(key('known', `${k.peer}!${k.scope}!${hexTs(k.ts)}!${k.id}`))
      const counters = { ...this.counters, generation: this.counters.generation + 1 }
      batch.put(key('meta', 'counters'), json(counters))
      await this.commit(batch)
      this.counters = counters
    })
  }

  /** Every "known" entry with when it was learned: `peer!scope!ts!id` → at. */
  async * knownEntries (): AsyncGenerator<{ peer: string, scope: string, ts: number, id: string, at: number, why: string }> {
    this.assertOpen()
    const cut = BUCKETS.known.length + 1
    for await (const [k, v] of this.db.iterator(range('known'))) {
      const [peer, scope, ts, id] = k.slice(cut).split('!')
      const { at, why } = parse<{ at: number, why: string }>(v)
      yield { peer, scope, ts: parseInt(ts, 16), id, at, why }
    }
  }

  /** Drops the oldest audit entries beyond `maxEntries` (bounded retention), in batches of 10,000. */
  async pruneAudit (maxEntries: number): Promise<number> {
    this.assertOpen()
    let removed = 0
    while (this.counters.audit > maxEntries && !this.closed) {
      const n = await this.exclusive(async () => await this.pruneAuditBatch(Math.min(10_000, this.counters.audit - maxEntries)))
      if (n === 0) break
      removed += n
    }
    return removed
  }

  private async pruneAuditBatch (excess: number): Promise<number> {
    if (excess <= 0) return 0
    const batch = this.db.batch()
    let removed = 0
    for await (const [k, v] of this.db.iterator({ ...range('audit'), limit: excess })) {
      const a = parse<AuditEntry>(v)
      const rest = k.slice(BUCKETS.audit.length + 1)
      batch.del(k)
      if (a.record != null) batch.del(key('auditByRecord', `${a.record}!${rest}`))
      if (a.peer != null) batch.del(key('auditByPeer', `${a.peer}!${rest}`))
      removed++
    }
    const counters = { ...this.counters, audit: this.counters.audit - removed }
    batch.put(key('meta', 'counters'), json(counters))
    await this.commit(batch)
    this.counters = counters
    return removed
  }

  async putMeta (name: string, value: unknown): Promise<void> {
    this.assertOpen()
    await this.exclusive(async () => { await this.commit(this.db.batch().put(key('meta', name), json(value))) })
  }

  async getMeta<T> (name: string): Promise<T | undefined> {
    this.assertOpen()
    const v = await this.db.get(key('meta', name))
    return v == null ? undefined : parse<T>(v)
  }

  async putPeer (peerId: string, value: unknown): Promise<void> {
    this.assertOpen()
    await this.commit(this.db.batch().put(key('peers', peerId), json(value)))
  }

  async getPeers<T> (): Promise<Map<string, T>> {
    this.assertOpen()
    const out = new Map<string, T>()
    for await (const [k, v] of this.db.iterator(range('peers'))) out.set(k.slice(BUCKETS.peers.length + 1), parse<T>(v))
    return out
  }

  // ---------------------------------------------------------------- purge

  /**
   * Removes records and every index entry naming them, in one atomic batch, leaving a tombstone
   * each. The sync keys become `known:*` entries (why `purged`): reconciliation keeps counting
   * the id, so peers that still hold it stay in agreement and never send it back. The author+seq
   * slot is kept (an id, no content): this node must never reissue a seq of its own it purged.
   * The affected key ranges are compacted afterwards, so LevelDB drops the bytes from its files.
   */
  async purge (ids: string[], init: PurgeInit): Promise<PurgeResult> {
    this.assertOpen()
    // The records must sit in table files before their deletions are written: LevelDB flushes a
    // memtable holding a put and its delete into one file at up to level 2, where a later
    // compactRange does not reach (it compacts each level into the next, never the deepest one).
    await this.compactRange(prefixRange('meta:').gte, prefixRange('meta:').lt)
    const result = await this.exclusive(async () => await this.purgeBatch([...new Set(ids)], init))
    if (result.deleted.length > 0) await this.compactKeys(result.deleted)
    return { purged: result.purged, already: result.already, missing: result.missing }
  }

  private async purgeBatch (ids: string[], init: PurgeInit): Promise<PurgeResult & { deleted: string[] }> {
    const at = init.at ?? Date.now()
    const out: PurgeResult & { deleted: string[] } = { purged: [], already: [], missing: [], deleted: [] }
    const gone = await this.tombs.has(ids)
    const live = ids.filter((id, i) => {
      if (!gone[i]) return true
      out.already.push(id)
      return false
    })
    const vals = await this.db.getMany(live.map(id => key('records', id)))
    const batch = this.db.batch()
    const counters = structuredClone(this.counters)
    const unread: string[] = []
    live.forEach((id, i) => {
      const value = vals[i]
      if (value == null) { out.missing.push(id); return }
      const { info, bytes, auditKey } = decodeStored(value)
      const signed = decodeRecord(bytes, { maxRecordBytes: Number.MAX_SAFE_INTEGER, maxDepth: 10_000 })
      // The accept entry was found through the record, which goes: it gets its own lookup key.
      if (auditKey != null) batch.put(key('auditByRecord', `${id}!${auditKey}`), EMPTY)
      const scopes = scopesOf(signed.record)
      const observables = this.observablesOrNull(init, signed)
      if (observables == null) unread.push(id)
      const deleted = [key('records', id), key('arrival', pad(info.arrival)), versionKey(info.stixId, info.modified, id),
        ...indexKeysOf(observables ?? [], id), ...scopes.map(sc => key('sync', `${sc}!${hexTs(info.ts)}!${id}`)),
        key('unscopedByTime', `${hexTs(info.ts)}!${id}`)]
      for (const k of deleted) batch.del(k)
      out.deleted.push(...deleted)
      for (const sc of scopes) batch.put(key('known', `*!${sc}!${hexTs(info.ts)}!${id}`), json({ why: PURGED, at }))
      const t: Tombstone = { id, reason: init.reason, at, operator: init.operator, author: info.author, tlp: info.tlp, stixId: info.stixId, scopes, ts: info.ts }
      batch.put(key('tombstones', id), json(t))
      if (info.stixId != null) batch.put(key('tombstoneStix', `${info.stixId}!${id}`), EMPTY)
      this.putAudit(batch, counters, { at, direction: 'local', verdict: 'purge', rule: init.rule, reason: `${init.reason} (by ${init.operator})`, record: id })
      counters.records--
      counters.byTlp[info.tlp]--
      out.purged.push(t)
    })
    if (out.purged.length === 0) return out
    counters.generation++
    batch.put(key('meta', 'counters'), json(counters))
    await this.commit(batch, { sync: true })
    this.counters = counters
    for (const t of out.purged) this.tombs.note(t, true)
    // A record whose observables could not be read again (today's validator refuses it): its index keys are found by id.
    if (unread.length > 0) await this.purgeStrayIndexKeys(unread, out.deleted)
    return out
  }

  /**
   * Tombstones for records declined on arrival and never stored (an honoured erasure request
   * named them): refused from now on, and counted by reconciliation as purged records are.
   * Ids already tombstoned or stored are left alone (a stored one is purged the usual way).
   */
  async addTombstones (tombs: Tombstone[], rule: string): Promise<Tombstone[]> {
    this.assertOpen()
    return await this.exclusive(async () => {
      const ids = tombs.map(t => t.id)
      const [gone, held] = [await this.tombs.has(ids), await this.hasMany(ids)]
      const fresh = tombs.filter((_, i) => !gone[i] && !held[i])
      if (fresh.length === 0) return []
      const batch = this.db.batch()
      const counters = structuredClone(this.counters)
      for (const t of fresh) {
        batch.put(key('tombstones', t.id), json(t))
        if (t.stixId != null) batch.put(key('tombstoneStix', `${t.stixId}!${t.id}`), EMPTY)
        for (const sc of t.scopes) batch.put(key('known', `*!${sc}!${hexTs(t.ts)}!${t.id}`), json({ why: PURGED, at: t.at }))
        this.putAudit(batch, counters, { at: t.at, direction: 'local', verdict: 'purge', rule, reason: `${t.reason} (by ${t.operator})`, record: t.id })
      }
      batch.put(key('meta', 'counters'), json(counters))
      await this.commit(batch, { sync: true })
      this.counters = counters
      for (const t of fresh) this.tombs.note(t, true)
      return fresh
    })
  }

  private observablesOrNull (init: PurgeInit, signed: SignedRecord): Observable[] | null {
    try {
      return init.observablesOf(signed)
    } catch {
      return null
    }
  }

  /** Index keys (observables, IPs, domains) naming these ids: one scan of those buckets. */
  private async purgeStrayIndexKeys (ids: string[], deleted: string[]): Promise<void> {
    const wanted = new Set(ids)
    const batch = this.db.batch()
    let n = 0
    for (const bucket of ['observables', 'ips', 'domains'] as const) {
      for await (const k of this.db.keys(range(bucket))) {
        if (!wanted.has(k.slice(k.lastIndexOf('!') + 1))) continue
        batch.del(k)
        deleted.push(k)
        n++
      }
    }
    if (n > 0) await this.commit(batch, { sync: true })
    else await batch.close()
  }

  /**
   * Compacts what a purge touched, so deleted values leave the files: for keys made of ids and
   * timestamps, their own span; for index keys made of observable values (an e-mail address),
   * the whole bucket, because LevelDB writes a manual compaction's bounds to its LOG file.
   */
  private async compactKeys (keys: string[]): Promise<void> {
    const spans = new Map<string, { lo: string, hi: string }>()
    for (const k of keys) {
      const b = k.slice(0, k.indexOf(':'))
      const s = spans.get(b)
      if (s == null) spans.set(b, { lo: k, hi: k })
      else { if (k < s.lo) s.lo = k; if (k > s.hi) s.hi = k }
    }
    for (const [b, s] of spans) {
      const r = VALUE_KEYED.has(b) ? prefixRange(b + ':') : { gte: s.lo, lt: s.hi + '\uffff' }
      await this.compactRange(r.gte, r.lt)
    }
  }

  private async compactRange (start: string, end: string): Promise<void> {
    // `level` is classic-level on Node, which has compactRange; its browser typing does not.
    await (this.db as unknown as { compactRange: (start: string, end: string) => Promise<void> }).compactRange(start, end)
  }

  /** Whether a record was purged here (it is refused whenever it is offered again). */
  async isPurged (id: string): Promise<boolean> {
    return (await this.tombs.has([id]))[0]
  }

  /** Whether a record of this STIX object was purged here. */
  async isStixIdPurged (stixId: string): Promise<boolean> {
    return await this.tombs.hasStixId(stixId)
  }

  /** Which of these ids were purged. */
  async purgedOf (ids: string[]): Promise<boolean[]> {
    return await this.tombs.has(ids)
  }

  /** How many tombstones this store holds. */
  tombstoneCount (): number {
    return this.tombs.count
  }

  /**
   * Fills the tombstone filters (one pass over the tombstones, keeping nothing else), and once
   * per store the STIX id keys that tombstones written before they existed lack.
   */
  private async loadTombstones (): Promise<void> {
    const backfill = (await this.db.get(key('meta', 'tombstoneStix'))) == null
    const batch = this.db.batch()
    for await (const v of this.db.values(range('tombstones'))) {
      const t = parse<Tombstone>(v)
      this.tombs.note(t, false)
      if (backfill && t.stixId != null) batch.put(key('tombstoneStix', `${t.stixId}!${t.id}`), EMPTY)
    }
    if (backfill) batch.put(key('meta', 'tombstoneStix'), json(1))
    await batch.write()
  }

  private async hasAnyKey (r: { gte: string, lt: string }): Promise<boolean> {
    for await (const _ of this.db.keys({ ...r, limit: 1 })) return true
    return false
  }

  /** Every tombstone, oldest purge first. */
  async tombstones (): Promise<Tombstone[]> {
    this.assertOpen()
    const out: Tombstone[] = []
    for await (const v of this.db.values(range('tombstones'))) out.push(parse<Tombstone>(v))
    return out.sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1))
  }

  async getTombstone (id: string): Promise<Tombstone | undefined> {
    this.assertOpen()
    const v = await this.db.get(key('tombstones', id))
    return v == null ? undefined : parse<Tombstone>(v)
  }

  /** Ids of the records of a STIX object (every version, every author). */
  async idsOfStixId (stixId: string): Promise<string[]> {
    return (await this.versions(stixId)).map(v => v.id)
  }

  /** Ids of every stored record of one author, from its author+seq slots (purged ones excluded). */
  async idsOfAuthor (author: string): Promise<string[]> {
    this.assertOpen()
    const all = new Set<string>()
    for await (const v of this.db.values(range('authorSeq', author + '!'))) all.add(dec.decode(v))
    for await (const v of this.db.values(range('equivocations', author + '!'))) {
      for (const id of parse<{ ids: string[] }>(v).ids) all.add(id)
    }
    const ids = [...all]
    const gone = await this.tombs.has(ids)
    return ids.filter((_, i) => !gone[i])
  }

  // ---------------------------------------------------------------- reads

  /** Cheap pre-check; a `true` may be a false positive, a `false` is certain. */
  mightHave (id: string): boolean {
    return this.bloom.mightHave(id)
  }

  async has (id: string): Promise<boolean> {
    this.assertOpen()
    if (!this.bloom.mightHave(id)) return false
    return (await this.db.get(key('records', id))) != null
  }

  /** Which of these ids are stored (one LevelDB round for all bloom positives). */
  async hasMany (ids: string[]): Promise<boolean[]> {
    this.assertOpen()
    const out = ids.map(() => false)
    const probe: number[] = []
    ids.forEach((id, i) => { if (this.bloom.mightHave(id)) probe.push(i) })
    if (probe.length > 0) {
      const vals = await this.db.getMany(probe.map(i => key('records', ids[i])))
      probe.forEach((i, j) => { out[i] = vals[j] != null })
    }
    return out
  }

  async getBytes (id: string): Promise<Uint8Array | undefined> {
    this.assertOpen()
    const v = await this.db.get(key('records', id))
    return v == null ? undefined : envelopeOf(v)
  }

  async getManyBytes (ids: string[]): Promise<Array<Uint8Array | undefined>> {
    this.assertOpen()
    if (ids.length === 0) return []
    return (await this.db.getMany(ids.map(id => key('records', id)))).map(v => v == null ? undefined : envelopeOf(v))
  }

  /**
   * Records with what the store knows of each (its RecordInfo), in the order asked. The keys go
   * to LevelDB sorted, so a batch visits table blocks in order rather than at random.
   */
  async getManyStored (ids: string[]): Promise<Array<{ info: RecordInfo, bytes: Uint8Array } | undefined>> {
    this.assertOpen()
    if (ids.length === 0) return []
    const order = ids.map((_, i) => i).sort((a, b) => ids[a] < ids[b] ? -1 : ids[a] > ids[b] ? 1 : 0)
    const values = await this.db.getMany(order.map(i => key('records', ids[i])))
    const out: Array<{ info: RecordInfo, bytes: Uint8Array } | undefined> = new Array(ids.length)
    order.forEach((i, j) => {
      const v = values[j]
      out[i] = v == null ? undefined : decodeStored(v)
    })
    return out
  }

  async getInfo (id: string): Promise<RecordInfo | undefined> {
    this.assertOpen()
    const v = await this.db.get(key('records', id))
    return v == null ? undefined : decodeStored(v).info
  }

  async getManyInfo (ids: string[]): Promise<Array<RecordInfo | undefined>> {
    this.assertOpen()
    if (ids.length === 0) return []
    const vals = await this.db.getMany(ids.map(id => key('records', id)))
    return vals.map(v => v == null ? undefined : decodeStored(v).info)
  }

  /** A stored record, parsed. Stored bytes were verified on the way in, so only parsing happens here. */
  async getRecord (id: string): Promise<{ record: SignedRecord, info: RecordInfo } | undefined> {
    this.assertOpen()
    const v = await this.db.get(key('records', id))
    if (v == null) return undefined
    const { info, bytes } = decodeStored(v)
    return { record: decodeRecord(bytes, { maxRecordBytes: Number.MAX_SAFE_INTEGER, maxDepth: 10_000 }), info }
  }

  async owner (stixId: string): Promise<string | undefined> {
    this.assertOpen()
    if (!this.ownerBloom.mightHave(stixId)) return undefined
    const v = await this.db.get(key('owners', stixId))
    return v == null ? undefined : dec.decode(v)
  }

  /** Owners of many STIX ids; ids the owner filter rules out cost no database read. */
  async owners (stixIds: string[]): Promise<Array<string | undefined>> {
    this.assertOpen()
    const out: Array<string | undefined> = stixIds.map(() => undefined)
    const probe = stixIds.map((s, i) => [s, i] as const).filter(([s]) => this.ownerBloom.mightHave(s))
    if (probe.length === 0) return out
    const vals = await this.db.getMany(probe.map(([s]) => key('owners', s)))
    probe.forEach(([, i], j) => { const v = vals[j]; out[i] = v == null ? undefined : dec.decode(v) })
    return out
  }

  /** Every stored version of a STIX object, oldest `modified` instant first (see versionKey). */
  async versions (stixId: string): Promise<VersionEntry[]> {
    this.assertOpen()
    const out: VersionEntry[] = []
    for await (const [k, v] of this.db.iterator(range('versions', stixId + '!'))) {
      out.push({ ...parse<Omit<VersionEntry, 'id'>>(v), id: k.slice(k.lastIndexOf('!') + 1) })
    }
    return out
  }

  /** Ids stored under (author, seq): one normally, several when the author equivocated. */
  async idsBySeq (author: string, seq: number): Promise<string[]> {
    this.assertOpen()
    const [first, evidence] = await this.db.getMany([key('authorSeq', `${author}!${pad(seq)}`), key('equivocations', `${author}!${pad(seq)}`)])
    if (evidence != null) return parse<{ ids: string[] }>(evidence).ids.slice(0, 2)
    return first == null ? [] : [dec.decode(first)]
  }

  /** For each (author, seq): the ids already stored under it (batch form of idsBySeq). */
  async seqSlots (pairs: Array<{ author: string, seq: number }>): Promise<string[][]> {
    this.assertOpen()
    const out: string[][] = pairs.map(() => [])
    // Only seqs we have seen can hold anything: fresh records cost no read.
    const probe = pairs.map((p, i) => [p, i] as const).filter(([p]) => this.seqs.has(p.author, p.seq))
    if (probe.length === 0) return out
    const keys: string[] = []
    for (const [p] of probe) keys.push(key('authorSeq', `${p.author}!${pad(p.seq)}`), key('equivocations', `${p.author}!${pad(p.seq)}`))
    const vals = await this.db.getMany(keys)
    probe.forEach(([, i], j) => {
      const evidence = vals[2 * j + 1]
      if (evidence != null) { out[i] = parse<{ ids: string[] }>(evidence).ids.slice(0, 2); return }
      const first = vals[2 * j]
      out[i] = first == null ? [] : [dec.decode(first)]
    })
    return out
  }

  /** Seq intervals held per author (sync's fast path for long outages; `dragnet status`). */
  seqIntervals (author: string): Array<[number, number]> {
    return this.seqs.intervals(author)
  }

  /** Highest seq stored for an author (0 when none): a node's own next seq derives from it after a crash. */
  async maxSeq (author: string): Promise<number> {
    this.assertOpen()
    return this.seqs.max(author)
  }


  /**
   * Every (author, seq) with two different records: the evidence pair, when it was found, and
   * how many further records under it were refused since this node started.
   */
  async equivocations (): Promise<Array<{ author: string, seq: number, ids: string[], at: number, refused: number }>> {
    this.assertOpen()
    const out: Array<{ author: string, seq: number, ids: string[], at: number, refused: number }> = []
    for await (const [k, v] of this.db.iterator(range('equivocations'))) {
      const [author, seq] = k.slice(BUCKETS.equivocations.length + 1).split('!')
      const e = parse<{ ids: string[], at: number }>(v)
      out.push({ author, seq: Number(seq), ids: e.ids.slice(0, 2), at: e.at, refused: this.equivocationRefusals.get(`${author}!${Number(seq)}`) ?? 0 })
    }
    return out
  }

  /**
   * Counts a record refused under an (author, seq) that already holds its evidence pair; in
   * memory only, so a flood of them costs no write. Returns the count so far.
   */
  noteEquivocationRefused (author: string, seq: number): number {
    const k = `${author}!${seq}`
    const n = (this.equivocationRefusals.get(k) ?? 0) + 1
    // Bounded by the evidence pairs stored, which are records.
    this.equivocationRefusals.set(k, n)
    return n
  }

  /** Record ids indexed under an observable. IPs also match CIDRs that contain them and, for a CIDR, everything inside it. */
  async lookupIds (o: Observable, opts: { subdomains?: boolean } = {}): Promise<string[]> {
    this.assertOpen()
    const ids = new Set<string>()
    const plan = lookupPlan(o, opts)
    let after: ScanPosition | undefined
    while (true) {
      const page = await this.scanIndex(plan, after, 4096)
      if (page.length === 0) break
      for (const e of page) ids.add(e.id)
      after = page[page.length - 1]
    }
    return [...ids]
  }

  /**
   * Up to `limit` index entries of a lookup plan after `after` (exclusive), in scan order: range
   * by range, keys in order within a range. A lookup resumes from the last entry it read.
   */
  async scanIndex (plan: IndexRange[], after: ScanPosition | undefined, limit: number): Promise<IndexEntry[]> {
    this.assertOpen()
    const out: IndexEntry[] = []
    for (let phase = after?.phase ?? 0; phase < plan.length && out.length < limit; phase++) {
      const r = plan[phase]
      const from = after != null && after.phase === phase ? { gt: after.key } : { gte: r.gte }
      const it = this.db.keys({ ...from, lt: r.lt })
      try {
        while (out.length < limit) {
          const page = await it.nextv(Math.min(1000, limit - out.length))
          if (page.length === 0) break
          for (const k of page) {
            if (r.minPrefix != null && Number(k.split('!')[2]) < r.minPrefix) {
              // Skipped keys still advance the position, so a resumed scan does not read them again.
              continue
            }
            out.push({ phase, key: k, id: k.slice(k.lastIndexOf('!') + 1) })
          }
        }
      } finally {
        await it.close()
      }
    }
    return out
  }

  /** Which of these index keys exist (a lookup asks whether a record was already met under another key). */
  async keysExist (keys: string[]): Promise<boolean[]> {
    this.assertOpen()
    if (keys.length === 0) return []
    const vals = await this.db.getMany(keys)
    return vals.map(v => v != null)
  }

  /** Records in local arrival order after `afterArrival` (exclusive). */
  async * byArrival (afterArrival = 0, opts: { limit?: number, reverse?: boolean } = {}): AsyncGenerator<{ arrival: number, id: string }> {
    this.assertOpen()
    const lim = opts.limit ?? Infinity
    let n = 0
    const it = this.db.iterator({ gt: key('arrival', pad(afterArrival)), lt: range('arrival').lt, reverse: opts.reverse === true })
    try {
      while (n < lim) {
        const page = await it.nextv(Math.min(1000, lim - n))
        if (page.length === 0) break
        for (const [k, v] of page) {
          yield { arrival: Number(k.slice(BUCKETS.arrival.length + 1)), id: dec.decode(v) }
          n++
        }
      }
    } finally {
      await it.close()
    }
  }

  /** Raw entries (key suffix, value) of the sync or known keyspace, for rebuilding in-memory indexes at start. */
  async * scanKeys (bucket: 'sync' | 'known', prefix = ''): AsyncGenerator<string[]> {
    this.assertOpen()
    const it = this.db.keys(range(bucket, prefix))
    const cut = BUCKETS[bucket].length + 1
    try {
      while (true) {
        const page = await it.nextv(4096)
        if (page.length === 0) break
        yield page.map(k => k.slice(cut))
      }
    } finally {
      await it.close()
    }
  }

  async auditEntries (filter: { record?: string, peer?: string, limit?: number } = {}): Promise<AuditEntry[]> {
    this.assertOpen()
    const limit = filter.limit ?? 1000
    let keys: string[]
    if (filter.record != null || filter.peer != null) {
      const bucket = filter.record != null ? 'auditByRecord' : 'auditByPeer'
      const subject = (filter.record ?? filter.peer)!
      keys = []
      for await (const k of this.db.keys({ ...range(bucket, subject + '!'), reverse: true, limit: filter.record != null && filter.peer != null ? undefined : limit })) {
        keys.push(key('audit', k.slice(BUCKETS[bucket].length + 1 + subject.length + 1)))
      }
    } else {
      keys = []
      for await (const k of this.db.keys({ ...range('audit'), reverse: true, limit })) keys.push(k)
    }
    if (filter.record != null) keys = await this.withAcceptEntry(filter.record, keys)
    const vals = await this.db.getMany(keys)
    let entries = vals.filter((v): v is Uint8Array => v != null).map(v => parse<AuditEntry>(v))
    if (filter.record != null && filter.peer != null) entries = entries.filter(e => e.peer === filter.peer)
    return entries.slice(0, limit)
  }

  /** Adds the accept entry kept with a stored record to its other audit keys, newest first. */
  private async withAcceptEntry (id: string, keys: string[]): Promise<string[]> {
    const v = await this.db.get(key('records', id))
    const k = v == null ? undefined : decodeStored(v).auditKey
    if (k == null) return keys
    const full = key('audit', k)
    if (keys.includes(full)) return keys
    return [...keys, full].sort().reverse()
  }

  /** Every stored record with its info, in id order (consistency checks, indexes built once). */
  async * iterateRecords (): AsyncGenerator<{ id: string } & StoredRecordValue> {
    this.assertOpen()
    const cut = BUCKETS.records.length + 1
    for await (const [k, v] of this.db.iterator(range('records'))) yield { id: k.slice(cut), ...decodeStored(v) }
  }

  /** Every key of a record's index entries, for consistency checks (tests, `dragnet status --check`). */
  async * iterateRaw (bucket: keyof typeof BUCKETS): AsyncGenerator<[string, Uint8Array]> {
    this.assertOpen()
    const cut = BUCKETS[bucket].length + 1
    for await (const [k, v] of this.db.iterator(range(bucket))) yield [k.slice(cut), v]
  }
}
