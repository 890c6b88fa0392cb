import type { ClusterHistory, HistoryEvent, MemberHistory } from './cluster-history.js';

/** What the checkers read of a history (a ClusterHistory). */
export type ClusterHistoryLike = Pick<ClusterHistory, 'ofCluster'>;

/**
 * The properties of the cluster service, each checked over recorded histories. Every
 * checker returns the violations it found (empty when the property held), described in
 * one line each, at most violationsMax of them. Each has a deliberately broken protocol
 * variant that it catches in test/cluster-broken.test.ts.
 */
export interface CheckResult {
  readonly property: string;
  readonly violations: readonly string[];
}

const kViolationsMax = 10;

type Install = Extract<HistoryEvent, { kind: 'install' }>;
type Delivery = Extract<HistoryEvent, { kind: 'deliver' }>;

function memberList(install: Install): string {
  return install.members.map((m) => `${m.nodeId}#${m.incarnation}`).join(',');
}

function installsOf(m: MemberHistory): Install[] {
  return m.events.filter((e): e is Install => e.kind === 'install');
}

class Violations {
  readonly list: string[] = [];
  add(text: string): void {
    if (this.list.length < kViolationsMax) this.list.push(text);
  }
  result(property: string): CheckResult {
    return { property, violations: this.list };
  }
}

/**
 * View agreement: every member that installs view v installs the same member list.
 * Since this core installs only primary views, this is also primary uniqueness: at most
 * one primary view per id, cluster-wide.
 */
export function checkViewAgreement(history: ClusterHistoryLike, cluster: string): CheckResult {
  const v = new Violations();
  const seen = new Map<number, { list: string; by: string }>();
  for (const m of history.ofCluster(cluster)) {
    for (const install of installsOf(m)) {
      const list = memberList(install);
      const first = seen.get(install.viewId);
      if (first === undefined) seen.set(install.viewId, { list, by: m.key });
      else if (first.list !== list) v.add(`view ${install.viewId}: ${first.by} installed [${first.list}] but ${m.key} installed [${list}]`);
    }
  }
  return v.result('view agreement (one primary view per id)');
}

/**
 * Views are installed in increasing order, a member is in every view it installs, and
 * there are no gaps among members that stay: when a member goes from view v to view
 * w > v + 1, it must be missing from at least one view between them that anyone
 * installed (it was left out, then came back as a joiner). A member listed in every view
 * from v to w that skipped one of them is a gap.
 */
export function checkMonotonicViews(history: ClusterHistoryLike, cluster: string): CheckResult {
  const v = new Violations();
  const listOf = new Map<number, Install>();
  for (const m of history.ofCluster(cluster)) for (const i of installsOf(m)) if (!listOf.has(i.viewId)) listOf.set(i.viewId, i);
  for (const m of history.ofCluster(cluster)) {
    const installs = installsOf(m);
    const isIn = (u: number): boolean => listOf.get(u)?.members.some((x) => x.nodeId === m.nodeId && x.incarnation === m.incarnation) ?? false;
    for (let k = 0; k < installs.length; k++) {
      const i = installs[k]!;
      if (!i.members.some((x) => x.nodeId === m.nodeId && x.incarnation === m.incarnation)) v.add(`${m.key} installed view ${i.viewId} without being in it`);
      if (k === 0) continue;
      const previous = installs[k - 1]!.viewId;
      if (i.viewId <= previous) {
        v.add(`${m.key} installed view ${i.viewId} after view ${previous}`);
        continue;
      }
      if (i.viewId === previous + 1) continue;
      let stayed = true;
      for (let u = previous + 1; u < i.viewId && stayed; u++) if (listOf.has(u) && !isIn(u)) stayed = false;
      if (stayed) v.add(`${m.key} went from view ${previous} to ${i.viewId} but is a member of every view between, and installed none`);
    }
  }
  return v.result('monotonic views without gaps');
}

/** The deliveries of each view a member installed, keyed by view id. */
function deliveriesByView(m: MemberHistory): Map<number, Delivery[]> {
  const out = new Map<number, Delivery[]>();
  for (const e of m.events) {
    if (e.kind !== 'deliver') continue;
    let list = out.get(e.viewId);
    if (list === undefined) {
      list = [];
      out.set(e.viewId, list);
    }
    list.push(e);
  }
  return out;
}

/**
 * Virtual synchrony: members that pass together from view v to view v + 1 have
 * delivered the same set of messages in v. A member still in v (no next view yet) is
 * not judged for v, nor is one that was left out of v + 1 and came back later as a
 * joiner (from v to v + k): like a process Isis excluded, it was not part of v's flush.
 */
export function checkVirtualSynchrony(history: ClusterHistoryLike, cluster: string): CheckResult {
  const v = new Violations();
  // (v, next) → member key → sorted delivered set in v.
  const groups = new Map<string, Map<string, string>>();
  for (const m of history.ofCluster(cluster)) {
    const installs = installsOf(m);
    const deliveries = deliveriesByView(m);
    for (let k = 0; k + 1 < installs.length; k++) {
      const from = installs[k]!.viewId;
      const to = installs[k + 1]!.viewId;
      if (to !== from + 1) continue;
      const set = (deliveries.get(from) ?? []).map((d) => `${d.sender}:${d.seq}`).sort().join(' ');
      const key = `${from}->${to}`;
      let group = groups.get(key);
      if (group === undefined) {
        group = new Map();
        groups.set(key, group);
      }
      group.set(m.key, set);
    }
  }
  for (const [key, group] of groups) {
    const entries = [...group.entries()];
    for (let i = 1; i < entries.length; i++) {
      if (entries[i]![1] !== entries[0]![1]) {
        v.add(`${key}: ${entries[0]![0]} delivered {${entries[0]![1]}} but ${entries[i]![0]} delivered {${entries[i]![1]}}`);
      }
    }
  }
  return v.result('virtual synchrony (same set delivered by members passing together)');
}

/** Every delivery is of a message its sender sent in the view it is delivered in (same seq, same payload). */
export function checkDeliveredInSentView(history: ClusterHistoryLike, cluster: string): CheckResult {
  const v = new Violations();
  const sent = new Map<string, string>();
  for (const m of history.ofCluster(cluster)) {
    for (const e of m.events) if (e.kind === 'send') sent.set(`${m.nodeId}|${e.payload}`, `${e.viewId}:${e.seq}`);
  }
  for (const m of history.ofCluster(cluster)) {
    for (const e of m.events) {
      if (e.kind !== 'deliver') continue;
      const where = sent.get(`${e.sender}|${e.payload}`);
      if (where === undefined) v.add(`${m.key} delivered "${e.payload}" from ${e.sender}, which it never sent`);
      else if (where !== `${e.viewId}:${e.seq}`) v.add(`${m.key} delivered "${e.payload}" as ${e.viewId}:${e.seq}, but it was sent as ${where}`);
    }
  }
  return v.result('delivered in the view it was sent in');
}

/** No member delivers one message twice (per view, sender and sequence number). */
export function checkNoDuplicates(history: ClusterHistoryLike, cluster: string): CheckResult {
  const v = new Violations();
  for (const m of history.ofCluster(cluster)) {
    const seen = new Set<string>();
    for (const e of m.events) {
      if (e.kind !== 'deliver') continue;
      const key = `${e.viewId}/${e.sender}/${e.seq}`;
      if (seen.has(key)) v.add(`${m.key} delivered ${key} twice`);
      seen.add(key);
    }
  }
  return v.result('no duplicate delivery');
}

/** FIFO per sender: in each view a member delivers each sender's messages as 1, 2, 3, … with no gap or reordering. */
export function checkFifo(history: ClusterHistoryLike, cluster: string): CheckResult {
  const v = new Violations();
  for (const m of history.ofCluster(cluster)) {
    const last = new Map<string, number>();
    for (const e of m.events) {
      if (e.kind !== 'deliver') continue;
      const key = `${e.viewId}/${e.sender}`;
      const previous = last.get(key) ?? 0;
      if (e.seq !== previous + 1) v.add(`${m.key} delivered ${key}/${e.seq} after ${key}/${previous}`);
      last.set(key, Math.max(previous, e.seq));
    }
  }
  return v.result('FIFO per sender');
}

/**
 * The flush orders events: every delivery of view v comes before the member installs
 * its next view, and viewEnding(v) comes after the last of them, right before that install.
 */
export function checkFlushOrder(history: ClusterHistoryLike, cluster: string): CheckResult {
  const v = new Violations();
  for (const m of history.ofCluster(cluster)) {
    let current = -1;
    let ended = -1;
    for (const e of m.events) {
      if (e.kind === 'install') {
        current = e.viewId;
        ended = -1;
      } else if (e.kind === 'ending') {
        if (e.viewId !== current) v.add(`${m.key} ended view ${e.viewId} while in view ${current}`);
        ended = e.viewId;
      } else if (e.kind === 'deliver') {
        if (e.viewId !== current) v.add(`${m.key} delivered a message of view ${e.viewId} while in view ${current}`);
        else if (ended === current) v.add(`${m.key} delivered a message of view ${e.viewId} after viewEnding`);
      }
    }
  }
  return v.result('flush order (deliveries of v before viewEnding(v) and the next view)');
}

/**
 * The primary-component rule, from the minority's side: the given members (the smaller
 * side of a partition that began at sinceMs and has not healed) install no view after
 * sinceMs. Agreement already forbids two different views with one id; this catches a
 * minority that goes on with views of its own.
 */
export function checkMinorityStops(history: ClusterHistoryLike, cluster: string, minority: readonly string[], sinceMs: number): CheckResult {
  const v = new Violations();
  for (const m of history.ofCluster(cluster)) {
    if (!minority.includes(m.nodeId)) continue;
    for (const e of m.events) if (e.kind === 'install' && e.atMs > sinceMs) v.add(`${m.key} installed view ${e.viewId} in the minority at ${e.atMs.toFixed(1)} ms`);
  }
  return v.result('primary component (a minority installs no view)');
}

/**
 * Views settle once the faults are over: after sinceMs, with nothing failing any more,
 * the cluster installs at most viewsMax new views (the heal's merge, say). It catches a
 * member admitted and evicted in a loop (issue 17: farm evidence against a node that
 * never crashed, kept across its re-admissions), which liveness alone can miss when
 * the loop happens to pass through the expected view.
 */
export function checkViewsSettle(history: ClusterHistoryLike, cluster: string, sinceMs: number, viewsMax: number): CheckResult {
  const v = new Violations();
  const ids = new Set<number>();
  for (const m of history.ofCluster(cluster)) for (const e of m.events) if (e.kind === 'install' && e.atMs > sinceMs) ids.add(e.viewId);
  if (ids.size > viewsMax) v.add(`${ids.size} views (${[...ids].sort((a, b) => a - b).join(',')}) installed after ${sinceMs.toFixed(1)} ms, at most ${viewsMax} expected`);
  return v.result('views settle after the faults');
}

/** Every safety checker, in one call. */
export function checkSafety(history: ClusterHistoryLike, cluster: string): CheckResult[] {
  return [
    checkViewAgreement(history, cluster),
    checkMonotonicViews(history, cluster),
    checkVirtualSynchrony(history, cluster),
    checkDeliveredInSentView(history, cluster),
    checkNoDuplicates(history, cluster),
    checkFifo(history, cluster),
    checkFlushOrder(history, cluster),
  ];
}

/** The violations of a set of results as one text, or '' when all held. */
export function describeViolations(results: readonly CheckResult[]): string {
  return results
    .filter((r) => r.violations.length > 0)
    .map((r) => `${r.property}: ${r.violations.join('; ')}`)
    .join('\n');
}
