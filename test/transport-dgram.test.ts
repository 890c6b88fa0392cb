// Proves the node:dgram transport on loopback: datagrams round-trip with the sender named
// in the engine's canonical address form (IPv4 and, where the host has it, IPv6), the
// bytes are copied before send() returns, and every way a send can fail (malformed
// address, wrong family, over the local bound, EMSGSIZE from the kernel, after close) is
// counted under its stable code and never thrown.
import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { hasIpv6Loopback, until } from './support/net.js';
import { DgramTransport, type DgramTransportOptions } from '../src/transport/dgram-transport.js';

const open: DgramTransport[] = [];

async function bind(address = '127.0.0.1:0', options: DgramTransportOptions = {}): Promise<DgramTransport> {
  const transport = await DgramTransport.open(address, options);
  open.push(transport);
  return transport;
}


afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

describe('DgramTransport', () => {
  it('round-trips datagrams and names the sender canonically', async () => {
    const a = await bind();
    const b = await bind();
    expect(a.kind).toBe('dgram');
    expect(a.address).toMatch(/^127\.0\.0\.1:\d+$/);
    const received: Array<{ from: string; bytes: number[] }> = [];
    a.onMessage((from, bytes) => received.push({ from, bytes: [...bytes] }));
    const source = new Uint8Array([1, 2, 3]);
    b.send(a.address, source);
    source.fill(0); // copied before send() returned
    await until(() => received.length === 1);
    expect(received[0]).toEqual({ from: b.address, bytes: [1, 2, 3] });
    await until(() => b.counters.sent === 1);
    expect(b.counters.bytesSent).toBe(3);
    expect(a.counters.received).toBe(1);
  });

  it('speaks IPv6 with the fully written-out address form', async () => {
    if (!(await hasIpv6Loopback())) return;
    const a = await bind('[::1]:0');
    const b = await bind('[::1]:0');
    expect(a.address).toMatch(/^\[0:0:0:0:0:0:0:1\]:\d+$/);
    const from: string[] = [];
    a.onMessage((f) => from.push(f));
    b.send(a.address, new Uint8Array([1]));
    await until(() => from.length === 1);
    expect(from[0]).toBe(b.address);
  });

  it('counts every failed send under a stable code and never throws', async () => {
    const a = await bind('127.0.0.1:0', { datagramBytesMax: 65_535 });
    const other = await bind();
    const bound = await bind('127.0.0.1:0', { datagramBytesMax: 100 });
    expect(() => a.send('nonsense', new Uint8Array(1))).not.toThrow();
    expect(() => a.send('127.0.0.1:0', new Uint8Array(1))).not.toThrow();
    expect(() => a.send('[::1]:7946', new Uint8Array(1))).not.toThrow();
    expect(() => bound.send(other.address, new Uint8Array(101))).not.toThrow();
    a.send(other.address, new Uint8Array(65_535)); // over the IPv4 payload limit: EMSGSIZE
    await until(() => a.counters.droppedOf('GALAXY_TRANSPORT_TOO_LARGE') === 1);
    expect(a.counters.droppedOf('GALAXY_TRANSPORT_BAD_ADDRESS')).toBe(2);
    expect(a.counters.droppedOf('GALAXY_TRANSPORT_FAMILY_MISMATCH')).toBe(1);
    expect(a.counters.lastFailure?.detail).toMatch(/EMSGSIZE/);
    expect(bound.counters.droppedOf('GALAXY_TRANSPORT_TOO_LARGE')).toBe(1);
    await a.close();
    expect(() => a.send(other.address, new Uint8Array(1))).not.toThrow();
    expect(a.counters.droppedOf('GALAXY_TRANSPORT_CLOSED')).toBe(1);
  });

  it('drops inbound datagrams over the bound before the engine sees them', async () => {
    const a = await bind('127.0.0.1:0', { datagramBytesMax: 100 });
    const b = await bind('127.0.0.1:0', { datagramBytesMax: 1000 });
    let delivered = 0;
    a.onMessage(() => delivered++);
    b.send(a.address, new Uint8Array(500));
    b.send(a.address, new Uint8Array(50));
    await until(() => delivered === 1);
    expect(a.counters.droppedOf('GALAXY_TRANSPORT_TOO_LARGE')).toBe(1);
  });

  it('rejects bad options and bind addresses with clear messages', async () => {
    await expect(DgramTransport.open('127.0.0.1:0', { datagramBytesMax: 0 })).rejects.toThrow(/options\.datagramBytesMax must be an integer from 1 to 65535/);
    await expect(DgramTransport.open('127.0.0.1:0', { bogus: 1 } as DgramTransportOptions)).rejects.toThrow(/unknown datagram transport option "bogus"/);
    await expect(DgramTransport.open('host:1')).rejects.toThrow(/bind address must be/);
    const a = await bind();
    await expect(DgramTransport.open(a.address)).rejects.toThrow(/cannot bind UDP .*EADDRINUSE/);
  });
});
