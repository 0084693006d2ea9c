import { useEffect, useState } from 'preact/hooks'
import { api, ApiError, RECORD_ID, type Tlp } from '../api'
import { ErrorNote, Member, TlpBadge, Time, stixSummary } from '../ui'
import type { LookupSummary } from '../../../src/store/summary'

interface Hit { id: string, author: string, tlp: Tlp, type: string, stixId: string, modified: string, ts: number, addedAt: number, body: Record<string, any> }
interface LookupAnswer { value: string, kind: string, summary?: LookupSummary, records: Hit[], next?: string }

/** The federation view of a value: sightings, opinions with their reasons, confidence. */
function FederationView ({ s }: { s: LookupSummary }): preact.JSX.Element {
  return (
    <section aria-labelledby="federation-h">
      <h3 id="federation-h">Federation view: confidence {s.confidence}</h3>
      <p>
        Reported by {s.reporters.length} member{s.reporters.length === 1 ? '' : 's'}; {s.sightings} sighting{s.sightings === 1 ? '' : 's'} by {s.sighted_by.length} member{s.sighted_by.length === 1 ? '' : 's'}
        {s.first_seen != null ? ` (first ${s.first_seen}, last ${s.last_seen ?? s.first_seen})` : ''}; {s.opinions.agree} agree, {s.opinions.disagree} disagree.
      </p>
      {s.opinions.reasons.length > 0
        ? <ul>{s.opinions.reasons.map(r => <li key={r.member}><Member peerId={r.member} /> {r.opinion}{r.reason != null ? `: ${r.reason}` : ''}</li>)}</ul>
        : null}
    </section>
  )
}

/** A value (IP, CIDR, domain, URL, e-mail, hash) or a record id: who else reported it. */
export function Search ({ query }: { query: string }): preact.JSX.Element {
  const [text, setText] = useState(query)
  const [result, setResult] = useState<LookupAnswer | null>(null)
  const [error, setError] = useState<ApiError | null>(null)
  const [busy, setBusy] = useState(false)

  useEffect(() => {
    setText(query)
    if (query === '') { setResult(null); return }
    let live = true
    setBusy(true)
    setError(null)
    api<LookupAnswer>(`/api/lookup?value=${encodeURIComponent(query)}&limit=200`)
      .then(r => { if (live) setResult(r) }, (e: ApiError) => { if (live) { setResult(null); setError(e) } })
      .finally(() => { if (live) setBusy(false) })
    return () => { live = false }
  }, [query])

  const submit = (e: Event): void => {
    e.preventDefault()
    const v = text.trim()
    if (RECORD_ID.test(v)) location.hash = `#/record/${v}`
    else location.hash = `#/search?q=${encodeURIComponent(v)}`
  }
  return (
    <>
      <h1 tabIndex={-1}>Search</h1>
      <form role="search" onSubmit={submit} class="row">
        <div class="field grow">
          <label for="q">Value or record id</label>
          <input id="q" type="search" required value={text} placeholder="198.51.100.7, evil.example, https://…, a@b.example, a hash, or 1220…" onInput={(e) => { setText((e.target as HTMLInputElement).value) }} />
        </div>
        <button type="submit">Search</button>
      </form>
      <ErrorNote error={error} />
      {busy ? <p aria-live="polite">Searching…</p> : null}
      {result != null
        ? (
          <section aria-labelledby="results-h">
            <h2 id="results-h">{result.records.length}{result.next != null ? '+' : ''} record{result.records.length === 1 ? '' : 's'} name {result.kind} {result.value}</h2>
            {result.summary != null && result.records.length > 0 ? <FederationView s={result.summary} /> : null}
            {result.records.length === 0
              ? <p>No record you may see names this value.</p>
              : (
                <table class="results">
                  <thead><tr><th scope="col">author</th><th scope="col">TLP</th><th scope="col">type</th><th scope="col">summary</th><th scope="col">arrived</th><th scope="col">record</th></tr></thead>
                  <tbody>
                    {result.records.map(h => (
                      <tr key={h.id}>
                        <td><Member peerId={h.author} /></td>
                        <td><TlpBadge tlp={h.tlp} /></td>
                        <td>{h.type}</td>
                        <td class="summary">{stixSummary(h.body)}</td>
                        <td><Time at={h.addedAt} /></td>
                        <td><a href={`#/record/${h.id}`} aria-label={`Open record ${h.stixId}`}>open</a></td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                )}
          </section>
          )
        : null}
    </>
  )
}
