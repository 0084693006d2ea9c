import { defineConfig } from 'vite'

// Built by `npm run build` (vite build web) into dist/web/, which the node serves at `/`.
// No inline scripts or styles: the node's Content-Security-Policy admits files from its own origin only.
export default defineConfig({
  base: '/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    reportCompressedSize: true,
    modulePreload: { polyfill: false }
  }
})
