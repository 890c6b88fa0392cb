// Proves that whole node stacks (membership, the messenger's envelopes, the FMIDB and
// job coordination, composed by NodeStack) run together in the deterministic simulator
// from one seed: a farm of 200 nodes under 5% datagram loss, where 20 nodes write
// attributes (two of them the same key, so last-writer-wins decides), node 0 creates a
// job on 40 nodes, and one of them crashes while its process runs. The checkers then
// require: membership converged (the crashed node dead everywhere), every live replica
// has the same FMIDB digest and reads the same values, no replica ever went back in
// time (LwwChecker), the later write of the shared key won, and the job finished with
// every process ended with its host's real exit code except the crashed node's, which
// is lost. A coordinator with the lost-node rule broken on purpose is caught by the job
// checker, and a stack that drops FMIDB traffic by the agreement checker. Every
// failure prints a one-line repro (GALAXY_SIM_SEED=… npx vitest …).
import { describe, expect, it } from 'vitest';
import { membershipConfig } from '../src/core/membership/config.js';
import { JobCoordinatorCore } from '../src/core/jobs/job-coordinator-core.js';
import { LwwChecker } from '../src/core/fmidb/lww-checker.js';
import { NetworkSimulator } from '../src/sim/network-simulator.js';
import { nodeAddress } from '../src/sim/node-address.js';
import { checkConvergence, reproLine, withSeed } from '../src/sim/invariants.js';
import { SimulatedStackFarm } from '../src/sim/simulated-stack-farm.js';
import { checkFmidbAgreement, checkJobOutcome } from '../src/sim/stack-invariants.js';
import type { JobEvent } from '../src/core/jobs/job-coordinator-core.js';
import { NodeStack, type StackInput } from '../src/core/stack/node-stack.js';
import { decodeEnvelope, isEnvelope } from '../src/core/messenger/envelope.js';
import { channelByName } from '../src/core/messenger/channel-table.js';

const kFile = 'test/stack-sim.test.ts';

/** A coordinator that never gives a process up: the lost-node rule broken on purpose. */
class NeverLoses extends JobCoordinatorCore {
  protected override lose(): void {}
}

/** A stack that drops every FMIDB message it receives (a broken channel route): its replica never learns anything. */
class DeafToFmidb extends NodeStack {
  override step(input: StackInput): void {
    if ((input.type === 'datagram' || input.type === 'frame') && isEnvelope(input.bytes) && decodeEnvelope(input.bytes).channelId === channelByName('fmidb').id) return;
    super.step(input);
  }
}

interface Run {
  farm: SimulatedStackFarm;
  lww: LwwChecker;
  jobEvents: JobEvent[];
  victim: string;
  jobId: string;
  coordinator: string;
  problems: string[];
}

function runFarm(seed: number, size: number, broken: boolean): Run {
  const sim = new NetworkSimulator({ seed, nodesMax: size + 8, lossRate: 0.05 });
  const addresses = Array.from({ length: size }, (_, i) => nodeAddress(i));
  const lww = new LwwChecker();
  const jobEvents: JobEvent[] = [];
  const farm = new SimulatedStackFarm(sim, {
    membership: membershipConfig({ membersMax: size + 16 }, 'lan'),
    fmidb: { syncIntervalMs: 5000 },
    coordinator: { probeIntervalMs: 1000, startRetryMs: 500 },
    runner: { endRetryMs: 500 },
    startsMax: size + 8,
    prepopulate: addresses,
    onEvent: (address, event) => {
      if (event.layer === 'fmidb') lww.observe(address, [event.change]);
      else if (event.layer === 'jobs') jobEvents.push(event.event);
    },
    // Broken: every coordinator ignores the lost-node rule, and node 3's stack drops FMIDB traffic.
    makeStack: broken ? (options) => (options.address === nodeAddress(3) ? new DeafToFmidb(options, (o) => new NeverLoses(o)) : new NodeStack(options, (o) => new NeverLoses(o))) : undefined,
  });
  for (let i = 0; i < size; i++) farm.addNode();
  sim.runFor(1000);

  // Attributes on 20 nodes; nodes 1 and 2 write one shared key, node 2 a second later (it must win).
  const writers = addresses.slice(1, 21);
  for (const [i, a] of writers.entries()) farm.command(a, { type: 'write', writes: [{ subject: a, key: 'rack', value: `r${i}` }] });
  farm.command(addresses[1]!, { type: 'write', writes: [{ subject: 'farm', key: 'motd', value: 'first' }] });
  sim.runFor(1000);
  farm.command(addresses[2]!, { type: 'write', writes: [{ subject: 'farm', key: 'motd', value: 'second' }] });

  // A job on 40 nodes (not the writers), coordinated by node 0; the victim crashes mid-job.
  const coordinator = addresses[0]!;
  const targets = addresses.slice(size - 40);
  const victim = targets[7]!;
  const jobId = `${coordinator}-job-1`;
  farm.command(coordinator, { type: 'create-job', jobId, command: 'sleep 3000; exit 3', nodes: targets });
  sim.runFor(1500);
  sim.crash(victim);

  const crashed = new Set([victim]);
  const check = (): string[] => {
    const convergence = checkConvergence(sim, { requireDeadKnown: true, observers: addresses.filter((_, i) => i % 10 === 0) });
    return [
      ...(convergence.converged ? [] : [`membership: ${convergence.summary}`]),
      ...checkFmidbAgreement(farm, [{ subject: 'farm', key: 'motd' }, ...writers.map((w) => ({ subject: w, key: 'rack' }))]),
      ...checkJobOutcome(farm, coordinator, jobId, crashed),
    ];
  };
  sim.runUntil(() => check().length === 0, 25_000, 500);
  return { farm, lww, jobEvents, victim, jobId, coordinator, problems: check() };
}

describe('whole node stacks in the simulator', () => {
  const name = '200 nodes run membership, FMIDB and jobs together under loss and a crash';
  it(name, () => {
    const seed = withSeed(1300);
    const run = runFarm(seed, 200, false);
    const repro = `\nrepro: ${reproLine(seed, kFile, name)}`;
    if (run.problems.length > 0) throw new Error(`${run.problems.join('\n')}${repro}`);
    if (run.lww.violationCount > 0) throw new Error(`last-writer-wins: ${run.lww.summary()}${repro}`);
    const some = run.farm.stackOf(nodeAddress(150))!.fmidb.replica;
    expect(some.get('farm', 'motd'), repro).toBe('second');
    expect(some.get(nodeAddress(5), 'rack'), repro).toBe('r4');
    const job = run.farm.stackOf(run.coordinator)!.coordinator.jobs.get(run.jobId)!;
    expect(job.processes.filter((p) => p.state === 'lost').map((p) => p.node), repro).toEqual([run.victim]);
    expect(job.processes.filter((p) => p.state === 'ended' && p.exitCode === 3).length, repro).toBe(39);
    expect(run.jobEvents.filter((e) => e.type === 'job-finished').length, repro).toBe(1);
  });

  it('catches a coordinator whose lost-node rule is broken, and a stack that drops FMIDB traffic', () => {
    const seed = withSeed(1301);
    const run = runFarm(seed, 60, true);
    expect(run.problems.join('\n')).toMatch(/job .* is not finished/);
    expect(run.problems.join('\n')).toMatch(new RegExp(`replica ${nodeAddress(3).replace(/\./g, '\\.')} digest .* differs`));
    expect(run.problems.join('\n')).toContain(`on crashed node ${run.victim} is still running: the lost-node rule did not fire`);
  });
});
