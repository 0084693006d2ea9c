import { DragnetError } from '../../errors.js'
import type { ReconInitiator, ReconOptions, ReconSession } from './session.js'
import { createInitiator, createResponder } from './session.js'
import { createNaiveInitiator, createNaiveResponder } from './naive.js'
import type { ReconView } from './view.js'

export interface LocalSideResult {
  have: Uint8Array[]
  need: Uint8Array[]
  /** CPU time spent inside this side's session calls (user + system), ms */
  cpuMs: number
  bytesSent: number
  messagesSent: number
}

export interface LocalResult {
  initiator: LocalSideResult
  responder: LocalSideResult
  /** initiator messages; a round trip is one initiator message and the reply to it */
  roundTrips: number
  messages: number
  totalBytes: number
}

export type Protocol = 'range' | 'naive'

function cpuMs (start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start)
  return (d.user + d.system) / 1000
}

/**
 * Runs both sides of a reconciliation in memory, passing messages back and forth, and gathers
 * what each side found. For tests, benches and simulations; a real node drives one side over a
 * stream instead.
 */
export function reconcileLocally (a: ReconView, b: ReconView, opts: ReconOptions = {}, protocol: Protocol = 'range'): LocalResult {
  const init: ReconInitiator = protocol === 'range' ? createInitiator(a, opts) : createNaiveInitiator(a, opts)
  const resp: ReconSession = protocol === 'range' ? createResponder(b, opts) : createNaiveResponder(b, opts)
  const sides = {
    initiator: { have: [] as Uint8Array[], need: [] as Uint8Array[], cpuMs: 0 },
    responder: { have: [] as Uint8Array[], need: [] as Uint8Array[], cpuMs: 0 }
  }
  let t = process.cpuUsage()
  let msg: Uint8Array | undefined = init.initiate()
  sides.initiator.cpuMs += cpuMs(t)
  let sender: 'initiator' | 'responder' = 'initiator'
  let messages = 1
  let roundTrips = 1
  // each side bounds its own rounds; this only guards against a driver bug
  const cap = 4 * ((opts.maxRounds ?? 1024) + 2)
  while (msg != null) {
    const receiver: 'initiator' | 'responder' = sender === 'initiator' ? 'responder' : 'initiator'
    const session = receiver === 'initiator' ? init : resp
    t = process.cpuUsage()
    const step = session.consume(msg)
    sides[receiver].cpuMs += cpuMs(t)
    for (const id of step.have) sides[receiver].have.push(id)
    for (const id of step.need) sides[receiver].need.push(id)
    msg = step.message
    if (msg != null) {
      messages++
      if (receiver === 'initiator') roundTrips++
      if (messages > cap) throw new DragnetError('DRAGNET_INTERNAL', 'local reconciliation did not terminate')
    }
    sender = receiver
  }
  if (!init.done || !resp.done) throw new DragnetError('DRAGNET_INTERNAL', 'local reconciliation stopped with a side still waiting')
  const si = init.stats
  const sr = resp.stats
  return {
    initiator: { ...sides.initiator, bytesSent: si.bytesSent, messagesSent: si.messagesSent },
    responder: { ...sides.responder, bytesSent: sr.bytesSent, messagesSent: sr.messagesSent },
    roundTrips,
    messages,
    totalBytes: si.bytesSent + sr.bytesSent
  }
}
