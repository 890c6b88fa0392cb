import { ScriptCoordinator } from './script-coordinator.js';
import { ScriptLogStore } from './script-log-store.js';
import { ScriptsError } from './scripts-error.js';
import { scriptsServices, type ScriptsServiceHandler, type ScriptsServiceName } from './scripts-services.js';
import { kScriptsServices } from './scripts-wire.js';
import { defineComponent, type ComponentContext } from '../../components/sdk.js';

/**
 * The remote script service (issue 7) as a farm service component, one on every node:
 * any node coordinates the script runs started on it (phases with barriers, batches, a
 * success rule per phase, per-node results and a dshbak-style merged view), running
 * each batch through the local jobs component (`jobs.create`, `jobs.wait`, ...), which
 * must therefore run beside it. Nodes with the `management` role keep the run logs
 * every coordinator sends them (script-log-store.ts, in this component's state
 * directory). Progress is raised as farm events: scripts.started, scripts.phase-started,
 * scripts.phase-ended, scripts.finished.
 *
 * Its services are listed in src/scripts/scripts-wire.ts. No configuration.
 *
 * Its spec and module path: the -spec module beside it (kept apart for the agent).
 */
export { kScriptsComponent, scriptsComponentPath } from './scripts-component-spec.js';

interface Running {
  readonly coordinator: ScriptCoordinator;
  readonly services: Record<ScriptsServiceName, ScriptsServiceHandler>;
}

let running: Running | null = null;

function current(): Running {
  if (running === null) throw new ScriptsError('GALAXY_SCRIPTS_UNAVAILABLE', 'the scripts component is not initialised');
  return running;
}

function create(ctx: ComponentContext): Running {
  const call = (node: string, service: string, body: unknown, options?: { timeoutMs?: number }) => ctx.call(node, service, body, options);
  const coordinator = new ScriptCoordinator({
    selfId: ctx.nodeId,
    call,
    raise: (type, severity, body) => ctx.raise(type, severity, body),
    log: (level, message) => ctx.log[level](message),
  });
  const store = new ScriptLogStore(ctx.stateDir);
  return { coordinator, services: scriptsServices({ selfId: ctx.nodeId, coordinator, store, call }) };
}

const services = Object.fromEntries(
  Object.values(kScriptsServices).map((name) => [name, (body: unknown, from: { readonly node: string }) => current().services[name](body, from)]),
) as Record<ScriptsServiceName, (body: unknown, from: { readonly node: string }) => unknown>;

export default defineComponent({
  init(ctx) {
    if (Object.keys(ctx.config).length > 0) throw new Error('the scripts component takes no configuration');
    running = create(ctx);
  },
  stop() {
    current().coordinator.close();
  },
  configure(config) {
    if (Object.keys(config).length > 0) throw new Error('the scripts component takes no configuration');
  },
  status() {
    return { runs: current().coordinator.size };
  },
  services,
});
