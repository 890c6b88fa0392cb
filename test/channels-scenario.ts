// Not a test file: the workload the channel simulation tests share. It runs a
// ReferenceVsGroup with one channel, random senders and sizes (small messages and
// fragmented ones), replies to deliveries (causal chains), crashes, joins and a final
// view change, and returns the recorded history for the checkers.
import type { ChannelFaults } from '../src/core/channels/channel-layer-options.js';
import type { ChannelOptions } from '../src/core/channels/channel-options.js';
import type { ChannelHistory } from '../src/sim/channels/channel-history.js';
import { ReferenceVsGroup } from '../src/sim/channels/reference-vs-group.js';

export interface Scenario {
  seed: number;
  members: number;
  options: ChannelOptions;
  faults?: ChannelFaults;
  /** Messages each first-view member sends, at random times in the first sendWindowMs. */
  messagesPerMember: number;
  sendWindowMs?: number;
  /** Chance that a delivery is answered by the member that got it (causal chains); replies are capped. */
  replyRate?: number;
  /** Members crashed at random times during the send window (never all). */
  crashes?: number;
  /** Members crashed together, at one moment (a sender and a receiver at once). */
  crashPairs?: number;
  /** Each crashed pair includes the view's first member (the sequencer of total and safe channels). */
  pairsIncludeFirst?: boolean;
  joins?: number;
  datagramLossRate?: number;
  datagramDuplicateRate?: number;
  /** Share of messages big enough to be cut into several fragments (fragmentBytes is 1,024 here). */
  bigRate?: number;
}

export interface ScenarioRun {
  group: ReferenceVsGroup;
  history: ChannelHistory;
  settled: boolean;
  sends: number;
}

export const kChannel = 'test-channel';

export function runScenario(s: Scenario): ScenarioRun {
  const sendWindowMs = s.sendWindowMs ?? 150;
  let replies = s.members * s.messagesPerMember;
  let sends = 0;
  const group: ReferenceVsGroup = new ReferenceVsGroup({
    seed: s.seed,
    members: s.members,
    datagramLossRate: s.datagramLossRate ?? 0,
    datagramDuplicateRate: s.datagramDuplicateRate ?? 0,
    layer: { fragmentBytes: 1024, messageBytesMax: 64 * 1024, faults: s.faults ?? {}, sendQueueMessagesMax: 4096 },
    onDelivered: (member, event) => {
      if (event.channel !== kChannel || replies <= 0 || !group.prng.chance(s.replyRate ?? 0)) return;
      replies--;
      // Answer after the current step, as an application would.
      group.queue.at(group.nowMs, () => {
        if (group.isAlive(member)) sends += group.send(member, kChannel, payloadOf(group, s.bigRate ?? 0)) > 0 ? 1 : 0;
      });
    },
  });
  group.open('m0', kChannel, s.options);
  group.runFor(10);
  const prng = group.prng;
  for (const member of group.view()) {
    for (let i = 0; i < s.messagesPerMember; i++) {
      group.queue.at(group.nowMs + prng.nextFloat() * sendWindowMs, () => {
        if (group.isAlive(member)) sends += group.send(member, kChannel, payloadOf(group, s.bigRate ?? 0)) > 0 ? 1 : 0;
      });
    }
  }
  const start = group.nowMs;
  for (let i = 0; i < (s.crashes ?? 0); i++) {
    group.queue.at(start + prng.nextFloat() * sendWindowMs, () => {
      const alive = group.view().filter((m) => group.isAlive(m));
      if (alive.length > 2) group.crash(alive[prng.nextInt(alive.length)]!);
    });
  }
  for (let i = 0; i < (s.crashPairs ?? 0); i++) {
    group.queue.at(start + prng.nextFloat() * sendWindowMs, () => {
      const alive = prng.shuffle(group.view().filter((m) => group.isAlive(m)));
      if (alive.length <= 3) return;
      const first = group.view()[0]!;
      if (s.pairsIncludeFirst === true && group.isAlive(first)) alive.splice(alive.indexOf(first), 1), alive.unshift(first);
      group.crash(alive[0]!);
      group.crash(alive[1]!);
    });
  }
  for (let i = 0; i < (s.joins ?? 0); i++) group.queue.at(start + prng.nextFloat() * sendWindowMs, () => group.join());
  group.runFor(sendWindowMs + 50);
  let settled = group.settle(5_000);
  group.requestViewChange();
  settled = group.settle(5_000) && settled;
  return { group, history: group.recorder.history, settled, sends };
}

function payloadOf(group: ReferenceVsGroup, bigRate: number): Uint8Array {
  const prng = group.prng;
  const size = prng.chance(bigRate) ? 1024 + prng.nextInt(6 * 1024) : prng.nextInt(200);
  const payload = new Uint8Array(size);
  for (let i = 0; i < size; i++) payload[i] = prng.nextUint32() & 0xff;
  return payload;
}
