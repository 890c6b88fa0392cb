// Proves the channel layer's guarantees in the deterministic simulator: five members
// run ChannelLayers over the ReferenceVsGroup (random delays that interleave senders
// differently at each member, crashes — one at a time and two at once —, joins, and a
// final view change), with random workloads of small and fragmented messages and
// replies to deliveries (causal chains). The recorded histories must pass every checker
// that applies to the channel's ordering, over many seeds. Unreliable channels run
// with datagram loss, duplication and reordering. Then each ordering's deliberately
// broken variant (a test-only fault switch in the layer) must be caught by its checker,
// which shows the checkers can fail. A failing seed prints a one-line repro
// (GALAXY_SIM_SEED=… npx vitest run test/channels-sim.test.ts -t "…").
import { describe, expect, it } from 'vitest';
import type { ChannelFaults } from '../src/core/channels/channel-layer-options.js';
import type { ChannelOptions, Ordering } from '../src/core/channels/channel-options.js';
import { checkCausal, checkFifo, checkIntegrity, checkSafe, checkTotal, checkVirtualSynchrony, type CheckResult } from '../src/sim/channels/channel-checkers.js';
import type { ChannelHistory } from '../src/sim/channels/channel-history.js';
import { reproLine, withSeed } from '../src/sim/invariants.js';
import { kChannel, runScenario, type Scenario } from './channels-scenario.js';

const kFile = 'test/channels-sim.test.ts';
// GALAXY_SIM_SEED replays one seed; GALAXY_SIM_SEED_COUNT=N runs N seeds per test (a soak).
const seedsFor = (base: number, count: number): number[] => {
  const forced = process.env.GALAXY_SIM_SEED;
  const soak = Number(process.env.GALAXY_SIM_SEED_COUNT ?? 0);
  return forced ? [withSeed(base)] : Array.from({ length: soak > 0 ? soak : count }, (_, i) => base + i);
};

/** The checkers that apply to a channel with these guarantees, by name. */
function checksFor(history: ChannelHistory, options: ChannelOptions): Record<string, CheckResult> {
  const reliable = options.reliability === 'reliable';
  const results: Record<string, CheckResult> = {
    integrity: checkIntegrity(history, kChannel),
    virtualSynchrony: checkVirtualSynchrony(history, kChannel),
  };
  if (options.ordering !== 'none') results.fifo = checkFifo(history, kChannel, { gapsAllowed: !reliable });
  if (options.ordering === 'causal') results.causal = checkCausal(history, kChannel);
  if (options.ordering === 'total') results.total = checkTotal(history, kChannel, { sequencerCrashExempt: true });
  if (options.ordering === 'safe') {
    results.total = checkTotal(history, kChannel);
    results.safe = checkSafe(history, kChannel);
  }
  return results;
}

function failures(results: Record<string, CheckResult>): string {
  return Object.entries(results).filter(([, r]) => !r.ok).map(([name, r]) => `${name}: ${r.violationCount} violations, e.g. ${r.violations.slice(0, 3).join('; ')}`).join('\n');
}

const kBase: Omit<Scenario, 'seed' | 'options'> = { members: 5, messagesPerMember: 25, replyRate: 0.25, crashes: 1, crashPairs: 1, joins: 1, bigRate: 0.1 };

describe('channel guarantees hold over the reference VS group', () => {
  const orderings: Ordering[] = ['none', 'fifo', 'causal', 'total', 'safe'];
  for (const ordering of orderings) {
    const name = `reliable ${ordering}: every checker passes under crashes, joins and view changes`;
    it(name, () => {
      let delivered = 0;
      let flushDelivered = 0;
      for (const seed of seedsFor(1000 + orderings.indexOf(ordering) * 100, 8)) {
        const options: ChannelOptions = { reliability: 'reliable', ordering };
        const run = runScenario({ ...kBase, seed, options });
        const repro = `\nrepro: ${reproLine(seed, kFile, name)}`;
        expect(run.settled, `did not settle${repro}`).toBe(true);
        const results = checksFor(run.history, options);
        expect(failures(results) + repro).toBe(repro);
        delivered += results.integrity!.checked;
        for (const member of run.group.view()) flushDelivered += run.group.layerOf(member).channelCounters(kChannel)!.flushDelivered;
        // Every send by a member that stayed to the end met its guarantee.
        for (const [, status] of run.group.sendStatus) expect(status === 'done' || status === 'queued', `${JSON.stringify(status)}${repro}`).toBe(true);
      }
      // Not vacuous: thousands of deliveries, and the view-end rule was exercised where it exists.
      expect(delivered).toBeGreaterThan(5_000);
      if (ordering === 'total' || ordering === 'safe') expect(flushDelivered).toBeGreaterThan(0);
    });
  }

  for (const ordering of ['none', 'fifo'] as const) {
    const name = `unreliable ${ordering}: integrity, view and (FIFO) order hold under loss, duplication and reordering`;
    it(name, () => {
      for (const seed of seedsFor(2000 + (ordering === 'fifo' ? 100 : 0), 8)) {
        const options: ChannelOptions = { reliability: 'unreliable', ordering };
        const run = runScenario({ ...kBase, seed, options, datagramLossRate: 0.1, datagramDuplicateRate: 0.1 });
        const repro = `\nrepro: ${reproLine(seed, kFile, name)}`;
        const results = checksFor(run.history, options);
        expect(failures(results) + repro).toBe(repro);
        expect(results.integrity!.checked).toBeGreaterThan(150);
      }
    });
  }
});

interface BrokenCase {
  what: string;
  faults: ChannelFaults;
  options: ChannelOptions;
  scenario?: Partial<Scenario>;
  check: (history: ChannelHistory) => CheckResult;
  /** Of 8 seeds, how many must catch it (default half). */
  caughtMin?: number;
}

const kBroken: BrokenCase[] = [
  {
    what: 'FIFO: unreliable FIFO delivering late datagrams',
    faults: { skipFifoCheck: true },
    options: { reliability: 'unreliable', ordering: 'fifo' },
    scenario: { datagramLossRate: 0.05, datagramDuplicateRate: 0.05 },
    check: (h) => checkFifo(h, kChannel, { gapsAllowed: true }),
  },
  {
    what: 'causal: delivering without waiting for the causal past',
    faults: { skipCausalWait: true },
    options: { reliability: 'reliable', ordering: 'causal' },
    check: (h) => checkCausal(h, kChannel),
  },
  {
    what: 'total: delivering on receipt',
    faults: { deliverTotalOnReceipt: true },
    options: { reliability: 'reliable', ordering: 'total' },
    check: (h) => checkTotal(h, kChannel, { sequencerCrashExempt: true }),
  },
  {
    what: 'safe: delivering before stability',
    faults: { deliverSafeBeforeStable: true },
    options: { reliability: 'reliable', ordering: 'safe' },
    // The fault only shows when the sequencer and another member crash within a few
    // milliseconds of an order decision that only the other had, so crashes come in pairs
    // with the sequencer, and fewer seeds catch it.
    scenario: { members: 8, crashes: 0, crashPairs: 4, pairsIncludeFirst: true, messagesPerMember: 60, sendWindowMs: 60 },
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
    check: (h) => checkVirtualSynchrony(h, kChannel),
  },
];

describe('each checker catches a deliberately broken variant', () => {
  for (const broken of kBroken) {
    const name = `catches ${broken.what}`;
    it(name, () => {
      const seeds = seedsFor(3000 + kBroken.indexOf(broken) * 100, 8);
      let caught = 0;
      for (const seed of seeds) {
        const run = runScenario({ ...kBase, seed, options: broken.options, faults: broken.faults, ...broken.scenario });
        const result = broken.check(run.history);
        if (!result.ok) caught++;
        // The same seed without the fault passes, so it is the fault that is caught.
        const clean = runScenario({ ...kBase, seed, options: broken.options, ...broken.scenario });
        const repro = `\nrepro: ${reproLine(seed, kFile, name)}`;
        expect(broken.check(clean.history).ok, `the unbroken layer failed${repro}`).toBe(true);
      }
      expect(caught, `caught on ${caught} of ${seeds.length} seeds`).toBeGreaterThanOrEqual(Math.min(seeds.length, broken.caughtMin ?? Math.ceil(seeds.length / 2)));
    });
  }
});
