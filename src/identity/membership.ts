import { createHash, createPublicKey, verify as edVerify } from 'node:crypto'
import { z } from 'zod'
import { DragnetError } from '../errors.js'
import { canonicalJson } from '../record/canonical.js'
import { publicKeyOfPeerId } from '../record/index.js'
import { ROLES } from './roster.js'

/*
 * Membership documents: what the federation's roots say about who is a member, signed so any
 * node can check them offline, whoever relayed them.
 *
 *  - credential   roots vouch for a PeerId: name, country, role, addresses, validity window
 *  - revocation   roots withdraw a PeerId
 *  - handover     a member's old key names its new PeerId (signed by the old key alone: it can
 *                 only give up the old key's standing; the new key still needs a credential)
 *
 * Each signature covers `dragnet/membership/v1\n<kind>\n` followed by the RFC 8785 bytes of the
 * body (domain separation: a membership signature is never a valid record signature and the
 * other way round, and a credential signature never signs a revocation). The document id is the
 * SHA-256 of those bytes, so two roots signing the same body produce the same id and their
 * signatures merge.
 */
export const MEMBERSHIP_DOMAIN = 'dragnet/membership/v1\n'
export const DOC_KINDS = ['credential', 'revocation', 'handover'] as const
export type DocKind = typeof DOC_KINDS[number]

const PEER_ID = z.string().regex(/^[1-9A-HJ-NP-Za-km-z]{30,100}$/, 'a PeerId')
const ISO_TIME = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/, 'an ISO 8601 UTC time such as 2026-01-01T00:00:00Z')
const SIG = z.object({ by: PEER_ID, sig: z.string().regex(/^[A-Za-z0-9_-]{86}$/, '64 bytes, base64url') }).strict()

export const credentialBodySchema = z.object({
  peerId: PEER_ID,
  name: z.string().min(1).max(200),
  country: z.string().regex(/^[A-Z]{2}$/, 'an ISO 3166 alpha-2 code such as DE'),
  role: z.enum(ROLES),
  addrs: z.array(z.string().max(300)).max(16),
  notBefore: ISO_TIME,
  notAfter: ISO_TIME
}).strict()

export const revocationBodySchema = z.object({
  peerId: PEER_ID,
  reason: z.string().min(1).max(1000),
  at: ISO_TIME
}).strict()

export const handoverBodySchema = z.object({
  old: PEER_ID,
  new: PEER_ID,
  at: ISO_TIME
}).strict()

export type CredentialBody = z.infer<typeof credentialBodySchema>
export type RevocationBody = z.infer<typeof revocationBodySchema>
export type HandoverBody = z.infer<typeof handoverBodySchema>
export type Signature = z.infer<typeof SIG>

export type MembershipDoc =
  | { kind: 'credential', body: CredentialBody, sigs: Signature[] }
  | { kind: 'revocation', body: RevocationBody, sigs: Signature[] }
  | { kind: 'handover', body: HandoverBody, sigs: Signature[] }

const docSchema = z.discriminatedUnion('kind', [
  z.object({ dragnet: z.literal('membership/v1'), kind: z.literal('credential'), body: credentialBodySchema, sigs: z.array(SIG).max(64) }).strict(),
  z.object({ dragnet: z.literal('membership/v1'), kind: z.literal('revocation'), body: revocationBodySchema, sigs: z.array(SIG).max(64) }).strict(),
  z.object({ dragnet: z.literal('membership/v1'), kind: z.literal('handover'), body: handoverBodySchema, sigs: z.array(SIG).max(64) }).strict()
])

/** Largest document accepted from a file or a peer. */
export const MAX_DOC_BYTES = 16 * 1024

/** Anything that signs with a member's node key (NodeIdentity). */
export interface DocSigner {
  peerId: string
  sign: (data: Uint8Array) => Uint8Array
}

export function signedBytes (kind: DocKind, body: unknown): Uint8Array {
  return new TextEncoder().encode(`${MEMBERSHIP_DOMAIN}${kind}\n${canonicalJson(body)}`)
}

export function docId (doc: Pick<MembershipDoc, 'kind' | 'body'>): string {
  return createHash('sha256').update(signedBytes(doc.kind, doc.body)).digest('hex')
}

/** Parses a document (from a file or the wire); shape only, signatures are checked by `verifyDoc`. */
export function parseDoc (value: unknown): MembershipDoc {
  const r = docSchema.safeParse(value)
  if (!r.success) {
    const i = r.error.issues[0]
    throw new DragnetError('DRAGNET_BAD_CREDENTIAL', `not a membership document: ${i.path.join('.') || '(top level)'}: ${i.message}`, { property: i.path.join('.') })
  }
  const { kind, body, sigs } = r.data
  if (kind === 'credential' && Date.parse(body.notAfter) <= Date.parse(body.notBefore)) {
    throw new DragnetError('DRAGNET_BAD_CREDENTIAL', 'credential notAfter is not after notBefore', { property: 'body.notAfter' })
  }
  return { kind, body, sigs } as MembershipDoc
}

export function docToJson (doc: MembershipDoc): Record<string, unknown> {
  return { dragnet: 'membership/v1', kind: doc.kind, body: doc.body, sigs: doc.sigs }
}

/** Adds `signer`'s signature (replacing an earlier one by the same key). */
export function signDoc<D extends MembershipDoc> (doc: D, signer: DocSigner): D {
  const sig = Buffer.from(signer.sign(signedBytes(doc.kind, doc.body))).toString('base64url')
  return { ...doc, sigs: [...doc.sigs.filter(s => s.by !== signer.peerId), { by: signer.peerId, sig }] }
}

const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

function sigValid (by: string, sig: string, data: Uint8Array): boolean {
  let raw: Uint8Array
  try {
    raw = publicKeyOfPeerId(by)
  } catch {
    return false
  }
  const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' })
  return edVerify(null, data, key, Buffer.from(sig, 'base64url'))
}

export interface Federation {
  /** PeerIds whose node keys sign credentials and revocations */
  roots: string[]
  /** distinct root signatures a credential or revocation needs */
  threshold: number
}

/** Why a document is not believed: the audit rule and a sentence for the operator. */
export interface DocRefusal {
  rule: string
  reason: string
}

/**
 * Checks a document's signatures: k distinct valid root signatures for credentials and
 * revocations (a signature by a non-root, or one that does not verify, is named in the refusal
 * when it leaves the document short), the old key's own signature for a hand-over. A valid
 * credential past its `notAfter` is refused too: it admits no one.
 */
export function verifyDoc (doc: MembershipDoc, fed: Federation, now = Date.now()): DocRefusal | undefined {
  const data = signedBytes(doc.kind, doc.body)
  if (doc.kind === 'handover') {
    if (doc.body.old === doc.body.new) return { rule: 'membership:bad-handover', reason: 'hand-over names the same key twice' }
    const ok = doc.sigs.some(s => s.by === doc.body.old && sigValid(s.by, s.sig, data))
    return ok ? undefined : { rule: 'membership:bad-signature', reason: `hand-over from ${doc.body.old} is not signed by that key` }
  }
  const roots = new Set(fed.roots)
  const good = new Set<string>()
  const problems: string[] = []
  for (const s of doc.sigs) {
    if (!roots.has(s.by)) { problems.push(`${s.by} is not a federation root`); continue }
    if (!sigValid(s.by, s.sig, data)) { problems.push(`the signature by root ${s.by} does not verify (forged or altered)`); continue }
    good.add(s.by)
  }
  const what = doc.kind === 'credential' ? `credential for ${doc.body.peerId}` : `revocation of ${doc.body.peerId}`
  if (good.size < fed.threshold) {
    const rule = problems.some(p => p.includes('does not verify')) ? 'membership:bad-signature' : problems.length > 0 ? 'membership:not-root' : 'membership:too-few-signatures'
    return { rule, reason: `${what} carries ${good.size} valid root signature(s), the federation needs ${fed.threshold}${problems.length > 0 ? ': ' + problems.join('; ') : ''}` }
  }
  if (doc.kind === 'credential' && Date.parse(doc.body.notAfter) <= now) {
    return { rule: 'membership:expired', reason: `${what} expired at ${doc.body.notAfter}` }
  }
  return undefined
}

/** Merges the signatures of two copies of one document (same id). */
export function mergeDocs (a: MembershipDoc, b: MembershipDoc): MembershipDoc {
  const sigs = [...a.sigs]
  for (const s of b.sigs) if (!sigs.some(x => x.by === s.by)) sigs.push(s)
  return { ...a, sigs } as MembershipDoc
}

export function describeDoc (doc: MembershipDoc): string {
  switch (doc.kind) {
    case 'credential': return `credential for ${doc.body.name} (${doc.body.country}, ${doc.body.role}) ${doc.body.peerId}, valid ${doc.body.notBefore} to ${doc.body.notAfter}`
    case 'revocation': return `revocation of ${doc.body.peerId} at ${doc.body.at}: ${doc.body.reason}`
    case 'handover': return `hand-over from ${doc.body.old} to ${doc.body.new} at ${doc.body.at}`
  }
}
