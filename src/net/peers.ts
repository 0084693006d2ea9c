import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Roster, Member, RosterChange } from '../identity/index.js'
import type { Logger } from '../log.js'
import type { Store } from '../store/index.js'
import type { Admission, DragnetLibp2p } from './libp2p.js'
import type { PeerStats, SyncSummary } from './peer-row.js'

export type { PeerRow, PeerStats, SyncSummary } from './peer-row.js'

export interface PeerState extends PeerStats {
  peerId: string
  name: string
  country: string
  role: string
  addrs: string[]
  connected: boolean
  penalizedUntil?: number
  /** refused until unblocked (simulated partitions, operator action) */
  blocked?: boolean
  nextDialAt?: number
  dialFailures: number
}

export interface PeerManagerInit {
  penaltyCooldownMs: number
  redialMinMs: number
  redialMaxMs: number
}

export interface PeerManagerComponents {
  roster: Roster
  store: Store
  log: Logger
}

type ConnectListener = (peerId: string) => void

function listen (list: ConnectListener[], fn: ConnectListener): () => void {
  list.push(fn)
  return () => { const i = list.indexOf(fn); if (i >= 0) list.splice(i, 1) }
}

function emptyStats (): PeerStats {
  return { recordsIn: 0, recordsOut: 0, bytesIn: 0, bytesOut: 0, withheld: 0, rejected: 0, penalties: 0, syncRecordsIn: 0, syncRecordsOut: 0, syncBytesIn: 0, syncBytesOut: 0 }
}

/**
 * Keeps this node connected to its roster: dials every member that has addresses, redials with
 * exponential backoff, and refuses members sitting out a penalty (the connection gater asks
 * `admits`). Counts what crosses each edge.
 */
export class PeerManager implements Admission {
  private readonly c: PeerManagerComponents
  private readonly init: PeerManagerInit
  private readonly states = new Map<string, PeerState>()
  private libp2p: DragnetLibp2p | null = null
  private timer: ReturnType<typeof setInterval> | null = null
  private persistTimer: ReturnType<typeof setInterval> | null = null
  private readonly dialing = new Set<string>()
  private readonly connectListeners: ConnectListener[] = []
  private readonly disconnectListeners: ConnectListener[] = []
  private running = false
  private stopping: AbortController | null = null

  constructor (components: PeerManagerComponents, init: PeerManagerInit) {
    this.c = components
    this.init = init
    for (const m of components.roster.peers()) this.states.set(m.peerId, this.fresh(m))
  }

  private fresh (m: Member): PeerState {
    return { peerId: m.peerId, name: m.name, country: m.country, role: m.role, addrs: m.addrs, connected: false, dialFailures: 0, ...emptyStats() }
  }

  admits (peerId: string): boolean {
    const s = this.states.get(peerId)
    if (s == null || s.blocked === true) return false
    return s.penalizedUntil == null || s.penalizedUntil <= Date.now()
  }

  /** Adds a listener for new connections to roster members; returns its removal. */
  onConnect (fn: ConnectListener): () => void { return listen(this.connectListeners, fn) }
  /** Adds a listener for lost connections; returns its removal. */
  onDisconnect (fn: ConnectListener): () => void { return listen(this.disconnectListeners, fn) }

  state (peerId: string): PeerState | undefined {
    return this.states.get(peerId)
  }

  list (): PeerState[] {
    return [...this.states.values()].map(s => ({ ...s }))
  }

  connectedPeers (): string[] {
    return [...this.states.values()].filter(s => s.connected).map(s => s.peerId)
  }

  async start (libp2p: DragnetLibp2p): Promise<void> {
    this.libp2p = libp2p
    this.running = true
    const saved = await this.c.store.getPeers<PeerStats>()
    for (const [id, stats] of saved) {
      const s = this.states.get(id)
      if (s != null) Object.assign(s, stats)
    }
    this.stopping = new AbortController()
    const { signal } = this.stopping
    libp2p.addEventListener('peer:connect', (evt) => { this.connected(evt.detail.toString()) }, { signal })
    libp2p.addEventListener('peer:disconnect', (evt) => { this.disconnected(evt.detail.toString()) }, { signal })
    // Members with addresses are dialled at once, then whenever their backoff expires.
    for (const s of this.states.values()) s.nextDialAt = Date.now()
    this.timer = setInterval(() => { this.dialDue() }, 250)
    this.timer.unref?.()
    this.persistTimer = setInterval(() => { void this.persist() }, 10_000)
    this.persistTimer.unref?.()
    this.dialDue()
  }

  async stop (): Promise<void> {
    this.running = false
    this.stopping?.abort()
    if (this.timer != null) clearInterval(this.timer)
    if (this.persistTimer != null) clearInterval(this.persistTimer)
    await this.persist()
  }

  async persist (): Promise<void> {
    if (!this.c.store.isOpen) return
    for (const s of this.states.values()) {
      const { recordsIn, recordsOut, bytesIn, bytesOut, withheld, rejected, penalties, syncRecordsIn, syncRecordsOut, syncBytesIn, syncBytesOut, lastPenalty, lastSeen, lastSync } = s
      await this.c.store.putPeer(s.peerId, { recordsIn, recordsOut, bytesIn, bytesOut, withheld, rejected, penalties, syncRecordsIn, syncRecordsOut, syncBytesIn, syncBytesOut, lastPenalty, lastSeen, lastSync }).catch(() => {})
    }
  }

  private connected (peerId: string): void {
    const s = this.states.get(peerId)
    if (s == null) return
    const was = s.connected
    s.connected = true
    s.lastSeen = Date.now()
    s.dialFailures = 0
    s.nextDialAt = undefined
    if (!was) for (const fn of this.connectListeners) fn(peerId)
  }

  private disconnected (peerId: string): void {
    const s = this.states.get(peerId)
    if (s == null) return
    const was = s.connected
    s.connected = false
    s.lastSeen = Date.now()
    if (this.running) s.nextDialAt = Math.max(Date.now() + this.backoff(s), s.penalizedUntil ?? 0)
    if (was) for (const fn of this.disconnectListeners) fn(peerId)
  }

  private backoff (s: PeerState): number {
    const base = Math.min(this.init.redialMaxMs, this.init.redialMinMs * 2 ** Math.min(s.dialFailures, 16))
    return Math.round(base * (0.75 + Math.random() * 0.5))
  }

  private dialDue (): void {
    if (!this.running || this.libp2p == null) return
    const now = Date.now()
    for (const s of this.states.values()) {
      if (s.connected || s.addrs.length === 0 || this.dialing.has(s.peerId)) continue
      if (s.nextDialAt == null || s.nextDialAt > now || !this.admits(s.peerId)) continue
      void this.dial(s)
    }
  }

  private async dial (s: PeerState): Promise<void> {
    const libp2p = this.libp2p!
    this.dialing.add(s.peerId)
    try {
      if (libp2p.getConnections(peerIdFromString(s.peerId)).length > 0) {
        this.connected(s.peerId)
        return
      }
      const addrs = s.addrs.map(a => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${s.peerId}`))
      await libp2p.dial(addrs, { signal: AbortSignal.timeout(10_000) })
    } catch (err: any) {
      s.dialFailures++
      s.nextDialAt = Date.now() + this.backoff(s)
      // The first failure says so where operators look (a typo in a roster address); retries stay quiet.
      this.c.log[s.dialFailures === 1 ? 'warn' : 'debug']({ peer: s.peerId, name: s.name, err: err.message, retryInMs: s.nextDialAt - Date.now() }, 'dial failed')
    } finally {
      this.dialing.delete(s.peerId)
    }
  }

  /** New addresses for a member (listeners on port 0, simulations); dialled at once if not connected. */
  learnAddrs (peerId: string, addrs: string[]): void {
    const s = this.states.get(peerId)
    if (s == null) return
    s.addrs = [...new Set([...s.addrs, ...addrs])]
    if (!s.connected && this.admits(peerId)) s.nextDialAt = Date.now()
    this.dialDue()
  }

  /** Forget a member's addresses: this node stops dialling it (it may still dial us). */
  forgetAddrs (peerId: string): void {
    const s = this.states.get(peerId)
    if (s != null) s.addrs = []
  }

  /** Refuses a member (both directions) until `unblock`, and drops its connection. */
  block (peerId: string): void {
    const s = this.states.get(peerId)
    if (s == null) return
    s.blocked = true
    if (this.libp2p != null) void this.libp2p.hangUp(peerIdFromString(peerId)).catch(() => {})
  }

  unblock (peerId: string): void {
    const s = this.states.get(peerId)
    if (s == null) return
    s.blocked = false
    s.dialFailures = 0
    s.nextDialAt = Date.now()
  }

  /**
   * Follows the roster in force while running: a new member is dialled at once (if it has
   * addresses) and admitted; a member who left is refused by the gater from now on and its
   * connections are closed; a changed entry gets its new name and addresses.
   */
  applyRoster (change: RosterChange): void {
    for (const m of change.removed) {
      const was = this.states.get(m.peerId)?.connected === true
      this.states.delete(m.peerId)
      if (was) for (const fn of this.disconnectListeners) fn(m.peerId)
      this.c.log.info({ peer: m.peerId, name: m.name, status: m.status, reason: m.reason }, 'member left the roster in force: connections dropped')
      if (this.libp2p != null) void this.libp2p.hangUp(peerIdFromString(m.peerId)).catch(() => {})
    }
    for (const m of change.changed) {
      const s = this.states.get(m.peerId)
      if (s == null) continue
      Object.assign(s, { name: m.name, country: m.country, role: m.role, addrs: [...new Set([...m.addrs, ...s.addrs])] })
    }
    for (const m of change.added) {
      if (m.peerId === this.c.roster.self.peerId || this.states.has(m.peerId)) continue
      this.states.set(m.peerId, { ...this.fresh(m), nextDialAt: Date.now() })
      this.c.log.info({ peer: m.peerId, name: m.name }, 'member joined the roster in force')
    }
    this.dialDue()
  }

  /** Drops the connection to a member (partitions in simulations; operators' `disconnect`). */
  async disconnect (peerId: string): Promise<void> {
    if (this.libp2p != null) await this.libp2p.hangUp(peerIdFromString(peerId)).catch(() => {})
  }

  /**
   * Cuts a misbehaving member off: disconnected now, refused by the gater (both directions) until
   * the cool-down ends. Counted and logged with the peer and the reason.
   */
  penalize (peerId: string, reason: string, code?: string): void {
    const s = this.states.get(peerId)
    if (s == null) return
    const now = Date.now()
    s.penalties++
    s.lastPenalty = { at: now, reason }
    s.penalizedUntil = now + this.init.penaltyCooldownMs
    s.nextDialAt = s.penalizedUntil
    this.c.log.warn({ peer: peerId, name: s.name, reason, code, cooldownMs: this.init.penaltyCooldownMs }, 'peer penalised and disconnected')
    if (this.libp2p != null) void this.libp2p.hangUp(peerIdFromString(peerId)).catch(() => {})
  }

  count (peerId: string, delta: Partial<Pick<PeerStats, 'recordsIn' | 'recordsOut' | 'bytesIn' | 'bytesOut' | 'withheld' | 'rejected' | 'syncRecordsIn' | 'syncRecordsOut' | 'syncBytesIn' | 'syncBytesOut'>>): void {
    const s = this.states.get(peerId)
    if (s == null) return
    for (const [k, v] of Object.entries(delta) as Array<[keyof typeof delta, number]>) s[k] += v
    s.lastSeen = Date.now()
  }

  recordSync (peerId: string, summary: SyncSummary): void {
    const s = this.states.get(peerId)
    if (s != null) s.lastSync = summary
  }
}
