// The fault suite (issue 8): a farm of real `galaxy agent` processes, each on a host of
// its own made with network namespaces (netns-lab.ts), admitted by approval, and a run
// of faults against it, one at a time. Each scenario asserts what must hold within a
// stated bound and records what it measured (bench/results/faults.json):
//  - SIGKILL of one agent, then of 30% at once: every survivor marks them dead within
//    kDeathBoundMs; restarted with the same data directory, each rejoins with the same
//    id and a higher incarnation within kRejoinBoundMs;
//  - SIGSTOP of one agent for three times its suspicion timeout, then SIGCONT: it is
//    marked dead, then rejoins with a higher incarnation; nobody else is ever marked dead;
//  - a partition into two halves for 30 s: each side marks the other dead, and after the
//    heal every agent sees all alive again within kHealBoundMs; nobody is marked dead by
//    its own side;
//  - a one-way partition (A hears B, B does not hear A) for 20 s: nobody is marked dead;
//  - random loss on every link with nftables: zero false deaths over 2 minutes at 10%;
//    at 30% for 1 minute, every false death (if any) is refuted within kRejoinBoundMs;
//    after each, one membership within kHealBoundMs;
//  - a node with a wrong key never joins and its traffic is counted as failing
//    authentication; a node never approved never joins;
//  - hostile input at every listener (hostile.ts), each rejected and counted, no crash,
//    resident memory under kRssBytesMax.
// The FMIDB digests, landscape members and lost jobs are asserted in every scenario that
// names them; an agent that does not serve their routes fails the suite at start.
//
// Needs root, `ip netns` and nftables; without them the suite says why and skips, and
// with GALAXY_FAULTS_REQUIRED=1 (CI) it fails instead.
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kLocalConfig } from '../../src/core/membership/config.js';
import { kApiLimitsDefault } from '../../src/ops/api/api-limits.js';
import { kStreamTransportDefaults } from '../../src/node/transport/stream-transport.js';
import { attackApi, attackStream, attackUdp, connectionFlood, slowApiClients, slowStreamClients, type ApiSent, type StreamSent, type UdpSent } from './support/attacks.js';
import { FaultFarm, kApiPort, kGossipPort, sleep, suspicionTimeoutMaxMs, waitFor, type Capabilities, type LabAgent } from './support/fault-farm.js';
import { HostileInput } from './support/hostile.js';
import { Figures, round, spread } from './support/figures.js';
import { freshDirectory, labUnavailable, NetnsLab, preClean } from './support/netns-lab.js';

/** Agents in the farm: one controller and nine members, a size two shared vCPUs carry. */
const kAgents = 10;
/** Hosts beyond the farm's: a wrong-key node, a never-approved node, an attacker. */
const kWrongKeyHost = kAgents;
const kUnapprovedHost = kAgents + 1;
const kAttackerHost = kAgents + 2;
const kSuspicionMaxMs = suspicionTimeoutMaxMs(kAgents);
/**
 * Every survivor marks a killed or stopped agent dead within: one pass of the probe
 * round-robin over the farm (some survivor probes it), the longest suspicion timeout
 * (no confirmation), and a second for the death to spread by gossip, then twice that
 * for a machine shared with other work. 2 * (2,000 + 3,600 + 1,000) = 13,200 ms.
 */
const kDeathBoundMs = 2 * (kLocalConfig.probeIntervalMs * kAgents + kSuspicionMaxMs + 1000);
/** A restarted agent is alive again at every member within (join push-pull, then gossip). */
const kRejoinBoundMs = 10_000;
/** After a partition heals, every agent sees all alive within (a reconnect push-pull every 2 s, then gossip). */
const kHealBoundMs = 20_000;
/** The Measurement interval while FMIDB digests are compared (see quietMeasurements). */
const kQuietMeasurementIntervalMs = 3_600_000;
/** The farm is whole again (after a scenario's cleanup) within. */
const kRecoverMsMax = 60_000;

/** Seed of the hostile input (printed in the figures: the same seed sends the same bytes). */
const kHostileSeed = Number(process.env['GALAXY_FAULTS_SEED'] ?? 20261127);
/** Datagrams of each hostile class sent to each agent (admission junk: half as many). */
const kUdpPerClass = 200;
/**
 * Resident memory of one agent process (main thread and gossip worker) stays under
 * 192 MiB through the hostile input, and grows by at most 64 MiB: every buffer a peer
 * can fill is bounded (frames are held as they arrive, up to readBufferBytesMax; API
 * bodies stop at 64 KiB; connections at their limits).
 */
const kRssBytesMax = 192 * 2 ** 20;
const kRssGrowthBytesMax = 64 * 2 ** 20;
const kStreamConnectionsMax = kStreamTransportDefaults.connectionsMax;
const kApiConnectionsMax = kApiLimitsDefault.connectionsMax;
/** Connections opened past each listener's limit in the floods. */
const kFloodExtra = 12;
/** Slow stream clients are closed within the frame timeout (trickling) or the idle timeout (silent), plus 10 s. */
const kStreamSlowWaitMs = Math.max(kStreamTransportDefaults.frameTimeoutMs, kStreamTransportDefaults.idleTimeoutMs) + 10_000;
/** Slow API clients are closed within the header timeout, plus 5 s. */
const kApiSlowWaitMs = kApiLimitsDefault.headersTimeoutMs + 5_000;
/** Data directories of a run (identities, credentials, API tokens, relay sockets) go under the temporary directory, named so plus the pid. */
const kDataPrefix = 'galaxy-faults-';
/** The stdout events that say a node is (or was) a member. */
const kMembershipEvents: readonly string[] = ['join', 'update', 'suspect', 'alive', 'dead', 'leave', 'reap'];
/**
 * With the native transport a killed agent's port answers ICMP unreachable, and a
 * survivor confirms the death within unreachableConfirmMs (20 ms) of a probe: well under
 * a second. The first survivor and the median one must know within 2 s (a machine shared
 * with other work); every survivor within kDeathBoundMs, through gossip.
 */
const kIcmpDeathBoundMs = 2000;

const unavailable = labUnavailable();
const required = process.env['GALAXY_FAULTS_REQUIRED'] === '1';
if (unavailable !== null) console.warn(`\n*** SKIPPED: the fault suite cannot run here: ${unavailable}${required ? ' (GALAXY_FAULTS_REQUIRED=1: failing)' : ''} ***\n`);

describe.runIf(unavailable !== null && required)('fault suite prerequisites', () => {
  it('are met where GALAXY_FAULTS_REQUIRED=1', () => {
    expect(unavailable).toBeNull();
  });
});

describe.runIf(unavailable === null)('faults on real hosts (network namespaces)', () => {
  const figures = new Figures();
  let lab: NetnsLab;
  let farm: FaultFarm;
  let caps: Capabilities;
  let dataRoot: string;

  beforeAll(async () => {
    const stale = preClean(tmpdir(), kDataPrefix);
    if (stale.length > 0) console.warn(`removed ${stale.length} namespaces left by an earlier run: ${stale.join(' ')}`);
    dataRoot = freshDirectory(join(tmpdir(), `${kDataPrefix}${process.pid}`));
    lab = NetnsLab.create(kAgents + 3);
    farm = new FaultFarm(lab, dataRoot);
    const startedAt = Date.now();
    await farm.start(kAgents, 60_000);
    caps = await farm.capabilities();
    const first = farm.controller.startedLine()!;
    figures.setFarm({
      agents: kAgents,
      hosts: lab.hosts.length,
      preset: 'local',
      probeIntervalMs: kLocalConfig.probeIntervalMs,
      suspicionTimeoutMaxMs: kSuspicionMaxMs,
      transport: first['transport'],
      backend: first['backend'],
      mode: first['mode'],
      startMs: Date.now() - startedAt,
      capabilities: caps,
      bounds: { deathMs: kDeathBoundMs, rejoinMs: kRejoinBoundMs, healMs: kHealBoundMs },
    });
    // The FMIDB, landscapes and jobs are part of every agent now: a route that answers 404
    // is a regression, not a reason to skip their assertions.
    const missing = Object.entries(caps).filter(([, served]) => !served).map(([part]) => part);
    if (missing.length > 0) throw new Error(`the agents do not serve ${missing.join(', ')} (API routes answer 404)`);
    // A landscape of every farm node, by an attribute each is given: after a partition
    // heals, every agent must compute the same members from its own replica.
    for (const agent of farm.agents) {
      const set = await farm.controller.api('PUT', `/v1/attributes/${agent.id}`, { body: { values: { faultsuite: 1 } } });
      expect(set.status, set.text).toBe(200);
    }
    const defined = await farm.controller.api('PUT', '/v1/landscapes/faults-all', { body: { sql: 'SELECT node FROM nodes WHERE faultsuite = 1', mode: 'on-change' } });
    expect(defined.status, defined.text).toBe(200);
  }, 180_000);

  afterAll(() => {
    farm?.close();
    lab?.teardown();
    const left = lab?.leftovers() ?? [];
    figures.setFarm({ namespacesLeftAfterTeardown: left.length });
    figures.write();
    if (dataRoot !== undefined) rmSync(dataRoot, { recursive: true, force: true });
    if (left.length > 0) throw new Error(`teardown left namespaces behind: ${left.join(' ')}`);
  });

  /** Runs a scenario body, recording it as held or failed. */
  async function scenario(name: string, body: (record: Record<string, unknown>) => Promise<void>): Promise<void> {
    const record = figures.scenario(name);
    try {
      await recover();
      await body(record);
      figures.held(name);
    } catch (error) {
      const relaysGone = [...farm.relays.values()].map((r) => r.exited).filter((why) => why !== null);
      const failure = relaysGone.length === 0 ? error : new Error(`${(error as Error).message}\n${relaysGone.join('\n')}`);
      figures.failed(name, failure);
      throw failure;
    }
  }

  /** Heals the network, resumes and restarts agents, and waits until every agent sees all alive. */
  async function recover(): Promise<void> {
    lab.heal();
    for (const agent of farm.agents) {
      if (agent.running) agent.signal('SIGCONT');
      else await agent.start();
    }
    await farm.waitConverged(farm.agents, kRecoverMsMax);
    await quietMeasurements();
  }

  /**
   * The Measurement service posts every node's values into the FMIDB every 5 s, and a
   * write takes about a second to reach every replica, so with ten nodes posting the
   * digests are almost never equal at one instant. For the digests to be compared, the
   * suite slows it to once an hour (1 h is its bound) on every agent; a restarted agent
   * gets it again here.
   */
  async function quietMeasurements(): Promise<void> {
    for (const agent of farm.agents) {
      const answer = await agent.api('PUT', '/v1/components/measurement/config', { body: { intervalMs: kQuietMeasurementIntervalMs } });
      expect(answer.status, answer.text).toBe(200);
    }
  }

  const others = (except: readonly LabAgent[]) => farm.agents.filter((a) => !except.includes(a));

  /** ms from sinceMs to the first line of `viewer` saying `event` about `target`, or null. */
  function firstAfter(viewer: LabAgent, target: LabAgent, events: readonly string[], sinceMs: number, incarnationAbove = -1): number | null {
    const line = viewer.about(target.address, events, sinceMs).find((l) => (l.incarnation ?? 0) > incarnationAbove);
    return line === undefined ? null : line.atMs - sinceMs;
  }

  /** Waits until every viewer has marked every target dead since sinceMs; returns each viewer's time for each target. */
  async function allMarkDead(viewers: readonly LabAgent[], targets: readonly LabAgent[], sinceMs: number, boundMs: number): Promise<number[]> {
    await waitFor(`${viewers.length} agents mark ${targets.map((t) => t.address).join(' ')} dead`, () => viewers.every((v) => targets.every((t) => firstAfter(v, t, ['dead'], sinceMs) !== null)), boundMs + 2000);
    return viewers.flatMap((v) => targets.map((t) => firstAfter(v, t, ['dead'], sinceMs)!));
  }

  /** Dead events between two times by any running agent about an address not in `expected`. */
  function unexpectedDeaths(sinceMs: number, untilMs: number, expected: readonly LabAgent[] = []): string[] {
    const allowed = new Set(expected.map((a) => a.address));
    return farm.agents.flatMap((viewer) => viewer.lines.filter((l) => l.event === 'dead' && l.atMs >= sinceMs && l.atMs <= untilMs && !allowed.has(l.address ?? '')).map((l) => `${viewer.address} marked ${l.address} dead at ${l.t}`));
  }

  /** The incarnation the controller holds for an agent. */
  async function incarnationOf(agent: LabAgent): Promise<number> {
    const member = (await farm.controller.members()).find((m) => m.address === agent.address);
    if (member === undefined) throw new Error(`the controller does not know ${agent.address}`);
    return member.incarnation;
  }

  /** Sum of a metric over agents. */
  async function metricSum(agents: readonly LabAgent[], name: string, labels: Record<string, string> = {}): Promise<number> {
    const all = await Promise.all(agents.map((a) => a.metrics()));
    return all.reduce((total, m) => total + m.sum(name, labels), 0);
  }

  /** The FMIDB digests of `agents` become identical; records the time. */
  async function fmidbConverges(record: Record<string, unknown>, agents: readonly LabAgent[], boundMs: number): Promise<void> {
    let digests: string[] = [];
    const ms = await waitFor('the FMIDB digests agree', async () => new Set((digests = await farm.dbDigests(agents))).size === 1, boundMs, 250);
    record['fmidbConvergeMs'] = ms;
    record['fmidbBoundMs'] = boundMs;
    expect(new Set(digests).size).toBe(1);
  }

  /** A job sleeping on each of `agents`, started from the controller. */
  async function startJob(agents: readonly LabAgent[]): Promise<string> {
    // A restarted agent starts its components a moment after it joins: the job waits for them.
    await waitFor('the jobs component runs on every target', async () => (await Promise.all(agents.map((a) => a.get<Array<{ name: string; state: string }>>('/v1/components')))).every((list) => list.some((c) => c.name === 'jobs' && c.state === 'running')), 30_000, 250);
    const answer = await farm.controller.api('POST', '/v1/jobs', { body: { target: { nodes: agents.map((a) => a.id) }, command: ['sleep', '600'] } });
    expect(answer.status, answer.text).toBe(201);
    const id = (JSON.parse(answer.text) as { id: string }).id;
    await waitFor('the job runs on every target', async () => (await jobProcesses(id)).every((p) => p.state === 'running'), 20_000, 250);
    return id;
  }

  async function jobProcesses(id: string): Promise<Array<{ node: string; state: string }>> {
    return (await farm.controller.get<{ processes: Array<{ node: string; state: string }> }>(`/v1/jobs/${id}`)).processes;
  }

  /** The job's processes on `lost` end `lost`, the others keep running; records the time. */
  async function jobReportsLost(record: Record<string, unknown>, id: string, lost: readonly LabAgent[], sinceMs: number): Promise<void> {
    const lostIds = new Set(lost.map((a) => a.id));
    let processes: Array<{ node: string; state: string }> = [];
    await waitFor('the job reports the killed nodes\' processes lost', async () => (processes = await jobProcesses(id)).filter((p) => lostIds.has(p.node)).every((p) => p.state === 'lost'), 30_000, 250);
    record['jobLostMs'] = Date.now() - sinceMs;
    for (const p of processes) expect(p.state, p.node).toBe(lostIds.has(p.node) ? 'lost' : 'running');
    await farm.controller.api('POST', `/v1/jobs/${id}/stop`);
  }

  /** Kills `victims` at once; asserts every survivor marks each dead within the bound, then restarts them. */
  async function killAndRestart(record: Record<string, unknown>, victims: readonly LabAgent[]): Promise<void> {
    const survivors = others(victims);
    const before = victims.map((v) => ({ id: v.id, incarnation: v.startIncarnation }));
    const job = await startJob([...victims, survivors[survivors.length - 1]!]);
    const unreachableBefore = await metricSum(survivors, 'galaxy_unreachable_reports_total');
    const killedAt = Date.now();
    await Promise.all(victims.map((v) => v.kill()));
    const times = await allMarkDead(survivors, victims, killedAt, kDeathBoundMs);
    const detected = spread(times);
    record['victims'] = victims.length;
    record['deathMs'] = detected;
    record['deathBoundMs'] = kDeathBoundMs;
    record['unreachableReports'] = (await metricSum(survivors, 'galaxy_unreachable_reports_total')) - unreachableBefore;
    expect(detected.max).toBeLessThanOrEqual(kDeathBoundMs);
    record['deathMsPerSurvivor'] = times;
    if (detected.max > kIcmpDeathBoundMs) {
      // For the record: what the slowest survivor printed around the kill.
      const slowest = survivors[Math.floor(times.indexOf(detected.max) / victims.length)]!;
      record['slowestSurvivorLines'] = slowest.lines.filter((l) => l.atMs >= killedAt - 1000 && l.atMs <= killedAt + detected.max).slice(0, 40).map((l) => `${l.atMs - killedAt} ${l.event} ${l.address ?? ''}`);
    }
    if (farm.controller.startedLine()?.['transport'] === 'native') {
      // The kernel's word: the survivors' probes drew ICMP port unreachable, so the death
      // is confirmed, and known to most survivors, within a fraction of a second.
      record['icmpDeathBoundMs'] = kIcmpDeathBoundMs;
      expect(record['unreachableReports']).toBeGreaterThan(0);
      expect(detected.min).toBeLessThanOrEqual(kIcmpDeathBoundMs);
      expect(detected.median).toBeLessThanOrEqual(kIcmpDeathBoundMs);
    }
    await jobReportsLost(record, job, victims, killedAt);
    await fmidbConverges(record, survivors, 15_000);

    // The same data directory: the same identity, a higher incarnation, no new approval.
    const restartedAt = Date.now();
    await Promise.all(victims.map((v) => v.start()));
    victims.forEach((v, i) => {
      expect(v.id).toBe(before[i]!.id);
      expect(v.startIncarnation).toBeGreaterThan(before[i]!.incarnation);
    });
    await waitFor('every survivor sees the restarted agents alive with their new incarnation', () => survivors.every((s) => victims.every((v) => s.about(v.address, ['join', 'alive', 'update'], restartedAt).some((l) => l.incarnation === v.startIncarnation))), kRejoinBoundMs);
    const rejoin = spread(survivors.flatMap((s) => victims.map((v) => s.about(v.address, ['join', 'alive', 'update'], restartedAt).find((l) => l.incarnation === v.startIncarnation)!.atMs - restartedAt)));
    record['rejoinMs'] = rejoin;
    record['rejoinBoundMs'] = kRejoinBoundMs;
    expect(rejoin.max).toBeLessThanOrEqual(kRejoinBoundMs);
    record['restartedKeptId'] = true;
    expect(unexpectedDeaths(killedAt, Date.now(), victims)).toEqual([]);
  }

  it('SIGKILL of one agent: every survivor marks it dead; restarted with the same identity it rejoins', async () => {
    await scenario('sigkill-one', (record) => killAndRestart(record, [farm.agents[5]!]));
  });

  it('SIGKILL of 30% of the agents at once: every survivor marks each dead; all rejoin', async () => {
    const victims = [farm.agents[2]!, farm.agents[4]!, farm.agents[7]!];
    expect(victims.length).toBe(Math.round(kAgents * 0.3));
    await scenario('sigkill-30pct', (record) => killAndRestart(record, victims));
  });

  it('SIGSTOP for three suspicion timeouts: marked dead, rejoins with a higher incarnation, nobody else dies', async () => {
    await scenario('sigstop', async (record) => {
      const victim = farm.agents[3]!;
      const rest = others([victim]);
      const incarnation = await incarnationOf(victim);
      const stopMs = 3 * kSuspicionMaxMs;
      const stoppedAt = Date.now();
      victim.signal('SIGSTOP');
      const times = await allMarkDead(rest, [victim], stoppedAt, kDeathBoundMs);
      record['stopMs'] = stopMs;
      record['deathMs'] = spread(times);
      record['deathBoundMs'] = kDeathBoundMs;
      expect(spread(times).max).toBeLessThanOrEqual(kDeathBoundMs);
      await sleep(Math.max(0, stoppedAt + stopMs - Date.now()));
      const resumedAt = Date.now();
      victim.signal('SIGCONT');
      await waitFor('every other agent sees the resumed agent alive with a higher incarnation', () => rest.every((a) => firstAfter(a, victim, ['join', 'alive', 'update'], resumedAt, incarnation) !== null), kRejoinBoundMs);
      const rejoin = spread(rest.map((a) => firstAfter(a, victim, ['join', 'alive', 'update'], resumedAt, incarnation)!));
      record['rejoinMs'] = rejoin;
      record['incarnationBefore'] = incarnation;
      record['incarnationAfter'] = await incarnationOf(victim);
      expect(record['incarnationAfter']).toBeGreaterThan(incarnation);
      await farm.waitConverged(farm.agents, kRejoinBoundMs);
      await sleep(2000);
      const deaths = unexpectedDeaths(stoppedAt, Date.now(), [victim]);
      record['otherDeaths'] = deaths.length;
      expect(deaths).toEqual([]);
    });
  });

  it('a partition into two halves for 30 s, then healed: one membership again within the bound', async () => {
    await scenario('partition', async (record) => {
      const sideA = farm.agents.slice(0, kAgents / 2);
      const sideB = farm.agents.slice(kAgents / 2);
      const cutAt = Date.now();
      lab.partition(sideA.map((a) => a.host), sideB.map((a) => a.host));
      const aSeesB = await allMarkDead(sideA, sideB, cutAt, kDeathBoundMs * 2);
      const bSeesA = await allMarkDead(sideB, sideA, cutAt, kDeathBoundMs * 2);
      record['splitMs'] = spread([...aSeesB, ...bSeesA]);
      record['holdMs'] = 30_000;
      await sleep(Math.max(0, cutAt + 30_000 - Date.now()));
      record['packetsDropped'] = lab.faultCounters().dropped;
      expect(record['packetsDropped']).toBeGreaterThan(0);
      const ownSideDeaths = [...unexpectedDeaths(cutAt, Date.now(), sideB).filter((l) => sideA.some((a) => l.startsWith(`${a.address} `))), ...unexpectedDeaths(cutAt, Date.now(), sideA).filter((l) => sideB.some((b) => l.startsWith(`${b.address} `)))];
      record['ownSideDeaths'] = ownSideDeaths.length;
      expect(ownSideDeaths).toEqual([]);
      const healedAt = Date.now();
      lab.heal();
      const healMs = await farm.waitConverged(farm.agents, kHealBoundMs);
      record['healMs'] = healMs;
      record['healBoundMs'] = kHealBoundMs;
      expect(healMs).toBeLessThanOrEqual(kHealBoundMs);
      await fmidbConverges(record, farm.agents, kHealBoundMs);
      const all = farm.agents.map((a) => a.id).sort().join(',');
      record['landscapeConvergeMs'] = await waitFor('every agent has all nodes in the landscape', async () => (await farm.landscapeMembers(farm.agents, 'faults-all')).every((m) => m === all), kHealBoundMs, 250);
      record['sinceHealMs'] = Date.now() - healedAt;
    });
  });

  it('a one-way partition (A hears B, B does not hear A) for 20 s: nobody is marked dead', async () => {
    await scenario('one-way', async (record) => {
      const speaker = farm.agents[1]!;
      const deaf = farm.agents[6]!;
      const refutationsBefore = await metricSum(farm.agents, 'galaxy_refutations_total');
      const probesFailedBefore = await metricSum([speaker, deaf], 'galaxy_probes_failed_total');
      const cutAt = Date.now();
      lab.oneWay(speaker.host, deaf.host);
      await sleep(20_000);
      // The cut was in effect: packets from the speaker reached the deaf host's rule and were dropped.
      record['packetsDropped'] = lab.faultCounters().dropped;
      record['probesFailedByThePair'] = (await metricSum([speaker, deaf], 'galaxy_probes_failed_total')) - probesFailedBefore;
      expect(record['packetsDropped']).toBeGreaterThan(0);
      lab.heal();
      await sleep(2000);
      const suspicions = farm.agents.flatMap((a) => a.lines.filter((l) => l.event === 'suspect' && l.atMs >= cutAt));
      record['holdMs'] = 20_000;
      record['suspectEvents'] = suspicions.length;
      record['suspectEventsAboutThePair'] = suspicions.filter((l) => l.address === speaker.address || l.address === deaf.address).length;
      record['refutations'] = (await metricSum(farm.agents, 'galaxy_refutations_total')) - refutationsBefore;
      const deaths = unexpectedDeaths(cutAt, Date.now());
      record['deaths'] = deaths.length;
      expect(deaths).toEqual([]);
      await farm.waitConverged(farm.agents, kHealBoundMs);
    });
  });

  /** Loss on every link for holdMs; returns the deaths seen and records the figures. */
  async function lossRun(record: Record<string, unknown>, percent: number, holdMs: number): Promise<string[]> {
    const before = { suspicions: await metricSum(farm.agents, 'galaxy_suspicions_total'), refutations: await metricSum(farm.agents, 'galaxy_refutations_total'), probesFailed: await metricSum(farm.agents, 'galaxy_probes_failed_total'), probes: await metricSum(farm.agents, 'galaxy_probes_total') };
    const startedAt = Date.now();
    lab.loss(percent);
    await sleep(holdMs);
    const after = { suspicions: await metricSum(farm.agents, 'galaxy_suspicions_total'), refutations: await metricSum(farm.agents, 'galaxy_refutations_total'), probesFailed: await metricSum(farm.agents, 'galaxy_probes_failed_total'), probes: await metricSum(farm.agents, 'galaxy_probes_total') };
    const packets = lab.faultCounters();
    lab.heal();
    const healedAt = Date.now();
    record['lossPercent'] = percent;
    record['holdMs'] = holdMs;
    record['packetsSeen'] = packets.seen;
    record['packetsDropped'] = packets.dropped;
    record['observedLossPercent'] = round((100 * packets.dropped) / Math.max(1, packets.seen), 1);
    // The rule did what it says: thousands of packets, dropped at N% within three points.
    expect(packets.seen).toBeGreaterThan(5000);
    expect(Math.abs((100 * packets.dropped) / packets.seen - percent)).toBeLessThan(3);
    record['probes'] = after.probes - before.probes;
    record['probesFailed'] = after.probesFailed - before.probesFailed;
    record['suspicionsRaised'] = after.suspicions - before.suspicions;
    record['refutations'] = after.refutations - before.refutations;
    const deaths = unexpectedDeaths(startedAt, healedAt);
    record['falseDeaths'] = deaths.length;
    record['falselyDeadMembers'] = new Set(deaths.map((d) => d.split(' marked ')[1]!.split(' ')[0])).size;
    const recoveredMs = await farm.waitConverged(farm.agents, kHealBoundMs);
    record['convergedAfterLossMs'] = recoveredMs;
    return deaths;
  }

  it('10% loss on every link for 2 minutes: zero false deaths', async () => {
    await scenario('loss-10pct', async (record) => {
      const deaths = await lossRun(record, 10, 120_000);
      expect(deaths).toEqual([]);
    });
  }, 240_000);

  it('30% loss on every link for 1 minute: a false death, if any, is refuted within the rejoin bound; one membership after', async () => {
    await scenario('loss-30pct', async (record) => {
      const startedAt = Date.now();
      const deaths = await lossRun(record, 30, 60_000);
      record['deathLines'] = deaths.slice(0, 20);
      // Every dead line of the window is followed, at the same viewer, by the member alive again within kRejoinBoundMs.
      const unrefuted = farm.agents.flatMap((viewer) =>
        viewer.lines
          .filter((l) => l.event === 'dead' && l.atMs >= startedAt)
          .filter((dead) => !viewer.lines.some((l) => l.address === dead.address && ['join', 'alive', 'update'].includes(l.event) && l.atMs > dead.atMs && l.atMs <= dead.atMs + kRejoinBoundMs))
          .map((dead) => `${viewer.address} marked ${dead.address} dead at ${dead.t}, not alive again within ${kRejoinBoundMs} ms`),
      );
      record['refutedWithinMs'] = kRejoinBoundMs;
      expect(unrefuted).toEqual([]);
    });
  }, 240_000);

  it('a node with a wrong key never joins and its traffic is counted; a node never approved never joins', async () => {
    await scenario('admission', async (record) => {
      const controller = farm.controller;
      const authBefore = await metricSum(farm.agents, 'galaxy_auth_failures_total', { reason: 'authentication' });
      const wrongKey = await farm.agent(lab.hosts[kWrongKeyHost]!, ['--key', Buffer.alloc(32, 7).toString('base64'), '--join', controller.address]);
      const unapproved = await farm.agent(lab.hosts[kUnapprovedHost]!, ['--join', controller.address]);
      const startedAt = Date.now();
      await Promise.all([wrongKey.start(), unapproved.start()]);
      expect(unapproved.startedLine()?.admission).toBe('pending');
      await waitFor('the unapproved node is pending at the controller', async () => (await farm.pending()).some((r) => r.id === unapproved.id), 15_000, 250);
      await sleep(10_000);
      const wrongOut = await wrongKey.metrics();
      const sentByWrongKey = wrongOut.sum('galaxy_datagrams_total', { direction: 'out' }) + wrongOut.sum('galaxy_stream_frames_total', { direction: 'out' });
      const authFailures = (await metricSum(farm.agents, 'galaxy_auth_failures_total', { reason: 'authentication' })) - authBefore;
      const heardOf = (stranger: LabAgent) => farm.agents.flatMap((a) => a.lines.filter((l) => kMembershipEvents.includes(l.event) && l.address === stranger.address && l.atMs >= startedAt));
      const strangerSaw = (stranger: LabAgent) => stranger.lines.filter((l) => l.event === 'join' && l.address !== stranger.address);
      const unapprovedView = await unapproved.get<{ admission: string }>('/v1/node');
      Object.assign(record, {
        windowMs: Date.now() - startedAt,
        wrongKeySent: sentByWrongKey,
        authenticationFailuresCounted: authFailures,
        farmLinesAboutWrongKey: heardOf(wrongKey).length,
        farmLinesAboutUnapproved: heardOf(unapproved).length,
        unapprovedAdmission: unapprovedView.admission,
      });
      expect(heardOf(wrongKey)).toEqual([]);
      expect(strangerSaw(wrongKey)).toEqual([]);
      expect(sentByWrongKey).toBeGreaterThan(0);
      expect(authFailures).toBeGreaterThanOrEqual(sentByWrongKey * 0.9);
      expect(heardOf(unapproved)).toEqual([]);
      expect(strangerSaw(unapproved)).toEqual([]);
      expect(unapproved.lines.some((l) => l.event === 'admission.admitted')).toBe(false);
      expect(unapprovedView.admission).toBe('pending');
      for (const member of await controller.members()) expect([wrongKey.address, unapproved.address]).not.toContain(member.address);
      await Promise.all([wrongKey.kill(), unapproved.kill()]);
    });
  });

  it('hostile input at every listener: each rejected and counted, no crash, memory bounded', async () => {
    await scenario('hostile', async (record) => {
      const agents = farm.agents;
      const keys = (JSON.parse(readFileSync(join(farm.controller.dataDir, 'credentials.json'), 'utf8')) as { keys: string[] }).keys;
      const hostile = new HostileInput(kHostileSeed, keys);
      const attacker = await farm.relay(lab.hosts[kAttackerHost]!);
      const before = await Promise.all(agents.map((a) => a.metrics()));
      const rssBefore = agents.map((a) => a.rssBytes());
      const rssMax = [...rssBefore];
      const sampler = setInterval(() => agents.forEach((a, i) => a.running && (rssMax[i] = Math.max(rssMax[i]!, a.rssBytes()))), 250);
      const startedAt = Date.now();
      let udp: UdpSent[] = [];
      let stream: StreamSent[] = [];
      let api: ApiSent[] = [];
      let slowStreams: Array<Awaited<ReturnType<typeof slowStreamClients>>> = [];
      let slowApi: Array<Array<{ closedMs: number | null; answer: string }>> = [];
      const floodAgents = [agents[1]!, agents[8]!];
      try {
        // Slow clients first: they are cut by the stream's idle and frame timeouts and the API's header timeout while the rest goes on.
        const slowStreamsDone = Promise.all(agents.map((a) => slowStreamClients(attacker, a, 2, 2, kStreamSlowWaitMs)));
        const slowApiDone = Promise.all(agents.map((a) => slowApiClients(a, 3, kApiSlowWaitMs)));
        udp = [];
        for (const agent of agents) udp.push(await attackUdp(hostile, attacker, agent, kUdpPerClass));
        stream = [];
        for (const agent of agents) stream.push(await attackStream(hostile, attacker, agent));
        api = [];
        for (const agent of agents) api.push(await attackApi(hostile, agent));
        // Connection floods on two agents: past each listener's connection limit.
        for (const agent of floodAgents) {
          const gossip = await connectionFlood(attacker, agent.host.ip, kGossipPort, kStreamConnectionsMax + kFloodExtra);
          const http = await connectionFlood(agent.relay, '127.0.0.1', kApiPort, kApiConnectionsMax + kFloodExtra);
          gossip.release();
          http.release();
        }
        [slowStreams, slowApi] = await Promise.all([slowStreamsDone, slowApiDone]);
      } finally {
        clearInterval(sampler);
      }
      await sleep(1000);
      const after = await Promise.all(agents.map((a) => a.metrics()));
      const delta = (i: number, name: string, labels: Record<string, string> = {}) => after[i]!.sum(name, labels) - before[i]!.sum(name, labels);
      const dropped = (i: number, transport: string, code: string) => delta(i, 'galaxy_transport_dropped_total', { transport, code });
      const rows = agents.map((agent, i) => ({
        agent: agent.address,
        udpSent: udp[i]!,
        authFailures: delta(i, 'galaxy_auth_failures_total', { reason: 'authentication' }) + delta(i, 'galaxy_auth_failures_total', { reason: 'malformed' }),
        wireRejected: delta(i, 'galaxy_wire_rejected_total'),
        admissionRefused: delta(i, 'galaxy_admission_invalid_total') + delta(i, 'galaxy_admission_dropped_total') + delta(i, 'galaxy_admission_bad_signatures_total'),
        datagramsTooLarge: dropped(i, 'datagram', 'GALAXY_TRANSPORT_TOO_LARGE'),
        framesTooLarge: dropped(i, 'stream', 'GALAXY_TRANSPORT_FRAME_TOO_LARGE'),
        framesTruncated: dropped(i, 'stream', 'GALAXY_TRANSPORT_FRAME_TRUNCATED'),
        framesTimedOut: dropped(i, 'stream', 'GALAXY_TRANSPORT_FRAME_TIMEOUT'),
        streamConnectionsRefused: dropped(i, 'stream', 'GALAXY_TRANSPORT_CONNECTIONS_FULL'),
        streamIdleCloses: delta(i, 'galaxy_stream_idle_closes_total'),
        apiRejectedBodies: delta(i, 'galaxy_api_rejected_bodies_total'),
        apiAuthFailures: delta(i, 'galaxy_api_auth_failures_total'),
        apiMalformed: delta(i, 'galaxy_api_client_errors_total', { reason: 'malformed' }),
        apiTimeouts: delta(i, 'galaxy_api_client_errors_total', { reason: 'timeout' }),
        apiConnectionsRefused: delta(i, 'galaxy_api_connections_rejected_total'),
        rssBeforeMiB: round(rssBefore[i]! / 2 ** 20, 1),
        rssMaxMiB: round(rssMax[i]! / 2 ** 20, 1),
      }));
      const total = (pick: (row: (typeof rows)[number]) => number) => rows.reduce((sum, row) => sum + pick(row), 0);
      Object.assign(record, {
        seed: kHostileSeed,
        durationMs: Date.now() - startedAt,
        sent: {
          datagramsCaptured: total((r) => r.udpSent.captured),
          randomDatagrams: total((r) => r.udpSent.random),
          mutatedSealedDatagrams: total((r) => r.udpSent.mutatedSealed),
          resealedInvalidDatagrams: total((r) => r.udpSent.resealedInvalid),
          admissionJunk: total((r) => r.udpSent.admissionJunk),
          oversizedDatagrams: total((r) => r.udpSent.oversized),
          oversizedFrames: stream.reduce((sum, s) => sum + s.oversizedFrames, 0),
          truncatedFrames: stream.reduce((sum, s) => sum + s.truncatedFrames, 0),
          randomFrames: stream.reduce((sum, s) => sum + s.randomFrames, 0),
          slowStreamClients: slowStreams.reduce((sum, s) => sum + s.silentClosedMs.length + s.tricklingClosedMs.length, 0),
          apiMalformedBodies: api.reduce((sum, a) => sum + a.malformedBodies, 0),
          apiOversizedBodies: api.reduce((sum, a) => sum + a.oversizedBodies, 0),
          apiWrongContentType: api.reduce((sum, a) => sum + a.wrongContentType, 0),
          apiBadTokens: api.reduce((sum, a) => sum + a.badTokens, 0),
          apiNotHttp: api.reduce((sum, a) => sum + a.notHttp, 0),
          apiSlowClients: slowApi.reduce((sum, s) => sum + s.length, 0),
          connectionFloods: floodAgents.length,
        },
        counted: {
          authFailures: total((r) => r.authFailures),
          wireRejected: total((r) => r.wireRejected),
          admissionRefused: total((r) => r.admissionRefused),
          datagramsTooLarge: total((r) => r.datagramsTooLarge),
          framesTooLarge: total((r) => r.framesTooLarge),
          framesTruncated: total((r) => r.framesTruncated),
          framesTimedOut: total((r) => r.framesTimedOut),
          streamIdleCloses: total((r) => r.streamIdleCloses),
          streamConnectionsRefused: total((r) => r.streamConnectionsRefused),
          apiRejectedBodies: total((r) => r.apiRejectedBodies),
          apiAuthFailures: total((r) => r.apiAuthFailures),
          apiMalformed: total((r) => r.apiMalformed),
          apiTimeouts: total((r) => r.apiTimeouts),
          apiConnectionsRefused: total((r) => r.apiConnectionsRefused),
        },
        slowStreamClosedMs: spread(slowStreams.flatMap((s) => [...s.silentClosedMs, ...s.tricklingClosedMs]).map((ms) => ms ?? Number.POSITIVE_INFINITY)),
        slowApiClosedMs: spread(slowApi.flat().map((s) => s.closedMs ?? Number.POSITIVE_INFINITY)),
        rssBeforeMiBMax: Math.max(...rows.map((r) => r.rssBeforeMiB)),
        rssMaxMiB: Math.max(...rows.map((r) => r.rssMaxMiB)),
        rssBoundMiB: kRssBytesMax / 2 ** 20,
        rssGrowthBoundMiB: kRssGrowthBytesMax / 2 ** 20,
        perAgent: rows,
      });

      // No crash: every agent runs, answers, and the membership is whole, with no death on the way.
      for (const agent of agents) expect(agent.running, agent.address).toBe(true);
      for (const agent of agents) expect((await agent.relay.http('GET', '/v1/health')).status).toBe(200);
      await farm.waitConverged(agents, kHealBoundMs);
      expect(unexpectedDeaths(startedAt, Date.now())).toEqual([]);
      // Memory: under the bound, and grown by less than the growth bound, on every agent.
      rows.forEach((row, i) => {
        expect(rssMax[i]!, `${row.agent} RSS`).toBeLessThanOrEqual(kRssBytesMax);
        expect(rssMax[i]! - rssBefore[i]!, `${row.agent} RSS growth`).toBeLessThanOrEqual(kRssGrowthBytesMax);
      });
      // Each class rejected and counted at each agent. UDP may lose a datagram in a busy
      // receive buffer, so datagrams are held to 90% of what was sent; TCP to all of it.
      rows.forEach((row, i) => {
        const s = row.udpSent;
        expect(s.captured, row.agent).toBeGreaterThan(0);
        expect(row.authFailures, `${row.agent} auth failures`).toBeGreaterThanOrEqual(0.9 * (s.random + s.mutatedSealed) + stream[i]!.randomFrames);
        expect(row.wireRejected, `${row.agent} wire rejected`).toBeGreaterThanOrEqual(0.9 * s.resealedInvalid);
        expect(row.admissionRefused, `${row.agent} admission refused`).toBeGreaterThanOrEqual(0.9 * s.admissionJunk);
        expect(row.datagramsTooLarge, `${row.agent} oversized datagrams`).toBeGreaterThanOrEqual(0.9 * s.oversized);
        expect(stream[i]!.closedByAgent, `${row.agent} closed oversized-frame connections`).toBe(stream[i]!.oversizedFrames);
        expect(row.framesTooLarge, `${row.agent} oversized frames`).toBeGreaterThanOrEqual(stream[i]!.oversizedFrames);
        expect(row.framesTruncated, `${row.agent} truncated frames`).toBeGreaterThanOrEqual(stream[i]!.truncatedFrames);
        expect(row.streamIdleCloses, `${row.agent} silent stream clients`).toBeGreaterThanOrEqual(slowStreams[i]!.silentClosedMs.length);
        expect(row.framesTimedOut, `${row.agent} trickling stream clients`).toBeGreaterThanOrEqual(slowStreams[i]!.tricklingClosedMs.length);
        for (const ms of slowStreams[i]!.silentClosedMs) expect(ms, `${row.agent} silent client closed`).not.toBeNull();
        for (const ms of slowStreams[i]!.tricklingClosedMs) expect(ms, `${row.agent} trickling client closed`).not.toBeNull();
        for (const [want, got] of api[i]!.answers) expect(got === want || (want === 413 && got === 0), `${row.agent}: answered ${got}, wanted ${want}`).toBe(true);
        expect(row.apiRejectedBodies, `${row.agent} API bodies`).toBeGreaterThanOrEqual(api[i]!.malformedBodies + api[i]!.oversizedBodies + api[i]!.wrongContentType);
        expect(row.apiAuthFailures, `${row.agent} API tokens`).toBeGreaterThanOrEqual(api[i]!.badTokens);
        expect(row.apiMalformed, `${row.agent} API not HTTP`).toBeGreaterThanOrEqual(api[i]!.notHttp);
        expect(row.apiTimeouts, `${row.agent} API slow clients`).toBeGreaterThanOrEqual(slowApi[i]!.length);
        for (const slow of slowApi[i]!) {
          expect(slow.closedMs, `${row.agent} slow API client closed`).not.toBeNull();
          expect(slow.answer).toMatch(/^HTTP\/1\.1 408 /);
        }
      });
      for (const agent of floodAgents) {
        const i = agents.indexOf(agent);
        expect(rows[i]!.streamConnectionsRefused, `${agent.address} stream connections over the limit`).toBeGreaterThanOrEqual(kFloodExtra);
        expect(rows[i]!.apiConnectionsRefused, `${agent.address} API connections over the limit`).toBeGreaterThanOrEqual(kFloodExtra);
      }
    });
  });
});
