/*
 * Shapes of API answers that the web console reads too (the lookup summary is in
 * src/store/summary.ts). The console imports these types from here, so this file imports
 * nothing: the browser build type-checks it without Node's types. The server assigns its own
 * values to them, so a TLP level added to the record format and missing here fails its check.
 */

export type TlpName = 'clear' | 'green' | 'amber' | 'amber+strict' | 'red'

/** One line of the console's live feed: what it lists without fetching the record. */
export interface FeedItem {
  id: string
  type: string
  stixId: string
  tlp: TlpName
  author: string
  addedAt: string
  source: string
  from?: string
}
