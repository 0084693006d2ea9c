import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

/**
 * The team's shared real-world data (STIX bundles, warninglists, indicator lists). A fresh clone
 * has none: set DRAGNET_SHARED_DATA, or keep ../shared/data next to the checkout.
 */
export function sharedDataDir (): string | null {
  const candidates = [process.env.DRAGNET_SHARED_DATA, join(repoRoot, '..', 'shared', 'data')]
  for (const c of candidates) if (c != null && c !== '' && existsSync(c)) return resolve(c)
  return null
}

/** Skips the calling suite, with a visible reason, when the shared data is absent. */
export function requireSharedData (ctx: Mocha.Context): string {
  const dir = sharedDataDir()
  if (dir == null) {
    console.log('    (skipped: shared data not found; set DRAGNET_SHARED_DATA to run these tests)')
    ctx.skip()
  }
  return dir!
}
