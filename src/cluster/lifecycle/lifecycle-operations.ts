import { randomBytes } from 'node:crypto';
import { DomainError } from '../../core/util/domain-error.js';

/**
 * The lifecycle operations an agent ran (create, upgrade, delete, repair), kept so the
 * CLI can follow one live: it starts the operation (POST, answered at once), then polls
 * its events after the last sequence number it printed until the state is final. Bounded
 * like the install operations: the latest kOperationsKeptMax, kOperationEventsMax events each.
 */
export type LifecycleOperationKind = 'create' | 'upgrade' | 'delete' | 'repair';

export interface LifecycleStepEvent {
  readonly seq: number;
  readonly at: string;
  /** placement, definition, install, upgrade, remove, check, rollback, record, done, failed, note */
  readonly step: string;
  readonly node: string | null;
  readonly text: string;
  readonly ok: boolean;
}

export interface LifecycleOperationView {
  readonly id: string;
  readonly kind: LifecycleOperationKind;
  readonly cluster: string;
  readonly profile: string | null;
  readonly by: string;
  readonly state: 'running' | 'succeeded' | 'failed';
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly error: string | null;
  readonly events: readonly LifecycleStepEvent[];
  readonly eventsDropped: number;
}

export const kLifecycleOperationsKeptMax = 64;
export const kLifecycleOperationEventsMax = 4096;

export interface LifecycleOperationHandle {
  readonly id: string;
  event(step: string, node: string | null, text: string, ok?: boolean): LifecycleStepEvent;
  finish(error: string | null): void;
}

interface Operation {
  view: Omit<LifecycleOperationView, 'events' | 'eventsDropped'>;
  events: LifecycleStepEvent[];
  dropped: number;
  seq: number;
}

export class LifecycleOperations {
  private readonly operations = new Map<string, Operation>();

  /** A new operation, or (resume) one another run of the lifecycle started and left unfinished, continued under its id. */
  begin(kind: LifecycleOperationKind, cluster: string, profile: string | null, by: string, resume?: { readonly id: string; readonly startedAt: string; readonly events: readonly LifecycleStepEvent[] }): LifecycleOperationHandle {
    this.makeRoom();
    const id = resume?.id ?? randomBytes(8).toString('hex');
    const events = [...(resume?.events ?? [])];
    const operation: Operation = { view: { id, kind, cluster, profile, by, state: 'running', startedAt: resume?.startedAt ?? new Date().toISOString(), finishedAt: null, error: null }, events, dropped: 0, seq: events.at(-1)?.seq ?? 0 };
    this.operations.set(id, operation);
    return {
      id,
      event: (step, node, text, ok = true) => {
        const event = { seq: ++operation.seq, at: new Date().toISOString(), step, node, text, ok };
        operation.events.push(event);
        if (operation.events.length > kLifecycleOperationEventsMax) {
          operation.events.shift();
          operation.dropped++;
        }
        return event;
      },
      finish: (error) => {
        operation.view = { ...operation.view, state: error === null ? 'succeeded' : 'failed', finishedAt: new Date().toISOString(), error };
      },
    };
  }

  has(id: string): boolean {
    return this.operations.has(id);
  }

  get(id: string, after = 0): LifecycleOperationView {
    const operation = this.operations.get(id);
    if (operation === undefined) throw new DomainError('not-found', 'GALAXY_LIFECYCLE_UNKNOWN_OPERATION', `no lifecycle operation ${id} on this node (only the latest ${kLifecycleOperationsKeptMax} are kept)`);
    return { ...operation.view, events: operation.events.filter((e) => e.seq > after), eventsDropped: operation.dropped };
  }

  list(): LifecycleOperationView[] {
    return [...this.operations.values()].reverse().map((o) => ({ ...o.view, events: [], eventsDropped: o.dropped }));
  }

  private makeRoom(): void {
    if (this.operations.size < kLifecycleOperationsKeptMax) return;
    for (const [id, operation] of this.operations) {
      if (operation.view.state === 'running') continue;
      this.operations.delete(id);
      return;
    }
    throw new DomainError('unavailable', 'GALAXY_LIFECYCLE_BUSY', `${kLifecycleOperationsKeptMax} lifecycle operations are running already`);
  }
}
