import { request, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'

/** One server-sent event as the EventSource algorithm assembles it. */
export interface SseEvent {
  id?: string
  event: string
  data: string
}

/**
 * A raw SSE client over node:http (Node 20 has no EventSource): connects, parses events and
 * comment lines as they come, and can be closed at any moment, as a real client drops.
 */
export class SseClient {
  readonly events: SseEvent[] = []
  readonly comments: string[] = []
  status = 0
  headers: IncomingMessage['headers'] = {}
  body = ''
  ended = false
  private res: IncomingMessage | null = null
  private buffer = ''
  private waiters: Array<() => void> = []
  private readonly closed: Promise<void>
  private closeIt: () => void = () => {}

  private constructor () {
    this.closed = new Promise(resolve => { this.closeIt = resolve })
  }

  static async open (url: string, headers: Record<string, string> = {}, opts: { ca?: string } = {}): Promise<SseClient> {
    const c = new SseClient()
    await new Promise<void>((resolve, reject) => {
      const u = new URL(url)
      const req = (u.protocol === 'https:' ? httpsRequest : request)(u, { headers: { accept: 'text/event-stream', ...headers }, ...(opts.ca != null ? { ca: opts.ca } : {}) }, (res) => {
        c.res = res
        c.status = res.statusCode ?? 0
        c.headers = res.headers
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => { c.feed(chunk) })
        res.on('end', () => { c.finish() })
        res.on('close', () => { c.finish() })
        res.on('error', () => { c.finish() })
        resolve()
      })
      req.on('error', reject)
      req.end()
    })
    return c
  }

  private finish (): void {
    if (this.ended) return
    this.ended = true
    this.closeIt()
    this.wake()
  }

  private wake (): void {
    const w = this.waiters.splice(0)
    for (const f of w) f()
  }

  private feed (chunk: string): void {
    if (this.status !== 200) {
      this.body += chunk
      return
    }
    this.buffer += chunk
    let idx
    while ((idx = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, idx)
      this.buffer = this.buffer.slice(idx + 2)
      this.parse(block)
    }
    this.wake()
  }

  private parse (block: string): void {
    const ev: SseEvent = { event: 'message', data: '' }
    const data: string[] = []
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) { this.comments.push(line.slice(1).trim()); continue }
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'id') ev.id = value
      else if (field === 'event') ev.event = value
      else if (field === 'data') data.push(value)
    }
    if (data.length === 0) return
    ev.data = data.join('\n')
    this.events.push(ev)
  }

  /** Resolves once `pred` holds, failing after `ms`. */
  async until (pred: () => boolean, ms = 20_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + ms
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`SSE: timed out waiting for ${what} (${this.events.length} events, ended=${String(this.ended)})`)
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()))
        this.waiters.push(() => { clearTimeout(t); resolve() })
      })
    }
  }

  async waitEnded (ms = 10_000): Promise<void> {
    await this.until(() => this.ended, ms, 'the stream to end')
  }

  get lastId (): string | undefined {
    for (let i = this.events.length - 1; i >= 0; i--) if (this.events[i].id != null) return this.events[i].id
    return undefined
  }

  close (): void {
    this.res?.destroy()
    this.finish()
  }

  async done (): Promise<void> {
    await this.closed
  }
}
