export * from './ingest.js'
export { VerifyPool, verifyInline } from './verify-pool.js'
export { RosterKeys, keyHex, keyString } from './roster-keys.js'
