import { parentPort } from 'node:worker_threads'
import { signatureValid } from '../record/index.js'

// Verifies signatures for the main thread: ids of the request come back with one flag each.
// Loaded and ready: the pool waits for this before the node reports itself started.
parentPort!.postMessage({ ready: true })

parentPort!.on('message', (msg: { id: number, items: Uint8Array[] }) => {
  const ok = new Uint8Array(msg.items.length)
  for (let i = 0; i < msg.items.length; i++) {
    try {
      ok[i] = signatureValid(msg.items[i]) ? 1 : 0
    } catch {
      ok[i] = 0
    }
  }
  parentPort!.postMessage({ id: msg.id, ok }, [ok.buffer])
})
