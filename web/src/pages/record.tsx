import { useState } from 'preact/hooks'
import type { AuditEntry, Tlp } from '../api'
import { ErrorNote, Member, PeerSelect, Section, TlpBadge, Time, stixSummary, useApi } from '../ui'

interface RecordJson { id: string, author: string, seq: number, ts: number, tlp: Tlp, to?: string[], body: Record<string, any>, sig: string, local: { arrival: number, addedAt: string, source: string, from?: string, current: boolean } }

const VIA: Record<string, string> = { local: 'published on this node', import: 'imported on this node', gossip: 'received by gossip', sync: 'received by anti-entropy sync' }

export function Decisions ({ entries }: { entries: AuditEntry[] }): preact.JSX.Element {
  if (entries.length === 0) return <p>No decision is logged (sends are not logged; a withholding or rejection is).</p>
  return (
    <table>
      <thead><tr><th scope="col">when</th><th scope="col">direction</th><th scope="col">verdict</th><th scope="col">rule</th><th scope="col">peer</th><th scope="col">reason</th></tr></thead>
      <tbody>{entries.map((e, i) => <tr key={i}><td><Time at={e.at} /></td><td>{e.direction}</td><td class={`verdict-${e.verdict}`}>{e.verdict}</td><td><code>{e.rule}</code></td><td><Member peerId={e.peer} /></td><td>{e.reason}{e.code != null ? ` [${e.code}]` : ''}</td></tr>)}</tbody>
    </table>
  )
}

/** A record: body, signature, provenance, and every policy decision about it. */
export function RecordPage ({ id }: { id: string }): preact.JSX.Element {
  const rec = useApi<RecordJson>(`/api/records/${encodeURIComponent(id)}`)
  const audit = useApi<{ entries: AuditEntry[] }>(`/api/audit?record=${encodeURIComponent(id)}&limit=200`)
  const [peer, setPeer] = useState('')
  const r = rec.data
  return (
    <>
      <h1 tabIndex={-1}>Record {r != null ? `${r.body.type} ${stixSummary(r.body).slice(0, 60)}` : ''}</h1>
      <ErrorNote error={rec.error} />
      {r != null
        ? (
          <>
            <Section title="Signed envelope">
              <dl>
                <dt>Record id</dt><dd><code>{r.id}</code></dd>
                <dt>STIX id</dt><dd><code>{r.body.id}</code></dd>
                <dt>TLP</dt><dd><TlpBadge tlp={r.tlp} />{r.to != null ? <> to {r.to.map(p => <Member key={p} peerId={p} />)}</> : null}</dd>
                <dt>Author</dt><dd><Member peerId={r.author} />, seq {r.seq}</dd>
                <dt>Signed</dt><dd><Time at={r.ts} /></dd>
                <dt>Signature</dt><dd><code class="wrap">{r.sig}</code></dd>
                <dt>Current version</dt><dd>{r.local.current ? 'yes' : 'no (superseded, revoked or expired)'}</dd>
              </dl>
            </Section>
            <Section title="Provenance">
              <p data-testid="provenance">{VIA[r.local.source] ?? r.local.source}{r.local.from != null ? <>, handed over by <Member peerId={r.local.from} /></> : null}, at <Time at={r.local.addedAt} /> (arrival {r.local.arrival} on this node).</p>
            </Section>
            <Section title="Policy decisions">
              <ErrorNote error={audit.error} />
              {audit.data != null ? <Decisions entries={audit.data.entries} /> : null}
              <form class="row" onSubmit={(e) => { e.preventDefault(); location.hash = `#/why?record=${r.id}&peer=${peer}` }}>
                <PeerSelect id="record-why-peer" label="Why did this peer get it or not?" value={peer} onChange={setPeer} />
                <button type="submit">Explain</button>
              </form>
            </Section>
            <Section title="STIX body">
              <pre class="json" tabIndex={0} aria-label="STIX body as JSON">{JSON.stringify(r.body, null, 2)}</pre>
            </Section>
          </>
          )
        : rec.loading ? <p>Loading…</p> : null}
    </>
  )
}
