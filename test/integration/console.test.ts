import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { gzipSync } from 'node:zlib'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { startApi, type RunningApi } from '../../src/api/server.js'
import { webRoot } from '../../src/api/web.js'
import { createReadToken } from '../../src/identity/index.js'
import type { DragnetNode } from '../../src/node.js'
import { compilePolicy } from '../../src/policy/index.js'
import { indicator } from '../../src/sim/stix-factory.js'
import { startFederation, waitConnected, waitFor, type Federation } from '../helpers/federation.js'
import { requireSharedData } from '../helpers/shared-data.js'
import { tempDir } from '../helpers/tmp.js'

/*
 * The web console in a real headless Chromium (Debian's `chromium`, driven by playwright-core;
 * no browser is downloaded), against a real two-node federation over TCP: bureau-de serves the
 * console, cert-fr is its partner. bureau-de's policy withholds malware analyses from everyone,
 * so the console can show why cert-fr did not get one. Screenshots of every page go to
 * test-output/console/.
 */

const CHROMIUM = process.env.DRAGNET_CHROMIUM ?? '/usr/bin/chromium'
const SHOTS = resolve('test-output', 'console')
const TOKEN = 'console-admin-token-0123456789abcdef'
const XORIST_SHA256 = 'b3c4ae251f8094fa15b510051835c657eaef2a6cea46075d3aec964b14a99f68'
const RED_VALUE = '203.0.113.99'

const POLICY = compilePolicy({
  name: 'bureau-de-console',
  description: 'malware analyses stay with the bureau',
  rules: [{ id: 'no-malware-out', direction: 'outbound', match: { type: ['malware'] }, action: 'withhold', reason: 'malware analyses stay with this bureau' }]
}, process.cwd())

async function newestId (node: DragnetNode): Promise<string> {
  for await (const e of node.store.byArrival(0, { reverse: true, limit: 1 })) return e.id
  throw new Error('no records')
}

/**
 * Every control and link, and every picture, with no accessible name (labels, aria-*, text,
 * title). A script string: it runs in the page, untouched by the test's TypeScript transform.
 */
const UNNAMED_CONTROLS = `(() => {
  const nameOf = (el) => {
    const aria = el.getAttribute('aria-label') ?? ''
    if (aria.trim() !== '') return aria
    const by = el.getAttribute('aria-labelledby')
    if (by != null) return by.split(/\\s+/).map(id => document.getElementById(id)?.textContent ?? '').join(' ')
    if (el.labels != null && el.labels.length > 0) return [...el.labels].map(l => l.textContent ?? '').join(' ')
    if (el.tagName === 'BUTTON' || el.tagName === 'A' || el.tagName === 'SUMMARY') return el.textContent ?? ''
    return el.getAttribute('title') ?? ''
  }
  return [...document.querySelectorAll('input, select, textarea, button, a[href], summary, [role="img"], progress')]
    .filter(el => nameOf(el).trim() === '').map(el => el.outerHTML.slice(0, 120))
})()`

async function unnamedControls (page: Page): Promise<string[]> {
  return await page.evaluate(UNNAMED_CONTROLS) as string[]
}

async function focused (page: Page, what: 'id' | 'textContent' | 'tagName'): Promise<unknown> {
  return await page.evaluate(`document.activeElement?.${what}`)
}

describe('web console in a real browser', function () {
  this.timeout(240_000)
  let tmp: { dir: string, cleanup: () => Promise<void> }
  let fed: Federation
  let api: RunningApi
  let browser: Browser
  let base: string
  let readToken: string
  let shared: string
  const errors: string[] = []

  async function newContext (log = errors): Promise<{ ctx: BrowserContext, page: Page }> {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await ctx.newPage()
    page.setDefaultTimeout(20_000)
    const errors = log
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`) })
    page.on('pageerror', (e) => { errors.push(`pageerror: ${e.message}`) })
    page.on('requestfailed', (r) => { errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`) })
    return { ctx, page }
  }

  async function visit (page: Page, hash: string, heading: string, shot: string): Promise<void> {
    await page.evaluate(`location.hash = ${JSON.stringify(hash)}`)
    await page.getByRole('heading', { level: 1, name: heading }).waitFor()
    await page.screenshot({ path: join(SHOTS, `${shot}.png`), fullPage: true })
    assert.deepEqual(await unnamedControls(page), [], `controls without an accessible name on ${hash}`)
  }

  async function login (page: Page, token: string): Promise<void> {
    await page.goto(base)
    const field = page.getByLabel('Token')
    await field.waitFor()
    // The token field has the focus: type and press Enter, no mouse.
    assert.equal(await focused(page, 'id'), 'token')
    await page.keyboard.type(token)
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor()
  }

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      console.log(`    (skipped: no Chromium at ${CHROMIUM}; apt-get install chromium, or set DRAGNET_CHROMIUM)`)
      this.skip()
    }
    shared = requireSharedData(this)
    if (!existsSync(join(webRoot(), 'index.html'))) throw new Error(`the console is not built (${webRoot()} has no index.html): run npm run build`)
    await mkdir(SHOTS, { recursive: true })
    tmp = await tempDir('dragnet-console-')
    fed = await startFederation(tmp.dir, [{ name: 'bureau-de', country: 'DE', policy: POLICY }, { name: 'cert-fr', country: 'FR' }], [[0, 1]])
    const de = fed.nodes[0]
    api = await startApi(de, '127.0.0.1:0', { token: TOKEN })
    base = `http://${api.address}/`
    readToken = (await createReadToken(de.dataDir, 'analyst', 'amber')).token
    await waitConnected(fed.nodes, [[0, 1]])
    const [red] = await de.publish([indicator({ kind: 'ipv4', value: RED_VALUE, seed: 'console-red' })], { tlp: 'red' })
    assert.equal(red.status, 'stored')
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  })

  after(async () => {
    await browser?.close()
    await api?.close()
    await fed?.stop()
    await tmp?.cleanup()
  })

  it('ships under 300 KB of JavaScript, and paints the first page quickly on loopback', async () => {
    const assets = join(webRoot(), 'assets')
    let raw = 0
    let gzip = 0
    for (const f of (await readdir(assets)).filter(f => f.endsWith('.js'))) {
      const b = await readFile(join(assets, f))
      raw += b.length
      gzip += gzipSync(b, { level: 9 }).length
    }
    console.log(`      console JavaScript: ${(raw / 1024).toFixed(1)} KB raw, ${(gzip / 1024).toFixed(1)} KB gzip`)
    assert.ok(raw < 300 * 1024, `${raw} bytes of JavaScript`)
    // Three cold loads, each in a fresh context (empty cache); the median is reported.
    const paints: number[] = []
    for (let i = 0; i < 3; i++) {
      const { ctx, page } = await newContext()
      await page.goto(base)
      await page.getByLabel('Token').waitFor()
      paints.push(await page.evaluate("performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1") as number)
      await ctx.close()
    }
    const fcp = paints.slice().sort((a, b) => a - b)[1]
    console.log(`      first contentful paint (cold, loopback): ${paints.map(p => p.toFixed(0)).join(', ')} ms; median ${fcp.toFixed(0)} ms`)
    assert.ok(paints.every(p => p > 0), 'no first-contentful-paint entry')
    // The target is 1 s on a quiet machine; the bound only catches a gross regression (a page
    // that blocks on something slow), because tests share loaded machines (0.8-3.6 s seen at load 20).
    assert.ok(fcp < 5000, `first contentful paint took ${fcp} ms`)
    const { ctx, page } = await newContext()
    await page.goto(base)
    await page.getByLabel('Token').waitFor()
    await page.screenshot({ path: join(SHOTS, 'login.png') })
    assert.deepEqual(await unnamedControls(page), [])
    await ctx.close()
  })

  it('an analyst logs in, imports a MISP event from the shared data, searches a value from it and opens the record', async () => {
    const { ctx, page } = await newContext()
    await login(page, TOKEN)
    await visit(page, '#/publish', 'Publish and import', 'publish')
    await page.getByLabel('Upload a file').setInputFiles(join(shared, 'misp', 'events', 'circl-osint-xorist-ransomware.json'))
    await page.getByLabel('Format').selectOption('misp')
    await page.getByRole('button', { name: 'Import' }).click()
    const summary = page.getByTestId('import-summary')
    await summary.waitFor()
    assert.match(await summary.innerText(), /[1-9][0-9]* imported/)
    await page.screenshot({ path: join(SHOTS, 'import-done.png'), fullPage: true })

    await visit(page, '#/search', 'Search', 'search-empty')
    await page.getByLabel('Value or record id').fill(XORIST_SHA256)
    await page.keyboard.press('Enter')
    const row = page.locator('table.results tbody tr').first()
    await row.waitFor()
    assert.match(await row.innerText(), /bureau-de \(this node\)/)
    assert.match(await row.innerText(), /TLP:CLEAR/)
    await page.screenshot({ path: join(SHOTS, 'search.png'), fullPage: true })
    assert.deepEqual(await unnamedControls(page), [])
    await row.getByRole('link').click()
    await page.getByRole('heading', { name: 'Signed envelope' }).waitFor()
    assert.match(await page.getByTestId('provenance').innerText(), /imported on this node/)
    assert.match(await page.locator('pre.json').innerText(), new RegExp(XORIST_SHA256))
    await page.screenshot({ path: join(SHOTS, 'record.png'), fullPage: true })
    assert.deepEqual(await unnamedControls(page), [])
    await ctx.close()
  })

  it('shows why a record was withheld from a peer, and the policy and its dry run', async () => {
    const [de, fr] = fed.nodes
    const { ctx, page } = await newContext()
    await login(page, TOKEN)
    await visit(page, '#/publish', 'Publish and import', 'publish')
    const malware = { type: 'malware', spec_version: '2.1', id: 'malware--0c7b5b88-8ff7-4a4d-aa9c-feb398cd0061', created: '2026-01-02T00:00:00.000Z', modified: '2026-01-02T00:00:00.000Z', name: 'Xorist console analysis', is_family: false }
    await page.getByLabel('Or paste STIX').fill(JSON.stringify(malware))
    await page.getByLabel('Format').selectOption('stix')
    await page.getByLabel('TLP', { exact: true }).last().selectOption('green')
    await page.getByRole('button', { name: 'Import' }).click()
    await page.getByTestId('import-summary').waitFor()
    // The live feed on the overview lists it; open it from there.
    await visit(page, '#/overview', 'Overview', 'overview')
    const link = page.getByRole('link', { name: malware.id })
    await link.click()
    await page.getByRole('heading', { name: 'Signed envelope' }).waitFor()
    const recordId = (await page.locator('dd code').first().innerText()).trim()
    assert.match(recordId, /^1220[0-9a-f]{64}$/)
    await page.getByLabel('Why did this peer get it or not?').selectOption({ label: 'cert-fr (FR, bureau)' })
    await page.getByRole('button', { name: 'Explain' }).click()
    await page.getByRole('heading', { level: 1, name: 'Why' }).waitFor()
    const decision = page.getByTestId('why-decision')
    await decision.waitFor()
    assert.match(await decision.innerText(), /withhold by rule no-malware-out — malware analyses stay with this bureau/)
    await page.screenshot({ path: join(SHOTS, 'why.png'), fullPage: true })
    assert.deepEqual(await unnamedControls(page), [])
    // And cert-fr really does not have it, while an indicator published with it did travel.
    assert.equal(await fr.store.getInfo(recordId), undefined)
    assert.ok(await de.store.getInfo(recordId) != null)

    await visit(page, '#/policy', 'Policy', 'policy')
    assert.match(await page.locator('main').innerText(), /no-malware-out/)
    await page.getByLabel('STIX object (JSON)').fill(JSON.stringify({ ...malware, id: 'malware--0c7b5b88-8ff7-4a4d-aa9c-feb398cd0062' }))
    await page.getByLabel('Against peer').selectOption({ label: 'cert-fr (FR, bureau)' })
    await page.getByRole('button', { name: 'Dry run' }).click()
    assert.match(await page.getByTestId('dry-run-decision').innerText(), /withhold by rule no-malware-out/)
    await page.screenshot({ path: join(SHOTS, 'policy-dry-run.png'), fullPage: true })
    await ctx.close()
  })

  it('publishes an indicator, and watches records (its own and a partner\'s) and peer state change live', async () => {
    const [de, fr] = fed.nodes
    const { ctx, page } = await newContext()
    await login(page, TOKEN)
    await visit(page, '#/publish', 'Publish and import', 'publish')
    await page.getByLabel(/Indicator value/).fill('console-published[.]example')
    await page.getByRole('button', { name: 'Publish' }).click()
    assert.match(await page.getByTestId('import-summary').innerText(), /1 imported/)
    // It crosses to cert-fr by gossip.
    const published = await newestId(de)
    await waitFor(async () => await fr.store.getInfo(published) != null, 'cert-fr receives the published indicator')

    await visit(page, '#/overview', 'Overview', 'overview')
    const feed = page.locator('table.feed')
    await feed.waitFor()
    const before = await page.locator('table.feed tbody tr').count()
    const [v] = await fr.publish([indicator({ kind: 'domain', value: 'live-from-france.example', seed: 'console-live' })], { tlp: 'green' })
    assert.equal(v.status, 'stored')
    const id = (v as { id: string }).id
    // No reload: the row arrives through the 2-second poll.
    const row = page.locator(`tr[data-record="${id}"]`)
    await row.waitFor({ timeout: 30_000 })
    assert.match(await row.innerText(), /cert-fr \(FR\)/)
    assert.match(await row.innerText(), /gossip from cert-fr/)
    assert.ok(await page.locator('table.feed tbody tr').count() > before)
    assert.match(await page.getByTestId('peers-connected').innerText(), /1 of 1 connected/)
    // The overview's delay histogram counts it: received from a peer, signed moments before.
    const overview = await (await fetch(`${base}api/console/overview`, { headers: { authorization: `Bearer ${TOKEN}` } })).json() as any
    assert.ok(overview.activity.delays.samples >= 1)
    assert.equal(overview.activity.delays.counts.reduce((a: number, b: number) => a + b, 0), overview.activity.delays.samples)
    assert.ok(overview.activity.bySource.gossip >= 1)
    await page.screenshot({ path: join(SHOTS, 'overview-live.png'), fullPage: true })
    // Its record page says how it came: by gossip, handed over by cert-fr.
    await row.getByRole('link').click()
    assert.match(await page.getByTestId('provenance').innerText(), /received by gossip, handed over by cert-fr \(FR\)/)
    await page.screenshot({ path: join(SHOTS, 'record-received.png'), fullPage: true })

    await visit(page, '#/search?q=console-published.example', 'Search', 'search-published')
    await page.locator('table.results tbody tr').first().waitFor()

    await visit(page, '#/peers', 'Peers', 'peers')
    assert.match(await page.getByTestId('peers-summary').innerText(), /1 of 1 roster members connected/)
    assert.equal(await page.locator('svg.federation circle.node.on').count(), 1)
    // cert-fr goes away: the page follows without a reload.
    await fr.stop()
    await page.getByTestId('peers-summary').filter({ hasText: '0 of 1 roster members connected' }).waitFor({ timeout: 30_000 })
    assert.equal(await page.locator('svg.federation circle.node.on').count(), 0)
    await page.screenshot({ path: join(SHOTS, 'peers-disconnected.png'), fullPage: true })
    await ctx.close()
  })

  it('works with the keyboard alone: skip link, menu, search', async () => {
    const { ctx, page } = await newContext()
    await login(page, TOKEN)
    // A page's heading has the focus; going back from it crosses the menu to the skip link.
    await waitFor(async () => await focused(page, 'tagName') === 'H1', 'focus on the heading')
    const seen: unknown[] = []
    for (let i = 0; i < 15 && seen.at(-1) !== 'Skip to content'; i++) {
      await page.keyboard.press('Shift+Tab')
      seen.push(await focused(page, 'textContent'))
    }
    assert.deepEqual(seen, ['Log out', 'Publish and import', 'Policy', 'Why', 'Peers', 'Search', 'Overview', 'Skip to content'])
    // The skip link takes the focus back to the page's heading.
    await page.keyboard.press('Enter')
    await waitFor(async () => await focused(page, 'tagName') === 'H1', 'skip link focuses the heading')
    for (let i = 0; i < 6; i++) await page.keyboard.press('Shift+Tab')
    assert.equal(await focused(page, 'textContent'), 'Search')
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { level: 1, name: 'Search' }).waitFor()
    // The new page's heading has the focus; the next Tab is its search field.
    await waitFor(async () => await focused(page, 'tagName') === 'H1', 'focus on the heading')
    await page.keyboard.press('Tab')
    assert.equal(await focused(page, 'id'), 'q')
    await page.keyboard.type(XORIST_SHA256)
    await page.keyboard.press('Enter')
    await page.locator('table.results tbody tr').first().waitFor()
    await ctx.close()
  })

  it('a read token never sees TLP:RED', async () => {
    const { ctx, page } = await newContext()
    await login(page, readToken)
    assert.match(await page.locator('header').innerText(), /read token analyst \(up to TLP:AMBER\)/)
    await page.locator('table.feed tbody tr').first().waitFor()
    assert.equal(await page.locator('.tlp-red').count(), 0)
    assert.ok(!(await page.locator('main').innerText()).includes('TLP:RED'))
    await page.screenshot({ path: join(SHOTS, 'overview-read-token.png'), fullPage: true })
    await visit(page, `#/search?q=${RED_VALUE}`, 'Search', 'search-read-token')
    await page.getByText('No record you may see names this value.').waitFor()
    assert.equal(await page.locator('.tlp-red').count(), 0)
    await visit(page, '#/publish', 'Publish and import', 'publish-read-token')
    await page.getByText('Read tokens cannot publish').waitFor()
    await ctx.close()
  })

  it('refuses a wrong token with a message, and shows nothing else', async () => {
    const own: string[] = []
    const { ctx, page } = await newContext(own)
    await page.goto(base)
    await page.getByLabel('Token').fill('not-a-token-of-this-node')
    await page.getByRole('button', { name: 'Log in' }).click()
    assert.match(await page.getByRole('alert').innerText(), /DRAGNET_FORBIDDEN: wrong API token/)
    assert.equal(await page.getByRole('navigation').count(), 0)
    assert.equal(await page.evaluate("sessionStorage.getItem('dragnet.token')"), null)
    // The browser logs the refused request (403) itself; nothing else.
    assert.deepEqual(own.filter(e => !/status of 403/.test(e)), [])
    await ctx.close()
  })

  it('logged no console error, failed request or CSP violation on any page', () => {
    assert.deepEqual(errors, [])
  })
})
