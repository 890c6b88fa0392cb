// Proves admission by approval and revocation with real agents in one process (each
// FarmService runs its engine in a worker thread with real UDP/TCP sockets on
// 127.0.0.1): a bootstrapped controller; a new node waits pending and gossips nothing
// until approved, then joins; a rejected node never joins; revoking a node rotates the
// keyring so that datagrams sealed with the old key are refused and counted; decisions
// and the pending queue survive a controller restart, and so does the refusal of the
// revoked node as a sender, on the controller (its authority file) and on a member that
// is no controller (its revoked-senders file).
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCredentials } from '../src/farm/admission/credentials.js';
import { RevokedSenders } from '../src/farm/admission/revoked-senders.js';
import { Keyring } from '../src/node/security/keyring.js';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { keyFingerprint as fp } from '../src/farm/admission/farm-keys.js';
import { admissionServices, alive } from './support/admission-services.js';
import { until } from './support/until.js';

const farm = admissionServices('galaxy-farm-admission-');
const { root, start } = farm;

afterAll(() => farm.closeAll());

describe('admission by approval', () => {
  it('pending, approve, joined; reject; revoke rotates the keyring', async () => {
    const controller = await start('controller', ['controller'], [], { bootstrap: true });
    expect(controller.node().admission).toBe('bootstrap');
    const a = await start('a', [], [controller.host.address]);
    await until('a is pending at the controller', () => controller.admissions().some((r) => r.id === a.host.id && r.status === 'pending'));
    expect(a.node().admission).toBe('pending');
    // A pending node gossips nothing: the controller does not know it as a member.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(controller.members().some((m) => m.id === a.host.id)).toBe(false);

    await controller.approve(a.host.id, undefined, 'test');
    await until('a joins', () => alive(controller, a.host.id) && alive(a, controller.host.id));
    expect(a.node().admission).toBe('approved');
    expect(readCredentials(join(root, 'a'))?.keys.length).toBeGreaterThan(0);

    const r = await start('r', [], [controller.host.address]);
    await until('r is pending', () => controller.admissions().some((x) => x.id === r.host.id && x.status === 'pending'));
    await controller.reject(r.host.id, 'test');
    await until('r learns it is rejected', () => r.node().admission === 'rejected');
    expect(controller.members().some((m) => m.id === r.host.id)).toBe(false);

    const b = await start('b', [], [controller.host.address]);
    await until('b pending', () => controller.admissions().some((x) => x.id === b.host.id && x.status === 'pending'));
    await controller.approve(b.host.id, undefined, 'test');
    await until('b joins everywhere', () => alive(controller, b.host.id) && alive(a, b.host.id));

    const oldKeys = readCredentials(join(root, 'b'))!.keys;
    await controller.revoke(b.host.id, 'test');
    await until('b knows it is revoked', () => b.node().admission === 'revoked');
    await until('the old key is gone everywhere', () => !controller.keyViews().some((k) => k.fingerprint === fp(oldKeys[0]!)) && !a.keyViews().some((k) => k.fingerprint === fp(oldKeys[0]!)), 30_000);
    await until('a still sees the controller alive', () => alive(a, controller.host.id));

    // An intruder holding the revoked node's old keyring: its datagrams are refused and counted.
    const before = (await a.host.stats()).keyring!.authenticationFailed!;
    const socket = createSocket('udp4');
    const old = new Keyring(oldKeys);
    for (let i = 0; i < 10; i++) socket.send(old.seal(randomBytes(64)), Number(a.host.address.split(':')[1]), '127.0.0.1');
    await new Promise((resolve) => setTimeout(resolve, 500));
    socket.close();
    const after = (await a.host.stats()).keyring!.authenticationFailed!;
    expect(after - before).toBeGreaterThanOrEqual(10);

    // The revoking controller refuses the revoked node as a sender (its messenger's
    // directory, and its worker's stack through revokeSender), and so does a controller
    // restarted from its authority file (on a new port, so under a new node id: the
    // authority, not the id, holds the revocation).
    expect(controller.messenger.directory.isRevoked(b.host.id)).toBe(true);
    await controller.close();
    const restarted = await start('controller', ['controller'], [], { bootstrap: true });
    expect(restarted.node().farmCa).toBe(controller.node().farmCa);
    expect(restarted.messenger.directory.isRevoked(b.host.id)).toBe(true);
    expect(restarted.messenger.directory.isRevoked(a.host.id)).toBe(false);

    // A member that is no controller learnt the revocation from the farm-control
    // broadcast and keeps it in its revoked-senders file; restarted (on a new port, so a
    // new node id), it refuses the revoked node from its start, before any controller
    // says so again.
    await until('a refuses b as a sender', () => a.messenger.directory.isRevoked(b.host.id), 30_000);
    expect(RevokedSenders.load(join(root, 'a')).ids).toEqual([b.host.id]);
    await a.close();
    const aRestarted = await start('a', [], [restarted.host.address]);
    expect(aRestarted.messenger.directory.isRevoked(b.host.id)).toBe(true);
    expect(aRestarted.messenger.directory.isRevoked(restarted.host.id)).toBe(false);
  }, 120_000);
});

