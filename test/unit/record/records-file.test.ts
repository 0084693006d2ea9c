import assert from 'node:assert/strict'
import fc from 'fast-check'
import { verifyRecordsFile, type VerifyReport } from '../../../src/cli/commands/verify.js'
import { isDragnetError } from '../../../src/errors.js'
import { NodeIdentity } from '../../../src/identity/index.js'
import { createRecord, RecordsFileWriter, type Tlp } from '../../../src/record/index.js'
import { indicator, malware } from '../../../src/sim/stix-factory.js'

async function * chunks (buf: Buffer, size = 4096): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size)
}

/** The report, or the error of a file that is not a records file at all (its header broken). */
async function verify (buf: Buffer, roster?: Map<string, { name: string, country: string, role: string }>): Promise<VerifyReport | { notAFile: string }> {
  try {
    return await verifyRecordsFile(chunks(buf, 1000), 'test', roster)
  } catch (err) {
    if (isDragnetError(err, 'DRAGNET_BAD_RECORDS_FILE')) return { notAFile: err.message }
    throw err
  }
}

describe('records file: signed records that verify anywhere', () => {
  let author: NodeIdentity
  let exporter: NodeIdentity
  let file: Buffer
  let ids: string[]
  // Byte ranges of each line, to tell which line a flipped bit fell in.
  let lineStarts: number[]

  before(async () => {
    author = await NodeIdentity.generate()
    exporter = await NodeIdentity.generate()
    const tlps: Tlp[] = ['clear', 'green', 'amber', 'red']
    const records = tlps.map((tlp, i) => createRecord(author, { seq: i + 1, ts: 1_790_000_000_000 + i, tlp, body: (i % 2 === 0 ? indicator({ kind: 'ipv4', value: `192.0.2.${i}` }) : malware(`m${i}`)) as any }))
    ids = records.map(r => r.id)
    const w = new RecordsFileWriter(exporter, { for: author.peerId, filter: { tlp: ['clear', 'green', 'amber', 'red'] } })
    file = Buffer.concat([w.headerLine(), ...records.map(r => w.recordLine(r.id, r.bytes)), w.endLine()])
    lineStarts = [0]
    for (let i = 0; i < file.length - 1; i++) if (file[i] === 0x0a) lineStarts.push(i + 1)
  })

  it('verifies every record and the file as a whole, naming authors from a roster', async () => {
    const roster = new Map([[author.peerId, { name: 'BKA', country: 'DE', role: 'bureau' }]])
    const r = await verify(file, roster) as VerifyReport
    assert.equal(r.ok, true, JSON.stringify(r))
    assert.deepEqual([r.records, r.valid, r.failed], [4, 4, 0])
    assert.deepEqual(r.results.map(c => c.id), ids)
    assert.deepEqual(r.results.map(c => c.line), [2, 3, 4, 5])
    assert.ok(r.results.every(c => c.authorName === 'BKA (DE, bureau)' && c.author === author.peerId))
    assert.deepEqual(r.results.map(c => c.tlp), ['clear', 'green', 'amber', 'red'])
    assert.equal(r.header.for, author.peerId)
    assert.equal(r.exporter.peerId, exporter.peerId)
  })

  it('an author not on the roster fails its record', async () => {
    const r = await verify(file, new Map()) as VerifyReport
    assert.equal(r.ok, false)
    assert.ok(r.results.every(c => c.code === 'DRAGNET_UNKNOWN_AUTHOR'))
  })

  it('any flipped bit anywhere is caught; in a record line, that record is named', async () => {
    await fc.assert(fc.asyncProperty(fc.nat({ max: file.length * 8 - 1 }), async (bit) => {
      const copy = Buffer.from(file)
      copy[bit >> 3] ^= 1 << (bit & 7)
      const r = await verify(copy)
      if ('notAFile' in r) {
        assert.ok(bit >> 3 < lineStarts[1], `only a broken header makes it no records file (byte ${bit >> 3})`)
        return
      }
      assert.equal(r.ok, false, `bit ${bit} (byte ${bit >> 3}) went unnoticed`)
      const line = lineStarts.filter(s => s <= bit >> 3).length
      const last = lineStarts.length
      if (line >= 2 && line < last && file[bit >> 3] !== 0x0a) {
        const named = r.results.filter(c => !c.ok).map(c => c.line)
        assert.ok(named.includes(line), `bit ${bit} in line ${line}: failing lines ${named.join(',')}`)
        // The record's signature or id no longer holds, or the line no longer parses; a flip that
        // made a "\n" (from "J" or "*") splits the line in two, both failing.
        const split = copy[bit >> 3] === 0x0a
        assert.ok(r.results.filter(c => !c.ok).every(c => c.line === line || (split && c.line === line + 1)), `bit ${bit}: failing lines ${named.join(',')}`)
      }
    }), { numRuns: 400, examples: [[file.indexOf('J', lineStarts[2]) * 8 + 6]] }) // and a "J" in a record turned into "\n"
  })

  it('a removed, added or reordered record line, or a cut-off file, fails the file as a whole', async () => {
    const lines = file.toString('utf8').split('\n').slice(0, -1)
    const variants = {
      removed: [lines[0], lines[1], lines[3], lines[4], lines[5]],
      duplicated: [lines[0], lines[1], lines[1], lines[2], lines[3], lines[4], lines[5]],
      reordered: [lines[0], lines[2], lines[1], lines[3], lines[4], lines[5]],
      'cut off': lines.slice(0, 4),
      'closing line repeated': [...lines, lines[5]]
    }
    for (const [what, v] of Object.entries(variants)) {
      const r = await verify(Buffer.from(v.join('\n') + '\n')) as VerifyReport
      assert.equal(r.ok, false, what)
      assert.equal(r.closing.ok, false, what)
      assert.equal(r.closing.code, 'DRAGNET_BAD_RECORDS_FILE', what)
      assert.equal(r.failed, 0, `${what}: each record on its own still verifies`)
    }
    const noNewline = await verify(file.subarray(0, file.length - 1)) as VerifyReport
    assert.equal(noNewline.closing.ok, false)
  })

  it('refuses what is no records file at all', async () => {
    for (const text of ['', '{"type":"bundle"}\n', 'not json\n', '{"created":"2026-01-01T00:00:00.000Z","dragnet":"records","exporter":"x","v":1}\n']) {
      const r = await verify(Buffer.from(text))
      assert.ok('notAFile' in r, text)
    }
  })
})
