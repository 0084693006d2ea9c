import { readFile, rename, rm, writeFile } from 'node:fs/promises'

/*
 * A snapshot file: a magic line, a JSON header, then binary blobs the header describes by
 * length. Written to a temp file and renamed, so a crash never leaves half a snapshot; a
 * snapshot is only ever a cache of what the store holds, so anything unreadable is ignored.
 */
const MAGIC = Buffer.from('DRAGNET-SNAPSHOT-1\n')

export async function writeSnapshot (file: string, header: Record<string, unknown>, blobs: Uint8Array[]): Promise<void> {
  const head = Buffer.from(JSON.stringify({ ...header, blobs: blobs.map(b => b.byteLength) }))
  const len = Buffer.alloc(4)
  len.writeUInt32BE(head.length)
  const tmp = `${file}.tmp-${process.pid}`
  // Mode 0600: the filters say which record ids the node holds.
  await writeFile(tmp, Buffer.concat([MAGIC, len, head, ...blobs.map(b => Buffer.from(b.buffer, b.byteOffset, b.byteLength))]), { mode: 0o600 })
  await rename(tmp, file)
}

export async function readSnapshot (file: string): Promise<{ header: Record<string, any>, blobs: Uint8Array[] } | null> {
  let buf: Buffer
  try {
    buf = await readFile(file)
  } catch {
    return null
  }
  try {
    if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) return null
    const hlen = buf.readUInt32BE(MAGIC.length)
    let at = MAGIC.length + 4
    const header = JSON.parse(buf.subarray(at, at + hlen).toString('utf8'))
    at += hlen
    const blobs: Uint8Array[] = []
    for (const n of header.blobs as number[]) {
      // Copied into fresh, aligned buffers: typed-array views need aligned offsets.
      const b = new Uint8Array(n)
      b.set(buf.subarray(at, at + n))
      blobs.push(b)
      at += n
    }
    if (at !== buf.length) return null
    return { header, blobs }
  } catch {
    return null
  }
}

export async function dropSnapshot (file: string): Promise<void> {
  await rm(file, { force: true })
}
