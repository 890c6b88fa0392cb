import { messageId, type ChannelHistory, type LogEntry, type SendRecord } from './channel-history.js';

/**
 * Checkers over a recorded ChannelHistory (see channel-history.ts), one per guarantee.
 * They read only the history, so the same checkers judge the reference VS model and the
 * real cluster core. Each returns every violation counted and the first few described.
 */
export interface CheckResult {
  ok: boolean;
  /** What was examined (deliveries, views), so a vacuous pass shows. */
  checked: number;
  violationCount: number;
  violations: string[];
}

const kViolationsShownMax = 10;

class Findings {
  checked = 0;
  violationCount = 0;
  readonly violations: string[] = [];

  fail(why: string): void {
    this.violationCount++;
    if (this.violations.length < kViolationsShownMax) this.violations.push(why);
  }

  result(): CheckResult {
    return { ok: this.violationCount === 0, checked: this.checked, violationCount: this.violationCount, violations: this.violations };
  }
}

type Delivery = Extract<LogEntry, { kind: 'deliver' }>;

/** One member's stay in one view: what it delivered there, and the view it passed into (null: it stopped or the log ends). */
interface Stay {
  member: string;
  viewId: number;
  members: string[];
  deliveries: Delivery[];
  nextViewId: number | null;
}

/** Cuts every member's log into stays, keeping the deliveries of `channel` only. */
function staysOf(history: ChannelHistory, channel: string): Map<number, Stay[]> {
  const byView = new Map<number, Stay[]>();
  for (const [member, log] of Object.entries(history.logs)) {
    let stay: Stay | null = null;
    for (const entry of log) {
      if (entry.kind === 'view') {
        if (stay !== null) stay.nextViewId = entry.viewId;
        stay = { member, viewId: entry.viewId, members: entry.members, deliveries: [], nextViewId: null };
        const list = byView.get(entry.viewId) ?? [];
        list.push(stay);
        byView.set(entry.viewId, list);
      } else if (entry.kind === 'deliver' && entry.channel === channel && stay !== null) stay.deliveries.push(entry);
      else if (entry.kind === 'stop') stay = null;
    }
  }
  return byView;
}

const idOf = (d: Delivery): string => messageId(d.channel, d.sender, d.viewId, d.seq);

/**
 * Integrity: every delivery is of a message that was sent, with the same size and
 * digest (fragmentation and reassembly lost nothing), and no member delivers a message
 * twice.
 */
export function checkIntegrity(history: ChannelHistory, channel: string): CheckResult {
  const findings = new Findings();
  const sends = new Map<string, SendRecord>();
  for (const send of history.sends) if (send.channel === channel) sends.set(messageId(send.channel, send.sender, send.viewId, send.seq), send);
  for (const [member, log] of Object.entries(history.logs)) {
    const seen = new Set<string>();
    for (const entry of log) {
      if (entry.kind !== 'deliver' || entry.channel !== channel) continue;
      findings.checked++;
      const id = idOf(entry);
      const send = sends.get(id);
      if (send === undefined) findings.fail(`${member} delivered ${id}, which was never sent`);
      else if (send.bytes !== entry.bytes || send.digest !== entry.digest) findings.fail(`${member} delivered ${id} with ${entry.bytes} bytes (digest ${entry.digest}), sent ${send.bytes} (digest ${send.digest})`);
      if (seen.has(id)) findings.fail(`${member} delivered ${id} twice`);
      seen.add(id);
    }
  }
  return findings.result();
}

/**
 * FIFO: at every member, each sender's messages of a view are delivered in increasing
 * seq; without gaps (seq 1, 2, 3, …) unless gapsAllowed (unreliable channels, which may
 * lose messages but never reorder them).
 */
export function checkFifo(history: ChannelHistory, channel: string, options: { gapsAllowed?: boolean } = {}): CheckResult {
  const findings = new Findings();
  for (const [member, log] of Object.entries(history.logs)) {
    const last = new Map<string, number>();
    for (const entry of log) {
      if (entry.kind !== 'deliver' || entry.channel !== channel) continue;
      findings.checked++;
      const key = `${entry.viewId}|${entry.sender}`;
      const previous = last.get(key) ?? 0;
      if (entry.seq <= previous) findings.fail(`${member} delivered ${entry.sender}'s seq ${entry.seq} of view ${entry.viewId} after seq ${previous}`);
      else if (options.gapsAllowed !== true && entry.seq !== previous + 1) findings.fail(`${member} delivered ${entry.sender}'s seq ${entry.seq} of view ${entry.viewId} after seq ${previous}: a gap`);
      last.set(key, Math.max(previous, entry.seq));
    }
  }
  return findings.result();
}

/**
 * Causal: a member delivers a message only after every message in its causal past (its
 * send record's deps) — for each [sender, seq] dependency, that member has delivered
 * sender's messages of the view up to seq. FIFO is checked apart (checkFifo).
 */
export function checkCausal(history: ChannelHistory, channel: string): CheckResult {
  const findings = new Findings();
  const deps = new Map<string, [string, number][]>();
  for (const send of history.sends) if (send.channel === channel) deps.set(messageId(send.channel, send.sender, send.viewId, send.seq), send.deps);
  for (const [member, log] of Object.entries(history.logs)) {
    const highest = new Map<string, number>();
    for (const entry of log) {
      if (entry.kind !== 'deliver' || entry.channel !== channel) continue;
      findings.checked++;
      for (const [sender, seq] of deps.get(idOf(entry)) ?? []) {
        if (sender === entry.sender && seq >= entry.seq) continue; // the message itself
        const have = highest.get(`${entry.viewId}|${sender}`) ?? 0;
        if (have < seq) findings.fail(`${member} delivered ${idOf(entry)} having delivered ${sender} only to seq ${have} of view ${entry.viewId}; it depends on seq ${seq}`);
      }
      const key = `${entry.viewId}|${entry.sender}`;
      highest.set(key, Math.max(highest.get(key) ?? 0, entry.seq));
    }
  }
  return findings.result();
}

export interface TotalOptions {
  /**
   * When true (total order), a member that stops in a view whose first member (the
   * sequencer) also stops is not held to the survivors' order: a non-uniform total order
   * only binds members that stay. Safe order holds every member (false).
   */
  sequencerCrashExempt?: boolean;
}

/**
 * Total order: in every view, the members passing out of it delivered the same
 * sequence there; a member that stopped in it delivered a prefix of that sequence.
 */
export function checkTotal(history: ChannelHistory, channel: string, options: TotalOptions = {}): CheckResult {
  const findings = new Findings();
  for (const [viewId, stays] of staysOf(history, channel)) {
    findings.checked++;
    const survivors = stays.filter((s) => s.nextViewId !== null);
    if (survivors.length === 0) continue;
    const reference = survivors[0]!.deliveries.map(idOf);
    for (const stay of survivors.slice(1)) {
      const sequence = stay.deliveries.map(idOf);
      const at = firstDifference(reference, sequence);
      if (at >= 0 || sequence.length !== reference.length) {
        const index = at >= 0 ? at : Math.min(sequence.length, reference.length);
        findings.fail(`view ${viewId}: ${survivors[0]!.member} and ${stay.member} differ at delivery ${index} of ${reference.length} / ${sequence.length} (${reference[index] ?? 'end'} vs ${sequence[index] ?? 'end'})`);
      }
    }
    const sequencerStopped = stays.some((s) => s.member === s.members[0] && s.nextViewId === null);
    if (options.sequencerCrashExempt === true && sequencerStopped) continue;
    for (const stay of stays.filter((s) => s.nextViewId === null)) {
      const sequence = stay.deliveries.map(idOf);
      const at = firstDifference(reference, sequence);
      if (at >= 0 || sequence.length > reference.length) findings.fail(`view ${viewId}: ${stay.member}, which stopped, delivered ${sequence[at] ?? sequence[reference.length]} at ${at >= 0 ? at : reference.length}, not a prefix of ${survivors[0]!.member}'s sequence`);
    }
  }
  return findings.result();
}

/** The first index where both sequences have an element and differ, or -1. */
function firstDifference(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
}

/**
 * Safe: nothing is delivered in a view that a member passing out of the view lacks:
 * everything any member (a stopped one included) delivered in view v, every survivor of
 * v delivered in v. Combine with checkTotal (without the exemption) for the order.
 */
export function checkSafe(history: ChannelHistory, channel: string): CheckResult {
  const findings = new Findings();
  for (const [viewId, stays] of staysOf(history, channel)) {
    const survivors = stays.filter((s) => s.nextViewId !== null);
    const held = survivors.map((s) => ({ member: s.member, ids: new Set(s.deliveries.map(idOf)) }));
    for (const stay of stays) {
      for (const delivery of stay.deliveries) {
        findings.checked++;
        for (const survivor of held) {
          if (!survivor.ids.has(idOf(delivery))) findings.fail(`view ${viewId}: ${stay.member} delivered ${idOf(delivery)}, which survivor ${survivor.member} never delivered`);
        }
      }
    }
  }
  return findings.result();
}

/**
 * Virtual synchrony: every message is delivered in the view it was sent in (between
 * that view's installation and the next), and members passing together from view v to
 * the same next view delivered the same set of messages in v. The second part is skipped
 * for unreliable channels, which may lose messages at some members.
 */
export function checkVirtualSynchrony(history: ChannelHistory, channel: string): CheckResult {
  const findings = new Findings();
  for (const [viewId, stays] of staysOf(history, channel)) {
    for (const stay of stays) {
      for (const delivery of stay.deliveries) {
        findings.checked++;
        if (delivery.viewId !== viewId) findings.fail(`${stay.member} delivered ${idOf(delivery)}, sent in view ${delivery.viewId}, during view ${viewId}`);
      }
    }
    if (history.channels[channel]?.reliability !== 'reliable') continue;
    const byNext = new Map<number, Stay[]>();
    for (const stay of stays) if (stay.nextViewId !== null) byNext.set(stay.nextViewId, [...(byNext.get(stay.nextViewId) ?? []), stay]);
    for (const [nextViewId, together] of byNext) {
      const reference = new Set(together[0]!.deliveries.map(idOf));
      for (const stay of together.slice(1)) {
        const set = new Set(stay.deliveries.map(idOf));
        const missing = [...reference].filter((id) => !set.has(id));
        const extra = [...set].filter((id) => !reference.has(id));
        if (missing.length > 0 || extra.length > 0) {
          findings.fail(`view ${viewId} → ${nextViewId}: ${together[0]!.member} and ${stay.member} passed together with different sets (${stay.member} lacks ${missing.slice(0, 3).join(', ') || 'nothing'}, has extra ${extra.slice(0, 3).join(', ') || 'nothing'})`);
        }
      }
    }
  }
  return findings.result();
}
