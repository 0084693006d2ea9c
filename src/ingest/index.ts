export * from './ingest.js'
export { VerifyPool, verifyInline } from './verify-pool.js'
