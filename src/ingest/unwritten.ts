/**
 * Ownership and (author, seq) claims of the records queued for the store and not written yet.
 * A record may be forwarded before its write completes only if the group commit is sure to
 * admit it: no other author claims its STIX id and nothing else claims its seq, neither in the
 * store (read by the caller) nor among the records ahead of it in the commit queue (here).
 */
export class UnwrittenClaims {
  /** STIX id → authors of queued records for it (one entry per record) */
  private readonly owners = new Map<string, string[]>()
  /** `author!seq` → queued records under it */
  private readonly slots = new Map<string, number>()
  /** writes completed so far: a read that spans one may miss what it wrote */
  private completed = 0

  get generation (): number {
    return this.completed
  }

  /** True if a queued record claims this STIX id for another author, or this seq at all. */
  conflicts (author: string, stixId: string, seq: number): boolean {
    if (this.slots.has(`${author}!${seq}`)) return true
    return this.owners.get(stixId)?.some(a => a !== author) ?? false
  }

  add (author: string, stixId: string, seq: number): void {
    const k = `${author}!${seq}`
    this.slots.set(k, (this.slots.get(k) ?? 0) + 1)
    const list = this.owners.get(stixId)
    if (list == null) this.owners.set(stixId, [author])
    else list.push(author)
  }

  /** Another write reached the store (a local publication): reads that spanned it are stale. */
  written (): void {
    this.completed++
  }

  /** A commit is over (written or failed): its records claim nothing any more. */
  release (claims: Array<{ author: string, stixId: string, seq: number }>): void {
    this.written()
    for (const c of claims) {
      const k = `${c.author}!${c.seq}`
      const n = (this.slots.get(k) ?? 1) - 1
      if (n > 0) this.slots.set(k, n)
      else this.slots.delete(k)
      const list = this.owners.get(c.stixId)
      if (list == null) continue
      const i = list.indexOf(c.author)
      if (i >= 0) list.splice(i, 1)
      if (list.length === 0) this.owners.delete(c.stixId)
    }
  }
}
