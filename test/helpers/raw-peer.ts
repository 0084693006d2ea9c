export { RawPeer } from '../../src/sim/actors.js'
