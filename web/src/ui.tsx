import { createContext, type ComponentChildren } from 'preact'
import { useContext, useEffect, useRef, useState } from 'preact/hooks'
import { api, ApiError, type FeedItem, type PeerRow, type Tlp, type Whoami } from './api'

/** What every page may read: who is logged in, the roster's names, and the live feed. */
export interface Session {
  me: Whoami
  members: Map<string, { name: string, country: string, role: string }>
  live: { seen: number, records: FeedItem[], peers: Array<{ peerId: string, name: string, connected: boolean }>, connected: number, error?: string }
  logout: () => void
}

export const SessionContext = createContext<Session | null>(null)

export function useSession (): Session {
  const s = useContext(SessionContext)
  if (s == null) throw new Error('no session')
  return s
}

/** `value`, changing at most once per `ms`: a page that refetches on every arrival must not refetch in a storm. */
export function useThrottled<T> (value: T, ms: number): T {
  const [shown, setShown] = useState(value)
  const last = useRef(0)
  useEffect(() => {
    const t = setTimeout(() => { last.current = Date.now(); setShown(value) }, Math.max(0, last.current + ms - Date.now()))
    return () => { clearTimeout(t) }
  }, [value])
  return shown
}

/** Loads `path` when `deps` change; `reload` fetches again. */
export function useApi<T> (path: string | null, deps: unknown[] = []): { data?: T, error?: ApiError, loading: boolean, reload: () => void } {
  const [state, setState] = useState<{ data?: T, error?: ApiError, loading: boolean }>({ loading: path != null })
  const [tick, setTick] = useState(0)
  useEffect(() => {
    if (path == null) { setState({ loading: false }); return }
    let live = true
    setState(s => ({ ...s, loading: true }))
    api<T>(path).then(data => { if (live) setState({ data, loading: false }) }, (error: ApiError) => { if (live) setState({ error, loading: false }) })
    return () => { live = false }
  }, [path, tick, ...deps])
  return { ...state, reload: () => { setTick(t => t + 1) } }
}

export function TlpBadge ({ tlp }: { tlp: Tlp | string }): preact.JSX.Element {
  return <span class={`tlp tlp-${tlp.replace('+', '-')}`}>TLP:{tlp.toUpperCase()}</span>
}

export function shortId (id: string, n = 10): string {
  return id.length > n + 2 ? `${id.slice(0, n)}…` : id
}

/** A member by name where the roster knows it, with the PeerId on hover. */
export function Member ({ peerId }: { peerId: string | undefined }): preact.JSX.Element {
  const s = useSession()
  if (peerId == null) return <span>—</span>
  if (peerId === s.me.node.peerId) return <span title={peerId}>{s.me.node.name} (this node)</span>
  const m = s.members.get(peerId)
  return <span title={peerId}>{m != null ? `${m.name} (${m.country})` : shortId(peerId, 14)}</span>
}

export function Time ({ at }: { at: number | string | undefined | null }): preact.JSX.Element {
  if (at == null) return <span>—</span>
  const d = new Date(at)
  return <time dateTime={d.toISOString()}>{d.toISOString().replace('T', ' ').slice(0, 19)}</time>
}

export function ErrorNote ({ error }: { error?: ApiError | Error | string | null }): preact.JSX.Element | null {
  if (error == null) return null
  const text = typeof error === 'string' ? error : error instanceof ApiError ? `${error.code}: ${error.message}` : error.message
  return <p class="error" role="alert">{text}</p>
}

export function Section ({ title, children, id }: { title: string, children: ComponentChildren, id?: string }): preact.JSX.Element {
  const hid = `h-${id ?? title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`
  return <section class="card" aria-labelledby={hid}><h2 id={hid}>{title}</h2>{children}</section>
}

/** A small bar chart drawn as SVG, with the numbers in a table for screen readers. */
export function Bars ({ label, values, labels }: { label: string, values: number[], labels: string[] }): preact.JSX.Element {
  const max = Math.max(1, ...values)
  const w = 600
  const h = 120
  const bw = w / Math.max(1, values.length)
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${w} ${h + 16}`} role="img" aria-label={`${label}: ${values.reduce((a, b) => a + b, 0)} in all, at most ${max} per bar`}>
        {values.map((v, i) => {
          const bh = Math.round((v / max) * h)
          return <rect key={i} x={i * bw + 1} y={h - bh} width={Math.max(1, bw - 2)} height={bh} class="bar"><title>{`${labels[i]}: ${v}`}</title></rect>
        })}
        <text x="0" y={h + 14} class="axis">{labels[0]}</text>
        <text x={w} y={h + 14} class="axis" text-anchor="end">{labels[labels.length - 1]}</text>
      </svg>
      <figcaption>{label}</figcaption>
      <details>
        <summary>Numbers</summary>
        <table>
          <thead><tr><th scope="col">{label.includes('delay') ? 'delay' : 'time'}</th><th scope="col">records</th></tr></thead>
          <tbody>{values.map((v, i) => <tr key={i}><td>{labels[i]}</td><td>{v}</td></tr>)}</tbody>
        </table>
      </details>
    </figure>
  )
}

/** One line saying what a STIX object is: its name, pattern or value. */
export function stixSummary (body: Record<string, any> | undefined): string {
  if (body == null) return ''
  const parts = [body.name, body.pattern, body.value, body.description].filter((x): x is string => typeof x === 'string' && x !== '')
  const s = parts.slice(0, 2).join(' — ')
  return s.length > 160 ? s.slice(0, 160) + '…' : s
}

export function PeerSelect ({ value, onChange, id, label }: { value: string, onChange: (v: string) => void, id: string, label: string }): preact.JSX.Element {
  const s = useSession()
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => { onChange((e.target as HTMLSelectElement).value) }} required>
        <option value="">— pick a roster member —</option>
        {[...s.members.entries()].map(([peerId, m]) => <option key={peerId} value={peerId}>{m.name} ({m.country}, {m.role})</option>)}
      </select>
    </div>
  )
}

export function TlpSelect ({ value, onChange, id, label, allowNone }: { value: string, onChange: (v: string) => void, id: string, label: string, allowNone?: string }): preact.JSX.Element {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => { onChange((e.target as HTMLSelectElement).value) }}>
        {allowNone != null ? <option value="">{allowNone}</option> : null}
        {(['clear', 'green', 'amber', 'amber+strict', 'red'] as const).map(t => <option key={t} value={t}>TLP:{t.toUpperCase()}</option>)}
      </select>
    </div>
  )
}

export function rosterOf (peers: PeerRow[]): Session['members'] {
  return new Map(peers.map(p => [p.peerId, { name: p.name, country: p.country, role: p.role }]))
}
