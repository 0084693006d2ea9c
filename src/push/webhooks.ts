import { createHash, createHmac } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import type { WebhookConfig } from '../config/config.js'
import { DragnetError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Store } from '../store/index.js'
import type { MemberInfo } from '../api/provenance.js'
import { packageVersion } from '../util/version.js'
import { ArrivalFollower, eventOf, pushFilter, type PushEvent } from './events.js'

/*
 * Webhooks: every stored record that matches a hook's filter is POSTed to its URL as JSON (the
 * event the SSE stream sends), signed with HMAC-SHA256 under the hook's secret.
 *
 * Each hook has a queue on disk (`<data>/webhooks`, a LevelDB of its own) and a cursor into the
 * store's arrival index. Records are taken into the queue by reading the arrival index from the
 * cursor, and the queue entries and the cursor move in one batch: a record stored while the node
 * runs, while a delivery fails, or just before a crash is queued exactly once, and the queue
 * survives a restart. Deliveries go one at a time, oldest first; a failure (no answer, a timeout,
 * any status but 2xx) is retried after an exponential backoff (retryMinMs doubling up to
 * retryMaxMs, with jitter), indefinitely: a target that is down gets everything once it is back.
 * What bounds the wait is the queue: past maxQueue entries the oldest are dropped and counted.
 * Delivery is at least once (a crash between the target's answer and the queue update sends that
 * record again): receivers dedupe on X-Dragnet-Delivery, the record's arrival number.
 */

export const SIGNATURE_HEADER = 'x-dragnet-signature'
export const DELIVERY_HEADER = 'x-dragnet-delivery'
export const HOOK_HEADER = 'x-dragnet-hook'

/** `sha256=<hex>`: HMAC-SHA256 of the exact body bytes under the hook's secret. */
export function signBody (secret: string, body: string | Uint8Array): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex')
}

export interface WebhookStats {
  name: string
  url: string
  queued: number
  delivered: number
  dropped: number
  /** failed attempts since the node started */
  failures: number
  lastError?: string
  lastDeliveredAt?: number
  /** when the next attempt is due, while retrying */
  retryAt?: number
}

export interface WebhooksComponents {
  store: Store
  onStored: (fn: () => void) => () => void
  memberOf: (peerId: string) => MemberInfo | undefined
  log: Logger
}

interface Persisted { delivered: number, dropped: number }

const enc = new TextEncoder()
const dec = new TextDecoder()

function pad (n: number): string {
  return String(n).padStart(16, '0')
}

function describeUrl (url: string): string {
  // Credentials in a URL are secrets too: never in logs, metrics or status.
  const u = new URL(url)
  u.username = ''
  u.password = ''
  return u.toString()
}

/** One hook: its queue and cursor in the shared database, its delivery loop. */
class Hook {
  readonly name: string
  private readonly key: string
  private readonly stats: Persisted = { delivered: 0, dropped: 0 }
  private queued = 0
  private failures = 0
  private lastError: string | undefined
  private lastDeliveredAt: number | undefined
  private retryAt: number | undefined
  private follower: ArrivalFollower | null = null
  private running = false
  private wake: (() => void) | null = null
  /** records were queued since the loop last looked */
  private signalled = false
  private loop: Promise<void> = Promise.resolve()
  private readonly abort = new AbortController()
  private inFlight: string | undefined
  private lock: Promise<unknown> = Promise.resolve()

  constructor (private readonly cfg: WebhookConfig, private readonly secret: string, private readonly db: Level<string, Uint8Array>, private readonly c: WebhooksComponents) {
    this.name = cfg.name ?? describeUrl(cfg.url)
    // Keys are derived from the name: any URL fits, and a renamed hook starts a queue of its own.
    this.key = createHash('sha256').update(this.name).digest('hex').slice(0, 16)
  }

  private qPrefix (): string {
    return `q:${this.key}!`
  }

  private exclusive<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn)
    this.lock = run.catch(() => {})
    return run
  }

  async start (): Promise<void> {
    const cursorText = await this.db.get(`cur:${this.key}`)
    const st = await this.db.get(`st:${this.key}`)
    if (st != null) Object.assign(this.stats, JSON.parse(dec.decode(st)) as Persisted)
    // A new hook starts with the next record stored; a known one where it left off.
    const after = cursorText != null ? Number(dec.decode(cursorText)) : this.c.store.counts().arrival
    if (cursorText == null) await this.db.put(`cur:${this.key}`, enc.encode(String(after)))
    for await (const _ of this.db.keys({ gte: this.qPrefix(), lt: `q:${this.key}"` })) this.queued++
    this.running = true
    this.follower = new ArrivalFollower({
      store: this.c.store,
      onStored: this.c.onStored,
      memberOf: this.c.memberOf,
      filter: pushFilter(this.cfg.filter),
      after,
      deliver: async (events, next) => { await this.enqueue(events, next) },
      onError: (err) => { this.c.log.warn({ hook: this.name, err: err.message }, 'webhook: could not read records to queue') }
    })
    this.follower.start()
    this.loop = this.run()
  }

  async stop (): Promise<void> {
    this.running = false
    this.abort.abort()
    this.wake?.()
    await this.follower?.stop()
    await this.loop
    await this.lock
  }

  private async enqueue (events: PushEvent[], next: number): Promise<void> {
    await this.exclusive(async () => {
      const batch = this.db.batch()
      for (const e of events) batch.put(this.qPrefix() + pad(e.arrival), enc.encode(e.id))
      batch.put(`cur:${this.key}`, enc.encode(String(next)))
      await batch.write()
      this.queued += events.length
      if (this.queued > this.cfg.maxQueue) await this.trim(this.queued - this.cfg.maxQueue)
    })
    if (events.length > 0) {
      this.signalled = true
      this.wake?.()
    }
  }

  /** Drops the oldest entries (never the one being sent) to keep the queue within maxQueue. */
  private async trim (excess: number): Promise<void> {
    const doomed: string[] = []
    for await (const k of this.db.keys({ gte: this.qPrefix(), lt: `q:${this.key}"`, limit: excess + 1 })) {
      if (k === this.inFlight) continue
      if (doomed.length < excess) doomed.push(k)
    }
    if (doomed.length === 0) return
    this.stats.dropped += doomed.length
    const batch = this.db.batch()
    for (const k of doomed) batch.del(k)
    batch.put(`st:${this.key}`, enc.encode(JSON.stringify(this.stats)))
    await batch.write()
    this.queued -= doomed.length
    this.c.log.warn({ hook: this.name, dropped: doomed.length, maxQueue: this.cfg.maxQueue }, 'webhook queue full: dropped the oldest records')
  }

  private async head (): Promise<{ key: string, arrival: number, id: string } | undefined> {
    for await (const [k, v] of this.db.iterator({ gte: this.qPrefix(), lt: `q:${this.key}"`, limit: 1 })) {
      return { key: k, arrival: Number(k.slice(this.qPrefix().length)), id: dec.decode(v) }
    }
    return undefined
  }

  private async sleep (ms: number): Promise<void> {
    await new Promise<void>(resolve => {
      const t = setTimeout(done, ms)
      function done (): void { clearTimeout(t); resolve() }
      this.wake = done
    })
    this.wake = null
  }

  private async run (): Promise<void> {
    let attempt = 0
    while (this.running) {
      this.signalled = false
      const h = await this.head().catch(() => undefined)
      if (h == null) {
        if (!this.signalled) await this.sleep(60_000)
        continue
      }
      this.inFlight = h.key
      const ok = await this.send(h.arrival, h.id)
      if (!this.running) break
      if (ok) {
        attempt = 0
        this.retryAt = undefined
        await this.ack(h.key)
        continue
      }
      const backoff = Math.min(this.cfg.retryMaxMs, this.cfg.retryMinMs * 2 ** Math.min(attempt++, 30))
      const wait = Math.round(backoff * (0.75 + Math.random() * 0.25))
      this.retryAt = Date.now() + wait
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, wait)
        this.abort.signal.addEventListener('abort', () => { clearTimeout(t); resolve() }, { once: true })
      })
    }
    this.inFlight = undefined
  }

  private async ack (key: string): Promise<void> {
    await this.exclusive(async () => {
      this.inFlight = undefined
      const stats = { ...this.stats, delivered: this.stats.delivered + 1 }
      await this.db.batch().del(key).put(`st:${this.key}`, enc.encode(JSON.stringify(stats))).write()
      this.stats.delivered = stats.delivered
      this.lastDeliveredAt = Date.now()
      this.queued = Math.max(0, this.queued - 1)
    })
  }

  /** One POST; true when the target took it (2xx). A record the store no longer holds counts as sent. */
  private async send (arrival: number, id: string): Promise<boolean> {
    const event = await eventOf(this.c.store, arrival, id, this.c.memberOf).catch(() => undefined)
    if (event == null) return this.c.store.isOpen
    const body = JSON.stringify(event)
    try {
      const res = await fetch(this.cfg.url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.cfg.timeoutMs)]),
        headers: {
          'content-type': 'application/json',
          'user-agent': `dragnet/${packageVersion()}`,
          [SIGNATURE_HEADER]: signBody(this.secret, body),
          [DELIVERY_HEADER]: String(arrival),
          [HOOK_HEADER]: this.name
        },
        body
      })
      await res.body?.cancel().catch(() => {})
      if (res.status >= 200 && res.status < 300) return true
      this.fail(`HTTP ${res.status}`)
    } catch (err: any) {
      this.fail(err?.cause?.code ?? err?.name ?? String(err))
    }
    return false
  }

  private fail (why: string): void {
    this.failures++
    if (why !== this.lastError) this.c.log.warn({ hook: this.name, error: why }, 'webhook delivery failed: retrying with backoff')
    this.lastError = why
  }

  snapshot (): WebhookStats {
    const out: WebhookStats = { name: this.name, url: describeUrl(this.cfg.url), queued: this.queued, delivered: this.stats.delivered, dropped: this.stats.dropped, failures: this.failures }
    if (this.lastError != null) out.lastError = this.lastError
    if (this.lastDeliveredAt != null) out.lastDeliveredAt = this.lastDeliveredAt
    if (this.retryAt != null) out.retryAt = this.retryAt
    return out
  }
}

/** Reads a hook's secret: inline, or from its file (trimmed). Never logged. */
async function secretOf (h: WebhookConfig): Promise<string> {
  if (h.secret != null) return h.secret
  let text: string
  try {
    text = (await readFile(h.secretFile!, 'utf8')).trim()
  } catch (err: any) {
    throw new DragnetError('DRAGNET_BAD_CONFIG', `webhook ${h.name ?? describeUrl(h.url)}: cannot read secretFile ${h.secretFile!}: ${err.code ?? err.message}`, { property: 'webhooks.secretFile' })
  }
  if (text.length < 16) throw new DragnetError('DRAGNET_BAD_CONFIG', `webhook ${h.name ?? describeUrl(h.url)}: the secret in ${h.secretFile!} is shorter than 16 characters`, { property: 'webhooks.secretFile' })
  return text
}

/** Every configured webhook, over one queue database in the data dir. */
export class Webhooks {
  private db: Level<string, Uint8Array> | null = null
  private hooks: Hook[] = []

  constructor (private readonly c: WebhooksComponents, private readonly configs: readonly WebhookConfig[], private readonly dataDir: string) {}

  async start (): Promise<void> {
    const secrets = await Promise.all(this.configs.map(secretOf))
    const db = new Level<string, Uint8Array>(join(this.dataDir, 'webhooks'), { keyEncoding: 'utf8', valueEncoding: 'view' })
    await db.open()
    this.db = db
    try {
      for (let i = 0; i < this.configs.length; i++) {
        const hook = new Hook(this.configs[i], secrets[i], db, this.c)
        await hook.start()
        this.hooks.push(hook)
      }
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  async stop (): Promise<void> {
    for (const h of this.hooks.splice(0)) await h.stop()
    await this.db?.close()
    this.db = null
  }

  stats (): WebhookStats[] {
    return this.hooks.map(h => h.snapshot())
  }
}
