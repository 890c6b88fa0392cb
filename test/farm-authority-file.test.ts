// Proves that the farm authority's file is written by the caller of the admission
// controller's step, never inside it: a request that makes a node pending and an
// operator's approval both change the authority while the file on disk stays as it
// was (the step is pure), the authority says it has unsaved changes, and
// AuthorityFile.persist then writes them in one write, after which a fresh load holds
// the pending record and the approval. How: a real controller, a real authority, real
// node keys and a signed request from a real AdmissionClient, in a temporary folder.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AdmissionClient } from '../src/farm/admission/admission-client.js';
import { AdmissionController } from '../src/farm/admission/admission-controller.js';
import { AuthorityFile } from '../src/farm/admission/authority-file.js';
import { FarmAuthority } from '../src/farm/admission/farm-authority.js';
import { generateNodeKeys } from '../src/farm/admission/node-keys.js';

let dir = '';
afterEach(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

function joiningClient(): AdmissionClient {
  return new AdmissionClient({ id: '00000000000000b2', address: '127.0.0.1:7001', roles: [], keys: generateNodeKeys(), seeds: ['127.0.0.1:7000'], pinnedCaFingerprint: null }, null);
}

describe('the farm authority file', () => {
  it('is not written by the controller step; the caller persists the decision before acting on it', () => {
    dir = mkdtempSync(join(tmpdir(), 'galaxy-authority-'));
    const file = new AuthorityFile(join(dir, 'farm-authority.json'));
    const authority = FarmAuthority.create();
    expect(authority.unsaved).toBe(true);
    expect(existsSync(file.path)).toBe(false);
    expect(file.persist(authority)).toBe(true);
    const bootstrapped = readFileSync(file.path, 'utf8');
    expect(authority.unsaved).toBe(false);

    const controller = new AdmissionController('00000000000000a1', authority);
    controller.tick(1_700_000_000_000);
    controller.step({ t: 'request', from: '127.0.0.1:7001', request: joiningClient().request(), controllers: [] });
    // The step decided (the node is pending; an event, an 'asks' and the 'pending' answer are
    // queued) but wrote nothing: the answer must not leave before the caller persists.
    expect(controller.ready().map((o) => o.t)).toEqual(['event', 'asks', 'send']);
    expect(authority.record('00000000000000b2')?.status).toBe('pending');
    expect(authority.unsaved).toBe(true);
    expect(readFileSync(file.path, 'utf8')).toBe(bootstrapped);
    expect(file.load()!.record('00000000000000b2')).toBeUndefined();

    // The operator's approval is a decision too: still nothing on disk until the caller persists.
    controller.approve('00000000000000b2', ['worker'], 'alice');
    expect(readFileSync(file.path, 'utf8')).toBe(bootstrapped);
    expect(file.persist(controller.authority)).toBe(true);
    expect(file.writes).toBe(2);
    controller.advance();
    // Two changes, one write; a persist without changes writes nothing.
    expect(file.persist(controller.authority)).toBe(false);
    const reloaded = file.load()!;
    expect(reloaded.record('00000000000000b2')).toMatchObject({ status: 'approved', roles: ['worker'], decidedBy: 'alice' });
    expect(reloaded.farm).toBe(authority.farm);
    expect(reloaded.fingerprint).toBe(authority.fingerprint);
  });

  it('refuses a corrupt file rather than replacing it', () => {
    dir = mkdtempSync(join(tmpdir(), 'galaxy-authority-'));
    const file = new AuthorityFile(join(dir, 'farm-authority.json'));
    file.persist(FarmAuthority.create());
    const text = readFileSync(file.path, 'utf8');
    rmSync(file.path);
    expect(file.load()).toBeNull();
    writeCorrupt(file.path, text.slice(0, 20));
    expect(() => file.load()).toThrow(expect.objectContaining({ code: 'GALAXY_ADMISSION_CORRUPT' }));
  });
});

function writeCorrupt(path: string, text: string): void {
  // Written directly, not atomically: this is the corruption the loader must catch.
  writeFileSync(path, text);
}
