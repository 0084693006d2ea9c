import { Worker } from 'node:worker_threads'
import { signatureValid, type DecodeLimits } from '../record/index.js'
import type { CheckedRecord, VerifyRequest } from './checks.js'

const FROM_SOURCE = import.meta.url.endsWith('.ts')
const WORKER_URL = new URL(FROM_SOURCE ? './verify-worker.ts' : './verify-worker.js', import.meta.url)

/** Workers do not inherit tsx's loader: from source, a tiny module registers it first. */
function spawnWorker (): Worker {
  // No flags from the parent: its --import hooks (test set-up, tsx) would run before ours.
  if (!FROM_SOURCE) return new Worker(WORKER_URL, { execArgv: [] })
  const tsx = import.meta.resolve('tsx/esm/api')
  const boot = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(WORKER_URL.href)})`
  return new Worker(new URL('data:text/javascript,' + encodeURIComponent(boot)), { execArgv: [] })
}
/** Below this many signatures a batch is verified inline: posting to a worker costs more than it saves. */
export const MIN_PARALLEL = 32

export function verifyInline (items: Uint8Array[]): Uint8Array {
  const ok = new Uint8Array(items.length)
  for (let i = 0; i < items.length; i++) ok[i] = signatureValid(items[i]) ? 1 : 0
  return ok
}

/** Per item: signature valid (1) or not; with checks, what the worker's decode and STIX checks found. */
export interface Verified {
  ok: Uint8Array
  checked?: Array<CheckedRecord | undefined>
}

interface Reply { ok: Uint8Array, checked?: Array<CheckedRecord | undefined> }
interface Pending { resolve: (r: Reply) => void, reject: (err: Error) => void }

/**
 * Signature verification spread over worker threads. A catch-up of 100k records is bound by
 * Ed25519 verification (~95 µs each on one core); the workers run it beside the main thread,
 * which meanwhile parses, validates and writes the previous batch.
 */
export class VerifyPool {
  private readonly workers: Worker[] = []
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private next = 0
  private closed = false
  /** resolves once every worker has loaded its code (seconds from source under tsx) */
  readonly ready: Promise<void>

  constructor (size: number) {
    const booted: Array<Promise<void>> = []
    for (let i = 0; i < size; i++) {
      const w = spawnWorker()
      w.unref()
      booted.push(new Promise<void>((resolve, reject) => {
        const onMessage = (msg: { ready?: boolean }): void => { if (msg.ready === true) { w.off('message', onMessage); resolve() } }
        w.on('message', onMessage)
        w.once('error', reject)
      }))
      w.on('message', (msg: { id: number, ok: Uint8Array, checked?: Array<CheckedRecord | undefined> }) => {
        if (msg.ok == null) return
        const p = this.pending.get(msg.id)
        if (p == null) return
        this.pending.delete(msg.id)
        p.resolve(msg)
      })
      w.on('error', (err) => {
        for (const p of this.pending.values()) p.reject(err)
        this.pending.clear()
      })
      this.workers.push(w)
    }
    this.ready = Promise.all(booted).then(() => {})
    this.ready.catch(() => {})
  }

  get size (): number {
    return this.workers.length
  }

  /** One flag per item: 1 when the envelope's signature is valid. Items must have passed checkShape. */
  async verify (items: Uint8Array[]): Promise<Uint8Array> {
    return (await this.verifyAndCheck(items)).ok
  }

  /**
   * Signatures and, given `check`, the decode and STIX checks of every record whose signature is
   * valid, in the workers: the main thread is left with what needs the store. Batches too small
   * to be worth a worker are verified inline and come back without `checked`.
   */
  async verifyAndCheck (items: Uint8Array[], check?: { ids: string[], limits: DecodeLimits }): Promise<Verified> {
    if (this.closed || this.workers.length === 0 || items.length < MIN_PARALLEL) return { ok: verifyInline(items) }
    const chunks = Math.min(this.workers.length, Math.ceil(items.length / MIN_PARALLEL))
    const per = Math.ceil(items.length / chunks)
    const parts: Array<Promise<Reply>> = []
    for (let c = 0; c < chunks; c++) {
      const req: VerifyRequest = { id: this.nextId++, items: items.slice(c * per, (c + 1) * per) }
      if (check != null) { req.ids = check.ids.slice(c * per, (c + 1) * per); req.limits = check.limits }
      parts.push(new Promise<Reply>((resolve, reject) => {
        this.pending.set(req.id, { resolve, reject })
        this.workers[this.next++ % this.workers.length].postMessage(req)
      }))
    }
    const results = await Promise.all(parts)
    const ok = new Uint8Array(items.length)
    const checked: Array<CheckedRecord | undefined> = []
    let off = 0
    for (const r of results) {
      ok.set(r.ok, off)
      off += r.ok.length
      for (let i = 0; i < r.ok.length; i++) checked.push(r.checked?.[i])
    }
    return check != null ? { ok, checked } : { ok }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.all(this.workers.map(async w => await w.terminate()))
    for (const p of this.pending.values()) p.reject(new Error('verify pool closed'))
    this.pending.clear()
  }
}
