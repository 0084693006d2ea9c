import { createPrivateKey, sign as edSign, type KeyObject } from 'node:crypto'
import { readFile, stat, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, generateKeyPairFromSeed, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { DragnetError } from '../errors.js'
import type { RecordSigner } from '../record/index.js'
import { PRIVATE_DIR_MODE, writePrivateFile } from '../util/private-file.js'

export const KEY_FILE = 'node.key'
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

/** A member's identity: the libp2p key is the member. Signing uses a cached KeyObject (2× libp2p's sign rate). */
export class NodeIdentity implements RecordSigner {
  readonly privateKey: PrivateKey
  readonly peerId: string
  readonly publicKey: Uint8Array
  private readonly keyObject: KeyObject

  constructor (privateKey: PrivateKey) {
    if (privateKey.type !== 'Ed25519') throw new DragnetError('DRAGNET_BAD_KEY', `node key must be Ed25519, got ${privateKey.type}`)
    this.privateKey = privateKey
    this.publicKey = privateKey.publicKey.raw
    this.peerId = privateKey.publicKey.toString()
    const seed = privateKey.raw.subarray(0, 32)
    this.keyObject = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' })
  }

  sign (data: Uint8Array): Uint8Array {
    return edSign(null, data, this.keyObject)
  }

  static async generate (): Promise<NodeIdentity> {
    return new NodeIdentity(await generateKeyPair('Ed25519'))
  }

  /** Deterministic identity from a 32-byte seed: simulations use this to be reproducible. */
  static async fromSeed (seed: Uint8Array): Promise<NodeIdentity> {
    return new NodeIdentity(await generateKeyPairFromSeed('Ed25519', seed))
  }

  static fromProtobuf (buf: Uint8Array): NodeIdentity {
    try {
      return new NodeIdentity(privateKeyFromProtobuf(buf))
    } catch (err) {
      if (err instanceof DragnetError) throw err
      throw new DragnetError('DRAGNET_BAD_KEY', `cannot read node key: ${(err as Error).message}`, {}, { cause: err })
    }
  }

  toProtobuf (): Uint8Array {
    return privateKeyToProtobuf(this.privateKey)
  }
}

export async function keyFileExists (dataDir: string): Promise<boolean> {
  try {
    await stat(join(dataDir, KEY_FILE))
    return true
  } catch (err: any) {
    if (err.code === 'ENOENT') return false
    throw err
  }
}

export async function loadIdentity (dataDir: string): Promise<NodeIdentity> {
  let buf: Buffer
  try {
    buf = await readFile(join(dataDir, KEY_FILE))
  } catch (err: any) {
    if (err.code === 'ENOENT') throw new DragnetError('DRAGNET_BAD_KEY', `no node key in ${dataDir} (run dragnet init --data ${dataDir})`, {}, { cause: err })
    throw err
  }
  return NodeIdentity.fromProtobuf(buf)
}

/** Writes the key with mode 0600, atomically and fsync'd, so a crash never leaves half a key. */
export async function saveIdentity (dataDir: string, identity: NodeIdentity, opts: { force?: boolean } = {}): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE })
  if (opts.force !== true && await keyFileExists(dataDir)) {
    throw new DragnetError('DRAGNET_KEY_EXISTS', `${join(dataDir, KEY_FILE)} already exists; pass --force to replace this node's identity`)
  }
  await writePrivateFile(join(dataDir, KEY_FILE), identity.toProtobuf())
}
