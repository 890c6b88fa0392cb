/**
 * Where the receive path allocates (`node dist/bench/path-allocations.js [ping|ack]
 * [wasm|ts] [members] [view|batch]`): V8's sampling heap profiler over 20,000 datagrams
 * delivered through bench/path-rig.ts after 30,000 of warm-up, every allocation site with
 * its bytes per datagram and the five frames that led to it. bench:path says how much is
 * allocated; this says where, which is how issue 14's 817 bytes per ping were found
 * (the send path's lists and views, the ACK's encoding, the receive views, the clock's
 * double, the flush's microtask). The profiler samples one allocation every 8 bytes on
 * average, so small figures are estimates; the inspector's own allocations show too.
 */
import { Session } from 'node:inspector/promises';
import { Keyring } from '../src/node/security/keyring.js';
import { PathRig } from './path-rig.js';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const kWarmupDatagrams = 30_000;
const kDatagrams = 20_000;
const kSitesShown = 15;

const kind = process.argv[2] === 'ack' ? 'ack' : 'ping';
const backend = process.argv[3] === 'ts' ? 'ts' : 'wasm';
const members = Number(process.argv[4] ?? 10_000);
const batchOpen = process.argv[5] === 'batch';

const rig = PathRig.create({
  members,
  backend,
  batchOpen,
  sealer: (key) => {
    const keyring = new Keyring([key]);
    return { open: (sealed) => keyring.openView(sealed), seal: (plaintext) => keyring.sealView(plaintext) };
  },
});
rig.deliver(kind, kWarmupDatagrams);
await new Promise((resolve) => setImmediate(resolve));
const session = new Session();
session.connect();
await session.post('HeapProfiler.startSampling', { samplingInterval: 8, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
rig.deliver(kind, kDatagrams);
const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: ProfileNode } };
session.disconnect();
rig.close();

const sites: Array<{ bytes: number; stack: string }> = [];
const walk = (node: ProfileNode, stack: string[]): void => {
  const frame = `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.split('/').slice(-2).join('/')}:${node.callFrame.lineNumber + 1}`;
  const here = [...stack, frame];
  if (node.selfSize > 0) sites.push({ bytes: node.selfSize, stack: here.slice(-5).reverse().join(' < ') });
  for (const child of node.children) walk(child, here);
};
walk(profile.head, []);
sites.sort((a, b) => b.bytes - a.bytes);
const total = sites.reduce((sum, site) => sum + site.bytes, 0);
console.log(`${members} members, ${backend} kernels, sealed ${kind}s, ${batchOpen ? 'batch' : 'per-datagram'} open: about ${(total / kDatagrams).toFixed(1)} bytes allocated per datagram`);
for (const site of sites.slice(0, kSitesShown)) console.log(`${(site.bytes / kDatagrams).toFixed(1).padStart(8)}  ${site.stack}`);
process.exit(0);
