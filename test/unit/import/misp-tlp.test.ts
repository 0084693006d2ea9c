import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseMisp, readTlpTag, runImport, tlpOfTag, type ImportItem } from '../../../src/import/index.js'
import type { DragnetNode } from '../../../src/node.js'
import { TLP_RANK, type TlpLevel } from '../../../src/stix/index.js'
import { testNode } from '../../helpers/node.js'
import { requireSharedData } from '../../helpers/shared-data.js'
import { tempDir } from '../../helpers/tmp.js'

// Self-made MISP events (documentation addresses only) for the TLP rules of issue 10, item 6.
const EVENT_UUID = '7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f'
let n = 0
const attr = (type: string, value: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ uuid: `7c1d2e3f-0000-4000-8000-${(++n).toString(16).padStart(12, '0')}`, type, value, to_ids: true, timestamp: String(1700000000 + n), ...extra })
const tags = (...names: string[]): Array<{ name: string }> => names.map(name => ({ name }))

function event (over: Record<string, unknown> = {}): Record<string, unknown> {
  n = 0
  return {
    Event: {
      uuid: EVENT_UUID,
      info: 'TLP test event',
      date: '2023-11-14',
      timestamp: '1700000500',
      Tag: tags('tlp:green', 'type:OSINT'),
      Attribute: [
        attr('ip-dst', '192.0.2.20'),
        attr('domain', 'amber-strict.example', { Tag: tags('TLP:AMBER-STRICT') }),
        attr('link', 'https://intranet.example/case/42', { to_ids: false, Tag: tags('tlp:red') }),
        attr('link', 'https://blog.example/public', { to_ids: false })
      ],
      Object: [
        {
          name: 'ip-port',
          uuid: '7c1d2e3f-1111-4000-8000-000000000001',
          timestamp: '1700000300',
          Attribute: [
            attr('ip-dst', '198.51.100.20', { object_relation: 'ip', Tag: tags('tlp:red') }),
            attr('port', '8443', { object_relation: 'dst-port', to_ids: false })
          ]
        },
        {
          name: 'domain-ip',
          uuid: '7c1d2e3f-1111-4000-8000-000000000002',
          Tag: tags('tlp:amber'),
          Attribute: [attr('domain', 'object-amber.example', { object_relation: 'domain' })]
        }
      ],
      ...over
    }
  }
}

const byName = (items: ImportItem[], name: string): ImportItem => {
  const it = items.find(i => String(i.object.name ?? i.object.value ?? '').includes(name))
  assert.ok(it != null, `no item named ${name}: ${items.map(i => String(i.object.name)).join(', ')}`)
  return it
}

const rank = (t: TlpLevel | undefined): number => t == null ? -1 : TLP_RANK[t]

/** Checks the report rule on any parse: a report names nothing and carries no link stricter than itself. */
function assertReportsHold (items: ImportItem[], linkTlp: Map<string, TlpLevel | undefined>): void {
  const tlpOf = new Map(items.map(i => [i.object.id as string, i.tlp]))
  for (const r of items.filter(i => i.object.type === 'report')) {
    for (const ref of r.object.object_refs as string[]) assert.ok(rank(tlpOf.get(ref)) <= rank(r.tlp), `${String(r.object.id)} (${String(r.tlp)}) names ${ref} (${String(tlpOf.get(ref))})`)
    for (const l of (r.object.external_references ?? []) as Array<{ url: string }>) assert.ok(rank(linkTlp.get(l.url)) <= rank(r.tlp), `${String(r.object.id)} carries ${l.url}`)
  }
}

describe('import: MISP TLP tags', () => {
  it('maps the usual spellings, case-insensitive; tlp:white is clear; other tlp: values are unknown', () => {
    const cases: Array<[string, string | undefined]> = [
      ['tlp:white', 'clear'], ['tlp:clear', 'clear'], ['TLP:GREEN', 'green'], ['tlp:amber', 'amber'], ['tlp:red', 'red'],
      ['tlp:amber+strict', 'amber+strict'], ['tlp:amber-strict', 'amber+strict'], ['TLP:Amber_Strict', 'amber+strict'], ['tlp:"red"', 'red'], [' tlp: amber ', 'amber']
    ]
    for (const [tag, level] of cases) assert.equal(tlpOfTag(tag), level, tag)
    assert.deepEqual(readTlpTag('tlp:ex:chr'), { modifier: 'ex:chr' })
    assert.deepEqual(readTlpTag('tlp:purple'), { unknown: 'tlp:purple' })
    assert.deepEqual(readTlpTag('tlp:unclear'), { unknown: 'tlp:unclear' })
    assert.equal(readTlpTag('kill-chain:c2'), null)
  })

  it('the record TLP is the strictest of event, object and attribute tags, attributes inside objects included', () => {
    const p = parseMisp(event())
    assert.equal(byName(p.items, 'ip-dst 192.0.2.20').tlp, 'green', 'the event tag')
    assert.equal(byName(p.items, 'amber-strict.example').tlp, 'amber+strict', 'tlp:amber-strict on the attribute')
    assert.equal(byName(p.items, 'ip-port 198.51.100.20').tlp, 'red', 'a tag on an attribute inside an ip-port object')
    assert.equal(byName(p.items, 'object-amber.example').tlp, 'amber', 'a tag on the object')
  })

  it('a report is as strict as every member it names and never carries a stricter link', () => {
    const p = parseMisp(event())
    const reports = p.items.filter(i => i.object.type === 'report')
    assert.deepEqual(reports.map(r => r.tlp), ['green', 'amber', 'amber+strict', 'red'])
    const green = reports[0]
    assert.equal(green.object.id, `report--${EVENT_UUID}`)
    assert.deepEqual((green.object.external_references as Array<{ url: string }>).map(l => l.url), ['https://blog.example/public'], 'the red link is not in the green report')
    const red = reports[3]
    assert.deepEqual((red.object.external_references as Array<{ url: string }>).map(l => l.url).sort(), ['https://blog.example/public', 'https://intranet.example/case/42'])
    assertReportsHold(p.items, new Map([['https://intranet.example/case/42', 'red'], ['https://blog.example/public', 'green']]))
    const carried = p.items.reduce((a, i) => a + i.values, 0)
    assert.equal(carried + p.duplicates + p.skipped.reduce((a, s) => a + (s.count ?? 1), 0), p.values, 'every value accounted for')
  })

  it('refuses an object under an unknown tlp: tag with a clear reason, never a silent green', () => {
    const e = event()
    const ev = e.Event as { Attribute: Array<Record<string, unknown>>, Object: Array<{ Attribute: Array<Record<string, unknown>> }> }
    ev.Attribute[0].Tag = tags('tlp:purple')
    ev.Object[0].Attribute[1].Tag = tags('tlp:unclear')
    const p = parseMisp(e)
    assert.ok(!p.items.some(i => String(i.object.name).includes('192.0.2.20')))
    assert.ok(!p.items.some(i => String(i.object.name).includes('198.51.100.20')), 'the whole ip-port object')
    const refused = p.skipped.filter(s => s.reason === 'rejected:DRAGNET_BAD_TLP')
    assert.equal(refused.length, 2)
    assert.match(refused[0].detail ?? '', /"tlp:purple" names no TLP level/)
    assert.equal(refused.reduce((a, s) => a + (s.count ?? 1), 0), 3, 'one attribute, and the two of the ip-port object')

    const all = parseMisp(event({ Tag: tags('tlp:amber-ish') }))
    assert.equal(all.items.length, 0, 'an unknown event tag refuses every object of the event')
    assert.ok(all.skipped.every(s => s.reason === 'rejected:DRAGNET_BAD_TLP'))
  })

  describe('into a node', function () {
    this.timeout(30_000)
    let tmp: { dir: string, cleanup: () => Promise<void> }
    let node: DragnetNode
    beforeEach(async () => {
      tmp = await tempDir()
      node = await testNode({ dir: tmp.dir })
    })
    afterEach(async () => {
      await node.stop()
      await tmp.cleanup()
    })
    const publish = async (objects: Array<Record<string, unknown>>, tlp: any): Promise<any> => await node.publish(objects, { tlp, source: 'import', skipExisting: true })

    it('stores each object at its tag\'s TLP; --tlp looser than a tag refuses that object', async () => {
      const loose = await runImport(parseMisp(event()), { tlp: 'amber', publish })
      assert.equal(loose.skipped['rejected:DRAGNET_TLP_CONFLICT'], 4, JSON.stringify(loose))
      assert.deepEqual(loose.tlp, { amber: 4 }, 'the green and amber objects and reports, raised to amber')
      const s = await runImport(parseMisp(event()), { publish })
      assert.deepEqual(s.tlp, { red: 2, 'amber+strict': 2 })
      assert.equal(s.skipped['rejected:DRAGNET_TLP_CONFLICT'], undefined)
      for (const v of await node.store.auditEntries({ limit: 100 })) assert.notEqual(v.code, 'DRAGNET_TLP_CONFLICT')
    })

    it('the shared MISP events: no record looser than its event tag, reports never name a stricter member', async function () {
      const data = requireSharedData(this)
      const dir = join(data, 'misp', 'events')
      for (const f of (await readdir(dir)).filter(f => f.endsWith('.json'))) {
        const json = JSON.parse(await readFile(join(dir, f), 'utf8'))
        const p = parseMisp(json)
        const eventTlp = tlpOfTag(((json.Event ?? json).Tag ?? []).map((t: { name: string }) => t.name).find((t: string) => tlpOfTag(t) != null) ?? '')
        for (const it of p.items) assert.ok(rank(it.tlp) >= rank(eventTlp), `${f}: ${String(it.object.id)}`)
        assertReportsHold(p.items, new Map())
        const s = await runImport(p, { publish })
        assert.equal(s.records.rejected, 0, `${f}: ${JSON.stringify(s.examples.filter(e => e.reason.startsWith('rejected')))}`)
      }
    })
  })
})
