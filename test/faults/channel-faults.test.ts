// A total-order channel under faults on real hosts (issue 18, item 5): five `galaxy
// agent` processes, each on a network namespace of its own (netns-lab.ts, the cluster
// fault scenario's setup), run one cluster of all five with a reliable total-order
// channel opened on every member. Every member sends small bursts over the API all the
// time, and a reader per agent long-polls its inbox, so each member's delivery log is
// recorded as it happens (a killed member's log is what it had delivered when it died).
// The load pauses at the end of each scenario; once every running agent is a member of
// one view of them all, no inbox grows and each is read to its end, with that view still
// installed everywhere after the reads, the (cumulative) history is checked
// (support/channel-history-of.ts reads the inboxes into member logs).
//  - SIGKILL of a member while all send; it is restarted (a new incarnation);
//  - a 3|2 partition for 8 s while all send, then the heal (the two come back as new
//    incarnations);
// and after each, the logs of every member incarnation pass src/sim/channels' checkers:
// total order, FIFO, virtual synchrony and integrity (every delivered payload is one
// that was sent, by that member, under the view and seq its send reported); a member cut
// out of the next view (a partition's minority, or a member falsely suspected on a loaded
// machine) counts as stopped in its view and must have delivered a prefix of the
// survivors' sequence. The checkers
// examined deliveries in more than one view (not vacuous), and tampered copies of the
// real logs (two deliveries swapped at one survivor, one payload changed, one delivery
// dropped at a survivor) are caught. Figures go to bench/results/channel-faults.json;
// on a failure (and for every scenario with GALAXY_CHANNEL_FAULTS_DUMP set) the raw
// logs, sends and each agent's view history go to a file in the system's temporary
// directory, named in the figures (`dump`).
//
// Needs root, `ip netns` and nftables; without them it says why and skips (with
// GALAXY_FAULTS_REQUIRED=1 it fails instead).
import { rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelReadReply, WireEntry } from '../../src/cluster/service/channel-routes.js';
import type { SendOutcome } from '../../src/cluster/service/cluster-channel-desk.js';
import type { ClusterSummary } from '../../src/cluster/service/cluster-service.js';
import { packageRoot } from '../../src/core/platform/package-root.js';
import { checkFifo, checkIntegrity, checkTotal, checkVirtualSynchrony, type CheckResult } from '../../src/sim/channels/channel-checkers.js';
import type { ChannelHistory, LogEntry } from '../../src/sim/channels/channel-history.js';
import { channelHistoryOf, staysSummary, type RecordedLife } from './support/channel-history-of.js';
import { FaultFarm, sleep, waitFor, type LabAgent } from './support/fault-farm.js';
import { Figures } from './support/figures.js';
import { labUnavailable, type NetnsLab } from './support/netns-lab.js';
import { clusterSummary, startClusterLab, waitForView } from './support/cluster-lab.js';

const kAgents = 5;
const kCluster = 'chfaults';
const kChannel = 'orders';
const kViewBoundMs = 5_000;
/** A restarted agent, or the two cut off, back in a view of all five: 60 s, twice the cluster suite's, since here every member also sends and reads all the time on a 2-vCPU machine shared with other jobs. */
const kRejoinBoundMs = 60_000;
/** Each member sends kBurst messages every kSendEveryMs: 250 msg/s over the five. */
const kBurst = 5;
const kSendEveryMs = 100;
const kDataPrefix = 'galaxy-channel-faults-';
/** How long every inbox must stay unchanged before the logs are taken as complete. */
const kQuietMs = 1_500;
const kFiguresPath = join(packageRoot(), 'bench', 'results', 'channel-faults.json');

const unavailable = labUnavailable();
const required = process.env['GALAXY_FAULTS_REQUIRED'] === '1';
if (unavailable !== null) console.warn(`\n*** SKIPPED: the channel fault suite cannot run here: ${unavailable}${required ? ' (GALAXY_FAULTS_REQUIRED=1: failing)' : ''} ***\n`);

describe.runIf(unavailable !== null && required)('channel fault suite prerequisites', () => {
  it('are met where GALAXY_FAULTS_REQUIRED=1', () => {
    expect(unavailable).toBeNull();
  });
});

/** What one agent process delivered, read as it happened: its inbox entries in order. */
interface Life {
  readonly agent: LabAgent;
  readonly pid: number;
  readonly entries: WireEntry[];
}

/** Keeps reading every running agent's inbox; a restarted agent (a new pid) starts a new life read from 0. */
class Recorder {
  readonly lives: Life[] = [];
  /** The last inbox position read, per agent address (of its current life). */
  readonly cursor = new Map<string, number>();
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(agents: readonly LabAgent[]) {
    this.loops = agents.map((agent) => this.loop(agent));
  }

  private async loop(agent: LabAgent): Promise<void> {
    let life: Life | null = null;
    let after = 0;
    while (this.running) {
      if (!agent.running) {
        await sleep(50);
        continue;
      }
      if (life === null || life.pid !== agent.pid) {
        life = { agent, pid: agent.pid, entries: [] };
        this.lives.push(life);
        after = 0;
        this.cursor.set(agent.address, 0);
      }
      try {
        const answer = await agent.api('GET', `/v1/clusters/${kCluster}/channels/${kChannel}/messages?after=${after}&waitMs=200&max=1024`, { timeoutMs: 5_000 });
        if (answer.status !== 200) {
          await sleep(50);
          continue;
        }
        const reply = JSON.parse(answer.text) as ChannelReadReply;
        if (reply.first > after + 1) throw new Error(`${agent.address} dropped inbox entries ${after + 1}..${reply.first - 1} before they were read`);
        life.entries.push(...reply.entries);
        if (reply.entries.length > 0) after = reply.entries[reply.entries.length - 1]!.at;
        this.cursor.set(agent.address, after);
      } catch (error) {
        if (error instanceof Error && error.message.includes('dropped inbox entries')) throw error;
        // The agent died under the read, or the relay timed out: the next turn sees.
        await sleep(50);
      }
    }
  }

  /**
   * Waits until no running agent's inbox grows for kQuietMs: sends that timed out at the
   * API (a member killed or cut off under them) may still be ordered and delivered after
   * the load paused, and logs read mid-stream would differ only by when they were read.
   */
  async settled(agents: readonly LabAgent[], timeoutMs: number): Promise<void> {
    let previous = '';
    let sameSinceMs = Date.now();
    await waitFor('every inbox stops growing', async () => {
      const lasts: number[] = [];
      for (const agent of agents.filter((a) => a.running)) {
        const list = await agent.get<Array<{ name: string; last: number }>>(`/v1/clusters/${kCluster}/channels`);
        lasts.push(list.find((c) => c.name === kChannel)?.last ?? 0);
      }
      const now = lasts.join();
      if (now !== previous) {
        previous = now;
        sameSinceMs = Date.now();
      }
      return Date.now() - sameSinceMs >= kQuietMs;
    }, timeoutMs, 250);
  }

  /** Waits until this recorder has read everything each running agent's inbox holds now. */
  async caughtUp(agents: readonly LabAgent[], timeoutMs: number): Promise<void> {
    for (const agent of agents.filter((a) => a.running)) {
      const list = await agent.get<Array<{ name: string; last: number }>>(`/v1/clusters/${kCluster}/channels`);
      const last = list.find((c) => c.name === kChannel)?.last ?? 0;
      await waitFor(`the recorder read ${agent.address}'s inbox up to ${last}`, () => (this.cursor.get(agent.address) ?? 0) >= last, timeoutMs, 50);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

interface Sent {
  readonly node: string;
  readonly text: string;
  readonly outcome: SendOutcome | null;
}

/** Every agent sends kBurst unique messages every kSendEveryMs while running; outcomes kept. */
class Load {
  readonly sent: Sent[] = [];
  /** While paused, nothing new is sent (a scenario's end: the logs settle). */
  paused = false;
  private running = true;
  private inFlight = 0;
  private readonly loops: Promise<void>[];

  constructor(agents: readonly LabAgent[]) {
    this.loops = agents.map((agent) => this.loop(agent, agent.id));
  }

  /** Pauses and waits for the sends in flight to have their answers. */
  async pause(): Promise<void> {
    this.paused = true;
    await waitFor('the sends in flight are answered', () => this.inFlight === 0, 20_000, 20);
  }

  private async loop(agent: LabAgent, id: string): Promise<void> {
    let counter = 0;
    while (this.running) {
      await sleep(kSendEveryMs);
      if (!agent.running || this.paused) continue;
      this.inFlight++;
      const texts = Array.from({ length: kBurst }, () => `${agent.address} #${counter++}`);
      let outcomes: (SendOutcome | null)[] = texts.map(() => null);
      try {
        const answer = await agent.api('POST', `/v1/clusters/${kCluster}/channels/${kChannel}/messages`, { body: { messages: texts.map((text) => ({ text })), timeoutMs: 4_000 }, timeoutMs: 8_000 });
        if (answer.status === 200) outcomes = (JSON.parse(answer.text) as { outcomes: SendOutcome[] }).outcomes;
      } catch {
        // Killed, cut off or slow: these may or may not be delivered; the history decides by payload.
      }
      texts.forEach((text, i) => this.sent.push({ node: id, text, outcome: outcomes[i] ?? null }));
      this.inFlight--;
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

/** The lives recorded so far, as channelHistoryOf reads them. */
function recordedLives(recorder: Recorder): RecordedLife[] {
  return recorder.lives.map((life) => ({ node: life.agent.id, entries: life.entries, ended: life.agent.pid !== life.pid || !life.agent.running }));
}

function checks(history: ChannelHistory): Record<string, CheckResult> {
  return {
    // Total order is not uniform (channel-checkers.ts): a member that stops in a view whose sequencer stops with it is not held to the survivors' order.
    total: checkTotal(history, kChannel, { sequencerCrashExempt: true }),
    fifo: checkFifo(history, kChannel),
    virtualSynchrony: checkVirtualSynchrony(history, kChannel),
    integrity: checkIntegrity(history, kChannel),
  };
}

function violations(results: Record<string, CheckResult>): string {
  return Object.entries(results)
    .filter(([, r]) => !r.ok)
    .map(([name, r]) => `${name}: ${r.violationCount} violations: ${r.violations.join('; ')}`)
    .join('\n');
}

/** The three tamperings of a real history, each one a checker must catch. */
function tamperedCopies(history: ChannelHistory): Array<{ what: string; history: ChannelHistory; checker: (h: ChannelHistory) => CheckResult }> {
  const survivorLog = (h: ChannelHistory): LogEntry[] => {
    // The member with the most deliveries that ends in a closing marker (a survivor).
    const logs = Object.values(h.logs).filter((l) => l[l.length - 1]?.kind === 'view');
    return logs.sort((a, b) => b.filter((e) => e.kind === 'deliver').length - a.filter((e) => e.kind === 'deliver').length)[0]!;
  };
  const swapped = structuredClone(history);
  const log = survivorLog(swapped);
  const first = log.findIndex((e) => e.kind === 'deliver');
  const other = log.findIndex((e, i) => i > first && e.kind === 'deliver' && (e as { sender: string }).sender !== (log[first] as { sender: string }).sender && (e as { viewId: number }).viewId === (log[first] as { viewId: number }).viewId);
  [log[first], log[other]] = [log[other]!, log[first]!];
  const changed = structuredClone(history);
  (survivorLog(changed).find((e) => e.kind === 'deliver') as { digest: number }).digest ^= 1;
  const dropped = structuredClone(history);
  const dropLog = survivorLog(dropped);
  dropLog.splice(dropLog.findIndex((e) => e.kind === 'deliver'), 1);
  return [
    { what: 'two deliveries swapped at one survivor', history: swapped, checker: (h) => checkTotal(h, kChannel) },
    { what: 'one delivered payload changed', history: changed, checker: (h) => checkIntegrity(h, kChannel) },
    { what: 'one delivery missing at one survivor', history: dropped, checker: (h) => checkVirtualSynchrony(h, kChannel) },
  ];
}

describe.runIf(unavailable === null)('a total-order channel under faults on real hosts', () => {
  const figures = new Figures();
  let lab: NetnsLab;
  let farm: FaultFarm;
  let dataRoot: string;
  let recorder: Recorder;
  let load: Load;

  async function summary(agent: LabAgent): Promise<ClusterSummary> {
    return clusterSummary(agent, kCluster);
  }

  async function viewOf(viewers: readonly LabAgent[], members: readonly LabAgent[], boundMs: number): Promise<number> {
    return waitForView(kCluster, viewers, members, boundMs);
  }

  /** The view id every running agent is a member of, when it is one view of exactly the running agents; else null. */
  async function commonView(): Promise<number | null> {
    const running = farm.agents.filter((a) => a.running);
    const want = running.map((a) => a.id).sort().join();
    let viewId: number | null = null;
    for (const agent of running) {
      const here = (await summary(agent)).here;
      if (here?.status !== 'member' || here.view === null || here.view.members.map((m) => m.nodeId).sort().join() !== want) return null;
      if (viewId !== null && here.view.viewId !== viewId) return null;
      viewId = here.view.viewId;
    }
    return viewId;
  }

  /** Waits for one view of every running agent, settled inboxes read to their end, and the same view after the reads; returns the tries. */
  async function quiesce(): Promise<number> {
    for (let tries = 1; ; tries++) {
      let before: number | null = null;
      await waitFor('every running agent is a member of one view of them all', async () => (before = await commonView()) !== null, kRejoinBoundMs, 100);
      await recorder.settled(farm.agents, 30_000);
      await recorder.caughtUp(farm.agents, 20_000);
      const after = await commonView().catch(() => null);
      if (after !== null && after === before) return tries;
      if (tries >= 5) throw new Error(`the view changed under the reads ${tries} times (view ${String(before)}, then ${String(after)})`);
    }
  }

  /**
   * Writes what the checkers read (every life's inbox entries, every send and its
   * outcome) and each agent's cluster view and status history to a file under the
   * system's temporary directory, so a failing run can be studied afterwards; returns
   * its path. Done on a failure, and for every scenario with GALAXY_CHANNEL_FAULTS_DUMP set.
   */
  async function dump(name: string, lives: readonly RecordedLife[], early: readonly RecordedLife[] | null, failed: boolean): Promise<string> {
    const clusterViews: Record<string, unknown> = {};
    for (const agent of farm.agents.filter((a) => a.running)) clusterViews[agent.id] = await agent.get(`/v1/clusters/${kCluster}/views`).catch((error: Error) => error.message);
    const path = join(tmpdir(), `galaxy-channel-faults-${name}-${failed ? 'FAILED-' : ''}${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(path, JSON.stringify({ scenario: name, failed, loadAverage: loadavg(), lives, early, sent: load.sent, clusterViews }));
    return path;
  }

  /** Runs the fault under load, then checks every member's log; the channel must be known at every member first. */
  async function scenario(name: string, fault: (out: Record<string, unknown>) => Promise<void>): Promise<void> {
    const out = figures.scenario(name);
    try {
      load.paused = false;
      await sleep(1_500);
      await fault(out);
      await sleep(1_500);
      await load.pause();
      // Every reliable message sent is delivered at every member of its view: wait until
      // every running agent is a member of one view of all of them, nothing more arrives
      // anywhere, and each inbox is read to its end; then the same view must still be
      // installed everywhere (else a view change ran under the reads: again). Logs taken
      // with a member cut out at the end, or mid-change, would judge a view that member
      // never passed out of (the failure at load ~160 last session).
      // Diagnostics (GALAXY_CHANNEL_FAULTS_DUMP set): also keep the logs as they were read
      // before this wait for one view (settled and caught up only, the old reading).
      let early: RecordedLife[] | null = null;
      if (process.env['GALAXY_CHANNEL_FAULTS_DUMP'] !== undefined) {
        await recorder.settled(farm.agents, 30_000);
        await recorder.caughtUp(farm.agents, 20_000);
        early = recordedLives(recorder).map((life) => ({ ...life, entries: life.entries.slice() }));
      }
      try {
        out['endViewTries'] = await quiesce();
      } catch (error) {
        // No settled view to judge (the cluster kept changing views): keep the logs as they are for study.
        out['dump'] = await dump(name, recordedLives(recorder), early, true);
        throw error;
      }
      // The history is cumulative: this scenario's logs follow the earlier ones'.
      const lives = recordedLives(recorder);
      const { history, deliveries, views } = channelHistoryOf(kChannel, lives, load.sent);
      const results = checks(history);
      out['sent'] = load.sent.length;
      out['sendsOk'] = load.sent.filter((s) => s.outcome?.ok === true).length;
      out['deliveries'] = deliveries;
      out['members'] = Object.keys(history.logs).length;
      out['views'] = [...views].sort((a, b) => a - b);
      out['checked'] = Object.fromEntries(Object.entries(results).map(([k, r]) => [k, r.checked]));
      const failed = violations(results) !== '';
      if (failed) out['logs'] = staysSummary(history);
      if (failed || process.env['GALAXY_CHANNEL_FAULTS_DUMP'] !== undefined) out['dump'] = await dump(name, lives, early, failed);
      expect(violations(results)).toBe('');
      // Not vacuous: deliveries at every member in several views, and every tampering caught.
      expect(views.size).toBeGreaterThan(1);
      expect(results['integrity']!.checked).toBe(deliveries);
      expect(deliveries).toBeGreaterThan(500);
      for (const t of tamperedCopies(history)) expect(t.checker(t.history).ok, t.what).toBe(false);
      figures.held(name);
    } catch (error) {
      figures.failed(name, error);
      throw error;
    }
  }

  beforeAll(async () => {
    const started = await startClusterLab(kDataPrefix, kAgents, kCluster, kRejoinBoundMs);
    ({ lab, farm, dataRoot } = started);
    const formedMs = started.formedMs;
    for (const agent of farm.agents) {
      const opened = await agent.api('POST', `/v1/clusters/${kCluster}/channels`, { body: { name: kChannel, ordering: 'total', reliability: 'reliable' } });
      expect(opened.status, opened.text).toBe(201);
    }
    recorder = new Recorder(farm.agents);
    load = new Load(farm.agents);
    load.paused = true;
    figures.setFarm({ agents: kAgents, preset: 'local', cluster: kCluster, channel: kChannel, ordering: 'total', formedMs, sendRateMessagesPerSecond: (kAgents * kBurst * 1000) / kSendEveryMs });
  }, 180_000);

  afterAll(async () => {
    await load?.stop();
    await recorder?.stop();
    farm?.close();
    lab?.teardown();
    figures.write(kFiguresPath);
    if (dataRoot !== undefined) rmSync(dataRoot, { recursive: true, force: true });
  });

  it('SIGKILL of a member while all send: every member log passes total, FIFO, virtual synchrony and integrity', async () => {
    await scenario('sigkill', async (out) => {
      const victim = farm.agents[4]!;
      const survivors = farm.agents.filter((a) => a !== victim);
      await victim.kill();
      out['newViewMs'] = await viewOf(survivors, survivors, kViewBoundMs);
      await victim.start();
      out['rejoinMs'] = await viewOf(farm.agents, farm.agents, kRejoinBoundMs);
    });
  }, 180_000);

  it('a 3|2 partition for 8 s while all send: every member log passes the same checkers', async () => {
    await scenario('partition-3-2', async (out) => {
      const major = farm.agents.slice(0, 3);
      const minor = farm.agents.slice(3);
      const cutAt = Date.now();
      lab.partition(major.map((a) => a.host), minor.map((a) => a.host));
      try {
        out['majorityViewMs'] = await viewOf(major, major, kViewBoundMs);
        await sleep(Math.max(0, cutAt + 8_000 - Date.now()));
        out['packetsDropped'] = lab.faultCounters().dropped;
      } finally {
        lab.heal();
      }
      out['healMs'] = await viewOf(farm.agents, farm.agents, kRejoinBoundMs);
    });
  }, 180_000);
});
