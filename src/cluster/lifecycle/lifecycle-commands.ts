import type { Command } from 'commander';
import type { ApiClient } from '../../surface/client/api-client.js';
import { ApiClientError } from '../../surface/client/api-client.js';
import { CliError, connect, run, withConnection, type ConnectionFlags, type Print } from '../../surface/cli/cli-kit.js';
import type { ClusterApplyRequest } from '../designer/cluster-plan-apply.js';
import type { LifecycleOperationView, LifecycleStepEvent } from './lifecycle-operations.js';

/**
 * The CLI of the cluster lifecycle (lifecycle-routes.ts): `galaxy cluster create NAME
 * --profile P [--on L]` and `galaxy cluster delete NAME` go here for clusters made from
 * profiles (cluster-commands.ts hands them over), `galaxy cluster upgrade NAME --profile
 * P@V` is registered here, and `galaxy cluster design --yes` applies its plan here. Each
 * starts an operation on the agent and prints its steps live, one line each as they
 * happen (polling the operation's events), then exits 0 if it succeeded, 1 if not.
 */
export const kFollowIntervalMs = 250;

function line(event: LifecycleStepEvent): string {
  return `${event.at.slice(11, 19)} ${event.ok ? ' ' : '!'} ${event.step.padEnd(12)} ${event.text}`;
}

/** Prints the operation's steps as they come until it ends; true when it succeeded. */
export async function followOperation(client: ApiClient, started: LifecycleOperationView, print: Print, json = false): Promise<boolean> {
  let after = 0;
  let view = started;
  for (;;) {
    for (const event of view.events) {
      if (event.seq <= after) continue;
      after = event.seq;
      if (!json) print(line(event));
    }
    if (view.state !== 'running') break;
    await new Promise((resolve) => setTimeout(resolve, kFollowIntervalMs));
    view = (await client.get(`/v1/lifecycle/operations/${view.id}?after=${after}`)) as LifecycleOperationView;
  }
  if (json) print(JSON.stringify((await client.get(`/v1/lifecycle/operations/${view.id}`)) as LifecycleOperationView, null, 2));
  else print(view.state === 'succeeded' ? `${view.kind} of ${view.cluster}: succeeded` : `${view.kind} of ${view.cluster}: FAILED: ${view.error ?? ''}`);
  return view.state === 'succeeded';
}

async function startAndFollow(client: ApiClient, print: Print, json: boolean, start: () => Promise<unknown>): Promise<void> {
  const ok = await followOperation(client, (await start()) as LifecycleOperationView, print, json);
  if (!ok) process.exitCode = 1;
}

/** `galaxy cluster create NAME --profile P [--on L]`. */
export function createFromProfile(print: Print) {
  return async (name: string, flags: ConnectionFlags & { profile: string; on?: string }): Promise<void> => {
    const client = connect(flags);
    // A bare name or a range is resolved by the agent to the highest stored version; the record pins it.
    await startAndFollow(client, print, flags.json === true, () => client.post('/v1/lifecycle/clusters', { name, profile: flags.profile, on: flags.on ?? null }));
  };
}

/** `galaxy cluster delete NAME` of a cluster made from a profile; false when it was not (the plain delete applies). */
export function deleteFromProfile(print: Print) {
  return async (name: string, flags: ConnectionFlags): Promise<boolean> => {
    const client = connect(flags);
    let record: { deleted: boolean };
    try {
      record = (await client.get(`/v1/lifecycle/clusters/${encodeURIComponent(name)}`)) as { deleted: boolean };
    } catch (error) {
      if (error instanceof ApiClientError && error.status === 404) return false;
      throw error;
    }
    if (record.deleted) return false;
    await startAndFollow(client, print, flags.json === true, () => client.delete(`/v1/lifecycle/clusters/${encodeURIComponent(name)}`));
    return true;
  };
}

/** The designer's hand-over (applyClusterPlan): a confirmed plan becomes a lifecycle create or upgrade, followed live. */
export function lifecycleApplier(print: Print) {
  return async (request: ClusterApplyRequest, client: ApiClient): Promise<unknown> => {
    const started = (request.operation === 'create'
      ? await client.post('/v1/lifecycle/clusters', { name: request.name, profile: request.profile, on: request.on })
      : await client.post(`/v1/lifecycle/clusters/${encodeURIComponent(request.name)}/upgrade`, { profile: request.profile })) as LifecycleOperationView;
    const ok = await followOperation(client, started, print);
    if (!ok) throw new CliError(`${request.operation} of ${request.name} failed`);
    return started;
  };
}

export function registerLifecycleCommands(program: Command, print: Print = (text) => console.log(text)): void {
  const cluster = program.commands.find((c) => c.name() === 'cluster') ?? program.command('cluster').description('clusters');
  withConnection(
    cluster
      .command('upgrade')
      .description('roll a new profile version through a cluster made from a profile: one member at a time, each waiting on health (its components running through their settle window); a failure rolls every member back')
      .argument('<name>')
      .requiredOption('--profile <ref>', 'the new profile version, NAME@VERSION (or a range)'),
  ).action((name: string, flags: ConnectionFlags & { profile: string }) =>
    run(print, async () => {
      if (!flags.profile.includes('@')) throw new CliError('--profile is NAME@VERSION, e.g. primary-backup@2.0.0');
      const client = connect(flags);
      await startAndFollow(client, print, flags.json === true, () => client.post(`/v1/lifecycle/clusters/${encodeURIComponent(name)}/upgrade`, { profile: flags.profile }));
    }),
  );
  withConnection(cluster.command('operations').description('the lifecycle operations (create, upgrade, delete, repair): those the agent ran, then those the farm data journals (run by other agents, or before a restart), newest first')).action((flags: ConnectionFlags) =>
    run(print, async () => {
      const list = (await connect(flags).get('/v1/lifecycle/operations')) as LifecycleOperationView[];
      if (flags.json) return print(JSON.stringify(list, null, 2));
      if (list.length === 0) return print('(no lifecycle operations on this agent)');
      for (const op of list) print(`${op.id}  ${op.kind.padEnd(7)}  ${op.cluster}  ${op.profile ?? '-'}  ${op.state}  ${op.startedAt}${op.error === null ? '' : `  ${op.error}`}`);
    }),
  );
}
