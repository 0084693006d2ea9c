import { randomBytes } from 'node:crypto'
import { chmod, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/*
 * Files that hold secrets or restricted records (node key, tokens, metadata, the LevelDB
 * replica) are readable by the node's user only, and are replaced atomically: a crash or a full
 * disk leaves either the old file or the new one, never half of one.
 */

export const PRIVATE_FILE_MODE = 0o600
export const PRIVATE_DIR_MODE = 0o700

/**
 * Every file this process creates from now on is private (0600, directories 0700), LevelDB's
 * later .log and .ldb files included: LevelDB opens them with mode 0644 and leaves the rest to
 * the umask. Process-wide, so it is set once by whatever runs a node.
 */
export function privateUmask (): void {
  process.umask(0o077)
}

/** Writes `data` to `file` with mode 0600: temp file, fsync, rename, fsync of the directory. */
export async function writePrivateFile (file: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`)
  const fh = await open(tmp, 'wx', PRIVATE_FILE_MODE)
  try {
    await fh.writeFile(data)
    // The mode given to open() passes through the umask; chmod says exactly what we mean.
    await fh.chmod(PRIVATE_FILE_MODE)
    await fh.sync()
  } catch (err) {
    await fh.close().catch(() => {})
    await rm(tmp, { force: true })
    throw err
  }
  await fh.close()
  try {
    await rename(tmp, file)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
  await syncDir(dirname(file))
}

/** fsync of a directory, so a rename in it survives a power cut. */
export async function syncDir (dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } catch (err: any) {
    // Some filesystems refuse fsync on a directory; the rename itself has happened.
    if (err.code !== 'EINVAL' && err.code !== 'EISDIR') throw err
  } finally {
    await fh.close()
  }
}

/** chmod when the mode differs; a missing path is fine (nothing to protect). */
export async function restrictMode (path: string, mode: number): Promise<void> {
  let st
  try {
    st = await stat(path)
  } catch (err: any) {
    if (err.code === 'ENOENT') return
    throw err
  }
  if ((st.mode & 0o777) !== mode) await chmod(path, mode)
}

/** A directory 0700 and every file directly inside it 0600 (LevelDB keeps its files flat). */
export async function restrictTree (dir: string): Promise<void> {
  await restrictMode(dir, PRIVATE_DIR_MODE)
  let entries
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch (err: any) {
    if (err.code === 'ENOENT') return
    throw err
  }
  for (const e of entries) {
    const p = join(dir, e.name)
    if (e.isDirectory()) await restrictTree(p)
    else if (e.isFile()) await restrictMode(p, PRIVATE_FILE_MODE)
  }
}

const LOCK_STALE_MS = 30_000

/**
 * Runs `fn` holding `<file>.lock`, so that two writers doing read-modify-write of the same file
 * (two `token create` at once, the CLI beside a running node) never lose each other's update.
 * The lock names its holder's pid; a lock whose holder is gone, or older than 30 s, is taken over.
 */
export async function withFileLock<T> (file: string, fn: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const lock = `${file}.lock`
  const deadline = Date.now() + timeoutMs
  for (let wait = 5; ; wait = Math.min(wait * 2, 200)) {
    try {
      const fh = await open(lock, 'wx', PRIVATE_FILE_MODE)
      await fh.writeFile(String(process.pid))
      await fh.close()
      break
    } catch (err: any) {
      if (err.code !== 'EEXIST') throw err
      if (await staleLock(lock)) { await rm(lock, { force: true }); continue }
      if (Date.now() > deadline) throw new Error(`${lock} is held by another process; remove it if no dragnet command is running`)
      await new Promise(resolve => setTimeout(resolve, wait))
    }
  }
  try {
    return await fn()
  } finally {
    await rm(lock, { force: true })
  }
}

async function staleLock (lock: string): Promise<boolean> {
  try {
    const [st, text] = await Promise.all([stat(lock), readFile(lock, 'utf8')])
    if (Date.now() - st.mtimeMs > LOCK_STALE_MS) return true
    const pid = Number(text)
    if (!Number.isInteger(pid) || pid <= 0) return false // being written right now
    if (pid === process.pid) return false
    try { process.kill(pid, 0); return false } catch (err: any) { return err.code === 'ESRCH' }
  } catch (err: any) {
    return err.code === 'ENOENT' ? false : Promise.reject(err)
  }
}
