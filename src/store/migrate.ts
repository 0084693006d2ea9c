import type { Level } from 'level'
import { stixInstantKey } from '../stix/timestamp.js'
import { BUCKETS, key, range } from './buckets.js'
import { encodeStored, isBareEnvelope } from './record-value.js'
import type { RecordInfo } from './store.js'

/*
 * Store format 1 kept versions under `ver:<stix id>!<modified text>!<id>`, so LevelDB (and the
 * code reading it) ordered them as strings: `…:00Z` after `…:00.500Z`, `+05:00` offsets wrong.
 * Format 2 keys them by instant (`vt:`, see buckets.ts). A format-1 store is migrated when it
 * opens, a page at a time: each batch deletes the old keys it rewrites, so a migration cut short
 * by a crash resumes where it stopped, and the format number changes only after the last page.
 */

const PAGE = 1000
const enc = new TextEncoder()
const dec = new TextDecoder()

/** The `vt` key of a version: by instant, or '' for objects without a timestamp version name. */
export function versionKey (stixId: string, modified: string, id: string): string {
  return key('versions', `${stixId}!${stixInstantKey(modified) ?? ''}!${id}`)
}

/** Moves every format-1 version key to its format-2 key; returns how many moved. */
export async function migrateVersionKeys (db: Level<string, Uint8Array>): Promise<number> {
  const cut = BUCKETS.versionsByText.length + 1
  let moved = 0
  while (true) {
    const page = await firstPage(db, range('versionsByText'))
    if (page.length === 0) return moved
    const batch = db.batch()
    for (const [k, v] of page) {
      const rest = k.slice(cut)
      const first = rest.indexOf('!')
      const last = rest.lastIndexOf('!')
      const stixId = rest.slice(0, first)
      const modified = rest.slice(first + 1, last)
      const entry = JSON.parse(dec.decode(v)) as Record<string, unknown>
      batch.put(versionKey(stixId, modified, rest.slice(last + 1)), enc.encode(JSON.stringify({ ...entry, modified })))
      batch.del(k)
    }
    await batch.write()
    moved += page.length
  }
}

/*
 * Format 5 folds `info:<id>` into `rec:<id>` (see record-value.ts) and indexes domains under
 * `dom:` only (format 4 also wrote `obs:domain!<name>!<id>`, which `dom:<reversed>.!<id>`
 * answers as well). Paged like the version keys: each batch deletes the `info:` and `obs:domain!`
 * keys it folded, so a migration cut short resumes where it stopped.
 */

/** Folds every `info:` key into its record's value; returns how many records moved. */
export async function migrateRecordInfo (db: Level<string, Uint8Array>): Promise<number> {
  const cut = BUCKETS.info.length + 1
  let moved = 0
  while (true) {
    const page = await firstPage(db, range('info'))
    if (page.length === 0) return moved
    const ids = page.map(([k]) => k.slice(cut))
    const bytes = await db.getMany(ids.map(id => key('records', id)))
    const batch = db.batch()
    page.forEach(([k, v], i) => {
      const b = bytes[i]
      // An info without its record (never written by any format) is dropped rather than kept half.
      if (b != null && isBareEnvelope(b)) batch.put(key('records', ids[i]), encodeStored(JSON.parse(dec.decode(v)) as RecordInfo, b))
      batch.del(k)
    })
    await batch.write()
    moved += page.length
  }
}

/** Moves `obs:domain!` keys to `dom:` keys (the only domain index from format 5); returns how many. */
export async function migrateDomainKeys (db: Level<string, Uint8Array>): Promise<number> {
  const cut = BUCKETS.observables.length + 1 + 'domain!'.length
  let moved = 0
  while (true) {
    const page = await firstPage(db, range('observables', 'domain!'))
    if (page.length === 0) return moved
    const batch = db.batch()
    for (const [k] of page) {
      const rest = k.slice(cut)
      const bang = rest.lastIndexOf('!')
      batch.put(key('domains', `${rest.slice(0, bang).split('.').reverse().join('.')}.!${rest.slice(bang + 1)}`), new Uint8Array(0))
      batch.del(k)
    }
    await batch.write()
    moved += page.length
  }
}

async function firstPage (db: Level<string, Uint8Array>, r: { gte: string, lt: string }): Promise<Array<[string, Uint8Array]>> {
  const it = db.iterator({ ...r, limit: PAGE })
  try {
    return await it.all()
  } finally {
    await it.close()
  }
}
