import { parentPort } from 'node:worker_threads'
import { checkRecord, type VerifyRequest } from './checks.js'

// Verifies signatures for the main thread and, for records that pass, runs the checks that need
// no store (decoding, STIX validation, observables): one result per item comes back.
// Loaded and ready: the pool waits for this before the node reports itself started.
parentPort!.postMessage({ ready: true })

parentPort!.on('message', (msg: VerifyRequest) => {
  const ok = new Uint8Array(msg.items.length)
  const checked = msg.items.map((bytes, i) => {
    const c = checkRecord(bytes, msg.ids?.[i], msg.limits)
    ok[i] = c.signature ? 1 : 0
    return c.result
  })
  parentPort!.postMessage({ id: msg.id, ok, checked }, [ok.buffer])
})
