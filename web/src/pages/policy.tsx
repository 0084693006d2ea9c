import { useState } from 'preact/hooks'
import { api, ApiError, type Explanation } from '../api'
import { ErrorNote, PeerSelect, Section, TlpSelect, useApi } from '../ui'
import { ExplanationView } from './why'

interface PolicyData { name: string, description: string, source?: string | null, defaults: { inbound: string, outbound: string }, groups: string[], rules: Array<{ id: string, index: number, direction: string, action: string, reason: string }>, warninglists: Array<{ id: string, name: string, type: string, entries: number }>, fixed: string[] }

function DryRun (): preact.JSX.Element {
  const [text, setText] = useState('')
  const [peer, setPeer] = useState('')
  const [tlp, setTlp] = useState('green')
  const [result, setResult] = useState<Explanation | null>(null)
  const [error, setError] = useState<Error | null>(null)
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault()
    setError(null)
    setResult(null)
    let stix: unknown
    try { stix = JSON.parse(text) } catch (err) { setError(new Error(`not JSON: ${(err as Error).message}`)); return }
    try {
      setResult(await api<Explanation>('/api/console/policy/dry-run', { method: 'POST', body: { stix, peer, tlp } }))
    } catch (err) { setError(err as ApiError) }
  }
  return (
    <form onSubmit={(e) => { void submit(e) }}>
      <div class="field">
        <label for="dry-stix">STIX object (JSON)</label>
        <textarea id="dry-stix" rows={10} required value={text} onInput={(e) => { setText((e.target as HTMLTextAreaElement).value) }} />
      </div>
      <div class="row">
        <PeerSelect id="dry-peer" label="Against peer" value={peer} onChange={setPeer} />
        <TlpSelect id="dry-tlp" label="As TLP" value={tlp} onChange={setTlp} />
        <button type="submit">Dry run</button>
      </div>
      <ErrorNote error={error} />
      {result != null ? <div aria-live="polite"><p class={`decision verdict-${result.decision.verdict}`} data-testid="dry-run-decision"><strong>{result.decision.verdict}</strong> by rule <code>{result.decision.rule}</code> — {result.decision.reason}</p><ExplanationView e={result} /></div> : null}
    </form>
  )
}

/** The policy in force, and a dry run of a pasted object against a chosen peer. */
export function Policy (): preact.JSX.Element {
  const { data, error } = useApi<PolicyData>('/api/console/policy')
  return (
    <>
      <h1 tabIndex={-1}>Policy</h1>
      <ErrorNote error={error} />
      {data != null
        ? (
          <Section title={`In force: ${data.name}`} id="in-force">
            {data.description !== '' ? <p>{data.description}</p> : null}
            <p>Defaults: inbound <strong>{data.defaults.inbound}</strong>, outbound <strong>{data.defaults.outbound}</strong>. {data.source != null ? <>File: <code>{data.source}</code>.</> : null}</p>
            <p>Fixed rules no policy changes:</p>
            <ul>{data.fixed.map(f => <li key={f}>{f}</li>)}</ul>
            <table>
              <caption>Rules, first match wins</caption>
              <thead><tr><th scope="col">#</th><th scope="col">id</th><th scope="col">direction</th><th scope="col">action</th><th scope="col">reason</th></tr></thead>
              <tbody>{data.rules.map(r => <tr key={r.index}><td>{r.index}</td><td><code>{r.id}</code></td><td>{r.direction}</td><td>{r.action}</td><td>{r.reason}</td></tr>)}</tbody>
            </table>
            <p>Groups: {data.groups.join(', ') || 'none'}. Warninglists: {data.warninglists.length === 0 ? 'none' : data.warninglists.map(w => `${w.name} (${w.entries})`).join(', ')}.</p>
          </Section>
          )
        : null}
      <Section title="Dry run"><DryRun /></Section>
    </>
  )
}
