import { randomBytes } from 'node:crypto';
import { InstallError, type ErrorSummary } from './install-error.js';
import type { InstallOutcome } from './install-outcome.js';
import type { InstallProgress } from './install-progress.js';
import type { RolloutEvent, RolloutReport } from './rollout.js';

/**
 * Installs and rollouts an operator started through the API, kept so the operator can
 * follow them: the CLI starts one (POST), then polls its events (GET, with the last
 * sequence number seen) until it finishes. A rollout over many nodes outlasts any
 * sensible HTTP request, so the POST answers at once and the work goes on here.
 */
export type InstallOperationEvent =
  | { readonly seq: number; readonly type: 'progress'; readonly progress: InstallProgress }
  | { readonly seq: number; readonly type: 'rollout'; readonly at: string; readonly rollout: RolloutEvent };

type EventBody = InstallOperationEvent extends infer E ? (E extends { seq: number } ? Omit<E, 'seq'> : never) : never;

export interface InstallOperationView {
  readonly id: string;
  /** 'install' on this node only; 'rollout' across target nodes. */
  readonly kind: 'install' | 'rollout';
  readonly name: string;
  readonly version: string;
  readonly by: string;
  readonly state: 'running' | 'succeeded' | 'failed';
  readonly startedAt: string;
  readonly finishedAt: string | null;
  /** Events kept (the latest eventsMax); `after` in a query skips those already seen. */
  readonly events: readonly InstallOperationEvent[];
  readonly eventsDropped: number;
  readonly outcome: InstallOutcome | null;
  readonly rollout: RolloutReport | null;
  readonly error: ErrorSummary | null;
}

export interface OperationHandle {
  readonly id: string;
  event(body: EventBody): void;
  finish(result: { ok: boolean; outcome?: InstallOutcome; rollout?: RolloutReport; error?: ErrorSummary }): void;
}

/** Operations kept; the oldest finished one goes first. */
export const kOperationsKeptMax = 64;
/** Events kept per operation: a rollout to thousands of nodes reports the latest ones. */
export const kOperationEventsMax = 2048;

interface Operation {
  view: Omit<InstallOperationView, 'events' | 'eventsDropped'>;
  events: InstallOperationEvent[];
  eventsDropped: number;
  seq: number;
}

export class InstallOperations {
  private readonly operations = new Map<string, Operation>();

  constructor(private readonly now: () => number = Date.now) {}

  begin(kind: InstallOperationView['kind'], name: string, version: string, by: string): OperationHandle {
    this.makeRoom();
    const id = randomBytes(8).toString('hex');
    const operation: Operation = {
      view: { id, kind, name, version, by, state: 'running', startedAt: this.iso(), finishedAt: null, outcome: null, rollout: null, error: null },
      events: [],
      eventsDropped: 0,
      seq: 0,
    };
    this.operations.set(id, operation);
    return {
      id,
      event: (body) => {
        operation.events.push({ ...body, seq: ++operation.seq } as InstallOperationEvent);
        if (operation.events.length > kOperationEventsMax) {
          operation.events.shift();
          operation.eventsDropped++;
        }
      },
      finish: (result) => {
        operation.view = { ...operation.view, state: result.ok ? 'succeeded' : 'failed', finishedAt: this.iso(), outcome: result.outcome ?? null, rollout: result.rollout ?? null, error: result.error ?? null };
      },
    };
  }

  /** One operation, with the events after sequence number `after` (all by default). */
  get(id: string, after = 0): InstallOperationView {
    const operation = this.operations.get(id);
    if (operation === undefined) throw new InstallError('GALAXY_INSTALL_UNKNOWN_OPERATION', `no install operation ${id} (only the latest ${kOperationsKeptMax} are kept)`);
    return { ...operation.view, events: operation.events.filter((e) => e.seq > after), eventsDropped: operation.eventsDropped };
  }

  /** Every operation kept, newest first, without their events. */
  list(): InstallOperationView[] {
    return [...this.operations.values()].reverse().map((o) => ({ ...o.view, events: [], eventsDropped: o.eventsDropped }));
  }

  private makeRoom(): void {
    if (this.operations.size < kOperationsKeptMax) return;
    for (const [id, operation] of this.operations) {
      if (operation.view.state === 'running') continue;
      this.operations.delete(id);
      return;
    }
    throw new InstallError('GALAXY_INSTALL_BUSY', `${kOperationsKeptMax} install operations are running already`);
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }
}
