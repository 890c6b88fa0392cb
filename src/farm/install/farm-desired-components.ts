import { DomainError, type FailureKind } from '../../core/util/domain-error.js';
import { FmidbError } from '../../core/fmidb/fmidb-error.js';
import type { AgentLogger } from '../../node/util/agent-logger.js';
import { checkDesiredList, type DesiredComponent, type DesiredComponentsSource } from '../install/desired-components.js';
import { InstallError } from '../install/install-error.js';
import { LandscapeError } from '../data/landscape/landscape-error.js';
import { kLandscapeNamePattern } from '../data/landscape/landscape-record.js';
import type { FarmData } from '../data/farm-data.js';

/**
 * The farm configuration of components: which components, in which versions, the nodes
 * of a landscape (or every node) must run. It lives in the FMIDB, so it replicates with
 * everything else and survives any node's restart: subject `farm/components`, one key
 * per target (`all`, or `landscape.NAME`), the value a JSON desired list.
 *
 * Each node computes its own list from its replica: the `all` list, then the lists of the
 * landscapes it belongs to, in name order, a later entry of a component replacing an
 * earlier one (so a landscape's entry overrides the farm-wide one). The install service
 * (src/install/) follows it through the DesiredComponentsSource interface and makes the
 * node match: fetch from peers, verify, start in order, roll back on failure.
 *
 * ready() stays false until the replica has heard from a peer (or 15 s passed with none:
 * a lone first node) and every landscape named has been evaluated here, so a node that
 * just started never uninstalls what it runs because its replica is still empty.
 */
export const kFarmComponentsSubject = 'farm/components';
export const kAllNodesTarget = 'all';
const kLandscapeKeyPrefix = 'landscape.';
/** JSON characters of one target's list: an FMIDB value (16 KiB) with room to spare. */
export const kTargetListJsonMax = 15_000;
const kReadyAloneMs = 15_000;
const kReadyAfterFirstMessageMs = 2_000;

export interface ComponentAssignment {
  /** `all`, or a landscape name. */
  readonly target: string;
  readonly components: DesiredComponent[];
  readonly origin: string;
  readonly updatedAt: string;
}

export class FarmDesiredComponents implements DesiredComponentsSource {
  private readonly listeners = new Set<() => void>();
  private list: readonly DesiredComponent[] = [];
  private listJson = '[]';
  private readonly startedAtMs = Date.now();
  private firstMessageAtMs: number | null = null;
  private unavailable: string[] = [];

  constructor(
    private readonly data: FarmData,
    private readonly logger: AgentLogger,
  ) {
    data.onChange(() => this.recompute());
    this.recompute();
  }

  current(): readonly DesiredComponent[] {
    return this.list;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  ready(): boolean {
    const now = Date.now();
    if (this.firstMessageAtMs === null && (this.data.fmidbCounters['messagesReceived'] ?? 0) > 0) this.firstMessageAtMs = now;
    const heard = this.firstMessageAtMs !== null && now - this.firstMessageAtMs >= kReadyAfterFirstMessageMs;
    return (heard || now - this.startedAtMs >= kReadyAloneMs) && this.unavailable.length === 0;
  }

  /** Every target's list as this replica holds it. */
  assignments(): ComponentAssignment[] {
    const out: ComponentAssignment[] = [];
    for (const entry of this.data.view.entriesOf(kFarmComponentsSubject)) {
      const target = targetOfKey(entry.key);
      const components = target === null ? null : parseList(entry.value);
      if (target === null || components === null || components.length === 0) continue;
      out.push({ target, components, origin: entry.origin, updatedAt: new Date(entry.stamp).toISOString() });
    }
    return out.sort((a, b) => (a.target === b.target ? 0 : a.target === kAllNodesTarget ? -1 : b.target === kAllNodesTarget ? 1 : a.target < b.target ? -1 : 1));
  }

  /** Sets the list of a target farm-wide (an empty list removes the target). */
  async assign(target: string, components: readonly unknown[]): Promise<ComponentAssignment[]> {
    if (target !== kAllNodesTarget && !kLandscapeNamePattern.test(target)) throw new DomainError('invalid', 'GALAXY_FARM_COMPONENTS_BAD_TARGET', `a target is "all" or a landscape name, got ${JSON.stringify(target)}`);
    let list: DesiredComponent[];
    try {
      list = checkDesiredList(components, `the components of ${target}`);
    } catch (error) {
      if (error instanceof InstallError) throw new DomainError('invalid', error.code, error.message);
      throw error;
    }
    const json = JSON.stringify(list);
    if (json.length > kTargetListJsonMax) throw new DomainError('invalid', 'GALAXY_FARM_COMPONENTS_TOO_LARGE', `the list of ${target} is ${json.length} characters of JSON; the limit is ${kTargetListJsonMax}`);
    const key = target === kAllNodesTarget ? kAllNodesTarget : `${kLandscapeKeyPrefix}${target}`;
    try {
      await this.data.write([{ subject: kFarmComponentsSubject, key, value: list.length === 0 ? null : json }]);
    } catch (error) {
      if (error instanceof FmidbError) throw new DomainError(error.code === 'FMIDB_NOT_OPEN' || error.code === 'FMIDB_BUSY' ? 'unavailable' : 'invalid', error.code, error.message);
      throw error;
    }
    this.recompute();
    return this.assignments();
  }

  private recompute(): void {
    const byName = new Map<string, DesiredComponent>();
    const unavailable: string[] = [];
    for (const assignment of this.assignments()) {
      if (assignment.target !== kAllNodesTarget) {
        let members: string[];
        try {
          members = this.data.landscapes.nodesOf(assignment.target);
        } catch (error) {
          if (!(error instanceof LandscapeError)) throw error;
          // An unknown landscape names no node; one not evaluated yet keeps the list unready.
          if (error.code !== 'GALAXY_LANDSCAPE_UNKNOWN') unavailable.push(assignment.target);
          continue;
        }
        if (!members.includes(this.data.selfId)) continue;
      }
      for (const component of assignment.components) byName.set(component.name, component);
    }
    this.unavailable = unavailable;
    const list = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
    const json = JSON.stringify(list);
    if (json === this.listJson) return;
    this.list = Object.freeze(list);
    this.listJson = json;
    this.logger.info({ components: list.map((c) => `${c.name}@${c.version}`) }, 'the farm configuration changed the components this node must run');
    for (const listener of [...this.listeners]) listener();
  }
}

function targetOfKey(key: string): string | null {
  if (key === kAllNodesTarget) return key;
  if (key.startsWith(kLandscapeKeyPrefix)) return key.slice(kLandscapeKeyPrefix.length);
  return null;
}

/** A replicated list, checked again here: a peer's bad value names nothing. */
function parseList(value: string | number): DesiredComponent[] | null {
  if (typeof value !== 'string') return null;
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) ? checkDesiredList(parsed, 'a replicated component list') : null;
  } catch {
    return null;
  }
}
