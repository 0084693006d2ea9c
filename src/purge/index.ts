export { PurgeService, type EraseResult, type PurgeComponents, type PurgeInit, type PurgeKind, type PurgeStats, type PurgeTarget } from './service.js'
export { ERASURE_RECEIPT_TYPE, ERASURE_REQUEST_TYPE, erasureRequestBody, requestedIds, receiptOf, requestGroups } from './request.js'
