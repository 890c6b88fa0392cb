import { DomainError } from '../util/domain-error.js';
import { kEnvelopeHeaderBytes } from '../messenger/envelope.js';
import { kDatagramBytesMax } from '../wire/format.js';

/**
 * How a process ended beyond its exit code, as its host knows it. Every field is
 * optional: a host that only knows exit codes (the simulator's) leaves them out, the
 * agent's fills them in (a signal ends a process with no exit code; a timeout is a
 * signal the jobs service sent; output the node could not deliver is counted).
 */
export interface ProcessEndDetail {
  readonly signal?: string;
  readonly timedOut?: boolean;
  readonly undeliveredBytes?: number;
}

/**
 * The messages between a job's coordinator and the nodes that run its processes. Every
 * one is idempotent, so each side simply resends until answered: a start is answered by
 * 'started' (also for a process already started) or 'start-failed', an end by 'end-ack',
 * a probe by its answer. A process is named by its job id and its index in the job.
 * 'terminate' and 'signal' are the operator's stop and signal, passed on as they are:
 * a lost one leaves the process running, and the operator (or the process's timeout)
 * can ask again.
 *
 * The command is opaque to the cores: the simulator sends a word, the agent its whole
 * process spec as JSON, which the node checks before running anything.
 */
export type JobMessage =
  | { readonly t: 'start'; readonly jobId: string; readonly index: number; readonly command: string }
  /** The process runs; the pid when the host told it (the agent's does). */
  | { readonly t: 'started'; readonly jobId: string; readonly index: number; readonly pid?: number }
  /** The node could not run the process (no such program, no such user, too busy): final. */
  | { readonly t: 'start-failed'; readonly jobId: string; readonly index: number; readonly reason: string }
  | ({ readonly t: 'end'; readonly jobId: string; readonly index: number; readonly exitCode: number | null } & ProcessEndDetail)
  | { readonly t: 'end-ack'; readonly jobId: string; readonly index: number }
  | { readonly t: 'probe'; readonly round: number; readonly keys: readonly string[] }
  | {
      readonly t: 'probe-answer';
      readonly round: number;
      readonly running: readonly string[];
      readonly ended: ReadonlyArray<{ readonly key: string; readonly exitCode: number | null } & ProcessEndDetail>;
      readonly unknown: readonly string[];
    }
  /** SIGTERM, then SIGKILL after the node's grace, to the named processes (a stop). */
  | { readonly t: 'terminate'; readonly keys: readonly string[] }
  | { readonly t: 'signal'; readonly keys: readonly string[]; readonly signal: string };

/**
 * The seal's bytes on a farm datagram (src/node/security/keyring.ts's kSealOverheadBytes:
 * a version byte, a 12-byte nonce, a 16-byte tag), repeated here because core cannot
 * import node; test/node-driver-jobs.test.ts checks the two agree.
 */
export const kJobSealBytesMax = 29;
/**
 * The largest encoded job message in a datagram: it must fit one with room for the
 * envelope and the seal (1,400 - 12 - 29). It was 8,192 while only the simulator, which
 * has no datagram limit, ran the stack's jobs: on real sockets a start between the two
 * was dropped by the transport as too large.
 */
export const kJobMessageBytesMax = kDatagramBytesMax - kEnvelopeHeaderBytes - kJobSealBytesMax;
/**
 * The largest encoded job message at all, sent as a stream frame when it is over
 * kJobMessageBytesMax: a start carries the agent's whole process spec (its command line
 * and environment, which JSON escapes twice: in the spec, then in the message). The
 * same bound as a farm RPC body (kRpcBodyBytesMax), which carried starts before, and far
 * below the stream transport's 16 MiB frames.
 */
export const kJobMessageStreamBytesMax = 4 * 1024 * 1024;
/** Process keys one probe, probe answer, terminate or signal names at most. */
export const kJobMessageKeysMax = 1024;
/** Characters of a reason or a signal name a message may carry. */
export const kJobMessageReasonLengthMax = 512;
export const kJobMessageSignalLengthMax = 16;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeJobMessage(message: JobMessage, bytesMax = kJobMessageBytesMax): Uint8Array {
  const bytes = encoder.encode(JSON.stringify(message));
  if (bytes.length > bytesMax) throw new DomainError('too-large', 'GALAXY_JOBS_MESSAGE_TOO_LARGE', `a job message of ${bytes.length} bytes exceeds ${bytesMax}`);
  return bytes;
}

/** The message, or null for bytes that are not one (a peer's bytes never make this throw). */
export function decodeJobMessage(bytes: Uint8Array, bytesMax = kJobMessageBytesMax): JobMessage | null {
  if (bytes.length > bytesMax) return null;
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    return null;
  }
  return jobMessageOf(value);
}

/**
 * The value as a message, or null when it is not one: for messages that arrive already
 * parsed (the agent carries them in RPC bodies, whose own bound replaces the datagram's).
 */
export function jobMessageOf(value: unknown): JobMessage | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const m = value as Record<string, unknown>;
  const processOk = typeof m.jobId === 'string' && Number.isSafeInteger(m.index) && (m.index as number) >= 0;
  const ok = (condition: boolean): JobMessage | null => (condition ? (m as unknown as JobMessage) : null);
  switch (m.t) {
    case 'start':
      return ok(processOk && typeof m.command === 'string');
    case 'started':
      return ok(processOk && (m.pid === undefined || (Number.isSafeInteger(m.pid) && (m.pid as number) > 0)));
    case 'start-failed':
      return ok(processOk && boundedString(m.reason, kJobMessageReasonLengthMax));
    case 'end-ack':
      return ok(processOk);
    case 'end':
      return ok(processOk && endOk(m));
    case 'probe':
      return ok(Number.isSafeInteger(m.round) && keys(m.keys));
    case 'probe-answer':
      return ok(
        Number.isSafeInteger(m.round) &&
          keys(m.running) &&
          keys(m.unknown) &&
          Array.isArray(m.ended) &&
          m.ended.length <= kJobMessageKeysMax &&
          (m.ended as unknown[]).every((e) => typeof e === 'object' && e !== null && typeof (e as { key?: unknown }).key === 'string' && endOk(e as Record<string, unknown>)),
      );
    case 'terminate':
      return ok(keys(m.keys));
    case 'signal':
      return ok(keys(m.keys) && boundedString(m.signal, kJobMessageSignalLengthMax));
    default:
      return null;
  }
}

/** Whether the message goes to a node's coordinator (the rest go to its runner). */
export function isCoordinatorBound(message: JobMessage): boolean {
  return message.t === 'started' || message.t === 'start-failed' || message.t === 'end' || message.t === 'probe-answer';
}

function keys(v: unknown): boolean {
  return Array.isArray(v) && v.length <= kJobMessageKeysMax && v.every((x) => typeof x === 'string');
}

function boundedString(v: unknown, lengthMax: number): boolean {
  return typeof v === 'string' && v.length <= lengthMax;
}

function endOk(e: Record<string, unknown>): boolean {
  return (
    (e.exitCode === null || Number.isSafeInteger(e.exitCode)) &&
    (e.signal === undefined || boundedString(e.signal, kJobMessageSignalLengthMax)) &&
    (e.timedOut === undefined || typeof e.timedOut === 'boolean') &&
    (e.undeliveredBytes === undefined || (Number.isSafeInteger(e.undeliveredBytes) && (e.undeliveredBytes as number) >= 0))
  );
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
