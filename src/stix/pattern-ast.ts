/*
 * The tree pattern-parser.js builds from a STIX 2.1 pattern (grammar: pattern.peggy).
 * Chains of one operator are flattened into `operands`, in source order; parentheses leave no
 * node of their own, so `([a] OR [b]) AND [c]` is `and(or(a, b), c)`.
 */

export type PatternAst = ObservationExpression

export type ObservationExpression = Observation | ObservationGroup | QualifiedObservation

/** `[ ... ]`: one observation, described by comparisons on its objects */
export interface Observation {
  kind: 'observation'
  expression: ComparisonExpression
}

export interface ObservationGroup {
  kind: 'and' | 'or' | 'followedby'
  operands: ObservationExpression[]
}

export interface QualifiedObservation {
  kind: 'qualified'
  expression: ObservationExpression
  qualifier: Qualifier
}

export type Qualifier =
  | { kind: 'within', seconds: number }
  | { kind: 'repeats', times: number }
  | { kind: 'start-stop', start: string, stop: string }

export type ComparisonExpression = Comparison | ComparisonGroup

export interface ComparisonGroup {
  kind: 'and' | 'or'
  operands: ComparisonExpression[]
}

export type ScalarOperator = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'LIKE' | 'MATCHES' | 'ISSUBSET' | 'ISSUPERSET'
export type ComparisonOperator = ScalarOperator | 'IN' | 'EXISTS'

interface ComparisonBase {
  kind: 'comparison'
  path: ObjectPath
  /** `NOT` written before the operator (`file:name NOT LIKE '%.exe'`); `!=` is not folded in */
  negated: boolean
}

export type Comparison =
  | ComparisonBase & { operator: ScalarOperator, value: Literal }
  | ComparisonBase & { operator: 'IN', value: Literal[] }
  | ComparisonBase & { operator: 'EXISTS', negated: false, value: null }

/** `file:hashes.'SHA-256'` is `{ objectType: 'file', steps: [key hashes, key SHA-256] }` */
export interface ObjectPath {
  objectType: string
  steps: PathStep[]
}

export type PathStep =
  | { kind: 'key', key: string }
  | { kind: 'index', index: number | '*' }

/** Timestamps keep their text (`2016-01-01T00:00:00Z`), hex its digits, binary its base64. */
export type Literal =
  | { kind: 'string' | 'timestamp' | 'hex' | 'binary', value: string }
  | { kind: 'int' | 'float', value: number }
  | { kind: 'bool', value: boolean }
