import { DragnetError } from '../errors.js'
import type { PathStep, PatternAst } from './pattern-ast.js'
import { parse, SyntaxError as PeggySyntaxError } from './pattern-parser.js'

export type * from './pattern-ast.js'

const MAX_PATTERN_LENGTH = 1 << 20
/** Brackets and parentheses open at once; the parser recurses several frames per level. */
export const MAX_PATTERN_NESTING = 64
/** Depth of the tree a pattern parses into (stacked qualifiers nest too); walkers recurse over it. */
export const MAX_PATTERN_DEPTH = 128

/**
 * Deepest nesting of `(` and `[` outside string literals and comments. In a valid prefix this
 * tokenises exactly as the grammar does, and the parser gives up at the first invalid token, so
 * the parser never nests deeper than this says.
 */
function bracketDepth (text: string): { depth: number, offset: number } {
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 39) { // a string literal: \' and \\ are its only escapes
      for (i++; i < text.length && text.charCodeAt(i) !== 39; i++) if (text.charCodeAt(i) === 92) i++
    } else if (c === 47 && text.charCodeAt(i + 1) === 42) { // /* comment */
      const end = text.indexOf('*/', i + 2)
      i = end < 0 ? text.length : end + 1
    } else if (c === 47 && text.charCodeAt(i + 1) === 47) { // // comment
      const end = text.indexOf('\n', i + 2)
      i = end < 0 ? text.length : end
    } else if (c === 40 || c === 91) {
      if (++depth > MAX_PATTERN_NESTING) return { depth, offset: i }
    } else if ((c === 41 || c === 93) && depth > 0) {
      depth--
    }
  }
  return { depth, offset: -1 }
}

/** Depth of a parsed pattern tree, without recursion; stops counting past the limit. */
function astDepth (ast: PatternAst): number {
  let max = 0
  const stack: Array<[unknown, number]> = [[ast, 1]]
  while (stack.length > 0) {
    const [node, d] = stack.pop()!
    if (d > max) {
      max = d
      if (max > MAX_PATTERN_DEPTH) return max
    }
    const n = node as { kind?: string, operands?: unknown[], expression?: unknown }
    if (n.operands != null) for (const o of n.operands) stack.push([o, d + 1])
    else if (n.kind === 'qualified' || n.kind === 'observation') stack.push([n.expression, d + 1])
  }
  return max
}

/**
 * The shape nearly every shared indicator has, `[type:path = 'value']` with single spaces and
 * no comments. peggy costs tens of µs per pattern (the largest part of validating a record on
 * receipt); this reads that one form directly and builds the tree the grammar builds for it.
 * Anything else, escapes in path keys included, goes to the parser.
 */
const SIMPLE_EQUALS = /^\[([a-zA-Z_][a-zA-Z0-9_-]*):([a-zA-Z_][a-zA-Z0-9_]*)((?:\.(?:[a-zA-Z_][a-zA-Z0-9_]*|'[^'\\]*'))*) = '((?:[^'\\]|\\['\\])*)'\]$/
const PATH_STEP = /\.(?:([a-zA-Z_][a-zA-Z0-9_]*)|'([^'\\]*)')/g

function simpleEquals (text: string): PatternAst | undefined {
  const m = SIMPLE_EQUALS.exec(text)
  if (m == null) return undefined
  const steps: PathStep[] = [{ kind: 'key', key: m[2] }]
  if (m[3] !== '') for (const s of m[3].matchAll(PATH_STEP)) steps.push({ kind: 'key', key: s[1] ?? s[2] })
  const raw = m[4]
  const value = raw.indexOf('\\') < 0 ? raw : raw.replace(/\\(['\\])/g, '$1')
  return { kind: 'observation', expression: { kind: 'comparison', path: { objectType: m[1], steps }, operator: '=', negated: false, value: { kind: 'string', value } } }
}

/**
 * Parses a STIX 2.1 pattern (`pattern_type: "stix"`). Throws DRAGNET_BAD_PATTERN naming the
 * line and column where the parser gave up; `object` names the indicator in the error.
 */
export function parsePattern (text: string, object = '(pattern)'): PatternAst {
  if (typeof text !== 'string') {
    throw new DragnetError('DRAGNET_BAD_PATTERN', `${object}: property pattern must be a string`, { object, property: 'pattern' })
  }
  // peggy recurses per nesting level; a megabyte of brackets is an attack, not a pattern.
  if (text.length > MAX_PATTERN_LENGTH) {
    throw new DragnetError('DRAGNET_BAD_PATTERN', `${object}: property pattern is longer than ${MAX_PATTERN_LENGTH} characters`, { object, property: 'pattern' })
  }
  const simple = simpleEquals(text)
  if (simple != null) return simple
  const nesting = bracketDepth(text)
  if (nesting.offset >= 0) {
    throw new DragnetError('DRAGNET_BAD_PATTERN', `${object}: property pattern nests brackets and parentheses deeper than ${MAX_PATTERN_NESTING} levels (offset ${nesting.offset})`, { object, property: 'pattern', offset: nesting.offset })
  }
  let ast: PatternAst
  try {
    ast = parse(text)
  } catch (err) {
    if (err instanceof PeggySyntaxError) {
      const { line, column, offset } = err.location.start
      throw new DragnetError(
        'DRAGNET_BAD_PATTERN',
        `${object}: property pattern is not a valid STIX pattern: ${err.message} (line ${line}, column ${column})`,
        { object, property: 'pattern', line, column, offset }
      )
    }
    if (err instanceof RangeError) {
      throw new DragnetError('DRAGNET_BAD_PATTERN', `${object}: property pattern is nested too deeply`, { object, property: 'pattern' })
    }
    throw err
  }
  if (astDepth(ast) > MAX_PATTERN_DEPTH) {
    throw new DragnetError('DRAGNET_BAD_PATTERN', `${object}: property pattern nests deeper than ${MAX_PATTERN_DEPTH} levels (stacked qualifiers or groups)`, { object, property: 'pattern' })
  }
  return ast
}
