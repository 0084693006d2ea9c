export * from './record.js'
export { canonicalJson, jsonDepth } from './canonical.js'
export { amberScope, isLegacyAmberScope, scopesOf } from './scope.js'
export * from './records-file.js'
