import { render } from 'preact'
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { api, ApiError, saveToken, savedToken, type FeedItem, type PeerRow, type Whoami } from './api'
import { Login } from './pages/login'
import { Overview } from './pages/overview'
import { Peers } from './pages/peers'
import { Policy } from './pages/policy'
import { Publish } from './pages/publish'
import { RecordPage } from './pages/record'
import { Search } from './pages/search'
import { Why } from './pages/why'
import { rosterOf, SessionContext, type Session } from './ui'
import './style.css'

const PAGES = [
  { path: 'overview', title: 'Overview' },
  { path: 'search', title: 'Search' },
  { path: 'peers', title: 'Peers' },
  { path: 'why', title: 'Why' },
  { path: 'policy', title: 'Policy' },
  { path: 'publish', title: 'Publish and import' }
] as const

/** Routes live in the hash (`#/search?q=…`): the node serves one page, `/`. */
function useRoute (): { page: string, arg: string, params: URLSearchParams } {
  const read = (): string => location.hash.replace(/^#\/?/, '')
  const [hash, setHash] = useState(read())
  useEffect(() => {
    const on = (): void => { setHash(read()) }
    addEventListener('hashchange', on)
    return () => { removeEventListener('hashchange', on) }
  }, [])
  const [path, query = ''] = hash.split('?', 2)
  const [page, ...rest] = path.split('/')
  return { page: page === '' ? 'overview' : page, arg: decodeURIComponent(rest.join('/')), params: new URLSearchParams(query) }
}

const POLL_MS = 2000
const FEED_KEEP = 50

/** Polls the activity feed: new records and peer states arrive without reloading. */
function useLive (me: Whoami | null): Session['live'] {
  const [live, setLive] = useState<Session['live']>({ seen: 0, records: [], peers: [], connected: 0 })
  const cursor = useRef<string | null>(null)
  useEffect(() => {
    if (me == null) return
    let stopped = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const poll = async (): Promise<void> => {
      try {
        const q = cursor.current == null ? '' : `?cursor=${cursor.current}`
        const a = await api<{ cursor: string, records: FeedItem[], peers: Session['live']['peers'], connected: number }>(`/api/console/activity${q}`)
        if (stopped) return
        cursor.current = a.cursor
        setLive(l => ({ seen: l.seen + a.records.length, records: [...a.records.slice().reverse(), ...l.records].slice(0, FEED_KEEP), peers: a.peers, connected: a.connected }))
      } catch (err) {
        // A restarted node no longer knows the cursor: start the feed again.
        if (err instanceof ApiError && err.status === 400) cursor.current = null
        if (!stopped) setLive(l => ({ ...l, error: (err as Error).message }))
      }
      if (!stopped) timer = setTimeout(() => { void poll() }, POLL_MS)
    }
    void poll()
    return () => { stopped = true; clearTimeout(timer) }
  }, [me])
  return live
}

function Nav ({ page }: { page: string }): preact.JSX.Element {
  return (
    <nav aria-label="Pages">
      <ul>
        {PAGES.map(p => <li key={p.path}><a href={`#/${p.path}`} aria-current={page === p.path ? 'page' : undefined}>{p.title}</a></li>)}
      </ul>
    </nav>
  )
}

function Page ({ route }: { route: ReturnType<typeof useRoute> }): preact.JSX.Element {
  switch (route.page) {
    case 'search': return <Search query={route.params.get('q') ?? ''} />
    case 'record': return <RecordPage id={route.arg} />
    case 'peers': return <Peers />
    case 'why': return <Why record={route.params.get('record') ?? ''} peer={route.params.get('peer') ?? ''} />
    case 'policy': return <Policy />
    case 'publish': return <Publish />
    case 'overview': return <Overview />
    default: return <p role="alert">No page {route.page}. <a href="#/overview">Go to the overview</a>.</p>
  }
}

function App (): preact.JSX.Element {
  const route = useRoute()
  const [me, setMe] = useState<Whoami | null>(null)
  const [peers, setPeers] = useState<PeerRow[]>([])
  const [checking, setChecking] = useState(savedToken() != null)
  const live = useLive(me)
  const main = useRef<HTMLElement>(null)

  const login = async (token: string): Promise<void> => {
    const who = await api<Whoami>('/api/console/whoami', { token })
    saveToken(token)
    const p = await api<{ peers: PeerRow[] }>('/api/peers')
    setPeers(p.peers)
    setMe(who)
  }
  useEffect(() => {
    const t = savedToken()
    if (t == null) return
    login(t).catch((err: ApiError) => { if (err.status === 401 || err.status === 403) saveToken(null) }).finally(() => { setChecking(false) })
  }, [])
  // A new page takes the focus, so keyboard and screen-reader users start at its heading.
  useEffect(() => { main.current?.querySelector<HTMLElement>('h1')?.focus() }, [route.page, route.arg, me])

  const session = useMemo<Session | null>(() => me == null
    ? null
    : { me, members: rosterOf(peers), live, logout: () => { saveToken(null); setMe(null); location.hash = '' } }, [me, peers, live])

  if (checking) return <main><p>Checking the saved token…</p></main>
  if (session == null) return <Login onLogin={login} />
  return (
    <SessionContext.Provider value={session}>
      {/* Routes live in the hash, so the skip link moves the focus itself instead of following #main. */}
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); main.current?.querySelector<HTMLElement>('h1')?.focus() }}>Skip to content</a>
      <header class="top">
        <span class="brand">dragnet · {me!.node.name}</span>
        <Nav page={route.page} />
        <span class="who">
          {me!.caller.kind === 'admin' ? 'API token' : `read token ${me!.caller.name}`} (up to TLP:{me!.caller.maxTlp.toUpperCase()})
          {' '}<span class={`dot ${live.error == null ? 'on' : 'off'}`} aria-hidden="true" /><span class="sr">{live.error == null ? 'live' : 'live updates failing'}</span>
          <button type="button" onClick={session.logout}>Log out</button>
        </span>
      </header>
      <main id="main" ref={main}><Page route={route} /></main>
    </SessionContext.Provider>
  )
}

// The page's "Loading…" placeholder goes: render() would keep it beside the app.
const root = document.getElementById('app')!
root.textContent = ''
render(<App />, root)
