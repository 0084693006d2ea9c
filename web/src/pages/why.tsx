import { useEffect, useState } from 'preact/hooks'
import { RECORD_ID, type AuditEntry, type Explanation, type Tlp } from '../api'
import { ErrorNote, Member, PeerSelect, Section, TlpBadge, useApi } from '../ui'
import { Decisions } from './record'

interface WhyAnswer {
  record: { id: string, type: string, stixId: string, tlp: Tlp, author: string }
  peer: { peerId: string, name: string, country: string, role: string }
  entries: AuditEntry[]
  decision_now: { verdict: string, rule: string, reason: string } | null
  explanation: Explanation | null
}

export function ExplanationView ({ e }: { e: Explanation }): preact.JSX.Element {
  return (
    <>
      {e.floor != null ? <p>A fixed rule (<code>{e.floor.rule}</code>) decided; the policy's rules were not consulted.</p> : null}
      {e.warninglistHits.length > 0 ? <ul>{e.warninglistHits.map((h, i) => <li key={i}>warninglist hit: {h.kind} {h.value} on {h.list}</li>)}</ul> : null}
      <ol class="rules">
        {e.rules.map(r => (
          <li key={r.index} class={r.decisive ? 'decisive' : ''}>
            <strong><code>{r.id}</code></strong> ({r.action}): {r.decisive ? 'matched, decides' : r.matched ? (r.evaluated ? 'matched' : 'would match, not reached') : 'no match'}
            <ul>{r.checks.length === 0 ? <li>no matchers: matches every record</li> : r.checks.map((c, i) => <li key={i}>{c.matched ? '✓' : '✗'} {c.matcher}: {c.detail}</li>)}</ul>
          </li>
        ))}
      </ol>
    </>
  )
}

/** Pick a record and a peer: the decision and the rule, from the audit log and the policy now. */
export function Why ({ record, peer }: { record: string, peer: string }): preact.JSX.Element {
  const [rec, setRec] = useState(record)
  const [who, setWho] = useState(peer)
  useEffect(() => { setRec(record); setWho(peer) }, [record, peer])
  const ready = RECORD_ID.test(record) && peer !== ''
  const { data, error } = useApi<WhyAnswer>(ready ? `/api/console/why?record=${record}&peer=${encodeURIComponent(peer)}` : null)
  const now = data?.decision_now
  return (
    <>
      <h1 tabIndex={-1}>Why</h1>
      <p>Why did a peer get a record, or not? The audit log's decisions for the pair, and what this node's outbound policy (TLP floor first) decides now.</p>
      <form class="row" onSubmit={(e) => { e.preventDefault(); location.hash = `#/why?record=${rec.trim()}&peer=${who}` }}>
        <div class="field grow">
          <label for="why-record">Record id</label>
          <input id="why-record" required pattern="1220[0-9a-f]{64}" value={rec} onInput={(e) => { setRec((e.target as HTMLInputElement).value) }} />
        </div>
        <PeerSelect id="why-peer" label="Peer" value={who} onChange={setWho} />
        <button type="submit">Explain</button>
      </form>
      <ErrorNote error={error} />
      {data != null
        ? (
          <>
            <Section title="Decision">
              <p><a href={`#/record/${data.record.id}`}>{data.record.type} {data.record.stixId}</a> <TlpBadge tlp={data.record.tlp} /> by <Member peerId={data.record.author} />, for {data.peer.name} ({data.peer.country}, {data.peer.role}):</p>
              {now != null ? <p class={`decision verdict-${now.verdict}`} data-testid="why-decision"><strong>{now.verdict}</strong> by rule <code>{now.rule}</code> — {now.reason}</p> : null}
            </Section>
            <Section title="Logged decisions for this pair"><Decisions entries={data.entries} /></Section>
            {data.explanation != null ? <Section title="Every rule, evaluated now"><ExplanationView e={data.explanation} /></Section> : null}
          </>
          )
        : null}
    </>
  )
}
