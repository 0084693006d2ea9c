// Types for the peggy-generated pattern-parser.js (see scripts/build-grammar.mjs).
import type { PatternAst } from './pattern-ast.js'

export interface ParserPosition {
  offset: number
  line: number
  column: number
}

export interface ParserLocation {
  source: unknown
  start: ParserPosition
  end: ParserPosition
}

export class SyntaxError extends Error {
  readonly expected: unknown[] | null
  readonly found: string | null
  readonly location: ParserLocation
}

export const StartRules: string[]

export function parse (input: string, options?: { startRule?: 'Pattern', grammarSource?: unknown }): PatternAst
