import '../src/polyfill.js'

/*
 * npm run bench -- <name> [--json] [bench options]
 * Each bench lives in scripts/bench/<name>.ts and exports `run(args)`, which prints its figures
 * for people (each beside a reference measured in the same run) and returns the summary object.
 * With --json the summary is printed as the last line, as one JSON object.
 */
const BENCHES = ['record', 'propagation', 'sync', 'sync-recon', 'policy', 'taxii', 'flood', 'lookup-sightings'] as const

async function main (): Promise<void> {
  const argv = process.argv.slice(2)
  const name = argv.find(a => !a.startsWith('-'))
  const json = argv.includes('--json')
  const rest = argv.filter(a => a !== name && a !== '--json')
  if (name == null || !(BENCHES as readonly string[]).includes(name)) {
    console.error(`usage: npm run bench -- <${BENCHES.join('|')}> [--json] [options]`)
    process.exit(2)
  }
  const mod = await import(`./bench/${name}.ts`) as { run: (args: string[]) => Promise<Record<string, unknown>> }
  const summary = await mod.run(rest)
  if (json) console.log(JSON.stringify(summary))
}

main().then(() => process.exit(0), (err) => {
  console.error(err)
  process.exit(1)
})
