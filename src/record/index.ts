export * from './record.js'
export { canonicalJson, jsonDepth } from './canonical.js'
export { scopeOf } from './scope.js'
export * from './records-file.js'
