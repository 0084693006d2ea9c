export * from './identity.js'
