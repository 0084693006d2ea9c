import { isDragnetError } from '../errors.js'
import { validateStixObject } from '../stix/index.js'

/*
 * STIX 2.0 → 2.1, mechanically (STIX 2.1, "changes from STIX 2.0", and the 2.1 vocabularies of
 * section 10). Published 2.0 content (Unit 42's playbooks, older feeds) is still common; dragnet
 * stores 2.1 only, so import upgrades what it can and says per object what it changed:
 *  - `spec_version: "2.1"` on every object (2.0 had it on the bundle only);
 *  - `created` / `modified` written to the millisecond, as 2.1 requires (the instant is kept);
 *  - indicator: `pattern_type: "stix"` (2.0 patterns are STIX patterns); `indicator_types` from
 *    the `labels` in the 2.1 indicator-type vocabulary;
 *  - malware: `malware_types` from `labels` (malware-type vocabulary); `is_family: true` (2.0
 *    malware described families; 2.1 asks to say so);
 *  - threat-actor, tool, report: `threat_actor_types`, `tool_types`, `report_types` from
 *    `labels` in their 2.1 vocabularies;
 *  - identity: an `identity_class` written as a list of one value becomes that value.
 * `labels` are kept as they were (policies and lookups read them). An object that still fails
 * 2.1 validation afterwards is refused, with the validator's reason.
 */

const VOCABULARIES: Readonly<Record<string, { property: string, values: ReadonlySet<string> }>> = {
  indicator: { property: 'indicator_types', values: new Set(['anomalous-activity', 'anonymization', 'attribution', 'benign', 'compromised', 'malicious-activity', 'unknown']) },
  malware: {
    property: 'malware_types',
    values: new Set(['adware', 'backdoor', 'bootkit', 'bot', 'ddos', 'downloader', 'dropper', 'exploit-kit', 'keylogger', 'ransomware', 'remote-access-trojan', 'resource-exploitation', 'rogue-security-software', 'rootkit', 'screen-capture', 'spyware', 'trojan', 'unknown', 'virus', 'webshell', 'wiper', 'worm'])
  },
  'threat-actor': { property: 'threat_actor_types', values: new Set(['activist', 'competitor', 'crime-syndicate', 'criminal', 'hacker', 'insider-accidental', 'insider-disgruntled', 'nation-state', 'sensationalist', 'spy', 'terrorist', 'unknown']) },
  tool: { property: 'tool_types', values: new Set(['credential-exploitation', 'denial-of-service', 'exploitation', 'information-gathering', 'network-capture', 'remote-access', 'unknown', 'vulnerability-scanning']) },
  report: { property: 'report_types', values: new Set(['attack-pattern', 'campaign', 'identity', 'indicator', 'intrusion-set', 'malware', 'observed-data', 'threat-actor', 'threat-report', 'tool', 'vulnerability']) }
}

const TIMESTAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,2}))?Z$/

export type Upgraded = { object: Record<string, unknown>, changes: string[] } | { refused: string }

/** Whether a parsed input is a STIX 2.0 bundle (2.0 bundles carry spec_version; 2.1 bundles have none). */
export function isStix20Bundle (json: unknown): json is { objects?: unknown } {
  return json != null && typeof json === 'object' && !Array.isArray(json) && (json as Record<string, unknown>).type === 'bundle' && (json as Record<string, unknown>).spec_version === '2.0'
}

/** Whether an object outside a 2.0 bundle is STIX 2.0: spec_version "2.0", or none on an object with `created` (an SDO or SRO). */
export function looksStix20 (obj: unknown): boolean {
  if (obj == null || typeof obj !== 'object' || Array.isArray(obj)) return false
  const o = obj as Record<string, unknown>
  return o.spec_version === '2.0' || (o.spec_version === undefined && o.created !== undefined)
}

function toMillis (v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined
  const m = TIMESTAMP.exec(v)
  return m == null ? undefined : `${m[1]}.${(m[2] ?? '').padEnd(3, '0')}Z`
}

function typesFromLabels (o: Record<string, unknown>, changes: string[]): void {
  const vocab = VOCABULARIES[o.type as string]
  if (vocab == null || o[vocab.property] !== undefined || !Array.isArray(o.labels)) return
  const values = o.labels.filter((l): l is string => typeof l === 'string' && vocab.values.has(l))
  if (values.length === 0) return
  o[vocab.property] = [...new Set(values)]
  changes.push(`${vocab.property}: ${JSON.stringify(o[vocab.property])} from labels`)
}

/** The 2.1 form of a 2.0 object and what changed, or why it cannot be upgraded. Never changes its input. */
export function upgradeStix20 (input: unknown, where: string): Upgraded {
  if (input == null || typeof input !== 'object' || Array.isArray(input)) return { refused: 'not a JSON object' }
  const o: Record<string, unknown> = { ...(input as Record<string, unknown>) }
  if (typeof o.type !== 'string' || typeof o.id !== 'string') return { refused: 'not a STIX object (no type or id)' }
  if (o.spec_version !== undefined && o.spec_version !== '2.0') return { refused: `spec_version ${JSON.stringify(o.spec_version)} is not STIX 2.0` }
  const changes: string[] = ['spec_version: "2.1"']
  o.spec_version = '2.1'
  for (const k of ['created', 'modified']) {
    const ms = toMillis(o[k])
    if (ms != null && ms !== o[k]) {
      changes.push(`${k}: ${JSON.stringify(o[k])} to the millisecond`)
      o[k] = ms
    }
  }
  if (o.type === 'indicator' && o.pattern_type === undefined) {
    o.pattern_type = 'stix'
    changes.push('pattern_type: "stix"')
  }
  if (o.type === 'malware' && o.is_family === undefined) {
    o.is_family = true
    changes.push('is_family: true')
  }
  if (o.type === 'identity' && Array.isArray(o.identity_class) && o.identity_class.length === 1 && typeof o.identity_class[0] === 'string') {
    o.identity_class = o.identity_class[0]
    changes.push(`identity_class: ${JSON.stringify(o.identity_class)} (a list of one value)`)
  }
  typesFromLabels(o, changes)
  try {
    validateStixObject(o, where)
  } catch (err) {
    if (!isDragnetError(err)) throw err
    return { refused: err.message }
  }
  return { object: o, changes }
}
