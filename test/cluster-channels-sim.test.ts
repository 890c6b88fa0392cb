// Proves the channel layer's guarantees over the REAL cluster-membership core, in the
// deterministic simulator: five nodes each run a ClusterChannels core (ClusterMember
// under ChannelLayer) on the simulated network, send random small and fragmented
// messages with replies (causal chains) on one channel, and face a fault per scenario:
// loss, duplication and reordering with a crash reported by ICMP; a silent crash (no
// ICMP); a crash of the sequencer (the view's first member); a 3|2 partition and its
// heal; a member restart; and a loaded machine (pauses of 100 ms to 2 s on random
// members, a SIGKILL and its restart, a 3|2 partition and its heal, big delays, much
// reordering, loss and duplication, all while every member sends). Each run ends with a graceful leave so the last busy view is
// flushed and judged. Every channel checker that applies to the ordering
// (src/sim/channels/channel-checkers.ts) must pass, for each ordering, reliable and
// unreliable. Then each broken variant of the channel layer must still be caught here,
// over the real core. A failing seed prints a one-line repro; GALAXY_SIM_SEED_COUNT=N
// runs N seeds per scenario (a soak).
import { describe, expect, it } from 'vitest';
import type { ChannelOptions, Ordering } from '../src/core/channels/channel-options.js';
import { reproLine } from '../src/sim/invariants.js';
import { checksFor, failures, kScenarios, runScenario, seedsFor } from './cluster-channels-scenario.js';

const kFile = 'test/cluster-channels-sim.test.ts';
const kConfigs: ChannelOptions[] = [
  ...(['none', 'fifo', 'causal', 'total', 'safe'] as Ordering[]).map((ordering): ChannelOptions => ({ reliability: 'reliable', ordering })),
  { reliability: 'unreliable', ordering: 'none' },
  { reliability: 'unreliable', ordering: 'fifo' },
];
const kSeedsPerScenario = 2;
/** The loaded scenario runs 6 simulated seconds (the others about 1.5): one seed per configuration here, thousands in the soak. */
const kLoadedSeeds = 1;

describe('channel guarantees over the real cluster core', () => {
  kConfigs.forEach((options, c) => {
    const name = `${options.reliability} ${options.ordering}: every checker passes in every fault scenario`;
    it(name, { timeout: 600_000 }, async () => {
      const problems: string[] = [];
      let delivered = 0;
      let resets = 0;
      for (const [k, scenario] of kScenarios.entries()) {
        for (const seed of seedsFor(10_000 + c * 1000 + k * 100, scenario === 'loaded: pauses, kill and partition' ? kLoadedSeeds : kSeedsPerScenario)) {
          const run = runScenario(seed, scenario, options);
          delivered += run.delivered;
          if (scenario === '3|2 partition and heal') resets += run.resets;
          const text = [...run.problems, failures(checksFor(run.history, options))].filter((t) => t !== '').join('\n');
          if (text !== '') problems.push(`${scenario}, seed ${seed}: ${text}\n  repro: ${reproLine(seed, kFile, name)}`);
          if (process.env.GALAXY_SIM_SEED_COUNT && text !== '') console.error(problems[problems.length - 1]);
          // Let the test runner's messages through between runs (long soaks).
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      expect(problems.join('\n')).toBe('');
      // Not vacuous: thousands of deliveries over the runs.
      expect(delivered).toBeGreaterThan(1_000 * kScenarios.length * kSeedsPerScenario);
      // The minority's members were cut out and came back as new channel members.
      expect(resets).toBeGreaterThan(0);
    });
  });
});
