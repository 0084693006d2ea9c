import assert from 'node:assert/strict'
import { parseImport, startSummary, upgradeStix20 } from '../../../src/import/index.js'
import { analyzeStixObject } from '../../../src/stix/index.js'
import { STIX20_BUNDLE } from '../../helpers/stix20-fixture.js'

describe('import: STIX 2.0 upgraded to 2.1', () => {
  it('upgrades an indicator: spec_version, pattern_type, indicator_types from labels, timestamps to the millisecond; labels kept', () => {
    const u = upgradeStix20(STIX20_BUNDLE.objects[2], 'objects[2]')
    assert.ok('object' in u)
    assert.deepEqual(u.object, {
      ...STIX20_BUNDLE.objects[2],
      spec_version: '2.1',
      created: '2016-04-06T20:03:48.000Z',
      modified: '2016-04-06T20:03:48.500Z',
      pattern_type: 'stix',
      indicator_types: ['malicious-activity']
    })
    assert.deepEqual(u.changes, ['spec_version: "2.1"', 'created: "2016-04-06T20:03:48Z" to the millisecond', 'modified: "2016-04-06T20:03:48.5Z" to the millisecond', 'pattern_type: "stix"', 'indicator_types: ["malicious-activity"] from labels'])
    analyzeStixObject(u.object)
    assert.equal((STIX20_BUNDLE.objects[2] as any).spec_version, undefined, 'the input is not changed')
  })

  it('upgrades malware (is_family, malware_types), threat actors, tools, reports and identities to their 2.1 vocabularies', () => {
    const up = (i: number): Record<string, unknown> => {
      const u = upgradeStix20(STIX20_BUNDLE.objects[i], `objects[${i}]`)
      assert.ok('object' in u, JSON.stringify(u))
      return u.object
    }
    assert.deepEqual([up(4).is_family, up(4).malware_types, up(4).labels], [true, ['remote-access-trojan'], ['remote-access-trojan', 'family-x']])
    assert.deepEqual(up(6).threat_actor_types, ['crime-syndicate'])
    assert.deepEqual(up(7).tool_types, ['remote-access'])
    assert.deepEqual(up(10).report_types, ['threat-report', 'campaign'])
    assert.equal(up(0).identity_class, 'organization')
    assert.deepEqual(Object.keys(up(5)).filter(k => !(k in STIX20_BUNDLE.objects[5])), ['spec_version'], 'an attack pattern only gains spec_version')
  })

  it('refuses only what it cannot upgrade, with the reason', () => {
    const nameless = upgradeStix20(STIX20_BUNDLE.objects[12], 'objects[12]')
    assert.ok('refused' in nameless)
    assert.match(nameless.refused, /name is required for a malware family/)
    const badPattern = upgradeStix20(STIX20_BUNDLE.objects[13], 'objects[13]')
    assert.ok('refused' in badPattern)
    assert.match(badPattern.refused, /pattern/)
    assert.deepEqual(upgradeStix20({ ...STIX20_BUNDLE.objects[5], spec_version: '2.2' }, 'x'), { refused: 'spec_version "2.2" is not STIX 2.0' })
  })

  it('parses a 2.0 bundle into 2.1 items, reporting each object\'s changes; the TLP marking still sets the record TLP', () => {
    const parsed = parseImport(JSON.stringify(STIX20_BUNDLE), { name: 'playbook.json' })
    assert.equal(parsed.format, 'stix')
    assert.equal(parsed.values, 14)
    assert.equal(parsed.items.length, 12)
    assert.ok(parsed.items.every(i => i.object.spec_version === '2.1'))
    assert.equal(parsed.items.find(i => i.object.id === STIX20_BUNDLE.objects[3].id)?.tlp, 'amber')
    assert.deepEqual(parsed.skipped.map(s => [s.value, s.reason]), [[STIX20_BUNDLE.objects[12].id, 'stix-2.0-not-upgradable'], [STIX20_BUNDLE.objects[13].id, 'stix-2.0-not-upgradable']])
    const s = startSummary(parsed, 'playbook.json')
    assert.equal(s.upgrade?.objects, 12)
    assert.deepEqual(s.upgrade?.changes, { spec_version: 12, created: 4, modified: 4, pattern_type: 2, indicator_types: 2, is_family: 1, malware_types: 1, threat_actor_types: 1, tool_types: 1, report_types: 1, identity_class: 1 })
    assert.equal(s.upgrade?.details[0].where, `objects[0] ${STIX20_BUNDLE.objects[0].id}`)
    assert.deepEqual(s.skipped, { 'stix-2.0-not-upgradable': 2 })
  })

  it('leaves STIX 2.1 input alone', () => {
    const v21 = { type: 'bundle', id: 'bundle--5d0092c5-5f74-4287-9642-33f4c354e56e', objects: [{ ...STIX20_BUNDLE.objects[5], spec_version: '2.1' }] }
    const parsed = parseImport(JSON.stringify(v21))
    assert.equal(parsed.upgraded, undefined)
    assert.deepEqual(parsed.items[0].object, v21.objects[0])
  })
})
