import { kReasonLengthMax } from './jobs-limits.js';

/**
 * One process of a job as its coordinator tracks it, and the pure state machine that
 * moves it: the operator's view of what the coordination core (core/jobs) decided, with
 * the pid, signal and reasons the API shows. The core sees messages late, twice or out
 * of order and emits each transition once; the machine still refuses what cannot be:
 *
 *     pending --started--> running --ended--> exited | signalled | timed-out
 *        |                    |
 *        +--start-failed--> failed
 *        +--cancelled-----> cancelled   (its job was stopped before it started)
 *        +--lost----------> lost        <--lost-- running
 *
 * Every state but pending and running is final: a message for a finished process is
 * ignored (and the caller can count it), so an end report arriving after the node was
 * declared lost does not rewrite a result a waiter has already seen.
 */
export type ProcessState = 'pending' | 'running' | 'exited' | 'signalled' | 'timed-out' | 'failed' | 'lost' | 'cancelled';

export const kFinalProcessStates: ReadonlySet<ProcessState> = new Set(['exited', 'signalled', 'timed-out', 'failed', 'lost', 'cancelled']);

/** How a process ended, as its node reports it. */
export interface ProcessEnd {
  /** The exit code, when it exited on its own (null when a signal ended it). */
  readonly exitCode: number | null;
  /** The signal that ended it, e.g. "SIGKILL". */
  readonly signal: string | null;
  /** Whether its timeout ended it. */
  readonly timedOut: boolean;
  /** Output its node could not deliver (coordinator slow or unreachable) and dropped, bytes. */
  readonly undeliveredBytes: number;
}

export type ProcessEvent =
  /** pid: null when the node did not say (a host that does not confirm launches). */
  | { readonly type: 'started'; readonly pid: number | null; readonly atMs: number }
  | { readonly type: 'start-failed'; readonly reason: string; readonly atMs: number }
  | { readonly type: 'ended'; readonly end: ProcessEnd; readonly atMs: number }
  | { readonly type: 'lost'; readonly reason: string; readonly atMs: number }
  | { readonly type: 'cancelled'; readonly reason: string; readonly atMs: number };

export interface ProcessStatus {
  readonly state: ProcessState;
  readonly pid: number | null;
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** Why it failed, was lost or cancelled; null otherwise. */
  readonly reason: string | null;
  readonly startedAtMs: number | null;
  readonly endedAtMs: number | null;
  readonly undeliveredBytes: number;
}

export const kPendingProcess: ProcessStatus = Object.freeze({
  state: 'pending',
  pid: null,
  exitCode: null,
  signal: null,
  reason: null,
  startedAtMs: null,
  endedAtMs: null,
  undeliveredBytes: 0,
});

export function isFinal(state: ProcessState): boolean {
  return kFinalProcessStates.has(state);
}

/** Whether a process succeeded: it exited by itself with code 0. */
export function succeeded(status: ProcessStatus): boolean {
  return status.state === 'exited' && status.exitCode === 0;
}

/** The next status, or null when the event does not apply (the process is final, or not started for an end). */
export function applyProcessEvent(status: ProcessStatus, event: ProcessEvent): ProcessStatus | null {
  if (isFinal(status.state)) return null;
  switch (event.type) {
    case 'started':
      if (status.state !== 'pending') return null;
      return { ...status, state: 'running', pid: event.pid, startedAtMs: event.atMs };
    case 'start-failed':
      if (status.state !== 'pending') return null;
      return { ...status, state: 'failed', reason: cut(event.reason), endedAtMs: event.atMs };
    case 'ended':
      return endedStatus(status, event.end, event.atMs);
    case 'lost':
      return { ...status, state: 'lost', reason: cut(event.reason), endedAtMs: event.atMs };
    case 'cancelled':
      if (status.state !== 'pending') return null;
      return { ...status, state: 'cancelled', reason: cut(event.reason), endedAtMs: event.atMs };
  }
}

/**
 * An end report may overtake the start answer (both are separate RPCs), so a pending
 * process can end directly; it never had a pid the coordinator saw.
 */
function endedStatus(status: ProcessStatus, end: ProcessEnd, atMs: number): ProcessStatus {
  const state: ProcessState = end.timedOut ? 'timed-out' : end.signal !== null ? 'signalled' : 'exited';
  return {
    ...status,
    state,
    exitCode: end.exitCode,
    signal: end.signal,
    endedAtMs: atMs,
    startedAtMs: status.startedAtMs ?? atMs,
    undeliveredBytes: status.undeliveredBytes + end.undeliveredBytes,
  };
}

function cut(reason: string): string {
  return reason.length <= kReasonLengthMax ? reason : `${reason.slice(0, kReasonLengthMax - 1)}…`;
}
