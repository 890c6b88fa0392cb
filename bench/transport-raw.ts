/**
 * The raw transport benchmark: how many 512-byte datagrams per second get from one
 * process to another over loopback, node:dgram against the native socket
 * (src/native/native-udp-socket.ts: sendmmsg/recvmmsg batches).
 *
 * Every pairing of sender and receiver runs in two fresh processes
 * (bench/transport-raw-peer.ts) for about three seconds. The sender blasts bursts of
 * 64 datagrams with setImmediate between bursts: node:dgram calls socket.send once per
 * datagram, the native socket queues 64 and flushes them in one sendmmsg. What is
 * reported:
 *  - received/s at the receiver, the number that matters; with the node:dgram
 *    receiver both senders face the same receiver, so only the sender differs;
 *  - sent/s and CPU time per datagram of the sender (process.cpuUsage, user+system);
 *  - CPU time per received datagram of the receiver, measured the same way;
 *  - the ratios native/dgram. Absolute numbers vary from machine to machine.
 *
 * The four pairings run in interleaved rounds and each figure is the median over the
 * rounds, because two busy processes on a small machine are at the mercy of anything
 * else running: the load average before and after is recorded with the results.
 * Throughput is the more exposed to such noise; CPU per datagram much less so.
 *
 *   node dist/bench/transport-raw.js                       full run (about 40 s)
 *   GALAXY_BENCH_QUICK=1 node dist/bench/transport-raw.js   a smoke run
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeUdpSocket } from '../src/node/native/native-udp-socket.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import type { ParentMessage, PeerKind, PeerMessage } from './transport-raw-peer.js';

const quick = process.env['GALAXY_BENCH_QUICK'] === '1';
const durationMs = quick ? 500 : 3_000;
const rounds = quick ? 1 : 3;
const payloadBytes = 512;
const burst = 64;
/** Time for the receiver to empty its socket buffer after the sender stops. */
const settleMs = 300;
/** A peer that does not answer within this is broken, not slow. */
const replyTimeoutMs = durationMs + 10_000;

const peerPath = join(dirname(fileURLToPath(import.meta.url)), 'transport-raw-peer.js');

interface Run {
  readonly sender: PeerKind;
  readonly receiver: PeerKind;
  readonly sent: number;
  readonly sendFailed: number;
  readonly sentPerSecond: number;
  readonly received: number;
  readonly receivedPerSecond: number;
  /** Share of the sent datagrams the receiver never counted (dropped at its full socket buffer). */
  readonly lossRatio: number;
  readonly senderCpuNsPerDatagram: number;
  readonly receiverCpuNsPerDatagram: number;
}

function nextMessage<T extends PeerMessage['type']>(child: ChildProcess, type: T): Promise<Extract<PeerMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${type}' from peer ${String(child.spawnargs.slice(2))}`)), replyTimeoutMs);
    const onMessage = (message: PeerMessage): void => {
      if (message.type !== type) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(message as Extract<PeerMessage, { type: T }>);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`peer exited with code ${String(code)} while waiting for '${type}'`)));
  });
}

function tell(child: ChildProcess, message: ParentMessage): void {
  child.send(message);
}

function round(value: number, digits = 0): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

async function runPair(sender: PeerKind, receiver: PeerKind): Promise<Run> {
  const receiverProcess = fork(peerPath, ['receiver', receiver]);
  try {
    const { address } = await nextMessage(receiverProcess, 'ready');
    const senderProcess = fork(peerPath, ['sender', sender, address, String(durationMs), String(payloadBytes), String(burst)]);
    try {
      await nextMessage(senderProcess, 'ready');
      tell(receiverProcess, { type: 'reset' });
      await nextMessage(receiverProcess, 'reset');
      tell(senderProcess, { type: 'start' });
      const done = await nextMessage(senderProcess, 'done');
      await new Promise((resolve) => setTimeout(resolve, settleMs));
      tell(receiverProcess, { type: 'report' });
      const report = await nextMessage(receiverProcess, 'report');
      const seconds = done.wallMs / 1000;
      return {
        sender,
        receiver,
        sent: done.sent,
        sendFailed: done.failed,
        sentPerSecond: round(done.sent / seconds),
        received: report.received,
        receivedPerSecond: round(report.received / seconds),
        lossRatio: round(done.sent === 0 ? 0 : 1 - report.received / done.sent, 4),
        senderCpuNsPerDatagram: round((done.cpuMicroseconds * 1000) / Math.max(1, done.sent)),
        receiverCpuNsPerDatagram: round((report.cpuMicroseconds * 1000) / Math.max(1, report.received)),
      };
    } finally {
      tell(senderProcess, { type: 'exit' });
    }
  } finally {
    tell(receiverProcess, { type: 'exit' });
  }
}

function find(runs: readonly Run[], sender: PeerKind, receiver: PeerKind): Run {
  const run = runs.find((candidate) => candidate.sender === sender && candidate.receiver === receiver);
  if (run === undefined) throw new Error(`no run ${sender} -> ${receiver}`);
  return run;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The per-field median of one pairing's rounds. */
function medianRun(samples: readonly Run[]): Run {
  const first = samples[0]!;
  const of = (field: keyof Run): number => median(samples.map((sample) => sample[field] as number));
  return {
    sender: first.sender,
    receiver: first.receiver,
    sent: of('sent'),
    sendFailed: of('sendFailed'),
    sentPerSecond: of('sentPerSecond'),
    received: of('received'),
    receivedPerSecond: of('receivedPerSecond'),
    lossRatio: of('lossRatio'),
    senderCpuNsPerDatagram: of('senderCpuNsPerDatagram'),
    receiverCpuNsPerDatagram: of('receiverCpuNsPerDatagram'),
  };
}

async function main(): Promise<void> {
  const availability = NativeUdpSocket.available();
  if (!availability.available) {
    console.log(`transport-raw: the native socket is unavailable here (${availability.reason}); nothing to compare.`);
    return;
  }
  const pairs: Array<[PeerKind, PeerKind]> = [
    ['dgram', 'dgram'],
    ['native', 'dgram'],
    ['dgram', 'native'],
    ['native', 'native'],
  ];
  const loadBefore = loadavg()[0]!;
  if (loadBefore > 0.5) console.log(`note: load average ${loadBefore.toFixed(2)} on ${cpus().length} CPUs; expect noisy throughput`);
  const samples: Run[] = [];
  for (let roundIndex = 1; roundIndex <= rounds; roundIndex++) {
    for (const [sender, receiver] of pairs) {
      console.log(`round ${roundIndex}/${rounds}: ${sender} -> ${receiver} for ${durationMs} ms ...`);
      samples.push(await runPair(sender, receiver));
    }
  }
  const loadAfter = loadavg()[0]!;
  const runs = pairs.map(([sender, receiver]) =>
    medianRun(samples.filter((sample) => sample.sender === sender && sample.receiver === receiver)),
  );

  console.table(
    runs.map((run) => ({
      'sender -> receiver': `${run.sender} -> ${run.receiver}`,
      'sent/s': run.sentPerSecond,
      'received/s': run.receivedPerSecond,
      loss: `${(run.lossRatio * 100).toFixed(1)}%`,
      'sender CPU ns/datagram': run.senderCpuNsPerDatagram,
      'receiver CPU ns/datagram': run.receiverCpuNsPerDatagram,
    })),
  );

  // Same node:dgram receiver in both runs, so only the sender differs.
  const dgramToDgram = find(runs, 'dgram', 'dgram');
  const nativeToDgram = find(runs, 'native', 'dgram');
  // Same node:dgram sender in both runs, so only the receiver differs.
  const dgramToNative = find(runs, 'dgram', 'native');
  const nativeToNative = find(runs, 'native', 'native');
  const ratios = {
    senderOnlyReceivedPerSecond: round(nativeToDgram.receivedPerSecond / dgramToDgram.receivedPerSecond, 2),
    senderOnlySentPerSecond: round(nativeToDgram.sentPerSecond / dgramToDgram.sentPerSecond, 2),
    senderCpuPerDatagram: round(nativeToDgram.senderCpuNsPerDatagram / dgramToDgram.senderCpuNsPerDatagram, 2),
    receiverOnlyReceivedPerSecond: round(dgramToNative.receivedPerSecond / dgramToDgram.receivedPerSecond, 2),
    receiverCpuPerDatagram: round(dgramToNative.receiverCpuNsPerDatagram / dgramToDgram.receiverCpuNsPerDatagram, 2),
    endToEndReceivedPerSecond: round(nativeToNative.receivedPerSecond / dgramToDgram.receivedPerSecond, 2),
  };
  console.log('native / dgram ratios:');
  console.log(`  sender only (dgram receiver):   received/s x${ratios.senderOnlyReceivedPerSecond}, sent/s x${ratios.senderOnlySentPerSecond}, sender CPU per datagram x${ratios.senderCpuPerDatagram}`);
  console.log(`  receiver only (dgram sender):   received/s x${ratios.receiverOnlyReceivedPerSecond}, receiver CPU per datagram x${ratios.receiverCpuPerDatagram}`);
  console.log(`  end to end (native -> native vs dgram -> dgram): received/s x${ratios.endToEndReceivedPerSecond}`);

  const results = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model,
    cpuCount: cpus().length,
    kernel: release(),
    quick,
    loadAverageBefore: round(loadBefore, 2),
    loadAverageAfter: round(loadAfter, 2),
    rounds,
    durationMs,
    payloadBytes,
    burst,
    measured:
      'received/s = datagrams counted by the receiver process / sender wall time; CPU = process.cpuUsage user+system of each process divided by its datagrams; runs = per-field medians over rounds, samples = every round',
    runs,
    ratios,
    samples,
  };
  const directory = join(packageRoot(), 'bench', 'results');
  mkdirSync(directory, { recursive: true });
  writeFileSync(join(directory, 'transport-raw.json'), JSON.stringify(results, null, 2) + '\n');
  console.log('Results written to bench/results/transport-raw.json');
}

await main();
