import { Bars, ErrorNote, Member, Section, TlpBadge, Time, useApi, useSession, useThrottled } from '../ui'
import type { FeedItem, Tlp } from '../api'

interface OverviewData {
  status: { peerId: string, name: string, country: string, role: string, records: number, byTlp: Record<string, number>, equivocations: Array<{ author: string, seq: number, ids: string[], refused: number }>, flaggedAuthors: string[], peers: { roster: number, connected: number }, listen: string[], policy: string, running: boolean, startedAt?: string }
  activity: { from: number, bucketMs: number, arrivals: number[], bySource: Record<string, number>, delays: { boundsMs: number[], counts: number[], samples: number }, truncated: boolean }
  replication: { gossip: Record<string, number> | null, sync: Record<string, number> | null } | null
  peers: Array<{ peerId: string, name: string, connected: boolean, lastSync: { at?: number, failure?: string } | null, lastSeen: number | null }>
}

function ms (n: number): string {
  return n >= 3_600_000 ? `${n / 3_600_000} h` : n >= 60_000 ? `${n / 60_000} min` : n >= 1000 ? `${n / 1000} s` : `${n} ms`
}

function Feed ({ records }: { records: FeedItem[] }): preact.JSX.Element {
  if (records.length === 0) return <p>No records yet.</p>
  return (
    <table class="feed">
      <caption class="sr">Latest arrivals, newest first</caption>
      <thead><tr><th scope="col">arrived</th><th scope="col">TLP</th><th scope="col">type</th><th scope="col">author</th><th scope="col">via</th><th scope="col">record</th></tr></thead>
      <tbody>
        {records.map(r => (
          <tr key={r.id} data-record={r.id}>
            <td><Time at={r.addedAt} /></td>
            <td><TlpBadge tlp={r.tlp} /></td>
            <td>{r.type}</td>
            <td><Member peerId={r.author} /></td>
            <td>{r.source}{r.from != null ? <> from <Member peerId={r.from} /></> : null}</td>
            <td><a href={`#/record/${r.id}`}>{r.stixId}</a></td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

export function Overview (): preact.JSX.Element {
  const s = useSession()
  // Reloaded when the live feed moves (at most every 5 s), so counts follow arrivals.
  const seen = useThrottled(s.live.seen, 5000)
  const { data, error } = useApi<OverviewData>('/api/console/overview', [seen])
  const hours = data?.activity.arrivals.map((_, i) => new Date(data.activity.from + i * data.activity.bucketMs).toISOString().slice(11, 16)) ?? []
  const delayLabels = data?.activity.delays.boundsMs.map(b => `< ${ms(b)}`).concat([`≥ ${ms(data.activity.delays.boundsMs.at(-1) ?? 0)}`]) ?? []
  const st = data?.status
  const sync = data?.replication?.sync
  return (
    <>
      <h1 tabIndex={-1}>Overview</h1>
      <ErrorNote error={error} />
      <div class="grid">
        <Section title="Identity">
          <dl>
            <dt>Node</dt><dd>{s.me.node.name} ({s.me.node.country}, {s.me.node.role})</dd>
            <dt>PeerId</dt><dd><code>{s.me.node.peerId}</code></dd>
            <dt>Policy</dt><dd>{st?.policy ?? '…'}</dd>
            <dt>Running since</dt><dd><Time at={st?.startedAt} /></dd>
          </dl>
        </Section>
        <Section title="Peers">
          <p class="big" data-testid="peers-connected">{s.live.connected} of {st?.peers.roster ?? s.members.size} connected</p>
          <ul class="plain">{s.live.peers.map(p => <li key={p.peerId}><span class={`dot ${p.connected ? 'on' : 'off'}`} aria-hidden="true" /> {p.name}: {p.connected ? 'connected' : 'not connected'}</li>)}</ul>
        </Section>
        <Section title="Records by TLP">
          <p class="big">{st?.records ?? '…'} records</p>
          <ul class="plain">{s.me.caller.tlps.map(t => <li key={t}><TlpBadge tlp={t as Tlp} /> {st?.byTlp[t] ?? 0}</li>)}</ul>
        </Section>
        <Section title="Sync status">
          {data?.replication === null
            ? <p>Sync counters are shown to the API token only (they count records of every TLP).</p>
            : sync == null
            ? <p>Anti-entropy sync is not running on this node.</p>
            : <dl><dt>Sessions</dt><dd>{sync.sessions} completed, {sync.failures} failed</dd><dt>Records</dt><dd>{sync.recordsIn} in, {sync.recordsOut} out</dd><dt>Declined</dt><dd>{sync.declinedOut} to peers, {sync.declinedIn} by peers</dd></dl>}
          <ul class="plain">{data?.peers.map(p => <li key={p.peerId}>{p.name}: last sync <Time at={p.lastSync?.at} />{p.lastSync?.failure != null ? ` (${p.lastSync.failure})` : ''}</li>)}</ul>
        </Section>
        <Section title="Equivocation flags">
          {st == null || st.equivocations.length === 0
            ? <p>No author has signed two records with one sequence number.</p>
            : <ul>{st.equivocations.map(e => <li key={`${e.author}-${e.seq}`} class="warn"><Member peerId={e.author} /> signed {e.ids.length} records as seq {e.seq} ({e.refused} more refused)</li>)}</ul>}
        </Section>
      </div>
      <Section title="Arrivals over the last 24 hours">
        {data != null ? <Bars label="records arrived per hour (UTC)" values={data.activity.arrivals} labels={hours} /> : <p>…</p>}
        {data != null ? <p>By source: {Object.entries(data.activity.bySource).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}{data.activity.truncated ? ' (busy day: the oldest part only)' : ''}</p> : null}
      </Section>
      <Section title="Propagation delay">
        {data != null ? <Bars label={`delay from signature to arrival here, ${data.activity.delays.samples} records received from peers in 24 h`} values={data.activity.delays.counts} labels={delayLabels} /> : <p>…</p>}
      </Section>
      <Section title="Latest arrivals (live)">
        <div aria-live="polite"><Feed records={s.live.records} /></div>
      </Section>
    </>
  )
}
