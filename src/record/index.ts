export * from './record.js'
export { canonicalJson, jsonDepth } from './canonical.js'
