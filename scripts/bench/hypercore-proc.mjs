// The Hypercore 11 baseline of the sync bench's catch-up: one side per process, on-disk storage
// (RocksDB, as dragnet's LevelDB), replication over a real TCP socket on 127.0.0.1.
//   node scripts/bench/hypercore-proc.mjs writer DIR BLOCKS BYTES
//     appends BLOCKS random blocks of BYTES bytes (signed tree), serves them; prints { key, port }
//     once listening; runs until SIGTERM.
//   node scripts/bench/hypercore-proc.mjs reader DIR KEY PORT BLOCKS
//     replicates every block (each verified against the writer's signed tree); prints
//     { blocks, ms } with ms from the dial to the last block stored, then exits.
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import Hypercore from 'hypercore'

const [mode, dir, ...rest] = process.argv.slice(2)

async function writer (blocks, bytes) {
  const core = new Hypercore(dir)
  await core.ready()
  // Appended in batches, as records arrive in a writer's life; one tree signature per batch.
  for (let i = 0; i < blocks; i += 1000) {
    const batch = []
    for (let j = i; j < Math.min(blocks, i + 1000); j++) batch.push(randomBytes(bytes))
    await core.append(batch)
  }
  const server = net.createServer(socket => {
    const stream = core.replicate(false)
    socket.pipe(stream).pipe(socket)
    stream.on('error', () => socket.destroy())
    socket.on('error', () => stream.destroy())
  })
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  process.stdout.write(JSON.stringify({ key: core.key.toString('hex'), port: server.address().port, length: core.length }) + '\n')
  process.on('SIGTERM', () => { server.close(); core.close().then(() => process.exit(0), () => process.exit(1)) })
}

async function reader (key, port, blocks) {
  const core = new Hypercore(dir, Buffer.from(key, 'hex'))
  await core.ready()
  const t0 = performance.now()
  const socket = net.connect(port, '127.0.0.1')
  const stream = core.replicate(true)
  socket.pipe(stream).pipe(socket)
  await core.update({ wait: true })

  if (core.length < blocks) throw new Error(`the writer's core has ${core.length} of ${blocks} blocks`)
  await core.download({ start: 0, end: blocks }).done()
  const ms = performance.now() - t0
  // Every block is stored here, not just announced.
  if (core.contiguousLength < blocks) throw new Error(`downloaded ${core.contiguousLength} of ${blocks} blocks`)
  process.stdout.write(JSON.stringify({ blocks, ms }) + '\n')
  stream.destroy()
  socket.destroy()
  await core.close()
  process.exit(0)
}

if (mode === 'writer') await writer(Number(rest[0]), Number(rest[1]))
else if (mode === 'reader') await reader(rest[0], Number(rest[1]), Number(rest[2]))
else throw new Error('usage: hypercore-proc.mjs writer DIR BLOCKS BYTES | reader DIR KEY PORT BLOCKS')
