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
 * - `planned`: every step the operation is to take, in order (a create's or upgrade's
 *   installs and removals, a delete's removals, a repair's installs on joining members;
 *   a repair with none has no plan),
 *   written before its first step and known to another lifecycle's replica before that
 *   step is sent (cluster-lifecycle.ts, confirmJournal). A step's side effect can reach
 *   its member before the journal write naming it reaches any other replica (writes are
 *   local first), so `done` and `inflight` as the steward holds them may lack the step
 *   the runner died in; the steward puts back every planned step instead (undoSteps).
 *   With a plan, a step done is journaled as its index in the plan (a 64-member
 *   operation's plan and steps then fit one FMIDB value); doneSteps reads either;
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
    /** The steps done, in order: each a step, or with a plan the index of a planned step. */
    done: z.array(z.union([kStepSchema, z.number().int().min(0).max(kJournalStepsMax - 1)])).max(kJournalStepsMax),
    inflight: kStepSchema.nullable(),
    /** Every step the operation is to take, in order (farm components left out); absent: a repair with no installs, or a journal written before delete and repair plans. */
    planned: z.array(kStepSchema).max(kJournalStepsMax).optional(),
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

/**
 * The steps the steward puts back, in the order they were (to be) taken: undone in
 * reverse (cluster-lifecycle.ts, undo). With a plan, every planned step, done or not:
 * putting back a step that never ran asks a member for what it runs already (the install
 * service answers `unchanged`, a removal of what is not installed `not installed`), so
 * the step the runner died in is put back even when no replica the steward can ask holds
 * the write naming it. Without one (a journal written before plans), the steps done and
 * the one under way. A delete is never put back but finished (cluster-lifecycle.ts,
 * recover); a repair's installs of a member its record names are kept (repairUndoSteps).
 * Pure, for the steward and its tests.
 */
export function undoSteps(journal: Pick<OperationJournal, 'done' | 'inflight' | 'planned'>): JournalStep[] {
  const known = doneAndUnderWay(journal);
  if (journal.planned === undefined) return known;
  const planned = new Set(journal.planned.map(stepKey));
  // A step done that the plan lacks (none today) is put back too, last done first.
  return [...journal.planned, ...known.filter((s) => !planned.has(stepKey(s)))];
}

/** The steps a journal says are done, in order (an index names a planned step; one naming none is left out). */
export function doneSteps(journal: Pick<OperationJournal, 'done' | 'planned'>): JournalStep[] {
  return journal.done.flatMap((d) => (typeof d === 'number' ? (journal.planned?.[d] === undefined ? [] : [journal.planned[d]!]) : [d]));
}

/** The steps done and the one under way. */
export function doneAndUnderWay(journal: Pick<OperationJournal, 'done' | 'inflight' | 'planned'>): JournalStep[] {
  const done = doneSteps(journal);
  return journal.inflight === null ? done : [...done, journal.inflight];
}

/** How a step done is journaled: its index in the plan when the plan names it, else the step. */
export function doneEntry(journal: Pick<OperationJournal, 'planned'>, step: JournalStep): JournalStep | number {
  const index = journal.planned?.findIndex((p) => stepKey(p) === stepKey(step)) ?? -1;
  return index >= 0 ? index : step;
}

function stepKey(s: JournalStep): string {
  return JSON.stringify([s.kind, s.node, s.component.name, s.component.version, s.previous?.version ?? null]);
}

/**
 * The journal as written to the FMIDB, whose values are bounded (valueBytesMax, 16 KiB
 * in the agent): the oldest events dropped until it fits (the operation's own view keeps
 * them all); null when its steps alone do not fit.
 */
export function fitJournal(journal: OperationJournal, bytesMax: number): string | null {
  let text = encodeJournal(journal);
  if (Buffer.byteLength(text) <= bytesMax) return text;
  for (let drop = 1; drop <= journal.events.length; drop++) {
    text = encodeJournal({ ...journal, events: journal.events.slice(drop) });
    if (Buffer.byteLength(text) <= bytesMax) return text;
  }
  return null;
}

/** The farm RPC service a lifecycle answers with the operation journals its replica holds (the steward's gathering, cluster-lifecycle.ts). */
export const kServiceJournals = 'lifecycle.journals';
/** Journals one answer carries at most, running ones first (kJournalOperationsMax are kept per cluster). */
export const kGatheredJournalsMax = 64;

/** A peer's answer to lifecycle.journals, checked again: its journals that decode; anything else is no answer (null). */
export function decodeGathered(answer: unknown): OperationJournal[] | null {
  if (typeof answer !== 'object' || answer === null || !Array.isArray((answer as { journals?: unknown }).journals)) return null;
  const out: OperationJournal[] = [];
  for (const value of ((answer as { journals: unknown[] }).journals).slice(0, kGatheredJournalsMax)) {
    const journal = typeof value === 'string' ? decodeJournal(value) : null;
    if (journal !== null) out.push(journal);
  }
  return out;
}

/**
 * What a lifecycle answers to lifecycle.journals: its journals, running ones first, at
 * most kGatheredJournalsMax, encoded. A body `{id}` asks for that operation's journal
 * alone (a runner checking that another replica holds it: cluster-lifecycle.ts,
 * confirmJournal); any other body, for all.
 */
export function journalsAnswer(journals: readonly OperationJournal[], body?: unknown): { journals: string[] } {
  const id = typeof body === 'object' && body !== null && typeof (body as { id?: unknown }).id === 'string' ? (body as { id: string }).id : null;
  if (id !== null) return { journals: journals.filter((j) => j.id === id).map(encodeJournal) };
  const ordered = [...journals.filter((j) => j.state === 'running'), ...journals.filter((j) => j.state !== 'running')];
  return { journals: ordered.slice(0, kGatheredJournalsMax).map(encodeJournal) };
}

/** Of two copies of one operation's journal, the one further along (its last step event later; the first on a tie). */
export function furtherAlong(a: OperationJournal, b: OperationJournal): OperationJournal {
  const last = (j: OperationJournal) => j.events[j.events.length - 1]?.seq ?? 0;
  return last(b) > last(a) ? b : a;
}

/**
 * The operations the steward takes over, from its own replica's journals and the copies
 * the other lifecycles answered with: per operation the copy furthest along (its own on
 * a tie), when that copy is orphaned. Two things make the copies needed. An FMIDB
 * replica can miss a write for good: a runner's journal written just before it crashed
 * may have reached only some peers, and a restarted node gets its own origin's earlier
 * writes back from the first peer that answers its sync (fmidb-replica.ts,
 * ownBackfilledTo), so the steward (the restarted runner itself, or another controller)
 * may hold no version of the journal. And a steward whose replica lags holds an older
 * version of one, still running, that the runner finished before it died: taken over
 * from that version, a create that succeeded would be undone. A journal's step events
 * only grow, in order, and the writes that change what a steward would do add one (a
 * step started or done, the outcome, a takeover's resume), so the copy with the latest
 * event is the newest; the start of a removal step adds none, and on such a tie the
 * steward's own copy is taken. Pure, for the steward and its tests; `lives` as orphaned takes it.
 */
export function abandonedJournals(own: readonly OperationJournal[], gathered: readonly OperationJournal[], lives: ReadonlyMap<string, string>): OperationJournal[] {
  const newest = new Map<string, OperationJournal>();
  for (const journal of [...own, ...gathered]) {
    const held = newest.get(journal.id);
    newest.set(journal.id, held === undefined ? journal : furtherAlong(held, journal));
  }
  return [...newest.values()].filter((j) => orphaned(j, lives));
}
