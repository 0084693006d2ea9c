import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { anchors, tableOfContents, withTableOfContents } from '../../scripts/readme-toc.mjs'

describe('README', () => {
  it('has a current table of contents (regenerate: node scripts/readme-toc.mjs)', async () => {
    const text = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
    assert.equal(withTableOfContents(text), text)
  })

  it('every link to a section names a heading that exists', async () => {
    const text = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
    const known: Set<string> = anchors(text)
    const broken = [...text.matchAll(/\]\(#([^)\s]+)\)/g)].map(m => m[1]).filter(a => !known.has(a))
    assert.deepEqual([...new Set(broken)], [])
  })

  it('anchors follow GitHub: backticks and punctuation dropped, duplicates numbered', () => {
    const toc: string = tableOfContents('<!-- /toc -->\n## A `b` c.d\n### `dragnet init [--data DIR]`\n```\n## not a heading\n```\n## A b cd\n')
    assert.equal(toc, '- [A `b` c.d](#a-b-cd)\n  - [`dragnet init`](#dragnet-init---data-dir)\n- [A b cd](#a-b-cd-1)')
  })
})
