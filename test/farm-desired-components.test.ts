// The farm configuration of components (FMIDB subject farm/components): each node's list
// is the `all` list overlaid by the lists of the landscapes it belongs to, follows
// attribute and landscape changes, refuses bad lists with clear errors, and is not
// ready while a named landscape has not been evaluated. The replica is the FmidbCore the
// agent worker's stack runs, driven in this thread by InProcessFmidb.
import { afterEach, describe, expect, it } from 'vitest';
import { silentAgentLogger } from '../src/node/util/agent-logger.js';
import { FarmData } from '../src/farm/data/farm-data.js';
import { FarmDesiredComponents } from '../src/farm/install/farm-desired-components.js';
import { InProcessFmidb } from '../src/node/driver/in-process-fmidb.js';

const self = '00000000000000aa';
const open: FarmData[] = [];

afterEach(async () => {
  for (const data of open.splice(0)) await data.close();
});

async function settle(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function node(): { data: FarmData; desired: FarmDesiredComponents } {
  const data = new FarmData({ selfId: self, link: new InProcessFmidb({ selfId: self, tickMs: 10 }), publish: () => undefined, logger: silentAgentLogger(), tickMs: 10, landscapeTickMs: 10 });
  open.push(data);
  data.membersChanged([{ id: self, address: '127.0.0.1:1', status: 'alive', incarnation: 1, self: true, tags: {} }]);
  data.start();
  return { data, desired: new FarmDesiredComponents(data, silentAgentLogger()) };
}

describe('farm configuration of components', () => {
  it('gives each node the all list overlaid by its landscapes, and follows changes', async () => {
    const { data, desired } = node();
    let changes = 0;
    desired.onChange(() => changes++);
    await data.setAttributes(self, { role: 'web' });
    await data.defineLandscape('web', { sql: "SELECT node FROM nodes WHERE role = 'web'", mode: 'on-change' });
    await data.defineLandscape('db', { sql: "SELECT node FROM nodes WHERE role = 'db'", mode: 'on-change' });
    await desired.assign('all', [{ name: 'probe', version: '1.0.0' }, { name: 'logs', version: '2.0.0' }]);
    await desired.assign('web', [{ name: 'probe', version: '1.1.0' }, { name: 'proxy', version: '0.3.0' }]);
    await desired.assign('db', [{ name: 'backup', version: '5.0.0' }]);
    expect(desired.current().map((c) => `${c.name}@${c.version}`)).toEqual(['logs@2.0.0', 'probe@1.1.0', 'proxy@0.3.0']);
    expect(desired.assignments().map((a) => a.target)).toEqual(['all', 'db', 'web']);
    const before = changes;

    // The node moves from web to db: its list follows at the next landscape tick.
    await data.setAttributes(self, { role: 'db' });
    await settle(() => desired.current().some((c) => c.name === 'backup'));
    expect(desired.current().map((c) => `${c.name}@${c.version}`)).toEqual(['backup@5.0.0', 'logs@2.0.0', 'probe@1.0.0']);
    expect(changes).toBeGreaterThan(before);

    // Clearing a target removes its components.
    await desired.assign('db', []);
    expect(desired.current().map((c) => c.name)).toEqual(['logs', 'probe']);
  });

  it('refuses bad lists with clear errors', async () => {
    const { desired } = node();
    await expect(desired.assign('no such!', [])).rejects.toThrow(/target is "all" or a landscape name/);
    await expect(desired.assign('all', [{ name: 'Probe', version: '1.0.0' }])).rejects.toThrow(/component name/);
    await expect(desired.assign('all', [{ name: 'probe', version: 'latest' }])).rejects.toThrow(/semantic version/);
    await expect(desired.assign('all', [{ name: 'probe', version: '1.0.0' }, { name: 'probe', version: '1.0.1' }])).rejects.toThrow(/listed twice/);
    await expect(desired.assign('all', [{ name: 'probe', version: '1.0.0', config: { blob: 'x'.repeat(20_000) } }])).rejects.toThrow(/limit is 15000/);
    expect(desired.current()).toEqual([]);
  });

  it('is not ready while a landscape it names is unavailable here, nor before the replica heard from anyone', async () => {
    const { data, desired } = node();
    await data.write([{ subject: 'farm/components', key: 'landscape.later', value: JSON.stringify([{ name: 'probe', version: '1.0.0' }]) }]);
    // A landscape that does not exist names no node.
    expect(desired.current()).toEqual([]);
    // A fresh replica that has heard from nobody is not ready (for 15 s when alone).
    expect(desired.ready()).toBe(false);
  });
});
