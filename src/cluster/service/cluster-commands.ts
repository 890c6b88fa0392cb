import type { Command } from 'commander';
import { CliError, connect, run, table, withConnection, type ConnectionFlags, type Print } from '../../surface/cli/cli-kit.js';
import type { ClusterMemberRow, ClusterSummary, ClusterViews, LocalMembership } from './cluster-service.js';

/**
 * `galaxy cluster create|ls|show|members|views|leave|delete` over the local agent's API
 * (cluster-routes.ts). Definitions are farm-wide; `show`'s "here", `views` and `leave`
 * are about the agent the CLI talks to.
 */
function selectionText(s: ClusterSummary['selection']): string {
  return 'nodes' in s ? `nodes ${s.nodes.join(',')}` : `landscape ${s.landscape}${s.size === null ? '' : ` (first ${s.size})`}`;
}

function hereText(here: LocalMembership | null): string {
  if (here === null) return 'not a member';
  const view = here.view === null ? 'no view yet' : `view ${here.view.viewId} of ${here.view.members.length}`;
  return `${here.status}${here.minority ? ' (MINORITY: this side has no majority of the last view and cannot change views)' : ''}, incarnation ${here.incarnation}, ${view}`;
}

function printCluster(print: Print, c: ClusterSummary): void {
  print(`name        ${c.name}  (${c.path})`);
  print(`selection   ${selectionText(c.selection)}`);
  print(`members     ${c.members === null ? `unresolved: ${c.error ?? '?'}` : `${c.members.length}: ${c.members.join(' ')}`}`);
  if (c.profile !== null) print(`profile     ${c.profile}`);
  if (Object.keys(c.tuning).length > 0) print(`tuning      ${Object.entries(c.tuning).map(([k, v]) => `${k}=${String(v)}`).join(' ')}`);
  // Network selection (issue 19): where each member takes each kind of cluster traffic.
  for (const [node, n] of Object.entries(c.networks ?? {})) print(`network     ${node}: failureDetection ${n.failureDetection}, components ${n.components}, admin ${n.admin}`);
  print(`here        ${hereText(c.here)}`);
  if (c.here?.view) print(`view        ${c.here.view.viewId}: ${c.here.view.members.map((m) => `${m.nodeId}/${m.incarnation}`).join(' ')} (installed ${c.here.view.installedAt})`);
  print(`created     by ${c.createdBy} at ${c.createdAt}`);
}

function parseNodes(text: string): string[] {
  const nodes = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (nodes.length === 0) throw new CliError('--nodes names no node');
  return nodes;
}

function parseSize(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`--size is a positive integer, got "${text}"`);
  return n;
}

/**
 * Clusters made from profiles belong to the cluster lifecycle (src/cluster/lifecycle):
 * `create --profile P` without --nodes goes to it (placement, installation, progress),
 * and `delete` of such a cluster too (its components removed first). main.ts passes
 * these; without them --profile is only recorded.
 */
export interface ClusterCommandHooks {
  readonly createFromProfile?: (name: string, flags: ConnectionFlags & { profile: string; on?: string }) => Promise<void>;
  /** Resolves false when the cluster was not made from a profile. */
  readonly deleteFromProfile?: (name: string, flags: ConnectionFlags) => Promise<boolean>;
}

export function registerClusterCommands(program: Command, print: Print = (line) => console.log(line), hooks: ClusterCommandHooks = {}): void {
  // The Cluster Designer (src/cluster/designer) may have made `galaxy cluster` already.
  const cluster = program.commands.find((c) => c.name() === 'cluster') ?? program.command('cluster').description('clusters: groups of farm nodes with consensus views, defined in the FMIDB (create, ls, show, members, views, leave, delete; from a profile: create --profile, upgrade, operations, design)');
  const path = (name: string, rest = ''): string => `/v1/clusters/${encodeURIComponent(name)}${rest}`;

  withConnection(
    cluster
      .command('create')
      .description('define a cluster farm-wide, e.g. galaxy cluster create web --on web-nodes --size 5')
      .argument('<name>', 'cluster name: 1 to 48 of [A-Za-z0-9_.-]')
      .option('--nodes <ids>', 'the members: node ids, comma-separated')
      .option('--on <landscape>', 'the members: the nodes of a landscape')
      .option('--size <n>', 'with --on: the first N nodes of the landscape (in id order)')
      .option('--profile <name>', 'without --nodes: make the cluster from a stored profile, NAME@VERSION (nodes picked by its placement rules within --on LANDSCAPE, its components installed per role, progress shown live); with --nodes: recorded only')
      .option('--suspect-timeout <ms>', 'the cluster failure detector: the least silence after which a member is left out of the next view (default 400; it adapts to each member\'s recent silences, up to twice this)')
      .option('--heartbeat <ms>', 'the cluster failure detector: heartbeat interval (default 50)'),
  ).action((name: string, flags: ConnectionFlags & { nodes?: string; on?: string; size?: string; profile?: string; suspectTimeout?: string; heartbeat?: string }) =>
    run(print, async () => {
      if (flags.profile !== undefined && flags.nodes === undefined && hooks.createFromProfile !== undefined) {
        if (flags.size !== undefined || flags.suspectTimeout !== undefined || flags.heartbeat !== undefined) throw new CliError('with --profile the counts and the failure detector come from the profile: drop --size, --suspect-timeout and --heartbeat');
        return hooks.createFromProfile(name, { ...flags, profile: flags.profile });
      }
      if ((flags.nodes === undefined) === (flags.on === undefined)) throw new CliError('give the members with --nodes ID,... or --on LANDSCAPE (one of them)');
      if (flags.size !== undefined && flags.on === undefined) throw new CliError('--size goes with --on LANDSCAPE');
      const tuning: Record<string, number> = {};
      for (const [flag, key] of [['suspectTimeout', 'suspectTimeoutMs'], ['heartbeat', 'heartbeatIntervalMs']] as const) {
        const text = flags[flag];
        if (text === undefined) continue;
        const n = Number(text);
        if (!Number.isFinite(n) || n <= 0) throw new CliError(`--${flag === 'suspectTimeout' ? 'suspect-timeout' : 'heartbeat'} is a number of ms > 0, got "${text}"`);
        tuning[key] = n;
      }
      const size = parseSize(flags.size);
      const body = {
        name,
        ...(flags.nodes !== undefined ? { nodes: parseNodes(flags.nodes) } : { landscape: flags.on }),
        ...(size === undefined ? {} : { size }),
        ...(flags.profile === undefined ? {} : { profile: flags.profile }),
        ...(Object.keys(tuning).length === 0 ? {} : { tuning }),
      };
      const created = (await connect(flags).post('/v1/clusters', body)) as ClusterSummary;
      if (flags.json) return print(JSON.stringify(created, null, 2));
      print(`created cluster ${name}; its members start their cores as the definition replicates (about a second)`);
      printCluster(print, created);
    }),
  );
  withConnection(cluster.command('ls').description('clusters, their members and this node\'s part')).action((flags: ConnectionFlags) =>
    run(print, async () => {
      const list = (await connect(flags).get('/v1/clusters')) as ClusterSummary[];
      if (flags.json) return print(JSON.stringify(list, null, 2));
      if (list.length === 0) return print('(no clusters)');
      table(print, [['NAME', 'MEMBERS', 'VIEW', 'HERE', 'SELECTION'], ...list.map((c) => [c.name, c.members === null ? '?' : String(c.members.length), c.here?.view ? String(c.here.view.viewId) : '-', c.here === null ? '-' : `${c.here.status}${c.here.minority ? ' MINORITY' : ''}`, selectionText(c.selection)])]);
    }),
  );
  withConnection(cluster.command('show').description('one cluster: definition, members, this node\'s status and view').argument('<name>')).action((name: string, flags: ConnectionFlags) =>
    run(print, async () => {
      const c = (await connect(flags).get(path(name))) as ClusterSummary;
      if (flags.json) return print(JSON.stringify(c, null, 2));
      printCluster(print, c);
    }),
  );
  withConnection(cluster.command('members').description('the defined members and this node\'s current view, with farm status').argument('<name>')).action((name: string, flags: ConnectionFlags) =>
    run(print, async () => {
      const rows = (await connect(flags).get(path(name, '/members'))) as ClusterMemberRow[];
      if (flags.json) return print(JSON.stringify(rows, null, 2));
      if (rows.length === 0) return print('(no members)');
      table(print, [['MEMBER', 'DEFINED', 'IN VIEW', 'FARM'], ...rows.map((r) => [r.path, r.defined ? 'yes' : 'no', r.incarnation === null ? 'no' : `yes (incarnation ${r.incarnation})`, r.farm])]);
    }),
  );
  withConnection(cluster.command('views').description('the views this node installed: id, members, when').argument('<name>')).action((name: string, flags: ConnectionFlags) =>
    run(print, async () => {
      const v = (await connect(flags).get(path(name, '/views'))) as ClusterViews;
      if (flags.json) return print(JSON.stringify(v, null, 2));
      print(`node ${v.node}, incarnation ${v.incarnation}, ${v.status}${v.forgotten > 0 ? ` (${v.forgotten} older entries forgotten)` : ''}`);
      if (v.views.length === 0) return print('(no view installed yet)');
      table(print, [['VIEW', 'INSTALLED', 'MEMBERS'], ...v.views.map((view) => [String(view.viewId), view.installedAt, view.members.map((m) => `${m.nodeId}/${m.incarnation}`).join(' ')])]);
    }),
  );
  withConnection(cluster.command('leave').description('this node leaves the cluster (a view change without it; it stays out across restarts)').argument('<name>')).action((name: string, flags: ConnectionFlags) =>
    run(print, async () => {
      const here = (await connect(flags).post(path(name, '/leave'), {})) as LocalMembership;
      if (flags.json) return print(JSON.stringify(here, null, 2));
      print(`${here.member} is leaving cluster ${name}`);
    }),
  );
  withConnection(cluster.command('delete').description('delete a cluster farm-wide: every member leaves and stops its core (one made from a profile: its components are stopped and removed first)').argument('<name>')).action((name: string, flags: ConnectionFlags) =>
    run(print, async () => {
      if (hooks.deleteFromProfile !== undefined && (await hooks.deleteFromProfile(name, flags))) return;
      await connect(flags).delete(path(name));
      print(`deleted cluster ${name}`);
    }),
  );
}
