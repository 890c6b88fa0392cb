import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ApiClient, ApiClientError } from '../../surface/client/api-client.js';
import type { InstallOperationEvent, InstallOperationView, InstallOutcome, InstalledComponentView, PackageView } from './install-backend.js';
import { InstallError } from '../install/install-error.js';
import { packageBounds } from '../install/package-bounds.js';
import { archiveFileName, writePackageArchive } from '../install/package-archive.js';
import { checkSourceManifest, parseManifestText } from '../install/package-manifest.js';
import { kManifestFileName } from '../install/package-path.js';
import { CliError, connect, parseConfigPairs, withConnection, type ConnectionFlags } from '../../surface/cli/cli-kit.js';

/**
 * The operator's commands for component packages:
 *
 *   galaxy components install NAME@VERSION [--nodes a,b | --on LANDSCAPE | --where SQL] [--batch N]
 *   galaxy components remove NAME
 *   galaxy components installed
 *   galaxy packages ls | add DIR|ARCHIVE | pack DIR [--out FILE]
 *
 * install starts an operation on the agent and follows it, printing each phase (and,
 * for a rollout, each batch and node) until it ends; the exit code is 0 only when the
 * install, or every node of the rollout, succeeded. pack works locally, without an agent.
 *
 * The connection flags work as for the other API commands (surface/cli/cli-kit.ts): --api and
 * --token, then GALAXY_API and GALAXY_TOKEN, then the local agent's data directory.
 */
type Print = (line: string) => void;

/** How often install polls its operation, ms. */
const kPollIntervalMs = 500;
/** How long install follows an operation by default, s; the operation goes on after the CLI gives up. */
const kFollowSecondsDefault = 3600;

async function run(action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (error) {
    if (error instanceof ApiClientError || error instanceof CliError || error instanceof InstallError) {
      console.error(`galaxy: ${error.message}`);
      process.exitCode = error instanceof ApiClientError && error.status !== undefined && error.status < 500 ? 2 : 1;
      return;
    }
    throw error;
  }
}

function table(print: Print, rows: ReadonlyArray<readonly string[]>): void {
  if (rows.length === 0) return;
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const row of rows) print(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
}

/** "name@1.2.3" split; the name and version grammars hold no '@'. */
export function parsePackageSpec(spec: string): { name: string; version: string } {
  const at = spec.indexOf('@');
  if (at <= 0 || at === spec.length - 1) throw new CliError(`expected NAME@VERSION, got "${spec}"`);
  return { name: spec.slice(0, at), version: spec.slice(at + 1) };
}


/** One line per operation event. */
export function describeOperationEvent(event: InstallOperationEvent): string {
  if (event.type === 'progress') {
    const p = event.progress;
    const what = `${p.name}${p.version === null ? '' : `@${p.version}`}`;
    const d = p.detail;
    const bytes = d.bytesTotal !== undefined && d.bytesDone !== undefined ? ` ${d.bytesDone}/${d.bytesTotal} bytes` : '';
    const peer = d.peer === undefined ? '' : ` from ${d.peer}`;
    const error = d.error === undefined ? '' : `: ${d.code ?? ''} ${d.error}`;
    return `${p.at} ${what} ${p.phase}${bytes}${peer}${error}`;
  }
  const r = event.rollout;
  switch (r.type) {
    case 'batch':
      return `${event.at} batch ${r.batch + 1}: ${r.nodes.join(', ')}`;
    case 'node':
      return `${event.at}   ${r.node.id} ${r.node.result}${r.node.error === null ? '' : `: ${r.node.error.code} ${r.node.error.message}`}`;
    case 'stopped':
      return `${event.at} rollout stopped after batch ${r.batch + 1}: ${r.failed.join(', ')} failed`;
    case 'done':
      return `${event.at} rollout ${r.ok ? 'done' : 'failed'}`;
  }
}

function describeOutcome(outcome: InstallOutcome): string {
  const version = outcome.version ?? outcome.previousVersion ?? '';
  const error = outcome.error === null ? '' : `: ${outcome.error.code} ${outcome.error.message}`;
  return `${outcome.name}${version === '' ? '' : `@${version}`} ${outcome.result}${error}`;
}

/** Adds `install`, `remove` and `installed` to the `components` command. */
export function addComponentInstallCommands(components: Command, print: Print = (line) => console.log(line)): void {
  withConnection(
    components
      .command('install <name@version>')
      .description('install a component package on this agent, or roll it out to nodes in batches (stops at the first failure); the package is fetched from farm nodes that hold it')
      .option('--nodes <ids>', 'target nodes, comma-separated node ids')
      .option('--on <landscape>', 'target the nodes of a landscape')
      .option('--where <statement>', 'target the nodes a landscape statement selects')
      .option('--batch <n>', 'nodes installed at once in a rollout', '1')
      .option('--checksum <sha256>', 'accept only the package with this checksum')
      .option('--config <key=value...>', 'configuration laid over the package defaults (values parsed as JSON when they can be)')
      .option('--follow <seconds>', 'how long to follow the operation', String(kFollowSecondsDefault)),
  ).action((spec: string, flags: ConnectionFlags & { nodes?: string; on?: string; where?: string; batch: string; checksum?: string; config?: string[]; follow: string }) =>
    run(async () => {
      const { name, version } = parsePackageSpec(spec);
      const targets = [flags.nodes, flags.on, flags.where].filter((t) => t !== undefined);
      if (targets.length > 1) throw new CliError('give at most one of --nodes, --on and --where');
      const batch = Number(flags.batch);
      if (!Number.isSafeInteger(batch) || batch < 1) throw new CliError(`--batch must be a positive integer, got "${flags.batch}"`);
      const followS = Number(flags.follow);
      if (!Number.isFinite(followS) || followS <= 0) throw new CliError(`--follow must be a positive number of seconds, got "${flags.follow}"`);
      const target =
        flags.nodes !== undefined ? { nodes: flags.nodes.split(',').filter((n) => n !== '') } : flags.on !== undefined ? { landscape: flags.on } : flags.where !== undefined ? { sql: flags.where } : undefined;
      const body = {
        name,
        version,
        ...(flags.checksum === undefined ? {} : { checksum: flags.checksum }),
        ...(flags.config === undefined ? {} : { config: parseConfigPairs(flags.config) }),
        ...(target === undefined ? {} : { target, batch }),
      };
      const client = connect(flags);
      const started = (await client.post('/v1/components/install', body)) as InstallOperationView;
      const final = await follow(client, started, followS * 1000, flags.json === true ? () => {} : print);
      if (flags.json) print(JSON.stringify(final, null, 2));
      else if (final.state === 'running') print(`still running after ${followS} s: galaxy components operation ${final.id}`);
      else if (final.outcome !== null) print(describeOutcome(final.outcome));
      else if (final.rollout !== null) print(`${final.rollout.nodes.filter((n) => n.result === 'installed' || n.result === 'unchanged' || n.result === 'configured').length}/${final.rollout.nodes.length} nodes run ${name}@${version}`);
      else if (final.error !== null) print(`failed: ${final.error.code} ${final.error.message}`);
      if (final.state !== 'succeeded') process.exitCode = 1;
    }),
  );

  withConnection(components.command('remove <name>').description('stop a component installed from a package and forget it on this agent')).action((name: string, flags: ConnectionFlags) =>
    run(async () => {
      const outcome = (await connect(flags).post(`/v1/components/${encodeURIComponent(name)}/remove`, {})) as InstallOutcome;
      if (flags.json) return print(JSON.stringify(outcome, null, 2));
      print(describeOutcome(outcome));
      if (outcome.result !== 'removed') process.exitCode = 1;
    }),
  );

  withConnection(components.command('installed').description('components installed from packages on this agent: version, state, origin, owner (the cluster lifecycle operation that installed it, - by hand)')).action((flags: ConnectionFlags) =>
    run(async () => {
      const list = (await connect(flags).get('/v1/components/installed')) as InstalledComponentView[];
      if (flags.json) return print(JSON.stringify(list, null, 2));
      if (list.length === 0) return print('(none)');
      table(print, [['NAME', 'VERSION', 'STATE', 'ORIGIN', 'OWNER', 'CHECKSUM'], ...list.map((c) => [c.name, c.version, c.state, c.origin, c.owner ?? '-', c.checksum.slice(0, 16)])]);
    }),
  );

  withConnection(components.command('operation <id>').description('an install operation started earlier, with all its events')).action((id: string, flags: ConnectionFlags) =>
    run(async () => {
      const operation = (await connect(flags).get(`/v1/installs/${encodeURIComponent(id)}`)) as InstallOperationView;
      if (flags.json) return print(JSON.stringify(operation, null, 2));
      for (const event of operation.events) print(describeOperationEvent(event));
      print(`${operation.kind} ${operation.name}@${operation.version} ${operation.state}`);
    }),
  );
}

/** Polls an operation, printing its new events, until it ends or `timeoutMs` passes. */
async function follow(client: ApiClient, started: InstallOperationView, timeoutMs: number, print: Print): Promise<InstallOperationView> {
  const deadline = Date.now() + timeoutMs;
  let seen = 0;
  let view = started;
  for (;;) {
    for (const event of view.events) {
      if (event.seq <= seen) continue;
      print(describeOperationEvent(event));
      seen = event.seq;
    }
    if (view.state !== 'running' || Date.now() >= deadline) return view;
    await new Promise((resolve) => setTimeout(resolve, kPollIntervalMs));
    view = (await client.get(`/v1/installs/${view.id}?after=${seen}`)) as InstallOperationView;
  }
}

/**
 * Registers `galaxy packages ...` on the program and the install subcommands on the
 * `components` command: the one given, else the program's existing one, else a new one.
 */
export function registerInstallCommands(program: Command, componentsCommand?: Command, print: Print = (line) => console.log(line)): void {
  const components = componentsCommand ?? program.commands.find((c) => c.name() === 'components') ?? program.command('components').description('farm service components on this agent');
  addComponentInstallCommands(components, print);

  const packages = program.command('packages').description('component packages: the ones this agent holds, adding one, packing a directory into an archive');
  withConnection(packages.command('ls').description('packages this agent holds')).action((flags: ConnectionFlags) =>
    run(async () => {
      const list = (await connect(flags).get('/v1/packages')) as PackageView[];
      if (flags.json) return print(JSON.stringify(list, null, 2));
      if (list.length === 0) return print('(none)');
      table(print, [['NAME', 'VERSION', 'KIND', 'BYTES', 'FILES', 'INSTALLED', 'CHECKSUM'], ...list.map((p) => [p.name, p.version, p.kind, String(p.bytes), String(p.files), p.installed ? 'yes' : '-', p.checksum.slice(0, 16)])]);
    }),
  );
  withConnection(packages.command('add <path>').description('add a package directory or .gxpkg archive to this agent (the path is read by the agent, on its host)')).action((path: string, flags: ConnectionFlags) =>
    run(async () => {
      const added = (await connect(flags).post('/v1/packages', { path: resolve(path) })) as PackageView;
      if (flags.json) return print(JSON.stringify(added, null, 2));
      print(`${added.name}@${added.version} ${added.checksum}`);
    }),
  );
  packages
    .command('pack <dir>')
    .description('seal a package directory (hash its files, compute its checksum) and write it as one .gxpkg archive')
    .option('--out <file>', 'archive to write (default: NAME-VERSION.gxpkg in the current directory)')
    .action((dir: string, flags: { out?: string }) =>
      run(async () => {
        const root = resolve(dir);
        const where = join(root, kManifestFileName);
        let text: string;
        try {
          text = readFileSync(where, 'utf8');
        } catch (error) {
          throw new CliError(`${where}: cannot read the manifest (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
        }
        const source = checkSourceManifest(parseManifestText(text, where), where);
        const out = resolve(flags.out ?? archiveFileName(source));
        const manifest = await writePackageArchive(root, out, packageBounds());
        print(`${out} ${manifest.name}@${manifest.version} ${manifest.checksum}`);
      }),
    );
}
