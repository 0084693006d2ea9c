export { SyncService, type SyncInit, type SyncComponents } from './service.js'
export { SyncIndexes, scopesBetween } from './indexes.js'
