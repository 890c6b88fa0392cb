// Proves the channel checkers can still fail over the real cluster core: each
// deliberately broken variant of the channel layer (a test-only fault switch: FIFO
// without its late-message check, causal without the wait, total delivered on receipt,
// safe delivered before stability, the flush delivered after the next view) runs in the
// cluster-channels simulation scenarios, and its checker must report violations on
// enough seeds, while the same seeds without the fault pass that checker. A failing
// seed prints a one-line repro.
import { describe, expect, it } from 'vitest';
import type { ChannelFaults } from '../src/core/channels/channel-layer-options.js';
import type { ChannelOptions } from '../src/core/channels/channel-options.js';
import { checkCausal, checkFifo, checkSafe, checkTotal, checkVirtualSynchrony, type CheckResult } from '../src/sim/channels/channel-checkers.js';
import type { ChannelHistory } from '../src/sim/channels/channel-history.js';
import { reproLine } from '../src/sim/invariants.js';
import { kChannel, runScenario, seedsFor, type ScenarioName, type ScenarioOverrides } from './cluster-channels-scenario.js';

const kFile = 'test/cluster-channels-broken.test.ts';

interface BrokenCase {
  what: string;
  faults: ChannelFaults;
  options: ChannelOptions;
  scenarios: ScenarioName[];
  check: (history: ChannelHistory) => CheckResult;
  overrides?: ScenarioOverrides;
  seeds?: number;
  /** Of the runs, how many must catch it. */
  caughtMin: number;
}

const kBroken: BrokenCase[] = [
  {
    what: 'FIFO: unreliable FIFO delivering late datagrams',
    faults: { skipFifoCheck: true },
    options: { reliability: 'unreliable', ordering: 'fifo' },
    scenarios: ['lossy+icmp crash'],
    check: (h) => checkFifo(h, kChannel, { gapsAllowed: true }),
    caughtMin: 2,
  },
  {
    what: 'causal: delivering without waiting for the causal past',
    faults: { skipCausalWait: true },
    options: { reliability: 'reliable', ordering: 'causal' },
    scenarios: ['lossy+icmp crash', 'sequencer crash'],
    check: (h) => checkCausal(h, kChannel),
    caughtMin: 2,
  },
  {
    what: 'total: delivering on receipt',
    faults: { deliverTotalOnReceipt: true },
    options: { reliability: 'reliable', ordering: 'total' },
    scenarios: ['lossy+icmp crash', 'silent crash'],
    check: (h) => checkTotal(h, kChannel, { sequencerCrashExempt: true }),
    caughtMin: 2,
  },
  {
    what: 'safe: delivering before stability',
    faults: { deliverSafeBeforeStable: true },
    options: { reliability: 'reliable', ordering: 'safe' },
    // The fault only shows when the sequencer and a member that delivered early crash
    // before any survivor has the order: a pair crash under loss and heavy traffic.
    scenarios: ['sequencer and member crash'],
    overrides: { lossy: true, sendEveryMs: 2 },
    seeds: 12,
    caughtMin: 2,
    check: (h) => {
      const safe = checkSafe(h, kChannel);
      const total = checkTotal(h, kChannel);
      return { ...safe, ok: safe.ok && total.ok, violationCount: safe.violationCount + total.violationCount, violations: [...safe.violations, ...total.violations] };
    },
  },
  {
    what: 'virtual synchrony: delivering the flush after installing the next view',
    faults: { deliverLeftoversAfterInstall: true },
    options: { reliability: 'reliable', ordering: 'total' },
    scenarios: ['silent crash', 'sequencer crash'],
    check: (h) => checkVirtualSynchrony(h, kChannel),
    caughtMin: 1,
  },
];

describe('each channel checker catches its broken variant over the real cluster core', () => {
  kBroken.forEach((broken, b) => {
    const name = `catches ${broken.what}`;
    it(name, { timeout: 600_000 }, async () => {
      let caught = 0;
      let runs = 0;
      const unbrokenFailures: string[] = [];
      for (const [k, scenario] of broken.scenarios.entries()) {
        for (const seed of seedsFor(50_000 + b * 1000 + k * 100, broken.seeds ?? 3)) {
          runs++;
          if (!broken.check(runScenario(seed, scenario, broken.options, broken.faults, broken.overrides).history).ok) caught++;
          const clean = broken.check(runScenario(seed, scenario, broken.options, {}, broken.overrides).history);
          if (!clean.ok) unbrokenFailures.push(`${scenario}, seed ${seed}: ${clean.violations.slice(0, 2).join('; ')}\n  repro: ${reproLine(seed, kFile, name)}`);
          // Let the test runner's messages through between runs (long soaks).
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      expect(unbrokenFailures.join('\n'), 'the unbroken layer failed').toBe('');
      expect(caught, `caught on ${caught} of ${runs} runs`).toBeGreaterThanOrEqual(broken.caughtMin);
    });
  });
});
