/**
 * Rate limit as a token bucket: `rate` tokens per second, bursts up to `burst`. `take` never
 * blocks; `delayFor` says how long to wait before `n` tokens are there, so a reader can pause its
 * stream instead of dropping data.
 */
export class TokenBucket {
  private tokens: number
  private last: number
  readonly rate: number
  readonly burst: number

  constructor (rate: number, burst = rate, private readonly clock: () => number = Date.now) {
    this.rate = rate
    this.burst = burst
    this.tokens = burst
    this.last = clock()
  }

  private refill (): void {
    const now = this.clock()
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.rate / 1000)
      this.last = now
    }
  }

  /** Spends `n` tokens (the balance may go negative: the debt delays later takes). */
  take (n: number): void {
    this.refill()
    this.tokens -= n
  }

  /** Spends `n` tokens only if they are all there now; false (nothing spent) otherwise. */
  tryTake (n = 1): boolean {
    this.refill()
    if (this.tokens < n) return false
    this.tokens -= n
    return true
  }

  /** Whether `n` tokens are there now (nothing spent). */
  has (n = 1): boolean {
    this.refill()
    return this.tokens >= n
  }

  /** Milliseconds until the balance is non-negative again. */
  delay (): number {
    this.refill()
    return this.tokens >= 0 ? 0 : Math.ceil(-this.tokens * 1000 / this.rate)
  }
}
