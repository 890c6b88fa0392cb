// Proves the study runner behind `galaxy simulate` (src/sim/study/) in-process: one
// seed gives a byte-identical results JSON and a different seed a different run; the
// study spec rejects bad input with every problem named; and the verdict, the checker
// a user relies on, catches a deliberately broken setting (a suspicion multiplier far
// too small for a partition, so the far side is declared dead) while passing the same
// partition with the LAN preset. A failing seed prints its repro line.
import { describe, expect, it } from 'vitest';
import { DomainError } from '../src/core/util/domain-error.js';
import { reproLine, withSeed } from '../src/sim/invariants.js';
import { runStudy } from '../src/sim/study/run-study.js';
import { parseStudy } from '../src/sim/study/study-spec.js';
import { parseDurationMs, parseFraction } from '../src/sim/study/study-units.js';
import { swimDetectionBoundMs } from '../src/sim/study/swim-bound.js';
import { membershipConfig } from '../src/core/membership/config.js';

const kFile = 'test/simulate-study.test.ts';

describe('study units and spec', () => {
  it('reads fractions and durations as people write them', () => {
    expect(parseFraction('5%')).toBe(0.05);
    expect(parseFraction(0.2)).toBe(0.2);
    expect(parseFraction('0.1')).toBe(0.1);
    expect(parseFraction('five')).toBeNull();
    expect(parseDurationMs('30s')).toBe(30_000);
    expect(parseDurationMs('2m')).toBe(120_000);
    expect(parseDurationMs('500ms')).toBe(500);
    expect(parseDurationMs(12)).toBe(12_000);
    expect(parseDurationMs('soon')).toBeNull();
  });

  it('fills defaults and keeps what was given', () => {
    const spec = parseStudy({ nodes: 2000, loss: '5%', crash: 10, partition: '30s', seconds: 120, seed: 7 });
    expect(spec).toMatchObject({ nodes: 2000, lossRate: 0.05, crashes: 10, simulatedMs: 120_000, seed: 7, preset: 'lan', icmp: true, faultsEndMs: 80_000 });
    expect(spec.partition).toEqual({ startMs: 12_000, durationMs: 30_000, split: 0.5, oneWay: false });
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['too few nodes', { nodes: 1 }, /nodes must be from 3/],
    ['loss above 100%', { loss: '150%' }, /loss must be from 0%/],
    ['unreadable loss', { loss: 'lots' }, /loss must be a fraction/],
    ['more crashes than nodes', { nodes: 10, crash: 20 }, /crash must be from 0 to nodes - 2/],
    ['a partition past the end', { seconds: 20, partition: { at: '15s', duration: '10s' } }, /must heal before the run ends/],
    ['an unknown preset', { preset: 'moon' }, /preset must be one of lan, wan, local/],
    ['an unknown field', { nodez: 5 }, /unknown field nodez/],
    ['a stall longer than its period', { stall: { fraction: '10%', duration: '5s', every: '2s' } }, /stall.duration/],
    ['stalls beyond the bound', { nodes: 20_000, seconds: '1h', faultsUntil: '1h', stall: { fraction: 1, duration: '10ms', every: '20ms' } }, /the stalls asked for add up to/],
    ['a bad membership override', { membership: { probeTimeoutMs: 5000 } }, /membership: .*probeTimeoutMs/],
    ['an unknown membership setting', { membership: { frobs: 1 } }, /unknown membership option "frobs"/],
  ];
  for (const [what, input, message] of bad) {
    it(`rejects ${what} with a coded, clear error`, () => {
      let caught: unknown;
      try {
        parseStudy(input);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(DomainError);
      expect((caught as DomainError).kind).toBe('invalid');
      expect((caught as DomainError).code).toBe('simulate.bad-study');
      expect((caught as DomainError).message).toMatch(message);
    });
  }

  it('names every problem at once', () => {
    expect(() => parseStudy({ nodes: 1, loss: 2, seconds: '0s' })).toThrow(/nodes must.*; seconds must.*; loss must/);
  });

  it('bounds detection by the protocol timers, growing with the farm', () => {
    const lan = membershipConfig({}, 'lan');
    // 5 probe intervals + 6 × 4·log10(1000) s + 4·ceil(log10(1001)) = 16 retransmits × 200 ms: 5 + 72 + 3.2 s.
    expect(swimDetectionBoundMs(lan, 1000)).toBe(80_200);
    expect(swimDetectionBoundMs(lan, 10_000)).toBeGreaterThan(swimDetectionBoundMs(lan, 1000));
  });
});

describe('runStudy', () => {
  it('gives a byte-identical result for the same seed, and another run for another seed', () => {
    const seed = withSeed(11);
    const spec = parseStudy({ nodes: 80, seconds: '10s', crash: 2, loss: '5%', stall: { fraction: '10%', duration: '1s', every: '4s' }, seed });
    const progress: number[] = [];
    const a = JSON.stringify(runStudy(spec, (p) => progress.push(p.simulatedMs)));
    const b = JSON.stringify(runStudy(spec));
    expect(a, reproLine(seed, kFile, 'gives a byte-identical result')).toBe(b);
    expect(progress).toEqual(Array.from({ length: 10 }, (_, i) => (i + 1) * 1000));
    const other = runStudy({ ...spec, seed: seed + 1 });
    expect(other.totals.eventDigest).not.toBe(JSON.parse(a).totals.eventDigest);
    const result = JSON.parse(a) as ReturnType<typeof runStudy>;
    expect(result.series.timeS).toHaveLength(10);
    expect(result.crashes).toHaveLength(2);
    // ICMP evidence: every live node holds both crashes dead, well inside the bound.
    for (const c of result.crashes) expect(c.detected, reproLine(seed, kFile, 'gives a byte-identical result')).toBe(c.observers);
    expect(result.detection.fraction.at(-1)).toBe(1);
  }, 30_000);

  it('the verdict passes a partition the LAN preset rides out and catches it with a broken suspicion timeout', () => {
    const seed = withSeed(3);
    const base = { nodes: 40, seconds: '12s', partition: { at: '1s', duration: '3s' }, seed };
    const healthy = runStudy(parseStudy(base));
    expect(healthy.verdict.surprising, `${healthy.verdict.reasons.join('; ')}\n${reproLine(seed, kFile, 'the verdict passes')}`).toBe(false);
    expect(healthy.totals.falseSuspicions).toBeGreaterThan(0);
    expect(healthy.finalConvergence.converged).toBe(true);
    // Broken on purpose: a suspicion multiplier of 0.5 times out long before a 3 s partition heals.
    const broken = runStudy(parseStudy({ ...base, membership: { suspicionMult: 0.5 } }));
    expect(broken.verdict.surprising, reproLine(seed, kFile, 'the verdict passes')).toBe(true);
    expect(broken.verdict.reasons[0]).toMatch(/^\d+ false deaths \(first: 10\.0\.\S+ declared 10\.0\.\S+ dead at \d+\.\ds\)/);
    expect(broken.series.falseDeaths.at(-1)).toBe(broken.totals.falseDeaths);
  }, 40_000);
});
