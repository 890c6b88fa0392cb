/**
 * The cluster benchmark on real agents (`npm run bench:cluster`, issue 17 item 6):
 * `galaxy agent` processes on loopback (bench/cluster-rig.ts: an open farm, the `local`
 * preset, no components, each agent with its API), the cluster service with its
 * default focused failure detector (heartbeat 50 ms, suspect timeout 400 ms).
 *
 * - Crash: a cluster of N members (3, 5, 16; GALAXY_CLUSTER_SIZES), a random member
 *   SIGKILLed; the time from just before kill() to the install of the first view
 *   without it, at every survivor (the survivor's own wall-clock stamp of the install,
 *   GET /v1/clusters/:name/views; all processes share the machine's clock). The victim
 *   is then restarted (a new incarnation), the bench waits until every member has it
 *   in its view again and the farm sees it alive, and the next run starts.
 * - Graceful leave: `POST /v1/clusters/:name/leave` on one member of a 5-member cluster;
 *   from just before the request to the view without it at every other member. Each run
 *   uses a fresh cluster (a leave is sticky for a cluster's lifetime).
 * - Join: a 4-member cluster redefined to 5 (PUT /v1/clusters/:name); from the joiner's
 *   core start (it starts when the new definition reaches it through the FMIDB) to the
 *   view with it at every member; the time from the PUT is given too (it adds the
 *   FMIDB's replication, a gossip round of 200 ms).
 * - Simulated: 100 clusters of 5 on one 500-node simulated farm (traffic per node and
 *   view-change time under churn) are the simulator's (`npm run bench:cluster-sim`,
 *   src/sim/cluster); they are copied from bench/results/cluster-sim.json when present.
 *
 * Corosync CPG's figures (issue 17, measured on these machines) are printed beside ours.
 * GALAXY_CLUSTER_COMPARE=1 times a twin cluster without learners on the same kills (see crash()).
 * Writes bench/results/cluster.json. Options: GALAXY_CLUSTER_RUNS (20), GALAXY_CLUSTER_BIG_RUNS (10, at 16 members),
 * GALAXY_CLUSTER_SIZES ("3,5,16"), GALAXY_CLUSTER_LEAVE_RUNS (the same as runs),
 * GALAXY_CLUSTER_OUT (the result file's name under bench/results/).
 * The machine is shared: the load average is recorded beside the figures.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/core/platform/package-root.js';
import type { ClusterSummary, ClusterViews } from '../src/cluster/service/cluster-service.js';
import { allAlive, api, eventually, killAll, restartNode, signal, startFarm, type RigNode } from './cluster-rig.js';

const runs = Number(process.env['GALAXY_CLUSTER_RUNS'] ?? 20);
/** Runs at 16 members and more: each run restarts an agent in a farm of 16 (GALAXY_CLUSTER_BIG_RUNS). */
const bigRuns = Number(process.env['GALAXY_CLUSTER_BIG_RUNS'] ?? 10);
const sizes = (process.env['GALAXY_CLUSTER_SIZES'] ?? '3,5,16').split(',').map(Number);
const leaveRuns = Number(process.env['GALAXY_CLUSTER_LEAVE_RUNS'] ?? runs);
/** Agents booted at once (GALAXY_CLUSTER_BOOT_BATCH, 8): 64 booting together starve each other on two CPUs. */
const bootBatch = Number(process.env['GALAXY_CLUSTER_BOOT_BATCH'] ?? 8);
/**
 * The tuning of clusters of 32 members and more (GALAXY_CLUSTER_BIG_TUNING, JSON; the
 * defaults when unset). A cluster of 64 at the default heartbeat (50 ms to each of 63
 * members, sealed, through each agent's worker) is 80,000 datagrams a second on one
 * machine; the crash figures with evidence do not depend on the heartbeat (the
 * evidence starts the change), the silent-crash ones do. The result file records it.
 */
const bigTuning = JSON.parse(process.env['GALAXY_CLUSTER_BIG_TUNING'] ?? '{}') as Record<string, unknown>;
const tuningFor = (size: number): Record<string, unknown> => (size >= 32 ? bigTuning : {});
/** GALAXY_CLUSTER_ONLY=crash runs the crash sections alone (a trace of one size; the leave and join rows are not rewritten). */
const crashOnly = process.env['GALAXY_CLUSTER_ONLY'] === 'crash';
const kViewTimeoutMs = 20_000;
/** Forming a cluster of 16 on a machine loaded many times over its two CPUs may take longer. */
const kFormTimeoutMs = 60_000;
const kCorosync = { defaults3Ms: 7400, defaults5Ms: 10700, tightestMs: 2200, joinLeaveMs: 2, note: 'Corosync CPG, real processes, issue 17: a crash seen by every survivor with defaults (token 3000 ms) at 3 and 5 nodes, 2.2 s at its tightest token settings; join and leave about 2 ms' };

interface Figures {
  readonly medianMs: number;
  readonly worstMs: number;
  readonly runs: number;
  readonly failed: number;
}

function figures(samples: readonly number[], failed: number): Figures {
  const sorted = samples.slice().sort((a, b) => a - b);
  return { medianMs: round(sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN), worstMs: round(sorted[sorted.length - 1] ?? NaN), runs: samples.length + failed, failed };
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

async function summary(node: RigNode, name: string): Promise<ClusterSummary> {
  return (await api<ClusterSummary>(node, 'GET', `/v1/clusters/${name}`)).json;
}

async function views(node: RigNode, name: string): Promise<ClusterViews> {
  return (await api<ClusterViews>(node, 'GET', `/v1/clusters/${name}/views`)).json;
}

/**
 * The poll period of a wait over `n` agents: 10 ms per agent polled (at least 20 ms). The
 * figures are the agents' own install stamps, so polling slower loses nothing; polling
 * 16 agents every 20 ms was 800 API requests a second served by the agents while they
 * ran the view change being timed.
 */
const pollMs = (n: number): number => Math.max(20, 10 * n);

/** Waits until every node's current view of `name` holds exactly `ids` (node ids). */
async function viewIs(nodes: readonly RigNode[], name: string, ids: readonly string[], what: string, timeoutMs = kViewTimeoutMs): Promise<void> {
  const want = ids.slice().sort().join();
  await Promise.all(nodes.map((n) => eventually(`${n.id} ${what}`, async () => {
    const s = await summary(n, name);
    return s.here?.status === 'member' && s.here.view?.members.map((m) => m.nodeId).sort().join() === want ? true : undefined;
  }, timeoutMs, pollMs(nodes.length))));
}

/** The wall-clock install time of the first view after `sinceMs` whose members satisfy `ok`, at `node`. */
async function installedAt(node: RigNode, name: string, sinceMs: number, ok: (ids: string[]) => boolean): Promise<number> {
  const v = await views(node, name);
  const view = v.views.find((x) => x.installedAtMs >= sinceMs && ok(x.members.map((m) => m.nodeId)));
  if (view === undefined) throw new Error(`${node.id} recorded no such view of ${name}`);
  return view.installedAtMs;
}

/** One survivor's trace of a crash run, in ms after the kill: the farm's evidence reaching its cluster service, its freeze (the prepare), its install of the view without the victim. */
async function trace(node: RigNode, name: string, t0: number, victim: string): Promise<{ evidenceMs: number | null; evidenceSource: string | null; blockedMs: number | null; installMs: number }> {
  const v = await views(node, name);
  const view = v.views.find((x) => x.installedAtMs >= t0 && !x.members.some((m) => m.nodeId === victim));
  if (view === undefined) throw new Error(`${node.id} recorded no view of ${name} without ${victim}`);
  const evidence = v.evidence.find((e) => e.atMs >= t0 && e.nodeId === victim);
  const blocked = v.statuses.find((s) => s.atMs >= t0 && s.status === 'blocked');
  return { evidenceMs: evidence === undefined ? null : evidence.atMs - t0, evidenceSource: evidence?.source ?? null, blockedMs: blocked === undefined || blocked.atMs > view.installedAtMs ? null : blocked.atMs - t0, installMs: view.installedAtMs - t0 };
}

/** How many survivors got their first evidence from each source (link-closed, farm-dead, farm-leave). */
function countSources(sources: readonly (string | null)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of sources) if (s !== null) out[s] = (out[s] ?? 0) + 1;
  return out;
}

interface CrashRun {
  /** ms from the kill to the victim's exit as its parent saw it. */
  readonly exitedMs: number;
  readonly first: number;
  readonly median: number;
  readonly every: number;
  readonly evidence: { readonly first: number | null; readonly median: number | null; readonly last: number | null; readonly survivorsWithout: number; readonly bySource: Readonly<Record<string, number>> };
  readonly blocked: { readonly first: number | null; readonly last: number | null };
}

/**
 * With GALAXY_CLUSTER_COMPARE=1 every crash run also times a twin cluster of the same
 * members with `learnFromAcceptors: false` (acceptors wait for the coordinator's
 * INSTALL, the protocol before this run's change): one SIGKILL, the same survivors, the
 * same load, so the ratio between the two is the learners' gain.
 */
const compare = process.env['GALAXY_CLUSTER_COMPARE'] === '1';

interface CrashResult {
  /** Runs whose view was not whole after the pause before the kill (waited for; see crash()). */
  readonly unsettledBeforeKill: number;
  readonly figures: Figures;
  readonly perRun: CrashRun[];
  /** The twin cluster without learners (GALAXY_CLUSTER_COMPARE=1), null otherwise. */
  readonly withoutLearners: { readonly figures: Figures; readonly perRun: CrashRun[] } | null;
}

async function crash(farm: RigNode[], size: number): Promise<CrashResult> {
  const members = farm.slice(0, size);
  const clusters = [{ name: `crash${size}`, tuning: tuningFor(size) }, ...(compare ? [{ name: `crash${size}-nolearn`, tuning: { ...tuningFor(size), learnFromAcceptors: false } }] : [])];
  for (const c of clusters) {
    // An agent of a 64-agent farm on two CPUs may drop the API connection (undici: other side closed): asked again, the definition either exists (409) or is written now.
    const created = await eventually(`create ${c.name}`, () => api(members[0]!, 'POST', '/v1/clusters', { name: c.name, nodes: members.map((m) => m.id), tuning: c.tuning }), 60_000, 1_000);
    if (created.status !== 201 && created.status !== 409) throw new Error(`create ${c.name}: ${JSON.stringify(created.json)}`);
  }
  // A definition reaches 64 agents through the FMIDB's gossip, and 64 promises come in, on a machine loaded many times over: 3 s per member.
  const formMs = Math.max(kFormTimeoutMs, size * 3_000);
  for (const c of clusters) {
    try {
      await viewIs(members, c.name, members.map((m) => m.id), `forms ${c.name}`, formMs);
    } catch (error) {
      console.log(`  ${c.name} did not form within ${formMs} ms (load ${loadavg()[0]!.toFixed(1)}): ${await census(members, c.name)}`);
      throw error;
    }
  }
  const every = clusters.map(() => [] as number[]);
  const perRun = clusters.map(() => [] as CrashRun[]);
  const failed = clusters.map(() => 0);
  let unsettled = 0;
  const count = size >= 16 ? bigRuns : runs;
  for (let run = 0; run < count; run++) {
    const victim = members[Math.floor(Math.random() * members.length)]!;
    const survivors = members.filter((m) => m !== victim);
    // Past the service's fresh-member window (3 s: a farm `dead` about a node re-admitted that recently is taken for stale news), plus a random part.
    await new Promise((resolve) => setTimeout(resolve, 3_000 + Math.random() * 500));
    // Every run starts from a whole view: on a machine loaded tens of times over its two
    // CPUs the farm may call a starved agent dead meanwhile, and its cluster core is cut
    // out and rejoins; a kill while the view holds two of three would measure a minority.
    const whole = await Promise.all(clusters.map(async ({ name }) => (await Promise.all(members.map(async (m) => (await summary(m, name)).here?.view?.members.length === members.length))).every(Boolean)));
    if (!whole.every(Boolean)) {
      unsettled++;
      console.log(`  run ${run + 1}/${count}: the view was not whole after the pause (a member was cut out meanwhile); waiting for it before the kill`);
      for (const { name } of clusters) await viewIs(members, name, members.map((m) => m.id), `is whole again before run ${run + 1}`, formMs);
    }
    const t0 = Date.now();
    await signal(victim, 'SIGKILL');
    // When this process saw the victim exit (waitpid): the kernel tears a killed process down in its own CPU time, and closes its sockets (the source of ICMP and closed-connection evidence) only near the end; on a loaded machine that takes tens to hundreds of ms.
    const exitedMs = Date.now() - t0;
    await Promise.all(clusters.map(async ({ name }, i) => {
      try {
        await viewIs(survivors, name, survivors.map((m) => m.id), `installs ${name} without the victim`);
        const traces = await Promise.all(survivors.map((s) => trace(s, name, t0, victim.id)));
        const times = traces.map((t) => t.installMs).sort((a, b) => a - b);
        const evidence = traces.map((t) => t.evidenceMs).filter((t): t is number => t !== null).sort((a, b) => a - b);
        const blocked = traces.map((t) => t.blockedMs).filter((t): t is number => t !== null).sort((a, b) => a - b);
        const row: CrashRun = {
          exitedMs,
          first: times[0]!,
          median: times[Math.floor((times.length - 1) / 2)]!,
          every: times[times.length - 1]!,
          // Where the time went (ms after the kill): the first evidence (a closed link, the farm's dead) reaching each survivor's cluster service (before the view at every survivor was read), the prepare freezing each survivor, the install.
          evidence: { first: evidence[0] ?? null, median: evidence[Math.floor((evidence.length - 1) / 2)] ?? null, last: evidence[evidence.length - 1] ?? null, survivorsWithout: traces.length - evidence.length, bySource: countSources(traces.map((t) => t.evidenceSource)) },
          blocked: { first: blocked[0] ?? null, last: blocked[blocked.length - 1] ?? null },
        };
        perRun[i]!.push(row);
        every[i]!.push(row.every);
        console.log(`  ${name} run ${run + 1}/${count}: victim exited ${exitedMs} ms; first ${row.first} ms, median ${row.median} ms, every survivor ${row.every} ms; evidence first/median/last ${row.evidence.first}/${row.evidence.median}/${row.evidence.last} ms (${Object.entries(row.evidence.bySource).map(([k, v]) => `${v} ${k}`).join(', ')}; ${row.evidence.survivorsWithout} without), frozen first/last ${row.blocked.first}/${row.blocked.last} ms (load ${loadavg()[0]!.toFixed(1)})`);
      } catch (error) {
        failed[i]!++;
        console.log(`  ${name} run ${run + 1}/${count}: MISSED (${(error as Error).message})`);
        // What each survivor holds, for the report: status, incarnation, its last views and statuses, and its agent's last stderr.
        for (const s of survivors) {
          try {
            const v = await views(s, name);
            console.log(`    ${s.id}: ${v.status} incarnation ${v.incarnation}; views ${v.views.slice(-3).map((x) => `${x.viewId}:${x.members.map((m) => `${m.nodeId.slice(0, 4)}/${m.incarnation}`).join(',')}`).join(' ')}; statuses ${v.statuses.slice(-5).map((x) => x.status).join(' ')}; evidence ${v.evidence.slice(-3).map((e) => `${e.nodeId.slice(0, 4)} ${e.source}`).join(', ')}`);
          } catch (e) {
            console.log(`    ${s.id}: no answer (${(e as Error).message}); stderr: ${s.stderr.slice(-500)}`);
          }
        }
      }
    }));
    await restartNode(victim);
    for (const { name } of clusters) await viewIs(members, name, members.map((m) => m.id), `readmits the restarted member into ${name}`, formMs);
    await allAlive(members, farm.length, Math.max(60_000, farm.length * 2_000));
  }
  for (const { name } of clusters) await api(members[0]!, 'DELETE', `/v1/clusters/${name}`);
  return {
    unsettledBeforeKill: unsettled,
    figures: figures(every[0]!, failed[0]!),
    perRun: perRun[0]!,
    withoutLearners: compare ? { figures: figures(every[1]!, failed[1]!), perRun: perRun[1]! } : null,
  };
}

/** Where the members of a cluster that did not form stand: how many hold which status and view size, and how many did not answer (or hold no definition yet). */
async function census(members: readonly RigNode[], name: string): Promise<string> {
  const counts = new Map<string, number>();
  await Promise.all(members.map(async (m) => {
    let key: string;
    try {
      const reply = await api<ClusterSummary>(m, 'GET', `/v1/clusters/${name}`);
      const here = reply.json?.here ?? null;
      key = reply.status !== 200 ? `HTTP ${reply.status}` : here === null ? 'no core' : `${here.status} in a view of ${here.view?.members.length ?? 0}`;
    } catch (error) {
      key = `no answer (${(error as Error).message.slice(0, 40)})`;
    }
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }));
  return [...counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${v} ${k}`).join('; ');
}

async function leave(farm: RigNode[]): Promise<Figures> {
  const members = farm.slice(0, 5);
  const samples: number[] = [];
  let failed = 0;
  for (let run = 0; run < leaveRuns; run++) {
    const name = `leave${run}`;
    await api(members[0]!, 'POST', '/v1/clusters', { name, nodes: members.map((m) => m.id) });
    await viewIs(members, name, members.map((m) => m.id), `forms ${name}`);
    const leaver = members[Math.floor(Math.random() * members.length)]!;
    const others = members.filter((m) => m !== leaver);
    const t0 = Date.now();
    const reply = await api(leaver, 'POST', `/v1/clusters/${name}/leave`, {});
    try {
      if (reply.status !== 200) throw new Error(`leave answered ${reply.status}`);
      await viewIs(others, name, others.map((m) => m.id), `installs ${name} without the leaver`);
      const times = await Promise.all(others.map((s) => installedAt(s, name, t0, (ids) => !ids.includes(leaver.id))));
      const ms = Math.max(...times) - t0;
      samples.push(ms);
      console.log(`  leave run ${run + 1}/${leaveRuns}: ${ms} ms`);
    } catch (error) {
      failed++;
      console.log(`  leave run ${run + 1}/${leaveRuns}: MISSED (${(error as Error).message})`);
    }
    await api(members[0]!, 'DELETE', `/v1/clusters/${name}`);
  }
  return figures(samples, failed);
}

async function joinRuns(farm: RigNode[]): Promise<{ fromCoreStart: Figures; fromDefinition: Figures }> {
  const members = farm.slice(0, 5);
  const fromStart: number[] = [];
  const fromPut: number[] = [];
  let failed = 0;
  for (let run = 0; run < leaveRuns; run++) {
    const name = `join${run}`;
    const joiner = members[Math.floor(Math.random() * members.length)]!;
    const first = members.filter((m) => m !== joiner);
    await api(first[0]!, 'POST', '/v1/clusters', { name, nodes: first.map((m) => m.id) });
    await viewIs(first, name, first.map((m) => m.id), `forms ${name}`);
    const t0 = Date.now();
    const reply = await api(first[0]!, 'PUT', `/v1/clusters/${name}`, { nodes: members.map((m) => m.id) });
    try {
      if (reply.status !== 200) throw new Error(`PUT answered ${reply.status}`);
      await viewIs(members, name, members.map((m) => m.id), `installs ${name} with the joiner`);
      const startedAt = (await views(joiner, name)).startedAtMs;
      const times = await Promise.all(members.map((s) => installedAt(s, name, t0, (ids) => ids.includes(joiner.id))));
      const last = Math.max(...times);
      fromStart.push(last - startedAt);
      fromPut.push(last - t0);
      console.log(`  join run ${run + 1}/${leaveRuns}: ${last - startedAt} ms from the joiner's core start, ${last - t0} ms from the PUT`);
    } catch (error) {
      failed++;
      console.log(`  join run ${run + 1}/${leaveRuns}: MISSED (${(error as Error).message})`);
    }
    await api(first[0]!, 'DELETE', `/v1/clusters/${name}`);
  }
  return { fromCoreStart: figures(fromStart, failed), fromDefinition: figures(fromPut, failed) };
}

async function main(): Promise<void> {
  const biggest = Math.max(...sizes, 5);
  console.log(`starting ${biggest} agents on loopback ...`);
  const farm = await startFarm(biggest, bootBatch);
  const loadBefore = loadavg();
  const crashes: Record<string, unknown> = {};
  const partial: Record<string, unknown> = { real: true, partial: true, crash: crashes };
  for (const size of sizes) {
    console.log(`crash of one member of ${size}:`);
    const result = await crash(farm, size);
    crashes[String(size)] = { tuning: tuningFor(size), everySurvivor: result.figures, unsettledBeforeKill: result.unsettledBeforeKill, perRun: result.perRun, ...(result.withoutLearners === null ? {} : { withoutLearners: { everySurvivor: result.withoutLearners.figures, perRun: result.withoutLearners.perRun }, medianRatio: round(result.figures.medianMs / result.withoutLearners.figures.medianMs), worstRatio: round(result.figures.worstMs / result.withoutLearners.figures.worstMs) }) };
    if (result.withoutLearners !== null) console.log(`  ${size} members without learners (same kills): median ${result.withoutLearners.figures.medianMs} ms, worst ${result.withoutLearners.figures.worstMs} ms; with/without ratio: median ${(result.figures.medianMs / result.withoutLearners.figures.medianMs).toFixed(2)}, worst ${(result.figures.worstMs / result.withoutLearners.figures.worstMs).toFixed(2)}`);
    save(partial);
    console.log(`  ${size} members: median ${result.figures.medianMs} ms, worst ${result.figures.worstMs} ms to a new view at every survivor (Corosync CPG defaults: ${size === 3 ? '7400 ms' : size === 5 ? '10700 ms' : 'not measured'}, tightest 2200 ms)`);
  }
  if (crashOnly) {
    save({ ...partial, partial: false, crashOnly: true, sizes, farmSize: biggest, loadavgBefore: loadBefore, loadavgAfter: loadavg(), corosyncCpg: kCorosync });
    console.log(`wrote bench/results/${process.env['GALAXY_CLUSTER_OUT'] ?? 'cluster-crash.json'}`);
    return;
  }
  console.log('graceful leave of one member of 5:');
  const leaveFigures = await leave(farm);
  console.log(`  median ${leaveFigures.medianMs} ms, worst ${leaveFigures.worstMs} ms (Corosync CPG ~2 ms)`);
  console.log('join of a fifth member:');
  const joinFigures = await joinRuns(farm);
  console.log(`  median ${joinFigures.fromCoreStart.medianMs} ms, worst ${joinFigures.fromCoreStart.worstMs} ms from its core start; ${joinFigures.fromDefinition.medianMs} / ${joinFigures.fromDefinition.worstMs} ms from the PUT (Corosync CPG ~2 ms)`);
  const simFile = join(packageRoot(), 'bench', 'results', 'cluster-sim.json');
  const simulated = existsSync(simFile) ? { source: 'bench/results/cluster-sim.json (npm run bench:cluster-sim; simulated time)', farm: (JSON.parse(readFileSync(simFile, 'utf8')) as { farm?: unknown }).farm ?? null } : { source: 'run npm run bench:cluster-sim', farm: null };
  const result = {
    real: true,
    setup: `${biggest} galaxy agents on loopback (preset local, --insecure, no components), cluster defaults (heartbeat 50 ms, suspect timeout 400 ms)`,
    runs,
    runsAt16: bigRuns,
    leaveAndJoinRuns: leaveRuns,
    sizes,
    note64: sizes.includes(64) ? null : 'clusters of 64 were not run: 64 agents do not fit this 2-CPU machine shared with other work',
    loadavgBefore: loadBefore,
    loadavgAfter: loadavg(),
    corosyncCpg: kCorosync,
    crash: crashes,
    leave5: leaveFigures,
    join5: joinFigures,
    simulated,
  };
  save(result);
  console.log('wrote bench/results/cluster.json');
}

/** Writes the figures so far (a later section that fails keeps the earlier ones). */
function save(result: unknown, file = process.env['GALAXY_CLUSTER_OUT'] ?? (crashOnly ? 'cluster-crash.json' : 'cluster.json')): void {
  const dir = join(packageRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, file), `${JSON.stringify(result, null, 2)}\n`);
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => killAll());
