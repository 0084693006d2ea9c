import { DragnetError } from '../errors.js'
import { isTlp, TLP_LEVELS, type Tlp } from '../record/index.js'
import type { StixObject } from '../stix/index.js'
import { arrivalInfoPage, bodyBytes } from '../store/reads.js'
import type { RecordInfo, Store } from '../store/index.js'
import { Provenance, type MemberInfo } from '../api/provenance.js'

/*
 * Records pushed to consumers (the SSE stream, webhooks) follow the store's arrival index, never
 * the in-memory "stored" notifications themselves: a notification only says "read on". The
 * consumer keeps a cursor (the last arrival number it examined) and reads what the store holds
 * after it. So a consumer that starts from a past cursor replays, then continues live, without
 * a gap or a duplicate at the seam, whatever order notifications come in; and a cursor persisted
 * on disk resumes after a restart.
 */

/** Which records a consumer wants; absent parts match everything. */
export interface PushFilter {
  tlp?: ReadonlySet<Tlp>
  types?: ReadonlySet<string>
  authors?: ReadonlySet<string>
}

/** One record as pushed: its served STIX object with the provenance export carries. */
export interface PushEvent {
  /** the record's local arrival number: the SSE event id, the webhook delivery id */
  arrival: number
  id: string
  tlp: Tlp
  author: string
  type: string
  stixId: string
  /** when this node stored it (ms) */
  addedAt: number
  /** the STIX object as export serves it: TLP 2.0 marking, author identity as creator */
  object: StixObject
  /** the marking definition and member identity objects `object` references */
  provenance: StixObject[]
}

export function matchesFilter (filter: PushFilter, info: RecordInfo): boolean {
  return (filter.tlp == null || filter.tlp.has(info.tlp)) &&
    (filter.types == null || filter.types.has(info.type)) &&
    (filter.authors == null || filter.authors.has(info.author))
}

/** A filter from lists (query parameters or config); an empty or absent list matches everything. */
export function pushFilter (lists: { tlp?: string[], type?: string[], author?: string[] }): PushFilter {
  const out: { tlp?: Set<Tlp>, types?: Set<string>, authors?: Set<string> } = {}
  if (lists.tlp != null && lists.tlp.length > 0) {
    for (const t of lists.tlp) if (!isTlp(t)) throw new DragnetError('DRAGNET_BAD_TLP', `tlp must be one of ${TLP_LEVELS.join(', ')}, got ${t}`, { property: 'tlp' })
    out.tlp = new Set(lists.tlp as Tlp[])
  }
  if (lists.type != null && lists.type.length > 0) out.types = new Set(lists.type)
  if (lists.author != null && lists.author.length > 0) out.authors = new Set(lists.author)
  return out
}

/** Narrows a filter to the TLP levels a consumer may see (a ceiling no filter widens). */
export function withinTlps (filter: PushFilter, allowed: readonly Tlp[]): PushFilter {
  const tlp = new Set(allowed.filter(t => filter.tlp == null || filter.tlp.has(t)))
  return { ...filter, tlp }
}

export interface EventPage {
  events: PushEvent[]
  /** the last arrival number examined: the cursor to read on from */
  next: number
}

/**
 * The records after arrival `after` that match, at most `limit` arrivals examined. `next` moves
 * past records that do not match, so a cursor never reads them again.
 */
export async function eventsAfter (store: Store, after: number, filter: PushFilter, limit: number, memberOf: (peerId: string) => MemberInfo | undefined): Promise<EventPage> {
  const page = await arrivalInfoPage(store, after, limit)
  if (page.length === 0) return { events: [], next: after }
  const next = page[page.length - 1].arrival
  const wanted = page.filter(e => matchesFilter(filter, e.info))
  const bytes = wanted.length > 0 ? await store.getManyBytes(wanted.map(e => e.id)) : []
  const events: PushEvent[] = []
  wanted.forEach((e, i) => {
    const b = bytes[i]
    if (b != null) events.push(buildEvent(e.arrival, e.id, e.info, b, memberOf))
  })
  return { events, next }
}

function buildEvent (arrival: number, id: string, info: RecordInfo, envelope: Uint8Array, memberOf: (peerId: string) => MemberInfo | undefined): PushEvent {
  const prov = new Provenance(memberOf)
  const object = prov.serve(JSON.parse(Buffer.from(bodyBytes(envelope)).toString('utf8')) as StixObject, info.tlp, info.author)
  return { arrival, id, tlp: info.tlp, author: info.author, type: info.type, stixId: info.stixId, addedAt: info.addedAt, object, provenance: prov.extras() }
}

/** The event of one stored record (a webhook's queued delivery); undefined if the store no longer holds it. */
export async function eventOf (store: Store, arrival: number, id: string, memberOf: (peerId: string) => MemberInfo | undefined): Promise<PushEvent | undefined> {
  const [info, bytes] = await Promise.all([store.getInfo(id), store.getBytes(id)])
  return info != null && bytes != null ? buildEvent(arrival, id, info, bytes, memberOf) : undefined
}

export interface FollowerInit {
  store: Store
  /** subscribes to "a record was stored"; returns the unsubscription */
  onStored: (fn: () => void) => () => void
  memberOf: (peerId: string) => MemberInfo | undefined
  filter: PushFilter
  /** the arrival number to read after */
  after: number
  /** hands over a page of events; the cursor moves past them once it resolves */
  deliver: (events: PushEvent[], next: number) => Promise<void>
  onError: (err: Error) => void
  /** arrivals examined per store read (default 256) */
  pageSize?: number
}

/**
 * Reads the arrival index from a cursor to its end whenever a record is stored, one read at a
 * time: notifications during a read make one more pass, not one each.
 */
export class ArrivalFollower {
  private cursor: number
  private reading = false
  private again = false
  private stopped = true
  private off: (() => void) | null = null
  private idle: Promise<void> = Promise.resolve()

  constructor (private readonly init: FollowerInit) {
    this.cursor = init.after
  }

  get position (): number {
    return this.cursor
  }

  start (): void {
    if (!this.stopped) return
    this.stopped = false
    this.off = this.init.onStored(() => { this.kick() })
    this.kick()
  }

  /** Stops reading; resolves when a read in progress has finished. */
  async stop (): Promise<void> {
    this.stopped = true
    this.off?.()
    this.off = null
    await this.idle
  }

  kick (): void {
    if (this.stopped) return
    if (this.reading) {
      this.again = true
      return
    }
    this.reading = true
    this.idle = this.drain().finally(() => { this.reading = false })
  }

  private async drain (): Promise<void> {
    const size = this.init.pageSize ?? 256
    try {
      do {
        this.again = false
        while (!this.stopped && this.init.store.isOpen) {
          const page = await eventsAfter(this.init.store, this.cursor, this.init.filter, size, this.init.memberOf)
          if (page.next === this.cursor) break
          await this.init.deliver(page.events, page.next)
          this.cursor = page.next
        }
      } while (this.again && !this.stopped)
    } catch (err) {
      if (!this.stopped) this.init.onError(err as Error)
    }
  }
}
