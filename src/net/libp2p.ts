import { readFile } from 'node:fs/promises'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, type Identify } from '@libp2p/identify'
import type { ConnectionGater, Libp2p, PeerId } from '@libp2p/interface'
import { memory } from '@libp2p/memory'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { DragnetError } from '../errors.js'
import type { NodeIdentity } from '../identity/index.js'

export type DragnetLibp2p = Libp2p<{ identify: Identify }>

/** Who may connect: roster members not sitting out a penalty. Consulted before any protocol runs. */
export interface Admission {
  admits: (peerId: string) => boolean
}

export interface Libp2pInit {
  identity: NodeIdentity
  transport: 'tcp' | 'memory'
  listen: string[]
  announce?: string[]
  /** path to a pre-shared key file (`/key/swarm/psk/1.0.0/` format) for a private federation network */
  psk?: string | null
  admission: Admission
  /** multiaddr prefixes exempt from the 5-connections/s inbound limit (loopback federations) */
  allow?: string[]
}

/**
 * The gater admits roster peers only, inbound and outbound. The first inbound hook that knows
 * the peer is the post-Noise one; outbound, dials by PeerId are refused before any traffic and
 * dials to bare addresses after the handshake reveals who answered.
 */
export function rosterGater (admission: Admission): ConnectionGater {
  const deny = (p: PeerId): boolean => !admission.admits(p.toString())
  return {
    denyDialPeer: deny,
    denyInboundEncryptedConnection: (p) => deny(p),
    denyOutboundEncryptedConnection: (p) => deny(p),
    denyInboundUpgradedConnection: (p) => deny(p),
    denyOutboundUpgradedConnection: (p) => deny(p)
  }
}

export async function createNodeLibp2p (init: Libp2pInit): Promise<DragnetLibp2p> {
  let connectionProtector
  if (init.psk != null) {
    let psk: Uint8Array
    try {
      psk = await readFile(init.psk)
    } catch (err: any) {
      throw new DragnetError('DRAGNET_BAD_CONFIG', `cannot read psk file ${init.psk}: ${err.code ?? err.message}`, { property: 'psk' }, { cause: err })
    }
    connectionProtector = preSharedKey({ psk })
  }
  try {
    return await createLibp2p({
      privateKey: init.identity.privateKey,
      addresses: { listen: init.listen, announce: init.announce ?? [] },
      transports: [init.transport === 'memory' ? memory() : tcp()],
      connectionEncrypters: [noise()],
      // A window no larger than the read buffer: a paused stream then really stops its sender.
      streamMuxers: [yamux({ streamOptions: { maxStreamWindowSize: 1 << 20 } } as any)],
      connectionGater: rosterGater(init.admission),
      ...(connectionProtector != null ? { connectionProtector } : {}),
      connectionManager: {
        allow: init.allow ?? ['/ip4/127.0.0.1/ipcidr/32', '/ip6/::1/ipcidr/128'],
        maxConnections: 1000,
        dialTimeout: 10_000
      },
      services: { identify: identify() },
      start: false
    })
  } catch (err: any) {
    if (err instanceof DragnetError) throw err
    throw new DragnetError('DRAGNET_BAD_CONFIG', `cannot set up libp2p: ${err.message}`, {}, { cause: err })
  }
}
