// Proves the parts of LAN multicast discovery (issue 16, item 6) that do not need a LAN:
// the announcement codec takes exactly `GXD1 ca=<16 hex> gossip=<canonical address>` and
// refuses everything else with a counted reason (oversize, control bytes, a non-canonical
// address, a bad fingerprint, junk); the listener (MulticastDiscovery.receive, fed bytes
// directly, the same method the socket calls) keeps announced addresses as seeds, drops
// another farm's when --farm-ca pins one, drops its own, replaces a wildcard address by the
// sender's, limits each source to one announcement per kSourceMinIntervalMs, keeps at most
// kMulticastSeedsMax seeds (the stalest go), and hands them to SeedDiscovery; and the
// agent's --discovery-multicast flag (and env, and config key) parses a group or refuses a non-multicast one. The
// real datagrams between network-namespace hosts are in test/faults/multicast-discovery.test.ts.
import { describe, expect, it } from 'vitest';
import { decodeAnnouncement, encodeAnnouncement, kAnnouncementBytesMax } from '../src/node/discovery/multicast-announcement.js';
import { kMulticastGroupDefault, kMulticastSeedsMax, kSourceMinIntervalMs, MulticastDiscovery, multicastInterfaceOf, parseMulticastGroup } from '../src/node/discovery/multicast-discovery.js';
import { SeedDiscovery } from '../src/node/discovery/seed-discovery.js';
import { agentInvocation } from '../src/ops/agent/agent-command.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const kCa = '0123456789abcdef';
const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');

function listener(farmCa: string | null = null): MulticastDiscovery {
  return new MulticastDiscovery({ group: kMulticastGroupDefault, interfaceAddress: null, farmCa, self: '10.0.0.9:7946' });
}

describe('the multicast announcement codec', () => {
  it('round-trips IPv4 and full IPv6 addresses within the size bound', () => {
    for (const gossip of ['10.77.0.1:7946', '[2001:db8:0:0:0:0:0:1]:7946', '0.0.0.0:7946']) {
      const encoded = encodeAnnouncement({ farmCa: kCa, gossip });
      expect(encoded.length).toBeLessThanOrEqual(kAnnouncementBytesMax);
      expect(decodeAnnouncement(encoded)).toEqual({ ok: true, announcement: { farmCa: kCa, gossip } });
    }
  });

  it('refuses every other datagram, with a reason', () => {
    const malformed = [
      '',
      'GXD1',
      `GXD2 ca=${kCa} gossip=10.77.0.1:7946`,
      `GXD1 ca=${kCa.toUpperCase()} gossip=10.77.0.1:7946`,
      `GXD1 ca=${kCa}0 gossip=10.77.0.1:7946`,
      `GXD1 ca=${kCa} gossip=10.77.0.1`,
      `GXD1 ca=${kCa} gossip=10.77.0.1:0`,
      `GXD1 ca=${kCa} gossip=10.77.0.01:7946`,
      `GXD1 ca=${kCa} gossip=[2001:db8::1]:7946`,
      `GXD1 ca=${kCa} gossip=10.77.0.1:7946 `,
      `GXD1 ca=${kCa} gossip=10.77.0.1:7946\n`,
      `GXD1 ca=${kCa} gossip=10.77.0.1:7946\u0000`,
      `GXD1  ca=${kCa} gossip=10.77.0.1:7946`,
      `GXD1 ca=${kCa} gossip=host.example:7946`,
    ];
    for (const text of malformed) expect(decodeAnnouncement(bytes(text)), JSON.stringify(text)).toEqual({ ok: false, reason: 'malformed' });
    expect(decodeAnnouncement(Buffer.alloc(kAnnouncementBytesMax + 1, 0x41))).toEqual({ ok: false, reason: 'oversize' });
    expect(() => encodeAnnouncement({ farmCa: 'nothex', gossip: '10.77.0.1:7946' })).toThrow(RangeError);
  });
});

describe('the multicast listener', () => {
  it('keeps announced addresses as seeds, without its own, and counts what it drops', () => {
    const m = listener(kCa);
    const seen: string[][] = [];
    m.onChange((seeds) => seen.push([...seeds]));
    m.receive(encodeAnnouncement({ farmCa: kCa, gossip: '10.77.0.1:7946' }), '10.77.0.1', 0);
    m.receive(encodeAnnouncement({ farmCa: 'fedcba9876543210', gossip: '10.77.0.2:7946' }), '10.77.0.2', 0);
    m.receive(encodeAnnouncement({ farmCa: kCa, gossip: '10.0.0.9:7946' }), '10.0.0.9', 0);
    m.receive(bytes('junk'), '10.77.0.3', 0);
    m.receive(Buffer.alloc(4000), '10.77.0.4', 0);
    m.receive(encodeAnnouncement({ farmCa: kCa, gossip: '0.0.0.0:7950' }), '10.77.0.5', 0);
    // Heard again: no new seed, so no new report.
    m.receive(encodeAnnouncement({ farmCa: kCa, gossip: '10.77.0.1:7946' }), '10.77.0.1', kSourceMinIntervalMs);
    expect(m.seeds()).toEqual(['10.77.0.5:7950', '10.77.0.1:7946']);
    expect(seen).toEqual([['10.77.0.1:7946'], ['10.77.0.1:7946', '10.77.0.5:7950']]);
    expect(m.counters).toMatchObject({ received: 7, accepted: 3, foreign: 1, malformed: 1, oversize: 1, limited: 0 });
  });

  it('without a pinned farm authority takes any farm\'s announcement (trust on first use, as admission)', () => {
    const m = listener(null);
    m.receive(encodeAnnouncement({ farmCa: 'fedcba9876543210', gossip: '10.77.0.2:7946' }), '10.77.0.2', 0);
    expect(m.seeds()).toEqual(['10.77.0.2:7946']);
  });

  it('limits each source to one announcement per interval, and bounds the seeds kept', () => {
    const m = listener(kCa);
    for (let i = 0; i < 10; i++) m.receive(encodeAnnouncement({ farmCa: kCa, gossip: '10.77.0.1:7946' }), '10.77.0.1', i);
    expect(m.counters).toMatchObject({ received: 10, accepted: 1, limited: 9 });
    for (let i = 0; i < kMulticastSeedsMax + 5; i++) m.receive(encodeAnnouncement({ farmCa: kCa, gossip: `10.78.${i >> 8}.${i & 255}:7946` }), `10.78.${i >> 8}.${i & 255}`, 1000);
    const seeds = m.seeds();
    expect(seeds).toHaveLength(kMulticastSeedsMax);
    // The stalest went first: the first announcer and the first five of the burst.
    expect(seeds[0]).toBe('10.78.0.5:7946');
    expect(seeds.at(-1)).toBe(`10.78.0.${kMulticastSeedsMax + 4}:7946`);
  });

  it('feeds SeedDiscovery, which counts it as a source', async () => {
    const m = listener(kCa);
    const discovery = new SeedDiscovery({ join: ['10.0.0.1:7946'], seedsFile: null, seedsSrv: null, dnsServers: [], self: '10.0.0.9:7946', multicast: m });
    expect(discovery.active).toBe(true);
    m.receive(encodeAnnouncement({ farmCa: kCa, gossip: '10.77.0.1:7946' }), '10.77.0.1', 0);
    expect((await discovery.resolve()).addresses).toEqual(['10.0.0.1:7946', '10.77.0.1:7946']);
    expect(new SeedDiscovery({ join: [], seedsFile: null, seedsSrv: null, dnsServers: [], self: '10.0.0.9:7946' }).active).toBe(false);
  });
});

describe('--discovery-multicast', () => {
  it('takes the default group, a given group, or refuses a non-multicast one', () => {
    const base = { bind: '10.77.0.2:7946', dataDir: tmpdir() };
    expect(agentInvocation({ ...base, discoveryMulticast: true }, {}).discovery.multicast).toEqual({ group: '239.255.77.1', port: 7945 });
    expect(agentInvocation({ ...base, discoveryMulticast: '239.1.2.3:9000' }, {}).discovery.multicast).toEqual({ group: '239.1.2.3', port: 9000 });
    expect(agentInvocation(base, { GALAXY_DISCOVERY_MULTICAST: '1' }).discovery.multicast).toEqual(kMulticastGroupDefault);
    expect(agentInvocation(base, {}).discovery.multicast).toBeNull();
    const config = join(mkdtempSync(join(tmpdir(), 'galaxy-multicast-')), 'agent.yaml');
    writeFileSync(config, 'discoveryMulticast: "239.1.2.4:9001"\n');
    expect(agentInvocation({ ...base, config }, {}).discovery.multicast).toEqual({ group: '239.1.2.4', port: 9001 });
    expect(() => agentInvocation({ ...base, discoveryMulticast: '10.0.0.1:7945' }, {})).toThrow(/--discovery-multicast takes/);
    expect(parseMulticastGroup('240.0.0.1:7945')).toBeNull();
    expect(multicastInterfaceOf('10.77.0.2:7946')).toBe('10.77.0.2');
    expect(multicastInterfaceOf('0.0.0.0:7946')).toBeNull();
  });
});
