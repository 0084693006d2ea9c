import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { docToJson, parseDoc, signDoc, type MembershipDoc, type NodeIdentity } from '../../src/identity/index.js'
import { FramedStream } from '../../src/net/framing.js'
import { MEMBERSHIP_PROTOCOL } from '../../src/net/protocols.js'
import type { DragnetNode } from '../../src/node.js'
import { identityFor, waitFor } from '../helpers/federation.js'
import { HostileMember } from '../helpers/hostile-member.js'
import { testNode } from '../helpers/node.js'
import { tempDir } from '../helpers/tmp.js'

/*
 * Penalties on /dragnet/membership/1.0.0: a member holding a roster key speaks the membership
 * protocol to a victim frame by frame and hands it documents that do not verify. Each is a
 * strike; past the budget the sender is cut off and refused. An honest relay of credentials
 * that merely expired in flight is never punished. The victim stores none of it and stays well.
 */

const STRIKES = 6
const iso = (ms: number): string => new Date(ms).toISOString()

function credential (peerId: string, name: string, signers: NodeIdentity[], window: { from?: number, to?: number } = {}): MembershipDoc {
  let d = parseDoc({ dragnet: 'membership/v1', kind: 'credential', body: { peerId, name, country: 'ES', role: 'bureau', addrs: [], notBefore: iso(window.from ?? Date.now() - 60_000), notAfter: iso(window.to ?? Date.now() + 86_400_000) }, sigs: [] })
  for (const s of signers) d = signDoc(d, s)
  return d
}

/**
 * One exchange initiated by `member`, as the protocol runs it (HAVE, WANT, the victim's DOCS
 * and END, then ours): the documents are sent whatever they hold. Resolves with how the stream
 * ended: 'closed' after the victim read everything, 'reset' when it hung up on us.
 */
async function exchange (member: HostileMember, victim: DragnetNode, docs: unknown[]): Promise<'closed' | 'reset'> {
  // A member sitting out a penalty does not get a stream at all.
  const stream = await member.libp2p.dialProtocol(peerIdFromString(victim.peerId), MEMBERSHIP_PROTOCOL, { signal: AbortSignal.timeout(10_000) }).catch(() => null)
  if (stream == null) return 'reset'
  const f = new FramedStream(stream, { maxFrameBytes: 16 << 20, ioTimeoutMs: 10_000 })
  const frame = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
  try {
    await f.write(frame({ t: 'have', ids: docs.map(() => randomBytes(32).toString('hex')) }))
    const want = JSON.parse(new TextDecoder().decode((await f.read(AbortSignal.timeout(10_000)))!))
    assert.equal(want.t, 'want')
    while (true) {
      const raw = await f.read(AbortSignal.timeout(10_000))
      if (raw == null || JSON.parse(new TextDecoder().decode(raw)).t === 'end') break
    }
    for (let i = 0; i < docs.length; i += 4) await f.write(frame({ t: 'docs', docs: docs.slice(i, i + 4) }))
    await f.write(frame({ t: 'end' }))
    // The victim closes once it has read (and judged) everything, or resets on a penalty.
    const end = await f.read(AbortSignal.timeout(20_000)).then(() => 'closed' as const, () => 'reset' as const)
    return stream.status === 'reset' || stream.status === 'aborted' ? 'reset' : end
  } catch {
    return 'reset'
  }
}

describe('membership protocol: bad documents are penalised, honest relays are not', function () {
  this.timeout(90_000)
  let tmp: { dir: string, cleanup: () => Promise<void> }
  let victim: DragnetNode
  let roots: NodeIdentity[]
  let hostile: HostileMember
  let relay: HostileMember
  let held: string[]

  before(async () => {
    tmp = await tempDir('dragnet-member-hostile-')
    roots = await Promise.all(['h-root-A', 'h-root-B', 'h-root-C'].map(identityFor))
    const hostileId = await identityFor('h-hostile')
    const relayId = await identityFor('h-relay')
    victim = await testNode({
      dir: join(tmp.dir, 'victim'),
      name: 'victim',
      network: true,
      config: {
        listen: ['/ip4/127.0.0.1/tcp/0'],
        // Both hold a roster key here: the victim's own entries.
        roster: { members: [{ peerId: hostileId.peerId, name: 'hostile', country: 'ZZ' }, { peerId: relayId.peerId, name: 'relay', country: 'NL' }], deny: [] },
        federation: { roots: roots.map(r => r.peerId), threshold: 2 },
        limits: { strikesPerPeer: STRIKES, penaltyCooldownMs: 60_000 }
      }
    })
    assert.equal((await victim.offerMembership(docToJson(credential((await identityFor('h-member-W')).peerId, 'member-W', roots.slice(0, 2))))).status, 'stored')
    held = victim.membership.ids().sort()
    hostile = await HostileMember.start(hostileId)
    relay = await HostileMember.start(relayId)
    await hostile.connect(victim)
    await relay.connect(victim)
  })

  after(async () => {
    await hostile?.stop()
    await relay?.stop()
    await victim?.stop()
    await tmp?.cleanup()
  })

  it('an honest relay handing on credentials that expired in flight is not punished', async () => {
    const expired = await Promise.all(Array.from({ length: STRIKES * 2 }, async (_, i) => docToJson(credential((await identityFor(`h-expired-${i}`)).peerId, `expired-${i}`, roots.slice(0, 2), { from: Date.now() - 86_400_000, to: Date.now() - 1000 }))))
    assert.equal(await exchange(relay, victim, expired), 'closed')
    assert.equal(victim.peers!.state(relay.peerId)?.penalties, 0)
    assert.equal(victim.peers!.state(relay.peerId)?.connected, true)
    assert.deepEqual(victim.membership.ids().sort(), held, 'nothing stored')
    await waitFor(async () => (await victim.store.auditEntries({ limit: 1000 })).filter(e => e.rule === 'membership:expired' && e.peer === relay.peerId).length === expired.length, 'each expired credential audited as refused')
  })

  it('forged, under-signed, non-root, malformed and oversized documents: strikes, then a penalty and a hang-up; nothing stored', async () => {
    const target = await identityFor('h-target')
    const stranger = await identityFor('h-stranger')
    const forged = credential(target.peerId, 'target', roots.slice(0, 2))
    const sig = Buffer.from(forged.sigs[0].sig, 'base64url')
    sig[3] ^= 0xff
    forged.sigs[0] = { ...forged.sigs[0], sig: sig.toString('base64url') }
    const bad: unknown[] = [
      docToJson(forged),
      docToJson(credential(target.peerId, 'target', [roots[0]])),
      docToJson(credential(target.peerId, 'target', [roots[0], stranger])),
      { dragnet: 'membership/v1', kind: 'credential', body: { peerId: target.peerId }, sigs: [] },
      { ...docToJson(credential(target.peerId, 'target', roots.slice(0, 2))), padding: 'x'.repeat(20_000) },
      { dragnet: 'membership/v1', kind: 'revocation', body: { peerId: relay.peerId, reason: 'takeover', at: iso(Date.now()) }, sigs: [] }
    ]
    // Within the budget: counted, refused, audited, but the exchange runs to its end.
    assert.equal(await exchange(hostile, victim, bad.slice(0, STRIKES - 1)), 'closed')
    assert.equal(victim.peers!.state(hostile.peerId)?.penalties, 0)
    // Past it: cut off in the middle of the next one.
    assert.equal(await exchange(hostile, victim, [...bad, ...bad]), 'reset')
    await waitFor(() => (victim.peers!.state(hostile.peerId)?.penalties ?? 0) >= 1 && victim.peers!.state(hostile.peerId)?.connected !== true, 'the hostile member penalised and disconnected')
    assert.match(victim.peers!.state(hostile.peerId)!.lastPenalty!.reason, /membership: sent membership documents that do not verify/)
    // Refused while it sits out the penalty: not even a good document gets through.
    const good = docToJson(credential(target.peerId, 'target', roots.slice(1, 3)))
    assert.equal(await exchange(hostile, victim, [good]), 'reset')
    assert.notEqual(victim.peers!.state(hostile.peerId)?.connected, true)
    assert.deepEqual(victim.membership.ids().sort(), held, 'nothing stored')
    assert.equal(victim.roster.get(target.peerId), undefined)
    assert.ok(victim.roster.get(relay.peerId) != null, 'the relay was not revoked')
    await waitFor(async () => {
      const rules = new Set((await victim.store.auditEntries({ limit: 1000 })).filter(e => e.peer === hostile.peerId && e.verdict === 'reject').map(e => e.rule))
      return ['membership:bad-signature', 'membership:too-few-signatures', 'membership:not-root', 'membership:malformed', 'membership:oversized'].every(r => rules.has(r))
    }, 'each refusal audited with its rule')
    // The victim stays well: the honest relay still exchanges, and a good credential still lands.
    assert.equal(victim.peers!.state(relay.peerId)?.connected, true)
    assert.equal(await exchange(relay, victim, [good]), 'closed')
    await waitFor(() => victim.roster.get(target.peerId)?.name === 'target', 'a good credential relayed by an honest member is admitted')
    assert.equal(victim.peers!.state(relay.peerId)?.penalties, 0)
    assert.equal((await victim.status()).peerId, victim.peerId)
  })
})
