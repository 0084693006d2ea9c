export * from './identity.js'
export * from './roster.js'
export * from './data-dir.js'
export * from './read-tokens.js'
