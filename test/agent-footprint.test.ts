// What an agent loads only when it needs it (issue 14: an agent's RSS), on a real agent
// process: SQLite (the landscapes' mirror) is not mapped into an agent with no landscape,
// even with its API on and an attribute written; a landscape defined through the CLI then
// loads it, and the mirror, filled from the FMIDB at that moment, selects the node by the
// attribute written before it existed.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, killAllAgents } from './support/agents.js';
import { eventually, galaxy, startApiAgent } from './support/api-agents.js';

afterAll(() => killAllAgents());

const mapped = (pid: number): string => readFileSync(`/proc/${pid}/maps`, 'utf8');

describe.skipIf(!existsSync('/proc/self/maps'))('an agent loads SQLite only for a landscape (real agent process)', () => {
  it('maps no SQLite until a landscape is defined; the landscape then sees values written before', async () => {
    const a = await startApiAgent(`127.0.0.1:${await freePort()}`, [], randomBytes(32).toString('base64'));
    const pid = a.agent.child.pid!;
    const set = galaxy(a, 'attr', 'set', a.id, 'rack=r7');
    expect(set.status, set.stderr).toBe(0);
    await eventually('the attribute is in the view', async () => galaxy(a, 'attr', 'get', a.id).stdout, (out) => out.includes('r7'));
    expect(mapped(pid)).not.toContain('better_sqlite3');

    const create = galaxy(a, 'landscape', 'create', 'r7', '--sql', "SELECT node FROM nodes WHERE rack = 'r7'");
    expect(create.status, create.stderr).toBe(0);
    expect(mapped(pid)).toContain('better_sqlite3');
    const show = galaxy(a, 'landscape', 'show', 'r7');
    expect(show.status, show.stderr).toBe(0);
    expect(show.stdout).toContain(a.id);
  }, 60_000);
});
