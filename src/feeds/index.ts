export { Feeds, feedStatus, type FeedsComponents, type FeedStatus } from './feeds.js'
export { FEED_DEFAULTS, displayUrl } from './http.js'
export { FEEDS_STATE_FILE, readFeedStates, type FeedCounts, type FeedRun, type FeedState } from './state.js'
