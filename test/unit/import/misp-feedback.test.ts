import assert from 'node:assert/strict'
import { detectFormat, parseMisp } from '../../../src/import/index.js'
import { analyzeStixObject, classifyValue } from '../../../src/stix/index.js'
import { lookupPage, lookupSummary } from '../../../src/store/queries.js'
import { testNode } from '../../helpers/node.js'
import { tempDir } from '../../helpers/tmp.js'

/*
 * Events shaped like PyMISP's own test events (tests/mispevent_testfiles: event_tags.json is a
 * bare event with only tags; galaxy.json a galaxy with one cluster; sightings as MISP exports
 * them), which the import used to refuse as "not a MISP event".
 */
const tagsOnly = { Tag: [{ name: 'bar' }, { name: 'baz' }, { name: 'foo' }], analysis: '1', date: '2017-12-31', distribution: '1', info: 'This is a test', threat_level_id: '1' }

const teaGalaxy = {
  uuid: 'c5f2dfb4-21a1-42d8-a452-1d3c36a204ff',
  name: 'Tea Matrix',
  type: 'tea-matrix',
  GalaxyCluster: [{ collection_uuid: '7eacd736-b093-4cc0-a56c-5f84de725dfb', type: 'tea-matrix', value: 'Milk in tea', tag_name: 'misp-galaxy:tea-matrix="Milk in tea"', description: 'Milk in tea', uuid: '24430dc6-9c27-4b3c-a5e7-6dda478fffa0' }]
}
const actorGalaxy = {
  uuid: '698774c7-8022-42c4-917f-8d6e4f06ada3',
  name: 'Threat Actor',
  type: 'threat-actor',
  GalaxyCluster: [{ type: 'threat-actor', value: 'APT 28', tag_name: 'misp-galaxy:threat-actor="Sofacy"', uuid: '5b4ee3ea-eee3-4c8e-8323-85ae32658754', description: 'State-sponsored group' }]
}
const galaxyOnly = { uuid: '5f1e7c2a-2222-4000-8000-000000000001', info: 'Galaxy only', date: '2024-01-02', timestamp: '1704153600', Tag: [{ name: 'tlp:green' }], Galaxy: [teaGalaxy, actorGalaxy] }

const ATTR = '5f1e7c2a-3333-4000-8000-000000000001'
const sighting = (n: number, type: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ uuid: `5f1e7c2a-4444-4000-8000-${n.toString(16).padStart(12, '0')}`, type, attribute_uuid: ATTR, date_sighting: String(1704200000 + n), source: 'honeypot', Organisation: { name: 'CIRCL' }, ...extra })
const sightingsOnly = { uuid: '5f1e7c2a-3333-4000-8000-00000000000f', info: 'Sightings only', date: '2024-01-02', Sighting: [sighting(1, '0'), sighting(2, '1'), sighting(3, '2')] }

function valid (o: Record<string, unknown>): void {
  analyzeStixObject(o, String(o.id))
}

describe('import: MISP events with only tags, only galaxies or only sightings', () => {
  it('reads a bare event with only tags as MISP and keeps it as an x-misp-event with its tags as labels', () => {
    assert.equal(detectFormat(JSON.stringify(tagsOnly)).format, 'misp')
    const p = parseMisp(tagsOnly)
    assert.equal(p.items.length, 1)
    const o = p.items[0].object
    assert.equal(o.type, 'x-misp-event')
    assert.equal(o.name, 'This is a test')
    assert.deepEqual(o.labels, ['bar', 'baz', 'foo'])
    valid(o)
  })

  it('turns galaxy clusters into SDOs (threat actor) or x-misp-galaxy-cluster objects, labelled with their tag, named by the report', () => {
    const p = parseMisp(galaxyOnly)
    const byType = new Map(p.items.map(i => [i.object.type as string, i]))
    const actor = byType.get('threat-actor')!.object
    assert.equal(actor.name, 'APT 28')
    assert.deepEqual(actor.labels, ['misp-galaxy:threat-actor="Sofacy"'])
    assert.equal(actor.id, 'threat-actor--5b4ee3ea-eee3-4c8e-8323-85ae32658754')
    const tea = byType.get('x-misp-galaxy-cluster')!.object
    assert.equal(tea.name, 'Milk in tea')
    assert.equal(tea.x_misp_galaxy_type, 'tea-matrix')
    const report = byType.get('report')!.object
    assert.deepEqual([...report.object_refs as string[]].sort(), [actor.id, tea.id].sort())
    assert.ok((report.labels as string[]).includes('misp-galaxy:tea-matrix="Milk in tea"'), 'galaxy tags label the event objects')
    for (const i of p.items) { valid(i.object); assert.equal(i.tlp, 'green') }
    assert.equal(p.values, 2)
  })

  it('turns sightings into STIX sightings, false positives into opinions that disagree, and skips expirations', () => {
    const p = parseMisp({ Event: sightingsOnly })
    const s = p.items.find(i => i.object.type === 'sighting')!.object
    assert.equal(s.sighting_of_ref, `indicator--${ATTR}`)
    assert.equal(s.count, 1)
    assert.match(String(s.description), /CIRCL/)
    const o = p.items.find(i => i.object.type === 'opinion')!.object
    assert.equal(o.opinion, 'disagree')
    assert.deepEqual(o.object_refs, [`indicator--${ATTR}`])
    assert.match(String(o.explanation), /false positive/)
    assert.deepEqual(p.skipped.map(k => k.reason), ['unsupported-type'])
    for (const i of p.items) valid(i.object)
    assert.equal(p.values, 3)
    assert.equal(p.items.reduce((a, i) => a + i.values, 0) + p.skipped.length, 3, 'every sighting accounted for (the report carries none)')
  })

  it('still refuses JSON that is no MISP event at all', () => {
    assert.throws(() => parseMisp([{ foo: 1 }]), /not a MISP event/)
  })

  it('keeps attribute sightings: imported, the lookup of the value counts them', async () => {
    const tmp = await tempDir()
    const node = await testNode({ dir: tmp.dir })
    try {
      const ev = {
        Event: {
          uuid: '5f1e7c2a-5555-4000-8000-000000000001',
          info: 'C2 with sightings',
          timestamp: '1704153600',
          Attribute: [{ uuid: ATTR, type: 'ip-dst', value: '192.0.2.99', to_ids: true, timestamp: '1704153600', Sighting: [sighting(4, '0'), sighting(5, '0', { Organisation: { name: 'CERT-EU' } }), sighting(6, '1')] }]
        }
      }
      const p = parseMisp(ev)
      const verdicts = await node.publish(p.items.map(i => i.object), {})
      assert.ok(verdicts.every(v => v.status === 'stored'), JSON.stringify(verdicts))
      const page = await lookupPage(node.store, classifyValue('192.0.2.99')!)
      const summary = await lookupSummary(node.store, page.records)
      assert.equal(summary.sightings, 2)
      assert.equal(summary.opinions.disagree, 1)
      assert.deepEqual(summary.reporters, [node.peerId])
    } finally {
      await node.stop()
      await tmp.cleanup()
    }
  })
})
