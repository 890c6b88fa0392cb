// The farm configuration of components (FMIDB subject farm/components): each node's list
// is the `all` list overlaid by the lists of the landscapes it belongs to, follows
// attribute and landscape changes, refuses bad lists with clear errors, and is not
// ready while a named landscape has not been evaluated.
import { afterEach, describe, expect, it } from 'vitest';
import { silentAgentLogger } from '../src/node/util/agent-logger.js';
import { FarmData } from '../src/farm/data/farm-data.js';
import { FarmDesiredComponents } from '../src/farm/install/farm-desired-components.js';

const self = '00000000000000aa';
const open: FarmData[] = [];

afterEach(() => {
  for (const data of open.splice(0)) data.close();
});

async function settle(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function node(): { data: FarmData; desired: FarmDesiredComponents } {
  const data = new FarmData({ selfId: self, send: () => true, publish: () => undefined, logger: silentAgentLogger(), tickMs: 10, landscapeTickMs: 10 });
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
    data.setAttributes(self, { role: 'web' });
    data.defineLandscape('web', { sql: "SELECT node FROM nodes WHERE role = 'web'", mode: 'on-change' });
    data.defineLandscape('db', { sql: "SELECT node FROM nodes WHERE role = 'db'", mode: 'on-change' });
    desired.assign('all', [{ name: 'probe', version: '1.0.0' }, { name: 'logs', version: '2.0.0' }]);
    desired.assign('web', [{ name: 'probe', version: '1.1.0' }, { name: 'proxy', version: '0.3.0' }]);
    desired.assign('db', [{ name: 'backup', version: '5.0.0' }]);
    expect(desired.current().map((c) => `${c.name}@${c.version}`)).toEqual(['logs@2.0.0', 'probe@1.1.0', 'proxy@0.3.0']);
    expect(desired.assignments().map((a) => a.target)).toEqual(['all', 'db', 'web']);
    const before = changes;

    // The node moves from web to db: its list follows at the next landscape tick.
    data.setAttributes(self, { role: 'db' });
    await settle(() => desired.current().some((c) => c.name === 'backup'));
    expect(desired.current().map((c) => `${c.name}@${c.version}`)).toEqual(['backup@5.0.0', 'logs@2.0.0', 'probe@1.0.0']);
    expect(changes).toBeGreaterThan(before);

    // Clearing a target removes its components.
    desired.assign('db', []);
    expect(desired.current().map((c) => c.name)).toEqual(['logs', 'probe']);
  });

  it('refuses bad lists with clear errors', () => {
    const { desired } = node();
    expect(() => desired.assign('no such!', [])).toThrow(/target is "all" or a landscape name/);
    expect(() => desired.assign('all', [{ name: 'Probe', version: '1.0.0' }])).toThrow(/component name/);
    expect(() => desired.assign('all', [{ name: 'probe', version: 'latest' }])).toThrow(/semantic version/);
    expect(() => desired.assign('all', [{ name: 'probe', version: '1.0.0' }, { name: 'probe', version: '1.0.1' }])).toThrow(/listed twice/);
    expect(() => desired.assign('all', [{ name: 'probe', version: '1.0.0', config: { blob: 'x'.repeat(20_000) } }])).toThrow(/limit is 15000/);
    expect(desired.current()).toEqual([]);
  });

  it('is not ready while a landscape it names is unavailable here, nor before the replica heard from anyone', async () => {
    const { data, desired } = node();
    data.replica.set('farm/components', 'landscape.later', JSON.stringify([{ name: 'probe', version: '1.0.0' }]));
    data.flush();
    // A landscape that does not exist names no node.
    expect(desired.current()).toEqual([]);
    // A fresh replica that has heard from nobody is not ready (for 15 s when alone).
    expect(desired.ready()).toBe(false);
  });
});
