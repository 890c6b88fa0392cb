import type { FarmCall } from '../job-worker.js';
import { ScriptCoordinator } from './script-coordinator.js';
import type { ScriptLogStore } from './script-log-store.js';
import type { ScriptView } from './script-view.js';
import { kLogBodySchema, kLogsBodySchema, kListBodySchema, kRunBodySchema, kScriptsServices, kShowBodySchema, kStopBodySchema, kWaitBodySchema, parseBody } from './scripts-wire.js';

/**
 * The scripts services of one node as handlers (bodies checked against scripts-wire.ts),
 * served by the scripts component over the farm RPC and by the in-memory test farm.
 */
export type ScriptsServiceHandler = (body: unknown, from: { readonly node: string }) => unknown;
export type ScriptsServiceName = (typeof kScriptsServices)[keyof typeof kScriptsServices];

export interface ScriptsServiceParts {
  readonly selfId: string;
  readonly coordinator: ScriptCoordinator;
  readonly store: ScriptLogStore;
  readonly call: FarmCall;
  readonly now?: () => Date;
}

export function scriptsServices({ selfId, coordinator, store, call, now = () => new Date() }: ScriptsServiceParts): Record<ScriptsServiceName, ScriptsServiceHandler> {
  const s = kScriptsServices;
  return {
    [s.run]: (body) => {
      const b = parseBody(s.run, kRunBodySchema, body);
      return coordinator.run(b.request, b.by);
    },
    [s.list]: (body) => {
      parseBody(s.list, kListBodySchema, body);
      return coordinator.list();
    },
    [s.show]: (body) => {
      const { runId, ...options } = parseBody(s.show, kShowBodySchema, body);
      return coordinator.show(runId, options);
    },
    [s.stop]: (body) => coordinator.stop(parseBody(s.stop, kStopBodySchema, body).runId),
    [s.wait]: (body) => {
      const b = parseBody(s.wait, kWaitBodySchema, body);
      return coordinator.wait(b.runId, b.version, b.timeoutMs ?? 10_000);
    },
    [s.logs]: (body) => {
      const b = parseBody(s.logs, kLogsBodySchema, body);
      if (b.node !== undefined && b.node !== selfId) return call(b.node, s.logs, b.runId === undefined ? {} : { runId: b.runId });
      return b.runId === undefined ? store.list() : store.read(b.runId);
    },
    [s.log]: (body, from) => {
      const b = parseBody(s.log, kLogBodySchema, body);
      store.store(from.node, b.record as unknown as ScriptView, now());
      return {};
    },
  };
}
