/*
 * The federation view of a looked-up value, as lookup answers it beside `records`. The web
 * console imports this type, so this file imports nothing (the browser build type-checks it
 * without Node's types).
 */

/** The federation view of a looked-up value (`summary` beside `records`). */
export interface LookupSummary {
  /** members whose current records name the value */
  reporters: string[]
  /** sightings reported, summed over the sightings' counts */
  sightings: number
  sighted_by: string[]
  first_seen: string | null
  last_seen: string | null
  opinions: { agree: number, disagree: number, reasons: Array<{ member: string, opinion: 'agree' | 'disagree', reason?: string }> }
  /** 0-100, see federationConfidence in queries.ts */
  confidence: number
  /** present (true) when the lookup matched more records than one summary reads (SUMMARY_SCAN_BUDGET index entries): it covers those read */
  partial?: true
}
