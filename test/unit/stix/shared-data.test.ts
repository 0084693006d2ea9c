import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { isDragnetError } from '../../../src/errors.js'
import { analyzeStixObject, parsePattern, stixObjectsFromInput, type StixAnalysis } from '../../../src/stix/index.js'
import { requireSharedData } from '../../helpers/shared-data.js'

function jsonFiles (dir: string): string[] {
  return readdirSync(dir).sort().flatMap(name => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return jsonFiles(path)
    return name.endsWith('.json') ? [path] : []
  })
}

// cti-python-stix2's SCO examples carry three artifacts whose payload_bin ends in " ..." (see
// SOURCES.md): a strict validator must refuse exactly these.
const BAD_BASE64_ARTIFACTS = [
  'artifact--4cce66f8-6eaa-53cb-85d5-3a85fca3a6c5',
  'artifact--6f437177-6e48-5cf8-9d9e-872a2bddd641',
  'artifact--ca17bcf8-9846-5ab4-8662-75c1bf6e63ee'
]

describe('stix: the shared real-world data', function () {
  let root: string
  const accepted: Array<{ file: string, analysis: StixAnalysis }> = []
  const rejected: Array<{ file: string, where: string, code: string, object?: string, property?: string }> = []

  before(function () {
    root = join(requireSharedData(this), 'stix')
    for (const file of jsonFiles(root)) {
      const objects = stixObjectsFromInput(JSON.parse(readFileSync(file, 'utf8')))
      objects.forEach((obj, i) => {
        try {
          accepted.push({ file, analysis: analyzeStixObject(obj, `objects[${i}]`) })
        } catch (err) {
          if (!isDragnetError(err)) throw err
          rejected.push({ file: relative(root, file), where: `objects[${i}]`, code: err.code, object: err.details.object, property: err.details.property })
        }
      })
    }
  })

  it('accepts every object except the three artifacts with invalid base64', () => {
    assert.equal(rejected.length, 3, JSON.stringify(rejected, null, 2))
    assert.deepEqual(rejected.map(r => r.object).sort(), BAD_BASE64_ARTIFACTS)
    for (const r of rejected) {
      assert.equal(r.code, 'DRAGNET_STIX_INVALID')
      assert.equal(r.property, 'payload_bin')
      assert.equal(r.file, join('examples', 'cti-python-stix2', 'sco-examples-bundle.json'))
    }
    assert.ok(accepted.length > 2000, `only ${accepted.length} objects accepted`)
  })

  it('accepts the ATT&CK ICS custom x-mitre-* objects', () => {
    const custom = accepted.filter(a => a.analysis.object.type.startsWith('x-mitre-'))
    assert.ok(custom.length > 200, `${custom.length} x-mitre objects`)
  })

  it('parses every STIX pattern in the data and finds observables in most indicators', () => {
    const indicators = accepted.filter(a => a.analysis.object.type === 'indicator' && a.analysis.object.pattern_type === 'stix')
    assert.ok(indicators.length > 40, `${indicators.length} indicators`)
    for (const { analysis } of indicators) {
      assert.ok(analysis.pattern != null)
      assert.deepEqual(parsePattern(analysis.object.pattern as string), analysis.pattern)
    }
    const withObservables = indicators.filter(i => i.analysis.observables.length > 0)
    assert.ok(withObservables.length >= indicators.length * 0.8, `${withObservables.length} of ${indicators.length} indicators yield observables`)
  })

  it('extracts the observables of the SCO examples', () => {
    const scos = accepted.filter(a => a.file.endsWith('sco-examples-bundle.json'))
    const kinds = new Set(scos.flatMap(a => a.analysis.observables.map(o => o.kind)))
    for (const kind of ['ipv4', 'ipv4-cidr', 'ipv6', 'ipv6-cidr', 'domain', 'url', 'email', 'md5', 'sha1', 'sha256']) {
      assert.ok(kinds.has(kind as never), `no ${kind} observable among the SCO examples`)
    }
    const types = new Set(scos.flatMap(a => a.analysis.scoTypes))
    assert.ok(types.has('user-account') && types.has('email-addr'))
  })
})
