import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { DragnetError } from '../errors.js'
import type { RouteAccess } from './access.js'

/*
 * The web console's files, built by `npm run build` (Vite) into dist/web/ and served at `/` on
 * the API's address, so the console and the API share one origin and the browser needs nothing
 * from the internet. The files are public (they hold no data; every call they make carries the
 * user's token); the Content-Security-Policy lets the page load and call only this origin, so
 * an injected script could neither load code from elsewhere nor send what it reads away.
 */

const PUBLIC: { config: RouteAccess } = { config: { access: 'public' } }

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join('; ')

const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
  woff2: 'font/woff2'
}

/** dist/web of this checkout, found from this file's place (src/api under tsx, dist/src/api built). */
export function webRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist', 'web')
    dir = dirname(dir)
  }
  return join(process.cwd(), 'dist', 'web')
}

function secure (reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-opener-policy', 'same-origin')
}

async function readWebFile (root: string, name: string): Promise<Buffer> {
  try {
    return await readFile(join(root, name))
  } catch (err: any) {
    if (err.code !== 'ENOENT') throw err
    if (name === 'index.html') throw new DragnetError('DRAGNET_NOT_FOUND', 'the web console is not built: run npm run build')
    throw new DragnetError('DRAGNET_NOT_FOUND', `no console file ${name}`)
  }
}

/** `GET /` (the console) and `GET /assets/:file` (its hashed scripts and styles). */
export async function registerWeb (app: FastifyInstance, init: { root?: string } = {}): Promise<void> {
  const root = init.root ?? webRoot()
  app.get('/', PUBLIC, async (_req, reply) => {
    const html = await readWebFile(root, 'index.html')
    return secure(reply).type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(html)
  })
  app.get('/assets/:file', PUBLIC, async (req, reply) => {
    const { file } = req.params as { file: string }
    // Only names Vite writes: no path, no dot files, a known type.
    const m = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,120}\.([a-z0-9]+)$/.exec(file)
    const type = m != null ? TYPES[m[1]] : undefined
    if (m == null || type == null || file.includes('..')) throw new DragnetError('DRAGNET_NOT_FOUND', `no console file ${file.slice(0, 100)}`)
    const body = await readWebFile(join(root, 'assets'), file)
    // File names carry a content hash: a changed file is a new name.
    return secure(reply).type(type).header('cache-control', 'public, max-age=31536000, immutable').send(body)
  })
}
