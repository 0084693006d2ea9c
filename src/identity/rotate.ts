import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { writePrivateFile, PRIVATE_DIR_MODE } from '../util/private-file.js'
import { FILES, readMetadata } from './data-dir.js'
import { loadIdentity, NodeIdentity, saveIdentity } from './identity.js'
import { docId, docToJson, parseDoc, signDoc, type MembershipDoc } from './membership.js'
import { MEMBERSHIP_DIR } from './membership-state.js'

export interface Rotation {
  old: NodeIdentity
  next: NodeIdentity
  handover: MembershipDoc
  /** where the hand-over was kept, with the node's membership documents */
  file: string
}

/**
 * Replaces a (stopped) node's key: the old key signs a hand-over naming the new PeerId, kept with
 * the node's membership documents (it spreads once the node runs again), and the new key takes
 * the old one's place. From the hand-over on, records the old key signs are refused everywhere.
 * `next` is for the simulator (seeded keys); the CLI generates one.
 */
export async function rotateKey (dataDir: string, next?: NodeIdentity, now = Date.now()): Promise<Rotation> {
  const old = await loadIdentity(dataDir)
  const key = next ?? await NodeIdentity.generate()
  const at = new Date(Math.floor(now / 1000) * 1000).toISOString().replace('.000Z', 'Z')
  const handover = signDoc(parseDoc({ dragnet: 'membership/v1', kind: 'handover', body: { old: old.peerId, new: key.peerId, at }, sigs: [] }), old)
  const file = join(dataDir, MEMBERSHIP_DIR, `${docId(handover)}.json`)
  await mkdir(join(dataDir, MEMBERSHIP_DIR), { recursive: true, mode: PRIVATE_DIR_MODE })
  await writePrivateFile(file, JSON.stringify(docToJson(handover), null, 2) + '\n')
  const metadata = await readMetadata(dataDir)
  await saveIdentity(dataDir, key, { force: true })
  if (metadata != null) await writePrivateFile(join(dataDir, FILES.metadata), JSON.stringify({ ...metadata, peerId: key.peerId }, null, 2) + '\n')
  // A sync snapshot names the old key as this node: start afresh from the store.
  await rm(join(dataDir, 'store.sync.snap'), { force: true })
  return { old, next: key, handover, file }
}
