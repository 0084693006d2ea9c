import type { Tlp } from '../record/index.js'

export const IMPORT_FORMATS = ['stix', 'misp', 'iocs', 'csv', 'records'] as const
export type ImportFormat = typeof IMPORT_FORMATS[number]

/**
 * Why an input value was not imported. Stable strings: they are summary keys in `--json` output
 * and in the docs.
 */
export type SkipReason =
  /** a bare path (`/wp-admin/x.php`) names no host, so it indicates nothing on its own */
  | 'no-host'
  /** not an IP, CIDR, domain, URL, email or MD5/SHA-1/SHA-256 after refanging */
  | 'unrecognised'
  /** a MISP attribute type dragnet does not turn into STIX (text, regkey, yara, ...) */
  | 'unsupported-type'
  /** a MISP value that is not what its type says (an `ip-dst` that is no address) */
  | 'invalid-value'
  /** a MISP link with no report to carry it (the event produced no other object) */
  | 'no-report'
  /** the object's STIX id already belongs to another member (it reached us from the federation first) */
  | 'owned-by-another-member'
  /** a STIX 2.0 object that is not valid STIX 2.1 even after the upgrade (the detail says why) */
  | 'stix-2.0-not-upgradable'
  /** the node (or the importer, e.g. for an unknown MISP TLP tag) refused the object; the summary names the DRAGNET_* code */
  | `rejected:${string}`

/** One object to publish and the input values it stands for. */
export interface ImportItem {
  /** a STIX object (for STIX input, as read: the node validates it) */
  object: Record<string, unknown>
  /** input values this object carries; a MISP ip-port object carries two attributes */
  values: number
  /** the record TLP the source asks for (a MISP `tlp:` tag, a STIX TLP marking) */
  tlp?: Tlp
  /** where in the input the object came from (line 12, attribute <uuid>, objects[3]) */
  where: string
}

export interface SkippedValue {
  where: string
  value: string
  reason: SkipReason
  detail?: string
  /** input values this entry stands for (a refused MISP ip-port object: its attributes); default 1 */
  count?: number
}

/** A STIX 2.0 object the import upgraded to 2.1, and what it changed (`property: what`). */
export interface UpgradedObject {
  where: string
  id: string
  changes: string[]
}

/** What a parser makes of one input file; no I/O, no node. */
export interface ParsedImport {
  format: ImportFormat
  /** input values read (lines, cells, MISP attributes, STIX objects) */
  values: number
  items: ImportItem[]
  /** values that repeat one read earlier in the same input (they would make the same object) */
  duplicates: number
  skipped: SkippedValue[]
  /** STIX input: the objects upgraded from STIX 2.0 (present when the input was 2.0) */
  upgraded?: UpgradedObject[]
}
