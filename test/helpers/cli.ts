import { spawn, type ChildProcess } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const CLI = join(REPO, 'src', 'cli', 'main.ts')
// `npm test` builds first and sets DRAGNET_TEST_CLI=dist: children then skip tsx's start-up cost.
const USE_DIST = process.env.DRAGNET_TEST_CLI === 'dist'
export const CLI_ARGS = USE_DIST ? [join(REPO, 'dist', 'src', 'cli', 'main.js')] : ['--import', 'tsx', CLI]

export interface CliResult { code: number | null, stdout: string, stderr: string }

/** Runs the dragnet CLI in a child process (TypeScript via tsx), with a deadline. */
export async function runCli (args: string[], opts: { input?: string, env?: Record<string, string>, timeoutMs?: number } = {}): Promise<CliResult> {
  const child = spawnCli(args, opts.env)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d) => { stdout += String(d) })
  child.stderr!.on('data', (d) => { stderr += String(d) })
  if (opts.input != null) child.stdin!.end(opts.input)
  else child.stdin!.end()
  // Generous: a loaded CI machine can take many seconds to start a node process. The test's own
  // mocha timeout is the real bound; this only keeps a hung child from outliving the run.
  const timeoutMs = opts.timeoutMs ?? 120_000
  let timedOut = false
  const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL') }, timeoutMs)
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  clearTimeout(timer)
  if (timedOut) stderr += `\n[test helper] dragnet ${args.join(' ')} killed after ${timeoutMs} ms\n`
  return { code, stdout, stderr }
}

export function spawnCli (args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [...CLI_ARGS, ...args], {
    cwd: REPO,
    env: { ...process.env, DRAGNET_LOG_LEVEL: process.env.DRAGNET_LOG_LEVEL ?? 'warn', ...env },
    stdio: ['pipe', 'pipe', 'pipe']
  })
}

/** Waits until `pred` holds on the child's accumulated stdout. */
export async function waitForOutput (child: ChildProcess, pred: (out: string) => boolean, timeoutMs = 120_000): Promise<string> {
  let out = ''
  return await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`timed out waiting for output; got: ${out}`)) }, timeoutMs)
    child.stdout!.on('data', (d) => {
      out += String(d)
      if (pred(out)) { clearTimeout(timer); resolve(out) }
    })
    child.on('exit', (code) => { clearTimeout(timer); if (!pred(out)) reject(new Error(`exited with ${code} before expected output; got: ${out}`)) })
  })
}
