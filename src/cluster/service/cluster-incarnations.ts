import { z } from 'zod';
import { writeFileAtomic } from '../../node/util/atomic-file.js';
import { readJsonFile } from '../../node/util/json-file.js';

/**
 * This node's boot counter per cluster (the ClusterMember's `incarnation`), kept in the
 * agent's data directory (`clusters.json`) so that a restarted agent joins as a new
 * member: the core forgets what it promised when the process dies, and only
 * incarnation-0 members may form a cluster's first view, so a restart must never reuse
 * a number. The counter is written before the core starts (a crash right after still
 * burns the number). Keys are `<name>@<uid>`: a cluster deleted and created again under
 * the same name starts at 0. A `left` mark keeps an operator's `galaxy cluster leave`
 * across restarts of this agent.
 */
export const kClusterStateFileName = 'clusters.json';
/** Entries kept at most; beyond it the oldest (by last use) go, as their clusters are long gone. */
export const kIncarnationEntriesMax = 4096;

const kEntrySchema = z.object({ next: z.number().int().min(0), left: z.boolean(), usedAtMs: z.number() }).strict();
const kFileSchema = z.object({ format: z.literal(1), clusters: z.record(z.string(), kEntrySchema) }).strict();

type Entry = z.infer<typeof kEntrySchema>;

export class ClusterIncarnations {
  private readonly entries: Map<string, Entry>;

  constructor(private readonly file: string) {
    const loaded = readJsonFile(file, kFileSchema, 'the cluster state file');
    this.entries = new Map(Object.entries(loaded?.clusters ?? {}));
  }

  /** Whether this node left the cluster generation `key` on an operator's request. */
  hasLeft(key: string): boolean {
    return this.entries.get(key)?.left ?? false;
  }

  /** The incarnation to start the core with now; the next start gets a higher one (persisted first). */
  take(key: string, nowMs: number): number {
    const entry = this.entries.get(key) ?? { next: 0, left: false, usedAtMs: nowMs };
    const incarnation = entry.next;
    this.entries.set(key, { ...entry, next: incarnation + 1, usedAtMs: nowMs });
    this.save();
    return incarnation;
  }

  markLeft(key: string, nowMs: number): void {
    const entry = this.entries.get(key) ?? { next: 1, left: true, usedAtMs: nowMs };
    this.entries.set(key, { ...entry, left: true, usedAtMs: nowMs });
    this.save();
  }

  private save(): void {
    if (this.entries.size > kIncarnationEntriesMax) {
      const oldest = [...this.entries.entries()].sort((a, b) => a[1].usedAtMs - b[1].usedAtMs);
      for (const [key] of oldest.slice(0, this.entries.size - kIncarnationEntriesMax)) this.entries.delete(key);
    }
    writeFileAtomic(this.file, `${JSON.stringify({ format: 1, clusters: Object.fromEntries(this.entries) })}\n`);
  }
}
