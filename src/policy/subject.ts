import type { Tlp } from '../record/index.js'
import type { Observable, ObservableKind, StixObject } from '../stix/types.js'
import type { Member } from './types.js'
import type { WarninglistHit, WarninglistSet } from './warninglist.js'

/** The record fields a decision reads (a decoded `UnsignedRecord` plus its id fits). */
export interface PolicyRecord {
  id: string
  author: string
  seq: number
  ts: number
  tlp: Tlp
  to?: readonly string[]
  /** may be a getter: the subject reads it only when a rule or a derived field needs the body */
  body: StixObject
  /** the body's STIX type, when known without reading the body */
  type?: string
}

/** Sightings and opinions about an object, over every TLP, as this node holds them. */
export interface FeedbackCountsView {
  readonly sightings: number
  readonly agree: number
  readonly disagree: number
}

/** An object a sighting or an opinion is about: held here (by its owner) or not. */
export interface FeedbackTarget {
  readonly id: string
  readonly held: boolean
  readonly owner?: string
}

/** What the caller computed from the body once: observables and referenced SCO types; feedback from the store. */
export interface SubjectExtras {
  observables?: readonly Observable[]
  scoTypes?: readonly string[]
  /** the sightings and opinions about this record's object */
  feedback?: FeedbackCountsView
  /** a sighting's or opinion's targets */
  targets?: readonly FeedbackTarget[]
}

/** @internal Per-subject memo of which rules' record and author matchers hold. */
export interface SubjectEvalCache {
  owner: object
  author: Member | undefined
  inbound: Int32Array | null
  outbound: Int32Array | null
}

const EMPTY_SET: ReadonlySet<string> = new Set()
const NO_FEEDBACK: FeedbackCountsView = Object.freeze({ sightings: 0, agree: 0, disagree: 0 })

const SCO_OF_KIND: Record<ObservableKind, string> = {
  ipv4: 'ipv4-addr',
  'ipv4-cidr': 'ipv4-addr',
  ipv6: 'ipv6-addr',
  'ipv6-cidr': 'ipv6-addr',
  domain: 'domain-name',
  url: 'url',
  email: 'email-addr',
  md5: 'file',
  sha1: 'file',
  sha256: 'file'
}

/**
 * A record as the policy sees it. Everything derived from the record is computed at most once,
 * on first use, so deciding one record for many peers costs little more than deciding it once.
 */
export class PolicySubject {
  readonly id: string
  readonly author: string
  readonly seq: number
  readonly ts: number
  readonly tlp: Tlp
  readonly to: readonly string[] | undefined
  readonly type: string
  readonly observables: readonly Observable[]
  readonly feedback: FeedbackCountsView
  /** a sighting's or an opinion's targets (empty for other records) */
  readonly targets: readonly FeedbackTarget[]
  private readonly scoTypeList: readonly string[]
  private readonly record: PolicyRecord
  private bodyValue: StixObject | undefined
  private labelSet: ReadonlySet<string> | null = null
  private scoTypeSet: ReadonlySet<string> | null = null
  private validUntilMs: number | undefined = undefined
  private hitsFor: WarninglistSet | null = null
  private hits: readonly WarninglistHit[] | null = null
  /** @internal */
  evalCache: SubjectEvalCache | null = null

  constructor (record: PolicyRecord, extras: SubjectExtras = {}) {
    this.id = record.id
    this.author = record.author
    this.seq = record.seq
    this.ts = record.ts
    this.tlp = record.tlp
    this.to = record.to != null && record.to.length > 0 ? record.to : undefined
    this.record = record
    this.type = record.type ?? record.body.type
    this.observables = extras.observables ?? []
    this.scoTypeList = extras.scoTypes ?? []
    this.feedback = extras.feedback ?? NO_FEEDBACK
    this.targets = extras.targets ?? []
  }

  /**
   * The STIX object, read from the record on first use: a record served from the store is then
   * parsed only when a rule looks at its body (most decisions need its TLP, author and type).
   */
  get body (): StixObject {
    if (this.bodyValue === undefined) this.bodyValue = this.record.body
    return this.bodyValue
  }

  /** `body.labels` (string entries only). */
  get labels (): ReadonlySet<string> {
    if (this.labelSet == null) {
      const raw = this.body.labels
      this.labelSet = Array.isArray(raw) && raw.length > 0 ? new Set(raw.filter((l): l is string => typeof l === 'string')) : EMPTY_SET
    }
    return this.labelSet
  }

  /** `body.confidence` when it is a number 0-100; undefined otherwise (absent or malformed). */
  get confidence (): number | undefined {
    const c = this.body.confidence
    return typeof c === 'number' && c >= 0 && c <= 100 ? c : undefined
  }

  /** `body.valid_until` in ms, NaN when absent or unparsable. */
  get validUntil (): number {
    if (this.validUntilMs === undefined) {
      const v = this.body.valid_until
      this.validUntilMs = typeof v === 'string' ? Date.parse(v) : NaN
    }
    return this.validUntilMs
  }

  get revoked (): boolean {
    return this.body.revoked === true
  }

  /**
   * SCO types in the record: those the caller found, the body's own type, and the types behind
   * its observables. The last keeps a personal-data rule working even if the caller's type list
   * missed an e-mail address that its observable extraction found.
   */
  get scoTypes (): ReadonlySet<string> {
    if (this.scoTypeSet == null) {
      const set = new Set(this.scoTypeList)
      set.add(this.type)
      for (const o of this.observables) set.add(SCO_OF_KIND[o.kind])
      this.scoTypeSet = set
    }
    return this.scoTypeSet
  }

  expiredAt (now: number): boolean {
    const v = this.validUntil
    return v === v && v <= now
  }

  /** Warninglist hits of all observables; computed once per set. */
  warninglistHits (set: WarninglistSet): readonly WarninglistHit[] {
    if (this.hitsFor !== set || this.hits == null) {
      this.hits = set.matchAll(this.observables)
      this.hitsFor = set
    }
    return this.hits
  }
}

export function policySubject (record: PolicyRecord, extras: SubjectExtras = {}): PolicySubject {
  return new PolicySubject(record, extras)
}
