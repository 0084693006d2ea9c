import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

let cached: string | undefined

/** dragnet's version, from the package.json of the installation (tsx and built runs sit at different depths). */
export function packageVersion (): string {
  if (cached != null) return cached
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string, version?: string }
      if (pkg.name === 'dragnet' && typeof pkg.version === 'string') {
        cached = pkg.version
        return cached
      }
    } catch {
      // not this directory's package.json: look further up
    }
    dir = dirname(dir)
  }
  return '0.0.0'
}
