// The FMIDB snapshot of an agent (fmidb.json in its data directory): saved at close,
// loaded at start (attributes, landscape definitions and who wrote them), a damaged
// file set aside with the node starting empty, and a restored node that does not come
// back into membership within the grace period departed like any node that left.
// FarmData is the replica's operator here as in the agent; the replica (the same
// FmidbCore the agent worker's NodeStack runs) is driven in this thread by InProcessFmidb.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentAgentLogger } from '../src/node/util/agent-logger.js';
import { FarmData } from '../src/farm/data/farm-data.js';
import { InProcessFmidb } from '../src/node/driver/in-process-fmidb.js';

const self = '00000000000000aa';
const gone = '00000000000000bb';

async function open(file: string, restoredGraceMs = 60_000): Promise<FarmData> {
  const data = new FarmData({ selfId: self, link: new InProcessFmidb({ selfId: self, tickMs: 10 }), publish: () => undefined, logger: silentAgentLogger(), tickMs: 10, landscapeTickMs: 10, snapshotFile: file, restoredGraceMs });
  data.membersChanged([{ id: self, address: '127.0.0.1:1', status: 'alive', incarnation: 1, self: true, tags: {} }]);
  // The replica's updates arrive a turn later, as the worker's do.
  await new Promise((resolve) => setTimeout(resolve, 0));
  return data;
}

describe('FMIDB snapshot', () => {
  it('saves at close and loads at start; a node that does not come back is departed after the grace period', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'galaxy-snapshot-')), 'fmidb.json');
    const first = await open(file);
    await first.setAttributes(self, { rack: 'r1' });
    await first.setAttributes(gone, { rack: 'r1', room: 'b' });
    await first.defineLandscape('r1', { sql: "SELECT node FROM nodes WHERE rack = 'r1'", mode: 'on-change' });
    const digest = (await first.status()).digest;
    await first.close();
    expect(existsSync(file)).toBe(true);

    const second = await open(file, 1500);
    expect((await second.status()).digest).toBe(digest);
    expect(second.attributes(gone)[0]!.attributes.map((a) => `${a.key}=${a.value}`)).toEqual(['rack=r1', 'room=b']);
    second.start();
    let deadline = Date.now() + 1000;
    while (second.showLandscape('r1').members.length < 2) {
      if (Date.now() > deadline) throw new Error('the restored landscape was never evaluated');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(second.showLandscape('r1').members).toEqual([self, gone]);
    // gone never shows up in membership: after the grace its record is departed and leaves the landscape.
    deadline = Date.now() + 5000;
    while (second.showLandscape('r1').members.includes(gone)) {
      if (Date.now() > deadline) throw new Error('the restored node was never departed');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(second.attributes(gone)[0]!.attributes).toEqual([]);
    expect(second.showLandscape('r1').members).toEqual([self]);
    await second.close();
  });

  it('sets a damaged snapshot aside and starts empty', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'galaxy-snapshot-')), 'fmidb.json');
    writeFileSync(file, '{"format":1,"savedAt":1,"origins":[{"origin":"x"');
    const data = await open(file);
    expect(existsSync(`${file}.bad`)).toBe(true);
    expect(data.attributes(undefined)).toEqual([]);
    await data.close();
  });
});
