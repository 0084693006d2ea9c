import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'

/*
 * A spec-level check of what dragnet serves outside the federation, written against the
 * published TLP marking definitions, not against dragnet's code:
 *  - TLP 2.0: OASIS cti-stix-common-objects, extension-definition-specifications/tlp-2.0
 *    (marking-definition.json: ids and names; examples/tlp-*.json: the objects, created
 *    2022-10-01T00:00:00.000Z, extension extension-definition--60a3c5c5-…);
 *  - TLP 1.0: STIX 2.1 section 7.2.1.4.
 */

export const TLP2 = {
  clear: { id: 'marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487', name: 'TLP:CLEAR' },
  green: { id: 'marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb', name: 'TLP:GREEN' },
  amber: { id: 'marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421', name: 'TLP:AMBER' },
  'amber+strict': { id: 'marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003', name: 'TLP:AMBER+STRICT' },
  red: { id: 'marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1', name: 'TLP:RED' }
} as const

export type Level = keyof typeof TLP2

export const TLP1_IDS = new Set([
  'marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9',
  'marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da',
  'marking-definition--f88d31f6-486f-44da-b317-01333bde0b82',
  'marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed'
])

const TLP2_EXTENSION = 'extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d'
const LEVEL_OF_ID = new Map(Object.entries(TLP2).map(([level, m]) => [m.id as string, level as Level]))

/** The TLP 2.0 marking-definition object exactly as OASIS publishes it. */
export function oasisTlp2 (level: Level): Record<string, unknown> {
  return {
    type: 'marking-definition',
    spec_version: '2.1',
    id: TLP2[level].id,
    created: '2022-10-01T00:00:00.000Z',
    name: TLP2[level].name,
    extensions: { [TLP2_EXTENSION]: { extension_type: 'property-extension', tlp_2_0: level } }
  }
}

export interface Member { peerId: string, name: string, country: string, role: string }

export interface ProvenanceExpectations {
  /** record TLP of each object served for a record, by `id` (or `id@modified` when versions differ) */
  tlpOf: (o: Record<string, any>) => Level | undefined
  /** the members that signed records, as the roster names them */
  members: Member[]
  /** creators a body names itself that are served elsewhere (another TAXII page) or were never given (a dangling ref in the source) */
  elsewhere?: ReadonlySet<string>
}

/**
 * Checks a bundle (or a TAXII page) that dragnet served: every record's object carries exactly
 * one TLP marking, the TLP 2.0 definition of its record's TLP, and no TLP 1.0 one; each marking
 * definition it references is in the bundle as OASIS publishes it; every created_by_ref resolves
 * to an identity in the bundle; a member's identity names it, its role and (by located-at) its
 * country. Returns the record objects it checked.
 */
export function checkProvenance (objects: Array<Record<string, any>>, want: ProvenanceExpectations): Array<Record<string, any>> {
  const byId = new Map<string, Record<string, any>>()
  for (const o of objects) byId.set(o.id, o)
  // A TLP marking definition stored as a record is the marking itself, served as published.
  const records = objects.filter(o => want.tlpOf(o) != null && !TLP1_IDS.has(o.id) && !LEVEL_OF_ID.has(o.id))
  for (const o of records) {
    const level = want.tlpOf(o)!
    const tlpRefs = (o.object_marking_refs ?? []).filter((r: string) => LEVEL_OF_ID.has(r) || TLP1_IDS.has(r))
    assert.deepEqual(tlpRefs, [TLP2[level].id], `${String(o.id)}: one TLP marking, TLP 2.0 ${level}`)
    assert.deepEqual(byId.get(TLP2[level].id), oasisTlp2(level), `${String(o.id)}: its marking definition is in the bundle as published`)
    for (const g of o.granular_markings ?? []) {
      if (typeof g.marking_ref !== 'string') continue
      assert.ok(!TLP1_IDS.has(g.marking_ref), `${String(o.id)}: granular TLP 1.0 marking left`)
      const gl = LEVEL_OF_ID.get(g.marking_ref)
      if (gl != null) assert.deepEqual(byId.get(TLP2[gl].id), oasisTlp2(gl))
    }
  }
  for (const o of objects) {
    if (o.created_by_ref == null || want.elsewhere?.has(o.created_by_ref) === true) continue
    const creator = byId.get(o.created_by_ref)
    assert.equal(creator?.type, 'identity', `${String(o.id)}: created_by_ref ${String(o.created_by_ref)} resolves to an identity in the bundle`)
  }
  for (const m of want.members) {
    const identity = objects.find(o => o.type === 'identity' && (o.external_references ?? []).some((r: any) => r.source_name === 'dragnet' && r.external_id === m.peerId))
    if (identity == null) continue
    assert.equal(identity.name, m.name)
    assert.deepEqual(identity.roles, [m.role])
    const located = objects.find(o => o.type === 'relationship' && o.relationship_type === 'located-at' && o.source_ref === identity.id)
    assert.equal(byId.get(located?.target_ref)?.country, m.country, `${m.name}: located-at its country`)
  }
  return records
}

/** How to run the OASIS Python stix2 library, if it is there (DRAGNET_STIX2_PYTHON, DRAGNET_STIX2_PYTHONPATH). */
export function stix2Python (): { python: string, env: NodeJS.ProcessEnv } | null {
  const python = process.env.DRAGNET_STIX2_PYTHON ?? 'python3'
  const env = { ...process.env }
  if (process.env.DRAGNET_STIX2_PYTHONPATH != null) env.PYTHONPATH = process.env.DRAGNET_STIX2_PYTHONPATH
  const probe = spawnSync(python, ['-c', 'import stix2'], { env, encoding: 'utf8' })
  return probe.status === 0 ? { python, env } : null
}

// Parses each bundle with stix2: every object strictly, except those that carry custom content
// (x- types, x_ properties, as ATT&CK's do), which get allow_custom. Prints one line per failure.
const STIX2_SCRIPT = `
import json, sys, stix2
bad = 0
for path in sys.argv[1:]:
    bundle = json.load(open(path))
    try:
        stix2.parse(bundle, allow_custom=True)
    except Exception as e:
        bad += 1
        print(path, 'bundle', type(e).__name__, e)
    for o in bundle['objects']:
        custom = o['type'].startswith('x-') or any(k.startswith('x_') for k in o)
        try:
            stix2.parse(o, allow_custom=custom)
        except Exception as e:
            bad += 1
            print(path, o['id'], type(e).__name__, str(e)[:300])
sys.exit(1 if bad else 0)
`

/** Runs stix2.parse over bundle files; returns its failure lines (empty when all parse). */
export function stix2Parse (py: { python: string, env: NodeJS.ProcessEnv }, files: string[]): string {
  const r = spawnSync(py.python, ['-c', STIX2_SCRIPT, ...files], { env: py.env, encoding: 'utf8', timeout: 120_000 })
  return r.status === 0 ? '' : `${r.stdout}${r.stderr}` || `exit ${String(r.status)}`
}
