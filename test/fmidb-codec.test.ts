// Proves the FMIDB wire codec: a DELTA written group by group parses back to the same
// groups and entries (every value kind: doubles, integers up to 2^52 and beyond, strings
// in any script, null; subjects other than the origin; ids only where sent; versions
// above and below the message base); and that nothing a peer sends can make receive()
// throw: random corruptions of real DIGEST, REQUEST and DELTA messages, re-sealed with a
// valid checksum so that they reach the parsers (fast-check, seeded), random bytes, and
// arguments of the wrong type are all counted as malformed and dropped, after which the
// replica still converges with a well-behaved peer.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { beginDelta, encodeGroupBody, endDelta, parseDelta, readEntries, writeGroupHead, type DeltaGroup } from '../src/core/fmidb/delta-codec.js';
import type { EntryView } from '../src/core/fmidb/entry.js';
import { fingerprintOf } from '../src/core/fmidb/fingerprint.js';
import { FmidbMemory } from '../src/core/fmidb/fmidb-memory.js';
import { createFmidbRuntime } from '../src/core/kernels/fmidb-runtime.js';
import { FmidbReplica } from '../src/core/fmidb/fmidb-replica.js';
import { Utf8Cache } from '../src/core/fmidb/utf8-cache.js';
import * as W from '../src/core/fmidb/wire-format.js';
import { MemoryViews } from '../src/core/runtime/memory-views.js';
import { Prng } from '../src/core/util/prng.js';
import { checksum } from '../src/core/wire/checksum.js';

const config = { originsMax: 64, streamFrameBytesMax: 8192, gossipIntervalMs: 100, announceBatchMin: 1, syncIntervalMs: 500 };
const memory = new FmidbMemory(createFmidbRuntime(config, 4), config);

interface Group {
  origin: string;
  withId: boolean;
  version: number;
  from: number;
  entries: EntryView[];
}

function encode(groups: readonly Group[]): Uint8Array {
  const w = memory.writer;
  const utf8 = new Utf8Cache(64);
  w.begin(W.kTypeDelta, 0, 8192);
  const base = groups[0]!.version;
  beginDelta(w, base);
  for (const g of groups) {
    writeGroupHead(w, base, fingerprintOf(g.origin), g.origin, g.withId, g.version, g.from, utf8);
    w.bytes(encodeGroupBody(g.entries, 0, g.entries.length, g.origin, g.version, utf8));
  }
  endDelta(w, groups.length);
  return w.finish().slice();
}

/** Seals a (modified) message with a valid checksum so that it reaches the parsers. */
function seal(bytes: Uint8Array): Uint8Array {
  if (bytes.length < W.kMessageHeaderBytes) return bytes.slice();
  const padded = new Uint8Array(Math.ceil(bytes.length / 8) * 8); // typed views need whole elements
  padded.set(bytes);
  const views = new MemoryViews(padded.buffer);
  views.dv.setUint32(W.kChecksumOffset, checksum(views, W.kMessageHeaderBytes, bytes.length - W.kMessageHeaderBytes), true);
  return padded.slice(0, bytes.length);
}

describe('FMIDB delta codec', () => {
  it('parses back exactly what it wrote', () => {
    const t = 1_700_000_000_000;
    const groups: Group[] = [
      {
        origin: 'node-a',
        withId: true,
        version: t,
        from: -1,
        entries: [
          { subject: 'node-a', key: 'load1', value: 0.1, version: t - 5 },
          { subject: 'node-a', key: 'memBytes', value: 2 ** 52 - 1, version: t - 5 },
          { subject: 'node-a', key: 'neg', value: -(2 ** 52 - 1), version: t - 5 },
          { subject: 'node-a', key: 'big', value: 2 ** 53 - 1, version: t - 1 },
          { subject: 'node-a', key: 'tiny', value: 5e-324, version: t - 1 },
          { subject: 'node-a', key: 'zero', value: 0, version: t },
          { subject: 'node-b', key: 'rack', value: 'r7 – Zürich 東京', version: t },
          { subject: 'node-b', key: 'gone', value: null, version: t },
          { subject: 'node-b', key: 'empty', value: '', version: t },
        ],
      },
      { origin: 'node-b', withId: false, version: t - 90_000, from: t - 100_000, entries: [{ subject: 'node-b', key: 'k', value: -1, version: t - 95_000 }] },
      { origin: 'node-c', withId: false, version: t + 3, from: t, entries: [] },
    ];
    const bytes = encode(groups);
    const parsed: DeltaGroup[] = [];
    expect(parseDelta(bytes, parsed, 100)).toBe(true);
    expect(parsed.map((g) => [g.id, g.version, g.from, g.entryCount])).toEqual(groups.map((g) => [g.withId ? g.origin : null, g.version, g.from, g.entries.length]));
    for (let i = 0; i < groups.length; i++) {
      const fp = fingerprintOf(groups[i]!.origin);
      expect([parsed[i]!.high, parsed[i]!.low]).toEqual([fp.high, fp.low]);
      const entries: EntryView[] = [];
      expect(readEntries(bytes, parsed[i]!, groups[i]!.origin, entries)).toBe(true);
      expect(entries).toEqual(groups[i]!.entries);
    }
    expect(parseDelta(bytes, parsed, 2)).toBe(false); // more groups than allowed
  });

  it('refuses what breaks a rule: an id that does not match its fingerprint, ages out of order, trailing bytes', () => {
    const t = 5_000;
    const good: Group = { origin: 'o', withId: true, version: t, from: -1, entries: [{ subject: 'o', key: 'k', value: 1, version: t - 2 }, { subject: 'o', key: 'j', value: 2, version: t }] };
    const parsed: DeltaGroup[] = [];
    expect(parseDelta(encode([good]), parsed, 10)).toBe(true);
    const liar = encode([good]);
    const idAt = liar.indexOf('o'.charCodeAt(0), W.kMessageHeaderBytes + W.kDeltaBodyHeaderBytes + 7);
    liar[idAt] = 'p'.charCodeAt(0);
    expect(parseDelta(liar, parsed, 10)).toBe(false);
    const backwards = encode([{ ...good, entries: [...good.entries].reverse() }]);
    expect(parseDelta(backwards, parsed, 10)).toBe(false);
    const outside = encode([{ ...good, from: t - 1 }]); // an entry at t - 2 is not in (t - 1, t]
    expect(parseDelta(outside, parsed, 10)).toBe(false);
    expect(parseDelta(Uint8Array.from([...encode([good]), 0]), parsed, 10)).toBe(false);
  });
});

describe('FMIDB receive() never throws', () => {
  /** Real messages of every type, captured between two replicas that write, announce, pull and sync. */
  function capture(): Uint8Array[] {
    let now = 0;
    const make = (id: string, seed: number) => new FmidbReplica({ selfId: id, config, random: new Prng(seed), nowMs: () => now, memory });
    const a = make('a', 1);
    const b = make('b', 2);
    a.peersChanged(['a', 'b']);
    b.peersChanged(['a', 'b']);
    const seen: Uint8Array[] = [];
    for (let step = 0; step < 40; step++) {
      now += 50;
      if (step % 10 === 0) {
        a.setMany([{ subject: 'a', key: 'load1', value: step / 3 }, { subject: 'a', key: 'name', value: `a-${step}` }, { subject: 'x', key: 'rack', value: step }]);
        b.set('b', 'memBytes', step * 1e9);
      }
      for (const [from, to] of [[a, b], [b, a]] as const) {
        from.tick();
        // Copied first: the bytes are valid only until the next call into a replica of this memory.
        for (const m of from.drainOutbox().map((o) => ({ ...o, bytes: o.bytes.slice() }))) {
          seen.push(m.bytes);
          to.receive(from.selfId, m.bytes, m.stream);
        }
      }
    }
    return seen;
  }

  const messages = capture();

  it('captured every message type', () => {
    expect(new Set(messages.map((m) => m[2]))).toEqual(new Set([W.kTypeDigest, W.kTypeRequest, W.kTypeDelta]));
  });

  it('counts random corruptions as malformed and stays able to converge', () => {
    let now = 0;
    const victim = new FmidbReplica({ selfId: 'v', config, random: new Prng(9), nowMs: () => now, memory });
    victim.peersChanged(['v']);
    fc.assert(
      fc.property(
        fc.nat({ max: messages.length - 1 }),
        fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: -16, max: 8 }),
        fc.boolean(),
        (which, flips, resize, stream) => {
          let bytes = messages[which]!.slice();
          for (const f of flips) bytes[f.at % bytes.length] = f.value;
          if (resize < 0) bytes = bytes.subarray(0, Math.max(0, bytes.length + resize));
          else if (resize > 0) bytes = Uint8Array.from([...bytes, ...new Uint8Array(resize).fill(resize)]);
          expect(() => victim.receive('a', seal(bytes), stream)).not.toThrow();
          expect(() => victim.receive('a', bytes, stream)).not.toThrow();
          victim.drainOutbox();
        },
      ),
      { seed: 5, numRuns: 2000 },
    );
    const random = new Prng(77);
    for (let i = 0; i < 500; i++) {
      const junk = Uint8Array.from({ length: random.nextInt(64) }, () => random.nextInt(256));
      if (junk.length > 2) junk[0] = W.kWireMagic;
      if (junk.length > 2) junk[1] = W.kWireVersion;
      expect(() => victim.receive('a', seal(junk), false)).not.toThrow();
    }
    expect(() => victim.receive(undefined as unknown as string, messages[0]!, false)).not.toThrow();
    expect(() => victim.receive('a', 'not bytes' as unknown as Uint8Array, false)).not.toThrow();
    expect(() => victim.receive('a', new Uint8Array(1 << 20), true)).not.toThrow();
    expect(victim.counters.malformed).toBeGreaterThan(1000);
    expect(victim.counters.checksumFailures).toBeGreaterThan(500);
    victim.drainOutbox();

    // The victim still replicates with a peer that behaves.
    const peer = new FmidbReplica({ selfId: 'p', config, random: new Prng(10), nowMs: () => now, memory });
    for (const r of [victim, peer]) r.peersChanged(['v', 'p']);
    peer.set('p', 'load1', 42);
    victim.set('v', 'load1', 7);
    for (let step = 0; step < 100; step++) {
      now += 50;
      for (const [from, to] of [[victim, peer], [peer, victim]] as const) {
        from.tick();
        for (const m of from.drainOutbox().map((o) => ({ ...o, bytes: o.bytes.slice() }))) if (m.to === to.selfId) to.receive(from.selfId, m.bytes, m.stream);
      }
    }
    expect(victim.get('p', 'load1')).toBe(42);
    expect(peer.get('v', 'load1')).toBe(7);
  });
});
