import { decodeRecord, HEADER_BYTES, isTlp, parseDecodedRecord, type Tlp, type UnsignedRecord } from '../record/index.js'
import { currentIds } from './queries.js'
import type { RecordInfo, Store } from './store.js'

/*
 * Read paths for serving many records fast (TAXII, export, listings), built only on the Store's
 * public reads. Nothing here writes.
 */

const BODY_KEY = Buffer.from('"body":')
const SEQ_KEY = Buffer.from(',"seq":')

/**
 * The STIX object of a stored envelope as JSON bytes, cut out of the signed payload without
 * parsing it. Stored payloads are RFC 8785 canonical JSON (ingest refuses anything else), whose
 * members are sorted: `{"author":"<PeerId>","body":{...},"seq":N,...}`. The author is a base58
 * PeerId, so the first `"body":` is the member name; the members after the body are scalars and
 * PeerIds, so the last `,"seq":` closes it. Falls back to parsing if the bytes are not shaped so.
 */
export function bodyBytes (envelope: Uint8Array): Uint8Array {
  const b = Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength)
  const start = b.indexOf(BODY_KEY, HEADER_BYTES)
  const end = b.lastIndexOf(SEQ_KEY)
  if (start > HEADER_BYTES && end > start && b[start - 1] === 0x2c && b[start + BODY_KEY.length] === 0x7b && b[end - 1] === 0x7d) {
    return b.subarray(start + BODY_KEY.length, end)
  }
  const rec = decodeRecord(envelope, { maxRecordBytes: Number.MAX_SAFE_INTEGER, maxDepth: 10_000 })
  return Buffer.from(JSON.stringify(rec.record.body))
}

/** The members after the body of a canonical payload, read from its tail (see `bodyBytes` for why the last `,"seq":` opens it). */
function tailOf (envelope: Uint8Array): Pick<UnsignedRecord, 'seq' | 'tlp' | 'to' | 'ts'> | undefined {
  const b = Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength)
  const at = b.lastIndexOf(SEQ_KEY)
  if (at <= HEADER_BYTES || b[b.length - 1] !== 0x7d) return undefined
  try {
    const t = JSON.parse('{' + b.toString('utf8', at + 1)) as Record<string, unknown>
    if (typeof t.seq !== 'number' || typeof t.ts !== 'number' || !isTlp(t.tlp)) return undefined
    if (t.to !== undefined && !(Array.isArray(t.to) && t.to.every(p => typeof p === 'string'))) return undefined
    return t as unknown as Pick<UnsignedRecord, 'seq' | 'tlp' | 'to' | 'ts'>
  } catch {
    return undefined
  }
}

/**
 * A stored record as the outbound policy and the sync scopes read it, without parsing its body:
 * author, type and STIX id from the RecordInfo stored beside it, seq, TLP, recipients and ts from
 * the payload's tail; the body is parsed on first use (a rule that looks at it, a sighting's
 * targets). Serving many records, most decisions then never parse one. The bytes are this
 * store's own, checked in full when they came in.
 */
export class StoredRecordView {
  readonly id: string
  readonly bytes: Uint8Array
  readonly author: string
  readonly seq: number
  readonly ts: number
  readonly tlp: Tlp
  readonly to?: string[]
  readonly type: string
  readonly stixId: string
  private parsed: UnsignedRecord | undefined

  constructor (id: string, info: RecordInfo, bytes: Uint8Array) {
    this.id = id
    this.bytes = bytes
    const tail = tailOf(bytes) ?? this.record
    this.author = info.author
    this.seq = tail.seq
    this.ts = tail.ts
    this.tlp = tail.tlp
    if (tail.to != null) this.to = tail.to
    this.type = info.type
    this.stixId = info.stixId
  }

  /** The whole payload, parsed once on first use. */
  get record (): UnsignedRecord {
    if (this.parsed === undefined) this.parsed = parseDecodedRecord(this.bytes, this.id).record
    return this.parsed
  }

  get body (): UnsignedRecord['body'] {
    return this.record.body
  }
}

export interface ArrivalEntry {
  arrival: number
  id: string
}

/** Up to `limit` entries of the arrival index after `after` (exclusive), in order. */
export async function arrivalPage (store: Store, after: number, limit: number): Promise<ArrivalEntry[]> {
  const out: ArrivalEntry[] = []
  for await (const e of store.byArrival(after, { limit })) out.push(e)
  return out
}

/** Entries of the arrival index with their RecordInfo, one LevelDB round for the infos. */
export async function arrivalInfoPage (store: Store, after: number, limit: number): Promise<Array<ArrivalEntry & { info: RecordInfo }>> {
  const page = await arrivalPage(store, after, limit)
  const infos = await store.getManyInfo(page.map(e => e.id))
  const out: Array<ArrivalEntry & { info: RecordInfo }> = []
  page.forEach((e, i) => {
    const info = infos[i]
    if (info != null) out.push({ ...e, info })
  })
  return out
}

/**
 * The arrival number after which records have `addedAt > ms`: a binary search over the arrival
 * index. Writes are serialised and stamp Date.now() in arrival order, so addedAt does not
 * decrease along arrivals (a wall clock stepped back by NTP could break that for the few records
 * written in the step; they are still filtered one by one by the caller).
 */
export async function arrivalBefore (store: Store, ms: number): Promise<number> {
  let lo = 0
  let hi = store.counts().arrival
  const at = async (n: number): Promise<{ arrival: number, info: RecordInfo } | undefined> => {
    const [e] = await arrivalPage(store, n - 1, 1)
    if (e == null) return undefined
    const info = await store.getInfo(e.id)
    return info == null ? undefined : { arrival: e.arrival, info }
  }
  // Invariant: every record at or below lo has addedAt <= ms; the answer lies in [lo, hi].
  while (lo < hi) {
    const mid = Math.floor((lo + hi + 1) / 2)
    const e = await at(mid)
    if (e == null) { hi = mid - 1; continue }
    if (e.info.addedAt <= ms) lo = e.arrival
    else hi = mid - 1
  }
  return lo
}

/**
 * Which STIX ids have more than one stored record (several versions, or copies of a version by
 * other members). Most objects have one, and then "is this the latest version?" needs no lookup:
 * serving in arrival order asks that for every record, and a versions scan per record would cost
 * more than reading the record. Built by one scan of the versions index, then kept current by
 * `noteStored` (wire it to ingest's onStored). While a just-stored id is being classified it
 * counts as "maybe several", so callers look it up: the index may say "look" needlessly, never
 * "single" wrongly.
 */
export class VersionIndex {
  private readonly multi = new Set<string>()
  private readonly pending = new Map<string, number>()
  private readonly queue: string[] = []
  private draining = false
  readonly ready: Promise<void>

  constructor (private readonly store: Store) {
    this.ready = this.build()
  }

  private async build (): Promise<void> {
    let last = ''
    for await (const [k] of this.store.iterateRaw('versions')) {
      const stixId = k.slice(0, k.indexOf('!'))
      if (stixId === last) this.multi.add(stixId)
      last = stixId
    }
  }

  /** A record of this STIX id was stored. */
  noteStored (stixId: string): void {
    if (this.multi.has(stixId)) return
    this.pending.set(stixId, (this.pending.get(stixId) ?? 0) + 1)
    this.queue.push(stixId)
    if (!this.draining) void this.drain()
  }

  private async drain (): Promise<void> {
    this.draining = true
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, 256)
        await Promise.all(batch.map(async (stixId) => {
          try {
            if (this.store.isOpen && (await this.store.versions(stixId)).length > 1) this.multi.add(stixId)
          } catch {
            // A closed store answers nothing; the id stays "maybe several" and is looked up.
            return
          }
          const n = (this.pending.get(stixId) ?? 1) - 1
          if (n <= 0) this.pending.delete(stixId)
          else this.pending.set(stixId, n)
        }))
      }
    } finally {
      this.draining = false
    }
  }

  /** False only when the id certainly has a single stored record. */
  maybeSeveral (stixId: string): boolean {
    return this.multi.has(stixId) || this.pending.has(stixId)
  }

  get size (): number {
    return this.multi.size
  }
}

export interface CurrentFilter {
  tlp?: ReadonlySet<string>
  types?: ReadonlySet<string>
  /** only records that arrived at or after this time (ms) */
  sinceMs?: number
}

export interface CurrentRecord {
  id: string
  info: RecordInfo
  /** the STIX object as JSON bytes */
  body: Uint8Array
}

function expiredOrRevoked (body: Record<string, unknown>, now: number): boolean {
  if (body.revoked === true) return true
  if (body.type === 'indicator' && typeof body.valid_until === 'string') {
    const t = Date.parse(body.valid_until)
    if (!Number.isNaN(t) && t <= now) return true
  }
  return false
}

/**
 * Current objects in arrival order, a page at a time, one record per STIX id: the newest
 * version its owner published (see currentIds), not revoked, not expired; of several copies of
 * that version, the first to arrive. Pages keep memory flat however large the store.
 */
export async function * currentRecords (store: Store, filter: CurrentFilter = {}, opts: { now?: number, pageSize?: number, index?: VersionIndex } = {}): AsyncGenerator<CurrentRecord[]> {
  const now = opts.now ?? Date.now()
  const index = opts.index ?? new VersionIndex(store)
  await index.ready
  const pageSize = opts.pageSize ?? 1000
  let after = filter.sinceMs != null ? await arrivalBefore(store, filter.sinceMs - 1) : 0
  while (true) {
    const page = await arrivalInfoPage(store, after, pageSize)
    if (page.length === 0) return
    after = page[page.length - 1].arrival
    const wanted = page.filter(e => (filter.tlp == null || filter.tlp.has(e.info.tlp)) &&
      (filter.types == null || filter.types.has(e.info.type)) &&
      (filter.sinceMs == null || e.info.addedAt >= filter.sinceMs))
    if (wanted.length === 0) continue
    const bytes = await store.getManyBytes(wanted.map(e => e.id))
    const out: CurrentRecord[] = []
    for (let i = 0; i < wanted.length; i++) {
      const e = wanted[i]
      const b = bytes[i]
      if (b == null) continue
      const body = bodyBytes(b)
      if (!index.maybeSeveral(e.info.stixId)) {
        if (expiredOrRevoked(JSON.parse(Buffer.from(body).toString('utf8')) as Record<string, unknown>, now)) continue
        out.push({ id: e.id, info: e.info, body })
        continue
      }
      const [versions, owner] = await Promise.all([store.versions(e.info.stixId), store.owner(e.info.stixId)])
      const current = currentIds(versions, owner, now)
      if (!current.has(e.id)) continue
      // Copies of the current version by other members: the first to arrive stands for all.
      if (current.size > 1) {
        const infos = await store.getManyInfo([...current])
        const first = Math.min(...infos.map(x => x?.arrival ?? Infinity))
        if (first !== e.arrival) continue
      }
      out.push({ id: e.id, info: e.info, body })
    }
    if (out.length > 0) yield out
  }
}
