import pino from 'pino';
import type { LogLevel } from './log-level.js';

export type AgentLogger = pino.Logger;

/**
 * The agent's structured log: JSON lines on stderr (fd 2), written synchronously so the
 * last lines before an exit are not lost. Stdout stays reserved for the one-line-per-
 * membership-event stream that the demo and the tests parse.
 */
export function createAgentLogger(level: LogLevel): AgentLogger {
  return pino({ name: 'galaxy-agent', level, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd: 2, sync: true }));
}

/** A logger that writes nothing (library use of runAgent, unit tests). */
export function silentAgentLogger(): AgentLogger {
  return pino({ level: 'silent' });
}
