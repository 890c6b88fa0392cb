import { isNewer, StoredEntry, type EntryView, type FmidbValue, type FmidbWrite } from './entry.js';
import type { ReplicaStore } from './replica-store.js';

/** Called when the value read for (subject, key) changes: the newest entry before and after. */
export type WinnerListener = (subject: string, key: string, before: StoredEntry | undefined, after: StoredEntry | undefined) => void;

/** One origin's entries: the newest per (subject, key), in version order, with replaced ones dropped lazily. */
class OriginLog {
  readonly entries: StoredEntry[] = [];
  readonly byKey = new Map<string, StoredEntry>();
}

/** Compaction drops replaced entries once they outnumber the live ones by this much. */
const kCompactSlack = 32;

/**
 * The replica's values: per origin, the newest entry of each (subject, key) it wrote,
 * in version order (what deltas are cut from); per subject, each key's entries from
 * every origin that wrote it (usually one), read by last writer wins.
 *
 * It also keeps an order-independent hash of every live entry (two 32-bit lanes
 * summed), updated as entries come and go, for the replica's digestHash().
 */
export class EntryStore implements ReplicaStore {
  readonly keepsValues = true;
  private readonly logs: (OriginLog | undefined)[] = [];
  private readonly subjects = new Map<string, Map<string, StoredEntry[]>>();
  private readonly listener: WinnerListener;
  private hashA = 0;
  private hashB = 0;

  constructor(listener: WinnerListener) {
    this.listener = listener;
  }

  write(origin: number, originId: string, version: number, writes: readonly FmidbWrite[]): void {
    for (const w of writes) this.put(new StoredEntry(w.subject, w.key, w.value, version, origin, originId, true));
  }

  apply(origin: number, originId: string, entries: readonly EntryView[]): void {
    for (const e of entries) this.put(new StoredEntry(e.subject, e.key, e.value, e.version, origin, originId, false));
  }

  merge(origin: number, originId: string, entries: readonly EntryView[]): number {
    let n = 0;
    for (const e of entries) {
      const old = this.logs[origin]?.byKey.get(e.subject + '\u0000' + e.key);
      if (old !== undefined && old.version >= e.version) continue;
      this.put(new StoredEntry(e.subject, e.key, e.value, e.version, origin, originId, false));
      n++;
    }
    return n;
  }

  collect(origin: number, base: number, upTo: number, out: EntryView[]): void {
    const log = this.logs[origin];
    if (log === undefined) return;
    const entries = log.entries;
    for (let i = firstAbove(entries, base); i < entries.length; i++) {
      const e = entries[i]!;
      if (e.version > upTo) break;
      if (!e.dead) out.push(e);
    }
  }

  estimate(origin: number, base: number): number {
    const log = this.logs[origin];
    return log === undefined ? 0 : log.entries.length - firstAbove(log.entries, base);
  }

  /** The value read for (subject, key): the newest entry over all origins, or undefined. */
  winner(subject: string, key: string): StoredEntry | undefined {
    const candidates = this.subjects.get(subject)?.get(key);
    return candidates === undefined ? undefined : newest(candidates);
  }

  /** The subject's keys with their entries from every origin, or undefined. */
  keysOf(subject: string): ReadonlyMap<string, readonly StoredEntry[]> | undefined {
    return this.subjects.get(subject);
  }

  /** Keys the subject has (deleted ones included: their null entries remain). */
  keyCount(subject: string): number {
    return this.subjects.get(subject)?.size ?? 0;
  }

  subjectIds(): IterableIterator<string> {
    return this.subjects.keys();
  }

  /** Live entries of an origin. */
  liveCount(origin: number): number {
    return this.logs[origin]?.byKey.size ?? 0;
  }

  /** The origin's entries written by this replica since it started, up to `version`. */
  ownedUpTo(origin: number, version: number): FmidbWrite[] {
    const out: FmidbWrite[] = [];
    const log = this.logs[origin];
    if (log === undefined) return out;
    for (const e of log.byKey.values()) {
      if (e.owned && e.version <= version) out.push({ subject: e.subject, key: e.key, value: e.value });
    }
    return out;
  }

  /** Removes every entry about a subject (a reaped node), without telling the listener. */
  dropSubject(subject: string): void {
    const keys = this.subjects.get(subject);
    if (keys === undefined) return;
    for (const candidates of keys.values()) {
      for (const e of candidates) this.unlink(e);
    }
    this.subjects.delete(subject);
  }

  /** Removes an origin that holds no live entries. */
  dropOrigin(origin: number): void {
    const log = this.logs[origin];
    if (log !== undefined && log.byKey.size > 0) throw new Error(`dropOrigin(${origin}): the origin still holds ${log.byKey.size} entries`);
    this.logs[origin] = undefined;
  }

  /** The content hash: 16 hex digits, equal on replicas that hold the same entries. */
  contentHash(): string {
    return (this.hashA >>> 0).toString(16).padStart(8, '0') + (this.hashB >>> 0).toString(16).padStart(8, '0');
  }

  private put(e: StoredEntry): void {
    let log = this.logs[e.origin];
    if (log === undefined) {
      log = new OriginLog();
      this.logs[e.origin] = log;
    }
    let keys = this.subjects.get(e.subject);
    if (keys === undefined) {
      keys = new Map();
      this.subjects.set(e.subject, keys);
    }
    let candidates = keys.get(e.key);
    if (candidates === undefined) {
      candidates = [];
      keys.set(e.key, candidates);
    }
    const before = newest(candidates);
    const slot = e.subject + '\u0000' + e.key;
    const old = log.byKey.get(slot);
    if (old !== undefined) {
      old.dead = true;
      this.hash(old, -1);
      candidates.splice(candidates.indexOf(old), 1);
    }
    log.byKey.set(slot, e);
    const tail = log.entries.length === 0 ? undefined : log.entries[log.entries.length - 1]!;
    if (tail === undefined || tail.version <= e.version) log.entries.push(e);
    else log.entries.splice(firstAbove(log.entries, e.version), 0, e); // merge(): an older entry keeps the log in version order
    candidates.push(e);
    this.hash(e, 1);
    if (log.entries.length > 2 * log.byKey.size + kCompactSlack) compact(log);
    const after = newest(candidates);
    if (after !== before) this.listener(e.subject, e.key, before, after);
  }

  private unlink(e: StoredEntry): void {
    const log = this.logs[e.origin];
    if (log === undefined) return;
    const slot = e.subject + '\u0000' + e.key;
    if (log.byKey.get(slot) !== e) return;
    log.byKey.delete(slot);
    e.dead = true;
    this.hash(e, -1);
    if (log.entries.length > 2 * log.byKey.size + kCompactSlack) compact(log);
  }

  private hash(e: StoredEntry, sign: 1 | -1): void {
    const text = `${e.subject}\u0000${e.key}\u0000${valueText(e.value)}\u0000${e.version}\u0000${e.originId}`;
    this.hashA = (this.hashA + sign * fnv(text, 0x811c9dc5)) | 0;
    this.hashB = (this.hashB + sign * fnv(text, 0x01000193)) | 0;
  }
}

/** The newest of a key's entries from several origins. */
function newest(candidates: readonly StoredEntry[]): StoredEntry | undefined {
  let best: StoredEntry | undefined;
  for (const c of candidates) if (best === undefined || isNewer(c.version, c.originId, best.version, best.originId)) best = c;
  return best;
}

function compact(log: OriginLog): void {
  let j = 0;
  const entries = log.entries;
  for (let i = 0; i < entries.length; i++) if (!entries[i]!.dead) entries[j++] = entries[i]!;
  entries.length = j;
}

/** The first index whose version exceeds v (versions never decrease along a log). */
function firstAbove(entries: readonly StoredEntry[], v: number): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entries[mid]!.version > v) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function valueText(value: FmidbValue): string {
  return value === null ? 'n' : typeof value === 'string' ? `s${value}` : `d${value}`;
}

function fnv(text: string, basis: number): number {
  let h = basis;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return (h ^ (h >>> 12)) >>> 0;
}
