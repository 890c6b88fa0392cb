import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { isSemver } from '../../farm/install/semver.js';
import { isNodeId } from '../../farm/data/landscape/node-id.js';
import { packageRoot } from '../../core/platform/package-root.js';
import { formatPlan, planCluster, type CurrentMember } from './cluster-plan.js';
import { catalogOf, kFarmComponentPackages, type PackageCatalog } from './package-catalog.js';
import { evaluatePlacementQueries } from './placement-queries.js';
import { checkComposition } from './profile-check.js';
import { composeProfile } from './profile-composer.js';
import { diffProfiles, formatDiff } from './profile-diff.js';
import type { ProfileDocument } from './profile-document.js';
import { ProfileError } from './profile-error.js';
import { readProfileDirectory, readProfileFile } from './profile-files.js';
import { kPlacementNodesMax } from './profile-limits.js';
import { placeProfile, type FarmNode, type Placement } from './profile-placement.js';
import { renderProfile } from './profile-render.js';
import type { Profile } from './profile-schema.js';
import { findProfile } from './profile-source.js';
import { validateProfile, type ProfileValidation } from './profile-validation.js';
import { CliError, connect, type ConnectionFlags } from '../../surface/cli/cli-kit.js';

/** What POST /v1/designer/plan answers, as `profile plan` prints it (the designer's ClusterPlan document). */
interface ClusterPlanView {
  readonly profile: string;
  readonly actions: readonly unknown[];
  readonly blocked: readonly string[];
  readonly lines: readonly string[];
}
import { profileInputOf, registerStoredProfileCommands, runStored, withApiFlags } from './profile-store-commands.js';

/**
 * `galaxy profile validate|render|diff|place|plan`: profiles as files, no agent needed.
 * Parents and mixins are looked up in --profiles-dir (default: the profile file's own
 * directory). Exit codes as elsewhere in the CLI: 0 ok, 1 valid but not deployable
 * (validate --require-components), 2 bad input (a bad profile, bad flags or input
 * files, not enough nodes, a blocked plan).
 *
 * Later `place` and `plan` read the FMIDB and the cluster service through the agent's
 * API; the functions they call (placeProfile, planCluster) take the same data.
 */
export interface ProfileCommandsIo {
  readonly print: (line: string) => void;
  readonly printError: (line: string) => void;
}

const kConsoleIo: ProfileCommandsIo = { print: (line) => console.log(line), printError: (line) => console.error(line) };

/** Bad input to a command (flags, nodes.json, cluster.json): exit 2. */
class UsageError extends Error {}

/** Skipped candidates printed per role by `place`; --json has them all. */
const kSkipsShownMax = 20;
/** Node attribute files hold at most this many bytes. */
const kInputFileBytesMax = 64 * 1024 * 1024;

async function run(io: ProfileCommandsIo, action: () => number | void): Promise<void> {
  try {
    process.exitCode = action() ?? 0;
  } catch (error) {
    if (error instanceof ProfileError) {
      for (const line of error.message.split('\n')) io.printError(`galaxy: ${line}`);
      io.printError(`galaxy: (${error.code})`);
    } else if (error instanceof UsageError) {
      io.printError(`galaxy: ${error.message}`);
    } else {
      throw error;
    }
    process.exitCode = 2;
  }
}

interface SourceFlags {
  profilesDir?: string;
}

/** The file's document, composed against its directory (or --profiles-dir). */
function load(file: string, flags: SourceFlags) {
  const document = readProfileFile(file);
  const { source } = readProfileDirectory(flags.profilesDir ?? dirname(file), [document]);
  return { document, source };
}

/** A profile file (a .yaml or .yml name, a path, or a file that exists), not a profile name. */
export function isFileArgument(argument: string): boolean {
  return /\.ya?ml$/.test(argument) || argument.includes('/') || existsSync(argument);
}

/** A file, or a `name@range` looked up in --profiles-dir (default the working directory). */
function loadArgument(argument: string, flags: SourceFlags): ProfileDocument {
  if (isFileArgument(argument)) return readProfileFile(argument);
  const { source } = readProfileDirectory(flags.profilesDir ?? '.');
  const match = /^([a-z][a-z0-9-]{0,62})(?:@(.+))?$/.exec(argument);
  const found = match === null ? null : findProfile(source, match[1]!, match[2] ?? null);
  if (found === null) throw new UsageError(`${argument}: neither a .yaml file nor a profile in ${source.where} (known: ${source.names().join(', ') || 'none'})`);
  return found;
}

function composedProfile(file: string, flags: SourceFlags): Profile {
  const { document, source } = load(file, flags);
  return checkComposition(composeProfile(document, source));
}

interface CatalogFlags {
  packages?: string[];
  packageStore?: string;
}

/** The farm components at this agent's version, the packages of a package store directory, and --packages. */
function catalogFrom(flags: CatalogFlags): PackageCatalog {
  const version = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  const specs: string[] = kFarmComponentPackages.map((name) => `${name}@${version}`);
  if (flags.packageStore !== undefined) {
    try {
      for (const name of readdirSync(flags.packageStore)) {
        if (name.startsWith('.')) continue;
        for (const v of readdirSync(join(flags.packageStore, name))) if (isSemver(v)) specs.push(`${name}@${v}`);
      }
    } catch (error) {
      throw new UsageError(`--package-store ${flags.packageStore}: ${(error as Error).message}`);
    }
  }
  for (const spec of (flags.packages ?? []).flatMap((list) => list.split(','))) {
    const at = spec.lastIndexOf('@');
    if (at <= 0 || !isSemver(spec.slice(at + 1))) throw new UsageError(`--packages: expected NAME@VERSION, got "${spec}"`);
    specs.push(spec);
  }
  return catalogOf(specs);
}

const kAttributeValue = z.union([z.string().max(4096), z.number().finite(), z.null()]);
const kNodeSchema = z.object({ id: z.string().refine(isNodeId, 'must be a node id (16 lower-case hex digits)'), attributes: z.record(kAttributeValue).default({}), alive: z.boolean().optional() }).strict();
const kNodesFileSchema = z.union([
  z.array(kNodeSchema).max(kPlacementNodesMax),
  z
    .object({
      nodes: z.array(kNodeSchema).max(kPlacementNodesMax),
      landscapes: z.record(z.array(z.string())).default({}),
      queries: z.record(z.array(z.string())).optional(),
    })
    .strict(),
]);
const kCurrentFileSchema = z
  .object({
    members: z.array(
      z.object({ node: z.string().refine(isNodeId, 'must be a node id'), role: z.string(), components: z.array(z.object({ package: z.string(), version: z.string().refine(isSemver, 'must be a semantic version') }).strict()).default([]) }).strict(),
    ),
  })
  .strict();

function readInput<T>(file: string, schema: z.ZodType<T, z.ZodTypeDef, unknown>, what: string): T {
  let document: unknown;
  try {
    const text = readFileSync(file, 'utf8');
    if (text.length > kInputFileBytesMax) throw new Error(`larger than ${kInputFileBytesMax} bytes`);
    document = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${what} ${file}: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(document);
  if (!parsed.success) throw new UsageError(`${what} ${file}: ${parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

interface FarmData {
  readonly nodes: FarmNode[];
  readonly landscapes: Record<string, string[]>;
  readonly queries?: Record<string, string[]>;
}

function farmData(file: string): FarmData {
  const parsed = readInput(file, kNodesFileSchema, 'nodes file');
  return Array.isArray(parsed) ? { nodes: parsed, landscapes: {} } : parsed;
}

function within(data: FarmData, on: string | undefined): string[] | undefined {
  if (on === undefined) return undefined;
  const members = data.landscapes[on];
  if (members === undefined) throw new UsageError(`--on ${on}: no such landscape in the nodes file (landscapes: ${Object.keys(data.landscapes).join(', ') || 'none'})`);
  return members;
}

function printValidation(io: ProfileCommandsIo, result: ProfileValidation): void {
  const lineage = result.composition.lineage.length > 1 ? ` (${result.composition.lineage.join(' + ')})` : '';
  if (result.profile === null) return io.print(`ok  ${result.file}  ${result.ref}: a mixin; composes into profiles${lineage}`);
  io.print(`ok  ${result.file}  ${result.ref}${lineage}`);
  if (result.deployable) return io.print('    deployable: every component is available');
  const byPackage = new Map<string, { roles: string[]; reason: string }>();
  for (const missing of result.missing) {
    const key = `${missing.package} ${missing.range}`;
    const entry = byPackage.get(key) ?? { roles: [], reason: missing.reason };
    entry.roles.push(missing.role);
    byPackage.set(key, entry);
  }
  io.print(`    NOT deployable: ${byPackage.size} component${byPackage.size === 1 ? '' : 's'} missing`);
  for (const [key, entry] of byPackage) io.print(`      ${key} (role${entry.roles.length === 1 ? '' : 's'} ${entry.roles.join(', ')}): ${entry.reason}`);
}

/** The placement table and, per role, every decision and why nodes were left out (also the designer's preview). */
export function printPlacement(io: Pick<ProfileCommandsIo, 'print'>, placement: Placement): void {
  if (placement.members.length > 0) {
    const rows = [['ROLE', 'NODE', 'ADMIN', 'COMPONENTS', 'FAILURE DETECTION'], ...placement.members.map((m) => [m.role, m.node, m.networks.admin, m.networks.components, m.networks.failureDetection])];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const row of rows) io.print(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
  } else {
    io.print('(no node placed)');
  }
  io.print('');
  io.print('why:');
  for (const role of placement.roles) {
    io.print(`  role ${role.role} (${role.min === role.max ? role.min : `${role.min} to ${role.max}`} member${role.max === 1 ? '' : 's'}): ${role.members.length} placed`);
    const decisions = placement.decisions.filter((d) => d.role === role.role);
    const skipped = decisions.filter((d) => d.outcome === 'skipped');
    // Every choice is shown; skips only up to a screenful (a big farm skips thousands).
    for (const decision of [...decisions.filter((d) => d.outcome !== 'skipped'), ...skipped.slice(0, kSkipsShownMax)]) io.print(`    ${decision.outcome.padEnd(7)} ${decision.node}  ${decision.reason}`);
    if (skipped.length > kSkipsShownMax) io.print(`    skipped ${skipped.length - kSkipsShownMax} more (--json lists every decision)`);
    for (const group of role.excluded) {
      const shown = group.nodes.slice(0, 8).join(' ') + (group.nodes.length > 8 ? ` ... (${group.nodes.length - 8} more)` : '');
      io.print(`    left out ${group.nodes.length}: ${group.reason}: ${shown}`);
    }
  }
}

export function registerProfileCommands(program: Command, io: ProfileCommandsIo = kConsoleIo): void {
  const profile = program.command('profile').description('cluster profiles (YAML): validate, render the composed result, diff, preview placement and plan changes; see src/cluster/profiles/README.md');
  const withDir = (command: Command) => command.option('--profiles-dir <dir>', 'where parents and mixins are looked up (default: the profile file\'s directory)');
  const withCatalog = (command: Command) =>
    command
      .option('--packages <name@version,...>', 'packages known to exist besides the farm components; repeatable', (value: string, previous: string[]) => [...previous, value], [] as string[])
      .option('--package-store <dir>', 'a package store directory (<dir>/<name>/<version>/) whose packages exist');

  withCatalog(withDir(profile.command('validate').description('check profiles: schema, composition, semantics, and which components are missing').argument('<files...>', 'profile files')))
    .option('--require-components', 'exit 1 when a valid profile has missing components')
    .option('--json', 'print JSON')
    .action((files: string[], flags: SourceFlags & CatalogFlags & { requireComponents?: boolean; json?: boolean }) =>
      run(io, () => {
        const catalog = catalogFrom(flags);
        let invalid = false;
        let undeployable = false;
        const results: unknown[] = [];
        for (const file of files) {
          try {
            const { document, source } = load(file, flags);
            const result = validateProfile(document, source, catalog);
            undeployable ||= result.profile !== null && !result.deployable;
            if (flags.json) results.push({ file, ref: result.ref, valid: true, kind: document.kind, lineage: result.composition.lineage, deployable: result.deployable, missing: result.missing });
            else printValidation(io, result);
          } catch (error) {
            if (!(error instanceof ProfileError)) throw error;
            invalid = true;
            if (flags.json) results.push({ file, valid: false, code: error.code, problems: error.problems });
            else for (const line of error.message.split('\n')) io.print(`bad ${line}`);
          }
        }
        if (flags.json) io.print(JSON.stringify(results, null, 2));
        return invalid ? 2 : undeployable && flags.requireComponents ? 1 : 0;
      }),
    );

  withApiFlags(withDir(profile.command('render').description('print the fully composed profile as YAML: of a file, or of a profile stored in the FMIDB (NAME[@RANGE]; with --profiles-dir, looked up there)').argument('<profile>', 'profile file, or NAME[@RANGE]'))).action(
    (argument: string, flags: SourceFlags & ConnectionFlags) => {
      if (isFileArgument(argument) || flags.profilesDir !== undefined) {
        return run(io, () => {
          const document = loadArgument(argument, flags);
          const { source } = readProfileDirectory(flags.profilesDir ?? dirname(document.file), [document]);
          const composition = composeProfile(document, source);
          if (document.kind === 'ClusterProfile') checkComposition(composition);
          io.print(renderProfile(composition).trimEnd());
        });
      }
      return runStored(io, async () => {
        const rendered = (await connect(flags).post('/v1/profiles/render', { profile: { ref: argument } })) as { yaml: string };
        io.print(rendered.yaml.trimEnd());
      });
    },
  );

  withApiFlags(
    withDir(profile.command('diff').description('structural diff of two composed profiles: files, name@version in --profiles-dir, or (without --profiles-dir) profiles stored in the FMIDB').argument('<a>').argument('<b>')),
  ).action((a: string, b: string, flags: SourceFlags & ConnectionFlags) => {
    if (flags.profilesDir !== undefined || (isFileArgument(a) && isFileArgument(b))) {
      return run(io, () => {
        const compose = (argument: string) => {
          const document = loadArgument(argument, flags);
          const { source } = readProfileDirectory(flags.profilesDir ?? dirname(document.file), [document]);
          return checkComposition(composeProfile(document, source));
        };
        const lines = formatDiff(diffProfiles(compose(a), compose(b)));
        if (lines.length === 0) io.print('(no differences)');
        for (const line of lines) io.print(line);
      });
    }
    // A stored name and a file: the file is composed against the stored profiles.
    return runStored(io, async () => {
      const diff = (await connect(flags).post('/v1/profiles/diff', { a: profileInputOf(a, isFileArgument(a)), b: profileInputOf(b, isFileArgument(b)) })) as { lines: string[] };
      if (diff.lines.length === 0) io.print('(no differences)');
      for (const line of diff.lines) io.print(line);
    });
  });

  withApiFlags(
    withDir(
      profile
        .command('place')
        .description('preview placement: which node gets which role, and why; over a JSON file of nodes (--nodes), or without it over the live FMIDB of the local agent (nodes, attributes, liveness, landscapes)')
        .argument('<profile>', 'profile file, or NAME[@RANGE] stored in the FMIDB')
        .option('--nodes <nodes.json>', '[{id, attributes, alive?}] or {nodes, landscapes: {name: [ids]}, queries?}')
        .option('--on <landscape>', 'only nodes of this landscape (as galaxy cluster create --on)')
        .option('--json', 'print JSON'),
    ),
  ).action((file: string, flags: SourceFlags & ConnectionFlags & { nodes?: string; on?: string; json?: boolean }) => {
    if (flags.nodes === undefined) {
      return runStored(io, async () => {
        const preview = (await connect(flags).post('/v1/designer/preview', { profile: profileInputOf(file, isFileArgument(file)), on: flags.on ?? null })) as { placement: Placement };
        if (flags.json) io.print(JSON.stringify(preview.placement, null, 2));
        else printPlacement(io, preview.placement);
        for (const problem of preview.placement.problems) io.printError(`galaxy: not enough nodes: ${problem}`);
        return preview.placement.problems.length > 0 ? 2 : 0;
      });
    }
    const nodes = flags.nodes;
    return run(io, () => {
      const composed = composedProfile(file, flags);
      const data = farmData(nodes);
      const queries = { ...evaluatePlacementQueries(composed, data.nodes), ...data.queries };
      const w = within(data, flags.on);
      const placement = placeProfile({ profile: composed, nodes: data.nodes, landscapes: data.landscapes, queries, ...(w === undefined ? {} : { within: w }) });
      if (flags.json) io.print(JSON.stringify(placement, null, 2));
      else printPlacement(io, placement);
      for (const problem of placement.problems) io.printError(`galaxy: not enough nodes: ${problem}`);
      return placement.problems.length > 0 ? 2 : 0;
    });
  });

  withApiFlags(
    withCatalog(
      withDir(
        profile
          .command('plan')
          .description('dry run: the actions (add member, install, upgrade, remove) that take a cluster from its current state to the profile; over --nodes, or without it over the live FMIDB of the local agent (its packages are the catalog)')
          .argument('<profile>', 'profile file, or NAME[@RANGE] stored in the FMIDB')
          .option('--nodes <nodes.json>', 'nodes and landscapes, as for place')
          .option('--current <cluster.json>', '{members: [{node, role, components: [{package, version}]}]}; none: a new cluster')
          .option('--on <landscape>', 'only nodes of this landscape')
          .option('--json', 'print JSON'),
      ),
    ),
  ).action((file: string, flags: SourceFlags & CatalogFlags & ConnectionFlags & { nodes?: string; current?: string; on?: string; json?: boolean }) => {
    const current = (): CurrentMember[] => (flags.current === undefined ? [] : readInput(flags.current, kCurrentFileSchema, 'cluster file').members);
    if (flags.nodes === undefined) {
      return runStored(io, async () => {
        let members: CurrentMember[];
        try {
          members = current();
        } catch (error) {
          if (error instanceof UsageError) throw new CliError(error.message);
          throw error;
        }
        const plan = (await connect(flags).post('/v1/designer/plan', { profile: profileInputOf(file, isFileArgument(file)), on: flags.on ?? null, current: members })) as ClusterPlanView;
        if (flags.json) io.print(JSON.stringify({ profile: plan.profile, actions: plan.actions, blocked: plan.blocked }, null, 2));
        else for (const line of plan.lines) io.print(line);
        return plan.blocked.length > 0 ? 2 : 0;
      });
    }
    const nodes = flags.nodes;
    return run(io, () => {
      const composed = composedProfile(file, flags);
      const data = farmData(nodes);
      const queries = { ...evaluatePlacementQueries(composed, data.nodes), ...data.queries };
      const w = within(data, flags.on);
      const plan = planCluster({ profile: composed, nodes: data.nodes, landscapes: data.landscapes, queries, current: current(), catalog: catalogFrom(flags), ...(w === undefined ? {} : { within: w }) });
      if (flags.json) io.print(JSON.stringify({ profile: plan.profile, actions: plan.actions, blocked: plan.blocked }, null, 2));
      else for (const line of formatPlan(plan)) io.print(line);
      return plan.blocked.length > 0 ? 2 : 0;
    });
  });

  registerStoredProfileCommands(profile, io);
}
