import { readFile } from 'node:fs/promises'
import { dirname, extname, resolve } from 'node:path'
import { CST, Lexer, parseDocument } from 'yaml'
import { DragnetError } from '../errors.js'
import { jsonDepth } from '../util/depth.js'
import { Policy, compilePolicy, prefixError } from './compile.js'
import { validatePolicyDoc } from './schema.js'
import { loadWarninglists, WarninglistSet } from './warninglist.js'

/** Deepest nesting a policy file may have; real ones need about six levels. */
export const MAX_POLICY_DEPTH = 64
/** Alias expansions a YAML policy may make: a few are handy, millions are a "billion laughs". */
export const MAX_POLICY_ALIASES = 100

function tooDeep (source: string): DragnetError {
  return new DragnetError('DRAGNET_BAD_POLICY', `${source}: nests deeper than ${MAX_POLICY_DEPTH} levels`, { file: source })
}

/**
 * Deepest flow-collection nesting (`[`, `{`) in YAML text, from yaml's own lexer, which does not
 * recurse. The composer does, once per level (20,000 brackets exhaust the stack and the heap),
 * so this runs first. Block nesting costs a line and an indent per level and stays shallow.
 */
function yamlFlowDepth (text: string): number {
  let depth = 0
  let max = 0
  for (const token of new Lexer().lex(text)) {
    const t = CST.tokenType(token)
    if (t === 'flow-map-start' || t === 'flow-seq-start') {
      if (++depth > max) max = depth
      if (max > MAX_POLICY_DEPTH) break
    } else if ((t === 'flow-map-end' || t === 'flow-seq-end') && depth > 0) {
      depth--
    }
  }
  return max
}

function parseYaml (text: string, source: string): unknown {
  if (yamlFlowDepth(text) > MAX_POLICY_DEPTH) throw tooDeep(source)
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true })
  if (doc.errors.length > 0) {
    const e = doc.errors[0]
    const pos = e.linePos?.[0]
    const where = pos != null ? `line ${pos.line}, column ${pos.col}` : 'unknown position'
    throw new DragnetError('DRAGNET_BAD_POLICY', `${source}: not valid YAML at ${where}: ${e.message.split('\n')[0]}`, { file: source, line: pos?.line, column: pos?.col }, { cause: e })
  }
  try {
    return doc.toJS({ maxAliasCount: MAX_POLICY_ALIASES })
  } catch (err) {
    // yaml throws a ReferenceError when aliases expand past the limit.
    throw new DragnetError('DRAGNET_BAD_POLICY', `${source}: YAML aliases expand too far (more than ${MAX_POLICY_ALIASES} alias expansions, as in a "billion laughs" file): ${(err as Error).message}`, { file: source }, { cause: err })
  }
}

/**
 * Parses policy file text: JSON for `.json` files or text starting with `{`, YAML otherwise.
 * Syntax errors name the line and column; a file nested deeper than MAX_POLICY_DEPTH or an
 * alias bomb is refused before anything walks it.
 */
export function parsePolicyText (text: string, source = '(policy)'): unknown {
  const ext = extname(source).toLowerCase()
  const json = ext === '.json' || (ext !== '.yaml' && ext !== '.yml' && text.trimStart().startsWith('{'))
  let raw: unknown
  if (json) {
    try {
      raw = JSON.parse(text)
    } catch (err) {
      throw new DragnetError('DRAGNET_BAD_POLICY', `${source}: not valid JSON: ${(err as Error).message}`, { file: source }, { cause: err })
    }
  } else {
    raw = parseYaml(text, source)
  }
  if (jsonDepth(raw, MAX_POLICY_DEPTH) > MAX_POLICY_DEPTH) throw tooDeep(source)
  return raw
}

/** Reads, validates and compiles a policy file; its warninglists are loaded relative to it. */
export async function loadPolicy (file: string): Promise<Policy> {
  const path = resolve(file)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new DragnetError('DRAGNET_BAD_POLICY', `cannot read policy file ${file}: ${(err as Error).message}`, { file }, { cause: err })
  }
  const raw = parsePolicyText(text, file)
  const doc = validatePolicyDoc(raw, file)
  const refs = doc.warninglists ?? []
  let lists: WarninglistSet
  try {
    lists = refs.length === 0 ? new WarninglistSet() : await loadWarninglists(refs, dirname(path))
  } catch (err) {
    throw prefixError(err, file)
  }
  return compilePolicy(raw, dirname(path), { source: file, warninglists: lists })
}
