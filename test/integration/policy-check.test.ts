import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/tmp.js'

// `dragnet policy check` lists every problem of a file, each with its rule index, rule id and
// field (issue 10, item 15), in the human output and in --json.
const BROKEN = `# no name
rules:
  - { id: a, direction: outbound, action: send }
  - id: b
    direction: outbound
    match: { confidance: { min: 50 } }
    action: withhold
  - { id: a, direction: inbound, action: send }
  - { direction: outbound, action: drop }
`

describe('CLI: dragnet policy check reports every problem', function () {
  this.timeout(60_000)
  let tmp: { dir: string, cleanup: () => Promise<void> }
  let file: string
  before(async () => {
    tmp = await tempDir()
    file = join(tmp.dir, 'broken.yaml')
    await writeFile(file, BROKEN)
  })
  after(async () => { await tmp.cleanup() })

  it('names each problem with rule index, id and field, one a line', async () => {
    const r = await runCli(['policy', 'check', file])
    assert.equal(r.code, 1)
    assert.doesNotMatch(r.stderr, /more problem/)
    const expected = [
      'name: required: a policy name',
      'rules[1] (id "b").match.confidance: unknown field; expected one of',
      'rules[2] (id "a").action: send is not an inbound action',
      'rules[2] (id "a").id: duplicate rule id; rules[0] has it already',
      'rules[3].action: expected an action',
      'rules[3].id: required: a rule id'
    ]
    assert.match(r.stderr, /^error: DRAGNET_BAD_POLICY: .*broken\.yaml: 6 problems:$/m)
    for (const e of expected) assert.ok(r.stderr.includes(`\n  ${e}`), `missing "${e}" in:\n${r.stderr}`)
  })

  it('--json lists the same problems with rule, ruleId and field', async () => {
    const r = await runCli(['policy', 'check', '--json', file])
    assert.equal(r.code, 1)
    const out = JSON.parse(r.stdout)
    assert.equal(out.ok, false)
    assert.equal(out.code, 'DRAGNET_BAD_POLICY')
    assert.equal(out.problems.length, 6)
    assert.deepEqual(out.problems[0], { path: 'name', message: 'required: a policy name' })
    const dup = out.problems.find((p: { message: string }) => p.message.startsWith('duplicate rule id'))
    assert.deepEqual({ rule: dup.rule, ruleId: dup.ruleId, field: dup.field }, { rule: 2, ruleId: 'a', field: 'id' })
    const typo = out.problems.find((p: { field?: string }) => p.field === 'match.confidance')
    assert.deepEqual({ rule: typo.rule, ruleId: typo.ruleId }, { rule: 1, ruleId: 'b' })
    assert.ok(out.problems.some((p: { rule?: number, ruleId?: string, field?: string }) => p.rule === 3 && p.ruleId === undefined && p.field === 'id'))
  })

  it('a YAML alias bomb is a DRAGNET_BAD_POLICY, not a ReferenceError stack', async () => {
    const bomb = join(tmp.dir, 'bomb.yaml')
    const lines = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]']
    for (const [p, c] of [['a', 'b'], ['b', 'c'], ['c', 'd'], ['d', 'e'], ['e', 'f'], ['f', 'g'], ['g', 'h'], ['h', 'i']]) lines.push(`${c}: &${c} [${Array(9).fill(`*${p}`).join(', ')}]`)
    await writeFile(bomb, lines.join('\n') + '\nname: bomb\n')
    const r = await runCli(['policy', 'check', bomb])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^error: DRAGNET_BAD_POLICY: .*bomb\.yaml: YAML aliases expand too far/m)
    assert.doesNotMatch(r.stderr, /ReferenceError|\n\s+at /)
  })
})
