import { DomainError } from '../../core/util/domain-error.js';
import type { FarmData } from '../../farm/data/farm-data.js';
import type { PostedEvent } from '../../farm/events/farm-event.js';
import { memberRoles } from '../../farm/install/install-authorization.js';
import { succeeded, type InstallOutcome } from '../../farm/install/install-outcome.js';
import type { AgentLogger } from '../../node/util/agent-logger.js';
import type { MemberView } from '../../core/membership/member-view.js';
import type { ApiEvent } from '../../core/util/api-event.js';
import type { ClusterDesigner, ClusterPlanDocument } from '../designer/cluster-designer.js';
import type { CurrentMember } from '../profiles/cluster-plan.js';
import { componentStartOrder } from '../profiles/cluster-plan.js';
import { kFarmComponentPackages, resolveVersion, type PackageCatalog } from '../profiles/package-catalog.js';
import type { ProfileLibrary } from '../profiles/profile-library.js';
import type { Profile } from '../profiles/profile-schema.js';
import type { ClusterInput, ClusterSummary } from '../service/cluster-service.js';
import { checkNetworks } from '../service/cluster-networks.js';
import { randomBytes } from 'node:crypto';
import { conflicts, describeConflict, holders, holdings, sameCopy } from './component-holders.js';
import { abandonedJournals, decodeGathered, decodeJournal, doneEntry, fitJournal, journalKey, kJournalKeyPrefix, kJournalOperationsMax, kJournalStepsMax, newJournal, orphaned, undoSteps, withEvent, type JournalStep, type OperationJournal } from './lifecycle-journal.js';
import { LifecycleOperations, type LifecycleOperationHandle, type LifecycleOperationKind, type LifecycleOperationView } from './lifecycle-operations.js';
import { decodeLifecycleRecord, encodeLifecycleRecord, kLifecycleSubjectPrefix, lifecycleSubject, kLifecycleRecordKey, roleComponents, type LifecycleComponent, type LifecycleRecord } from './lifecycle-record.js';

/**
 * The cluster lifecycle from a profile (issue 19, item 3), run by an agent that manages
 * the farm (a controller or management node: only those may tell nodes what to run):
 *
 * - create: the Cluster Designer places the profile's roles on live data (placement
 *   rules, counts, anti-affinity); the cluster service's definition is written with the
 *   placed nodes (its cores then agree on views), this module's record beside it
 *   (lifecycle-record.ts: roles, pinned versions), and each role's components are
 *   installed in role start order, on each member in component start order, through the
 *   farm's component installation (install.apply on the member: the package fetched from
 *   peers, verified, started and watched for its settle window; a failing start is rolled
 *   back on that node). A failure undoes everything done, in reverse, and deletes the
 *   cluster.
 * - upgrade: the plan from the current record to the new profile version, applied one
 *   member at a time (each member's steps complete, health being the install service's
 *   settle window, before the next starts); a failure undoes every step already done on
 *   every member, in reverse, and the record keeps the old version.
 * - delete: every member's components removed in reverse start order, then the
 *   definition and the record deleted (tombstones).
 * - repair: the steward (the live controller or management member with the lowest node
 *   id; every such agent runs the lifecycle, with its API on or off, and says so in its
 *   `lifecycle` tag) re-places every cluster when membership or the landscapes change; a member that
 *   died or left the cluster's landscape is replaced by the node the placement rules pick
 *   now, and a new node that qualifies grows the cluster up to its roles' counts. The new
 *   member gets its role's pinned versions. A dead member's components are removed when it
 *   comes back (the record's leftovers).
 *
 * Farm components (measurement, events, jobs, scripts) are part of every agent: a step
 * for one checks that the member runs it (its `components` tag) and never installs or
 * removes it. Every step is an event: on the agent's API stream (kind `lifecycle`) and as
 * a farm event (`cluster.lifecycle.<step>`, source `cluster/<name>`).
 *
 * Components are per node: two clusters sharing a node and a component share one copy
 * (component-holders.ts). Ownership is read from the lifecycle records and the running
 * operations' journals: a removal skips a component another cluster holds, and a
 * placement demanding another version or configuration of a component another cluster
 * holds on that node is refused before anything is done.
 *
 * Operations are journaled in the FMIDB (lifecycle-journal.ts: every operation's whole
 * plan, held by another lifecycle's replica before its first step, then progress before
 * and after each step). The steward finishes or undoes every operation whose runner
 * stopped (not alive, or restarted into another life): an interrupted create is undone
 * (like a delete), an interrupted upgrade rolled back by putting back every planned step
 * (an upgrade whose record already names the new version had finished and is marked
 * so), a repair's planned installs put back (those of a member its record names kept),
 * an interrupted delete finished.
 *
 * The lifecycle removes only what it installed: every install it asks carries its
 * operation as the owner, which the member records when nothing of that name was there,
 * and every removal asks for owned components only (install-service.ts): a component an
 * operator installed by hand is kept through a delete, a shrink, an undo.
 */
export interface LifecycleInstaller {
  /**
   * install.apply on a node (this one directly). With `network`, the whole round trip
   * (request, answer, the package fetch it triggers) goes over that extra network of the
   * member (farm-install.ts applyOn).
   */
  apply(node: string, request: { readonly name: string; readonly version: string; readonly config?: Readonly<Record<string, unknown>>; readonly network?: string; readonly owner?: string }): Promise<InstallOutcome>;
  /**
   * install.remove on a node; with `network`, over that extra network; with `ownedOnly`,
   * the member keeps a component no owner installed (by hand, a rollout) and refuses with
   * GALAXY_INSTALL_NOT_OWNED: the lifecycle removes only what it installed.
   */
  remove(node: string, name: string, network?: string, ownedOnly?: boolean): Promise<InstallOutcome>;
}

export interface ClusterLifecycleOptions {
  readonly selfId: string;
  readonly data: Pick<FarmData, 'view' | 'write' | 'onChange'>;
  readonly clusters: { create(name: string, input: ClusterInput): Promise<ClusterSummary>; redefine(name: string, input: ClusterInput): Promise<ClusterSummary>; remove(name: string): Promise<void>; exists(name: string): boolean };
  readonly designer: ClusterDesigner;
  readonly library: ProfileLibrary;
  readonly catalog: () => PackageCatalog;
  readonly members: () => readonly MemberView[];
  /** Null until this node may install (before admission, after close). */
  readonly installer: () => LifecycleInstaller | null;
  readonly publish: (event: ApiEvent) => void;
  readonly postFarmEvent?: (event: PostedEvent) => void;
  readonly logger: AgentLogger;
  /** Wait after a membership or landscape change before re-placing, ms (changes in a burst coalesce). */
  readonly repairDelayMs?: number;
  /**
   * This run of the lifecycle (the agent announces it in its `lifecycle` tag): journals
   * name it, so the steward tells an operation still running from one whose runner
   * restarted. Default: random.
   */
  readonly life?: string;
  /**
   * Asks another node's lifecycle for the running operations its replica holds (farm RPC
   * lifecycle.journals, agent-lifecycle.ts); rejects when it cannot be asked. Without it
   * the steward knows only what its own replica holds (see gatherJournals).
   */
  readonly askJournals?: (node: string, body?: { readonly id: string }) => Promise<unknown>;
  /** The FMIDB's largest value, bytes (valueBytesMax; 16 KiB in the agent): a journal is fitted to it (lifecycle-journal.ts, fitJournal). */
  readonly journalBytesMax?: number;
  /** How long a new create or upgrade waits for another lifecycle's replica to hold its journal before its first step, ms (confirmJournal). */
  readonly journalConfirmMs?: number;
  /**
   * The extra network a cluster's member takes its administrative traffic on (issue 19:
   * the profile's `admin` selection, cluster-networks.ts adminNetwork), or undefined:
   * its farm address. Every install and removal of that member is routed there.
   */
  readonly adminNetwork?: (cluster: string, node: string) => string | undefined;
}

export const kRepairDelayMsDefault = 1_000;
/** After a removal a node refused (busy after its start, unreachable), the next try, ms. */
const kCleanupRetryMs = 3_000;
/**
 * How long after its start a lifecycle waits before acting as the steward, ms: a restarted
 * agent's replica starts from its last snapshot (up to a minute old after a crash) and
 * catches up from its peers within a few gossip rounds; acting earlier could repeat the
 * recovery of an operation another steward has finished meanwhile, or repair from an old
 * record.
 */
export const kStewardStartGraceMs = 5_000;
/** A steward asks the other lifecycles for their journals at most this often, ms (gatherJournals). */
const kGatherIntervalMs = 5_000;
/** And asks at most this many of them: the controllers and management members first, then others at random. */
const kGatherPeersMax = 64;
/** The agent's FMIDB value bound (farm-data.ts), the default of journalBytesMax. */
const kJournalBytesMaxDefault = 16_384;
/** How long a new create or upgrade waits for another lifecycle to hold its journal (confirmJournal), ms: gossip takes up to a few seconds on a loaded machine. */
export const kJournalConfirmMsDefault = 15_000;
/** Lifecycles asked per round of that wait (the controllers and management members first). */
const kJournalConfirmPeers = 4;
/** How long a farm-component check waits for the member to announce it, ms. */
const kFarmComponentWaitMs = 15_000;

export interface CreateRequest {
  readonly name: string;
  /** name, name@version or name@range (resolved to the highest stored version in range). */
  readonly profile: string;
  readonly on?: string | null;
}

/** One thing done to a node, and how to undo it. */
interface Step {
  readonly kind: 'install' | 'remove';
  readonly node: string;
  readonly component: LifecycleComponent;
  /** For an install over an older version, or a removal: what ran before (null: nothing). */
  readonly previous: LifecycleComponent | null;
}

const kRunning = new Set(['alive', 'suspect']);
/** How long a node that failed to run a role's components is not placed again by a repair, ms. */
const kRefusedMs = 5 * 60_000;

export class ClusterLifecycle {
  readonly operations = new LifecycleOperations();
  readonly life: string;
  private readonly busy = new Map<string, string>();
  /** The journals of the operations this node runs now, by operation id; written to the FMIDB in order. */
  private readonly journaling = new Map<string, { journal: OperationJournal; writes: Promise<void> }>();
  /** Nodes whose install failed during a repair, with when: not placed again for kRefusedMs. */
  private readonly refused = new Map<string, number>();
  private repairTimer: NodeJS.Timeout | null = null;
  /** Clusters whose leftovers could not all be removed: not cleaned again before this time. */
  private readonly retryAtMs = new Map<string, number>();
  private readonly unsubscribe: () => void;
  private readonly startedAtMs = Date.now();
  private closed = false;
  /** The journals the other lifecycles answered with when this steward last gathered (abandonedJournals picks per operation); see gatherJournals. */
  private gathered: OperationJournal[] = [];
  /** The lifecycle nodes and their lives when this steward last looked; null: not the steward then. */
  private stewardSaw: Map<string, string> | null = null;
  /** A gathering is due (the steward saw a change it has not asked about yet), running, and when the last began. */
  private gatherDue = false;
  private gathering = false;
  private gatheredAtMs = -Infinity;

  constructor(private readonly options: ClusterLifecycleOptions) {
    this.life = options.life ?? randomBytes(8).toString('hex');
    this.unsubscribe = options.data.onChange(() => this.scheduleRepair());
    // On start: a steward looks for operations left unfinished by a runner that stopped.
    this.scheduleRepair();
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    if (this.repairTimer !== null) clearTimeout(this.repairTimer);
    this.repairTimer = null;
  }

  /** Farm membership changed: a member may have died or come back. */
  membershipChanged(): void {
    this.scheduleRepair();
  }

  records(): LifecycleRecord[] {
    const out: LifecycleRecord[] = [];
    for (const subject of this.options.data.view.subjects()) {
      if (!subject.startsWith(kLifecycleSubjectPrefix)) continue;
      const record = decodeLifecycleRecord(this.options.data.view.get(subject, kLifecycleRecordKey));
      if (record !== null && lifecycleSubject(record.name) === subject) out.push(record);
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  record(name: string): LifecycleRecord | null {
    return decodeLifecycleRecord(this.options.data.view.get(lifecycleSubject(name), kLifecycleRecordKey));
  }

  /** An operation this node runs or ran, else its journal in the FMIDB (run by another node, or by this one before a restart). */
  operation(id: string, after: number): LifecycleOperationView {
    if (this.operations.has(id)) return this.operations.get(id, after);
    const journal = this.journals().find((j) => j.id === id);
    if (journal === undefined) return this.operations.get(id, after);
    return journalView(journal, after);
  }

  /** The operations this node ran, then those the FMIDB's journals hold that it did not run; newest first. */
  operationList(): LifecycleOperationView[] {
    const here = this.operations.list();
    const seen = new Set(here.map((o) => o.id));
    const elsewhere = this.journals().filter((j) => !seen.has(j.id)).map((j) => ({ ...journalView(j, 0), events: [] }));
    return [...here, ...elsewhere].sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0));
  }

  /** Every operation journal in the FMIDB (every cluster's latest kJournalOperationsMax). */
  journals(): OperationJournal[] {
    const out: OperationJournal[] = [];
    for (const subject of this.options.data.view.subjects()) {
      if (!subject.startsWith(kLifecycleSubjectPrefix)) continue;
      for (const entry of this.options.data.view.entriesOf(subject)) {
        if (!entry.key.startsWith(kJournalKeyPrefix)) continue;
        const journal = decodeJournal(entry.value);
        if (journal !== null && lifecycleSubject(journal.cluster) === subject && journalKey(journal.id) === entry.key) out.push(journal);
      }
    }
    return out;
  }

  /** Which clusters hold which component on which node (component-holders.ts). */
  holdings(): ReturnType<typeof holdings> {
    return holdings(this.records(), this.journals());
  }

  // ---- create -------------------------------------------------------------------------

  /** Checks and places now (a bad request fails here), then runs the create; answers its operation at once. */
  create(request: CreateRequest, by: string): LifecycleOperationView {
    const { name } = request;
    this.mustBeFree(name);
    const live = this.record(name);
    if ((live !== null && !live.deleted) || this.options.clusters.exists(name)) throw new DomainError('conflict', 'GALAXY_CLUSTER_EXISTS', `a cluster named "${name}" exists; delete it first`);
    const installer = this.mustInstall();
    const { ref, profile } = this.options.library.profile({ ref: request.profile });
    const plan = this.options.designer.plan({ profile: { ref }, on: request.on ?? null, name });
    if (plan.blocked.length > 0) throw new DomainError('conflict', 'GALAXY_LIFECYCLE_BLOCKED', `cannot create ${name} from ${ref}: ${plan.blocked.join('; ')}`);
    mustSendTo(name, ref, plan.members);
    const record: LifecycleRecord = {
      format: 1,
      name,
      profile: ref,
      on: request.on ?? null,
      roles: this.pinnedRoles(profile, plan),
      members: plan.members.map((m) => ({ node: m.node, role: m.role })),
      leftovers: [],
      updatedAtMs: Date.now(),
      deleted: false,
    };
    this.refuseConflicts(name, record);
    // Every install the create will do, in order: journaled before the first (undoSteps).
    const planned: Step[] = record.roles.flatMap((role) => record.members.filter((m) => m.role === role.role).flatMap((m) => role.components.filter((c) => !c.farm).map((component) => ({ kind: 'install' as const, node: m.node, component, previous: null }))));
    this.mustJournal(name, planned);
    return this.run('create', name, ref, by, planned, async (op) => {
      for (const line of plan.lines) op.event('plan', null, line);
      for (const decision of plan.placement.decisions.filter((d) => d.outcome !== 'skipped')) this.note(op, name, 'placement', decision.node, `${decision.node} gets role ${decision.role}: ${decision.reason}`);
      await this.writeRecord(record);
      await this.options.clusters.create(name, { nodes: record.members.map((m) => m.node), profile: ref, tuning: clusterTuningOf(profile), networks: memberNetworks(plan.members) });
      this.note(op, name, 'definition', null, `cluster ${name} defined with ${record.members.length} member(s); their cores form its views`);
      const done: Step[] = [];
      try {
        for (const role of record.roles) {
          const members = record.members.filter((m) => m.role === role.role);
          if (members.length === 0) continue;
          this.note(op, name, 'role', null, `role ${role.role}: installing ${role.components.map((c) => `${c.name}@${c.version}`).join(', ') || 'nothing'} on ${members.length} member(s)`);
          // The members of one role in parallel, each member's components in start order.
          const results = await Promise.allSettled(members.map((m) => this.installAll(op, name, installer, m.node, role.role, role.components, done)));
          const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
          if (failed !== undefined) throw failed.reason;
        }
      } catch (error) {
        await this.undo(op, name, installer, done);
        await this.options.clusters.remove(name).catch(() => undefined);
        await this.writeRecord({ ...record, deleted: true, updatedAtMs: Date.now() });
        this.note(op, name, 'rollback', null, `create failed; everything done was undone and cluster ${name} deleted`, false);
        throw error;
      }
      this.note(op, name, 'done', null, `cluster ${name} created from ${ref}: ${record.members.map((m) => `${m.node} (${m.role})`).join(', ')}`);
    });
  }

  // ---- upgrade ------------------------------------------------------------------------

  upgrade(name: string, profileRef: string, by: string): LifecycleOperationView {
    this.mustBeFree(name);
    const record = this.liveRecord(name);
    const installer = this.mustInstall();
    const { ref, profile } = this.options.library.profile({ ref: profileRef });
    const current: CurrentMember[] = record.members.map((m) => ({ node: m.node, role: m.role, components: roleComponents(record, m.role).map((c) => ({ package: c.name, version: c.version })) }));
    const plan = this.options.designer.plan({ profile: { ref }, on: record.on, name, current });
    if (plan.blocked.length > 0) throw new DomainError('conflict', 'GALAXY_LIFECYCLE_BLOCKED', `cannot upgrade ${name} to ${ref}: ${plan.blocked.join('; ')}`);
    mustSendTo(name, ref, plan.members);
    const roles = this.pinnedRoles(profile, plan);
    const next: LifecycleRecord = { ...record, profile: ref, roles, members: plan.members.map((m) => ({ node: m.node, role: m.role })), updatedAtMs: Date.now() };
    this.refuseConflicts(name, next);
    // One member at a time, in the plan's order (roles in start order); every step known now and journaled before the first (undoSteps).
    const byNode = new Map<string, Step[]>();
    for (const action of plan.actions) {
      const before = record.members.find((m) => m.node === action.node);
      let step: Step | null = null;
      if (action.kind === 'install' || action.kind === 'upgrade' || action.kind === 'downgrade') {
        const component = roleComponents(next, action.role).find((c) => c.name === action.package)!;
        const previous = before === undefined ? null : (roleComponents(record, before.role).find((c) => c.name === action.package) ?? null);
        step = { kind: 'install', node: action.node, component, previous };
      } else if (action.kind === 'remove-component') {
        const component = (before === undefined ? null : roleComponents(record, before.role).find((c) => c.name === action.package)) ?? { name: action.package, version: action.version, farm: false };
        step = { kind: 'remove', node: action.node, component, previous: component };
      }
      byNode.set(action.node, [...(byNode.get(action.node) ?? []), ...(step === null ? [] : [step])]);
    }
    const planned = [...byNode.values()].flat().filter((s) => !s.component.farm);
    this.mustJournal(name, planned);
    return this.run('upgrade', name, ref, by, planned, async (op) => {
      for (const line of plan.lines) op.event('plan', null, line);
      const done: Step[] = [];
      let index = 0;
      try {
        for (const [node, steps] of byNode) {
          index++;
          const after = next.members.find((m) => m.node === node);
          this.note(op, name, 'member', node, `member ${index} of ${byNode.size}: ${node}${after === undefined ? ' leaves' : ` (${after.role})`}`);
          for (const step of steps) await this.step(op, name, installer, step, done);
          this.note(op, name, 'healthy', node, `${node} runs its components of ${ref}`);
        }
      } catch (error) {
        await this.undo(op, name, installer, done);
        this.note(op, name, 'rollback', null, `upgrade to ${ref} failed at member ${index} of ${byNode.size}; every change was rolled back: ${name} stays on ${record.profile}`, false);
        throw error;
      }
      await this.writeRecord(next);
      await this.options.clusters.redefine(name, { nodes: next.members.map((m) => m.node), profile: ref, networks: memberNetworks(plan.members) });
      this.note(op, name, 'done', null, `cluster ${name} upgraded from ${record.profile} to ${ref}`);
    });
  }

  // ---- delete -------------------------------------------------------------------------

  delete(name: string, by: string): LifecycleOperationView {
    this.mustBeFree(name);
    const record = this.liveRecord(name);
    const installer = this.mustInstall();
    // Every removal the delete will do, in order: journaled, and held by another lifecycle, before the first.
    const planned = teardownSteps(record, this.aliveIds());
    this.mustJournal(name, planned);
    return this.run('delete', name, record.profile, by, planned, (op) => this.teardown(op, record, installer));
  }

  /** Every live member's components removed (those no other cluster holds), the definition and the record deleted. */
  private async teardown(op: LifecycleOperationHandle, record: LifecycleRecord, installer: LifecycleInstaller): Promise<void> {
    const { name } = record;
    const alive = this.aliveIds();
    const leftovers = [...record.leftovers];
    for (const role of [...record.roles].reverse()) {
      for (const member of record.members.filter((m) => m.role === role.role)) {
        const names = [...role.components].reverse().filter((c) => !c.farm);
        if (!alive.has(member.node)) {
          if (names.length > 0) leftovers.push({ node: member.node, components: names.map((c) => c.name) });
          this.note(op, name, 'remove', member.node, `${member.node} is not alive: its components are removed when it comes back`);
          continue;
        }
        const kept: string[] = [];
        for (const component of names) {
          const step: Step = { kind: 'remove', node: member.node, component, previous: component };
          await this.journalStep(op, step, 'start');
          if (await this.removeOne(op, name, installer, member.node, component.name)) await this.journalStep(op, step, 'done');
          else {
            await this.journalStep(op, step, 'failed');
            kept.push(component.name);
          }
        }
        if (kept.length > 0) leftovers.push({ node: member.node, components: kept });
      }
    }
    if (this.options.clusters.exists(name)) await this.options.clusters.remove(name);
    await this.writeRecord({ ...record, members: [], leftovers, deleted: true, updatedAtMs: Date.now() });
    this.note(op, name, 'done', null, `cluster ${name} deleted; its components are stopped and removed (those another cluster holds kept)`);
  }

  // ---- repair (grow, shrink, replace) -------------------------------------------------------

  /**
   * Whether this node re-places clusters and finishes abandoned operations: the live
   * controller or management member with the lowest id. Every such agent runs the
   * lifecycle, API on or off, and announces it (tag `lifecycle`: its life); the tag only
   * leaves out an agent still starting.
   */
  isSteward(): boolean {
    const managers = this.options.members().filter((m) => (m.self || kRunning.has(m.status)) && (m.tags['lifecycle'] ?? '') !== '' && memberRoles(m).some((r) => r === 'controller' || r === 'management'));
    const lowest = managers.map((m) => m.id).sort()[0];
    return lowest === this.options.selfId;
  }

  /** Live nodes and the life of their lifecycle (tag `lifecycle`); this node's own life always. */
  private lives(): Map<string, string> {
    const lives = new Map<string, string>();
    for (const m of this.options.members()) if (kRunning.has(m.status) && (m.tags['lifecycle'] ?? '') !== '') lives.set(m.id, m.tags['lifecycle']!);
    lives.set(this.options.selfId, this.life);
    return lives;
  }

  private scheduleRepair(delayMs = this.options.repairDelayMs ?? kRepairDelayMsDefault): void {
    if (this.closed || this.repairTimer !== null) return;
    this.repairTimer = setTimeout(() => {
      this.repairTimer = null;
      void this.repairAll().catch((error: Error) => this.options.logger.warn({ error: error.message }, 'cluster repair failed'));
    }, delayMs);
    this.repairTimer.unref?.();
  }

  /** Re-places every cluster made from a profile (the steward only). */
  async repairAll(): Promise<void> {
    if (this.closed) return;
    if (!this.isSteward()) {
      this.stewardSaw = null;
      this.gathered = [];
      return;
    }
    const installer = this.options.installer();
    if (installer === null) return;
    const graceMs = this.startedAtMs + kStewardStartGraceMs - Date.now();
    if (graceMs > 0) {
      this.scheduleRepair(graceMs);
      return;
    }
    // Nothing is taken over while a gathering is due or under way: it may bring a newer copy.
    if (this.gatherJournals()) this.recoverAbandoned(installer);
    const now = Date.now();
    for (const record of this.records()) {
      if (this.busy.has(record.name) || this.runningElsewhere(record.name) !== null) continue;
      const alive = this.aliveIds();
      const retryAt = this.retryAtMs.get(record.name) ?? 0;
      const cleanup = record.leftovers.some((l) => alive.has(l.node));
      if (cleanup && retryAt > now) {
        this.scheduleRepair(retryAt - now);
        continue;
      }
      if (cleanup || (!record.deleted && this.needsRepair(record))) {
        let plan: RepairPlan;
        try {
          plan = this.repairPlan(record);
          this.mustJournal(record.name, plan.planned);
        } catch (error) {
          this.options.logger.warn({ cluster: record.name, error: (error as Error).message }, 'cluster repair not planned');
          continue;
        }
        // The installs of joining members, journaled and held by another lifecycle before the first (a steward undoes them if this runner stops).
        const op = this.run('repair', record.name, record.profile, 'steward', plan.planned.length === 0 ? undefined : plan.planned, (handle) => this.repair(handle, record, installer, plan));
        this.options.logger.info({ cluster: record.name, operation: op.id, planned: plan.planned.length }, 'cluster repair started');
      }
    }
  }

  private placementOf(record: LifecycleRecord): ClusterPlanDocument {
    const current: CurrentMember[] = record.members.map((m) => ({ node: m.node, role: m.role, components: roleComponents(record, m.role).map((c) => ({ package: c.name, version: c.version })) }));
    return this.options.designer.plan({ profile: { ref: record.profile }, on: record.on, name: record.name, current });
  }

  /** Where the placement rules put the members now; a node refused lately is left out unless it is a member already. */
  private placedMembers(record: LifecycleRecord): Array<{ node: string; role: string }> {
    const now = Date.now();
    for (const [node, at] of this.refused) if (now - at > kRefusedMs) this.refused.delete(node);
    const plan = this.placementOf(record);
    return plan.members.filter((m) => !this.refused.has(m.node) || record.members.some((r) => r.node === m.node)).map((m) => ({ node: m.node, role: m.role }));
  }

  private needsRepair(record: LifecycleRecord): boolean {
    try {
      const placed = this.placedMembers(record);
      const key = (list: ReadonlyArray<{ node: string; role: string }>) => list.map((m) => `${m.node}/${m.role}`).sort().join(',');
      return key(placed) !== key(record.members);
    } catch (error) {
      this.options.logger.warn({ cluster: record.name, error: (error as Error).message }, 'cluster placement failed');
      return false;
    }
  }

  /**
   * What a repair will do, known before its first step: the members leaving and joining
   * (the placement now), the joining ones refused for a conflicting component, and every
   * install of the joining ones in order (the journal's plan; a steward puts each back if
   * this runner stops midway). A deleted record's repair only cleans its leftovers.
   */
  private repairPlan(record: LifecycleRecord): RepairPlan {
    const alive = this.aliveIds();
    if (record.deleted) return { alive, leaving: [], joining: [], clashes: new Map(), planned: [] };
    let placed: Array<{ node: string; role: string }>;
    try {
      placed = this.placedMembers(record);
    } catch (error) {
      // A placement that fails now (its profile or landscape gone) still lets the leftovers be cleaned: no member changes.
      if (!record.leftovers.some((l) => alive.has(l.node))) throw error;
      placed = record.members.map((m) => ({ node: m.node, role: m.role }));
    }
    const same = (a: { node: string; role: string }, b: { node: string; role: string }) => a.node === b.node && a.role === b.role;
    const leaving = record.members.filter((m) => !placed.some((p) => same(p, m)));
    const joining = placed.filter((p) => !record.members.some((m) => same(p, m)));
    const clashes = new Map<string, string[]>();
    const records = this.records();
    const journals = this.journals();
    for (const member of joining) {
      const clash = roleComponents(record, member.role).flatMap((c) => {
        const held = conflicts(records, journals, member.node, c, record.name);
        return held.length === 0 ? [] : [describeConflict(member.node, member.role, c, held)];
      });
      if (clash.length > 0) clashes.set(member.node, clash);
    }
    const planned: Step[] = joining.filter((m) => !clashes.has(m.node)).flatMap((m) => roleComponents(record, m.role).filter((c) => !c.farm).map((component) => ({ kind: 'install' as const, node: m.node, component, previous: null })));
    return { alive, leaving, joining, clashes, planned };
  }

  private async repair(op: LifecycleOperationHandle, record: LifecycleRecord, installer: LifecycleInstaller, plan: RepairPlan): Promise<void> {
    const { name } = record;
    const { alive } = plan;
    const leftovers: LifecycleRecord['leftovers'] = [];
    for (const leftover of record.leftovers) {
      if (!alive.has(leftover.node)) {
        leftovers.push(leftover);
        continue;
      }
      this.note(op, name, 'cleanup', leftover.node, `${leftover.node} is back: removing what it ran for ${name}`);
      const kept: string[] = [];
      for (const component of leftover.components) if (!(await this.removeOne(op, name, installer, leftover.node, component))) kept.push(component);
      if (kept.length > 0) {
        // A node that just started refuses removals until it knows the farm's desired state: later.
        leftovers.push({ node: leftover.node, components: kept });
        this.retryAtMs.set(name, Date.now() + kCleanupRetryMs);
      }
    }
    if (record.deleted) {
      await this.writeRecord({ ...record, leftovers, updatedAtMs: Date.now() });
      return;
    }
    const { leaving, joining } = plan;
    const members = record.members.filter((m) => !leaving.includes(m));
    for (const member of leaving) {
      const components = [...roleComponents(record, member.role)].reverse().filter((c) => !c.farm);
      const why = alive.has(member.node) ? 'no longer placed (its landscape or the placement rules changed)' : 'is not alive';
      this.note(op, name, 'leave', member.node, `${member.node} (${member.role}) leaves ${name}: ${why}`);
      if (!alive.has(member.node)) {
        if (components.length > 0) leftovers.push({ node: member.node, components: components.map((c) => c.name) });
        continue;
      }
      const kept: string[] = [];
      for (const component of components) if (!(await this.removeOne(op, name, installer, member.node, component.name))) kept.push(component.name);
      if (kept.length > 0) {
        leftovers.push({ node: member.node, components: kept });
        this.retryAtMs.set(name, Date.now() + kCleanupRetryMs);
      }
    }
    for (const member of joining) {
      const clash = plan.clashes.get(member.node) ?? [];
      if (clash.length > 0) {
        this.refused.set(member.node, Date.now());
        this.note(op, name, 'refused', member.node, `${member.node} is not placed in ${name}: ${clash.join('; ')}`, false);
        continue;
      }
      this.note(op, name, 'join', member.node, `${member.node} joins ${name} as ${member.role} (${record.members.some((m) => m.role === member.role && !alive.has(m.node)) ? 'replacing a dead member' : 'picked by the placement rules'})`);
      const done: Step[] = [];
      try {
        await this.installAll(op, name, installer, member.node, member.role, roleComponents(record, member.role), done);
        members.push(member);
      } catch {
        await this.undo(op, name, installer, done);
        this.refused.set(member.node, Date.now());
        this.note(op, name, 'refused', member.node, `${member.node} could not run the components of ${member.role}; it is not placed again for 5 minutes`, false);
      }
    }
    const next: LifecycleRecord = { ...record, members, leftovers, updatedAtMs: Date.now() };
    await this.writeRecord(next);
    if (leaving.length > 0 || joining.length > 0) await this.options.clusters.redefine(name, { nodes: members.map((m) => m.node), networks: memberNetworks(this.placementOf(next).members.filter((p) => members.some((m) => m.node === p.node) && sendable(p))) });
    const short = record.roles.length === 0 ? [] : this.placementOf(next).placement.problems;
    for (const problem of short) this.note(op, name, 'degraded', null, `${name} is short: ${problem}`, false);
    this.note(op, name, 'done', null, `cluster ${name} now: ${members.map((m) => `${m.node} (${m.role})`).join(', ') || 'no members'}`);
  }

  // ---- steps --------------------------------------------------------------------------

  private async installAll(op: LifecycleOperationHandle, cluster: string, installer: LifecycleInstaller, node: string, role: string, components: readonly LifecycleComponent[], done: Step[]): Promise<void> {
    for (const component of components) await this.step(op, cluster, installer, { kind: 'install', node, component, previous: null }, done);
    this.note(op, cluster, 'member-ready', node, `${node} runs every component of role ${role}`);
  }

  /** Does one step and records it for undo; throws a DomainError when it failed. */
  private async step(op: LifecycleOperationHandle, cluster: string, installer: LifecycleInstaller, step: Step, done: Step[]): Promise<void> {
    const { node, component } = step;
    if (component.farm) {
      if (step.kind === 'install') await this.checkFarmComponent(op, cluster, node, component.name);
      return;
    }
    const what = `${component.name}@${component.version}`;
    if (step.kind === 'remove') {
      await this.journalStep(op, step, 'start');
      await this.removeOne(op, cluster, installer, node, component.name);
      done.push(step);
      await this.journalStep(op, step, 'done');
      return;
    }
    const held = holders(this.records(), this.journals(), node, component.name, cluster);
    const clash = held.filter((h) => !sameCopy(h.component, component));
    if (clash.length > 0) {
      this.note(op, cluster, 'conflict', node, describeConflict(node, '-', component, clash), false);
      throw new DomainError('conflict', 'GALAXY_LIFECYCLE_VERSION_CONFLICT', describeConflict(node, '-', component, clash));
    }
    if (held.length > 0 && step.previous === null) {
      // Another cluster runs this very copy here: shared, nothing to install (nor to undo).
      this.note(op, cluster, 'shared', node, `${what} on ${node}: runs already for cluster ${held.map((h) => h.cluster).join(', ')}; shared`);
      return;
    }
    const verb = step.previous === null ? 'install' : 'upgrade';
    this.note(op, cluster, `${verb}-start`, node, `${verb} ${step.previous === null ? what : `${component.name} ${step.previous.version} → ${component.version}`} on ${node} ...`);
    let outcome: InstallOutcome;
    await this.journalStep(op, step, 'start');
    try {
      outcome = await installer.apply(node, { name: component.name, version: component.version, ...(component.config === undefined ? {} : { config: component.config }), ...this.adminRoute(cluster, node), owner: ownerOf(cluster, op.id) });
    } catch (error) {
      this.note(op, cluster, verb, node, `${what} on ${node}: could not ask: ${(error as Error).message}`, false);
      throw new DomainError('upstream-failed', 'GALAXY_LIFECYCLE_STEP_FAILED', `${verb} ${what} on ${node}: ${(error as Error).message}`);
    }
    if (!succeeded(outcome)) {
      // The node rolled its own start back: nothing of this step is left to undo.
      await this.journalStep(op, step, 'failed');
      this.note(op, cluster, verb, node, `${what} on ${node}: ${outcome.result}${outcome.error === null ? '' : ` (${outcome.error.code}: ${outcome.error.message})`}`, false);
      throw new DomainError('upstream-failed', 'GALAXY_LIFECYCLE_STEP_FAILED', `${verb} ${what} on ${node}: ${outcome.result}${outcome.error === null ? '' : `: ${outcome.error.message}`}`);
    }
    done.push(step);
    this.note(op, cluster, verb, node, `${what} on ${node}: ${outcome.result}, running`);
    await this.journalStep(op, step, 'done');
  }

  /** Removes a component from a node; false when it could not be (the node is busy, unreachable, refuses). */
  private async removeOne(op: LifecycleOperationHandle, cluster: string, installer: LifecycleInstaller, node: string, name: string): Promise<boolean> {
    const held = holders(this.records(), this.journals(), node, name, cluster);
    if (held.length > 0) {
      this.note(op, cluster, 'kept', node, `${name} on ${node}: kept, cluster ${held.map((h) => h.cluster).join(', ')} holds it too`);
      return true;
    }
    try {
      const outcome = await installer.remove(node, name, this.adminRoute(cluster, node).network, true);
      this.note(op, cluster, 'remove', node, `${name} on ${node}: ${outcome.result}`, succeeded(outcome));
      return succeeded(outcome);
    } catch (error) {
      const code = (error as { code?: string }).code;
      // Installed there by hand or by a rollout, not by a lifecycle: never the lifecycle's to remove.
      if (code === 'GALAXY_INSTALL_NOT_OWNED' || /not installed by the cluster lifecycle/.test((error as Error).message)) {
        this.note(op, cluster, 'kept', node, `${name} on ${node}: kept, it was not installed by the cluster lifecycle (by hand or by a rollout)`);
        return true;
      }
      // Not installed (any more): nothing to remove.
      if (code === 'GALAXY_INSTALL_NOT_INSTALLED' || /not installed/.test((error as Error).message)) {
        this.note(op, cluster, 'remove', node, `${name} on ${node}: not installed`);
        return true;
      }
      this.note(op, cluster, 'remove', node, `${name} on ${node}: not removed: ${(error as Error).message}`, false);
      return false;
    }
  }

  private async checkFarmComponent(op: LifecycleOperationHandle, cluster: string, node: string, name: string): Promise<void> {
    const deadline = Date.now() + kFarmComponentWaitMs;
    for (;;) {
      const member = this.options.members().find((m) => m.id === node);
      const kinds = (member?.tags['components'] ?? '').split(',');
      if (kinds.includes(name)) {
        this.note(op, cluster, 'check', node, `${name} (a farm component) runs on ${node}`);
        return;
      }
      if (Date.now() > deadline) {
        this.note(op, cluster, 'check', node, `${name} (a farm component) does not run on ${node}: start its agent with it`, false);
        throw new DomainError('upstream-failed', 'GALAXY_LIFECYCLE_STEP_FAILED', `${name} does not run on ${node}; farm components are not installed from packages`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** Undoes steps in reverse: an install is removed (or the previous version put back), a removal installed again. */
  private async undo(op: LifecycleOperationHandle, cluster: string, installer: LifecycleInstaller, done: readonly Step[]): Promise<void> {
    for (const step of [...done].reverse()) {
      const back = step.kind === 'install' ? step.previous : step.component;
      if (back === null) {
        await this.removeOne(op, cluster, installer, step.node, step.component.name);
        continue;
      }
      try {
        const outcome = await installer.apply(step.node, { name: back.name, version: back.version, ...(back.config === undefined ? {} : { config: back.config }), ...this.adminRoute(cluster, step.node), owner: ownerOf(cluster, op.id) });
        this.note(op, cluster, 'rollback', step.node, `${back.name}@${back.version} on ${step.node}: ${outcome.result}`, succeeded(outcome));
      } catch (error) {
        this.note(op, cluster, 'rollback', step.node, `${back.name}@${back.version} on ${step.node}: not restored: ${(error as Error).message}`, false);
      }
    }
  }

  // ---- helpers ------------------------------------------------------------------------

  /** The route of a member's administrative traffic: `{ network }` when its profile puts it on an extra network. */
  private adminRoute(cluster: string, node: string): { network?: string } {
    const network = this.options.adminNetwork?.(cluster, node);
    return network === undefined ? {} : { network };
  }

  /** Each role's components in start order at the versions the plan resolved (farm components at this agent's). */
  private pinnedRoles(profile: Profile, plan: ClusterPlanDocument): LifecycleRecord['roles'] {
    const catalog = this.options.catalog();
    return plan.placement.roles.map((outcome) => {
      const role = profile.roles[outcome.role]!;
      const components = componentStartOrder(role).map((name) => {
        const entry = role.components.find((c) => c.package === name)!;
        const version = resolveVersion(catalog, name, entry.version);
        if (version === null) throw new DomainError('conflict', 'GALAXY_LIFECYCLE_BLOCKED', `${name} ${entry.version} (role ${outcome.role}): no known version in range`);
        return { name, version, ...(entry.config === undefined ? {} : { config: entry.config as Record<string, unknown> }), farm: (kFarmComponentPackages as readonly string[]).includes(name) };
      });
      return { role: outcome.role, components };
    });
  }

  /**
   * Starts an operation (or resumes an abandoned one under its id) with its journal in the
   * FMIDB; answers its view at once. With `planned` (a new create or upgrade), the journal
   * names every step before the first, and the first waits until another lifecycle's
   * replica holds it (confirmJournal).
   */
  private run(kind: LifecycleOperationKind, cluster: string, profile: string | null, by: string, planned: readonly Step[] | undefined, work: (op: LifecycleOperationHandle) => Promise<void>, resume?: OperationJournal, resumedBecause?: string): LifecycleOperationView {
    const op = this.operations.begin(kind, cluster, profile, by, resume);
    this.busy.set(cluster, op.id);
    const startedAt = this.operations.get(op.id).startedAt;
    const journal: OperationJournal = resume === undefined
      ? { ...newJournal({ id: op.id, kind, cluster, profile, by, runner: this.options.selfId, life: this.life, startedAt }), ...(planned === undefined ? {} : { planned: planned.map(journalStepOf) }) }
      : { ...resume, runner: this.options.selfId, life: this.life, recoveredBy: this.options.selfId };
    const entry = { journal, writes: this.pruneJournals(cluster, op.id) };
    this.journaling.set(op.id, entry);
    // The first write of a resumed operation carries the steward's resume event: a copy
    // with it is further along than the abandoned one (lifecycle-journal.ts, furtherAlong).
    if (resume === undefined) this.note(op, cluster, 'start', null, `${kind} of cluster ${cluster}${profile === null ? '' : ` (${profile})`} by ${by}`);
    else this.note(op, cluster, 'resume', null, `${kind} of ${cluster} was left unfinished (${resumedBecause ?? 'its runner stopped'}); the steward ${this.options.selfId} takes it over`);
    void this.saveJournal(op.id)
      .then(() => (resume === undefined && planned !== undefined ? this.confirmJournal(op, cluster) : undefined))
      .then(() => work(op))
      .then(() => this.finish(op, null))
      .catch((error: Error) => {
        this.note(op, cluster, 'failed', null, `${kind} of ${cluster} failed: ${error.message}`, false);
        return this.finish(op, error.message);
      })
      .catch((error: Error) => this.options.logger.warn({ cluster, operation: op.id, error: error.message }, 'lifecycle journal not written'))
      .finally(() => {
        this.busy.delete(cluster);
        this.journaling.delete(op.id);
        // What changed meanwhile (a death during the create) is looked at now.
        this.scheduleRepair();
      });
    return this.operations.get(op.id);
  }

  private async finish(op: LifecycleOperationHandle, error: string | null): Promise<void> {
    op.finish(error);
    const entry = this.journaling.get(op.id);
    if (entry !== undefined) entry.journal = { ...entry.journal, state: error === null ? 'succeeded' : 'failed', finishedAt: this.operations.get(op.id).finishedAt, error: error === null ? null : error.slice(0, 4096), inflight: null };
    await this.saveJournal(op.id);
  }

  /** Records a step under way (start), completed (done) or undone by its node (failed) in the operation's journal. */
  private async journalStep(op: LifecycleOperationHandle, step: Step, phase: 'start' | 'done' | 'failed'): Promise<void> {
    const entry = this.journaling.get(op.id);
    if (entry === undefined) return;
    const stored = journalStepOf(step);
    const { journal } = entry;
    if (phase === 'start') {
      if (journal.done.length >= kJournalStepsMax) throw new DomainError('conflict', 'GALAXY_LIFECYCLE_TOO_BIG', `an operation journals at most ${kJournalStepsMax} steps`);
      entry.journal = { ...journal, inflight: stored };
    } else entry.journal = { ...journal, inflight: null, done: phase === 'done' ? [...journal.done, doneEntry(journal, stored)] : journal.done };
    await this.saveJournal(op.id);
  }

  /** Writes the operation's journal as it is now, after the writes before it. */
  private saveJournal(id: string): Promise<void> {
    const entry = this.journaling.get(id);
    if (entry === undefined) return Promise.resolve();
    entry.writes = entry.writes
      .catch(() => undefined)
      .then(async () => {
        const value = fitJournal(entry.journal, this.options.journalBytesMax ?? kJournalBytesMaxDefault);
        if (value === null) throw new DomainError('conflict', 'GALAXY_LIFECYCLE_TOO_BIG', `the journal of operation ${id} does not fit an FMIDB value`);
        await this.options.data.write([{ subject: lifecycleSubject(entry.journal.cluster), key: journalKey(id), value }]);
      });
    return entry.writes;
  }

  /** Refuses, before anything is done, an operation whose journal could not hold its plan and every step of it done. */
  private mustJournal(cluster: string, planned: readonly Step[]): void {
    const steps = planned.map(journalStepOf);
    const full = { ...newJournal({ id: '0'.repeat(16), kind: 'upgrade', cluster, profile: null, by: '', runner: this.options.selfId, life: this.life, startedAt: new Date().toISOString() }), planned: steps, done: steps.map((_, i) => i) };
    if (steps.length > kJournalStepsMax || fitJournal(full, this.options.journalBytesMax ?? kJournalBytesMaxDefault) === null) {
      throw new DomainError('conflict', 'GALAXY_LIFECYCLE_TOO_BIG', `${cluster}: ${steps.length} steps do not fit one operation's journal (an FMIDB value of ${this.options.journalBytesMax ?? kJournalBytesMaxDefault} bytes holds the plan and the steps done); split the change`);
    }
  }

  /**
   * Before a new create's or upgrade's first step: waits until another live lifecycle's
   * replica holds the operation's journal, plan included (farm RPC lifecycle.journals with
   * its id), at most journalConfirmMs. The journal write is local first and reaches the
   * other replicas by gossip; a runner killed before it spread would leave an operation no
   * steward knows about (the FMIDB relays no origin of a dead node, and a restarted node
   * takes its own earlier writes back from the first peer that answers). Held by a peer,
   * the plan reaches the steward's gathering (gatherJournals) whatever the runner's later
   * writes do. With no other lifecycle, or none holding it in time, the operation goes on
   * (its events say so).
   */
  private async confirmJournal(op: LifecycleOperationHandle, cluster: string): Promise<void> {
    const ask = this.options.askJournals;
    if (ask === undefined) return;
    const waitMs = this.options.journalConfirmMs ?? kJournalConfirmMsDefault;
    const deadline = Date.now() + waitMs;
    for (;;) {
      const peers = gatherPeers(this.options.members(), this.options.selfId).slice(0, kJournalConfirmPeers);
      if (peers.length === 0) {
        this.note(op, cluster, 'journaled', null, 'no other lifecycle runs: the journal is on this node alone until it spreads', false);
        return;
      }
      const answers = await Promise.allSettled(peers.map(async (node) => ({ node, journals: decodeGathered(await ask(node, { id: op.id })) })));
      const holder = answers.find((a) => a.status === 'fulfilled' && (a.value.journals ?? []).some((j) => j.id === op.id));
      if (holder !== undefined && holder.status === 'fulfilled') {
        this.note(op, cluster, 'journaled', holder.value.node, `the operation's journal and plan are held by ${holder.value.node} too: a steward can put it back if this runner stops`);
        return;
      }
      if (this.closed || Date.now() > deadline) {
        this.note(op, cluster, 'journaled', null, `no other lifecycle held the operation's journal within ${Math.round(waitMs / 1000)} s; going on (a steward may not know this operation if this runner stops before it spreads)`, false);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** Deletes a cluster's oldest journals so it keeps kJournalOperationsMax with the new one. */
  private async pruneJournals(cluster: string, keep: string): Promise<void> {
    const old = this.journals().filter((j) => j.cluster === cluster && j.id !== keep && j.state !== 'running').sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1)).slice(kJournalOperationsMax - 1);
    if (old.length > 0) await this.options.data.write(old.map((j) => ({ subject: lifecycleSubject(cluster), key: journalKey(j.id), value: null })));
  }

  private note(op: LifecycleOperationHandle, cluster: string, step: string, node: string | null, text: string, ok = true): void {
    const event = op.event(step, node, text, ok);
    const entry = this.journaling.get(op.id);
    if (entry !== undefined) entry.journal = withEvent(entry.journal, event);
    const body = { operation: op.id, cluster, step, node, text, ok, seq: event.seq };
    this.options.publish({ kind: 'lifecycle', type: step, time: event.at, body });
    this.options.postFarmEvent?.({ type: `cluster.lifecycle.${step}`, severity: ok ? 'info' : 'warning', time: event.at, source: `cluster/${cluster}`, body });
  }

  private async writeRecord(record: LifecycleRecord): Promise<void> {
    await this.options.data.write([{ subject: lifecycleSubject(record.name), key: kLifecycleRecordKey, value: encodeLifecycleRecord(record) }]);
  }

  private liveRecord(name: string): LifecycleRecord {
    const record = this.record(name);
    if (record === null || record.deleted) throw new DomainError('not-found', 'GALAXY_LIFECYCLE_UNKNOWN', `no cluster "${name}" made from a profile (galaxy cluster create ${name} --profile P makes one)`);
    return record;
  }

  private mustBeFree(name: string): void {
    const running = this.busy.get(name) ?? this.runningElsewhere(name)?.id;
    if (running !== undefined) throw new DomainError('conflict', 'GALAXY_LIFECYCLE_BUSY', `operation ${running} is running on cluster ${name}; wait for it`);
  }

  /** An operation on the cluster another live runner (or another life of this node) journals as running, not abandoned. */
  private runningElsewhere(name: string): OperationJournal | null {
    const lives = this.lives();
    return this.journals().find((j) => j.cluster === name && j.state === 'running' && !this.journaling.has(j.id) && !orphaned(j, lives)) ?? null;
  }

  /** Refuses a placement that would run another copy of a component another cluster holds on the same node. */
  private refuseConflicts(name: string, next: Pick<LifecycleRecord, 'roles' | 'members'>): void {
    const records = this.records();
    const journals = this.journals();
    const problems: string[] = [];
    for (const member of next.members) {
      for (const component of roleComponents(next, member.role)) {
        const held = conflicts(records, journals, member.node, component, name);
        if (held.length > 0) problems.push(describeConflict(member.node, member.role, component, held));
      }
    }
    if (problems.length > 0) throw new DomainError('conflict', 'GALAXY_LIFECYCLE_VERSION_CONFLICT', `cannot place ${name}: ${problems.join('; ')}`);
  }

  // ---- abandoned operations ------------------------------------------------------------

  /**
   * The steward takes over every operation whose runner stopped (not alive, or alive in
   * another life): it resumes it under its id and finishes or undoes it.
   */
  private recoverAbandoned(installer: LifecycleInstaller): void {
    const lives = this.lives();
    // A journal taken over is not taken again: the steward's own copy is then further along.
    for (const journal of abandonedJournals(this.journals(), this.gathered, lives)) {
      if (this.busy.has(journal.cluster) || this.journaling.has(journal.id)) continue;
      const why = lives.has(journal.runner) ? `its runner ${journal.runner} restarted` : `its runner ${journal.runner} is not alive`;
      this.options.logger.info({ cluster: journal.cluster, operation: journal.id, kind: journal.kind }, 'resuming an abandoned lifecycle operation');
      this.run(journal.kind, journal.cluster, journal.profile, journal.by, undefined, (op) => this.recover(op, journal, why, installer), journal, why);
    }
  }

  /**
   * The steward asks the other lifecycles for the operation journals their replicas hold
   * when it becomes the steward, and again whenever a lifecycle node died, left or
   * restarted into another life (a runner may have stopped): not on every repair, so a
   * large farm pays one round of questions per such change, at most one every
   * kGatherIntervalMs, to at most kGatherPeersMax of them. The steward takes over from
   * the copy furthest along (lifecycle-journal.ts, abandonedJournals, says why its own
   * replica is not enough). True when no gathering is due or under way: then what the
   * last one brought is current.
   */
  private gatherJournals(): boolean {
    const ask = this.options.askJournals;
    if (ask === undefined) return true;
    const now = this.lives();
    const before = this.stewardSaw;
    this.stewardSaw = now;
    if (before === null || [...before].some(([node, life]) => now.get(node) !== life)) this.gatherDue = true;
    if (this.gathering) return false;
    if (!this.gatherDue) return true;
    const waitMs = this.gatheredAtMs + kGatherIntervalMs - Date.now();
    if (waitMs > 0) {
      this.scheduleRepair(waitMs);
      return false;
    }
    this.gatherDue = false;
    const peers = gatherPeers(this.options.members(), this.options.selfId);
    if (peers.length === 0) {
      this.gathered = [];
      return true;
    }
    this.gathering = true;
    this.gatheredAtMs = Date.now();
    void Promise.allSettled(peers.map(async (node) => decodeGathered(await ask(node)))).then((settled) => {
      this.gathering = false;
      if (this.closed || this.stewardSaw === null) return;
      const answers = settled.flatMap((a) => (a.status === 'fulfilled' && a.value !== null ? [a.value] : []));
      this.gathered = answers.flat();
      this.options.logger.info({ asked: peers.length, answered: answers.length, running: [...new Set(this.gathered.filter((j) => j.state === 'running').map((j) => j.id))] }, 'lifecycle journals gathered from the other lifecycles');
      this.scheduleRepair(0);
    });
    return false;
  }

  private async recover(op: LifecycleOperationHandle, journal: OperationJournal, why: string, installer: LifecycleInstaller): Promise<void> {
    const name = journal.cluster;
    // Every planned step (the one its runner died in among them, journaled or not), else the steps done and under way.
    const steps: Step[] = undoSteps(journal);
    const record = this.record(name);
    if (journal.kind === 'delete') {
      // Finished, never undone: from the record (every live member, dead ones as leftovers), else from the journal's plan.
      if (record !== null && !record.deleted) await this.teardown(op, record, installer);
      else if (record === null && journal.planned !== undefined) {
        for (const step of journal.planned) await this.removeOne(op, name, installer, step.node, step.component.name);
        if (this.options.clusters.exists(name)) await this.options.clusters.remove(name);
        await this.writeRecord({ format: 1, name, profile: journal.profile ?? '', on: null, roles: [], members: [], leftovers: [], updatedAtMs: Date.now(), deleted: true });
        this.note(op, name, 'done', null, `cluster ${name} deleted from its journal's plan (its record never reached this steward)`);
      } else this.note(op, name, 'done', null, `cluster ${name} was deleted already`);
      return;
    }
    if (journal.kind === 'create') {
      if (record !== null && !record.deleted) await this.teardown(op, record, installer);
      else {
        // This replica never got the create's record (the FMIDB can miss a crashed runner's
        // last writes: lifecycle-journal.ts, abandonedJournals): the journal's steps say what
        // was installed, and a tombstone record overrides the copies other replicas hold.
        await this.undo(op, name, installer, steps);
        if (this.options.clusters.exists(name)) await this.options.clusters.remove(name);
        else this.note(op, name, 'rollback', null, `cluster ${name}'s definition never reached this steward: if a member still runs its core, galaxy cluster delete ${name} removes it`, false);
        if (record === null) await this.writeRecord({ format: 1, name, profile: journal.profile ?? '', on: null, roles: [], members: [], leftovers: [], updatedAtMs: Date.now(), deleted: true });
      }
      this.note(op, name, 'rollback', null, `the interrupted create of ${name} was undone: its components removed (those another cluster holds kept), the cluster deleted`, false);
      throw new DomainError('upstream-failed', 'GALAXY_LIFECYCLE_INTERRUPTED', `interrupted (${why}); undone by the steward`);
    }
    if (journal.kind === 'upgrade' && record !== null && !record.deleted && record.profile === journal.profile) {
      // The record is written after the last step: the upgrade had finished.
      await this.options.clusters.redefine(name, { nodes: record.members.map((m) => m.node), profile: record.profile });
      this.note(op, name, 'done', null, `the upgrade of ${name} to ${record.profile} had finished before its runner stopped`);
      return;
    }
    if (journal.kind === 'repair') {
      // The record is written after a repair's installs: a member it names already joined, and keeps its components.
      const back = repairUndoSteps(steps, record);
      const joined = [...new Set(steps.filter((s) => !back.includes(s)).map((s) => s.node))];
      if (joined.length > 0) this.note(op, name, 'kept', null, `${joined.join(', ')} joined ${name} before its runner stopped (the record names it): its components stay`);
      await this.undo(op, name, installer, back);
      this.note(op, name, 'rollback', null, `the interrupted repair's ${back.length} step(s) were undone${journal.planned === undefined ? '' : ' (planned, each put back)'}; the next repair places ${name} again`, false);
      throw new DomainError('upstream-failed', 'GALAXY_LIFECYCLE_INTERRUPTED', `interrupted (${why}); undone by the steward`);
    }
    await this.undo(op, name, installer, steps);
    if (journal.kind === 'upgrade') {
      this.note(op, name, 'rollback', null, `the interrupted upgrade to ${journal.profile ?? '?'} was rolled back (${steps.length} step(s) ${journal.planned === undefined ? 'undone' : 'planned, each put back'}): ${name} stays on ${record?.profile ?? '?'}`, false);
      throw new DomainError('upstream-failed', 'GALAXY_LIFECYCLE_INTERRUPTED', `interrupted (${why}); rolled back by the steward: ${name} stays on ${record?.profile ?? '?'}`);
    }
    throw new DomainError('upstream-failed', 'GALAXY_LIFECYCLE_INTERRUPTED', `interrupted (${why}); undone by the steward`);
  }

  private mustInstall(): LifecycleInstaller {
    const installer = this.options.installer();
    if (installer === null) throw new DomainError('unavailable', 'GALAXY_LIFECYCLE_NO_INSTALL', 'component installation is not running on this node yet (it starts once the node is admitted)');
    return installer;
  }

  private aliveIds(): Set<string> {
    return new Set(this.options.members().filter((m) => kRunning.has(m.status)).map((m) => m.id));
  }
}

/** A repair decided before its first step (ClusterLifecycle.repairPlan). */
interface RepairPlan {
  readonly alive: ReadonlySet<string>;
  readonly leaving: ReadonlyArray<{ readonly node: string; readonly role: string }>;
  readonly joining: ReadonlyArray<{ readonly node: string; readonly role: string }>;
  /** Joining members refused for a component another cluster holds there in another copy, with why. */
  readonly clashes: ReadonlyMap<string, string[]>;
  /** Every install of the joining members, in order: the journal's plan. */
  readonly planned: readonly Step[];
}

/**
 * Every removal a delete does, in order: each live member's components (not farm
 * components) in reverse role and start order. A member not alive gets none (its
 * components are removed when it comes back: the record's leftovers). The journal's plan
 * of a delete; pure, for the lifecycle and its tests.
 */
export function teardownSteps(record: Pick<LifecycleRecord, 'roles' | 'members'>, alive: ReadonlySet<string>): JournalStep[] {
  return [...record.roles].reverse().flatMap((role) =>
    record.members.filter((m) => m.role === role.role && alive.has(m.node)).flatMap((m) => [...role.components].reverse().filter((c) => !c.farm).map((component) => ({ kind: 'remove' as const, node: m.node, component, previous: component }))),
  );
}

/**
 * What a steward puts back of an interrupted repair: its steps (undoSteps: every planned
 * install), less the installs of a member the cluster's record already names with that
 * component at that version. A repair writes the record after its installs, so such a
 * member had joined; undone, it would stay in the record without its components (the
 * next repair sees nothing to place). Pure, for the steward and its tests.
 */
export function repairUndoSteps<S extends Pick<JournalStep, 'kind' | 'node' | 'component'>>(steps: readonly S[], record: Pick<LifecycleRecord, 'roles' | 'members' | 'deleted'> | null): S[] {
  if (record === null || record.deleted) return [...steps];
  const joined = (s: S) => s.kind === 'install' && record.members.some((m) => m.node === s.node && roleComponents(record, m.role).some((c) => c.name === s.component.name && c.version === s.component.version));
  return steps.filter((s) => !joined(s));
}

/** Refuses, before anything is written, a placement whose network values are no host addresses (issue 19: the definition could not carry them). */
function mustSendTo(name: string, ref: string, placed: Parameters<typeof memberNetworks>[0]): void {
  try {
    checkNetworks(memberNetworks(placed));
  } catch (error) {
    if (error instanceof RangeError) throw new DomainError('invalid', 'GALAXY_CLUSTER_BAD_NETWORK', `cannot create ${name} from ${ref}: ${error.message}`);
    throw error;
  }
}

/** Whether a member's network values are host addresses (a repair leaves out one that is not: that member's traffic stays on its farm address). */
function sendable(member: Parameters<typeof memberNetworks>[0][number]): boolean {
  try {
    checkNetworks({ [member.node]: member.networks });
    return true;
  } catch {
    return false;
  }
}

/** The placement's network choice per member, as a cluster definition takes it (issue 19: the cluster service sends each kind of traffic there). */
function memberNetworks(placed: ReadonlyArray<{ readonly node: string; readonly networks: Readonly<Record<'admin' | 'components' | 'failureDetection', string>> }>): Record<string, Readonly<Record<'admin' | 'components' | 'failureDetection', string>>> {
  return Object.fromEntries(placed.map((m) => [m.node, m.networks]));
}

/** Who installs for the lifecycle, as a member records it (install-service.ts, owner): the cluster and the operation. */
export function ownerOf(cluster: string, operation: string): string {
  return `cluster/${cluster} op ${operation}`;
}

function journalStepOf(step: Step): JournalStep {
  return { kind: step.kind, node: step.node, component: step.component, previous: step.previous };
}

/** An operation as its journal holds it (the latest kJournalEventsMax events). */
function journalView(journal: OperationJournal, after: number): LifecycleOperationView {
  const { id, kind, cluster, profile, by, state, startedAt, finishedAt, error } = journal;
  const dropped = (journal.events[0]?.seq ?? 1) - 1;
  return { id, kind, cluster, profile, by, state, startedAt, finishedAt, error, events: journal.events.filter((e) => e.seq > after), eventsDropped: dropped };
}

/** Whom the steward asks for running operations: live lifecycles but itself, the controllers and management members first, then others at random, at most kGatherPeersMax. */
function gatherPeers(members: readonly MemberView[], selfId: string): string[] {
  const live = members.filter((m) => m.id !== selfId && !m.self && kRunning.has(m.status) && (m.tags['lifecycle'] ?? '') !== '');
  const managers = live.filter((m) => memberRoles(m).some((r) => r === 'controller' || r === 'management')).map((m) => m.id);
  const others = live.filter((m) => !managers.includes(m.id)).map((m) => m.id);
  for (let i = others.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [others[i], others[j]] = [others[j]!, others[i]!];
  }
  return [...managers, ...others].slice(0, kGatherPeersMax);
}

/** A profile's failure detector as the cluster definition's tuning (the cluster core's options); absent fields keep the core's defaults. */
export function clusterTuningOf(profile: Profile): { heartbeatIntervalMs: number; suspectTimeoutMs: number; suspectTimeoutMaxMs?: number; relayEvidence?: boolean } {
  const f = profile.failureDetector;
  return {
    heartbeatIntervalMs: f.heartbeatIntervalMs,
    suspectTimeoutMs: f.timeoutMs,
    ...(f.timeoutMaxMs === undefined ? {} : { suspectTimeoutMaxMs: f.timeoutMaxMs }),
    ...(f.relayEvidence === undefined ? {} : { relayEvidence: f.relayEvidence }),
  };
}
