/**
 * The gossip worker: owns the membership table's writes and runs the kernels over the
 * shared memory, so merges and sweeps never block the main thread. It sleeps on the
 * inbound ring's wake-up word, drains every record per wake-up, writes one result
 * record per input to the outbound ring, and wakes the main thread once per batch.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createTsKernels } from '../src/core/kernels/ts-kernels.js';
import { createWasmKernels } from '../src/core/kernels/wasm-kernels.js';
import { Runtime } from '../src/core/runtime/runtime.js';
import { MemoryViews } from '../src/core/runtime/memory-views.js';
import { Ring } from '../src/node/threads/ring.js';
import * as P from '../src/node/threads/gossip-worker-protocol.js';
import * as L from '../src/core/table/layout.js';

const data = workerData as P.GossipWorkerData;
const views = new MemoryViews(data.memory.buffer);
const runtime =
  data.module === null
    ? new Runtime(data.memory, createTsKernels(views), 'TypeScript kernels (worker)')
    : new Runtime(data.memory, createWasmKernels(data.memory, data.module).kernels, 'Wasm kernels (worker)');
const kernels = runtime.kernels;
const inbound = new Ring(views, data.inboundRing);
const outbound = new Ring(views, data.outboundRing);
const dv = views.dv;
let running = true;

function writeResult(kind: number, result: number): void {
  const pairs = result >= 0 ? views.i32[(data.out >>> 2) + L.kOutCountField]! : 0;
  const at = outbound.reserve(P.kRecordHeaderBytes + pairs * 8);
  if (at < 0) return; // counted by the ring as refused; the reader sees the gap in its counters
  views.u8[at] = kind;
  dv.setInt32(at + 4, result, true);
  const from = data.out + L.kOutHeaderWords * 4;
  views.u8.copyWithin(at + P.kRecordHeaderBytes, from, from + pairs * 8);
  outbound.commit();
}

function handle(pointer: number, length: number): void {
  const kind = views.u8[pointer]!;
  const nowMs = dv.getUint32(pointer + 4, true);
  if (kind === P.kRecordKindMerge) {
    const packet = pointer + P.kRecordHeaderBytes;
    const result = kernels.mergeDigest(data.tableBase, packet, length - P.kRecordHeaderBytes, data.limit, nowMs, data.out, data.outCapacity);
    writeResult(P.kRecordKindMerged, result);
  } else if (kind === P.kRecordKindSweep) {
    const result = kernels.sweep(
      data.tableBase, nowMs, dv.getFloat64(pointer + 8, true), dv.getFloat64(pointer + 16, true),
      dv.getUint32(pointer + 24, true), dv.getUint32(pointer + 28, true), data.out, data.outCapacity,
    );
    writeResult(P.kRecordKindSwept, result);
  } else if (kind === P.kRecordKindStop) {
    running = false;
  }
}

parentPort?.postMessage({ ready: true, backend: kernels.backend });
while (running) {
  const seen = inbound.signalValue;
  const count = inbound.drain(handle);
  if (count > 0) {
    outbound.signal();
    continue;
  }
  inbound.wait(seen, 1000);
}
outbound.signal();
