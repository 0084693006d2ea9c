import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { DragnetError } from '../errors.js'

/*
 * A scenario is data (YAML or JSON in config/sim/). Times are durations: "500ms", "2s", "1m".
 *
 *   name, description
 *   nodes: 12                    how many members run (overridable with --nodes)
 *   topology: random:4           full | ring | random:K | scale-free (overridable)
 *   transport: memory            memory | tcp (overridable)
 *   link: { latency: 5ms, jitter: 2ms }     per-link delay on every frame
 *   members:                     how members get roles, countries and policies, in order;
 *     - { role: bureau, count: 3, countries: [DE, FR], policy: ../policies/eu-bureau.yaml }
 *     - { role: contributor, share: 0.2 }   `share` of the rest; the last group takes what is left
 *   publish:                     publishing waves (records drawn from the shared data, or synthetic)
 *     - { at: 0s, duration: 10s, rate: 20, by: bureaus, tlp: { green: 0.8, clear: 0.2 }, amber_to: 2, kinds: ... }
 *   events:                      disturbances, at times
 *     - { at: 3s, partition: halves }    or  partition: [[0,1,2],[3,4,5]]
 *     - { at: 8s, heal: true }
 *     - { at: 2s, down: 3 }              a count of random members, or a list of indexes
 *     - { at: 6s, up: all }              every member that is down
 *     - { at: 5s, join: 2 }              late joiners: this many members start only now (with a
 *                                        federation: the roots issue, sign and publish their
 *                                        credentials first; they are on no one's roster before)
 *     - { at: 3s, revoke: 1 }            the roots sign and publish a revocation of this many
 *                                        members (a count of random non-roots, or a list)
 *     - { at: 3s, rotate: 1 }            this many members rotate their key: stop, rotate-key,
 *                                        the roots credential the new PeerId, restart
 *   federation: { roots: 3, threshold: 2 }   members 0..roots-1 are the roots; every member is
 *                                        admitted by a credential with `threshold` root signatures
 *   attackers:
 *     forger:   { at: 2s, bad_signature: 5, tampered: 5, unknown_author: 5, equivocate: true, attach: 2 }
 *     flooder:  { at: 2s, duration: 3s, valid: 2000, junk: 200, attach: 1 }
 *     spy:      { attach: 3, country: US }
 *   sync: { interval: 2s }
 *   settle: 20s                  how long to wait for convergence after the last event
 */

const duration = z.union([z.number().nonnegative(), z.string().regex(/^\d+(\.\d+)?(ms|s|m)$/, 'a duration such as 500ms, 2s or 1m')])
  .transform(v => typeof v === 'number' ? v : parseDuration(v))

export function parseDuration (s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(s)
  if (m == null) throw new DragnetError('DRAGNET_BAD_CONFIG', `not a duration: ${s}`)
  const n = Number(m[1])
  return m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000
}

const indexes = z.union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative()), z.literal('all')])

const memberGroup = z.object({
  role: z.enum(['bureau', 'contributor', 'observer']),
  count: z.number().int().nonnegative().optional(),
  share: z.number().min(0).max(1).optional(),
  countries: z.array(z.string().regex(/^[A-Z]{2}$/)).min(1).default(['DE', 'FR', 'NL', 'IT', 'ES', 'PL', 'SE', 'AT', 'BE', 'DK']),
  policy: z.string().nullable().default(null)
}).strict()

const wave = z.object({
  at: duration.default(0),
  duration: duration.default(5000),
  rate: z.number().positive().default(10),
  by: z.union([z.enum(['all', 'bureaus', 'contributors', 'authors']), z.array(z.number().int().nonnegative())]).default('authors'),
  tlp: z.partialRecord(z.enum(['clear', 'green', 'amber', 'amber+strict', 'red']), z.number().min(0)).default({ green: 1 }),
  amber_to: z.number().int().min(0).default(0),
  /** share of records that carry personal data (an e-mail address), for policy scenarios */
  personal: z.number().min(0).max(1).default(0.05),
  /** share of records from the shared data's STIX bundles rather than indicators */
  stix: z.number().min(0).max(1).default(0.1)
}).strict()

const event = z.object({
  at: duration,
  partition: z.union([z.literal('halves'), z.array(z.array(z.number().int().nonnegative()))]).optional(),
  heal: z.boolean().optional(),
  down: indexes.optional(),
  up: indexes.optional(),
  join: z.number().int().positive().optional(),
  revoke: z.union([z.number().int().positive(), z.array(z.number().int().nonnegative())]).optional(),
  rotate: z.union([z.number().int().positive(), z.array(z.number().int().nonnegative())]).optional()
}).strict()

export const scenarioSchema = z.object({
  name: z.string().min(1),
  description: z.string().default(''),
  nodes: z.number().int().min(2).max(2000).default(10),
  topology: z.string().default('random:4'),
  transport: z.enum(['memory', 'tcp']).default('memory'),
  link: z.object({ latency: duration.default(0), jitter: duration.default(0) }).strict().default({ latency: 0, jitter: 0 }),
  members: z.array(memberGroup).min(1).default([{ role: 'bureau', countries: ['DE', 'FR', 'NL', 'IT', 'ES', 'PL', 'SE', 'AT', 'BE', 'DK'], policy: null }]),
  publish: z.array(wave).default([]),
  events: z.array(event).default([]),
  attackers: z.object({
    forger: z.object({
      at: duration.default(1000),
      bad_signature: z.number().int().min(0).default(5),
      tampered: z.number().int().min(0).default(5),
      unknown_author: z.number().int().min(0).default(5),
      equivocate: z.boolean().default(true),
      attach: z.number().int().min(1).default(2)
    }).strict().optional(),
    flooder: z.object({
      at: duration.default(1000),
      duration: duration.default(3000),
      valid: z.number().int().min(0).default(1000),
      junk: z.number().int().min(0).default(100),
      attach: z.number().int().min(1).default(1)
    }).strict().optional(),
    spy: z.object({
      attach: z.number().int().min(1).default(3),
      country: z.string().regex(/^[A-Z]{2}$/).default('US'),
      role: z.enum(['bureau', 'contributor', 'observer']).default('contributor')
    }).strict().optional()
  }).strict().default({}),
  federation: z.object({ roots: z.number().int().min(1), threshold: z.number().int().min(1) }).strict()
    .refine(f => f.threshold <= f.roots, { message: 'threshold is at most the number of roots' }).optional(),
  sync: z.object({ interval: duration.default(2000) }).strict().default({ interval: 2000 }),
  settle: duration.default(30_000)
}).strict()

export type Scenario = z.infer<typeof scenarioSchema> & { file: string | null, baseDir: string }

export const SCENARIO_DIR = findScenarioDir()

function findScenarioDir (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'config', 'sim')
    if (existsSync(candidate)) return candidate
    dir = dirname(dir)
  }
  return resolve('config', 'sim')
}

/** A scenario by name (config/sim/NAME.yaml) or by file path; policy paths resolve against its folder. */
export async function loadScenario (nameOrFile: string): Promise<Scenario> {
  let file = nameOrFile
  if (!nameOrFile.includes('/') && !nameOrFile.endsWith('.yaml') && !nameOrFile.endsWith('.json')) {
    file = join(SCENARIO_DIR, `${nameOrFile}.yaml`)
    if (!existsSync(file)) throw new DragnetError('DRAGNET_BAD_CONFIG', `no scenario "${nameOrFile}" (looked for ${file}); pass a scenario file, or one of the names in ${SCENARIO_DIR}`)
  }
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err: any) {
    throw new DragnetError('DRAGNET_BAD_CONFIG', `cannot read scenario ${file}: ${err.code ?? err.message}`)
  }
  let raw: unknown
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text)
  } catch (err: any) {
    throw new DragnetError('DRAGNET_BAD_CONFIG', `${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${err.message}`)
  }
  return parseScenario(raw, resolve(file))
}

export function parseScenario (raw: unknown, file: string | null, baseDir = file != null ? dirname(file) : process.cwd()): Scenario {
  const r = scenarioSchema.safeParse(raw)
  if (!r.success) {
    throw new DragnetError('DRAGNET_BAD_CONFIG', `invalid scenario${file != null ? ' ' + file : ''}: ${r.error.issues.map(i => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}`)
  }
  const s = r.data
  if (s.federation == null && s.events.some(e => e.revoke != null || e.rotate != null)) {
    throw new DragnetError('DRAGNET_BAD_CONFIG', `invalid scenario${file != null ? ' ' + file : ''}: revoke and rotate events need a federation defined by roots (federation: { roots, threshold })`)
  }
  for (const g of s.members) if (g.policy != null && !isAbsolute(g.policy)) g.policy = resolve(baseDir, g.policy)
  return { ...s, file, baseDir }
}
