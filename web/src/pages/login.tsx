import { useState } from 'preact/hooks'
import { ErrorNote } from '../ui'

/** The node's API token (`<data dir>/api-token`) or a read token (`dragnet token create`). */
export function Login ({ onLogin }: { onLogin: (token: string) => Promise<void> }): preact.JSX.Element {
  const [token, setToken] = useState('')
  const [error, setError] = useState<Error | null>(null)
  const [busy, setBusy] = useState(false)
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await onLogin(token.trim())
    } catch (err) {
      setError(err as Error)
      setBusy(false)
    }
  }
  return (
    <main id="main" class="login">
      <h1 tabIndex={-1}>dragnet console</h1>
      <p>Log in with this node's API token (the file <code>api-token</code> in its data directory) or a read token from <code>dragnet token create</code>. The token stays in this browser tab only.</p>
      <form onSubmit={(e) => { void submit(e) }}>
        <div class="field">
          <label for="token">Token</label>
          <input id="token" name="token" type="password" autoComplete="current-password" required value={token} onInput={(e) => { setToken((e.target as HTMLInputElement).value) }} autoFocus />
        </div>
        <button type="submit" disabled={busy}>{busy ? 'Checking…' : 'Log in'}</button>
      </form>
      <ErrorNote error={error} />
    </main>
  )
}
