import type { CoordinatedJob } from '../core/jobs/job-coordinator-core.js';
import type { SimulatedStackFarm } from './simulated-stack-farm.js';

/**
 * What must hold of whole node stacks in the simulator, beside membership convergence
 * (invariants.ts): the FMIDB replicas of live nodes agree, and every job's outcome is
 * consistent with what really happened on the hosts. Each returns the problems found
 * (empty when it holds), so a test prints them with its repro line.
 */

/** Problems listed at most; the rest are counted. */
const kProblemsListedMax = 8;

function summary(problems: string[], total: number): string[] {
  return total > problems.length ? [...problems, `... and ${total - problems.length} more`] : problems;
}

/**
 * FMIDB agreement: every live, reachable node's replica has the same digest (so the
 * same origins at the same versions), and reads the same value for each given key.
 */
export function checkFmidbAgreement(farm: SimulatedStackFarm, keys: ReadonlyArray<{ subject: string; key: string }> = []): string[] {
  const sim = farm.sim;
  const live = sim.nodes().filter((a) => sim.isProcessAlive(a) && !sim.isPaused(a));
  const problems: string[] = [];
  let total = 0;
  const note = (p: string): void => {
    if (problems.length < kProblemsListedMax) problems.push(p);
    total++;
  };
  const first = farm.stackOf(live[0]!)!.fmidb.replica;
  const digest = first.digestHash();
  for (const a of live.slice(1)) {
    const replica = farm.stackOf(a)!.fmidb.replica;
    if (replica.digestHash() !== digest) note(`replica ${a} digest ${replica.digestHash()} differs from ${live[0]}'s ${digest}`);
    for (const { subject, key } of keys) {
      const ours = replica.get(subject, key);
      const theirs = first.get(subject, key);
      if (ours !== theirs) note(`replica ${a} reads ${subject}/${key} = ${String(ours)}, ${live[0]} reads ${String(theirs)}`);
    }
  }
  return summary(problems, total);
}

/**
 * Job outcome: the job is finished at its coordinator; each process on a node whose
 * process never crashed ended, with the exit code its host really returned; a process
 * is lost only if its node crashed or stopped while it ran (never on a healthy node),
 * and a process marked ended really ran and exited with that code on its node.
 * `crashed` lists the nodes crashed during the job.
 */
export function checkJobOutcome(farm: SimulatedStackFarm, coordinator: string, jobId: string, crashed: ReadonlySet<string>): string[] {
  const job: CoordinatedJob | undefined = farm.stackOf(coordinator)?.coordinator.jobs.get(jobId);
  if (job === undefined) return [`coordinator ${coordinator} holds no job ${jobId}`];
  const problems: string[] = [];
  let total = 0;
  const note = (p: string): void => {
    if (problems.length < kProblemsListedMax) problems.push(p);
    total++;
  };
  if (!job.finished) note(`job ${jobId} is not finished: ${job.processes.filter((p) => p.state !== 'ended' && p.state !== 'lost').length} processes still ${[...new Set(job.processes.map((p) => p.state))].join('/')}`);
  job.processes.forEach((p, index) => {
    const key = `${jobId}/${index}`;
    const real = farm.ran.get(p.node)?.get(key);
    if (p.state === 'ended') {
      if (real === undefined || real === null) note(`process ${index} on ${p.node} is ended (code ${p.exitCode}) but its host never finished running it`);
      else if (real !== p.exitCode) note(`process ${index} on ${p.node} ended with ${real} on its host, the coordinator says ${p.exitCode}`);
    } else if (p.state === 'lost') {
      if (!crashed.has(p.node)) note(`process ${index} on healthy node ${p.node} was lost: ${p.reason}`);
    } else if (crashed.has(p.node)) {
      note(`process ${index} on crashed node ${p.node} is still ${p.state}: the lost-node rule did not fire`);
    } else {
      note(`process ${index} on ${p.node} is still ${p.state}`);
    }
  });
  return summary(problems, total);
}
