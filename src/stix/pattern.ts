import { DragnetError } from '../errors.js'
import type { PatternAst } from './pattern-ast.js'
import { parse, SyntaxError as PeggySyntaxError } from './pattern-parser.js'

export type * from './pattern-ast.js'

const MAX_PATTERN_LENGTH = 1 << 20

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
  try {
    return parse(text)
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
}
