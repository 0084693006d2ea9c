import { readFile } from 'node:fs/promises'
import { dirname, extname, resolve } from 'node:path'
import { parseDocument } from 'yaml'
import { DragnetError } from '../errors.js'
import { Policy, compilePolicy, prefixError } from './compile.js'
import { validatePolicyDoc } from './schema.js'
import { loadWarninglists, WarninglistSet } from './warninglist.js'

/**
 * Parses policy file text: JSON for `.json` files or text starting with `{`, YAML otherwise.
 * Syntax errors name the line and column.
 */
export function parsePolicyText (text: string, source = '(policy)'): unknown {
  const ext = extname(source).toLowerCase()
  const json = ext === '.json' || (ext !== '.yaml' && ext !== '.yml' && text.trimStart().startsWith('{'))
  if (json) {
    try {
      return JSON.parse(text)
    } catch (err) {
      throw new DragnetError('DRAGNET_BAD_POLICY', `${source}: not valid JSON: ${(err as Error).message}`, { file: source }, { cause: err })
    }
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true })
  if (doc.errors.length > 0) {
    const e = doc.errors[0]
    const pos = e.linePos?.[0]
    const where = pos != null ? `line ${pos.line}, column ${pos.col}` : 'unknown position'
    throw new DragnetError('DRAGNET_BAD_POLICY', `${source}: not valid YAML at ${where}: ${e.message.split('\n')[0]}`, { file: source, line: pos?.line, column: pos?.col }, { cause: e })
  }
  return doc.toJS()
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
