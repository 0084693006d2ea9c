import type { UnsignedRecord } from './record.js'

/**
 * The sharing scope a record is reconciled in. Scopes depend only on the record (never on a
 * policy), so two nodes always file the same record under the same scope:
 *   `clear`, `green`  — every member may hold these;
 *   `amber:<author>`  — amber and amber+strict travel only author → recipient, so each author's
 *                       amber records form their own scope, reconciled only with that author;
 *   red               — never leaves its author: no scope, never synced.
 */
export function scopeOf (r: Pick<UnsignedRecord, 'tlp' | 'author'>): string | undefined {
  switch (r.tlp) {
    case 'clear':
    case 'green':
      return r.tlp
    case 'amber':
    case 'amber+strict':
      return `amber:${r.author}`
    default:
      return undefined
  }
}
