import type { Level } from 'level'
import { stixInstantKey } from '../stix/timestamp.js'
import { BUCKETS, key, range } from './buckets.js'

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
    const it = db.iterator({ ...range('versionsByText'), limit: PAGE })
    let page: Array<[string, Uint8Array]>
    try {
      page = await it.all()
    } finally {
      await it.close()
    }
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
