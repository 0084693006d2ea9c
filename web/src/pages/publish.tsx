import { useState } from 'preact/hooks'
import { api, ApiError } from '../api'
import { ErrorNote, Section, TlpSelect, useSession } from '../ui'

interface Job { id: string, done: number, total: number, finished: boolean, summary?: { values: number, imported: number, duplicates: number, skipped: Record<string, number>, records: { stored: number, duplicate: number, rejected: number }, tlp: Record<string, number>, examples: Array<{ where: string, value: string, reason: string, detail?: string }> }, error?: { code: string, message: string } }

/** Runs an import job on the node and follows its progress until it finishes. */
async function runJob (body: Record<string, unknown>, onProgress: (j: Job) => void): Promise<Job> {
  let job = await api<Job>('/api/console/import', { method: 'POST', body })
  onProgress(job)
  while (!job.finished) {
    await new Promise(resolve => setTimeout(resolve, 300))
    job = await api<Job>(`/api/console/import/${job.id}`)
    onProgress(job)
  }
  return job
}

function Summary ({ job }: { job: Job }): preact.JSX.Element {
  if (job.error != null) return <p class="error" role="alert">{job.error.code}: {job.error.message}</p>
  const s = job.summary
  if (s == null) return <></>
  const skipped = Object.entries(s.skipped)
  return (
    <div data-testid="import-summary">
      <p><strong>{s.imported} imported</strong> of {s.values} values: {s.records.stored} records stored ({Object.entries(s.tlp).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}), {s.duplicates} duplicates, {skipped.reduce((a, [, v]) => a + v, 0)} skipped.</p>
      {skipped.length > 0 ? <ul>{skipped.map(([k, v]) => <li key={k}>{k}: {v}</li>)}</ul> : null}
      {s.examples.length > 0 ? <details><summary>Examples of what was skipped</summary><ul>{s.examples.map((e, i) => <li key={i}>{e.where}: <code>{e.value}</code> — {e.reason}{e.detail != null ? ` (${e.detail})` : ''}</li>)}</ul></details> : null}
    </div>
  )
}

function Progress ({ job }: { job: Job | null }): preact.JSX.Element | null {
  if (job == null) return null
  return (
    <div aria-live="polite">
      <label for={`progress-${job.id}`}>{job.finished ? 'Done' : 'Importing'}: {job.done} of {job.total} objects</label>
      <progress id={`progress-${job.id}`} max={Math.max(1, job.total)} value={job.done} />
      <Summary job={job} />
    </div>
  )
}

function QuickIndicator (): preact.JSX.Element {
  const [value, setValue] = useState('')
  const [tlp, setTlp] = useState('green')
  const [job, setJob] = useState<Job | null>(null)
  const [error, setError] = useState<ApiError | null>(null)
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault()
    setError(null)
    try {
      await runJob({ text: value.trim() + '\n', format: 'iocs', tlp, name: 'console' }, setJob)
    } catch (err) { setError(err as ApiError) }
  }
  return (
    <form onSubmit={(e) => { void submit(e) }}>
      <div class="row">
        <div class="field grow">
          <label for="ind-value">Indicator value (IP, CIDR, domain, URL, e-mail or hash; defanged is fine)</label>
          <input id="ind-value" required value={value} onInput={(e) => { setValue((e.target as HTMLInputElement).value) }} />
        </div>
        <TlpSelect id="ind-tlp" label="TLP" value={tlp} onChange={setTlp} />
        <button type="submit">Publish</button>
      </div>
      <ErrorNote error={error} />
      <Progress job={job} />
    </form>
  )
}

function Import (): preact.JSX.Element {
  const [text, setText] = useState('')
  const [name, setName] = useState('pasted')
  const [format, setFormat] = useState('')
  const [tlp, setTlp] = useState('')
  const [job, setJob] = useState<Job | null>(null)
  const [error, setError] = useState<ApiError | Error | null>(null)
  const onFile = async (e: Event): Promise<void> => {
    const f = (e.target as HTMLInputElement).files?.[0]
    if (f == null) return
    setName(f.name)
    setText(await f.text())
  }
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault()
    setError(null)
    setJob(null)
    try {
      await runJob({ text, name, ...(format !== '' ? { format } : {}), ...(tlp !== '' ? { tlp } : {}) }, setJob)
    } catch (err) { setError(err as ApiError) }
  }
  return (
    <form onSubmit={(e) => { void submit(e) }}>
      <div class="field">
        <label for="imp-file">Upload a file</label>
        <input id="imp-file" type="file" accept=".json,.txt,.csv,.stix,application/json,text/plain,text/csv" onChange={(e) => { void onFile(e) }} />
      </div>
      <div class="field">
        <label for="imp-text">Or paste STIX, a MISP event, an indicator list or CSV</label>
        <textarea id="imp-text" rows={10} required value={text} onInput={(e) => { setText((e.target as HTMLTextAreaElement).value) }} />
      </div>
      <div class="row">
        <div class="field">
          <label for="imp-format">Format</label>
          <select id="imp-format" value={format} onChange={(e) => { setFormat((e.target as HTMLSelectElement).value) }}>
            <option value="">detect</option>
            <option value="stix">STIX 2.1 (or 2.0) bundle or objects</option>
            <option value="misp">MISP event JSON</option>
            <option value="iocs">indicator list, one value a line</option>
            <option value="csv">CSV</option>
          </select>
        </div>
        <TlpSelect id="imp-tlp" label="TLP" value={tlp} onChange={setTlp} allowNone="from the source (else green)" />
        <button type="submit">Import</button>
      </div>
      <ErrorNote error={error} />
      <Progress job={job} />
    </form>
  )
}

export function Publish (): preact.JSX.Element {
  const s = useSession()
  return (
    <>
      <h1 tabIndex={-1}>Publish and import</h1>
      {!s.me.caller.canWrite
        ? <p role="note">Read tokens cannot publish: log in with the node's API token to publish or import.</p>
        : (
          <>
            <Section title="Publish an indicator"><QuickIndicator /></Section>
            <Section title="Import"><Import /></Section>
          </>
          )}
    </>
  )
}
