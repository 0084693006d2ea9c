export { SyncService, type SyncInit, type SyncComponents } from './service.js'
export { SyncIndexes, scopesBetween, preloadSyncIndexes, type LoadedSyncIndexes } from './indexes.js'
