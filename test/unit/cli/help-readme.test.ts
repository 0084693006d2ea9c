import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { buildProgram } from '../../../src/cli/program.js'
import { REPO } from '../../helpers/cli.js'

/*
 * `dragnet --help` and the README's CLI reference describe one program. This walks the commander
 * program (every command, subcommand, option and argument choice) and the reference (every
 * `dragnet <verb>` heading, every flag in a heading or a flag table), each against the other.
 */

interface Section { heading: string, path: string, text: string }

function cliReference (): { intro: string, sections: Section[] } {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8')
  const start = readme.indexOf('\n## CLI reference\n')
  assert.ok(start >= 0, 'README has a "## CLI reference" section')
  const end = readme.indexOf('\n## ', start + 1)
  const body = readme.slice(start, end < 0 ? undefined : end)
  const parts = body.split(/\n(?=### )/)
  const sections: Section[] = []
  for (const p of parts.slice(1)) {
    const heading = p.slice(0, p.indexOf('\n'))
    const m = /^### `dragnet ((?:[a-z][a-z0-9-]*)(?: [a-z][a-z0-9-]*)*)/.exec(heading)
    assert.ok(m != null, `CLI reference heading names a dragnet command: ${heading}`)
    sections.push({ heading, path: m[1], text: p })
  }
  return { intro: parts[0], sections }
}

/**
 * Every runnable command by its path (`token create`), the program itself left out. A default
 * subcommand (`feeds` runs `feeds list`) is documented under its parent's words.
 */
function commands (program: Command): Map<string, Command> {
  const out = new Map<string, Command>()
  const walk = (c: Command, prefix: string[]): void => {
    const byDefault = (c as Command & { _defaultCommandName?: string })._defaultCommandName
    for (const sub of c.commands) {
      const path = sub.name() === byDefault ? prefix : [...prefix, sub.name()]
      if (sub.commands.length === 0) out.set(path.join(' '), sub)
      walk(sub, [...prefix, sub.name()])
    }
  }
  walk(program, [])
  return out
}

/** `purge list`: a word its command reads as an argument, documented as one (`list` in backticks). */
function pseudoVerb (cmds: Map<string, Command>, path: string): boolean {
  const words = path.split(' ')
  const parent = cmds.get(words.slice(0, -1).join(' '))
  return parent != null && parent.registeredArguments.some(a => (a.description ?? '').includes('`' + words[words.length - 1] + '`'))
}

function sectionFor (sections: Section[], path: string): Section | undefined {
  return sections.find(s => s.path === path)
}

/** Flags a section states for its command: in its heading and in the first column of its tables. */
function statedFlags (s: Section): string[] {
  const heading = [...s.heading.matchAll(/(?<![\w-])(--[a-z][a-z0-9-]*)/g)].map(m => m[1])
  const table = s.text.split('\n').filter(l => l.startsWith('| `--')).flatMap(l => [...l.split('|')[1].matchAll(/(--[a-z][a-z0-9-]*)/g)].map(m => m[1]))
  return [...new Set([...heading, ...table])]
}

function choices (c: Command): string[] {
  return c.registeredArguments.flatMap(a => (a.description ?? '').includes(' | ') ? a.description.split('|').map(x => x.trim()).filter(x => /^[a-z][a-z0-9-]*$/.test(x)) : [])
}

// The whole program, every command module loaded (as for `dragnet --help`).
const program = await buildProgram()

describe('--help and the README CLI reference agree', () => {
  const cmds = commands(program)
  const { intro, sections } = cliReference()

  it('every command has a heading in the README, and every heading names a command', () => {
    const missing = [...cmds.keys()].filter(p => sectionFor(sections, p) == null)
    assert.deepEqual(missing, [], 'commands without a `### dragnet <command>` heading in the CLI reference')
    const unknown = sections.filter(s => !cmds.has(s.path) && !pseudoVerb(cmds, s.path)).map(s => s.heading)
    assert.deepEqual(unknown, [], 'headings naming no command of the CLI')
  })

  it('every option of every command appears in its README section', () => {
    const missing: string[] = []
    for (const [path, c] of cmds) {
      const s = sectionFor(sections, path)
      if (s == null) continue
      for (const o of c.options) {
        if (o.long == null || o.long === '--help') continue
        if (!new RegExp(`(?<![\\w-])${o.long}(?![\\w-])`).test(s.text)) missing.push(`${path} ${o.long}`)
      }
      for (const choice of choices(c)) if (!new RegExp(`\`${choice}\``).test(s.text)) missing.push(`${path} <${choice}>`)
    }
    assert.deepEqual(missing, [], 'options (and argument choices) the CLI has and the README does not describe')
  })

  it('every flag the README states for a command exists on that command', () => {
    const unknown: string[] = []
    for (const s of sections) {
      const c = cmds.get(s.path)
      if (c == null) continue
      const longs = new Set(c.options.map(o => o.long))
      for (const f of statedFlags(s)) if (!longs.has(f) && f !== '--help') unknown.push(`${s.path} ${f}`)
    }
    assert.deepEqual(unknown, [], 'flags in a heading or flag table that the command does not take')
  })

  it('the program-wide options (--version) are in the reference', () => {
    for (const o of program.options) assert.match(intro, new RegExp(`${o.long!}(?![\\w-])`), `${o.long!} in the CLI reference's introduction`)
  })
})
