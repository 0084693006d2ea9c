import { NodeIdentity, type Member, type Role } from '../identity/index.js'
import { createRecord } from '../record/index.js'
import type { SimFederation } from './federation.js'
import { seedFor } from './federation.js'
import type { SimRoots } from './membership.js'
import type { InvariantResult, SimEvent } from './result.js'
import { indicator } from './stix-factory.js'

/*
 * The membership events of a scenario (join by credential, revocation, key rotation) played on
 * an in-process federation, and the invariants they must keep:
 *
 *  revoked_isolated   Let T be the time the revocation is published (at a root) and S the sync
 *                     interval. A record the revoked member signs at or after T + S is held by no
 *                     other member at the end, and relayed to its former peers by an honest member
 *                     it is refused by each. Records it signed before T − S are held by everyone
 *                     entitled to them then (their entitlement is frozen at T). Records within S
 *                     either side of T may be in flight when the revocation lands: not judged.
 *  joiner_converged   A member admitted mid-run by credential holds every record it is entitled
 *                     to, and every member entitled to its records holds them.
 *  rotation_lossless  Records the old key signed before the rotation stay held by everyone entitled
 *                     to them and every member attributes them to the same member (name, status
 *                     `rotated`); records of the new key reach everyone entitled; a record the old
 *                     key signs after the hand-over is refused by every member it is relayed to.
 */

interface PlayRecord { id: string, author: number | null, key?: string, t0: number }

export interface PlayInit {
  fed: SimFederation
  roots: SimRoots
  rootIdx: number[]
  specs: Array<{ name: string, country: string, role: Role }>
  /** the runner's member entries (a rotated member's PeerId is updated in place) */
  members: Member[]
  seed: string
  syncMs: number
  clock: () => number
  note: (kind: SimEvent['kind'], detail: string) => void
  /** every record the runner counts, by id */
  published: Map<string, PlayRecord>
  /** a record's entitled members as of now */
  entitlement: (p: PlayRecord) => Set<number>
  /** publishes one record by member i the way the waves do; its id */
  publishOne: (i: number, tag: string) => Promise<string | undefined>
}

export class MembershipPlay {
  /** members out of the federation: not holders, not relays */
  readonly gone = new Set<number>()
  /** entitlements fixed when their author left or rotated */
  readonly frozen = new Map<string, Set<number>>()
  private readonly revokedAt = new Map<number, number>()
  private readonly rotated = new Map<number, { old: NodeIdentity, at: number }>()
  private readonly joiners: number[] = []
  private readonly afterRevocation: Array<{ id: string, author: number }> = []
  private inGrace = 0

  constructor (private readonly c: PlayInit) {}

  /** Whether the runner counts a record member `author` just published (not for a revoked member's later ones). */
  counts (author: number, t0: number, id: string): boolean {
    const at = this.revokedAt.get(author)
    if (at == null) return true
    if (t0 >= at + this.c.syncMs) this.afterRevocation.push({ id, author })
    else this.inGrace++
    return false
  }

  /** A root that runs, to publish at. */
  private root (): number {
    const r = this.c.rootIdx.find(i => this.c.fed.isUp(i))
    if (r == null) throw new Error('no root runs to publish at')
    return r
  }

  private freeze (author: number, before: number): string[] {
    const kept: string[] = []
    for (const p of [...this.c.published.values()]) {
      if (p.author !== author) continue
      if (p.t0 < before) { this.frozen.set(p.id, this.c.entitlement(p)); kept.push(p.id) } else { this.c.published.delete(p.id); this.inGrace++ }
    }
    return kept
  }

  async join (list: number[]): Promise<void> {
    for (const i of list) {
      const r = this.root()
      await this.c.fed.node(r).offerMembership(this.c.roots.credential(this.c.fed.peerId(i), this.c.specs[i]))
      this.c.note('note', `the roots issue, sign and publish a credential for ${this.c.specs[i].name} at ${this.c.specs[r].name}; it starts`)
      await this.c.fed.restartNode(i)
      this.joiners.push(i)
      await this.c.publishOne(i, 'joined')
    }
  }

  async revoke (list: number[]): Promise<void> {
    for (const i of list) {
      const t = this.c.clock()
      this.freeze(i, t - this.c.syncMs)
      this.gone.add(i)
      this.revokedAt.set(i, t)
      const r = this.root()
      await this.c.fed.node(r).offerMembership(this.c.roots.revocation(this.c.fed.peerId(i), 'simulated key compromise'))
    }
  }

  async rotate (list: number[]): Promise<void> {
    for (const i of list) {
      const name = this.c.specs[i].name
      // At least one record of the old key, whatever the waves drew.
      await this.c.publishOne(i, 'before-rotation')
      await this.c.fed.stopNode(i)
      const next = await NodeIdentity.fromSeed(seedFor(this.c.seed, `${name}:rotated`))
      const { old } = await this.c.fed.rotateKey(i, next)
      const r = this.root()
      await this.c.fed.node(r).offerMembership(this.c.roots.credential(next.peerId, this.c.specs[i]))
      this.c.members[i] = { ...this.c.members[i], peerId: next.peerId }
      this.rotated.set(i, { old, at: this.c.clock() })
      this.c.note('note', `${name} rotates its key (${old.peerId.slice(-8)} → ${next.peerId.slice(-8)}); the roots credential the new key at ${this.c.specs[r].name}; it restarts`)
      await this.c.fed.restartNode(i)
      await this.c.publishOne(i, 'rotated')
    }
  }

  /** Members that may receive a relayed record: up, in the federation, not `except`. */
  private receivers (except: number): number[] {
    return [...Array(this.c.specs.length).keys()].filter(j => j !== except && this.c.fed.isUp(j) && !this.gone.has(j))
  }

  /** Relays `bytes` to every member but `author`, each as if handed on by a root; the ones that kept it. */
  private async relayAll (author: number, bytes: Uint8Array): Promise<string[]> {
    const kept: string[] = []
    for (const j of this.receivers(author)) {
      const from = this.c.rootIdx.find(r => r !== j && !this.gone.has(r)) ?? this.receivers(author).find(x => x !== j)!
      const v = await this.c.fed.relay(j, bytes, from)
      if (v.status !== 'rejected') kept.push(`${this.c.specs[j].name} ${v.status}`)
    }
    return kept
  }

  private heldBy (id: string, held: Array<Map<string, number>>, except: number): string[] {
    return held.flatMap((h, j) => j !== except && h.has(id) ? [this.c.specs[j].name] : [])
  }

  /** The membership invariants, after the run settled; `held[i]` is what member i stored. */
  async invariants (held: Array<Map<string, number>>, up: boolean[]): Promise<Record<string, InvariantResult>> {
    const out: Record<string, InvariantResult> = {}
    const missingOf = (id: string, e: Set<number>): string[] => [...e].filter(j => up[j] && !held[j].has(id)).map(j => `${this.c.specs[j].name} lacks ${id.slice(0, 16)}…`)
    if (this.revokedAt.size > 0) {
      const leaked: string[] = []
      const relayed: string[] = []
      let relays = 0
      for (const i of this.revokedAt.keys()) {
        // One more record, well after the revocation, handed on by an honest member to everyone.
        const id = await this.c.publishOne(i, 'after-revocation')
        const rec = id != null ? await this.c.fed.node(i).store.getRecord(id) : undefined
        relays++
        if (rec != null) relayed.push(...(await this.relayAll(i, rec.record.bytes)).map(k => `${k} a record of revoked ${this.c.specs[i].name}`))
      }
      for (const r of this.afterRevocation) for (const who of this.heldBy(r.id, held, r.author)) leaked.push(`${who} holds ${r.id.slice(0, 16)}… by revoked ${this.c.specs[r.author].name}`)
      out.revoked_isolated = {
        pass: leaked.length === 0 && relayed.length === 0 && relays > 0,
        details: {
          rule: `records a revoked member signs one sync interval (${this.c.syncMs} ms) or more after its revocation is published reach no other member, and are refused when relayed; those within one interval either side are in flight and not judged`,
          revoked: [...this.revokedAt.keys()].map(i => this.c.specs[i].name),
          published_after: this.afterRevocation.length,
          in_grace: this.inGrace,
          held_elsewhere: leaked.slice(0, 50),
          relays_kept: relayed.slice(0, 50)
        }
      }
    }
    if (this.joiners.length > 0) {
      const problems: string[] = []
      let own = 0
      for (const j of this.joiners) {
        if (!up[j]) { problems.push(`${this.c.specs[j].name} is not running`); continue }
        for (const p of this.c.published.values()) {
          const e = this.frozen.get(p.id) ?? this.c.entitlement(p)
          if (e.has(j) && !held[j].has(p.id)) problems.push(`${this.c.specs[j].name} lacks ${p.id.slice(0, 16)}…`)
          if (p.author === j) { own++; problems.push(...missingOf(p.id, e)) }
        }
      }
      out.joiner_converged = { pass: problems.length === 0 && own > 0, details: { joiners: this.joiners.map(j => this.c.specs[j].name), records_by_joiners: own, problems: problems.slice(0, 50) } }
    }
    if (this.rotated.size > 0) {
      const lost: string[] = []
      const misattributed: string[] = []
      const relayed: string[] = []
      let newKey = 0
      let oldKey = 0
      for (const [i, r] of this.rotated) {
        for (const j of this.receivers(-1)) {
          const a = this.c.fed.node(j).authorMember(r.old.peerId)
          if (a?.name !== this.c.specs[i].name || a.status !== 'rotated') misattributed.push(`${this.c.specs[j].name} names the old key ${a == null ? 'unknown' : `${a.name} (${a.status})`}`)
        }
        // Records are told apart by the key that signed them (one in flight at the rotation is the old key's).
        for (const p of this.c.published.values()) {
          if (p.author !== i) continue
          if (p.key === r.old.peerId) oldKey++
          else newKey++
          lost.push(...missingOf(p.id, this.c.entitlement(p)))
        }
        // The old key, stolen or left behind, signs one more record; an honest member relays it.
        const late = createRecord(r.old, { seq: 1_000_000, ts: Date.now(), tlp: 'green', body: indicator({ kind: 'domain', value: `after-rotation-${i}.example.org`, seed: `rotated:${this.c.seed}:${i}` }) })
        relayed.push(...(await this.relayAll(i, late.bytes)).map(k => `${k} a record of the old key of ${this.c.specs[i].name}`))
      }
      out.rotation_lossless = {
        pass: lost.length === 0 && misattributed.length === 0 && relayed.length === 0 && newKey > 0 && oldKey > 0,
        details: { rotated: [...this.rotated.keys()].map(i => this.c.specs[i].name), old_key_records: oldKey, new_key_records: newKey, missing: lost.slice(0, 50), misattributed: misattributed.slice(0, 50), old_key_records_kept_after_handover: relayed.slice(0, 50) }
      }
    }
    return out
  }
}
