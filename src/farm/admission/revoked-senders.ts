import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../node/util/atomic-file.js';
import { readJsonFile } from '../../node/util/json-file.js';
import { AdmissionError } from './farm-authority.js';

/** The file in a node's data directory holding the senders the farm revoked. */
export const kRevokedSendersFileName = 'revoked-senders.json';
const kNodeIdPattern = /^[0-9a-f]{16}$/;
export const kRevokedSendersFileSchema = z
  .object({
    version: z.literal(1),
    ids: z.array(z.string().regex(kNodeIdPattern)),
  })
  .strict();

/**
 * The nodes this node learnt the farm revoked (a controller's `revoked` broadcast or a
 * revoked decision record), kept in the data directory so they stay refused senders
 * across a restart. A controller also has them in its authority file; any other member
 * has only this: the messenger's directory and the worker's stack hold revocations in
 * memory, and a revoked node may still hold a key the rotation has not yet removed
 * everywhere, so a member restarted without this file would take its messages again.
 * A corrupt file is an error at start, never replaced (like every admission file).
 */
export class RevokedSenders {
  /** Whole-file writes, for tests: one per newly revoked id, none for one already held. */
  writes = 0;

  private constructor(
    readonly path: string,
    private readonly held: Set<string>,
  ) {}

  /** The revocations in `dataDir` (none when the file does not exist). */
  static load(dataDir: string): RevokedSenders {
    const path = join(dataDir, kRevokedSendersFileName);
    let file;
    try {
      file = readJsonFile(path, kRevokedSendersFileSchema, 'revoked senders file');
    } catch (error) {
      throw new AdmissionError('GALAXY_ADMISSION_CORRUPT', (error as Error).message);
    }
    return new RevokedSenders(path, new Set(file?.ids ?? []));
  }

  get ids(): readonly string[] {
    return [...this.held];
  }

  has(id: string): boolean {
    return this.held.has(id);
  }

  /** Records a revoked id, on disk before it returns; false (and no write) when it was held already. */
  add(id: string): boolean {
    if (this.held.has(id)) return false;
    if (!kNodeIdPattern.test(id)) throw new AdmissionError('GALAXY_ADMISSION_INVALID', `not a node id: ${JSON.stringify(id)}`);
    const ids = [...this.held, id].sort();
    writeFileAtomic(this.path, `${JSON.stringify({ version: 1, ids }, null, 2)}\n`);
    this.held.add(id);
    this.writes++;
    return true;
  }
}
