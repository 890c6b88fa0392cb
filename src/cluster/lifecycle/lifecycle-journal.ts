import { z } from 'zod';
import { kComponentNamePattern } from '../../farm/install/package-manifest.js';
import { isSemver } from '../../farm/install/semver.js';
import { kNodeIdPattern } from '../service/cluster-name.js';
import type { LifecycleOperationKind, LifecycleStepEvent } from './lifecycle-operations.js';
import { decodeReplicated } from './lifecycle-record.js';

/**
 * A lifecycle operation's progress as the FMIDB holds it (issue 19: operations survive
 * the agent that runs them). Subject `farm/lifecycle/<cluster>` (beside the cluster's
 * record), key `op/<id>`, JSON, rewritten by the runner before and after every step:
 *
 * - `runner` and `life`: the node running it and that run of its lifecycle (the agent
 *   announces the same life in its `lifecycle` tag), so the steward knows an operation
 *   nobody runs any more: its runner is not alive, or is alive in another life;
 * - `done` and `inflight`: the steps completed and the one under way, each with what
 *   ran before it; the steward rolls them back in reverse (cluster-lifecycle.ts,
 *   recover);
 * - `events`: the latest kJournalEventsMax step events, so `galaxy cluster operations`
 *   shows the operation from any agent after its runner restarted.
 *
 * A cluster keeps its latest kJournalOperationsMax operations; older keys are deleted.
 */
export const kJournalKeyPrefix = 'op/';
export const kJournalEventsMax = 32;
export const kJournalOperationsMax = 8;
/** Steps a journal holds at most: an upgrade of 64 members with 64 components each would not fit an FMIDB value; more are refused. */
export const kJournalStepsMax = 256;

const kComponentSchema = z
  .object({
    name: z.string().regex(kComponentNamePattern),
    version: z.string().refine(isSemver),
    config: z.record(z.unknown()).optional(),
    farm: z.boolean(),
  })
  .strict();

const kStepSchema = z
  .object({
    kind: z.enum(['install', 'remove']),
    node: z.string().regex(kNodeIdPattern),
    component: kComponentSchema,
    previous: kComponentSchema.nullable(),
  })
  .strict();

const kEventSchema = z.object({ seq: z.number().int(), at: z.string().max(40), step: z.string().max(40), node: z.string().max(64).nullable(), text: z.string().max(2048), ok: z.boolean() }).strict();

const kJournalSchema = z
  .object({
    format: z.literal(1),
    id: z.string().regex(/^[0-9a-f]{16}$/),
    kind: z.enum(['create', 'upgrade', 'delete', 'repair']),
    cluster: z.string().max(64),
    profile: z.string().max(128).nullable(),
    by: z.string().max(128),
    runner: z.string().regex(kNodeIdPattern),
    life: z.string().max(32),
    state: z.enum(['running', 'succeeded', 'failed']),
    startedAt: z.string().max(40),
    finishedAt: z.string().max(40).nullable(),
    error: z.string().max(4096).nullable(),
    /** Who finished it when its runner could not (the steward's node id), else null. */
    recoveredBy: z.string().max(64).nullable(),
    done: z.array(kStepSchema).max(kJournalStepsMax),
    inflight: kStepSchema.nullable(),
    events: z.array(kEventSchema).max(kJournalEventsMax),
  })
  .strict();

export type JournalStep = z.infer<typeof kStepSchema>;
export type OperationJournal = z.infer<typeof kJournalSchema>;

export function journalKey(id: string): string {
  return `${kJournalKeyPrefix}${id}`;
}

export function encodeJournal(journal: OperationJournal): string {
  return JSON.stringify(journal);
}

/** A replicated journal checked again: a peer's bad value is no journal (null). */
export function decodeJournal(value: string | number | undefined): OperationJournal | null {
  return decodeReplicated(kJournalSchema, value);
}

/** The journal with one more event, the oldest dropped past kJournalEventsMax. */
export function withEvent(journal: OperationJournal, event: LifecycleStepEvent): OperationJournal {
  const events = [...journal.events, { ...event, text: event.text.slice(0, 2048) }];
  return { ...journal, events: events.length > kJournalEventsMax ? events.slice(events.length - kJournalEventsMax) : events };
}

export interface JournalStart {
  readonly id: string;
  readonly kind: LifecycleOperationKind;
  readonly cluster: string;
  readonly profile: string | null;
  readonly by: string;
  readonly runner: string;
  readonly life: string;
  readonly startedAt: string;
}

export function newJournal(start: JournalStart): OperationJournal {
  return { format: 1, ...start, state: 'running', finishedAt: null, error: null, recoveredBy: null, done: [], inflight: null, events: [] };
}

/**
 * Whether nobody runs a journal's operation any more: its runner is not alive, or runs
 * another life of its lifecycle (it restarted; `lives` maps live nodes to their
 * `lifecycle` tag). Pure, for the steward and its tests.
 */
export function orphaned(journal: Pick<OperationJournal, 'state' | 'runner' | 'life'>, lives: ReadonlyMap<string, string>): boolean {
  if (journal.state !== 'running') return false;
  const life = lives.get(journal.runner);
  return life === undefined || life !== journal.life;
}
