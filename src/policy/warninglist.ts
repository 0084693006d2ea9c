import { readFileSync, readdirSync, statSync } from 'node:fs'
import { readFile, readdir, stat } from 'node:fs/promises'
import { basename, dirname, isAbsolute, join, resolve } from 'node:path'
import { RE2JS } from 're2js'
import { z } from 'zod'
import { DragnetError } from '../errors.js'
import { jsonDepth, MAX_DOCUMENT_DEPTH } from '../util/depth.js'
import { parseIp, parseIpNet, parseIpv4, parseIpv6 } from '../stix/ip.js'
import type { Observable, ObservableKind } from '../stix/types.js'
import { AhoCorasick } from './aho-corasick.js'
import { CidrTrie } from './cidr-trie.js'
import { Ipv4Ranges } from './ipv4-ranges.js'

/*
 * MISP warninglists (github.com/MISP/misp-warninglists): `{ name, version, description, type,
 * list, matching_attributes }`. How entries are written upstream, and what we do with it:
 * - cidr: hosts without a prefix (`8.8.8.8`), IPv6 in any case (`2001:DB8::/32`); host bits set
 *   in a network are cleared. An address observable hits when a listed network contains it; a
 *   CIDR observable only when a listed network contains all of it; a URL (for lists that apply
 *   to URLs) when its host is an IP literal inside a listed network.
 * - hostname: entries may carry leading/trailing dots (`.dyndns.org`); like MISP we trim them and
 *   lower-case. A value hits when it or any parent domain is listed; URLs and e-mail addresses
 *   are checked by their host.
 * - string: exact, compared lower-case (the IANA `tlds` list is upper-case, our observables are
 *   normalised lower-case). A URL is checked whole and by its host, since lists such as
 *   cisco_top1000 match `url` attributes yet hold host names.
 * - substring: case-insensitive, all entries in one Aho-Corasick pass.
 * - regex: PCRE-style `/source/flags` or a bare source, compiled once for RE2JS, a linear-time
 *   engine: list regexes run on values peers send, and a backtracking engine takes seconds on
 *   a 30-character value for `/^(([a-z0-9]+)-?)+\.dyn\.example$/`. What RE2 cannot run
 *   (backreferences, lookahead, lookbehind) is refused when the list loads, and values longer
 *   than MAX_REGEX_VALUE_LENGTH are not matched against regexes at all.
 * `matching_attributes` (MISP attribute types) decide which observable kinds a list applies to;
 * absent, empty or `ALL` means every kind.
 */

export const WARNINGLIST_TYPES = ['cidr', 'string', 'hostname', 'substring', 'regex'] as const
export type WarninglistType = typeof WARNINGLIST_TYPES[number]

const ALL_KINDS: readonly ObservableKind[] = ['ipv4', 'ipv6', 'ipv4-cidr', 'ipv6-cidr', 'domain', 'url', 'email', 'md5', 'sha1', 'sha256']
const KIND_BIT = Object.fromEntries(ALL_KINDS.map((k, i) => [k, 1 << i])) as Record<ObservableKind, number>
const ALL_MASK = (1 << ALL_KINDS.length) - 1
const IP_KINDS: readonly ObservableKind[] = ['ipv4', 'ipv6', 'ipv4-cidr', 'ipv6-cidr']

const ATTRIBUTE_KINDS: Record<string, readonly ObservableKind[]> = {
  'ip-src': IP_KINDS,
  'ip-dst': IP_KINDS,
  'ip-src|port': IP_KINDS,
  'ip-dst|port': IP_KINDS,
  'domain|ip': [...IP_KINDS, 'domain'],
  domain: ['domain'],
  hostname: ['domain'],
  'hostname|port': ['domain'],
  url: ['url'],
  uri: ['url'],
  link: ['url'],
  email: ['email'],
  'email-src': ['email'],
  'email-dst': ['email'],
  'email-reply-to': ['email'],
  'target-email': ['email'],
  'whois-registrant-email': ['email'],
  md5: ['md5'],
  'filename|md5': ['md5'],
  'malware-sample': ['md5'],
  sha1: ['sha1'],
  'filename|sha1': ['sha1'],
  sha256: ['sha256'],
  'filename|sha256': ['sha256']
}

const mispListSchema = z.looseObject({
  name: z.string({ error: 'expected the list name' }).min(1, { error: 'expected the list name' }),
  version: z.union([z.number(), z.string()], { error: 'expected a version number or string' }).optional(),
  description: z.string({ error: 'expected text' }).optional(),
  type: z.enum(WARNINGLIST_TYPES, { error: `expected a list type: ${WARNINGLIST_TYPES.join(', ')}` }),
  list: z.array(z.union([z.string(), z.looseObject({ value: z.string() })], { error: 'expected a string or { value }' }), { error: 'expected a list of entries' }),
  matching_attributes: z.array(z.string(), { error: 'expected a list of MISP attribute types' }).optional()
}, { error: 'expected a MISP warninglist object' })

export type MispWarninglist = z.input<typeof mispListSchema>

export interface WarninglistInfo {
  /** short id: the file name without `.json` (the directory name for upstream `<id>/list.json`) */
  id: string
  /** the MISP `name` */
  name: string
  type: WarninglistType
  version: number | string | null
  description: string
  /** entries loaded */
  entries: number
  /** observable kinds the list applies to */
  kinds: ObservableKind[]
  source: string | null
}

export interface WarninglistHit {
  /** list id */
  list: string
  /** MISP list name */
  name: string
  type: WarninglistType
  /** the list entry as written in the file */
  entry: string
  kind: ObservableKind
  value: string
}

interface Entry {
  list: number
  entry: string
}

export interface WarninglistInput {
  id: string
  doc: unknown
  source?: string
}

const NO_HITS: readonly WarninglistHit[] = Object.freeze([])

function listError (source: string, path: string, message: string): DragnetError {
  return new DragnetError('DRAGNET_BAD_POLICY', `warninglist ${source}: ${path === '' ? '' : `${path}: `}${message}`, { file: source, property: path })
}

function kindsOf (attrs: readonly string[] | undefined): number {
  if (attrs == null || attrs.length === 0 || attrs.includes('ALL')) return ALL_MASK
  let mask = 0
  for (const a of attrs) for (const k of ATTRIBUTE_KINDS[a] ?? []) mask |= KIND_BIT[k]
  return mask
}

const PCRE_DELIMITED = /^([^A-Za-z0-9\\\s])([\s\S]*)\1([A-Za-z]*)$/

/**
 * Longest value a regex list is matched against. Hosts are at most 253 characters and URLs in
 * practice a few hundred; a longer value is no known-benign entry and is not run through regexes.
 */
export const MAX_REGEX_VALUE_LENGTH = 2048

const PCRE_FLAGS: Readonly<Record<string, number>> = {
  i: RE2JS.CASE_INSENSITIVE,
  m: RE2JS.MULTILINE,
  s: RE2JS.DOTALL,
  u: 0 // RE2 matches code points already
}

/**
 * MISP regex entries are PHP PCRE: `/source/flags` (any non-alphanumeric delimiter) or bare.
 * Compiled for RE2JS (linear time); throws for flags and syntax it cannot run.
 */
export function compileMispRegex (entry: string): RE2JS {
  const m = PCRE_DELIMITED.exec(entry)
  const source = m == null ? entry : m[2]
  let flags = 0
  for (const f of m?.[3] ?? '') {
    const bit = PCRE_FLAGS[f]
    if (bit === undefined) throw new Error(`PCRE flag "${f}" is not supported (i, m, s and u are)`)
    flags |= bit
  }
  try {
    return RE2JS.compile(source, flags)
  } catch (err) {
    throw new Error(`RE2, the linear-time engine list regexes run on, cannot compile it (it has no backreferences, lookahead or lookbehind): ${(err as Error).message}`)
  }
}

function trimDots (s: string): string {
  let a = 0
  let b = s.length
  while (a < b && s.charCodeAt(a) === 46) a++
  while (b > a && s.charCodeAt(b - 1) === 46) b--
  return s.slice(a, b)
}

/** Host part of a URL (`scheme://user@host:port/path`) or of `host/path`, lower-case, without brackets. */
export function hostOfUrl (url: string): string {
  let s = url
  const scheme = s.indexOf('//')
  if (scheme >= 0) s = s.slice(scheme + 2)
  let end = s.length
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 47 || c === 63 || c === 35) { end = i; break }
  }
  s = s.slice(0, end)
  const at = s.lastIndexOf('@')
  if (at >= 0) s = s.slice(at + 1)
  if (s.startsWith('[')) {
    const close = s.indexOf(']')
    return (close > 0 ? s.slice(1, close) : s.slice(1)).toLowerCase()
  }
  const colon = s.indexOf(':')
  if (colon >= 0) s = s.slice(0, colon)
  return trimDots(s.toLowerCase())
}

/** Entries of `string` lists (exact) and of `hostname` lists (this name or a parent) under one key. */
interface ExactSlot {
  exact: Entry[] | null
  host: Entry[] | null
}

function pushEntry (map: Map<string, ExactSlot>, key: string, e: Entry, field: 'exact' | 'host'): void {
  let slot = map.get(key)
  if (slot == null) {
    slot = { exact: null, host: null }
    map.set(key, slot)
  }
  const arr = slot[field]
  if (arr == null) slot[field] = [e]
  else if (!arr.some(x => x.list === e.list)) arr.push(e)
}

/**
 * All loaded lists, indexed together by list type: a range table for IPv4 networks and a trie for
 * IPv6 ones, one hash map for
 * string and hostname entries (a domain's own name serves both in one probe), one automaton for
 * substrings. A lookup costs one structure walk per type, not one per list.
 */
export class WarninglistSet {
  readonly lists: readonly WarninglistInfo[]
  /** optional paths that did not exist when the set was loaded */
  readonly missingOptional: readonly string[]
  private readonly masks: number[]
  private readonly v4 = new Ipv4Ranges<Entry>()
  private readonly v6 = new CidrTrie<Entry>(128)
  private readonly names = new Map<string, ExactSlot>()
  private readonly substrings = new AhoCorasick()
  private readonly substringEntries: Entry[][] = []
  private readonly regexes: Array<{ re: RE2JS, e: Entry }> = []
  private cidrMask = 0
  private stringMask = 0
  private hostnameMask = 0
  private substringMask = 0
  private regexMask = 0
  private readonly byKey = new Map<string, number[]>()
  // Reused output buffers for the trie and automaton walks (lookups are synchronous).
  private readonly scratch: Entry[] = []
  private readonly scratchIds: number[] = []

  constructor (inputs: readonly WarninglistInput[] = [], missingOptional: readonly string[] = []) {
    const lists: WarninglistInfo[] = []
    this.masks = []
    const ids = new Map<string, string>()
    for (const input of inputs) {
      const source = input.source ?? input.id
      const prev = ids.get(input.id)
      if (prev != null) throw listError(source, '', `list id "${input.id}" is already taken by ${prev}; rename one of the files`)
      ids.set(input.id, source)
      const res = mispListSchema.safeParse(input.doc)
      if (!res.success) {
        const iss = res.error.issues[0]
        throw listError(source, iss.path.map(p => typeof p === 'number' ? `[${p}]` : `.${String(p)}`).join('').replace(/^\./, ''), iss.message)
      }
      const doc = res.data
      const index = lists.length
      const mask = kindsOf(doc.matching_attributes)
      let entries = 0
      for (const [i, raw] of doc.list.entries()) {
        const text = (typeof raw === 'string' ? raw : raw.value).trim()
        if (text === '') continue
        this.addEntry(doc.type, index, text, source, i, doc.name)
        entries++
      }
      switch (doc.type) {
        case 'cidr': this.cidrMask |= mask; break
        case 'string': this.stringMask |= mask; break
        case 'hostname': this.hostnameMask |= mask; break
        case 'substring': this.substringMask |= mask; break
        case 'regex': this.regexMask |= mask; break
      }
      this.masks.push(mask)
      lists.push({
        id: input.id,
        name: doc.name,
        type: doc.type,
        version: doc.version ?? null,
        description: doc.description ?? '',
        entries,
        kinds: ALL_KINDS.filter(k => (mask & KIND_BIT[k]) !== 0),
        source: input.source ?? null
      })
      for (const key of new Set([input.id, doc.name])) {
        const arr = this.byKey.get(key)
        if (arr == null) this.byKey.set(key, [index])
        else arr.push(index)
      }
    }
    if (this.substrings.size > 0) this.substrings.build()
    this.v4.build()
    this.lists = lists
    this.missingOptional = missingOptional
  }

  private addEntry (type: WarninglistType, list: number, text: string, source: string, i: number, name: string): void {
    const e: Entry = { list, entry: text }
    switch (type) {
      case 'cidr': {
        const net = parseIpNet(text)
        if (net == null) throw listError(source, `list[${i}]`, `"${text}" is not an IP address or CIDR`)
        const index = net.version === 4 ? this.v4 : this.v6
        index.insert(net.bytes, net.prefix, e)
        return
      }
      case 'string':
        pushEntry(this.names, text.toLowerCase(), e, 'exact')
        return
      case 'hostname': {
        const host = trimDots(text.toLowerCase())
        if (host !== '') pushEntry(this.names, host, e, 'host')
        return
      }
      case 'substring': {
        const id = this.substrings.add(text.toLowerCase())
        this.substringEntries[id] = [e]
        return
      }
      case 'regex':
        try {
          this.regexes.push({ re: compileMispRegex(text), e })
        } catch (err) {
          throw listError(source, `list[${i}]`, `list "${name}": regular expression ${JSON.stringify(text)} refused: ${(err as Error).message}`)
        }
    }
  }

  /** Total entries across all lists. */
  get size (): number {
    let n = 0
    for (const l of this.lists) n += l.entries
    return n
  }

  /** Indexes of the lists with this id or MISP name (empty when unknown). */
  resolve (idOrName: string): readonly number[] {
    return this.byKey.get(idOrName) ?? []
  }

  /** Every list the observable is on, with the entry that matched (at most one hit per list). */
  match (obs: Observable): readonly WarninglistHit[] {
    const bit = KIND_BIT[obs.kind]
    if (bit === undefined) return NO_HITS
    let hits: WarninglistHit[] | null = null
    const value = obs.value
    if ((this.cidrMask & bit) !== 0) {
      const found = this.scratch
      if (this.cidrLookup(obs, found)) {
        // Shortest prefix first: replacing keeps the most specific entry per list.
        for (let i = 0; i < found.length; i++) hits = this.add(hits, found[i], obs, bit, true)
        found.length = 0
      }
    }
    const exact = (this.stringMask & bit) !== 0
    const byHost = (this.hostnameMask & bit) !== 0
    if (exact || byHost) {
      const lower = value.toLowerCase()
      // The host a hostname list walks: a domain itself, a URL's or e-mail address's host.
      let host = !byHost ? null : obs.kind === 'domain' ? trimDots(lower) : obs.kind === 'url' ? hostOfUrl(value) : obs.kind === 'email' ? hostOfEmail(lower) : null
      if (exact) {
        const slot = this.names.get(lower)
        if (slot?.exact != null) for (const e of slot.exact) hits = this.add(hits, e, obs, bit, false)
        if (obs.kind === 'url') {
          const h = host ?? hostOfUrl(value)
          const hostSlot = h !== lower ? this.names.get(h) : undefined
          if (hostSlot?.exact != null) for (const e of hostSlot.exact) hits = this.add(hits, e, obs, bit, false)
        }
      }
      while (host != null && host !== '') {
        const slot = this.names.get(host)
        if (slot?.host != null) for (const e of slot.host) hits = this.add(hits, e, obs, bit, false)
        const dot = host.indexOf('.')
        host = dot < 0 ? null : host.slice(dot + 1)
      }
    }
    if ((this.substringMask & bit) !== 0) {
      const found = this.scratchIds
      this.substrings.searchInto(value.toLowerCase(), found)
      for (const id of found) for (const e of this.substringEntries[id]) hits = this.add(hits, e, obs, bit, false)
      found.length = 0
    }
    if ((this.regexMask & bit) !== 0 && value.length <= MAX_REGEX_VALUE_LENGTH) {
      for (const r of this.regexes) if ((this.masks[r.e.list] & bit) !== 0 && r.re.test(value)) hits = this.add(hits, r.e, obs, bit, false)
    }
    return hits ?? NO_HITS
  }

  /** Fills `out` with the CIDR entries containing the observable's address or network. */
  private cidrLookup (obs: Observable, out: Entry[]): boolean {
    switch (obs.kind) {
      case 'ipv4': {
        const b = parseIpv4(obs.value)
        if (b == null) return false
        this.v4.lookup(b, 32, out)
        return true
      }
      case 'ipv6': {
        const b = parseIpv6(obs.value)
        if (b == null) return false
        this.v6.lookup(b, 128, out)
        return true
      }
      case 'ipv4-cidr':
      case 'ipv6-cidr': {
        const net = parseIpNet(obs.value)
        if (net == null) return false
        const index = net.version === 4 ? this.v4 : this.v6
        index.lookup(net.bytes, net.prefix, out)
        return true
      }
      case 'url': {
        const ip = parseIp(hostOfUrl(obs.value))
        if (ip == null) return false
        const index = ip.version === 4 ? this.v4 : this.v6
        index.lookup(ip.bytes, ip.version === 4 ? 32 : 128, out)
        return true
      }
      default:
        return false
    }
  }

  private add (hits: WarninglistHit[] | null, e: Entry, obs: Observable, bit: number, replace: boolean): WarninglistHit[] | null {
    if ((this.masks[e.list] & bit) === 0) return hits
    const l = this.lists[e.list]
    const hit: WarninglistHit = { list: l.id, name: l.name, type: l.type, entry: e.entry, kind: obs.kind, value: obs.value }
    if (hits == null) return [hit]
    let at = -1
    for (let i = 0; i < hits.length; i++) if (hits[i].list === l.id) { at = i; break }
    if (at < 0) hits.push(hit)
    else if (replace) hits[at] = hit
    return hits
  }

  /** Hits of several observables, in observable order. */
  matchAll (observables: readonly Observable[]): readonly WarninglistHit[] {
    let out: WarninglistHit[] | null = null
    for (const o of observables) {
      const h = this.match(o)
      if (h.length > 0) (out ??= []).push(...h)
    }
    return out ?? NO_HITS
  }
}

function hostOfEmail (email: string): string | null {
  const at = email.lastIndexOf('@')
  return at < 0 ? null : trimDots(email.slice(at + 1))
}

/** A path to load lists from; a missing `optional` path is skipped silently. */
export type WarninglistPath = string | { path: string, optional?: boolean }

function listId (file: string): string {
  const base = basename(file, '.json')
  return base === 'list' ? basename(dirname(file)) : base
}

function refOf (ref: WarninglistPath): { path: string, optional: boolean } {
  return typeof ref === 'string' ? { path: ref, optional: false } : { path: ref.path, optional: ref.optional === true }
}

function missingError (index: number, path: string, full: string): DragnetError {
  return new DragnetError('DRAGNET_BAD_POLICY', `warninglists[${index}]: ${path}: no such file or directory (${full}); mark it optional: true if it may be absent`, {
    property: `warninglists[${index}]`,
    file: full
  })
}

function parseListFile (text: string, file: string): unknown {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    throw listError(file, '', `not JSON: ${(err as Error).message}`)
  }
  if (jsonDepth(doc, MAX_DOCUMENT_DEPTH) > MAX_DOCUMENT_DEPTH) throw listError(file, '', `nests deeper than ${MAX_DOCUMENT_DEPTH} levels`)
  return doc
}

/** Loads MISP warninglist files and directories (recursively, `*.json`), relative to `baseDir`. */
export async function loadWarninglists (paths: readonly WarninglistPath[], baseDir = process.cwd()): Promise<WarninglistSet> {
  const files: string[] = []
  const missing: string[] = []
  for (const [i, r] of paths.map(refOf).entries()) {
    const full = isAbsolute(r.path) ? r.path : resolve(baseDir, r.path)
    const st = await stat(full).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null
      throw err
    })
    if (st == null) {
      if (!r.optional) throw missingError(i, r.path, full)
      missing.push(full)
    } else if (st.isDirectory()) {
      files.push(...await walk(full))
    } else {
      files.push(full)
    }
  }
  const inputs: WarninglistInput[] = []
  for (const f of files) inputs.push({ id: listId(f), doc: parseListFile(await readFile(f, 'utf8'), f), source: f })
  return new WarninglistSet(inputs, missing)
}

async function walk (dir: string): Promise<string[]> {
  const out: string[] = []
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  for (const e of entries) {
    if (e.name.startsWith('.')) continue
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...await walk(p))
    else if (e.isFile() && e.name.endsWith('.json')) out.push(p)
  }
  return out
}

/** Synchronous `loadWarninglists`, for `compilePolicy` when no preloaded set is given. */
export function loadWarninglistsSync (paths: readonly WarninglistPath[], baseDir = process.cwd()): WarninglistSet {
  const files: string[] = []
  const missing: string[] = []
  for (const [i, r] of paths.map(refOf).entries()) {
    const full = isAbsolute(r.path) ? r.path : resolve(baseDir, r.path)
    const st = statSync(full, { throwIfNoEntry: false })
    if (st == null) {
      if (!r.optional) throw missingError(i, r.path, full)
      missing.push(full)
    } else if (st.isDirectory()) {
      files.push(...walkSync(full))
    } else {
      files.push(full)
    }
  }
  return new WarninglistSet(files.map(f => ({ id: listId(f), doc: parseListFile(readFileSync(f, 'utf8'), f), source: f })), missing)
}

function walkSync (dir: string): string[] {
  const out: string[] = []
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  for (const e of entries) {
    if (e.name.startsWith('.')) continue
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...walkSync(p))
    else if (e.isFile() && e.name.endsWith('.json')) out.push(p)
  }
  return out
}
