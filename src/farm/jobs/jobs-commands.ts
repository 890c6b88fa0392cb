import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { ApiClientError, type ApiClient } from '../../surface/client/api-client.js';
import type { JobSummary, JobView, JobWaitView, JobWatchView, ScriptProgress, ScriptSummary, ScriptView } from './jobs-backend.js';
import type { JobTarget } from '../jobs/job-spec.js';
import { formatMerged } from './scripts/dshbak-merge.js';
import { CliError, connect, table, withConnection, type ConnectionFlags, type Print } from '../../surface/cli/cli-kit.js';
import { parseDurationMs } from '../../surface/cli/duration.js';
import { NodeLinePrefixer } from '../../surface/cli/node-line-prefixer.js';

/**
 * The operator's commands for jobs and remote scripts (issue 7), over the agent's API:
 *
 *   galaxy job run (--on LANDSCAPE | --nodes a,b | --sql "SELECT ...") [--timeout 30s] [--memory MiB]
 *                  [--user NAME] [--env K=V ...] [--cwd DIR] [--detach] -- CMD ARGS...
 *   galaxy job ls | show ID [--output] [--process N] | kill ID [--signal SIG] [--process N ...]
 *   galaxy job wait ID [--timeout 10m] | watch ID | add ID (--on|--nodes|--sql) [-- CMD ARGS...]
 *   galaxy script run FILE (--on LANDSCAPE | --nodes a,b | --sql "...") [--batch 10% | 5] [--min-success 90% | 45]
 *                  [--phases N] [--timeout 30s] [--user NAME] [--env K=V ...] [--interpreter sh] [--detach] [-- ARGS...]
 *   galaxy script ls | show ID [--merged] [--phase N] | stop ID | logs [ID] [--node ID]
 *
 * `job run` prints the processes' output live, each line prefixed by its node (stderr
 * lines on stderr), then each node's exit; Ctrl-C stops the job (a second one leaves it
 * running and exits). `script run` shows each phase's progress and, at the end, the
 * dshbak-style merged view of every phase. Both exit 0 only when every node succeeded
 * (1 otherwise; 2 for a request the agent refused, as the other commands do).
 *
 * Phases of a script: either `--phases N` (the script runs N times with GALAXY_PHASE set
 * to 1..N), or marker lines `# galaxy:phase NAME` in the script, each starting a phase;
 * lines before the first marker are run at the start of every phase (see
 * src/scripts/script-phases.ts).
 *
 * The connection flags and helpers are those of the other API commands (surface/cli/cli-kit.ts);
 * errors are printed through `io` so the commands can be tested.
 */

interface TargetFlags {
  on?: string;
  nodes?: string;
  sql?: string;
}

interface LimitFlags {
  timeout?: string;
  memory?: string;
  user?: string;
  env?: string[];
  cwd?: string;
}

/** How long one long-poll holds, ms: under the API client's 30 s request timeout. */
const kPollHoldMs = 20_000;
/** Largest script file read, bytes: the service refuses more than 32 Ki characters anyway. */
const kScriptFileBytesMax = 256 * 1024;

export interface JobsCommandsIo {
  readonly print: Print;
  readonly printError: Print;
}

const kConsoleIo: JobsCommandsIo = { print: (line) => console.log(line), printError: (line) => console.error(line) };

async function run(io: JobsCommandsIo, action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (error) {
    if (error instanceof ApiClientError || error instanceof CliError) {
      io.printError(`galaxy: ${error.message}`);
      process.exitCode = error instanceof ApiClientError && error.status !== undefined && error.status < 500 ? 2 : 1;
      return;
    }
    throw error;
  }
}

function withTarget(command: Command): Command {
  return command
    .option('--on <landscape>', 'the nodes of a landscape')
    .option('--nodes <ids>', 'named nodes, comma-separated node ids')
    .option('--sql <statement>', 'the nodes a SQL statement over the farm table selects');
}

function withLimits(command: Command): Command {
  return command
    .option('--timeout <duration>', 'wall-clock limit per process: 500ms, 30s, 5m, 2h (then SIGTERM, SIGKILL after a grace)')
    .option('--memory <MiB>', 'address-space limit per process, MiB (ulimit -v)')
    .option('--user <name>', 'run as this user (the agents must run as root)')
    .option('--env <K=V...>', 'environment variables to add')
    .option('--cwd <dir>', 'working directory (absolute)');
}

/** The target the flags name: exactly one of --on, --nodes, --sql. */
export function targetOf(flags: TargetFlags): JobTarget {
  const given = [flags.on, flags.nodes, flags.sql].filter((v) => v !== undefined);
  if (given.length !== 1) throw new CliError('name the nodes with exactly one of --on LANDSCAPE, --nodes a,b or --sql "SELECT ..."');
  if (flags.on !== undefined) return { landscape: flags.on };
  if (flags.nodes !== undefined) return { nodes: flags.nodes.split(',').map((n) => n.trim()).filter((n) => n !== '') };
  return { sql: flags.sql! };
}

/** The per-process limits the flags set, as request fields. */
export function limitsOf(flags: LimitFlags): Record<string, unknown> {
  const limits: Record<string, unknown> = {};
  if (flags.timeout !== undefined) {
    const ms = parseDurationMs(flags.timeout);
    if (ms === null) throw new CliError(`--timeout takes a duration such as 500ms, 30s, 5m or 2h, got "${flags.timeout}"`);
    limits['timeoutMs'] = ms;
  }
  if (flags.memory !== undefined) {
    if (!/^\d+$/.test(flags.memory)) throw new CliError(`--memory takes a whole number of MiB, got "${flags.memory}"`);
    limits['memoryMb'] = Number(flags.memory);
  }
  if (flags.user !== undefined) limits['user'] = flags.user;
  if (flags.cwd !== undefined) limits['cwd'] = flags.cwd;
  if (flags.env !== undefined) {
    const env: Record<string, string> = {};
    for (const pair of flags.env) {
      const at = pair.indexOf('=');
      if (at <= 0) throw new CliError(`--env takes NAME=VALUE, got "${pair}"`);
      env[pair.slice(0, at)] = pair.slice(at + 1);
    }
    limits['env'] = env;
  }
  return limits;
}

function describeEnd(p: JobView['processes'][number]): string {
  switch (p.state) {
    case 'exited':
      return `exit ${p.exitCode}`;
    case 'signalled':
      return `killed by ${p.signal}`;
    case 'timed-out':
      return `timed out (${p.signal})`;
    default:
      return p.reason === null ? p.state : `${p.state}: ${p.reason}`;
  }
}

function printJobTable(print: Print, job: JobView): void {
  table(print, [['INDEX', 'NODE', 'STATE', 'EXIT', 'PID', 'DURATION', 'END'], ...job.processes.map((p) => [String(p.index), p.node, p.state, p.exitCode === null ? '-' : String(p.exitCode), p.pid === null ? '-' : String(p.pid), p.durationMs === null ? '-' : `${p.durationMs}ms`, describeEnd(p)])]);
}

function summaryLine(job: JobSummary): string {
  const counts = Object.entries(job.counts)
    .filter(([state, n]) => n > 0 && state !== 'succeeded')
    .map(([state, n]) => `${n} ${state}`)
    .join(', ');
  return `job ${job.id} ${job.state}${job.outcome === null ? '' : ` (${job.outcome})`}: ${counts}; ${job.counts.succeeded} succeeded`;
}

/**
 * Follows a job's output until it finishes, printing lines prefixed by node; returns the
 * job as it ended. Ctrl-C stops the job (once); a second Ctrl-C exits, leaving it be.
 */
async function follow(client: ApiClient, jobId: string, io: JobsCommandsIo, stopOnInterrupt: boolean): Promise<JobView> {
  const prefixer = new NodeLinePrefixer();
  const emit = (lines: ReadonlyArray<{ stream: 'stdout' | 'stderr'; text: string }>) => {
    for (const line of lines) (line.stream === 'stdout' ? io.print : io.printError)(line.text);
  };
  let interrupts = 0;
  const onInterrupt = () => {
    interrupts++;
    if (interrupts > 1 || !stopOnInterrupt) {
      io.printError(`galaxy: left job ${jobId} running (galaxy job kill ${jobId} stops it)`);
      process.exit(130);
    }
    io.printError(`galaxy: stopping job ${jobId} (Ctrl-C again to leave it running)`);
    void client.post(`/v1/jobs/${encodeURIComponent(jobId)}/stop`, {}).catch((error: Error) => io.printError(`galaxy: ${error.message}`));
  };
  process.on('SIGINT', onInterrupt);
  try {
    let after = 0;
    for (;;) {
      const watched = (await client.get(`/v1/jobs/${encodeURIComponent(jobId)}/output?after=${after}&timeoutMs=${kPollHoldMs}`)) as JobWatchView;
      if (watched.gap) io.printError('galaxy: some output was dropped before it could be shown (this watcher fell behind); `galaxy job show --output` has each process\'s tail');
      for (const chunk of watched.chunks) emit(prefixer.push(chunk.process, chunk.node, chunk.stream, chunk.text));
      after = watched.next;
      if (watched.job.state === 'finished' && watched.chunks.length === 0) break;
    }
    emit(prefixer.flush());
  } finally {
    process.off('SIGINT', onInterrupt);
  }
  return (await client.get(`/v1/jobs/${encodeURIComponent(jobId)}`)) as JobView;
}

function finishJob(io: JobsCommandsIo, job: JobView, json: boolean | undefined): void {
  if (json) io.print(JSON.stringify(job, null, 2));
  else {
    io.printError(summaryLine(job));
    printJobTable(io.printError, job);
  }
  if (job.outcome !== 'succeeded') process.exitCode = 1;
}

export function registerJobsCommands(program: Command, io: JobsCommandsIo = kConsoleIo): void {
  const job = program.command('job').description('jobs: a command run as processes on a set of nodes, with exit codes, live output, limits, signals');

  withConnection(withLimits(withTarget(job.command('run').description('run a command on nodes and follow it: output prefixed by node, then each node\'s exit; non-zero exit if any node failed'))))
    .option('--output-max <bytes>', 'captured output kept per process and stream (1024 to 1048576; default 1 MiB)')
    .option('--detach', 'print the job id and return at once')
    .argument('<command...>', 'the program and its arguments (after --)')
    .action((command: string[], flags: ConnectionFlags & TargetFlags & LimitFlags & { outputMax?: string; detach?: boolean }) =>
      run(io, async () => {
        const client = connect(flags);
        const body = { target: targetOf(flags), command, ...limitsOf(flags), ...(flags.outputMax === undefined ? {} : { outputBytesMax: Number(flags.outputMax) }) };
        const created = (await client.post('/v1/jobs', body)) as JobView;
        if (flags.detach) return io.print(flags.json ? JSON.stringify(created, null, 2) : created.id);
        io.printError(`job ${created.id} on ${created.processes.length} node${created.processes.length === 1 ? '' : 's'}`);
        finishJob(io, await follow(client, created.id, io, true), flags.json);
      }),
    );

  withConnection(job.command('watch <id>').description('follow a running job\'s output (Ctrl-C leaves it running)')).action((id: string, flags: ConnectionFlags) =>
    run(io, async () => finishJob(io, await follow(connect(flags), id, io, false), flags.json)),
  );

  withConnection(withLimits(withTarget(job.command('add <id>').description('add processes to a running job (the job\'s command, or the one after --)'))))
    .argument('[command...]', 'another command (after --)')
    .action((id: string, command: string[], flags: ConnectionFlags & TargetFlags & LimitFlags) =>
      run(io, async () => {
        const body = { target: targetOf(flags), ...(command.length > 0 ? { command } : {}), ...limitsOf(flags) };
        const view = (await connect(flags).post(`/v1/jobs/${encodeURIComponent(id)}/processes`, body)) as JobView;
        if (flags.json) return io.print(JSON.stringify(view, null, 2));
        io.print(summaryLine(view));
      }),
    );

  withConnection(job.command('ls').description('jobs coordinated by this agent, newest first')).action((flags: ConnectionFlags) =>
    run(io, async () => {
      const jobs = (await connect(flags).get('/v1/jobs')) as JobSummary[];
      if (flags.json) return io.print(JSON.stringify(jobs, null, 2));
      if (jobs.length === 0) return io.print('(none)');
      table(io.print, [['ID', 'STATE', 'OUTCOME', 'PROCESSES', 'BY', 'CREATED', 'COMMAND'], ...jobs.map((j) => [j.id, j.state, j.outcome ?? '-', String(Object.entries(j.counts).reduce((sum, [k, n]) => (k === 'succeeded' ? sum : sum + n), 0)), j.createdBy, j.createdAt, j.command.join(' ')])]);
    }),
  );

  withConnection(job.command('show <id>').description('a job, its processes and their exits; --output adds what each printed'))
    .option('--output', 'include captured output')
    .option('--process <n>', 'only this process (by index)')
    .action((id: string, flags: ConnectionFlags & { output?: boolean; process?: string }) =>
      run(io, async () => {
        const query = [flags.output ? 'output=true' : '', flags.process === undefined ? '' : `process=${encodeURIComponent(flags.process)}`].filter((q) => q !== '').join('&');
        const view = (await connect(flags).get(`/v1/jobs/${encodeURIComponent(id)}${query === '' ? '' : `?${query}`}`)) as JobView;
        if (flags.json) return io.print(JSON.stringify(view, null, 2));
        io.print(`${summaryLine(view)}\ncommand: ${view.command.join(' ')}\ncreated ${view.createdAt} by ${view.createdBy}${view.finishedAt === null ? '' : `, finished ${view.finishedAt}`}`);
        printJobTable(io.print, view);
        if (!flags.output) return;
        for (const p of view.processes) {
          if (p.stdout === undefined) continue;
          const cut = p.outputComplete === false ? ` (last part of ${p.stdoutBytes} + ${p.stderrBytes} bytes)` : '';
          io.print(`---- ${p.index} ${p.node}${cut}`);
          if (p.stdout !== '') io.print(p.stdout.replace(/\n$/, ''));
          if (p.stderr !== '') io.print(`[stderr]\n${p.stderr!.replace(/\n$/, '')}`);
        }
        if (view.outputOmitted !== undefined) io.print(`(${view.outputOmitted} processes' output left out: show them one at a time with --process N)`);
      }),
    );

  withConnection(job.command('kill <id>').description('stop a job (SIGTERM, then SIGKILL after a grace); with --signal, send that signal only'))
    .option('--signal <name>', 'SIGTERM, SIGKILL, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGSTOP or SIGCONT')
    .option('--process <n...>', 'only these processes (by index; with --signal)')
    .action((id: string, flags: ConnectionFlags & { signal?: string; process?: string[] }) =>
      run(io, async () => {
        const client = connect(flags);
        const path = `/v1/jobs/${encodeURIComponent(id)}`;
        if (flags.signal === undefined && flags.process !== undefined) throw new CliError('--process needs --signal (a stop ends the whole job)');
        const view =
          flags.signal === undefined
            ? ((await client.post(`${path}/stop`, {})) as JobView)
            : ((await client.post(`${path}/signal`, { signal: flags.signal.toUpperCase().startsWith('SIG') ? flags.signal.toUpperCase() : `SIG${flags.signal.toUpperCase()}`, ...(flags.process === undefined ? {} : { processes: flags.process.map(Number) }) })) as JobView);
        if (flags.json) return io.print(JSON.stringify(view, null, 2));
        io.print(summaryLine(view));
      }),
    );

  withConnection(job.command('wait <id>').description('wait until a job finishes; exit non-zero if any process failed'))
    .option('--timeout <duration>', 'give up after this long (the job goes on); default: wait as long as it runs')
    .action((id: string, flags: ConnectionFlags & { timeout?: string }) =>
      run(io, async () => {
        const client = connect(flags);
        const limitMs = flags.timeout === undefined ? Infinity : parseDurationMs(flags.timeout);
        if (limitMs === null) throw new CliError(`--timeout takes a duration such as 30s or 5m, got "${flags.timeout}"`);
        const deadline = Date.now() + limitMs;
        for (;;) {
          const holdMs = Math.max(0, Math.min(kPollHoldMs, deadline - Date.now()));
          const waited = (await client.get(`/v1/jobs/${encodeURIComponent(id)}/wait?timeoutMs=${Math.floor(holdMs)}`)) as JobWaitView;
          if (waited.finished) return finishJob(io, waited.job, flags.json);
          if (Date.now() >= deadline) {
            io.printError(`galaxy: ${summaryLine(waited.job)} (gave up waiting)`);
            process.exitCode = 1;
            return;
          }
        }
      }),
    );

  const script = program.command('script').description('remote scripts: a script shipped to a set of nodes and run in phases (with barriers), batches and a success rule');

  withConnection(withLimits(withTarget(script.command('run <file>').description('run a script on nodes in phases and batches, showing progress; then the merged view of the output (dshbak -c style)'))))
    .option('--batch <n>', 'nodes at once: a count ("5") or a share ("10%"); default all')
    .option('--min-success <rule>', 'per phase, the nodes that must succeed to go on: a share ("90%") or a count; default all')
    .option('--phases <n>', 'run the script N times as phases 1..N (GALAXY_PHASE); or mark phases in the script with "# galaxy:phase NAME" lines')
    .option('--interpreter <shell>', 'bash (default) or sh')
    .option('--detach', 'print the run id and return at once')
    .argument('[args...]', 'arguments for the script, $1 ... (after --)')
    .action((file: string, args: string[], flags: ConnectionFlags & TargetFlags & LimitFlags & { batch?: string; minSuccess?: string; phases?: string; interpreter?: string; detach?: boolean }) =>
      run(io, async () => {
        const client = connect(flags);
        const body = {
          target: targetOf(flags),
          script: readScript(file),
          name: basename(file),
          ...limitsOf(flags),
          ...(flags.batch === undefined ? {} : { batch: flags.batch }),
          ...(flags.minSuccess === undefined ? {} : { minSuccess: flags.minSuccess }),
          ...(flags.phases === undefined ? {} : { phases: Number(flags.phases) }),
          ...(flags.interpreter === undefined ? {} : { interpreter: flags.interpreter }),
          ...(args.length > 0 ? { args } : {}),
        };
        const started = (await client.post('/v1/scripts', body)) as ScriptSummary;
        if (flags.detach) return io.print(flags.json ? JSON.stringify(started, null, 2) : started.id);
        io.printError(`script run ${started.id}: ${started.nodes} nodes, ${started.phases.length} phase${started.phases.length === 1 ? '' : 's'}, batches of ${started.batchSize}, ${started.minSuccess} must succeed per phase`);
        const ended = await followScript(client, started.id, io);
        const merged = (await client.get(`/v1/scripts/${encodeURIComponent(started.id)}?merged=true`)) as ScriptView;
        if (flags.json) io.print(JSON.stringify(merged, null, 2));
        else printMerged(io.print, merged);
        io.printError(`script run ${ended.id} ${ended.state}${ended.reason === null ? '' : `: ${ended.reason}`}`);
        if (ended.state !== 'succeeded') process.exitCode = 1;
      }),
    );

  withConnection(script.command('ls').description('script runs coordinated by this agent, newest first')).action((flags: ConnectionFlags) =>
    run(io, async () => {
      const runs = (await connect(flags).get('/v1/scripts')) as ScriptSummary[];
      if (flags.json) return io.print(JSON.stringify(runs, null, 2));
      if (runs.length === 0) return io.print('(none)');
      table(io.print, [['ID', 'STATE', 'NAME', 'NODES', 'PHASES', 'BY', 'CREATED'], ...runs.map((r) => [r.id, r.state, r.name ?? '-', String(r.nodes), r.phases.map((p) => `${p.name}:${p.state}`).join(' '), r.createdBy, r.createdAt])]);
    }),
  );

  withConnection(script.command('show <id>').description('a script run: its phases, and per-node results (--phase N) or the merged view (--merged)'))
    .option('--merged', 'identical outputs grouped (dshbak -c style), every phase')
    .option('--phase <n>', 'per-node exit codes and output of this phase')
    .action((id: string, flags: ConnectionFlags & { merged?: boolean; phase?: string }) =>
      run(io, async () => {
        const client = connect(flags);
        const path = `/v1/scripts/${encodeURIComponent(id)}`;
        if (flags.merged) {
          const view = (await client.get(`${path}?merged=true`)) as ScriptView;
          return flags.json ? io.print(JSON.stringify(view, null, 2)) : printMerged(io.print, view);
        }
        const view = (await client.get(path)) as ScriptView;
        if (flags.json && flags.phase === undefined) return io.print(JSON.stringify(view, null, 2));
        if (!flags.json) printRun(io.print, view);
        if (flags.phase === undefined) return;
        for (let offset = 0; ; ) {
          const page = (await client.get(`${path}?phase=${encodeURIComponent(flags.phase)}&offset=${offset}`)) as ScriptView;
          const results = page.results!;
          if (flags.json) io.print(JSON.stringify(results, null, 2));
          else for (const r of results.nodes) io.print(`${r.node}  ${r.state}${r.exitCode === null ? '' : ` ${r.exitCode}`}${r.reason === null ? '' : ` (${r.reason})`}${r.stdout === '' ? '' : `\n  ${r.stdout.replace(/\n$/, '').replace(/\n/g, '\n  ')}`}${r.stderr === '' ? '' : `\n  [stderr] ${r.stderr.replace(/\n$/, '').replace(/\n/g, '\n  ')}`}`);
          offset += results.nodes.length;
          if (results.nodes.length === 0 || offset >= results.total) break;
        }
      }),
    );

  withConnection(script.command('stop <id>').description('stop a script run: the running batch is stopped, nothing after it runs')).action((id: string, flags: ConnectionFlags) =>
    run(io, async () => {
      const view = (await connect(flags).post(`/v1/scripts/${encodeURIComponent(id)}/stop`, {})) as ScriptSummary;
      io.print(flags.json ? JSON.stringify(view, null, 2) : `script run ${view.id} ${view.state}`);
    }),
  );

  withConnection(script.command('logs [id]').description('script run logs kept on a management node (this agent\'s, or --node\'s)'))
    .option('--node <id>', 'the management node to ask')
    .action((id: string | undefined, flags: ConnectionFlags & { node?: string }) =>
      run(io, async () => {
        const query = flags.node === undefined ? '' : `?node=${encodeURIComponent(flags.node)}`;
        const client = connect(flags);
        if (id === undefined) {
          const entries = (await client.get(`/v1/script-logs${query}`)) as Array<{ id: string; storedAt: string; bytes: number }>;
          if (flags.json) return io.print(JSON.stringify(entries, null, 2));
          if (entries.length === 0) return io.print('(none)');
          return table(io.print, [['ID', 'STORED', 'BYTES'], ...entries.map((e) => [e.id, e.storedAt, String(e.bytes)])]);
        }
        const log = (await client.get(`/v1/script-logs/${encodeURIComponent(id)}${query}`)) as { from: string; storedAt: string; record: ScriptView };
        if (flags.json) return io.print(JSON.stringify(log, null, 2));
        io.print(`stored ${log.storedAt}, sent by ${log.from}`);
        printMerged(io.print, log.record);
      }),
    );
}

function readScript(file: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new CliError(`cannot read the script ${file}: ${(error as Error).message}`);
  }
  if (bytes.length > kScriptFileBytesMax) throw new CliError(`the script ${file} has ${bytes.length} bytes; a script is at most 32 Ki characters`);
  return bytes.toString('utf8');
}

function printRun(print: Print, view: ScriptSummary): void {
  print(`script run ${view.id}${view.name === null ? '' : ` (${view.name})`} ${view.state}${view.reason === null ? '' : `: ${view.reason}`}`);
  print(`${view.nodes} nodes, batches of ${view.batchSize} (${view.batch}), ${view.minSuccess} must succeed; by ${view.createdBy} at ${view.createdAt}`);
  table(print, [['PHASE', 'NAME', 'STATE', 'BATCHES', 'OK', 'FAILED', 'REQUIRED'], ...view.phases.map((p) => [String(p.number), p.name, p.state, `${p.batchesRun}/${p.batches}`, String(p.succeeded), String(p.failed), String(p.required)])]);
  if (view.logs.stored.length > 0 || view.logs.failed.length > 0) print(`log kept on ${view.logs.stored.join(', ') || 'no node'}${view.logs.failed.length > 0 ? `; not stored on ${view.logs.failed.join(', ')}` : ''}`);
}

function printMerged(print: Print, view: ScriptView): void {
  printRun(print, view);
  for (const phase of view.merged ?? []) {
    print(`== phase ${phase.phase} (${phase.name})`);
    const text = formatMerged(phase.groups);
    if (text !== '') print(text.replace(/\n$/, ''));
    if (phase.groupsOmitted > 0) print(`(${phase.groupsOmitted} smaller groups left out to keep the answer bounded)`);
  }
  if (view.outputCut === true) print('(output texts were cut to their ends to keep the answer bounded; galaxy job show JOB --output has each node\'s tail)');
}

/** One line per progress step of a script run, from one summary to the next. */
export function progressLines(before: ScriptSummary | null, after: ScriptSummary): string[] {
  const lines: string[] = [];
  for (const phase of after.phases) {
    const old = before?.phases.find((p) => p.number === phase.number);
    if (old !== undefined && old.state === phase.state && old.batchesRun === phase.batchesRun && old.jobIds.length === phase.jobIds.length) continue;
    if (phase.state === 'pending' || (old === undefined && phase.state === 'skipped')) continue;
    const progress = `batch ${Math.min(phase.batchesRun + (phase.state === 'running' ? 1 : 0), phase.batches)}/${phase.batches}, ${phase.succeeded} ok, ${phase.failed} failed (${phase.required} of ${phase.nodes} required)`;
    lines.push(`phase ${phase.number} ${phase.name}: ${phase.state === 'running' ? progress : `${phase.state}, ${phase.succeeded} ok, ${phase.failed} failed`}`);
  }
  return lines;
}

async function followScript(client: ApiClient, runId: string, io: JobsCommandsIo): Promise<ScriptSummary> {
  let version: number | undefined;
  let shown: ScriptSummary | null = null;
  let interrupts = 0;
  const onInterrupt = () => {
    if (++interrupts > 1) {
      io.printError(`galaxy: left script run ${runId} running (galaxy script stop ${runId} stops it)`);
      process.exit(130);
    }
    io.printError(`galaxy: stopping script run ${runId} (Ctrl-C again to leave it running)`);
    void client.post(`/v1/scripts/${encodeURIComponent(runId)}/stop`, {}).catch((error: Error) => io.printError(`galaxy: ${error.message}`));
  };
  process.on('SIGINT', onInterrupt);
  try {
    for (;;) {
      const progress = (await client.get(`/v1/scripts/${encodeURIComponent(runId)}/wait?timeoutMs=${kPollHoldMs}${version === undefined ? '' : `&version=${version}`}`)) as ScriptProgress;
      for (const line of progressLines(shown, progress.run)) io.printError(line);
      shown = progress.run;
      version = progress.version;
      if (progress.finished) return progress.run;
    }
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}
