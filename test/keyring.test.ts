// Proves the farm keyring: AES-256-GCM sealing round-trips; the primary key encrypts and
// every installed key decrypts, so a rotation (install, use, remove) never strands a
// member; tampered, truncated, foreign-key and wrong-version messages are refused and
// counted; bad keys and misuse get coded errors. Then with real agents: two sharing a
// key converge, and one holding another key never joins and its datagrams are counted
// as failing authentication.
import { afterAll, describe, expect, it } from 'vitest';
import { AgentHost } from '../src/node/driver/agent-host.js';
import { Keyring, kSealOverheadBytes } from '../src/node/security/keyring.js';
import { until } from './support/net.js';

describe('keyring', () => {
  const k1 = Keyring.generateKey();
  const k2 = Keyring.generateKey();

  it('seals and opens; refuses and counts anything no key authenticates', () => {
    const a = new Keyring([k1]);
    const sealed = a.seal(new TextEncoder().encode('ping'));
    expect(sealed.length).toBe(4 + kSealOverheadBytes);
    expect(new TextDecoder().decode(a.open(sealed)!)).toBe('ping');
    const tampered = Buffer.from(sealed);
    tampered[sealed.length - 20]! ^= 1;
    expect(a.open(tampered)).toBeNull();
    expect(a.open(sealed.subarray(0, 10))).toBeNull();
    const versioned = Buffer.from(sealed);
    versioned[0] = 9;
    expect(a.open(versioned)).toBeNull();
    expect(new Keyring([k2]).open(sealed)).toBeNull();
    expect(a.counters).toMatchObject({ sealed: 1, opened: 1, authenticationFailed: 1, malformed: 2 });
  });

  it('rotates without stranding anyone: install, use, remove', () => {
    const oldNode = new Keyring([k1]);
    const rotating = new Keyring([k1]);
    rotating.install(k2);
    expect(oldNode.open(rotating.seal(Buffer.of(1)))).not.toBeNull(); // still sealed with k1
    rotating.use(k2);
    expect(rotating.list()[0]).toBe(k2);
    oldNode.install(k2);
    expect(oldNode.open(rotating.seal(Buffer.of(2)))).not.toBeNull();
    expect(rotating.open(oldNode.seal(Buffer.of(3)))).not.toBeNull();
    rotating.remove(k1);
    expect(rotating.open(oldNode.seal(Buffer.of(4)))).toBeNull();
    expect(() => rotating.remove(k2)).toThrow(expect.objectContaining({ code: 'GALAXY_KEYRING_PRIMARY' }));
    expect(() => rotating.use(k1)).toThrow(expect.objectContaining({ code: 'GALAXY_KEYRING_UNKNOWN_KEY' }));
    expect(() => new Keyring(['c2hvcnQ='])).toThrow(expect.objectContaining({ code: 'GALAXY_KEYRING_BAD_KEY' }));
    expect(() => new Keyring([])).toThrow(expect.objectContaining({ code: 'GALAXY_KEYRING_EMPTY' }));
  });
});

describe('agents with a farm keyring', () => {
  const hosts: AgentHost[] = [];
  afterAll(async () => {
    await Promise.all(hosts.map((h) => h.stop().catch(() => undefined)));
  });

  it('members sharing the key converge; a node with another key never joins and is counted', async () => {
    const farmKey = Keyring.generateKey();
    const a = await AgentHost.start({ bind: '127.0.0.1:0', preset: 'local', keys: [farmKey] });
    hosts.push(a);
    const b = await AgentHost.start({ bind: '127.0.0.1:0', preset: 'local', keys: [farmKey], join: [a.address] });
    hosts.push(b);
    const intruder = await AgentHost.start({ bind: '127.0.0.1:0', preset: 'local', keys: [Keyring.generateKey()], join: [a.address] });
    hosts.push(intruder);
    const aliveAt = (h: AgentHost) => h.members().filter((m) => m.status === 'alive').map((m) => m.address);
    await until(() => aliveAt(a).includes(b.address) && aliveAt(b).includes(a.address), 10_000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(aliveAt(a)).not.toContain(intruder.address);
    expect(aliveAt(intruder)).not.toContain(a.address);
    const stats = await a.stats();
    expect(stats.keyring!.authenticationFailed).toBeGreaterThan(0);
  });
});
