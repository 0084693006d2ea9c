import assert from 'node:assert/strict'
import { docId, NodeIdentity, parseDoc, rosterInForce, signDoc, verifyDoc, type MembershipDoc, type Member } from '../../../src/identity/index.js'
import { isDragnetError } from '../../../src/errors.js'
import { identityFor } from '../../helpers/federation.js'

const DAY = 86_400_000
const NOW = Date.parse('2026-06-01T00:00:00Z')

function cred (peerId: string, name: string, from = NOW - DAY, to = NOW + DAY): MembershipDoc {
  return parseDoc({ dragnet: 'membership/v1', kind: 'credential', body: { peerId, name, country: 'DE', role: 'bureau', addrs: [], notBefore: new Date(from).toISOString(), notAfter: new Date(to).toISOString() }, sigs: [] })
}

function signedBy<D extends MembershipDoc> (doc: D, ...ids: NodeIdentity[]): D {
  return ids.reduce((d, id) => signDoc(d, id), doc)
}

describe('membership documents', () => {
  let roots: NodeIdentity[]
  let m: NodeIdentity
  before(async () => {
    roots = await Promise.all(['r1', 'r2', 'r3'].map(async n => await identityFor(`unit-${n}`)))
    m = await identityFor('unit-member')
  })
  const fed = (): { roots: string[], threshold: number } => ({ roots: roots.map(r => r.peerId), threshold: 2 })

  it('needs k distinct valid root signatures', () => {
    const d = cred(m.peerId, 'M')
    assert.equal(verifyDoc(signedBy(d, roots[0]), fed(), NOW)?.rule, 'membership:too-few-signatures')
    // The same root twice is one signature.
    const twice = signedBy(d, roots[0])
    assert.equal(verifyDoc({ ...twice, sigs: [...twice.sigs, ...twice.sigs] }, fed(), NOW)?.rule, 'membership:too-few-signatures')
    assert.equal(verifyDoc(signedBy(d, roots[0], roots[2]), fed(), NOW), undefined)
  })

  it('a signature over another body, or by a non-root, does not count', async () => {
    const d = signedBy(cred(m.peerId, 'M'), roots[0], roots[1])
    const altered = { ...d, body: { ...d.body, role: 'observer' } } as MembershipDoc
    assert.equal(verifyDoc(altered, fed(), NOW)?.rule, 'membership:bad-signature')
    const outsider = await identityFor('unit-outsider')
    assert.equal(verifyDoc(signedBy(cred(m.peerId, 'M'), roots[0], outsider), fed(), NOW)?.rule, 'membership:not-root')
  })

  it('a credential signature is never a revocation signature (domain separation)', () => {
    const c = signedBy(cred(m.peerId, 'M'), roots[0], roots[1])
    const r = parseDoc({ dragnet: 'membership/v1', kind: 'revocation', body: { peerId: m.peerId, reason: 'x', at: '2026-06-01T00:00:00Z' }, sigs: c.sigs })
    assert.equal(verifyDoc(r, fed(), NOW)?.rule, 'membership:bad-signature')
    assert.notEqual(docId(c), docId(r))
  })

  it('refuses an expired credential and malformed documents', () => {
    assert.equal(verifyDoc(signedBy(cred(m.peerId, 'M', NOW - 3 * DAY, NOW - DAY), roots[0], roots[1]), fed(), NOW)?.rule, 'membership:expired')
    for (const bad of [{}, { dragnet: 'membership/v1', kind: 'credential', body: {}, sigs: [] }, { ...cred(m.peerId, 'M'), dragnet: 'membership/v1', extra: 1 }]) {
      assert.throws(() => parseDoc(bad), (e: unknown) => isDragnetError(e, 'DRAGNET_BAD_CREDENTIAL'))
    }
  })

  it('a hand-over counts only with the old key\'s signature', async () => {
    const next = await NodeIdentity.generate()
    const h = parseDoc({ dragnet: 'membership/v1', kind: 'handover', body: { old: m.peerId, new: next.peerId, at: '2026-06-01T00:00:00Z' }, sigs: [] })
    assert.equal(verifyDoc(signDoc(h, next), fed(), NOW)?.rule, 'membership:bad-signature')
    assert.equal(verifyDoc(signDoc(h, m), fed(), NOW), undefined)
  })
})

describe('the roster in force', () => {
  const ids: Record<string, string> = {}
  let self: Member
  before(async () => {
    for (const n of ['self', 'a', 'b', 'old', 'r', 'local', 'later']) ids[n] = (await identityFor(`unit-roster-${n}`)).peerId
    self = { peerId: ids.self, name: 'self', country: 'DE', role: 'bureau', addrs: [] }
  })
  const docs = (): MembershipDoc[] => [cred(ids.a, 'A'), cred(ids.b, 'B'), cred(ids.old, 'C', NOW - 3 * DAY, NOW - DAY)]

  it('= valid credentials − revocations + local entries − local denials', () => {
    const revoke = parseDoc({ dragnet: 'membership/v1', kind: 'revocation', body: { peerId: ids.r, reason: 'gone', at: '2026-06-01T00:00:00Z' }, sigs: [] })
    const view = rosterInForce({ self, local: [{ peerId: ids.local, name: 'L', country: 'FR', role: 'contributor', addrs: [] }], deny: [ids.b], docs: [...docs(), cred(ids.r, 'R'), revoke], now: NOW })
    assert.deepEqual(view.members.map(m => m.peerId).sort(), [ids.self, ids.a, ids.local].sort())
    const status = Object.fromEntries(view.known.map(k => [k.name, k.status]))
    assert.deepEqual(status, { self: 'member', A: 'member', B: 'denied', C: 'expired', R: 'revoked', L: 'member' })
  })

  it('a credential not yet valid is pending; a hand-over takes the old key out', () => {
    const h = parseDoc({ dragnet: 'membership/v1', kind: 'handover', body: { old: ids.a, new: ids.b, at: '2026-05-01T00:00:00Z' }, sigs: [] })
    const view = rosterInForce({ self, local: [], deny: [], docs: [...docs(), cred(ids.later, 'later', NOW + DAY, NOW + 2 * DAY), h], now: NOW })
    const by = new Map(view.known.map(k => [k.name, k]))
    assert.equal(by.get('later')?.status, 'pending')
    assert.equal(by.get('A')?.status, 'rotated')
    assert.equal(by.get('A')?.successor, ids.b)
    assert.equal(view.handovers.get(ids.a)?.at, Date.parse('2026-05-01T00:00:00Z'))
  })
})
