import { randomBytes } from 'node:crypto'
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DragnetError, isDragnetError } from '../errors.js'
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../util/private-file.js'
import { describeDoc, docId, docToJson, MAX_DOC_BYTES, mergeDocs, parseDoc, verifyDoc, type DocRefusal, type Federation, type MembershipDoc } from './membership.js'
import { rosterInForce, type RosterView } from './roster-in-force.js'
import type { Member, Roster, RosterChange } from './roster.js'

/** `<data>/membership/<id>.json`: every verified document this node holds, one file each. */
export const MEMBERSHIP_DIR = 'membership'
/** More documents than this are refused: the set is bounded by the federation, not by peers. */
export const MAX_DOCS = 20_000

export type OfferVerdict =
  | { status: 'stored' | 'merged' | 'duplicate', id: string, doc: MembershipDoc }
  | { status: 'refused', id?: string, refusal: DocRefusal, code: 'DRAGNET_BAD_CREDENTIAL' }

export interface LocalRoster {
  members: Member[]
  deny: string[]
}

/**
 * The documents a node holds and the roster they put in force. Documents arrive from the CLI
 * (`member publish`, a file dropped in the directory) and from peers; each is verified before it
 * is believed or kept. `recompute` swaps the roster in force and reports who came and went; it
 * runs on every new document, on a timer (credentials expire) and on SIGHUP (local roster).
 */
export class MembershipState {
  private readonly docs = new Map<string, MembershipDoc>()
  private local: LocalRoster
  private dirStamp = ''

  constructor (private readonly dataDir: string, readonly federation: Federation, private readonly roster: Roster, local: LocalRoster) {
    this.local = local
  }

  get dir (): string {
    return join(this.dataDir, MEMBERSHIP_DIR)
  }

  get enabled (): boolean {
    return this.federation.roots.length > 0
  }

  all (): MembershipDoc[] {
    return [...this.docs.values()]
  }

  ids (): string[] {
    return [...this.docs.keys()]
  }

  get (id: string): MembershipDoc | undefined {
    return this.docs.get(id)
  }

  setLocal (local: LocalRoster): void {
    this.local = local
  }

  /**
   * Reads the directory when it changed (a `member publish` by the CLI while the node runs);
   * files that do not verify are skipped and returned, never believed.
   */
  async load (force = false): Promise<Array<{ file: string, refusal: DocRefusal }>> {
    if (!this.enabled) return []
    let stamp: string
    try {
      const st = await stat(this.dir)
      stamp = `${st.mtimeMs}:${st.size}`
    } catch (err: any) {
      if (err.code === 'ENOENT') return []
      throw err
    }
    if (!force && stamp === this.dirStamp) return []
    this.dirStamp = stamp
    const bad: Array<{ file: string, refusal: DocRefusal }> = []
    for (const name of (await readdir(this.dir)).filter(n => /^[0-9a-f]{64}\.json$/.test(n))) {
      if (this.docs.has(name.slice(0, 64)) && !force) continue
      const file = join(this.dir, name)
      try {
        const doc = await readDocFile(file)
        const refusal = verifyDoc(doc, this.federation, Number.NEGATIVE_INFINITY)
        if (refusal != null) { bad.push({ file, refusal }); continue }
        this.docs.set(docId(doc), doc)
      } catch (err) {
        bad.push({ file, refusal: { rule: 'membership:malformed', reason: (err as Error).message } })
      }
    }
    return bad
  }

  /**
   * Verifies a document and keeps it (merging signatures into a copy already held). Expired
   * credentials are refused on arrival; one that expires later simply stops admitting.
   */
  async offer (value: unknown, now = Date.now()): Promise<OfferVerdict> {
    let doc: MembershipDoc
    // A peer's document arrives parsed from a larger frame: hold it to the file limit too.
    const size = Buffer.byteLength(JSON.stringify(value) ?? '')
    if (size > MAX_DOC_BYTES) return { status: 'refused', refusal: { rule: 'membership:oversized', reason: `a membership document of ${size} bytes; at most ${MAX_DOC_BYTES}` }, code: 'DRAGNET_BAD_CREDENTIAL' }
    try {
      doc = parseDoc(value)
    } catch (err) {
      if (!isDragnetError(err)) throw err
      return { status: 'refused', refusal: { rule: 'membership:malformed', reason: err.message }, code: 'DRAGNET_BAD_CREDENTIAL' }
    }
    const id = docId(doc)
    if (!this.enabled) return { status: 'refused', id, refusal: { rule: 'membership:no-federation', reason: 'this node has no federation.roots configured' }, code: 'DRAGNET_BAD_CREDENTIAL' }
    const held = this.docs.get(id)
    const merged = held != null ? mergeDocs(held, doc) : doc
    const refusal = verifyDoc(merged, this.federation, now)
    if (refusal != null) return { status: 'refused', id, refusal: { ...refusal, reason: `${refusal.reason} (${describeDoc(doc)})` }, code: 'DRAGNET_BAD_CREDENTIAL' }
    if (held != null && held.sigs.length === merged.sigs.length) return { status: 'duplicate', id, doc: held }
    if (held == null && this.docs.size >= MAX_DOCS) return { status: 'refused', id, refusal: { rule: 'membership:full', reason: `this node holds ${MAX_DOCS} membership documents already` }, code: 'DRAGNET_BAD_CREDENTIAL' }
    // Only signatures that verify are kept and passed on.
    this.docs.set(id, merged)
    await mkdir(this.dir, { recursive: true, mode: PRIVATE_DIR_MODE })
    // Atomic (rename) but not fsync'd: a document lost to a power cut comes back from any peer.
    const file = join(this.dir, `${id}.json`)
    const tmp = join(this.dir, `.${id}.${randomBytes(4).toString('hex')}.tmp`)
    await writeFile(tmp, JSON.stringify(docToJson(merged), null, 2) + '\n', { mode: PRIVATE_FILE_MODE })
    await rename(tmp, file)
    this.dirStamp = ''
    return { status: held != null ? 'merged' : 'stored', id, doc: merged }
  }

  /** The roster in force now, swapped into the node's roster. */
  recompute (now = Date.now()): RosterChange {
    return this.roster.replace(this.view(now))
  }

  view (now = Date.now()): RosterView {
    return rosterInForce({ self: this.roster.self, local: this.local.members, deny: this.local.deny, docs: this.all(), now })
  }
}

export async function readDocFile (file: string): Promise<MembershipDoc> {
  let text: string
  try {
    const st = await stat(file)
    if (st.size > MAX_DOC_BYTES) throw new DragnetError('DRAGNET_BAD_CREDENTIAL', `${file} is ${st.size} bytes; a membership document is at most ${MAX_DOC_BYTES}`)
    text = await readFile(file, 'utf8')
  } catch (err: any) {
    if (isDragnetError(err)) throw err
    throw new DragnetError('DRAGNET_BAD_CREDENTIAL', `cannot read ${file}: ${err.code ?? err.message}`, {}, { cause: err })
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new DragnetError('DRAGNET_BAD_CREDENTIAL', `${file} is not JSON: ${(err as Error).message}`, {}, { cause: err })
  }
  return parseDoc(json)
}
