import { DomainError } from '../util/domain-error.js';

/**
 * The messages between a job's coordinator and the nodes that run its processes. Every
 * one is idempotent, so each side simply resends until answered: a start is answered by
 * 'started' (also for a process already started), an end by 'end-ack', a probe by its
 * answer. A process is named by its job id and its index in the job.
 */
export type JobMessage =
  | { readonly t: 'start'; readonly jobId: string; readonly index: number; readonly command: string }
  | { readonly t: 'started'; readonly jobId: string; readonly index: number }
  | { readonly t: 'end'; readonly jobId: string; readonly index: number; readonly exitCode: number }
  | { readonly t: 'end-ack'; readonly jobId: string; readonly index: number }
  | { readonly t: 'probe'; readonly round: number; readonly keys: readonly string[] }
  | { readonly t: 'probe-answer'; readonly round: number; readonly running: readonly string[]; readonly ended: ReadonlyArray<{ readonly key: string; readonly exitCode: number }>; readonly unknown: readonly string[] };

/** The largest encoded job message: it must fit one datagram with room for the envelope and the seal. */
export const kJobMessageBytesMax = 8192;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeJobMessage(message: JobMessage): Uint8Array {
  const bytes = encoder.encode(JSON.stringify(message));
  if (bytes.length > kJobMessageBytesMax) throw new DomainError('too-large', 'GALAXY_JOBS_MESSAGE_TOO_LARGE', `a job message of ${bytes.length} bytes exceeds ${kJobMessageBytesMax}`);
  return bytes;
}

/** The message, or null for bytes that are not one (a peer's bytes never make this throw). */
export function decodeJobMessage(bytes: Uint8Array): JobMessage | null {
  if (bytes.length > kJobMessageBytesMax) return null;
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const m = value as Record<string, unknown>;
  const processOk = typeof m.jobId === 'string' && Number.isSafeInteger(m.index) && (m.index as number) >= 0;
  const strings = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === 'string');
  switch (m.t) {
    case 'start':
      return processOk && typeof m.command === 'string' ? (m as unknown as JobMessage) : null;
    case 'started':
    case 'end-ack':
      return processOk ? (m as unknown as JobMessage) : null;
    case 'end':
      return processOk && Number.isSafeInteger(m.exitCode) ? (m as unknown as JobMessage) : null;
    case 'probe':
      return Number.isSafeInteger(m.round) && strings(m.keys) ? (m as unknown as JobMessage) : null;
    case 'probe-answer':
      return Number.isSafeInteger(m.round) && strings(m.running) && strings(m.unknown) && Array.isArray(m.ended) && (m.ended as unknown[]).every((e) => typeof e === 'object' && e !== null && typeof (e as { key?: unknown }).key === 'string' && Number.isSafeInteger((e as { exitCode?: unknown }).exitCode))
        ? (m as unknown as JobMessage)
        : null;
    default:
      return null;
  }
}

/** `<job id>/<index>`: how a node names a process it runs. */
export function processKeyOf(jobId: string, index: number): string {
  return `${jobId}/${index}`;
}

export function parseProcessKeyOf(key: string): { jobId: string; index: number } | null {
  const at = key.lastIndexOf('/');
  const index = Number(key.slice(at + 1));
  if (at <= 0 || !Number.isSafeInteger(index) || index < 0) return null;
  return { jobId: key.slice(0, at), index };
}
