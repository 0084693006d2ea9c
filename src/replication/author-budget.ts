import { TokenBucket } from '../util/token-bucket.js'

/*
 * Per-author budgets. Every member relays a member's valid records, so one author publishing
 * (or a compromised member pushing its own records) at its full rate makes every node of the
 * federation verify, store and relay them all, and together they take the cores honest records
 * need. Here each node takes at most `recordsPerSec` of one author's records a second from
 * gossip (a bucket of `burst`), whoever relays them. A record past the budget is valid: it is
 * deferred, not refused — not verified, stored or relayed now, the relay that pushed it is told
 * to announce that author by id only (PRUNE), announcements of it are not followed while the
 * budget is spent, and anti-entropy (sync, which runs when ingest is not behind and is not under
 * this budget) fetches what was deferred. Nobody is penalised for it.
 *
 * Keyed by roster member only (the caller checks): bounded by the roster, not by traffic.
 */

export interface AuthorBudgetInit {
  /** records of one author taken from gossip per second */
  recordsPerSec: number
  /** records of one author taken at once after a quiet spell */
  burst: number
}

export class AuthorBudgets {
  private readonly buckets = new Map<string, TokenBucket>()

  constructor (private readonly init: AuthorBudgetInit, private readonly clock: () => number = Date.now) {
    if (!(init.recordsPerSec > 0 && init.burst >= 1)) throw new TypeError('author budget: need recordsPerSec > 0 and burst >= 1')
  }

  /** Spends one of `author`'s records; false when its budget is spent (the record is deferred). */
  take (author: string): boolean {
    return this.bucket(author).tryTake(1)
  }

  /** Whether `author` has budget left now (nothing spent). */
  admits (author: string): boolean {
    return this.buckets.get(author)?.has(1) ?? true
  }

  private bucket (author: string): TokenBucket {
    let b = this.buckets.get(author)
    if (b == null) {
      b = new TokenBucket(this.init.recordsPerSec, this.init.burst, this.clock)
      this.buckets.set(author, b)
    }
    return b
  }
}
