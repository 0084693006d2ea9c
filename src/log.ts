import { pino, type Logger } from 'pino'

export type { Logger }

/**
 * One root logger per process; components take a child named after their folder (`net:gossip`).
 * DRAGNET_LOG_LEVEL overrides the configured level (tests run silent unless asked).
 */
export function createLogger (opts: { level?: string, name?: string, destination?: number | string } = {}): Logger {
  const level = process.env.DRAGNET_LOG_LEVEL ?? opts.level ?? 'info'
  return pino({ level, name: opts.name, base: { pid: process.pid } }, pino.destination({ dest: opts.destination ?? 2, sync: false }))
}

export function silentLogger (): Logger {
  return pino({ level: 'silent' })
}
