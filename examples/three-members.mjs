// Three farm members embedded in one process: they converge, one closes (a graceful
// leave), and the other two see it leave. Run with `node examples/three-members.mjs` in a
// checkout after `npm run build`, or against an installed galaxy-farm.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFarmNode } from 'galaxy-farm';

const dataRoot = mkdtempSync(join(tmpdir(), 'galaxy-example-'));
// An open lab farm (no admission, no encryption) on loopback, with the fast test timers;
// port 0 lets the OS choose each port.
const start = (name, join) => startFarmNode({ bind: '127.0.0.1:0', join, insecure: true, preset: 'local', dataDir: `${dataRoot}/${name}` });

const a = await start('a', []);
const b = await start('b', [a.address]);
const c = await start('c', [a.address]);
const nodes = [a, b, c];

async function until(what, condition, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const alive = (node) => node.members().filter((m) => m.status === 'alive').length;
await until('every member sees three alive', () => nodes.every((node) => alive(node) === 3));
console.log(`converged: ${nodes.map((n) => `${n.id} at ${n.address}`).join(', ')}`);

// b watches the farm as an async iterator of typed membership events.
const seen = (async () => {
  for await (const event of b.membershipEvents()) {
    if (event.type === 'leave' && event.id === c.id) return event;
  }
  return null;
})();
// a listens the EventEmitter way.
const aSawLeave = new Promise((resolve) => a.on('membership', (event) => event.type === 'leave' && event.id === c.id && resolve(event)));

await c.close();
const [atB, atA] = await Promise.all([seen, aSawLeave]);
console.log(`b saw ${atB.type} of ${atB.id}; a saw ${atA.type} of ${atA.id}`);
await until('a and b see two alive', () => alive(a) === 2 && alive(b) === 2);
console.log('a and b: 2 alive members each');

// The FMIDB: an attribute set on a replicates to b.
a.setAttributes(b.id, { rack: 'r7' });
await until('the attribute reaches b', () => b.attributes(b.id).some((row) => row.attributes.some((attribute) => attribute.key === 'rack' && attribute.value === 'r7')));
console.log(`b holds rack=r7 for itself: ${JSON.stringify(b.query(`SELECT node, rack FROM nodes WHERE node = '${b.id}'`).rows)}`);

await Promise.all([a.close(), b.close()]);
console.log('closed');
