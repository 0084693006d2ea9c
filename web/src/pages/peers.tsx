import type { PeerRow } from '../api'
import { ErrorNote, Section, Time, shortId, useApi, useSession } from '../ui'

/** This node in the middle, roster members around it; a solid line is a live connection. */
function FederationPicture ({ peers }: { peers: PeerRow[] }): preact.JSX.Element {
  const s = useSession()
  const size = 360
  const c = size / 2
  const r = size / 2 - 50
  const connected = peers.filter(p => p.connected).length
  return (
    <svg class="federation" viewBox={`0 0 ${size} ${size}`} role="img" aria-label={`Federation as this node sees it: ${connected} of ${peers.length} members connected`}>
      {peers.map((p, i) => {
        const a = (2 * Math.PI * i) / Math.max(1, peers.length) - Math.PI / 2
        const x = c + r * Math.cos(a)
        const y = c + r * Math.sin(a)
        return (
          <g key={p.peerId}>
            <line x1={c} y1={c} x2={x} y2={y} class={p.connected ? 'link on' : 'link off'} />
            <circle cx={x} cy={y} r={14} class={`node ${p.connected ? 'on' : 'off'}${(p.penalties ?? 0) > 0 ? ' penalised' : ''}`}><title>{`${p.name}: ${p.connected ? 'connected' : 'not connected'}`}</title></circle>
            <text x={x} y={y + 28} text-anchor="middle" class="label">{p.name}</text>
          </g>
        )
      })}
      <circle cx={c} cy={c} r={18} class="node self" />
      <text x={c} y={c + 34} text-anchor="middle" class="label">{s.me.node.name}</text>
    </svg>
  )
}

export function Peers (): preact.JSX.Element {
  const s = useSession()
  // Refetched when a peer's state changes in the live feed.
  const key = s.live.peers.map(p => `${p.peerId}:${p.connected ? 1 : 0}`).join(',')
  const { data, error } = useApi<{ running: boolean, connected: number, peers: PeerRow[] }>('/api/peers', [key])
  const peers = data?.peers ?? []
  return (
    <>
      <h1 tabIndex={-1}>Peers</h1>
      <ErrorNote error={error} />
      <p data-testid="peers-summary">{data?.connected ?? 0} of {peers.length} roster members connected{data != null && !data.running ? ' (network off: counters as last persisted)' : ''}.</p>
      <div class="grid two">
        <Section title="Federation"><FederationPicture peers={peers} /></Section>
        <Section title="Roster">
          <table>
            <thead><tr><th scope="col">member</th><th scope="col">state</th><th scope="col">records in / out</th><th scope="col">withheld</th><th scope="col">rejected</th><th scope="col">penalties</th><th scope="col">last sync</th><th scope="col">last seen</th></tr></thead>
            <tbody>
              {peers.map(p => (
                <tr key={p.peerId}>
                  <th scope="row"><span title={p.peerId}>{p.name}</span> <small>({p.country}, {p.role}) {shortId(p.peerId, 12)}</small></th>
                  <td><span class={`dot ${p.connected ? 'on' : 'off'}`} aria-hidden="true" /> {p.connected ? 'connected' : (p.penalizedUntil ?? 0) > Date.now() ? 'penalised' : 'not connected'}</td>
                  <td>{p.recordsIn ?? 0} / {p.recordsOut ?? 0}</td>
                  <td>{p.withheld ?? 0}</td>
                  <td>{p.rejected ?? 0}</td>
                  <td>{p.penalties ?? 0}{p.lastPenalty != null ? ` (${p.lastPenalty.reason})` : ''}</td>
                  <td><Time at={p.lastSync?.at} />{p.lastSync?.failure != null ? ` ${p.lastSync.failure}` : ''}</td>
                  <td><Time at={p.lastSeen} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </Section>
      </div>
    </>
  )
}
