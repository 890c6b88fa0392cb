import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { CliError, connect, table, type ConnectionFlags } from '../../surface/cli/cli-kit.js';
import type { ApiClient } from '../../surface/client/api-client.js';
import type { LandscapeSummary } from '../../farm/data/landscape/landscape-engine.js';
import { printPlacement } from '../profiles/profile-commands.js';
import type { StoredVersion } from '../profiles/profile-library.js';
import { isFileArgument } from '../profiles/profile-commands.js';
import { profileInputOf, runStored, withApiFlags } from '../profiles/profile-store-commands.js';
import { kClusterNamePattern, type ClusterPlanDocument, type DesignPreview } from './cluster-designer.js';
import { applyClusterPlan, type ClusterApplier } from './cluster-plan-apply.js';

/**
 * `galaxy cluster design`: the Cluster Designer in the terminal, over the local agent's
 * API (designer-routes.ts). Interactive: choose a stored profile and a landscape, see
 * where each role would go and why, name the cluster, read the plan, confirm. Whatever
 * is given as a flag is not asked (`--profile P --on L --name N --yes` asks nothing), so
 * scripts and tests drive it too. Questions are read line by line from standard input,
 * a terminal or a pipe; `q` at any question, or the end of input, stops without a plan.
 *
 * Confirmed, it writes the ClusterPlan document (`-o FILE`) and prints the exact
 * `galaxy cluster create NAME --profile P --on L` it stands for; given an `apply`
 * function (the cluster service's create), it also applies it. `--dry-run` prints the
 * plan (terraform-plan style; an upgrade with `--current cluster.json`) and stops.
 */
export interface DesignCommandOptions {
  readonly print?: (line: string) => void;
  readonly printError?: (line: string) => void;
  /** Writes a question (no newline). */
  readonly write?: (text: string) => void;
  readonly input?: NodeJS.ReadableStream;
  /** The cluster lifecycle's create or upgrade (main.ts passes it); absent: the command is printed, not run. */
  readonly apply?: ClusterApplier;
}

interface DesignFlags extends ConnectionFlags {
  profile?: string;
  on?: string;
  name?: string;
  yes?: boolean;
  dryRun?: boolean;
  current?: string;
  output?: string;
}

/** Answers to one question: the line, or null when the input ended or the user typed q. */
class LineReader {
  private readonly lines: AsyncIterator<string>;
  private readonly close: () => void;

  private readonly echo: boolean;

  constructor(input: NodeJS.ReadableStream, private readonly write: (text: string) => void) {
    // A terminal shows what was typed; from a pipe the answer is echoed so the transcript reads as a dialogue.
    this.echo = (input as { isTTY?: boolean }).isTTY !== true;
    // The iterator buffers lines that arrive before the question (a pipe gives them all at once).
    const rl = createInterface({ input, terminal: false });
    this.lines = rl[Symbol.asyncIterator]();
    this.close = () => rl.close();
  }

  async ask(question: string): Promise<string | null> {
    this.write(question);
    const next = await this.lines.next();
    if (next.done === true) {
      this.write('\n');
      return null;
    }
    const answer = next.value.trim();
    if (this.echo) this.write(`${answer}\n`);
    return answer === 'q' || answer === 'quit' ? null : answer;
  }

  done(): void {
    this.close();
  }
}

class Stopped extends Error {}

/** The `cluster` command group, whoever made it first: the cluster service's commands and `design` share it. */
function clusterGroup(program: Command): Command {
  return program.commands.find((command) => command.name() === 'cluster') ?? program.command('cluster').description('clusters: design one from a profile (galaxy cluster design)');
}

export function registerDesignCommand(program: Command, options: DesignCommandOptions = {}): void {
  const print = options.print ?? ((line: string) => console.log(line));
  const printError = options.printError ?? ((line: string) => console.error(line));
  const write = options.write ?? ((text: string) => void process.stdout.write(text));
  const io = { print, printError };
  withApiFlags(
    clusterGroup(program)
      .command('design')
      .description('the Cluster Designer: choose a stored profile and a landscape, preview which node gets which role and why, plan, confirm; prints the galaxy cluster create command')
      .option('--profile <profile>', 'a stored profile, NAME[@RANGE] (or a profile file, composed against the stored ones)')
      .option('--on <landscape>', 'the landscape the cluster lives on ("*": the whole farm)')
      .option('--name <name>', 'the cluster\'s name')
      .option('--yes', 'do not ask for confirmation')
      .option('--dry-run', 'print the plan (terraform-plan style) and stop')
      .option('--current <cluster.json>', 'the cluster\'s current members, for an upgrade plan: {members: [{node, role, components: [{package, version}]}]}')
      .option('-o, --output <file>', 'write the confirmed ClusterPlan document (JSON) here')
      .option('--json', 'print JSON (the preview and the plan) instead of text'),
  ).action((flags: DesignFlags) =>
    runStored(io, async () => {
      const client = connect(flags);
      const reader = new LineReader(options.input ?? process.stdin, write);
      try {
        return await design(client, flags, reader, io, options.apply);
      } catch (error) {
        if (error instanceof Stopped) {
          printError('galaxy: stopped; nothing planned');
          return 1;
        }
        throw error;
      } finally {
        reader.done();
      }
    }),
  );
}

type Io = { print: (line: string) => void; printError: (line: string) => void };

async function ask(reader: LineReader, question: string): Promise<string> {
  const answer = await reader.ask(question);
  if (answer === null) throw new Stopped();
  return answer;
}

/** A choice by number in the list shown, or by name. */
function pick<T>(answer: string, items: readonly T[], nameOf: (item: T) => string): T | string | null {
  if (/^\d+$/.test(answer)) return items[Number(answer) - 1] ?? null;
  return items.find((item) => nameOf(item) === answer) ?? answer;
}

async function chooseProfile(client: ApiClient, reader: LineReader, io: Io): Promise<string> {
  const stored = ((await client.get('/v1/profiles')) as StoredVersion[]).filter((v) => v.kind === 'ClusterProfile' && v.valid);
  if (stored.length === 0) throw new CliError('no cluster profile is stored in the FMIDB: galaxy profile import FILE... first');
  io.print('Profiles stored in the FMIDB:');
  table(io.print, [['#', 'PROFILE', 'EXTENDS', 'MISSING COMPONENTS'], ...stored.map((v, i) => [String(i + 1), `${v.name}@${v.version}`, v.extends ?? '-', v.missing.length === 0 ? 'none' : [...new Set(v.missing.map((m) => m.package))].join(', ')])]);
  for (;;) {
    const chosen = pick(await ask(reader, 'profile (number or NAME[@RANGE], q to quit): '), stored, (v) => `${v.name}@${v.version}`);
    if (chosen === null || chosen === '') {
      io.print('  no such entry; choose a number from the list');
      continue;
    }
    return typeof chosen === 'string' ? chosen : `${chosen.name}@${chosen.version}`;
  }
}

async function chooseLandscape(client: ApiClient, reader: LineReader, io: Io): Promise<string | null> {
  const landscapes = (await client.get('/v1/landscapes')) as LandscapeSummary[];
  io.print('Landscapes (the cluster\'s node set):');
  table(io.print, [['#', 'LANDSCAPE', 'MEMBERS', 'SQL'], ['0', '*', '-', '(the whole farm)'], ...landscapes.map((l, i) => [String(i + 1), l.name, String(l.memberCount), l.sql])]);
  for (;;) {
    const answer = await ask(reader, 'landscape (number or name, * for the whole farm): ');
    if (answer === '*' || answer === '0') return null;
    const chosen = pick(answer, landscapes, (l) => l.name);
    if (chosen === null || chosen === '' || typeof chosen === 'string') {
      io.print(`  no landscape ${JSON.stringify(answer)}; choose one from the list`);
      continue;
    }
    return chosen.name;
  }
}

function printPlan(io: Io, plan: ClusterPlanDocument): void {
  io.print(`${plan.operation === 'create' ? 'Create' : 'Upgrade'} plan${plan.name === null ? '' : ` for cluster ${plan.name}`} from ${plan.profile}${plan.on === null ? ' on the whole farm' : ` on landscape ${plan.on}`}:`);
  for (const line of plan.lines) io.print(line);
}

async function design(client: ApiClient, flags: DesignFlags, reader: LineReader, io: Io, apply: ClusterApplier | undefined): Promise<number> {
  const interactive = !(flags.yes === true || flags.dryRun === true) || flags.profile === undefined || flags.on === undefined;
  const current = flags.current === undefined ? undefined : readCurrent(flags.current);
  let profileArgument = flags.profile;
  let on: string | null | undefined = flags.on === undefined ? undefined : flags.on === '*' ? null : flags.on;
  // Preview until every role is placed, asking again for what the user may change.
  let preview: DesignPreview;
  for (;;) {
    profileArgument ??= await chooseProfile(client, reader, io);
    if (on === undefined) on = await chooseLandscape(client, reader, io);
    const profile = profileInputOf(profileArgument, isFileArgument(profileArgument));
    preview = (await client.post('/v1/designer/preview', { profile, on })) as DesignPreview;
    if (flags.json !== true || interactive) {
      io.print(`Placement of ${preview.profile}${on === null ? ' over the whole farm' : ` on ${on}`} (${preview.nodes} nodes in the FMIDB):`);
      printPlacement(io, preview.placement);
    }
    if (preview.placeable) break;
    for (const problem of preview.placement.problems) io.printError(`galaxy: not enough nodes: ${problem}`);
    if (!interactive) return 2;
    const again = await ask(reader, 'cannot be placed: choose another (p)rofile or (l)andscape, or q: ');
    if (again.startsWith('p')) profileArgument = undefined;
    else on = undefined;
  }
  let name = flags.name;
  if (name === undefined && !interactive && flags.dryRun !== true) throw new CliError('--yes needs --name: the cluster\'s name');
  // A dry run needs no name (the plan then has no command).
  while (!(name === undefined && !interactive) && (name === undefined || !kClusterNamePattern.test(name))) {
    if (name !== undefined) {
      if (!interactive) throw new CliError(`--name: a cluster name is 1 to 63 of a-z 0-9 - starting with a letter, got ${JSON.stringify(name)}`);
      io.print('  a cluster name is 1 to 63 of a-z 0-9 -, starting with a letter');
    }
    name = await ask(reader, 'cluster name: ');
  }
  const profile = profileInputOf(profileArgument, isFileArgument(profileArgument));
  const plan = (await client.post('/v1/designer/plan', { profile, on, ...(name === undefined ? {} : { name }), ...(current === undefined ? {} : { current }) })) as ClusterPlanDocument;
  if (flags.json === true && !interactive) io.print(JSON.stringify(flags.dryRun === true ? plan : { preview, plan }, null, 2));
  else printPlan(io, plan);
  if (plan.blocked.length > 0) {
    io.printError('galaxy: the plan is blocked (see the ! lines); nothing to apply');
    return 2;
  }
  if (flags.dryRun === true) return 0;
  if (flags.yes !== true) {
    const answer = await ask(reader, `apply this plan to ${plan.operation} cluster ${name}? [y/N] `);
    if (!/^y(es)?$/i.test(answer)) {
      io.print('not confirmed; nothing done');
      return 1;
    }
  }
  if (flags.output !== undefined) {
    try {
      writeFileSync(flags.output, `${JSON.stringify(plan, null, 2)}\n`);
    } catch (error) {
      throw new CliError(`${flags.output}: ${(error as Error).message}`);
    }
    io.print(`wrote the plan to ${flags.output}`);
  }
  if (apply === undefined) {
    io.print('The cluster service applies it with:');
    io.print(`  ${plan.command}`);
    return 0;
  }
  io.print(`applying: ${plan.command}`);
  await applyClusterPlan(plan, apply, client);
  return 0;
}

function readCurrent(file: string): unknown {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { members?: unknown };
    if (typeof parsed !== 'object' || parsed === null || !Array.isArray(parsed.members)) throw new Error('expected {members: [...]}');
    return parsed.members;
  } catch (error) {
    throw new CliError(`--current ${file}: ${(error as Error).message}`);
  }
}
