import type { Tlp } from '../record/index.js'
import { tlp2MarkingDefinition, TLP2_MARKING_IDS, type StixObject } from '../stix/index.js'
import type { RecordInfo, Store } from '../store/store.js'
import { memberObjects, Provenance, type MemberInfo } from './provenance.js'

/*
 * TLP markings and author identities in TAXII responses. Every page of a collection is
 * self-contained: besides its records (each served with its TLP 2.0 marking and creator, see
 * provenance.ts) it carries the marking definition and the identities those records reference,
 * so a client that reads any one page can resolve every reference on it. They count against
 * `limit`: a page gives up records at its end rather than exceed it (with a limit smaller than
 * one record and what it references, the page holds the record and what fits).
 * The same objects are servable by id in the collections where they apply: the collection's
 * TLP 2.0 marking definition, and the identity (location, located-at) of each member that
 * authored a record in it.
 */

export interface PageItem {
  info: RecordInfo
  /** the STIX object as signed, JSON bytes */
  body: Uint8Array
}

export interface PageFilter {
  limit: number
  types?: ReadonlySet<string>
  ids?: ReadonlySet<string>
}

export interface ServedPage {
  /** the items' objects as served (JSON bytes), the first `kept` items */
  bodies: Uint8Array[]
  /** the marking definitions and identities they reference (passing the filters) */
  extras: StixObject[]
  /** how many of the items the page holds (from the start) */
  kept: number
}

/** The items served, followed by what they reference (those passing the type and id filters), within `limit`. */
export function servePage (items: PageItem[], filter: PageFilter, memberOf: (peerId: string) => MemberInfo | undefined): ServedPage {
  const p = new Provenance(memberOf)
  const wanted = (o: StixObject): boolean => (filter.types == null || filter.types.has(o.type)) && (filter.ids == null || filter.ids.has(o.id))
  const bodies: Uint8Array[] = []
  // extrasAt[i]: what the first i + 1 items reference; recomputed only when a reference is new.
  const extrasAt: StixObject[][] = []
  let extras: StixObject[] = []
  for (const it of items) {
    const before = p.references
    bodies.push(p.serveBytes(it.body, it.info.tlp, it.info.author, it.info.type))
    if (p.references !== before) extras = p.extras().filter(wanted)
    extrasAt.push(extras)
  }
  let kept = items.length
  while (kept > 1 && kept + extrasAt[kept - 1].length > filter.limit) kept--
  if (kept === 0) return { bodies: [], extras: [], kept: 0 }
  // A limit too small for one record and what it references: the record, and what fits.
  return { bodies: bodies.slice(0, kept), extras: extrasAt[kept - 1].slice(0, Math.max(0, filter.limit - kept)), kept }
}

/**
 * Which members authored records at which TLP: built by one scan of the record infos on first
 * use, then kept current through `note` (wire it to ingest's onStored).
 */
export class AuthorsByTlp {
  private readonly seen = new Set<string>()
  private built: Promise<void> | null = null

  constructor (private readonly store: Store) {}

  note (tlp: Tlp, author: string): void {
    this.seen.add(`${tlp}|${author}`)
  }

  async has (tlp: Tlp, author: string): Promise<boolean> {
    this.built ??= this.build()
    await this.built
    return this.seen.has(`${tlp}|${author}`)
  }

  private async build (): Promise<void> {
    for await (const { info } of this.store.iterateRecords()) this.note(info.tlp, info.author)
  }
}

/**
 * A generated object served by id in the collection at `tlp`: its TLP 2.0 marking definition,
 * or an object of a member (of `members`) that authored a record at that TLP. Undefined otherwise.
 */
export async function provenanceObject (oid: string, tlp: Tlp, members: Array<{ peerId: string } & MemberInfo>, authors: AuthorsByTlp): Promise<StixObject | undefined> {
  if (oid === TLP2_MARKING_IDS[tlp]) return tlp2MarkingDefinition(tlp)
  const type = oid.slice(0, oid.indexOf('--'))
  if (type !== 'identity' && type !== 'location' && type !== 'relationship') return undefined
  for (const m of members) {
    const found = memberObjects(m.peerId, m).find(o => o.id === oid)
    if (found != null && await authors.has(tlp, m.peerId)) return found
  }
  return undefined
}
