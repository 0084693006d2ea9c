import type { UnsignedRecord } from './record.js'

/**
 * The sharing scopes a record is reconciled in. Scopes depend only on the record (never on a
 * policy), so two nodes always file the same record under the same scopes:
 *   `clear`, `green`             — every member may hold these;
 *   `amber:<author>:<recipient>` — amber with a `to` list, once per listed recipient;
 *   `amber:<author>:*`           — amber without a list (every roster peer of the author);
 *   red                          — never leaves its author: no scope, never synced.
 * Two members reconcile only the scopes both are entitled to (see `scopesBetween` in sync), so
 * a member never learns an amber id, timestamp or count addressed to someone else.
 */
export function scopesOf (r: Pick<UnsignedRecord, 'tlp' | 'author' | 'to'>): string[] {
  switch (r.tlp) {
    case 'clear':
    case 'green':
      return [r.tlp]
    case 'amber':
    case 'amber+strict':
      return r.to != null && r.to.length > 0 ? r.to.map(p => amberScope(r.author, p)) : [amberScope(r.author, '*')]
    default:
      return []
  }
}

/** The amber scope of `author`'s records for `recipient` (`*`: amber without a recipient list). */
export function amberScope (author: string, recipient: string): string {
  return `amber:${author}:${recipient}`
}

/** Scopes of the form `amber:<author>` (before per-recipient scopes): kept only to migrate old stores. */
export function isLegacyAmberScope (scope: string): boolean {
  return scope.startsWith('amber:') && scope.indexOf(':', 6) < 0
}
