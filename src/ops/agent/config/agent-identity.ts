import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ensureDataDir } from '../../../node/util/agent-data-dir.js';
import { AgentUsageError } from '../../../node/util/agent-usage-error.js';

/** The file in the data directory that holds the node's identity. */
export const kIdentityFileName = 'identity.json';
/** Incarnations travel as unsigned 32-bit integers. */
const kIncarnationMax = 0xffffffff;
const kIdentityBytesMax = 4096;

/** What identity.json holds: the node id (16 hex digits) and the last incarnation used. */
export interface AgentIdentity {
  readonly id: string;
  readonly incarnation: number;
}

/** The identity claimed for this start, and what the caller should log about it. */
export interface ClaimedIdentity extends AgentIdentity {
  /** The file did not exist: a new id was generated. */
  readonly created: boolean;
  /** The wall clock was at or behind the last incarnation (clock stepped back, or restarts within a second). */
  readonly clockBehind: boolean;
  readonly path: string;
}

const kIdentitySchema = z
  .object({
    id: z.string().regex(/^[0-9a-f]{16}$/, 'must be 16 lowercase hex digits'),
    incarnation: z.number().int().min(1).max(kIncarnationMax),
  })
  .strict();

/**
 * incarnation = max(last + 1, wall-clock second): strictly above every earlier life, so
 * the farm takes the restart over its tombstone, and close to the clock, so a lost data
 * directory still comes back higher than before. Pure.
 */
export function nextIncarnation(last: number | null, wallClockMs: number): number {
  const clock = Math.floor(wallClockMs / 1000);
  return last === null ? clock : Math.max(last + 1, clock);
}

/** Reads identity.json: null when it does not exist; AgentUsageError when it is corrupt (never replaced silently). */
export function readIdentity(dataDir: string): AgentIdentity | null {
  const path = join(dataDir, kIdentityFileName);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new AgentUsageError(`identity file ${path}: cannot read it: ${(error as Error).message}`);
  }
  const corrupt = (why: string) => new AgentUsageError(`identity file ${path} is corrupt (${why}); it holds this node's id, so it is not replaced: repair it, or delete it to start as a new node`);
  if (text.length > kIdentityBytesMax) throw corrupt(`larger than ${kIdentityBytesMax} bytes`);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw corrupt(`not JSON: ${(error as Error).message}`);
  }
  const parsed = kIdentitySchema.safeParse(document);
  if (!parsed.success) throw corrupt(parsed.error.issues.map((issue) => `${issue.path.join('.') || 'file'}: ${issue.message}`).join('; '));
  return parsed.data;
}

/**
 * Claims the identity for one start: creates the data directory, reads identity.json
 * (generating a random id on the first start), moves the incarnation past the last one
 * and writes it back durably before the agent joins, so no two lives share one.
 */
export function claimIdentity(dataDir: string, wallClockMs: number, random: (bytes: number) => Buffer = randomBytes): ClaimedIdentity {
  ensureDataDir(dataDir);
  const previous = readIdentity(dataDir);
  const id = previous?.id ?? random(8).toString('hex');
  const incarnation = nextIncarnation(previous?.incarnation ?? null, wallClockMs);
  if (incarnation > kIncarnationMax) throw new AgentUsageError(`identity file ${join(dataDir, kIdentityFileName)}: incarnation ${previous!.incarnation} cannot grow any more`);
  const path = writeIdentity(dataDir, { id, incarnation });
  return { id, incarnation, created: previous === null, clockBehind: previous !== null && previous.incarnation >= Math.floor(wallClockMs / 1000), path };
}

/** Writes identity.json atomically (temporary file, fsync, rename), mode 0600. */
function writeIdentity(dataDir: string, identity: AgentIdentity): string {
  const path = join(dataDir, kIdentityFileName);
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    const fd = openSync(temporary, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(identity)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (error) {
    throw new AgentUsageError(`identity file ${path}: cannot write it: ${(error as Error).message}`);
  }
  return path;
}
