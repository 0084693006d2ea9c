import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NodeIdentity, type Member, type Role } from '../identity/index.js'
import { silentLogger, type Logger } from '../log.js'
import { defaultPolicy, loadPolicy, policySubject, type Policy } from '../policy/index.js'
import { decodeRecord, type Tlp } from '../record/index.js'
import { analyzeStixObject } from '../stix/index.js'
import type { StixObject } from '../stix/types.js'
import { RawPeer, floodRecords, forgeRecords, junkRecords, type Forgeries } from './actors.js'
import { loadContent, realisticIndicators } from './data-source.js'
import { entitledMembers, mayHandTo, type Federation, type RecordFacts } from './entitlement.js'
import type { SimCluster } from './cluster.js'
import { addCopies, noCopies, simCopies } from './copies.js'
import { SimFederation, seedFor } from './federation.js'
import { MembershipPlay } from './membership-play.js'
import { SimRoots } from './membership.js'
import { ProcessCluster } from './process-cluster.js'
import { Rng } from './random.js'
import type { SimEvent, SimMemberResult, SimResult } from './result.js'
import type { Scenario } from './scenario.js'
import { seededUuid, indicator } from './stix-factory.js'
import { neighbours, topology, type Edge } from './topology.js'
import { percentile } from '../util/percentile.js'

export interface SimProgress {
  phase: 'starting' | 'connecting' | 'running' | 'settling' | 'checking' | 'stopping'
  done: number
  total: number
  detail?: string
}

export interface SimOptions {
  scenario: Scenario
  nodes?: number
  topology?: string
  transport?: 'memory' | 'tcp'
  seed?: string
  /** where data dirs go; a temp dir (removed afterwards) when absent */
  dir?: string
  log?: Logger
  onProgress?: (p: SimProgress) => void
  /**
   * Test hook: the policy a member actually runs, given the one it declares. The invariants hold
   * every member to its declared policy, so a bypass planted here must show up as a leak.
   * (Members then run in this process, whatever the transport.)
   */
  runtimePolicy?: (index: number, declared: Policy) => Policy | undefined
  /** run TCP members in this process instead of one process each */
  inProcess?: boolean
}

interface Published {
  id: string
  t0: number
  author: number | null
  /** the PeerId whose key signed it (a rotated member signs with two in one run) */
  key?: string
  bytes: number
  facts: RecordFacts
  /** actor records: entitlement starts at the members the actor handed them to */
  actor?: string
}

interface Scheduled {
  at: number
  run: () => Promise<void>
  kind: SimEvent['kind']
  detail: string
  disturbance: boolean
}

const sleep = async (ms: number): Promise<void> => { if (ms > 0) await new Promise(resolve => setTimeout(resolve, ms)) }

function pickWeighted<T extends string> (rng: Rng, weights: Partial<Record<T, number>>): T {
  const entries = Object.entries(weights) as Array<[T, number]>
  const total = entries.reduce((a, [, w]) => a + w, 0)
  let x = rng.next() * total
  for (const [k, w] of entries) {
    x -= w
    if (x < 0) return k
  }
  return entries[entries.length - 1][0]
}

/** Members from the scenario's groups: counts first, then shares of the rest, the last group takes what is left. */
export function assignMembers (scenario: Scenario, n: number, rng: Rng): Array<{ name: string, country: string, role: Role, policy: string | null }> {
  const out: Array<{ name: string, country: string, role: Role, policy: string | null }> = []
  const groups = scenario.members
  const fixed = groups.reduce((a, g) => a + (g.count ?? 0), 0)
  const rest = Math.max(0, n - fixed)
  groups.forEach((g, gi) => {
    let count = g.count ?? Math.round((g.share ?? 0) * rest)
    if (gi === groups.length - 1) count = n - out.length
    count = Math.min(count, n - out.length)
    for (let i = 0; i < count; i++) {
      const idx = out.length
      out.push({ name: `n${String(idx).padStart(3, '0')}`, country: g.countries[rng.int(g.countries.length)], role: g.role, policy: g.policy })
    }
  })
  while (out.length < n) out.push({ name: `n${String(out.length).padStart(3, '0')}`, country: 'DE', role: 'bureau', policy: null })
  return out
}

/**
 * Runs one scenario: starts the members (each a real node with its own identity, LevelDB and
 * policy), connects the topology, plays the publish waves, disturbances and attacks at their
 * times, waits for convergence, then checks the invariants against what every node holds.
 */
export async function runSimulation (opts: SimOptions): Promise<SimResult> {
  const sc = opts.scenario
  const seed = opts.seed ?? '1'
  const n = opts.nodes ?? sc.nodes
  const topo = opts.topology ?? sc.topology
  const transport = opts.transport ?? sc.transport
  const rng = new Rng(`sim:${sc.name}:${seed}`)
  const progress = opts.onProgress ?? (() => {})
  const baseRss = process.memoryUsage().rss
  const dir = opts.dir ?? await mkdtemp(join(tmpdir(), 'dragnet-sim-'))
  const events: SimEvent[] = []
  const started = performance.now()
  const clock = (): number => performance.now() - started
  const note = (kind: SimEvent['kind'], detail: string): void => { events.push({ t_ms: Math.round(clock()), kind, detail }) }

  // -------------------------------------------------------------- members, policies, topology
  const specs = assignMembers(sc, n, rng)
  const policyCache = new Map<string, Policy>()
  const declared: Policy[] = []
  for (const s of specs) {
    if (s.policy == null) { declared.push(defaultPolicy()); continue }
    let p = policyCache.get(s.policy)
    if (p == null) { p = await loadPolicy(s.policy); policyCache.set(s.policy, p) }
    declared.push(p)
  }
  const edges: Edge[] = topology(topo, n, seed)
  const adjacency = neighbours(n, edges)
  // A federation defined by roots: members 0..roots-1 sign; joiners, revoked and rotated members are others.
  const rootIdx = sc.federation != null ? [...Array(Math.min(sc.federation.roots, n)).keys()] : []
  const lateJoiners = new Set<number>()
  for (const e of sc.events) {
    if (e.join == null) continue
    const candidates = rng.shuffle([...Array(n).keys()].filter(i => i !== 0 && !lateJoiners.has(i) && !rootIdx.includes(i)))
    for (const i of candidates.slice(0, e.join)) lateJoiners.add(i)
  }
  const targeted = new Set<number>()
  const targetsOf = (sel: number | number[]): number[] => {
    const list = Array.isArray(sel) ? sel.filter(i => i < n) : rng.shuffle([...Array(n).keys()].filter(i => !rootIdx.includes(i) && !lateJoiners.has(i) && !targeted.has(i))).slice(0, sel)
    for (const i of list) targeted.add(i)
    return list
  }
  let simRoots: SimRoots | null = null
  if (sc.federation != null) {
    const ids = await Promise.all(specs.map(async s => await NodeIdentity.fromSeed(seedFor(seed, s.name))))
    simRoots = new SimRoots({ roots: rootIdx.map(i => ids[i]), threshold: sc.federation.threshold })
    // Founding: every member that starts with the run holds a credential of the roots.
    for (let i = 0; i < n; i++) if (!lateJoiners.has(i)) simRoots.credential(ids[i].peerId, specs[i])
  }

  const attackers = sc.attackers
  const actorIds = {
    spy: attackers.spy != null ? await NodeIdentity.fromSeed(seedFor(seed, 'spy')) : null,
    forger: attackers.forger != null ? await NodeIdentity.fromSeed(seedFor(seed, 'forger')) : null,
    flooder: attackers.flooder != null ? await NodeIdentity.fromSeed(seedFor(seed, 'flooder')) : null
  }
  const extraRoster: Array<{ peerId: string, name: string, country: string, role: Role }> = []
  if (actorIds.spy != null) extraRoster.push({ peerId: actorIds.spy.peerId, name: 'spy', country: attackers.spy!.country, role: attackers.spy!.role })
  if (actorIds.forger != null) extraRoster.push({ peerId: actorIds.forger.peerId, name: 'forger', country: 'ZZ', role: 'bureau' })
  if (actorIds.flooder != null) extraRoster.push({ peerId: actorIds.flooder.peerId, name: 'flooder', country: 'ZZ', role: 'bureau' })
  const actorPeers = new Set(extraRoster.map(e => e.peerId))

  // Arrival times per member, from the nodes' own "stored" events; listening starts before a
  // node does, so nothing it stores (sync on connect included) goes unseen.
  const held: Array<Map<string, number>> = specs.map(() => new Map())
  // Members an outside actor handed a record to directly: where that record's entitlement starts.
  const fromActor = new Map<string, Set<number>>()
  const origin = performance.timeOrigin + started
  const onStored = (i: number, id: string, from: string | undefined, at: number): void => {
    if (!held[i].has(id)) held[i].set(id, at - origin)
    if (from != null && actorPeers.has(from)) {
      let s = fromActor.get(id)
      if (s == null) { s = new Set(); fromActor.set(id, s) }
      s.add(i)
    }
  }
  const common = {
    dir,
    edges,
    seed,
    link: { latencyMs: sc.link.latency, jitterMs: sc.link.jitter },
    extraRoster,
    onStored,
    config: {
      sync: { intervalMs: sc.sync.interval },
      limits: { penaltyCooldownMs: 600_000, redialMinMs: 250, redialMaxMs: Math.max(1000, sc.sync.interval) },
      gossip: { treeRepairMs: Math.max(100, 3 * sc.link.latency + 100) }
    }
  }
  // Membership events act on the members' data dirs and stores: they run in this process.
  const processes = transport === 'tcp' && opts.inProcess !== true && opts.runtimePolicy == null && simRoots == null
  const fed: SimCluster = processes
    ? new ProcessCluster({ ...common, members: specs.map(s => ({ name: s.name, country: s.country, role: s.role, policy: s.policy })) })
    : new SimFederation({
      ...common,
      members: specs.map((s, i) => ({ name: s.name, country: s.country, role: s.role, policy: opts.runtimePolicy?.(i, declared[i]) ?? declared[i] })),
      transport,
      ...(simRoots != null ? { federation: { roots: rootIdx, threshold: simRoots.threshold, documents: () => simRoots.issued } } : {}),
      log: opts.log ?? silentLogger()
    })

  const actors: RawPeer[] = []
  let result: SimResult | undefined
  try {
    progress({ phase: 'starting', done: 0, total: n })
    await fed.start({ concurrency: transport === 'tcp' ? 4 : 8, skip: lateJoiners, onProgress: (k) => { progress({ phase: 'starting', done: k, total: n - lateJoiners.size }) } })
    progress({ phase: 'connecting', done: 0, total: edges.length })
    await fed.waitConnected(Math.max(60_000, n * 600))
    note('note', `${n - lateJoiners.size} members up, ${edges.length} links connected`)

    const members: Member[] = specs.map((s, i) => ({ peerId: fed.peerId(i), name: s.name, country: s.country, role: s.role, addrs: [] }))
    // assigned once the content and schedule exist
    let play: MembershipPlay | null = null
    // A revoked member is out of the federation: it neither holds nor relays what others are entitled to.
    const upNow = (): boolean[] => specs.map((_, i) => fed.isUp(i) && play?.gone.has(i) !== true)

    // -------------------------------------------------------------- content and schedule
    const content = await loadContent()
    const published = new Map<string, Published>()
    const schedule: Scheduled[] = []
    const authors = (by: string | number[]): number[] => {
      if (Array.isArray(by)) return by.filter(i => i < n && specs[i].role !== 'observer')
      return specs.map((s, i) => [s, i] as const).filter(([s]) => {
        if (s.role === 'observer') return false
        if (by === 'bureaus') return s.role === 'bureau'
        if (by === 'contributors') return s.role === 'contributor'
        return true
      }).map(([, i]) => i)
    }
    const publishAs = async (publisher: number, body: StixObject, tlp: Tlp, to?: string[]): Promise<string | undefined> => {
      if (!fed.isUp(publisher)) return
      const t0 = clock()
      const [v] = await fed.publish(publisher, [body], { tlp, ...(to != null ? { to } : {}) })
      if (v.status !== 'stored' || v.id == null || v.record == null) return
      if (play != null && !play.counts(publisher, t0, v.id)) return v.id
      const a = analyzeStixObject(v.record.body)
      published.set(v.id, {
        id: v.id,
        t0,
        author: publisher,
        key: v.record.author,
        bytes: v.bytes ?? 0,
        facts: { id: v.id, author: publisher, subject: policySubject({ ...v.record, id: v.id }, { observables: a.observables, scoTypes: a.scoTypes }) }
      })
      return v.id
    }
    let total = 0
    for (const w of sc.publish) total += Math.max(1, Math.round(w.rate * w.duration / 1000))
    const indicators = await realisticIndicators(total + 10, `sim:${seed}`)
    const stixPool = content.stix.filter(o => o.type !== 'relationship' && o.type !== 'identity' && o.type !== 'marking-definition')
    let k = 0
    let lastPublishAt = 0
    for (const [wi, w] of sc.publish.entries()) {
      const count = Math.max(1, Math.round(w.rate * w.duration / 1000))
      const pool = authors(w.by)
      if (pool.length === 0) continue
      for (let j = 0; j < count; j++) {
        const at = w.at + (j * 1000) / w.rate
        const publisher = pool[rng.int(pool.length)]
        const tlp = pickWeighted(rng, w.tlp as Partial<Record<Tlp, number>>)
        const r = rng.next()
        let body: StixObject
        const seedK = `sim:${seed}:${wi}:${j}`
        if (r < w.personal) {
          body = indicator({ kind: 'email', value: `user${k}@mail-${k % 17}.example.org`, seed: seedK, confidence: 30 + rng.int(70), labels: ['phishing'] })
        } else if (r < w.personal + w.stix && stixPool.length > 0) {
          const src = stixPool[rng.int(stixPool.length)]
          body = { ...src, id: `${src.type}--${seededUuid(seedK)}` }
        } else {
          body = { ...indicators[k % indicators.length], id: `indicator--${seededUuid(seedK)}`, confidence: 20 + rng.int(81) }
        }
        k++
        const to = (tlp === 'amber' || tlp === 'amber+strict') && w.amber_to > 0
          ? rng.shuffle([...adjacency[publisher]]).slice(0, w.amber_to).map(i => fed.peerId(i))
          : undefined
        lastPublishAt = Math.max(lastPublishAt, at)
        schedule.push({
          at,
          kind: 'note',
          detail: '',
          disturbance: false,
          run: async () => { await publishAs(publisher, body, tlp, to) }
        })
      }
    }
    if (sc.publish.length > 0) {
      schedule.push({ at: Math.min(...sc.publish.map(w => w.at)), kind: 'publish-start', detail: `${total} records in ${sc.publish.length} wave(s)`, disturbance: false, run: async () => {} })
      schedule.push({ at: lastPublishAt, kind: 'publish-end', detail: 'last record scheduled', disturbance: true, run: async () => {} })
    }

    // Disturbances.
    const downSet = new Set<number>()
    for (const e of sc.events) {
      if (e.partition != null) {
        const groups = e.partition === 'halves' ? [[...Array(Math.ceil(n / 2)).keys()], [...Array(n).keys()].slice(Math.ceil(n / 2))] : e.partition
        const groupOf = (i: number): number => groups.findIndex(g => g.includes(i))
        schedule.push({ at: e.at, kind: 'partition', detail: `${groups.length} groups of ${groups.map(g => g.length).join('/')}`, disturbance: true, run: async () => { await fed.partition(groupOf) } })
      }
      if (e.heal === true) schedule.push({ at: e.at, kind: 'heal', detail: 'partition healed', disturbance: true, run: async () => { await fed.heal() } })
      if (e.down != null) {
        const list = e.down === 'all' ? [...Array(n).keys()] : Array.isArray(e.down) ? e.down : rng.shuffle([...Array(n).keys()].filter(i => i !== 0)).slice(0, e.down)
        for (const i of list) downSet.add(i)
        schedule.push({ at: e.at, kind: 'down', detail: `members ${list.join(', ')} go offline`, disturbance: true, run: async () => { for (const i of list) await fed.stopNode(i) } })
      }
      if (e.up != null) {
        const chosen = e.up
        schedule.push({
          at: e.at,
          kind: 'up',
          detail: chosen === 'all' ? 'offline members return' : `members ${JSON.stringify(chosen)} return`,
          disturbance: true,
          run: async () => {
            const list = chosen === 'all' ? [...downSet] : Array.isArray(chosen) ? chosen : [...downSet].slice(0, chosen)
            for (const i of list) { if (!fed.isUp(i) && !lateJoiners.has(i)) await fed.restartNode(i) }
                  }
        })
      }
      if (e.join != null) {
        schedule.push({
          at: e.at,
          kind: 'join',
          detail: `${e.join} late joiner(s) start`,
          disturbance: true,
          run: async () => {
            if (play != null) await play.join([...lateJoiners].filter(i => !fed.isUp(i)))
            else for (const i of lateJoiners) if (!fed.isUp(i)) await fed.restartNode(i)
            lateJoiners.clear()
                  }
        })
      }
    }

    if (simRoots != null && fed instanceof SimFederation) {
      let tagged = 0
      play = new MembershipPlay({
        fed,
        roots: simRoots,
        rootIdx,
        specs,
        members,
        seed,
        syncMs: sc.sync.interval,
        clock,
        note,
        published,
        entitlement: (p) => entitlement(p as Published),
        publishOne: async (i, tag) => await publishAs(i, indicator({ kind: 'domain', value: `${tag}-${specs[i].name}-${tagged++}.example.org`, seed: `sim:${seed}:${tag}:${i}:${tagged}` }), 'green')
      })
      for (const e of sc.events) {
        const names = (list: number[]): string => list.map(i => specs[i].name).join(', ')
        const p = play
        if (e.revoke != null) { const list = targetsOf(e.revoke); schedule.push({ at: e.at, kind: 'revoke', detail: `the roots sign and publish a revocation of ${names(list)}`, disturbance: true, run: async () => { await p.revoke(list) } }) }
        if (e.rotate != null) { const list = targetsOf(e.rotate); schedule.push({ at: e.at, kind: 'rotate', detail: `${names(list)} rotate(s) its key; the roots credential the new key`, disturbance: true, run: async () => { await p.rotate(list) } }) }
      }
    }

    // Attacks.
    let forgeries: Forgeries | null = null
    const actorRecords: Array<{ actor: string, bytes: Uint8Array }> = []
    const attachTo = (count: number): number[] => rng.shuffle([...Array(n).keys()].filter(i => !lateJoiners.has(i))).slice(0, count)
    let spy: RawPeer | null = null
    let spyMember: Member | null = null
    let spyTimer: ReturnType<typeof setInterval> | null = null
    let spyPull: (() => Promise<void>) | null = null
    if (actorIds.spy != null) {
      const targets = attachTo(attackers.spy!.attach)
      spyMember = { peerId: actorIds.spy.peerId, name: 'spy', country: attackers.spy!.country, role: attackers.spy!.role, addrs: [] }
      spy = await RawPeer.start(actorIds.spy, { transport })
      actors.push(spy)
      for (const t of targets) await spy.dial(fed.addrs(t)).catch(() => {})
      note('spy', `spy (${attackers.spy!.role}, ${attackers.spy!.country}) attached to ${targets.map(t => specs[t].name).join(', ')}`)
      const s = spy
      // Besides what nodes push to it, the spy keeps asking every node it reaches for everything.
      spyPull = async () => { for (const t of targets) if (fed.isUp(t)) await s.pullAll(fed.peerId(t)).catch(() => 0) }
      let pulling = false
      spyTimer = setInterval(() => {
        if (pulling) return
        pulling = true
        void spyPull!().finally(() => { pulling = false })
      }, Math.max(500, sc.sync.interval))
      spyTimer.unref?.()
    }
    if (actorIds.forger != null) {
      const f = attackers.forger!
      const targets = attachTo(f.attach)
      schedule.push({
        at: f.at,
        kind: 'attack',
        detail: `forger sends ${f.bad_signature} bad-signature, ${f.tampered} tampered, ${f.unknown_author} unknown-author records${f.equivocate ? ' and an equivocating pair' : ''} to ${targets.map(t => specs[t].name).join(', ')}`,
        disturbance: true,
        run: async () => {
          const forger = await RawPeer.start(actorIds.forger!, { transport })
          actors.push(forger)
          const made = await forgeRecords(actorIds.forger!, indicators.slice(0, 50), { badSignature: f.bad_signature, tampered: f.tampered, unknownAuthor: f.unknown_author, equivocate: f.equivocate })
          forgeries = made.forgeries
          for (const set of made.sets) {
            const target = targets[set.target % targets.length]
            if (!fed.isUp(target)) continue
            if (made.forgeries.equivocation.length > 0 && set.envelopes.length === 1) actorRecords.push({ actor: actorIds.forger!.peerId, bytes: set.envelopes[0] })
            await forger.sendRecords(fed.addrs(target), set.envelopes).catch(() => {})
            await sleep(200)
          }
        }
      })
    }
    if (actorIds.flooder != null) {
      const f = attackers.flooder!
      const targets = attachTo(f.attach)
      schedule.push({
        at: f.at,
        kind: 'attack',
        detail: `flooder sends ${f.valid} valid and ${f.junk} junk records as fast as it can to ${targets.map(t => specs[t].name).join(', ')}`,
        disturbance: true,
        run: async () => {
          const flooder = await RawPeer.start(actorIds.flooder!, { transport })
          actors.push(flooder)
          const valid = floodRecords(actorIds.flooder!, indicators, f.valid)
          for (const v of valid) actorRecords.push({ actor: actorIds.flooder!.peerId, bytes: v })
          for (const t of targets) {
            if (!fed.isUp(t)) continue
            await flooder.sendRecords(fed.addrs(t), valid).catch(() => {})
            await flooder.sendRecords(fed.addrs(t), junkRecords(f.junk)).catch(() => {})
          }
        }
      })
    }

    // -------------------------------------------------------------- play
    schedule.sort((a, b) => a.at - b.at)
    const playStart = clock()
    let lastDisturbance = 0
    const running: Array<Promise<void>> = []
    let done = 0
    const series: Array<[number, number]> = []
    let entitlementCache = new Map<string, Set<number>>()
    let cacheUp = ''
    const fedView = (): Federation => ({ members, policies: declared, adjacency, up: upNow(), now: Date.now() })
    const actorFacts = (bytes: Uint8Array, actor: string): RecordFacts => {
      const r = decodeRecord(bytes)
      const a = analyzeStixObject(r.record.body)
      const m = extraRoster.find(e => e.peerId === actor)!
      return { id: r.id, author: null, authorMember: { ...m, addrs: [] }, subject: policySubject({ ...r.record, id: r.id }, { observables: a.observables, scoTypes: a.scoTypes }) }
    }
    const entitlement = (p: Published): Set<number> => {
      const up = upNow().map(u => (u ? '1' : '0')).join('')
      if (up !== cacheUp) { entitlementCache = new Map(); cacheUp = up }
      let e = play?.frozen.get(p.id) ?? entitlementCache.get(p.id)
      if (e == null) {
        const seeds = p.actor != null ? [...(fromActor.get(p.id) ?? [])] : []
        e = entitledMembers(fedView(), p.facts, seeds)
        // An actor record's seeds may still grow (a delivery in flight): keep it out of the cache.
        if (p.actor == null) entitlementCache.set(p.id, e)
      }
      return e
    }
    const coverage = (): { have: number, want: number, missing: number, unexpected: number } => {
      let have = 0
      let want = 0
      let missing = 0
      let unexpected = 0
      const up = upNow()
      for (const p of published.values()) {
        const e = entitlement(p)
        for (let i = 0; i < n; i++) {
          if (!up[i]) continue
          const h = held[i].has(p.id)
          if (e.has(i)) { want++; if (h) have++; else missing++ } else if (h) unexpected++
        }
      }
      return { have, want, missing, unexpected }
    }
    const sampler = setInterval(() => {
      const c = coverage()
      series.push([Math.round(clock()), c.want === 0 ? 1 : c.have / c.want])
    }, 250)
    sampler.unref?.()
    try {
      for (const item of schedule) {
        await sleep(playStart + item.at - clock())
        if (item.kind !== 'note') note(item.kind, item.detail)
        if (item.disturbance) lastDisturbance = clock()
        const p = item.run().catch((err: Error) => { note('note', `error: ${err.message}`) })
        // Publishes overlap, as they would on real nodes; disturbances run in order.
        if (item.kind === 'note') running.push(p)
        else await p
        if (item.disturbance) lastDisturbance = clock()
        progress({ phase: 'running', done: ++done, total: schedule.length })
        if (running.length > 64) await running.shift()
      }
      await Promise.all(running)
      for (const a of actorRecords) {
        const facts = actorFacts(a.bytes, a.actor)
        if (!published.has(facts.id)) published.set(facts.id, { id: facts.id, t0: lastDisturbance, author: null, bytes: a.bytes.length, facts, actor: a.actor })
      }

      // -------------------------------------------------------------- settle
      const settleDeadline = clock() + sc.settle
      let convergedAt: number | null = null
      let tick = 0
      while (clock() < settleDeadline) {
        const c = coverage()
        progress({ phase: 'settling', done: c.have, total: Math.max(1, c.want), detail: `${c.missing} missing, ${c.unexpected} unexpected` })
        if (c.missing === 0 && c.unexpected === 0 && tick++ >= 2) { convergedAt = clock(); break }
        await sleep(200)
      }
      clearInterval(sampler)
      if (spyTimer != null) clearInterval(spyTimer)
      // One last pull, so what the spy can get at the very end is checked too.
      await spyPull?.()
      series.push([Math.round(clock()), (() => { const c = coverage(); return c.want === 0 ? 1 : c.have / c.want })()])
      if (convergedAt != null) note('converged', `every member holds exactly its entitlement, ${Math.round(convergedAt - lastDisturbance)} ms after the last disturbance`)

      // -------------------------------------------------------------- check
      progress({ phase: 'checking', done: 0, total: 1 })
      const fin = coverage()
      const up = upNow()
      const leaks: string[] = []
      const missingList: string[] = []
      for (const p of published.values()) {
        const e = entitlement(p)
        for (let i = 0; i < n; i++) {
          if (!up[i]) continue
          const h = held[i].has(p.id)
          if (!e.has(i) && h) leaks.push(`${specs[i].name} holds ${p.id.slice(0, 16)}… (${p.facts.subject.tlp}) it is not entitled to`)
          if (e.has(i) && !h) missingList.push(`${specs[i].name} lacks ${p.id.slice(0, 16)}…`)
        }
      }
      const spyLeaks: string[] = []
      if (spy != null && spyMember != null) {
        const fv = fedView()
        for (const r of spy.received.values()) {
          const from = fed.indexOf(r.from)
          if (from < 0) continue
          const p = published.get(r.id)
          if (p == null) { spyLeaks.push(`spy got unknown record ${r.id.slice(0, 16)}… from ${specs[from].name}`); continue }
          const ok = mayHandTo(fv, from, p.facts, spyMember)
          if (!ok.ok) spyLeaks.push(`${specs[from].name} handed the spy ${r.id.slice(0, 16)}… (${p.facts.subject.tlp}) by ${r.protocol} though ${ok.rule} withholds it`)
        }
      }
      const forgedStored: string[] = []
      const f = forgeries as Forgeries | null
      if (f != null) {
        for (const id of f.forged) for (let i = 0; i < n; i++) if (held[i].has(id)) forgedStored.push(`${specs[i].name} stored forged ${id.slice(0, 16)}…`)
      }
      let equivocation: { pass: boolean, details: unknown } | null = null
      if (f != null && f.equivocation.length === 2) {
        const notFlagged: string[] = []
        let both = 0
        for (let i = 0; i < n; i++) {
          if (!fed.isUp(i) || !held[i].has(f.equivocation[0]) || !held[i].has(f.equivocation[1])) continue
          both++
          const st = await fed.stats(i)
          if (!st.flaggedAuthors.includes(actorIds.forger!.peerId)) notFlagged.push(specs[i].name)
        }
        equivocation = { pass: both > 0 && notFlagged.length === 0, details: { members_holding_both: both, not_flagged: notFlagged } }
      }

      // -------------------------------------------------------------- figures
      const lat: number[] = []
      let deliveries = 0
      for (const p of published.values()) {
        if (p.author == null) continue
        const e = entitlement(p)
        for (const i of e) {
          if (i === p.author) continue
          const t = held[i].get(p.id)
          if (t == null) continue
          deliveries++
          lat.push(Math.max(0, t - p.t0))
        }
      }
      lat.sort((a, b) => a - b)
      // The report has always said 0 for a run that delivered nothing.
      const latencyAt = (p: number): number => lat.length === 0 ? 0 : round1(percentile(lat, p))
      const cdf: Array<[number, number]> = []
      const step = Math.max(1, Math.floor(lat.length / 200))
      for (let i = 0; i < lat.length; i += step) cdf.push([Math.round(lat[i] * 10) / 10, (i + 1) / lat.length])
      if (lat.length > 0) cdf.push([Math.round(lat[lat.length - 1] * 10) / 10, 1])
      let payload = 0
      let protocolBytes = 0
      const copies = noCopies()
      const rejections: Record<string, number> = {}
      const withholdings: Record<string, number> = {}
      const memberResults: SimMemberResult[] = []
      let childRss = 0
      for (let i = 0; i < n; i++) {
        const st = fed.isUp(i) ? await fed.stats(i) : null
        let entitled = 0
        let miss = 0
        let unexpected = 0
        for (const p of published.values()) {
          const e = entitlement(p)
          const h = held[i].has(p.id)
          if (e.has(i)) { entitled++; if (!h) miss++ } else if (h) unexpected++
        }
        let rejected = 0
        let withheld = 0
        let penalties = 0
        if (st != null) {
          childRss += st.rssMb
          payload += st.payloadBytesIn
          protocolBytes += st.protocolBytesIn
          addCopies(copies, st.copies)
          for (const [k2, v] of Object.entries(st.rejected)) { rejections[k2] = (rejections[k2] ?? 0) + v; rejected += v }
          for (const [k2, v] of Object.entries(st.withheld)) { withholdings[k2] = (withholdings[k2] ?? 0) + v; withheld += v }
          penalties = st.penalties
        }
        memberResults.push({
          index: i,
          name: specs[i].name,
          peerId: fed.peerId(i),
          country: specs[i].country,
          role: specs[i].role,
          policy: declared[i].name,
          up: st != null,
          records: st?.records ?? held[i].size,
          by_tlp: st?.byTlp ?? {},
          entitled,
          missing: miss,
          unexpected,
          rejected,
          withheld,
          penalties
        })
      }
      const honest = [...published.values()].filter(p => p.author != null)
      const recordAvg = honest.length > 0 ? honest.reduce((a, p) => a + p.bytes, 0) / honest.length : 0
      const denom = Math.max(1, deliveries) * Math.max(1, recordAvg)
      const invariants: SimResult['invariants'] = {
        no_leak: { pass: leaks.length === 0 && spyLeaks.length === 0, details: { unexpected_holdings: leaks.slice(0, 50), spy_received: spy?.received.size ?? null, spy_violations: spyLeaks.slice(0, 50) } },
        convergence: { pass: fin.missing === 0 && fin.unexpected === 0, details: { entitlements: fin.want, held: fin.have, missing: fin.missing, unexpected: fin.unexpected, examples: missingList.slice(0, 20) } },
        no_forged_record: { pass: forgedStored.length === 0, details: f != null ? { forged_sent: f.forged.length, stored: forgedStored.slice(0, 50) } : 'no forger in this scenario' }
      }
      if (equivocation != null) invariants.equivocation_flagged = equivocation
      if (play != null) Object.assign(invariants, await play.invariants(held, up))
      const rss = process.memoryUsage().rss
      result = {
        scenario: sc.name,
        description: sc.description,
        seed,
        nodes: n,
        transport,
        topology: topo,
        edges,
        members: memberResults,
        records_published: published.size,
        deliveries,
        latency_ms: { p50: latencyAt(50), p95: latencyAt(95), p99: latencyAt(99), max: round1(lat[lat.length - 1] ?? 0), samples: lat.length },
        latency_cdf: cdf,
        converged: fin.missing === 0 && fin.unexpected === 0,
        convergence_ms: convergedAt != null ? Math.round(convergedAt - lastDisturbance) : null,
        convergence_series: series,
        bytes: {
          payload_per_delivery: round3(payload / denom),
          protocol_per_delivery: round3(protocolBytes / denom),
          payload_total: payload,
          protocol_total: protocolBytes,
          record_avg: Math.round(recordAvg)
        },
        copies: simCopies(copies, deliveries),
        rejections,
        withholdings,
        invariants,
        events,
        duration_ms: Math.round(clock()),
        // One process per member: the members' own processes; in process: what the run added to this one.
        memory: processes
          ? { rss_mb: Math.round(rss / 1048576) + childRss, per_node_mb: round1(childRss / Math.max(1, memberResults.filter(m => m.up).length)) }
          : { rss_mb: Math.round(rss / 1048576), per_node_mb: round1((rss - baseRss) / 1048576 / Math.max(1, n)) }
      }
    } finally {
      clearInterval(sampler)
      if (spyTimer != null) clearInterval(spyTimer)
    }
  } finally {
    progress({ phase: 'stopping', done: 0, total: 1 })
    for (const a of actors) await a.stop().catch(() => {})
    await fed.stop()
    if (opts.dir == null) await rm(dir, { recursive: true, force: true }).catch(() => {})
  }
  return result!
}

function round1 (x: number): number {
  return Math.round(x * 10) / 10
}

function round3 (x: number): number {
  return Math.round(x * 1000) / 1000
}
