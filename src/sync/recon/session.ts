import { DragnetError } from '../../errors.js'
import {
  MAX_BOUND_BYTES, MessageWriter, MODE_FINGERPRINT, MODE_ID_DIFF, MODE_ID_LIST, decodeMessage, malformed,
  type WireRange
} from './codec.js'
import { diffAgainst, ItemCursor } from './diff.js'
import { compareBounds, MAX_BOUND, MIN_BOUND, separator, type Bound, type ReconItem } from './item.js'
import { accAddSum, equalBytes, FINGERPRINT_BYTES, fingerprintOf, newAcc, summaryOf, type RangeSummary } from './sum.js'
import type { ReconView } from './view.js'

/*
 * Range-based set reconciliation (after Meyer, "Range-Based Set Reconciliation", 2023), as two
 * pure state machines. The initiator opens the whole space [MIN, MAX); after that both sides
 * run the same rule on every range the other sent:
 *
 *   FINGERPRINT  equal to mine → settled. Otherwise, holding at most idListThreshold items
 *                there, I send my ID_LIST; else I split the range into b parts of about equal
 *                count (by my items) and send each part's FINGERPRINT.
 *   ID_LIST      I now know both sides of the range: I record what I lack (need) and what the
 *                other lacks (have) and send one ID_DIFF, which tells the other side both.
 *   ID_DIFF      the other side's answer to my ID_LIST: I record have/need. Nothing follows.
 *
 * A side replies exactly when the message it got holds a FINGERPRINT or an ID_LIST; an empty
 * reply means "all equal". So identical sets finish in one round trip: the initiator's
 * fingerprints, then an empty answer.
 *
 * Choices that keep the round trips down (a round trip is one message each way):
 * - Branching follows a ladder of range sizes (autoBranching): wide splits while ranges are
 *   large and nearly every part differs anyway, narrow ones low down where most parts are equal
 *   and each extra fingerprint is overhead. With the default threshold of 6, a million items
 *   reach id lists after six splits (8, 14, 15, 8, 4, 5 parts): the sixth split is in the
 *   initiator's fourth message at the latest, the answering ID_DIFF closes the fourth round
 *   trip. Parts are cut a sixth below the next rung so the other side, whose count differs by
 *   the few differences inside, still lands on that rung.
 * - FINGERPRINT carries the sender's count. A side that holds few items where the other holds
 *   many lists them at once (the other side's answer must carry its extra ids anyway); a side
 *   that holds many where the other holds few sends one fingerprint back, which makes the other
 *   side list; and the rung is chosen by the smaller count, so a burst of extra items on one
 *   side is cut finely enough for the other side to keep pace.
 * - A differing range whose neighbour in the same message differs too lies in a dense region;
 *   it is listed up to four times the threshold instead of split again.
 *
 * Frame limit. A reply never exceeds maxMessageBytes. Ranges are answered in order; when the
 * next answer would not fit, everything still unanswered from there to the end of the last
 * request is folded into one FINGERPRINT range, which the other side treats like any other (it
 * splits it again). Every message thus answers the previous one completely, and neither side
 * keeps a backlog. An ID_DIFF too large for one frame covers only a prefix of its list's range
 * and the rest is folded; the answer for a huge range streams out over several rounds.
 *
 * Resolved ranges. Once an ID_LIST/ID_DIFF exchange has covered a range, both sides know its
 * differences, and the records have not moved yet (this core only finds differences). Every
 * count, fingerprint and list from then on treats such ranges as empty on both sides, so a
 * fold that spans them compares equal there and nothing is reported twice. Both sides learn of
 * a resolved range in the same message, so their views of it agree.
 *
 * The view may change between rounds (the node keeps ingesting); the result is then only as
 * exact as the view was when each range was compared, and the next periodic session picks up
 * what moved.
 *
 * Strictness: every message is decoded and checked in full before anything is answered
 * (codec.ts lists the per-message rules); an ID_DIFF must answer an open ID_LIST of mine,
 * starting where it starts; no open list may be left uncovered; messages over maxMessageBytes
 * and sessions over maxRounds are refused. Any violation throws DragnetError
 * (DRAGNET_BAD_REQUEST) and the session is dead.
 */

export interface ReconOptions {
  /** largest message either side sends or accepts; default 1 MiB, at least 512 */
  maxMessageBytes?: number
  /** a differing range with at most this many items (mine) is sent as an id list; default 6 */
  idListThreshold?: number
  /** fixed number of parts to split a differing range into; default adapts to the range count */
  branching?: number
  /** messages a side accepts before it gives up; default 1024 */
  maxRounds?: number
}

export interface ReconStep {
  /** the reply to send; absent when this side has nothing more to say */
  message?: Uint8Array
  /** ids this side holds that the other lacks, found in this step */
  have: Uint8Array[]
  /** ids the other side holds that this side lacks, found in this step */
  need: Uint8Array[]
  /** true once this side expects nothing more: after sending a reply that asks nothing, or receiving one */
  done: boolean
}

export interface ReconStats {
  rounds: number
  messagesSent: number
  messagesReceived: number
  bytesSent: number
  bytesReceived: number
}

export interface ReconSession {
  readonly role: 'initiator' | 'responder'
  readonly done: boolean
  readonly stats: ReconStats
  consume (message: Uint8Array): ReconStep
}

export interface ReconInitiator extends ReconSession {
  /** the first message; call once, before consume */
  initiate (): Uint8Array
}

export const DEFAULT_MAX_MESSAGE_BYTES = 1 << 20
export const MIN_MAX_MESSAGE_BYTES = 512
export const MAX_MAX_MESSAGE_BYTES = 64 << 20
export const DEFAULT_ID_LIST_THRESHOLD = 6
export const MAX_ID_LIST_THRESHOLD = 256
export const MAX_BRANCHING = 64
export const DEFAULT_MAX_ROUNDS = 1024

/** room kept free in every reply for the fold: a skip range and a fingerprint range */
const FOLD_RESERVE = (MAX_BOUND_BYTES + 1) + (MAX_BOUND_BYTES + 1 + 9 + FINGERPRINT_BYTES)
/**
 * When the other side holds at least 2c + t items where I hold c, I list my c items even above
 * the threshold (up to this many): the other side's answer must carry all its extra ids anyway,
 * at least as many bytes as my list, and the range is settled a level or more sooner.
 */
const EAGER_LIST_MAX = 256
/**
 * A differing range next to another differing one sits in a dense region, where splitting
 * further only buys more differing parts: list it up to this many times the threshold. In
 * sparse regions a differing range's neighbours are almost always equal, so this rarely fires
 * there.
 */
const DENSE_LIST_FACTOR = 4
/** worst-case cost of an ID_DIFF around its payload: skip, bound, mode, two counts */
const ID_DIFF_OVERHEAD = (MAX_BOUND_BYTES + 1) + (MAX_BOUND_BYTES + 1) + 2 * 9

/**
 * How many parts to split a differing range of `count` items into. The ladder of level sizes is
 * fixed by the id-list threshold t: level 0 holds ranges of at most t items (listed), level k
 * ranges of at most U_k = U_{k-1}·r_k items, r = 4, 4, 7.5, 15, 15, ... A range of level k is
 * cut into parts of at most P_{k-1} = 5/6·U_{k-1} items (P_0 = 2/3·t), so the other side, whose
 * count differs by the few differences in the range, still finds each part one level lower.
 * For t = 6: 6, 24, 96, 720, 10800, 162000, 2430000 — a million items reach id lists after six
 * splits, at 8, 14, 15, 8, 4 and 5 parts. Wide splits high up, where nearly every part holds a
 * difference anyway; narrow ones low down, where most parts are equal and each is overhead.
 * `level` (default: count) picks the rung: a side that knows the other holds far fewer items in
 * the range levels by the smaller count and cuts its own items into more parts.
 */
export function autoBranching (count: number, threshold = DEFAULT_ID_LIST_THRESHOLD, level = count): number {
  let u = threshold
  let p = Math.max(1, Math.ceil(threshold * 2 / 3))
  for (let k = 1; k < 40; k++) {
    const ratio = k <= 2 ? 4 : k === 3 ? 7.5 : 15
    const next = Math.max(u + 1, Math.floor(u * ratio))
    if (level <= next) return Math.max(2, Math.min(MAX_BRANCHING, Math.ceil(count / p)))
    u = next
    p = Math.floor(u * 5 / 6)
  }
  return MAX_BRANCHING
}

export interface ResolvedOptions {
  maxMessageBytes: number
  idListThreshold: number
  branching: number | undefined
  maxRounds: number
}

function intOption (value: number | undefined, name: string, def: number, min: number, max: number): number {
  if (value == null) return def
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new DragnetError('DRAGNET_BAD_REQUEST', `${name} must be an integer in [${min}, ${max}], got ${String(value)}`)
  }
  return value
}

export function resolveOptions (opts: ReconOptions = {}): ResolvedOptions {
  const maxMessageBytes = intOption(opts.maxMessageBytes, 'maxMessageBytes', DEFAULT_MAX_MESSAGE_BYTES, MIN_MAX_MESSAGE_BYTES, MAX_MAX_MESSAGE_BYTES)
  return {
    maxMessageBytes,
    idListThreshold: intOption(opts.idListThreshold, 'idListThreshold', DEFAULT_ID_LIST_THRESHOLD, 0, MAX_ID_LIST_THRESHOLD),
    branching: opts.branching == null ? undefined : intOption(opts.branching, 'branching', 0, 2, MAX_BRANCHING),
    maxRounds: intOption(opts.maxRounds, 'maxRounds', DEFAULT_MAX_ROUNDS, 1, 1_000_000)
  }
}

interface Interval {
  lo: Bound
  hi: Bound
}

interface OpenList extends Interval {
  items: ReconItem[]
  /** how far messages so far have answered or superseded this list */
  coveredTo: Bound
  answered: boolean
}

type State = 'new' | 'waiting' | 'done' | 'failed'

/** a request range of the incoming message, waiting for its successor */
interface Pending {
  r: WireRange
  mine?: RangeSummary
  differs: boolean
  prevDiffers: boolean
}

/**
 * What every session shares (this one and the naive baseline): the state machine's guards, the
 * checks every incoming message gets before its content is read, and the counters.
 */
export abstract class SessionBase implements ReconInitiator {
  readonly role: 'initiator' | 'responder'
  protected readonly view: ReconView
  protected readonly opts: ResolvedOptions
  protected state: State
  protected readonly counters: ReconStats = { rounds: 0, messagesSent: 0, messagesReceived: 0, bytesSent: 0, bytesReceived: 0 }

  constructor (role: 'initiator' | 'responder', view: ReconView, opts: ReconOptions = {}) {
    if (view == null) throw new DragnetError('DRAGNET_BAD_REQUEST', 'reconciliation needs a view')
    this.role = role
    this.view = view
    this.opts = resolveOptions(opts)
    this.state = role === 'initiator' ? 'new' : 'waiting'
  }

  get done (): boolean {
    return this.state === 'done'
  }

  get stats (): ReconStats {
    return { ...this.counters }
  }

  initiate (): Uint8Array {
    if (this.role !== 'initiator' || this.state !== 'new') {
      throw new DragnetError('DRAGNET_INTERNAL', 'initiate() is for a new initiator session only')
    }
    this.state = 'waiting'
    return this.first()
  }

  consume (message: Uint8Array): ReconStep {
    if (this.state === 'failed') throw new DragnetError('DRAGNET_BAD_REQUEST', 'reconciliation session already failed')
    if (this.state === 'done') throw new DragnetError('DRAGNET_BAD_REQUEST', 'reconciliation message after the session ended')
    if (this.state === 'new') throw new DragnetError('DRAGNET_INTERNAL', 'initiator must initiate() before consume()')
    try {
      if (!(message instanceof Uint8Array)) throw new DragnetError('DRAGNET_BAD_REQUEST', 'reconciliation message must be bytes')
      if (message.length > this.opts.maxMessageBytes) {
        throw new DragnetError('DRAGNET_BAD_REQUEST', `reconciliation message of ${message.length} bytes exceeds the ${this.opts.maxMessageBytes}-byte limit`)
      }
      if (++this.counters.rounds > this.opts.maxRounds) {
        throw new DragnetError('DRAGNET_BAD_REQUEST', `reconciliation did not finish within ${this.opts.maxRounds} rounds`)
      }
      this.counters.messagesReceived++
      this.counters.bytesReceived += message.length
      return this.handle(message)
    } catch (err) {
      this.state = 'failed'
      throw err
    }
  }

  protected sent (msg: Uint8Array): Uint8Array {
    this.counters.messagesSent++
    this.counters.bytesSent += msg.length
    return msg
  }

  /** the initiator's first message */
  protected abstract first (): Uint8Array
  /** a checked message's content */
  protected abstract handle (message: Uint8Array): ReconStep
}

class RangeSession extends SessionBase {
  /** sorted, disjoint, coalesced */
  private resolved: Interval[] = []
  /** id lists in my last message, ascending */
  private open: OpenList[] = []
  /** whether the message being built asks for a reply */
  private asked = false

  protected first (): Uint8Array {
    const out = new MessageWriter()
    this.asked = false
    const fold = this.openRange(out, MIN_BOUND, MAX_BOUND, this.effCount(MIN_BOUND, MAX_BOUND), this.opts.maxMessageBytes, undefined, false)
    if (fold != null) throw new DragnetError('DRAGNET_INTERNAL', 'first reconciliation message does not fit the frame limit')
    return this.sent(out.finish())
  }

  protected handle (msg: Uint8Array): ReconStep {
    const have: Uint8Array[] = []
    const need: Uint8Array[] = []

    // Pass 1: check the whole message, apply the answers to my id lists.
    const answered: Interval[] = []
    let lastRequest: Bound | null = null
    const open = this.open
    let oi = 0
    const retire = (list: OpenList): void => {
      if (compareBounds(list.coveredTo, list.hi) < 0) throw malformed('an id list was left unanswered')
    }
    decodeMessage(msg, r => {
      while (oi < open.length && compareBounds(open[oi].hi, r.lo) <= 0) retire(open[oi++])
      if (r.mode === MODE_ID_DIFF) {
        this.applyDiff(r, oi < open.length ? open[oi] : undefined, have, need)
        answered.push({ lo: r.lo, hi: r.hi })
      } else {
        const request = r.mode === MODE_FINGERPRINT || r.mode === MODE_ID_LIST
        if (request) lastRequest = r.hi
        for (let j = oi; j < open.length && compareBounds(open[j].lo, r.hi) < 0; j++) {
          const list = open[j]
          if (compareBounds(list.coveredTo, list.hi) >= 0 || compareBounds(r.lo, list.hi) >= 0) continue
          // a request range may supersede the rest of a list; a skip over it leaves it hanging
          if (!request || compareBounds(r.lo, list.coveredTo) > 0) throw malformed('an id list was left unanswered')
          list.coveredTo = compareBounds(r.hi, list.hi) < 0 ? r.hi : list.hi
        }
      }
      return true
    })
    while (oi < open.length) retire(open[oi++])
    this.open = []
    this.addResolved(answered)

    if (lastRequest == null) {
      this.state = 'done'
      return { have, need, done: true }
    }

    // Pass 2: answer every request range in order; fold the rest when the frame is full.
    const out = new MessageWriter()
    const limit = this.opts.maxMessageBytes - FOLD_RESERVE
    const produced: Interval[] = []
    let foldFrom: Bound | null = null
    this.asked = false
    // Each request range is handled once its successor is decoded, so a fingerprint range
    // knows whether its neighbours differ too (see openRange on dense regions).
    let held: Pending | null = null
    const handle = (p: Pending, nextDiffers: boolean): Bound | null => {
      if (p.r.mode === MODE_ID_LIST) return this.answerList(out, p.r, limit, have, need, produced)
      if (!p.differs) return null
      return this.openRange(out, p.r.lo, p.r.hi, p.mine!.count, limit, p.r.count!, p.prevDiffers || nextDiffers)
    }
    decodeMessage(msg, r => {
      let cur: Pending | null = null
      if (r.mode === MODE_FINGERPRINT) {
        const mine = this.effSummary(r.lo, r.hi)
        const differs = !equalBytes(fingerprintOf(mine), r.fingerprint!)
        cur = { r, mine, differs, prevDiffers: held != null && held.r.mode === MODE_FINGERPRINT && held.differs }
      } else if (r.mode === MODE_ID_LIST) {
        cur = { r, differs: true, prevDiffers: false }
      }
      if (held != null) {
        foldFrom = handle(held, cur != null && cur.r.mode === MODE_FINGERPRINT && cur.differs)
        if (foldFrom != null) return false
      }
      held = cur
      return true
    })
    if (foldFrom == null && held != null) foldFrom = handle(held, false)
    if (foldFrom != null) {
      const s = this.effSummary(foldFrom, lastRequest)
      out.range(foldFrom, lastRequest, MODE_FINGERPRINT)
      out.w.varint(s.count)
      out.w.bytes(fingerprintOf(s))
      this.asked = true
    }
    this.addResolved(produced)
    const reply = out.finish()
    if (reply.length > this.opts.maxMessageBytes) throw new DragnetError('DRAGNET_INTERNAL', 'reconciliation reply over the frame limit')
    this.state = this.asked ? 'waiting' : 'done'
    return { message: this.sent(reply), have, need, done: !this.asked }
  }

  private applyDiff (r: WireRange, list: OpenList | undefined, have: Uint8Array[], need: Uint8Array[]): void {
    if (list == null || list.answered || compareBounds(list.lo, r.lo) !== 0 || compareBounds(r.hi, list.hi) > 0) {
      throw malformed('id diff answers no open id list')
    }
    list.answered = true
    list.coveredTo = r.hi
    let slice = list.items.length
    while (slice > 0 && compareBounds(list.items[slice - 1], r.hi) >= 0) slice--
    for (const i of r.lacking!) {
      if (i >= slice) throw malformed('id diff index outside the answered list')
      have.push(list.items[i].id)
    }
    for (const id of r.extras!) need.push(id)
  }

  /**
   * A range where the sides differ and the next move is mine. I list my items when I hold few
   * (at most the threshold; up to 4x that in a dense region; up to EAGER_LIST_MAX when the other
   * side holds far more). When the other side holds few and I many, I send one fingerprint of
   * the whole range back, with my count: that makes it list. Otherwise I split the range into
   * parts, levelled by the smaller of the two counts (see autoBranching), so a side with a burst
   * of extra items cuts finely enough for the other side to keep pace. Returns null when
   * written, or the bound to fold from when not even the smallest form fits under `limit`.
   */
  private openRange (
    out: MessageWriter, lo: Bound, hi: Bound, count: number, limit: number,
    theirCount: number | undefined, dense: boolean
  ): Bound | null {
    const t = this.opts.idListThreshold
    const list = count <= t || count < 2 ||
      (dense && count <= DENSE_LIST_FACTOR * t) ||
      (theirCount != null && count <= EAGER_LIST_MAX && theirCount >= 2 * count + t)
    if (list) {
      const items = this.effItems(lo, hi)
      const m = out.mark()
      out.range(lo, hi, MODE_ID_LIST)
      out.w.varint(items.length)
      let prevTs = lo.ts
      for (const item of items) {
        out.w.varint(item.ts - prevTs)
        out.w.bytes(item.id)
        prevTs = item.ts
      }
      if (out.length <= limit) {
        this.open.push({ lo, hi, items, coveredTo: lo, answered: false })
        this.asked = true
        return null
      }
      out.reset(m)
      if (count < 2) return lo
    }
    let parts: number
    if (list) parts = 2
    else if (theirCount != null && theirCount <= t) parts = 1
    else parts = this.opts.branching ?? autoBranching(count, t, theirCount == null ? count : Math.min(count, theirCount))
    while (parts >= 1) {
      const cuts = parts > 1 ? this.view.splitPoints(lo, hi, parts) : []
      if (parts > 1 && cuts.length === 0) break
      const m = out.mark()
      let from = lo
      for (let k = 0; k <= cuts.length; k++) {
        const to = k < cuts.length ? cuts[k] : hi
        const s = this.effSummary(from, to)
        out.range(from, to, MODE_FINGERPRINT)
        out.w.varint(s.count)
        out.w.bytes(fingerprintOf(s))
        from = to
      }
      if (out.length <= limit) {
        this.asked = true
        return null
      }
      out.reset(m)
      parts = parts > 2 ? Math.max(2, parts >> 1) : 0
    }
    return lo
  }

  /**
   * Answers the other side's id list with one ID_DIFF, as much of it as fits: if the budget runs
   * out, the diff covers [lo, cut) and the returned cut is where the fold starts.
   */
  private answerList (
    out: MessageWriter, r: WireRange, limit: number,
    have: Uint8Array[], need: Uint8Array[], produced: Interval[]
  ): Bound | null {
    const theirs = r.items!
    const budget = limit - out.length - ID_DIFF_OVERHEAD
    if (budget < 0) return r.lo
    const mine = new ItemCursor((lo, hi, n) => this.effItems(lo, hi, n), r.lo, r.hi)
    const { lacking, extras, last, stop } = diffAgainst(theirs, mine, budget)
    let end = r.hi
    if (stop != null) {
      if (last == null) return r.lo
      end = separator(last, stop)
    }
    out.range(r.lo, end, MODE_ID_DIFF)
    out.w.varint(lacking.length)
    let prev = -1
    for (const i of lacking) {
      out.w.varint(i - prev - 1)
      prev = i
      need.push(theirs[i].id)
    }
    out.w.varint(extras.length)
    for (const x of extras) {
      out.w.bytes(x.id)
      have.push(x.id)
    }
    produced.push({ lo: r.lo, hi: end })
    return stop == null ? null : end
  }

  // The effective view: the session's view minus the ranges already resolved.

  private gaps (lo: Bound, hi: Bound): Interval[] {
    const res = this.resolved
    let a = 0
    let b = res.length
    while (a < b) {
      const mid = (a + b) >>> 1
      if (compareBounds(res[mid].hi, lo) <= 0) a = mid + 1
      else b = mid
    }
    const out: Interval[] = []
    let cur = lo
    for (let j = a; j < res.length && compareBounds(res[j].lo, hi) < 0; j++) {
      if (compareBounds(res[j].lo, cur) > 0) out.push({ lo: cur, hi: res[j].lo })
      if (compareBounds(res[j].hi, cur) > 0) cur = res[j].hi
    }
    if (compareBounds(cur, hi) < 0) out.push({ lo: cur, hi })
    return out
  }

  effSummary (lo: Bound, hi: Bound): RangeSummary {
    const gaps = this.gaps(lo, hi)
    if (gaps.length === 1) return this.view.summary(gaps[0].lo, gaps[0].hi)
    const acc = newAcc()
    for (const g of gaps) {
      const s = this.view.summary(g.lo, g.hi)
      accAddSum(acc, s.count, s.sum, 0, 1)
    }
    return summaryOf(acc)
  }

  effCount (lo: Bound, hi: Bound): number {
    let n = 0
    for (const g of this.gaps(lo, hi)) n += this.view.count(g.lo, g.hi)
    return n
  }

  effItems (lo: Bound, hi: Bound, limit = Number.POSITIVE_INFINITY): ReconItem[] {
    let out: ReconItem[] = []
    for (const g of this.gaps(lo, hi)) {
      if (out.length >= limit) break
      const part = this.view.items(g.lo, g.hi, limit - out.length)
      out = out.length === 0 ? part : out.concat(part)
    }
    return out
  }

  private addResolved (fresh: Interval[]): void {
    if (fresh.length === 0) return
    const all = this.resolved.concat(fresh).sort((x, y) => compareBounds(x.lo, y.lo))
    const merged: Interval[] = []
    for (const iv of all) {
      const top = merged.length > 0 ? merged[merged.length - 1] : null
      if (top != null && compareBounds(iv.lo, top.hi) <= 0) {
        if (compareBounds(iv.hi, top.hi) > 0) top.hi = iv.hi
      } else {
        merged.push({ lo: iv.lo, hi: iv.hi })
      }
    }
    this.resolved = merged
  }
}

export function createInitiator (view: ReconView, opts: ReconOptions = {}): ReconInitiator {
  return new RangeSession('initiator', view, opts)
}

export function createResponder (view: ReconView, opts: ReconOptions = {}): ReconSession {
  return new RangeSession('responder', view, opts)
}
