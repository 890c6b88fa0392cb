// One transport suite, run against both the native transport and the node:dgram one
// through a factory table: datagrams round-trip byte-exact in both directions and in
// bursts, over IPv4 and IPv6 loopback, with the sender named canonically; bytes are
// copied before send() returns; bad addresses, wrong families, oversized datagrams and
// sends after close are counted under stable codes, never thrown; close is idempotent.
// Then what differs: a send to a closed loopback port becomes unreachability evidence
// naming exactly that address on the native transport (IPv4 and IPv6), while
// node:dgram on an unconnected socket never sees the ICMP error.
import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { hasIpv6Loopback, until } from './support/net.js';
import { NativeUdpSocket } from '../src/native/native-udp-socket.js';
import type { DatagramTransport } from '../src/transport/datagram-transport.js';
import { DgramTransport } from '../src/transport/dgram-transport.js';
import { NativeTransport } from '../src/transport/native-transport.js';
import { parseSocketAddress } from '../src/transport/socket-address.js';

const open: DatagramTransport[] = [];
const nativeAvailable = NativeUdpSocket.available().available;

const factories: Array<[string, (bind: string) => Promise<DatagramTransport>, boolean]> = [
  ['native', async (bind) => NativeTransport.open(bind), nativeAvailable],
  ['dgram', (bind) => DgramTransport.open(bind), true],
];


/** An address nothing listens on: bound to learn a free port, then closed. */
async function closedPort(host: '127.0.0.1' | '::1'): Promise<string> {
  const socket = createSocket(host === '::1' ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => socket.bind(0, host, () => resolve()));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return parseSocketAddress(host === '::1' ? `[::1]:${port}` : `127.0.0.1:${port}`)!.text;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

describe.each(factories)('%s transport', (kind, factory, available) => {
  const bind = async (address = '127.0.0.1:0') => {
    const t = await factory(address);
    open.push(t);
    return t;
  };

  it.skipIf(!available)('round-trips bursts byte-exact both ways and names senders canonically', async () => {
    const a = await bind();
    const b = await bind();
    expect(a.kind).toBe(kind);
    const got: Record<string, number[][]> = { a: [], b: [] };
    a.onMessage((from, bytes) => {
      expect(from).toBe(b.address);
      got.a!.push([...bytes]);
    });
    b.onMessage((from, bytes) => {
      expect(from).toBe(a.address);
      got.b!.push([...bytes]);
    });
    const payload = new Uint8Array(300);
    for (let i = 0; i < 200; i++) {
      payload.fill(i & 0xff);
      b.send(a.address, payload);
      a.send(b.address, payload.subarray(0, 1 + (i % 50)));
    }
    payload.fill(0); // copied before send() returned
    await until(() => got.a!.length === 200 && got.b!.length === 200);
    expect(got.a![199]![0]).toBe(199);
    expect(got.a![7]!.length).toBe(300);
    expect(got.b![10]!.length).toBe(11);
  });

  it.skipIf(!available)('speaks IPv6 with the fully written-out address form', async () => {
    if (!(await hasIpv6Loopback())) return;
    const a = await bind('[::1]:0');
    const b = await bind('[::1]:0');
    expect(a.address).toMatch(/^\[0:0:0:0:0:0:0:1\]:\d+$/);
    const from: string[] = [];
    a.onMessage((f) => from.push(f));
    b.send(a.address, new Uint8Array([1, 2]));
    await until(() => from.length === 1);
    expect(from[0]).toBe(b.address);
  });

  it.skipIf(!available)('counts bad sends under stable codes, never throws, and closes idempotently', async () => {
    const a = await bind();
    const other = await bind();
    expect(() => a.send('nonsense', new Uint8Array(1))).not.toThrow();
    expect(() => a.send('[::1]:7946', new Uint8Array(1))).not.toThrow();
    expect(() => a.send(other.address, new Uint8Array(70_000))).not.toThrow();
    expect(a.counters.droppedOf('GALAXY_TRANSPORT_BAD_ADDRESS')).toBe(1);
    expect(a.counters.droppedOf('GALAXY_TRANSPORT_FAMILY_MISMATCH')).toBe(1);
    expect(a.counters.droppedOf('GALAXY_TRANSPORT_TOO_LARGE')).toBe(1);
    await a.close();
    await a.close();
    expect(() => a.send(other.address, new Uint8Array(1))).not.toThrow();
    expect(a.counters.droppedOf('GALAXY_TRANSPORT_CLOSED')).toBe(1);
  });

  for (const host of ['127.0.0.1', '::1'] as const) {
    it.skipIf(!available)(`${kind === 'native' ? 'reports' : 'cannot see'} an ICMP port unreachable from a closed port on ${host}`, async () => {
      if (host === '::1' && !(await hasIpv6Loopback())) return;
      const a = await bind(host === '::1' ? '[::1]:0' : '127.0.0.1:0');
      const target = await closedPort(host);
      const evidence: string[] = [];
      a.onUnreachable((to) => evidence.push(to));
      a.send(target, new Uint8Array([9]));
      if (kind === 'native') {
        await until(() => evidence.length > 0, 1000);
        expect(evidence[0]).toBe(target);
      } else {
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(evidence).toEqual([]);
      }
    });
  }
});
