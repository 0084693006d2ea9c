import type { Explanation, ExplainOptions, Policy } from './compile.js'
import type { PolicySubject } from './subject.js'

/** Dry run for `dragnet policy test`: the decision, and for every rule of the direction why it did or did not match. */
export function explain (policy: Policy, subject: PolicySubject, opts: ExplainOptions): Explanation {
  return policy.explain(subject, opts)
}

/** Plain-text rendering of an explanation, one rule per block, the deciding rule marked. */
export function formatExplanation (e: Explanation): string {
  const lines: string[] = []
  lines.push(`${e.direction}: ${e.decision.verdict} by ${e.decision.rule} — ${e.decision.reason}`)
  if (e.floor != null) lines.push(`  fixed rule ${e.floor.rule} decided; policy rules were not consulted`)
  if (e.warninglistHits.length > 0) {
    lines.push('  warninglist hits:')
    for (const h of e.warninglistHits) lines.push(`    ${h.kind} ${h.value} on ${h.list} (entry ${h.entry})`)
  }
  for (const r of e.rules) {
    const mark = r.decisive ? '=>' : r.evaluated ? '  ' : ' ·'
    const state = r.decisive ? 'MATCHED, decides' : r.matched ? (r.evaluated ? 'matched' : 'would match, not reached') : 'no match'
    lines.push(`${mark} rules[${r.index}] ${r.id} (${r.action}): ${state}`)
    if (r.checks.length === 0) lines.push('      (no matchers: matches every record)')
    for (const c of r.checks) lines.push(`      ${c.matched ? '✓' : '✗'} ${c.matcher}: ${c.detail}`)
  }
  if (e.floor == null && !e.rules.some(r => r.decisive)) lines.push(`  no rule matched: ${e.decision.rule}`)
  return lines.join('\n')
}
