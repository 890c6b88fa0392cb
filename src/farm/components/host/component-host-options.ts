import { isAbsolute, join, resolve } from 'node:path';
import { packageRoot } from '../../../core/platform/package-root.js';
import type { BackoffOptions, GiveUpOptions } from './component-backoff.js';
import { ComponentError } from './component-error.js';

/** The host logs through this; a pino logger fits it. */
export interface ComponentLogger {
  debug(object: object, message?: string): void;
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
}

export const kSilentComponentLogger: ComponentLogger = Object.freeze({ debug() {}, info() {}, warn() {}, error() {} });

/** What a caller may set; everything but nodeId and stateRoot has a default. */
export interface ComponentHostOptions {
  /** This node's id, handed to every component. */
  readonly nodeId: string;
  /** Each component keeps its state in stateRoot/<name>, created by the host (mode 0700). */
  readonly stateRoot: string;
  readonly logger?: ComponentLogger;
  readonly backoff?: Partial<BackoffOptions>;
  readonly giveUp?: Partial<GiveUpOptions>;
  /** How long a component may take to answer a control message (configure, status, stop) before it counts as hung. */
  readonly controlTimeoutMs?: number;
  /**
   * How long its init and its start may each take. Longer than controlTimeoutMs: the init
   * includes booting Node and loading the module, and a start may open files or sockets.
   */
  readonly startTimeoutMs?: number;
  /** How long each step of a stop (IPC close, SIGTERM, SIGKILL) waits for the process to exit. */
  readonly stopTimeoutMs?: number;
  /** Period of the liveness probe of a running component; 0 turns probing off. */
  readonly healthIntervalMs?: number;
  /** V8 old-space limit of a component's process unless its spec says otherwise. */
  readonly memoryMbDefault?: number;
  /** The compiled runner the host forks. */
  readonly runnerPath?: string;
  /** Messages one component may send per second; the rest are dropped and counted. */
  readonly messagesPerSecondMax?: number;
  /** Lines of stdout and stderr one component may log per second; the rest are dropped and counted. */
  readonly outputLinesPerSecondMax?: number;
  /** Characters of one stdout or stderr line logged; longer lines are cut. */
  readonly outputLineLengthMax?: number;
  /** Messages to one component written to its IPC channel but not yet taken by it; peer messages beyond are dropped. */
  readonly sendBacklogMax?: number;
  /** Components one host may hold. */
  readonly componentsMax?: number;
}

/** Every option filled in. */
export interface ComponentHostSettings {
  readonly nodeId: string;
  readonly stateRoot: string;
  readonly logger: ComponentLogger;
  readonly backoff: BackoffOptions;
  readonly giveUp: GiveUpOptions;
  readonly controlTimeoutMs: number;
  readonly startTimeoutMs: number;
  readonly stopTimeoutMs: number;
  readonly healthIntervalMs: number;
  readonly memoryMbDefault: number;
  readonly runnerPath: string;
  readonly messagesPerSecondMax: number;
  readonly outputLinesPerSecondMax: number;
  readonly outputLineLengthMax: number;
  readonly sendBacklogMax: number;
  readonly componentsMax: number;
}

/**
 * Defaults. The backoff starts at half a second (a transient failure costs little) and
 * is capped at 30 s (a broken component costs one process start per 30 s); ten crashes
 * in ten minutes is about two and a half minutes of crashing on every start.
 */
export const kComponentHostDefaults = Object.freeze({
  backoff: Object.freeze({ initialMs: 500, maxMs: 30_000, factor: 2, resetAfterMs: 60_000 }),
  giveUp: Object.freeze({ crashesMax: 10, windowMs: 10 * 60_000 }),
  controlTimeoutMs: 5000,
  startTimeoutMs: 15_000,
  stopTimeoutMs: 5000,
  healthIntervalMs: 10_000,
  memoryMbDefault: 128,
  messagesPerSecondMax: 1000,
  outputLinesPerSecondMax: 100,
  outputLineLengthMax: 1024,
  sendBacklogMax: 256,
  componentsMax: 64,
});

/** Bounds of a component's V8 old space: below 16 MB Node does not start reliably. */
export const kMemoryMbMin = 16;
export const kMemoryMbMax = 65_536;

export function defaultRunnerPath(): string {
  return join(packageRoot(), 'dist', 'workers', 'component-runner.js');
}

function bad(message: string): never {
  throw new ComponentError('GALAXY_COMPONENT_BAD_OPTIONS', message);
}

function integer(value: number, name: string, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) bad(`options.${name} must be an integer >= ${min}`);
  return value;
}

/** Fills in the defaults and validates every field. */
export function componentHostSettings(options: ComponentHostOptions): ComponentHostSettings {
  if (typeof options.nodeId !== 'string' || options.nodeId.length === 0 || options.nodeId.length > 64) bad('options.nodeId must be a string of 1 to 64 characters');
  if (typeof options.stateRoot !== 'string' || options.stateRoot.length === 0) bad('options.stateRoot must be a directory path');
  const d = kComponentHostDefaults;
  const backoff = { ...d.backoff, ...options.backoff };
  integer(backoff.initialMs, 'backoff.initialMs', 1);
  integer(backoff.maxMs, 'backoff.maxMs', backoff.initialMs);
  integer(backoff.resetAfterMs, 'backoff.resetAfterMs', 1);
  if (!Number.isFinite(backoff.factor) || backoff.factor < 1) bad('options.backoff.factor must be a number >= 1');
  const giveUp = { ...d.giveUp, ...options.giveUp };
  integer(giveUp.crashesMax, 'giveUp.crashesMax', 0);
  integer(giveUp.windowMs, 'giveUp.windowMs', 1);
  const runnerPath = options.runnerPath ?? defaultRunnerPath();
  if (!isAbsolute(runnerPath)) bad('options.runnerPath must be an absolute path');
  return {
    nodeId: options.nodeId,
    stateRoot: resolve(options.stateRoot),
    logger: options.logger ?? kSilentComponentLogger,
    backoff,
    giveUp,
    controlTimeoutMs: integer(options.controlTimeoutMs ?? d.controlTimeoutMs, 'controlTimeoutMs', 1),
    startTimeoutMs: integer(options.startTimeoutMs ?? d.startTimeoutMs, 'startTimeoutMs', 1),
    stopTimeoutMs: integer(options.stopTimeoutMs ?? d.stopTimeoutMs, 'stopTimeoutMs', 1),
    healthIntervalMs: integer(options.healthIntervalMs ?? d.healthIntervalMs, 'healthIntervalMs', 0),
    memoryMbDefault: memoryMb(options.memoryMbDefault ?? d.memoryMbDefault, 'options.memoryMbDefault'),
    runnerPath,
    messagesPerSecondMax: integer(options.messagesPerSecondMax ?? d.messagesPerSecondMax, 'messagesPerSecondMax', 1),
    outputLinesPerSecondMax: integer(options.outputLinesPerSecondMax ?? d.outputLinesPerSecondMax, 'outputLinesPerSecondMax', 1),
    outputLineLengthMax: integer(options.outputLineLengthMax ?? d.outputLineLengthMax, 'outputLineLengthMax', 16),
    sendBacklogMax: integer(options.sendBacklogMax ?? d.sendBacklogMax, 'sendBacklogMax', 1),
    componentsMax: integer(options.componentsMax ?? d.componentsMax, 'componentsMax', 1),
  };
}

function memoryMb(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < kMemoryMbMin || value > kMemoryMbMax) bad(`${name} must be an integer from ${kMemoryMbMin} to ${kMemoryMbMax}`);
  return value;
}
