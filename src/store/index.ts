export * from './store.js'
export { BUCKETS } from './buckets.js'
