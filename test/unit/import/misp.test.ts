import assert from 'node:assert/strict'
import { isDragnetError } from '../../../src/errors.js'
import { mapAttribute, parseMisp, tlpOfTag } from '../../../src/import/index.js'
import { analyzeStixObject } from '../../../src/stix/index.js'

// A self-made MISP event in the feed format ({"Event": ...}), documentation addresses only.
const EVENT_UUID = '5f1e7c2a-1b2c-4d3e-8f40-0a1b2c3d4e5f'
const attr = (n: number, type: string, value: string, toIds: boolean, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ uuid: `5f1e7c2a-0000-4000-8000-${n.toString(16).padStart(12, '0')}`, type, value, to_ids: toIds, timestamp: String(1700000000 + n), category: 'Network activity', comment: '', ...extra })

function event (): Record<string, unknown> {
  return {
    Event: {
      uuid: EVENT_UUID,
      info: 'Test campaign',
      date: '2023-11-14',
      timestamp: '1700000500',
      publish_timestamp: '1700000600',
      Tag: [{ name: 'tlp:amber' }, { name: 'type:OSINT' }, { name: 'misp-galaxy:tool="Example"' }],
      Attribute: [
        attr(1, 'ip-dst', '192.0.2.10', true),
        attr(2, 'domain', 'evil[.]example', true, { comment: 'C2 domain' }),
        attr(3, 'hostname', 'www.evil.example', false),
        attr(4, 'url', 'http://evil.example/gate.php', true),
        attr(5, 'url', 'igfxtray.exe', true),
        attr(6, 'md5', 'abcdef0123456789abcdef0123456789', true),
        attr(7, 'filename|sha256', `dropper.exe|${'ab'.repeat(32)}`, true),
        attr(8, 'email-src', 'phish@evil.example', false),
        attr(9, 'ip-dst|port', '192.0.2.11|8443', true),
        attr(10, 'vulnerability', 'cve-2021-44228', false),
        attr(11, 'link', 'https://blog.example/report', false, { comment: 'write-up' }),
        attr(12, 'text', 'free text', false),
        attr(13, 'regkey', 'HKCU\\Software\\x', true),
        attr(14, 'ip-dst', 'not-an-ip', true),
        attr(15, 'sha1', '0123456789abcdef0123456789abcdef01234567', true, { Tag: [{ name: 'tlp:red' }, { name: 'kill-chain:c2' }] }),
        attr(1, 'ip-dst', '192.0.2.10', true)
      ],
      Object: [
        {
          name: 'ip-port',
          uuid: '5f1e7c2a-1111-4000-8000-000000000001',
          timestamp: '1700000300',
          Attribute: [
            attr(20, 'ip-dst', '198.51.100.5', true, { object_relation: 'ip' }),
            attr(21, 'port', '4444', false, { object_relation: 'dst-port' })
          ]
        },
        {
          name: 'domain-ip',
          uuid: '5f1e7c2a-1111-4000-8000-000000000002',
          Attribute: [
            attr(22, 'domain', 'other.example', true, { object_relation: 'domain' }),
            attr(23, 'ip-dst', '203.0.113.9', false, { object_relation: 'ip' })
          ]
        }
      ]
    }
  }
}

describe('import: MISP events', () => {
  const p = parseMisp(event())
  const byId = new Map(p.items.map(i => [i.object.id as string, i]))
  const get = (id: string): Record<string, unknown> => {
    const it = byId.get(id)
    assert.ok(it != null, `expected ${id}; have ${[...byId.keys()].join(', ')}`)
    return it.object
  }

  it('accounts for every attribute, top-level and in objects', () => {
    assert.equal(p.values, 16 + 4)
    const reasons = p.skipped.map(s => s.reason).sort()
    assert.deepEqual(reasons, ['invalid-value', 'invalid-value', 'unsupported-type', 'unsupported-type'])
    assert.equal(p.duplicates, 1, 'attribute 1 appears twice')
    const carried = p.items.reduce((a, i) => a + i.values, 0)
    assert.equal(carried + p.duplicates + p.skipped.reduce((a, k) => a + (k.count ?? 1), 0), p.values)
  })

  it('makes to_ids attributes indicators with patterns, the others observables', () => {
    const ip = get('indicator--5f1e7c2a-0000-4000-8000-000000000001')
    assert.equal(ip.pattern, "[ipv4-addr:value = '192.0.2.10']")
    assert.equal(ip.created, '2023-11-14T22:13:21.000Z', 'the MISP timestamp')
    assert.equal(ip.valid_from, ip.created)
    const dom = get('indicator--5f1e7c2a-0000-4000-8000-000000000002')
    assert.equal(dom.pattern, "[domain-name:value = 'evil.example']", 'refanged')
    assert.equal(dom.description, 'C2 domain')
    assert.deepEqual(get('domain-name--5f1e7c2a-0000-4000-8000-000000000003'), { type: 'domain-name', spec_version: '2.1', id: 'domain-name--5f1e7c2a-0000-4000-8000-000000000003', value: 'www.evil.example' })
    assert.deepEqual(get('email-addr--5f1e7c2a-0000-4000-8000-000000000008').value, 'phish@evil.example')
    assert.equal(get('indicator--5f1e7c2a-0000-4000-8000-000000000007').pattern, `[file:name = 'dropper.exe' AND file:hashes.'SHA-256' = '${'ab'.repeat(32)}']`)
    assert.equal(get('indicator--5f1e7c2a-0000-4000-8000-000000000009').pattern, "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '192.0.2.11' AND network-traffic:dst_port = 8443]")
    const cve = get('vulnerability--5f1e7c2a-0000-4000-8000-00000000000a')
    assert.equal(cve.name, 'CVE-2021-44228')
    assert.deepEqual(cve.external_references, [{ source_name: 'cve', external_id: 'CVE-2021-44228' }])
  })

  it('does not take a file name typed as url for a domain', () => {
    assert.ok(!byId.has('indicator--5f1e7c2a-0000-4000-8000-000000000005'))
    assert.ok(p.skipped.some(s => s.reason === 'invalid-value' && s.value.includes('igfxtray.exe')))
  })

  it('turns an ip-port object into one indicator naming address and port', () => {
    const o = get('indicator--5f1e7c2a-1111-4000-8000-000000000001')
    assert.equal(o.pattern, "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '198.51.100.5' AND network-traffic:dst_port = 4444]")
    assert.equal(byId.get(o.id as string)!.values, 2)
    // Other objects are read attribute by attribute.
    assert.equal(get('indicator--5f1e7c2a-0000-4000-8000-000000000016').pattern, "[domain-name:value = 'other.example']")
    assert.equal(get('ipv4-addr--5f1e7c2a-0000-4000-8000-000000000017').value, '203.0.113.9')
  })

  it('tags become labels; the TLP tag becomes the record TLP, the stricter of event and attribute', () => {
    const ip = byId.get('indicator--5f1e7c2a-0000-4000-8000-000000000001')!
    assert.equal(ip.tlp, 'amber')
    assert.deepEqual(ip.object.labels, ['type:OSINT', 'misp-galaxy:tool="Example"'])
    const sha1 = byId.get('indicator--5f1e7c2a-0000-4000-8000-00000000000f')!
    assert.equal(sha1.tlp, 'red')
    assert.deepEqual(sha1.object.labels, ['type:OSINT', 'misp-galaxy:tool="Example"', 'kill-chain:c2'])
    assert.equal(tlpOfTag('tlp:white'), 'clear')
    assert.equal(tlpOfTag('TLP:AMBER+STRICT'), 'amber+strict')
    assert.equal(tlpOfTag('tlp:ex:chr'), undefined)
  })

  it('wraps the event in a report per TLP level, each naming only objects at most that strict', () => {
    const report = get(`report--${EVENT_UUID}`)
    assert.equal(report.name, 'Test campaign')
    assert.equal(report.published, '2023-11-14T22:23:20.000Z')
    assert.deepEqual(report.external_references, [{ source_name: 'misp-link', url: 'https://blog.example/report', description: 'write-up' }])
    assert.equal(byId.get(`report--${EVENT_UUID}`)!.tlp, 'amber')
    const refs = report.object_refs as string[]
    const reports = p.items.filter(i => i.object.type === 'report')
    assert.equal(reports.length, 2, 'an amber report and a red one')
    const members = p.items.filter(i => i.object.type !== 'report')
    assert.deepEqual(refs, members.filter(i => i.tlp === 'amber').map(i => i.object.id), 'the red sha1 is not named at amber')
    assert.ok(!refs.includes('indicator--5f1e7c2a-0000-4000-8000-00000000000f'))
    const red = reports.find(r => r.tlp === 'red')!
    assert.equal(red.object.name, 'Test campaign (TLP:RED part)')
    assert.deepEqual(red.object.object_refs, members.map(i => i.object.id), 'the red report names everything')
    assert.equal(byId.get(`report--${EVENT_UUID}`)!.values, 1, 'the link it carries')
    assert.equal(red.values, 0, 'the link is counted once')
  })

  it('yields objects the node accepts, the same ones every time', () => {
    for (const it of p.items) analyzeStixObject(it.object)
    assert.deepEqual(parseMisp(event()), p)
  })

  it('reads event lists and the REST search format, and refuses what is not MISP', () => {
    const e = event()
    const carried = p.items.filter(i => i.object.type !== 'report').reduce((a, i) => a + i.values, 0)
    assert.equal(parseMisp([e, e]).duplicates, p.duplicates * 2 + carried)
    assert.equal(parseMisp({ response: [e] }).items.length, p.items.length)
    assert.throws(() => parseMisp([{ nope: 1 }]), (err: unknown) => isDragnetError(err, 'DRAGNET_BAD_REQUEST'))
  })

  it('maps single attributes, refusing what their type does not fit', () => {
    assert.ok(mapAttribute('ip-src', '2001:db8::5').ok)
    assert.ok(mapAttribute('sha256', 'ab'.repeat(32)).ok)
    assert.equal((mapAttribute('md5', 'xyz') as { reason: string }).reason, 'invalid-value')
    assert.equal((mapAttribute('yara', 'rule x {}') as { reason: string }).reason, 'unsupported-type')
    assert.equal((mapAttribute('ip-dst|port', '192.0.2.1|99999') as { reason: string }).reason, 'invalid-value')
  })
})
