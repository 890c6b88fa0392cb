import type { ClusterMemberOptions } from '../../core/cluster/cluster-config.js';
import { Prng } from '../../core/util/prng.js';
import { ClusterSimulation } from './cluster-simulation.js';

/**
 * A member's SIGKILL as real agents see it on a machine loaded many times over its CPUs
 * (issue 17's 16- and 32-member runs of `npm run bench:cluster`), rebuilt in the
 * simulator so that it replays from one seed:
 *
 * - message hops of tens of ms with a long tail (main thread, worker, socket, worker,
 *   main thread on a starved machine);
 * - every process stalls now and then (descheduled: no ticks, deliveries wait);
 * - the victim is any member, the coordinator included; it sends nothing from the kill
 *   on, no ICMP answers for it, and its exit (when its sockets close) comes some time
 *   after the kill;
 * - the evidence reaches each survivor at its own time after that exit: a few ms for a
 *   closed connection, tens to hundreds of ms for the farm's `dead`, or never (it learns
 *   the new view first);
 * - optionally a little datagram loss (receive buffers overflowing).
 *
 * The figure is the time from the kill to one view without the victim at every
 * survivor. The checkers run over the histories after every run.
 */
export interface LoadedCrashOptions {
  readonly size: number;
  readonly seed: number;
  /** One-way latency: a floor and a mean (exponential above the floor). */
  readonly latencyMsMin?: number;
  readonly latencyMsMean?: number;
  /** Each process stalls on average every this many ms ... */
  readonly stallEveryMs?: number;
  /** ... for an exponential time of this mean, at most stallMsMax. */
  readonly stallMsMean?: number;
  readonly stallMsMax?: number;
  /** The victim's exit after its kill: exponential of this mean. */
  readonly exitMsMean?: number;
  /** Share of survivors whose evidence is a closed connection (a few ms after the exit); the rest hear the farm's `dead` or nothing. */
  readonly linkShare?: number;
  /** Share of survivors given no evidence at all. */
  readonly noEvidenceShare?: number;
  /** The farm's `dead` after the exit: uniform in [min, max] ms. */
  readonly farmDeadMsMin?: number;
  readonly farmDeadMsMax?: number;
  readonly lossRate?: number;
  /** Core options of every member. */
  readonly options?: ClusterMemberOptions;
  /** The bound of one run, in simulated ms. */
  readonly timeoutMs?: number;
  /** Sees every message a core sends (a trace of the run). */
  readonly onSend?: (atMs: number, from: string, to: string, bytes: Uint8Array) => void;
}

export interface LoadedCrashResult {
  /** ms from the kill to one view without the victim at every survivor, or -1 past the bound. */
  readonly tookMs: number;
  readonly victim: number;
  readonly victimWasCoordinator: boolean;
  /** Simulated time of the kill. */
  readonly killMs: number;
  /** ms from the kill to the first evidence any survivor was given (the floor of the change; -1: none). */
  readonly firstEvidenceMs: number;
  readonly sim: ClusterSimulation;
  /** Where the survivors stood at the end (for failures). */
  readonly describe: string;
}

export const kLoadedCrashDefaults = {
  latencyMsMin: 3,
  latencyMsMean: 25,
  stallEveryMs: 300,
  stallMsMean: 60,
  stallMsMax: 1500,
  exitMsMean: 150,
  linkShare: 0.5,
  noEvidenceShare: 0.15,
  farmDeadMsMin: 30,
  farmDeadMsMax: 250,
  lossRate: 0.01,
  timeoutMs: 30_000,
} as const;

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Forms a cluster of `size` under the load model, crashes one member, and times the view without it. */
export function loadedCrash(o: LoadedCrashOptions): LoadedCrashResult {
  const p = { ...kLoadedCrashDefaults, ...o };
  const random = new Prng((Math.imul(o.seed, 2654435761) + o.size) >>> 0);
  const s = new ClusterSimulation({
    seed: o.seed,
    nodeCount: o.size,
    clusters: [{ name: 'c', nodes: range(o.size), options: o.options }],
    multicastEveryMs: 0,
    ...(o.onSend === undefined ? {} : { onSend: o.onSend }),
    sim: { tickMs: 5, icmp: false, latencyMsMin: p.latencyMsMin, latencyMsMean: p.latencyMsMean },
  });
  const all = range(o.size);
  // Formation on a quiet network; the load starts once the view holds.
  if (s.awaitCommonView('c', all, p.timeoutMs) < 0) {
    return { tookMs: -1, victim: -1, victimWasCoordinator: false, killMs: -1, firstEvidenceMs: -1, sim: s, describe: `formed no view: ${s.describe('c', all)}` };
  }
  s.sim.setLossRate(p.lossRate);
  // Stalls: per process, the next stall start.
  const nextStallMs = all.map(() => s.sim.nowMs() + random.nextFloat() * 2 * p.stallEveryMs);
  const stepMs = 5;
  const stallStep = (): void => {
    const now = s.sim.nowMs();
    for (const i of all) {
      if (now < nextStallMs[i]!) continue;
      nextStallMs[i] = now + random.nextFloat() * 2 * p.stallEveryMs;
      const address = s.addresses[i]!;
      if (!s.sim.isProcessAlive(address)) continue;
      const ms = Math.min(p.stallMsMax, -Math.log(1 - random.nextFloat()) * p.stallMsMean);
      if (ms > 0) s.sim.pause(address, ms);
    }
  };
  // Run under load a while before the kill (the view must survive it).
  for (let t = 0; t < 1000; t += stepMs) {
    stallStep();
    s.sim.runFor(stepMs);
  }
  const viewBefore = s.host(0)?.coreOf('c')?.currentView();
  const victim = random.nextInt(o.size);
  const victimWasCoordinator = viewBefore?.members[0]?.nodeId === s.nodeIds[victim];
  const survivors = all.filter((i) => i !== victim);
  const killMs = s.sim.nowMs();
  // The process stops at the kill (it is never scheduled again); no ICMP answers for it.
  s.sim.crash(s.addresses[victim]!);
  const exitMs = killMs - Math.log(1 - random.nextFloat()) * p.exitMsMean;
  const evidenceAt = new Map<number, number>();
  for (const i of survivors) {
    const x = random.nextFloat();
    if (x < p.noEvidenceShare) continue;
    const link = x < p.noEvidenceShare + p.linkShare;
    evidenceAt.set(i, exitMs + (link ? 2 + random.nextFloat() * 15 : p.farmDeadMsMin + random.nextFloat() * (p.farmDeadMsMax - p.farmDeadMsMin)));
  }
  const firstEvidenceMs = evidenceAt.size === 0 ? -1 : Math.min(...evidenceAt.values()) - killMs;
  const victimId = s.nodeIds[victim]!;
  const done = (): boolean => s.hasCommonView('c', survivors);
  let tookMs = -1;
  while (s.sim.nowMs() - killMs < p.timeoutMs) {
    const now = s.sim.nowMs();
    for (const [i, at] of evidenceAt) {
      if (at > now) continue;
      evidenceAt.delete(i);
      const host = s.host(i);
      // A stalled agent takes the evidence when it runs again; a stalled sim process cannot be stepped, so it waits a step.
      if (host === undefined) continue;
      if (s.sim.isPaused(s.addresses[i]!)) {
        evidenceAt.set(i, now + stepMs);
        continue;
      }
      host.command('c', { kind: 'suspect', nodeId: victimId });
    }
    if (done()) {
      tookMs = now - killMs;
      break;
    }
    stallStep();
    s.sim.runFor(stepMs);
  }
  return { tookMs, victim, victimWasCoordinator, killMs, firstEvidenceMs, sim: s, describe: s.describe('c', survivors) };
}
