// One transport suite, run against both the native transport and the node:dgram one
// through a factory table (describe.each), so the two meet one contract: datagrams
// round-trip byte-exact in both directions and in bursts, over IPv4 and IPv6 loopback,
// with the sender named in the engine's canonical form; bytes are copied before send()
// returns; bad addresses, wrong families, datagrams over the bound or over the kernel's
// UDP limit (EMSGSIZE), inbound datagrams over the bound and sends after close are
// counted under stable codes, never thrown; close is idempotent; bad options and busy
// ports are refused with clear messages. A further test runs one script of sends through
// both and checks that they count the same drops. Then what differs: a send to a closed
// loopback port becomes onUnreachable evidence naming exactly that address on the native
// transport (IPv4 and IPv6, within 1 s), while node:dgram on an unconnected socket never
// sees the ICMP error (Node sets no IP_RECVERR), so the agent falls back on SWIM probes.
// With a fake addon, what loopback cannot provoke: compressed IPv6 peers normalised to
// the engine's form, one report per peer per wake-up, policy rejections ignored, and the
// kernel's EAGAIN/ENOBUFS and EMSGSIZE drops folded into the counters. Last, the pure
// parts: which error-queue records count as evidence, and how the transport is chosen
// (auto, native, dgram, GALAXY_NO_NATIVE=1).
import { constants as osConstants } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { closedLoopbackPort, hasIpv6Loopback, until } from './support/net.js';
import { NativeUdpSocket } from '../src/node/native/native-udp-socket.js';
import type { NativeStatus, NativeUdpErrorRecord, NativeUdpErrorsCallback, NativeUdpMessagesCallback, NativeUdpSocketStats } from '../src/node/native/loader.js';
import type { DatagramTransport } from '../src/node/transport/datagram-transport.js';
import { DgramTransport } from '../src/node/transport/dgram-transport.js';
import { errorRecordMeaning, NativeTransport } from '../src/node/transport/native-transport.js';
import { openDatagramTransport, transportDecision } from '../src/node/transport/select-transport.js';
import { parseSocketAddress } from '../src/node/transport/socket-address.js';

interface FactoryOptions {
  datagramBytesMax?: number;
}
type Factory = (bind: string, options?: FactoryOptions) => Promise<DatagramTransport>;

const open: DatagramTransport[] = [];
const nativeAvailable = NativeUdpSocket.available().available;

const factories: Array<[string, Factory, boolean]> = [
  ['native', async (bind, options) => NativeTransport.open(bind, options), nativeAvailable],
  ['dgram', (bind, options) => DgramTransport.open(bind, options), true],
];

/** An address nothing listens on, in the engine's canonical form. */
async function closedPort(host: '127.0.0.1' | '::1'): Promise<string> {
  const port = await closedLoopbackPort(host === '::1' ? 'udp6' : 'udp4');
  return parseSocketAddress(host === '::1' ? `[::1]:${port}` : `127.0.0.1:${port}`)!.text;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

describe.each(factories)('%s transport', (kind, factory, available) => {
  const bind = async (address = '127.0.0.1:0', options: FactoryOptions = {}) => {
    const t = await factory(address, options);
    open.push(t);
    return t;
  };

  it.skipIf(!available)('round-trips bursts byte-exact both ways and names senders canonically', async () => {
    const a = await bind();
    const b = await bind();
    expect(a.kind).toBe(kind);
    expect(a.address).toMatch(/^127\.0\.0\.1:\d+$/);
    const got: Record<string, number[][]> = { a: [], b: [] };
    a.onMessage((from, bytes) => {
      expect(from).toBe(b.address);
      got.a!.push([...bytes]);
    });
    b.onMessage((from, bytes) => {
      expect(from).toBe(a.address);
      got.b!.push([...bytes]);
    });
    const kBurst = 500;
    const payload = new Uint8Array(300);
    let bytesToB = 0;
    for (let i = 0; i < kBurst; i++) {
      payload.fill(i & 0xff);
      payload[1] = i >> 8;
      b.send(a.address, payload);
      a.send(b.address, payload.subarray(0, 1 + (i % 50)));
      bytesToB += 1 + (i % 50);
    }
    payload.fill(0); // copied before send() returned
    await until(() => got.a!.length === kBurst && got.b!.length === kBurst);
    for (let i = 0; i < kBurst; i++) {
      expect(got.a![i]!.length).toBe(300);
      expect(got.a![i]![0]).toBe(i & 0xff);
      expect(got.a![i]![1]).toBe(i >> 8);
      expect(got.b![i]!.length).toBe(1 + (i % 50));
    }
    await until(() => a.counters.sent === kBurst && b.counters.sent === kBurst);
    expect(a.counters.bytesSent).toBe(bytesToB);
    expect(b.counters.bytesReceived).toBe(bytesToB);
    expect(a.counters.received).toBe(kBurst);
    expect(a.counters.dropped + b.counters.dropped).toBe(0);
  });

  it.skipIf(!available)('speaks IPv6 both ways with the fully written-out address form', async () => {
    if (!(await hasIpv6Loopback())) return;
    const a = await bind('[::1]:0');
    const b = await bind('[::1]:0');
    expect(a.address).toMatch(/^\[0:0:0:0:0:0:0:1\]:\d+$/);
    const got: Array<[string, number[]]> = [];
    a.onMessage((from, bytes) => got.push([from, [...bytes]]));
    b.onMessage((from, bytes) => got.push([from, [...bytes]]));
    b.send(a.address, new Uint8Array([1, 2]));
    a.send(b.address, new Uint8Array([3]));
    await until(() => got.length === 2);
    expect(got).toContainEqual([b.address, [1, 2]]);
    expect(got).toContainEqual([a.address, [3]]);
  });

  it.skipIf(!available)('counts bad sends under stable codes, never throws, and closes idempotently', async () => {
    const a = await bind();
    const other = await bind();
    let delivered = 0;
    other.onMessage(() => delivered++);
    expect(() => a.send('nonsense', new Uint8Array(1))).not.toThrow();
    expect(() => a.send('127.0.0.1:0', new Uint8Array(1))).not.toThrow();
    expect(() => a.send('[::1]:7946', new Uint8Array(1))).not.toThrow();
    expect(() => a.send(other.address, new Uint8Array(70_000))).not.toThrow();
    expect(a.counters.droppedOf('GALAXY_TRANSPORT_BAD_ADDRESS')).toBe(2);
    expect(a.counters.droppedOf('GALAXY_TRANSPORT_FAMILY_MISMATCH')).toBe(1);
    expect(a.counters.droppedOf('GALAXY_TRANSPORT_TOO_LARGE')).toBe(1);
    await a.close();
    await a.close();
    expect(() => a.send(other.address, new Uint8Array(1))).not.toThrow();
    expect(a.counters.droppedOf('GALAXY_TRANSPORT_CLOSED')).toBe(1);
    expect(a.counters.lastFailure?.code).toBe('GALAXY_TRANSPORT_CLOSED');
    await sleep(50);
    expect(delivered).toBe(0);
  });

  it.skipIf(!available)("counts a datagram over the kernel's UDP payload limit as EMSGSIZE", async () => {
    const a = await bind('127.0.0.1:0', { datagramBytesMax: 65_535 });
    const other = await bind();
    expect(() => a.send(other.address, new Uint8Array(65_535))).not.toThrow();
    await until(() => a.counters.droppedOf('GALAXY_TRANSPORT_TOO_LARGE') === 1);
    expect(a.counters.lastFailure?.detail).toMatch(/EMSGSIZE/);
    expect(a.counters.sent).toBe(0);
  });

  it.skipIf(!available)('drops inbound datagrams over its bound before the engine sees them', async () => {
    const a = await bind('127.0.0.1:0', { datagramBytesMax: 100 });
    const b = await bind('127.0.0.1:0', { datagramBytesMax: 1000 });
    const sizes: number[] = [];
    a.onMessage((_from, bytes) => sizes.push(bytes.length));
    b.send(a.address, new Uint8Array(500));
    b.send(a.address, new Uint8Array(50));
    await until(() => sizes.length === 1);
    await until(() => a.counters.droppedOf('GALAXY_TRANSPORT_TOO_LARGE') === 1);
    expect(sizes).toEqual([50]);
  });

  it.skipIf(!available)('refuses bad options and busy ports with clear messages', async () => {
    await expect(factory('127.0.0.1:0', { datagramBytesMax: 0 })).rejects.toThrow(/options\.datagramBytesMax must be an integer from 1 to 65535/);
    await expect(factory('127.0.0.1:0', { bogus: 1 } as FactoryOptions)).rejects.toThrow(/unknown .* transport option "bogus"/);
    await expect(factory('host:1')).rejects.toThrow(/bind address must be/);
    const a = await bind();
    await expect(factory(a.address)).rejects.toThrow(/cannot bind UDP .*EADDRINUSE/);
  });

  for (const host of ['127.0.0.1', '::1'] as const) {
    it.skipIf(!available)(`${kind === 'native' ? 'reports' : 'cannot see'} an ICMP port unreachable from a closed port on ${host}`, async () => {
      if (host === '::1' && !(await hasIpv6Loopback())) return;
      const a = await bind(host === '::1' ? '[::1]:0' : '127.0.0.1:0');
      const target = await closedPort(host);
      const evidence: string[] = [];
      a.onUnreachable((to) => evidence.push(to));
      const sentAt = performance.now();
      a.send(target, new Uint8Array([9]));
      if (kind === 'native') {
        await until(() => evidence.length > 0, 1000);
        console.log(`native ${host}: ICMP evidence ${(performance.now() - sentAt).toFixed(2)} ms after the send`);
        expect(evidence).toEqual([target]);
        expect(a.counters.droppedOf('GALAXY_TRANSPORT_UNREACHABLE')).toBe(1);
      } else {
        // node:dgram cannot see it: Node sets no IP_RECVERR, and Linux reports ICMP
        // errors on an unconnected UDP socket only through the error queue.
        await sleep(300);
        expect(evidence).toEqual([]);
      }
    });
  }
});

describe('native and dgram agree', () => {
  it.skipIf(!nativeAvailable)('count the same drops under the same codes for one script of sends', async () => {
    const snapshots = [];
    for (const [, factory] of factories) {
      const a = await factory('127.0.0.1:0', { datagramBytesMax: 1000 });
      const b = await factory('127.0.0.1:0');
      open.push(a, b);
      let delivered = 0;
      b.onMessage(() => delivered++);
      for (const [to, length] of [[b.address, 10], ['x', 1], ['[::1]:1', 1], [b.address, 1001], ['1.2.3.4:0', 1], [b.address, 1000]] as const) a.send(to, new Uint8Array(length));
      await until(() => delivered === 2 && a.counters.sent === 2);
      await a.close();
      a.send(b.address, new Uint8Array(1));
      const { droppedByCode, sent, bytesSent } = a.counters.snapshot();
      snapshots.push({ droppedByCode, sent, bytesSent });
    }
    expect(snapshots[0]).toEqual(snapshots[1]);
  });
});

describe('native transport only', () => {
  it.skipIf(!nativeAvailable)('reports a peer once per wake-up however many of its datagrams bounced', async () => {
    const a = NativeTransport.open('127.0.0.1:0');
    open.push(a);
    const target = await closedPort('127.0.0.1');
    const evidence: string[] = [];
    a.onUnreachable((to) => evidence.push(to));
    for (let i = 0; i < 20; i++) a.send(target, new Uint8Array([i]));
    await until(() => a.errorQueue.unreachable === 20, 1000);
    expect(new Set(evidence)).toEqual(new Set([target]));
    expect(evidence.length).toBeLessThan(20);
  });

  it('normalises addresses, reports evidence once, and folds the kernel\'s EAGAIN/ENOBUFS and EMSGSIZE drops into its counters (fake addon)', () => {
    // A fake UdpSocket stands in for the addon so that what loopback cannot provoke (a full
    // send buffer, EMSGSIZE inside sendmmsg, a compressed IPv6 peer, policy rejections)
    // can be fed to the transport exactly.
    const stats: Record<keyof NativeUdpSocketStats, number> = {
      received: 0, receiveBatches: 0, truncated: 0, sent: 0, sendBatches: 0, sendDropped: 0, sendInvalidAddress: 0, sendTooLarge: 0,
      sendFailed: 0, errQueueRecords: 0, errorsUnknown: 0, eagain: 0, pollWakeUps: 0, pollErrorWakeUps: 0, pollPrioritizedWakeUps: 0, sendQueued: 0,
    };
    let deliverErrors: NativeUdpErrorsCallback = () => {};
    let deliverMessages: NativeUdpMessagesCallback = () => {};
    const queued: string[] = [];
    class FakeUdpSocket {
      readonly receiveBuffer = Buffer.alloc(0);
      readonly localAddress = '[::1]:4000';
      readonly closed = false;
      readonly kernelBufferBytes = { receive: 0, send: 0 };
      constructor(_options: unknown, onMessages: NativeUdpMessagesCallback, onErrors: NativeUdpErrorsCallback) {
        deliverMessages = onMessages;
        deliverErrors = onErrors;
      }
      queue(address: string): boolean {
        queued.push(address);
        return true;
      }
      flush(): number {
        return 0;
      }
      stats(): NativeUdpSocketStats {
        return { ...stats };
      }
      close(): void {}
      ref(): void {}
      unref(): void {}
    }
    const capabilities = { addonVersion: 1, platform: 'linux', ipRecvErr: true, ipv6RecvErr: true, recvmmsg: true, sendmmsg: true, errQueue: true, soTimestampNs: false, reasons: [] };
    const status = { loaded: true, addon: { addonVersion: 1, capabilities: () => capabilities, probeErrQueue: () => ({ ok: false, reason: 'fake' }), UdpSocket: FakeUdpSocket }, capabilities, path: 'fake' } as unknown as NativeStatus;
    const t = NativeTransport.open('[::1]:0', {}, status);
    const peer = '[0:0:0:0:0:0:0:1]:5000';
    expect(t.address).toBe('[0:0:0:0:0:0:0:1]:4000');

    const from: string[] = [];
    t.onMessage((f) => from.push(f));
    deliverMessages(1, Buffer.alloc(8), Uint32Array.of(8), ['[::1]:5000']);
    expect(from).toEqual([peer]);

    for (let i = 0; i < 10; i++) t.send(peer, new Uint8Array(100));
    expect(queued).toEqual(Array(10).fill(peer));
    stats.sendDropped = 3; // the kernel pushed back on three (EAGAIN or ENOBUFS)
    stats.sendTooLarge = 1; // and refused one with EMSGSIZE
    expect(t.counters.sent).toBe(6);
    expect(t.counters.bytesSent).toBe(600);
    expect(t.counters.droppedOf('GALAXY_TRANSPORT_SEND_FAILED')).toBe(3);
    expect(t.counters.droppedOf('GALAXY_TRANSPORT_TOO_LARGE')).toBe(1);
    expect(t.counters.snapshot().droppedByCode).toEqual({ GALAXY_TRANSPORT_SEND_FAILED: 3, GALAXY_TRANSPORT_TOO_LARGE: 1 }); // folded once, not at every read

    const evidence: string[] = [];
    t.onUnreachable((to) => evidence.push(to));
    const record = (icmpType: number, icmpCode: number, address = '::1'): NativeUdpErrorRecord => ({ address, port: 5000, peer: `[${address}]:5000`, errno: 0, origin: 'icmp6', icmpType, icmpCode, info: 0, offender: '' });
    deliverErrors([record(1, 4), record(1, 4), record(1, 1, '::2'), record(2, 0, '::3'), { ...record(1, 4), peer: '' }]);
    expect(evidence).toEqual([peer]);
    expect(t.errorQueue).toEqual({ unreachable: 2, tooLarge: 1, noRoute: 0, ignored: 2 });
    expect(t.counters.droppedOf('GALAXY_TRANSPORT_UNREACHABLE')).toBe(2);
    void t.close();
  });

  it('classifies error-queue records: only "gone" becomes evidence', () => {
    const record = (origin: NativeUdpErrorRecord['origin'], icmpType: number, icmpCode: number, errno = 0) => ({ origin, icmpType, icmpCode, errno });
    const { ECONNREFUSED, EMSGSIZE, EHOSTUNREACH, ENETUNREACH, EPERM } = osConstants.errno;
    const cases: Array<[ReturnType<typeof record>, string]> = [
      [record('icmp', 3, 0), 'unreachable'], // network unreachable
      [record('icmp', 3, 1), 'unreachable'], // host unreachable (also ARP failure)
      [record('icmp', 3, 3), 'unreachable'], // port unreachable: the process died
      [record('icmp', 3, 2), 'ignored'], // protocol unreachable
      [record('icmp', 3, 4), 'too-large'], // fragmentation needed
      [record('icmp', 3, 9), 'ignored'], // administratively prohibited: policy, not absence
      [record('icmp', 3, 10), 'ignored'],
      [record('icmp', 3, 13), 'ignored'],
      [record('icmp', 11, 0), 'ignored'], // time exceeded
      [record('icmp6', 1, 0), 'unreachable'], // no route
      [record('icmp6', 1, 3), 'unreachable'], // address unreachable
      [record('icmp6', 1, 4), 'unreachable'], // port unreachable
      [record('icmp6', 1, 1), 'ignored'], // administratively prohibited
      [record('icmp6', 1, 5), 'ignored'], // source address failed policy
      [record('icmp6', 1, 6), 'ignored'], // reject route
      [record('icmp6', 2, 0), 'too-large'], // packet too big
      [record('icmp6', 3, 0), 'ignored'], // time exceeded
      [record('local', 0, 0, ECONNREFUSED), 'unreachable'],
      [record('local', 0, 0, EMSGSIZE), 'too-large'],
      [record('local', 0, 0, EHOSTUNREACH), 'no-route'],
      [record('local', 0, 0, ENETUNREACH), 'no-route'],
      [record('local', 0, 0, EPERM), 'ignored'],
    ];
    for (const [input, meaning] of cases) expect([input, errorRecordMeaning(input)]).toEqual([input, meaning]);
  });
});

describe('transport selection', () => {
  it('takes dgram when asked, when GALAXY_NO_NATIVE=1 or when the addon is missing, and says why', () => {
    expect(transportDecision('dgram', {})).toMatchObject({ kind: 'dgram', reason: expect.stringMatching(/--transport dgram/) });
    expect(transportDecision('auto', { GALAXY_NO_NATIVE: '1' })).toMatchObject({ kind: 'dgram', reason: expect.stringMatching(/GALAXY_NO_NATIVE=1/) });
    expect(() => transportDecision('native', { GALAXY_NO_NATIVE: '1' })).toThrow(/GALAXY_NO_NATIVE=1/);
    const missing = { loaded: false, reason: 'addon not built' } as const;
    expect(transportDecision('auto', {}, missing)).toMatchObject({ kind: 'dgram', reason: expect.stringMatching(/unavailable \(addon not built\)/) });
    expect(() => transportDecision('native', {}, missing)).toThrow(/unavailable: addon not built/);
  });

  it.skipIf(!nativeAvailable)('takes native under auto where the addon runs, and opens what it decided', async () => {
    expect(transportDecision('auto', {}).kind).toBe('native');
    for (const [choice, env, kind] of [['auto', {}, 'native'], ['native', {}, 'native'], ['dgram', {}, 'dgram'], ['auto', { GALAXY_NO_NATIVE: '1' }, 'dgram']] as const) {
      const { transport, reason } = await openDatagramTransport('127.0.0.1:0', choice, {}, env);
      open.push(transport);
      expect([choice, transport.kind]).toEqual([choice, kind]);
      expect(reason.length).toBeGreaterThan(10);
    }
  });
});
