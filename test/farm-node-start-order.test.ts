// Regression test for the demo that never converged on the hot-path branch: FarmNode.start
// loaded the API's modules (dynamic imports, hundreds of ms on a loaded host) after
// FarmService.start, when the node already gossips. runFarmAgent subscribes to the node's
// events only once FarmNode.start resolves, so the joins (and the admission) seen in that
// window were never printed, and `galaxy demo`, which counts the printed joins, waited for
// members it had been told nothing about. The modules must be loaded before the node
// starts; with --api off they are not loaded at all.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FarmService } from '../src/farm/service/farm-service.js';
import { FarmNode } from '../src/ops/agent/farm-node.js';
import type { PreparedAgent } from '../src/ops/agent/agent-command.js';

const loaded = vi.hoisted(() => [] as string[]);
vi.mock('../src/ops/api/api-server.js', async (importOriginal) => {
  loaded.push('api-server');
  return await importOriginal();
});

const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Starts a FarmNode whose FarmService.start records what was loaded by then and stops the start there. */
async function loadedWhenTheServiceStarts(api: string | null): Promise<string[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'galaxy-start-order-'));
  dirs.push(dataDir);
  let atServiceStart: string[] | null = null;
  vi.spyOn(FarmService, 'start').mockImplementation(() => {
    atServiceStart = [...loaded];
    return Promise.reject(new Error('stopped at FarmService.start'));
  });
  const prepared = { options: {}, dataDir, farm: { mode: 'insecure', roles: [], bootstrap: false, autoApprove: false, farmCa: null, components: null, api } } as unknown as PreparedAgent;
  await expect(FarmNode.start({ prepared })).rejects.toThrow('stopped at FarmService.start');
  expect(atServiceStart).not.toBeNull();
  return atServiceStart!;
}

describe('FarmNode.start: nothing slow between the node starting and start() returning', () => {
  it('with --api off, the API modules are not loaded', async () => {
    expect(await loadedWhenTheServiceStarts(null)).toEqual([]);
  });

  it('with the API on, its modules are loaded before the node starts gossiping', async () => {
    expect(await loadedWhenTheServiceStarts('127.0.0.1:0')).toEqual(['api-server']);
  });
});
