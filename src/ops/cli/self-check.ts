import { backendReport } from '../../node/backends.js';
import { createRuntime } from '../../core/kernels/create-runtime.js';
import { MembershipTable } from '../../core/table/membership-table.js';
import { GossipWorkerClient } from '../../node/threads/gossip-worker-client.js';
import { Prng } from '../../core/util/prng.js';
import { Codec } from '../../core/wire/codec.js';
import * as F from '../../core/wire/format.js';
import type { MemberEntry } from '../../core/wire/message.js';
import { formatNodeId, formatWireAddress } from '../../core/wire/message.js';

const kEntriesPerDigest = 50;

/**
 * The foundation's end-to-end run: gossip digests for a farm of `members` nodes are
 * encoded, pushed through the shared-memory ring to the gossip worker, merged into the
 * membership table by the active kernels, swept by the failure detector, and read back
 * on this thread without a copy. Prints progress and what it found.
 */
export async function runSelfCheck(members: number, print: (line: string) => void): Promise<void> {
  const report = backendReport();
  print(`Galaxy foundation self-check: kernels=${report.kernels.backend} (${report.kernels.reason}); native=${report.native.loaded ? 'loaded' : 'absent'} (${report.native.reason})`);
  const runtime = createRuntime({ memoryBytes: 64 << 20 });
  const table = MembershipTable.create(runtime, members);
  const worker = await GossipWorkerClient.start(runtime, table);
  const codec = new Codec(runtime);
  const prng = new Prng(1);
  const started = performance.now();
  const digests = Math.ceil(members / kEntriesPerDigest);
  let merged = 0;
  let changed = 0;
  let rejected = 0;
  try {
    for (let d = 0; d < digests; d++) {
      const entries: MemberEntry[] = [];
      for (let i = d * kEntriesPerDigest; i < Math.min(members, (d + 1) * kEntriesPerDigest); i++) {
        const bytes = new Uint8Array(16);
        bytes.set([10, (i >> 16) & 255, (i >> 8) & 255, i & 255]);
        entries.push({ id: { high: 0x6a1a, low: i }, address: { family: 4, bytes, port: 7946 }, incarnation: 1, heartbeat: prng.nextInt(1000), status: F.kStatusAlive });
      }
      const seen = worker.resultSignal;
      while (!worker.submitMerge(codec.encode([{ type: F.kTypePushPullDigest, flags: F.kPushPullFlagGossip, entries }]), 0)) {
        worker.flush();
        await worker.waitForResults(seen, 1000);
        drain();
      }
      if (d % 50 === 49 || d === digests - 1) {
        worker.flush();
        print(`  merged digests ${d + 1}/${digests}`);
      }
    }
    while (merged + rejected < digests) {
      const seen = worker.resultSignal;
      worker.flush();
      if (drain() === 0) await worker.waitForResults(seen, 1000);
    }
    const sweepSeen = worker.resultSignal;
    worker.submitSweep(60_000, 9, 100, 3, 30_000);
    worker.flush();
    let silent = -1;
    while (silent < 0) {
      await worker.waitForResults(sweepSeen, 1000);
      worker.drainResults((r) => (silent = r.result));
    }
    const elapsedMs = performance.now() - started;
    print(`  table: ${table.size} members (capacity ${table.capacity}), ${changed} row changes, ${rejected} rejected datagrams, in ${elapsedMs.toFixed(1)} ms`);
    print(`  failure-detector sweep at t=60 s: ${silent} members silent past the 30 s limit (expected ${table.size})`);
    const sample = table.get(table.find({ high: 0x6a1a, low: Math.floor(members / 2) }));
    print(`  read in place: node ${formatNodeId(sample.id)} at ${formatWireAddress(sample.address)} heartbeat ${sample.heartbeat}`);
    print('Next: `npm test` runs the suite; `npm run bench` compares the Wasm and TypeScript kernels with msgpackr and JSON; `galaxy doctor` shows the backends.');
  } finally {
    await worker.stop();
  }

  function drain(): number {
    return worker.drainResults((r) => {
      if (r.result < 0) rejected++;
      else merged++;
      changed += r.pairCount;
    });
  }
}
