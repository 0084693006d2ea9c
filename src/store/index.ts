export * from './store.js'
export { BUCKETS } from './buckets.js'
export { applyContribution, contributionsOf, countsOf, feedbackTargets, mergeOpinions, type Contribution, type FeedbackCounts, type FeedbackSummary, type Stance } from './feedback.js'
