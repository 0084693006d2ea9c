import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isDragnetError } from '../../../src/errors.js'
import { localTlpMarkings, strictestTlpMarking, TLP2_EXTENSION, tlpOfMarkingDefinition, validateStixObject } from '../../../src/stix/index.js'
import { requireSharedData } from '../../helpers/shared-data.js'
import { TLP1, TLP2 } from '../../helpers/tlp-markings.js'

const LOCAL = 'marking-definition--7d1e2b3c-4f5a-4b6c-8d7e-9f0a1b2c3d4e'
const obj = (extra: Record<string, unknown>): Record<string, unknown> => ({
  type: 'malware', spec_version: '2.1', id: 'malware--0f4a7c2e-8b1d-4e6f-9a3b-5c7d9e1f2a4b', created: '2026-01-01T00:00:00.000Z', modified: '2026-01-01T00:00:00.000Z', name: 'x', is_family: true, ...extra
})

describe('stix: TLP markings on an object', () => {
  it('reads the TLP 1.0 and TLP 2.0 marking ids; no marking is undefined', () => {
    assert.equal(strictestTlpMarking(obj({})), undefined)
    assert.equal(strictestTlpMarking(obj({ object_marking_refs: [TLP1.white] }))?.tlp, 'clear')
    assert.equal(strictestTlpMarking(obj({ object_marking_refs: [TLP1.amber] }))?.tlp, 'amber')
    assert.equal(strictestTlpMarking(obj({ object_marking_refs: [TLP2.clear] }))?.tlp, 'clear')
    assert.equal(strictestTlpMarking(obj({ object_marking_refs: [TLP2.amber] }))?.tlp, 'amber')
    assert.equal(strictestTlpMarking(obj({ object_marking_refs: [TLP2.amberStrict] }))?.tlp, 'amber+strict')
    const red = strictestTlpMarking(obj({ object_marking_refs: [TLP2.green, TLP2.red, TLP1.amber] }))
    assert.deepEqual(red, { tlp: 'red', marking: TLP2.red, property: 'object_marking_refs' })
  })

  it('counts granular markings: a marked part is part of the record', () => {
    const m = strictestTlpMarking(obj({ object_marking_refs: [TLP2.green], granular_markings: [{ marking_ref: TLP2.amberStrict, selectors: ['description'] }, { lang: 'en', selectors: ['name'] }] }))
    assert.deepEqual(m, { tlp: 'amber+strict', marking: TLP2.amberStrict, property: 'granular_markings[0]' })
  })

  it('resolves bundle-local TLP definitions in the TLP 2.0 extension, name and TLP 1.0 forms', () => {
    const forms: Array<[Record<string, unknown>, string]> = [
      [{ name: 'TLP:AMBER+STRICT', extensions: { [TLP2_EXTENSION]: { extension_type: 'property-extension', tlp_2_0: 'amber+strict' } } }, 'amber+strict'],
      [{ name: 'TLP:RED', extensions: { 'extension-definition--1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b': { extension_type: 'property-extension' } } }, 'red'],
      [{ definition_type: 'tlp', definition: { tlp: 'amber' } }, 'amber'],
      [{ definition_type: 'tlp', definition: { tlp: 'white' } }, 'clear']
    ]
    for (const [form, level] of forms) {
      const def = { type: 'marking-definition', spec_version: '2.1', id: LOCAL, created: '2026-01-01T00:00:00.000Z', ...form }
      assert.equal(tlpOfMarkingDefinition(def), level, JSON.stringify(form))
      const local = localTlpMarkings([def, obj({})])
      assert.equal(strictestTlpMarking(obj({ object_marking_refs: [LOCAL] }), local)?.tlp, level)
      assert.equal(strictestTlpMarking(obj({ granular_markings: [{ marking_ref: LOCAL, selectors: ['name'] }] }), local)?.tlp, level)
    }
    // Without its definition, an unknown marking id says nothing about TLP.
    assert.equal(strictestTlpMarking(obj({ object_marking_refs: [LOCAL] })), undefined)
  })

  it('ignores statement markings and refuses a TLP definition with an unknown level', () => {
    const statement = { type: 'marking-definition', spec_version: '2.1', id: LOCAL, created: '2026-01-01T00:00:00.000Z', definition_type: 'statement', definition: { statement: 'Copyright' } }
    assert.equal(tlpOfMarkingDefinition(statement), undefined)
    assert.equal(localTlpMarkings([statement]).size, 0)
    const purple = { type: 'marking-definition', spec_version: '2.1', id: LOCAL, created: '2026-01-01T00:00:00.000Z', name: 'TLP:PURPLE', extensions: { [TLP2_EXTENSION]: { extension_type: 'property-extension', tlp_2_0: 'purple' } } }
    assert.throws(() => validateStixObject(purple), (err: unknown) => isDragnetError(err, 'DRAGNET_STIX_INVALID') && /tlp_2_0.*"purple"/.test(err.message))
    const local = localTlpMarkings([purple])
    assert.throws(() => strictestTlpMarking(obj({ object_marking_refs: [LOCAL] }), local), (err: unknown) => isDragnetError(err, 'DRAGNET_STIX_INVALID') && err.message.includes(LOCAL))
  })

  it('finds the markings of the STIX documentation examples (shared data)', async function () {
    const data = requireSharedData(this)
    const granular = JSON.parse(await readFile(join(data, 'stix', 'examples', 'cti-documentation', 'using-granular-markings.json'), 'utf8')) as { objects: unknown[] }
    const byId = new Map(granular.objects.map(o => [(o as { id: string }).id, o]))
    assert.equal(strictestTlpMarking(byId.get('indicator--1ed8caa7-a708-4706-b651-f1186ede6ca1'))?.tlp, 'red', 'granular TLP:RED on one property')
    assert.equal(strictestTlpMarking(byId.get('threat-actor--8b6297fe-cae7-47c6-9256-5584b417849c'))?.tlp, 'red')
    const marked = JSON.parse(await readFile(join(data, 'stix', 'examples', 'cti-documentation', 'using-marking-definitions.json'), 'utf8')) as { objects: unknown[] }
    const local = localTlpMarkings(marked.objects)
    assert.equal(strictestTlpMarking(marked.objects.find(o => (o as { type: string }).type === 'indicator'), local)?.tlp, 'amber')
  })
})
