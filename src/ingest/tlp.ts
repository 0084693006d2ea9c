import { DragnetError } from '../errors.js'
import type { Tlp } from '../record/index.js'
import { localTlpMarkings, strictestTlpMarking, TLP_RANK, type TlpLevel } from '../stix/index.js'

/** The record TLP of an object published with no TLP given and no TLP marking. */
export const DEFAULT_TLP: Tlp = 'green'

const AMBER = new Set<Tlp>(['amber', 'amber+strict'])

/**
 * Decides the record TLP of each object a publication carries. The record TLP is never looser
 * than the strictest TLP marking on the object (TLP 1.0 and 2.0 marking ids, marking definitions
 * among `objects`, granular markings):
 * - no TLP given: the marking decides, green without one;
 * - a TLP given at least as strict as the marking: the TLP given;
 * - a TLP given looser than the marking: DRAGNET_TLP_CONFLICT for that object.
 * A recipient list (`to`) needs an amber record, whichever way its TLP was decided.
 */
export class TlpResolver {
  private readonly local: Map<string, TlpLevel | DragnetError>

  constructor (objects: readonly unknown[], private readonly given: Tlp | undefined, private readonly to: readonly string[] | undefined) {
    this.local = localTlpMarkings(objects)
  }

  /** The record TLP for one object; throws DRAGNET_TLP_CONFLICT, DRAGNET_BAD_RECIPIENT or DRAGNET_STIX_INVALID. */
  tlpOf (obj: { id: string }): Tlp {
    const marked = strictestTlpMarking(obj, this.local)
    let tlp: Tlp
    if (this.given == null) {
      tlp = marked?.tlp ?? DEFAULT_TLP
    } else if (marked != null && TLP_RANK[marked.tlp] > TLP_RANK[this.given]) {
      throw new DragnetError('DRAGNET_TLP_CONFLICT',
        `${obj.id}: TLP ${this.given} was asked for, but the object is marked TLP ${marked.tlp} (${marked.marking} in ${marked.property}); a record is never looser than its marking: give TLP ${marked.tlp} or stricter, or no TLP`,
        { object: obj.id, property: marked.property, tlp: this.given, marking: marked.tlp, markingRef: marked.marking })
    } else {
      tlp = this.given
    }
    if (this.to != null && !AMBER.has(tlp)) {
      throw new DragnetError('DRAGNET_BAD_RECIPIENT', `${obj.id}: a recipient list applies to amber records only; this object's record would be ${tlp}${this.given == null ? (marked == null ? ' (no TLP given, no TLP marking)' : ` (its marking ${marked.marking})`) : ''}`, { object: obj.id })
    }
    return tlp
  }
}
