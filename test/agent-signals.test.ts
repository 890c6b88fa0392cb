// Proves that shutdown is safe under any signal timing (issue 16, item 3), in real processes.
// First the addon alone: a worker thread owns a native UDP socket that is busy receiving
// datagrams and ICMP errors when the process exits (process.exit) or the worker is
// terminated; before the fix the worker's last loop turn ran the socket's close callback
// after Node had unloaded the addon (SIGSEGV), or a delivery into the stopping environment
// died in node-addon-api (FATAL ERROR ... napi_define_properties). Then the agent: 3 native
// `galaxy agent` processes per run, 10 runs, each agent sent two or three SIGINT/SIGTERM at
// seeded random spacings (0 to 150 ms, the first 0 to 400 ms after all started). No process
// may end by a signal or print FATAL; an agent sent two signals must still leave gracefully
// (exit 0 and its "stopped" line), since the second is the first arriving twice (a terminal
// and a supervisor); a third may cut the leave short, with exit status 1. The verdict is
// itself checked against a process that dies by SIGSEGV and one that prints FATAL.
// Last, signals after the leave: an agent is sent SIGTERM and SIGINT; once it printed
// "stopped", SIGTERM is sent to it
// as fast as possible until it exits; its own teardown must not be cut short (before the
// fix a natural exit restored the default signal action and then spent tens of ms tearing
// V8 down: every such agent ended by SIGTERM).
// A failing seed prints a one-line repro (GALAXY_SIM_SEED=...).
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { NativeUdpSocket } from '../src/node/native/native-udp-socket.js';
import { reproLine, withSeed } from '../src/sim/invariants.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { Prng } from '../src/core/util/prng.js';
import { freePort, killAllAgents, spawnAgent, until, type Agent } from './support/agents.js';

const kTestFile = 'test/agent-signals.test.ts';
const kRuns = 10;
const kAgentsPerRun = 3;
const kSignalGapMsMax = 150;
const kFirstSignalDelayMsMax = 400;
const kTeardownRuns = 12;
const kLateRuns = 4;
/** SIGTERMs sent after "stopped" at most, one per turn of this process's loop. */
const kLateSignalsMax = 2000;

afterAll(() => killAllAgents());

interface Ended {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly output: string;
}

/** Why an ended process counts as a crash, or null when it ended by itself without a fatal line. */
function crashOf(ended: Ended): string | null {
  if (ended.signal !== null) return `ended by ${ended.signal}`;
  if (/FATAL/.test(ended.output)) return `printed ${ended.output.split('\n').find((line) => /FATAL/.test(line))}`;
  return null;
}

function runNode(args: readonly string[]): Promise<Ended> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code, signal) => resolve({ code, signal, output }));
  });
}

/**
 * A process whose worker keeps a native socket busy (datagrams to itself, and to a closed
 * port for ICMP errors) and that ends, after `delayMs`, by process.exit or by terminating
 * the worker first. Only the worker loads the addon, so Node unloads it at the worker's
 * teardown: the situation of `galaxy agent`.
 */
function teardownScript(directory: string): string {
  const socketModule = pathToFileURL(join(packageRoot(), 'dist', 'src', 'node', 'native', 'native-udp-socket.js')).href;
  const worker = join(directory, 'busy-socket-worker.mjs');
  writeFileSync(worker, `
import { parentPort } from 'node:worker_threads';
import { NativeUdpSocket } from ${JSON.stringify(socketModule)};
let received = 0;
const socket = NativeUdpSocket.open({ host: '127.0.0.1', port: 0 }, { onMessage: () => { received++; }, onErrors: () => {} });
const closed = NativeUdpSocket.open({ host: '127.0.0.1', port: 0 }, { onMessage: () => {} });
const closedPort = closed.localAddress;
closed.close();
const payload = new Uint8Array(64);
setInterval(() => {
  for (let i = 0; i < 32; i++) { socket.send(socket.localAddress, payload); socket.send(closedPort, payload); }
}, 1);
parentPort.postMessage('busy');
`);
  const main = join(directory, 'teardown.mjs');
  writeFileSync(main, `
import { Worker } from 'node:worker_threads';
const [how, delayMs] = [process.argv[2], Number(process.argv[3])];
const worker = new Worker(${JSON.stringify(worker)});
worker.once('message', () => setTimeout(() => {
  if (how === 'terminate') void worker.terminate().then(() => process.exit(0));
  else process.exit(0);
}, delayMs));
`);
  return main;
}

describe('signals and teardown with the native transport', () => {
  const native = NativeUdpSocket.available();

  it('the crash verdict catches a process that dies by SIGSEGV and one that prints FATAL', async () => {
    const segv = await runNode(['-e', "process.kill(process.pid, 'SIGSEGV')"]);
    expect(crashOf(segv)).toMatch(/SIGSEGV/);
    const fatal = await runNode(['-e', "console.error('FATAL ERROR: Error::Error napi_define_properties'); process.exit(134)"]);
    expect(crashOf(fatal)).toMatch(/FATAL ERROR/);
    expect(crashOf(await runNode(['-e', 'process.exit(1)']))).toBeNull();
  });

  it.skipIf(!native.available)('a worker with a busy native socket survives process.exit and terminate() at any moment', async () => {
    const seed = withSeed(0x5eed16);
    const random = new Prng(seed);
    const script = teardownScript(mkdtempSync(join(tmpdir(), 'galaxy-teardown-')));
    const failures: string[] = [];
    for (let run = 0; run < kTeardownRuns; run++) {
      const how = run % 2 === 0 ? 'exit' : 'terminate';
      const delayMs = random.nextInt(60);
      const ended = await runNode([script, how, String(delayMs)]);
      const crash = crashOf(ended) ?? (ended.code === 0 ? null : `exit code ${ended.code}: ${ended.output}`);
      if (crash !== null) failures.push(`${how} after ${delayMs} ms: ${crash}`);
    }
    if (failures.length > 0) console.log(reproLine(seed, kTestFile, 'a worker with a busy native socket survives process.exit and terminate() at any moment'));
    expect(failures).toEqual([]);
  }, 60_000);

  it.skipIf(!native.available)(`${kRuns} runs of ${kAgentsPerRun} native agents sent two or three signals at random spacings: none crashes, two signals still leave gracefully`, async () => {
    const seed = withSeed(0x16516);
    const random = new Prng(seed);
    const failures: string[] = [];
    for (let run = 0; run < kRuns; run++) {
      const addresses: string[] = [];
      for (let i = 0; i < kAgentsPerRun; i++) addresses.push(`127.0.0.1:${await freePort()}`);
      const agents: Agent[] = addresses.map((address, i) => spawnAgent(address, i === 0 ? [] : [addresses[0]!], ['--transport', 'native']));
      await until('every agent started', () => agents.every((a) => a.lines.some((l) => l.event === 'started')), 30_000, agents);
      const plans = agents.map(() => {
        const signals = 2 + random.nextInt(2);
        return {
          signals,
          delays: Array.from({ length: signals }, (_, k) => (k === 0 ? random.nextInt(kFirstSignalDelayMsMax) : random.nextInt(kSignalGapMsMax + 1))),
          names: Array.from({ length: signals }, () => (random.nextInt(2) === 0 ? 'SIGINT' : 'SIGTERM') as NodeJS.Signals),
        };
      });
      const endings = await Promise.all(
        agents.map(async (agent, index) => {
          const ended = new Promise<Ended>((resolve) => agent.child.once('exit', (code, signal) => resolve({ code, signal, output: agent.stderr })));
          const plan = plans[index]!;
          for (let k = 0; k < plan.signals; k++) {
            await new Promise((resolve) => setTimeout(resolve, plan.delays[k]));
            if (agent.child.exitCode === null && agent.child.signalCode === null) agent.child.kill(plan.names[k]);
          }
          return ended;
        }),
      );
      endings.forEach((ended, index) => {
        const plan = plans[index]!;
        const what = `run ${run}, agent ${index}, ${plan.names.join('+')} after ${plan.delays.join('/')} ms`;
        const crash = crashOf(ended);
        if (crash !== null) failures.push(`${what}: ${crash}`);
        else if (plan.signals === 2 && (ended.code !== 0 || !agents[index]!.lines.some((l) => l.event === 'stopped'))) failures.push(`${what}: did not leave gracefully (exit code ${ended.code})`);
        else if (ended.code !== 0 && ended.code !== 1) failures.push(`${what}: exit code ${ended.code}`);
      });
    }
    if (failures.length > 0) console.log(reproLine(seed, kTestFile, `${kRuns} runs of ${kAgentsPerRun} native agents sent two or three signals at random spacings: none crashes, two signals still leave gracefully`));
    expect(failures).toEqual([]);
  }, 180_000);

  it.skipIf(!native.available)(`${kLateRuns} agents hammered with SIGTERM after their graceful stop still exit with a status`, async () => {
    const failures: string[] = [];
    for (let run = 0; run < kLateRuns; run++) {
      const address = `127.0.0.1:${await freePort()}`;
      const agent = spawnAgent(address, [], ['--transport', 'native']);
      await until('the agent started', () => agent.lines.some((l) => l.event === 'started'), 30_000, [agent]);
      const ended = new Promise<Ended>((resolve) => agent.child.once('exit', (code, signal) => resolve({ code, signal, output: agent.stderr })));
      // Two signals, as a Ctrl-C under a supervisor delivers them, then the hammering.
      agent.child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 20));
      agent.child.kill('SIGINT');
      await until('the agent stopped', () => agent.lines.some((l) => l.event === 'stopped') || agent.child.exitCode !== null || agent.child.signalCode !== null, 30_000, [agent]);
      for (let sent = 0; sent < kLateSignalsMax && agent.child.exitCode === null && agent.child.signalCode === null; sent++) {
        agent.child.kill('SIGTERM');
        await new Promise((resolve) => setImmediate(resolve));
      }
      const end = await ended;
      const crash = crashOf(end) ?? (end.code === 0 ? null : `exit code ${end.code}`);
      if (crash !== null) failures.push(`run ${run}: ${crash}`);
    }
    expect(failures).toEqual([]);
  }, 60_000);
});
