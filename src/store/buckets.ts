/*
 * Every LevelDB keyspace of a node, in one registry. A bucket's prefix is never reused for
 * something else: data written by an older version must never be read as a different thing.
 * Keys are UTF-8 strings `<prefix>:<rest>`; values are bytes (records) or UTF-8 JSON.
 */
export const BUCKETS = {
  /** `meta:<name>` → JSON: node metadata, store format version */
  meta: 'meta',
  /** `rec:<id>` → RecordInfo, the accept audit key and the envelope exactly as signed, in one value (record-value.ts); a bare envelope up to format 4 */
  records: 'rec',
  /** retired (store format 4 and older): `info:<id>` → JSON RecordInfo; folded into `rec:` at open */
  info: 'info',
  /** `arr:<arrival 16 digits>` → id: local arrival order (TAXII added_after, pagination) */
  arrival: 'arr',
  /**
   * `vt:<stix id>!<instant>!<id>` → JSON { author, revoked, validUntil?, modified }: every
   * version of a STIX object, ordered by the instant of its `modified` (stixInstantKey: 18
   * digits, UTC, microseconds; '' for objects without one)
   */
  versions: 'vt',
  /** retired (store format 1): `ver:<stix id>!<modified text>!<id>` sorted versions as strings; moved to `vt` at open */
  versionsByText: 'ver',
  /** `own:<stix id>` → author PeerId: who may publish newer versions */
  owners: 'own',
  /** `obs:<kind>!<value>!<id>` → '' for URLs, emails, hashes (and domains up to format 4; moved to `dom` at open) */
  observables: 'obs',
  /** `ip:<4|6>!<address hex>!<prefix 3 digits>!<id>` → '': IPs and CIDRs, sortable by address */
  ips: 'ip',
  /** `dom:<labels reversed>.!<id>` → '': domains, so a name and its subdomains share a key prefix (`com.example.`) */
  domains: 'dom',
  /** `aseq:<author>!<seq 16 digits>` → id: the first record under (author, seq) */
  authorSeq: 'aseq',
  /** `equiv:<author>!<seq 16 digits>` → JSON { ids, at }: every id seen under one (author, seq): equivocation evidence */
  equivocations: 'equiv',
  /** `sync:<scope>!<ts 13 hex>!<id>` → '': what set reconciliation indexes, per sharing scope */
  sync: 'sync',
  /** `known:<peer|*>!<scope>!<ts 13 hex>!<id>` → JSON { why, at }: ids counted as known without the record — `*`: rejected by our inbound policy; a PeerId: that peer declined to hand it over */
  known: 'known',
  /** `audit:<time 13 hex>!<counter 8 hex>` → JSON AuditEntry */
  audit: 'audit',
  /**
   * `auditr:<record id>!<audit key>` and `auditp:<peer>!<audit key>` → '': audit lookups. The
   * entry accepting a stored record has no `auditr` key (its key is in the record's value) until
   * the record is purged.
   */
  auditByRecord: 'auditr',
  auditByPeer: 'auditp',
  /** `fb:<target STIX id>` → JSON FeedbackSummary: sightings and opinions of an object, by TLP (see feedback.ts) */
  feedback: 'fb',
  /** `fbc:<target STIX id>!<sighting or opinion STIX id>` → JSON Contribution: the version counted in the summary */
  feedbackBy: 'fbc',
  /** `peer:<peerId>` → JSON persisted per-peer counters and last sync */
  peers: 'peer',
  /**
   * `tomb:<id>` → JSON Tombstone: a purged record (id, reason, time, operator, and the scopes and
   * ts reconciliation keeps counting it under, as a `known:*` entry with why `purged`)
   */
  tombstones: 'tomb',
  /** `uts:<ts 13 hex>!<id>` → '': RED records (no sync scope) by signing time, so retention visits only old records */
  unscopedByTime: 'uts',
  /** `tsx:<STIX id>!<id>` → '': the STIX ids of purged records, so imports and feeds do not bring an object back */
  tombstoneStix: 'tsx'
} as const

export type BucketName = keyof typeof BUCKETS

export function key (bucket: BucketName, rest: string): string {
  return BUCKETS[bucket] + ':' + rest
}

/** [gte, lt) bounds covering exactly the keys of a bucket that start with `prefix`. */
export function range (bucket: BucketName, prefix = ''): { gte: string, lt: string } {
  return prefixRange(BUCKETS[bucket] + ':' + prefix)
}

/** The keys that start with `start`: up to `start` with its last character incremented. */
export function prefixRange (start: string): { gte: string, lt: string } {
  const last = start.charCodeAt(start.length - 1)
  return { gte: start, lt: start.slice(0, -1) + String.fromCharCode(last + 1) }
}

export function pad (n: number, width = 16): string {
  return String(n).padStart(width, '0')
}

const LOW = 2 ** 24

export function hexTs (ts: number): string {
  // Number#toString(16) takes V8's slow path for values past 31 bits (every ms timestamp); two
  // parts that each fit in 31 bits take the fast one (3x faster). On every sync and audit key.
  if (ts < LOW) return ts.toString(16).padStart(13, '0')
  const hi = Math.floor(ts / LOW)
  return (hi.toString(16) + (ts - hi * LOW).toString(16).padStart(6, '0')).padStart(13, '0')
}
