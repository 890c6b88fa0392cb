// The attacks of the fault suite's hostile-input scenario, one function per listener:
// the gossip UDP port and TCP port of an agent (from the attacker's host, through its
// relay) and the agent's HTTP API (from its own host, where the API listens). Each
// returns what it sent by class, so the suite can hold the agent's counters to it.
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { kApiLimitsDefault } from '../../../src/ops/api/api-limits.js';
import { kGossipPort, kApiPort, sleep, type LabAgent } from './fault-farm.js';
import { HostileInput } from './hostile.js';
import type { Relay } from './relay.js';

/** Datagrams sent per burst, and the pause between bursts: the receiver's socket buffer must not overflow. */
const kBurst = 20;
const kBurstPauseMs = 10;

export interface UdpSent {
  /** Acks to sealed pings the agent sent back: real datagrams, captured for mutation. */
  captured: number;
  random: number;
  mutatedSealed: number;
  resealedInvalid: number;
  admissionJunk: number;
  oversized: number;
}

/** Random, mutated and oversized datagrams, and admission junk, to the agent's UDP port. */
export async function attackUdp(hostile: HostileInput, attacker: Relay, agent: LabAgent, each: number): Promise<UdpSent> {
  const session = attacker.udp(agent.host.ip, kGossipPort);
  try {
    for (let seq = 1; seq <= 10; seq++) session.send(hostile.sealedPing(agent.id, seq));
    const captured = (await session.receive(1, 3000)).slice();
    if (captured.length === 0) throw new Error(`${agent.address} answered none of 10 sealed pings`);
    const plaintexts = captured.map((c) => hostile.open(c)).filter((p): p is Buffer => p !== null);
    const bases = [...plaintexts, ...hostile.goldenDatagrams()];
    const sent: UdpSent = { captured: captured.length, random: 0, mutatedSealed: 0, resealedInvalid: 0, admissionJunk: 0, oversized: 0 };
    const plan: Array<[keyof UdpSent, () => Uint8Array, number]> = [
      ['random', () => hostile.randomDatagram(), each],
      ['mutatedSealed', () => hostile.mutatedSealed(captured[sent.mutatedSealed % captured.length]!), each],
      ['resealedInvalid', () => hostile.resealedInvalid(bases), each],
      ['admissionJunk', () => hostile.admissionJunk(), Math.floor(each / 2)],
      ['oversized', () => hostile.oversizedDatagram(), 20],
    ];
    for (const [kind, make, count] of plan) {
      for (let i = 0; i < count; i++) {
        session.send(make());
        sent[kind]++;
        if (sent[kind] % kBurst === 0) await sleep(kBurstPauseMs);
      }
    }
    await session.flush();
    return sent;
  } finally {
    // The relay's socket stays open a moment so the last datagrams leave before it closes.
    await sleep(200);
    session.close();
  }
}

export interface StreamSent {
  oversizedFrames: number;
  truncatedFrames: number;
  randomFrames: number;
  /** Oversized-frame connections the agent closed itself. */
  closedByAgent: number;
}

/** Lying length prefixes, frames cut short, and frames of random bytes, to the agent's TCP port. */
export async function attackStream(hostile: HostileInput, attacker: Relay, agent: LabAgent): Promise<StreamSent> {
  const sent: StreamSent = { oversizedFrames: 0, truncatedFrames: 0, randomFrames: 0, closedByAgent: 0 };
  for (const length of [0xffffffff, 16 * 1024 * 1024 + 1, 0x80000000]) {
    const socket = attacker.tcp(agent.host.ip, kGossipPort);
    socket.on('error', () => {});
    const closed = once(socket, 'close');
    socket.write(Buffer.concat([HostileInput.frameHeader(length), hostile.bytes(64)]));
    sent.oversizedFrames++;
    // The agent must hang up by itself: the frame can never be read.
    const byAgent = await Promise.race([closed.then(() => true), sleep(5000).then(() => false)]);
    if (byAgent) sent.closedByAgent++;
    socket.destroy();
  }
  for (let i = 0; i < 3; i++) {
    const socket = attacker.tcp(agent.host.ip, kGossipPort);
    socket.on('error', () => {});
    const closed = once(socket, 'close');
    socket.end(Buffer.concat([HostileInput.frameHeader(1000), hostile.bytes(100)]));
    sent.truncatedFrames++;
    await Promise.race([closed, sleep(5000)]);
    socket.destroy();
  }
  const socket = attacker.tcp(agent.host.ip, kGossipPort);
  socket.on('error', () => {});
  for (let i = 0; i < 20; i++) {
    socket.write(hostile.randomFrame());
    sent.randomFrames++;
  }
  await new Promise<void>((resolve) => socket.end(() => resolve()));
  await Promise.race([once(socket, 'close'), sleep(5000)]);
  socket.destroy();
  return sent;
}

/** Sockets that connect and stay silent, or trickle a frame; resolves with the ms until the agent closed each, null if it did not within waitMs. */
export async function slowStreamClients(attacker: Relay, agent: LabAgent, silent: number, trickling: number, waitMs: number): Promise<{ silentClosedMs: Array<number | null>; tricklingClosedMs: Array<number | null> }> {
  const startedAt = Date.now();
  const watch = (socket: Socket): Promise<number | null> => Promise.race([once(socket, 'close').then(() => Date.now() - startedAt), sleep(waitMs).then(() => null)]);
  const silentSockets = Array.from({ length: silent }, () => attacker.tcp(agent.host.ip, kGossipPort));
  const trickleSockets = Array.from({ length: trickling }, () => attacker.tcp(agent.host.ip, kGossipPort));
  for (const socket of [...silentSockets, ...trickleSockets]) socket.on('error', () => {});
  for (const socket of trickleSockets) socket.write(HostileInput.frameHeader(64));
  // One byte every 2 s: each resets the agent's idle timeout, never finishing the frame.
  const drip = setInterval(() => {
    for (const socket of trickleSockets) if (!socket.destroyed) socket.write(Buffer.from([0x41]));
  }, 2000);
  try {
    const [silentClosedMs, tricklingClosedMs] = await Promise.all([Promise.all(silentSockets.map(watch)), Promise.all(trickleSockets.map(watch))]);
    return { silentClosedMs, tricklingClosedMs };
  } finally {
    clearInterval(drip);
    for (const socket of [...silentSockets, ...trickleSockets]) socket.destroy();
  }
}

/** Opens `count` silent TCP connections to a port of the agent's host and holds them until release(). */
export async function connectionFlood(relay: Relay, host: string, port: number, count: number): Promise<{ sockets: Socket[]; release: () => void }> {
  const sockets: Socket[] = [];
  // In bursts: the relay must accept each before its listen backlog fills.
  while (sockets.length < count) {
    for (let i = 0; i < 16 && sockets.length < count; i++) {
      const socket = relay.tcp(host, port);
      socket.on('error', () => {});
      sockets.push(socket);
    }
    await sleep(20);
  }
  await sleep(1500);
  return { sockets, release: () => sockets.forEach((s) => s.destroy()) };
}

export interface ApiSent {
  malformedBodies: number;
  oversizedBodies: number;
  wrongContentType: number;
  badTokens: number;
  notHttp: number;
  /** Answers with the expected status per class: [expected, got]. */
  answers: Array<[number, number]>;
}

/** Malformed JSON, oversized bodies, a wrong content type, bad tokens, and bytes that are not HTTP, to the agent's API. */
export async function attackApi(hostile: HostileInput, agent: LabAgent): Promise<ApiSent> {
  const sent: ApiSent = { malformedBodies: 0, oversizedBodies: 0, wrongContentType: 0, badTokens: 0, notHttp: 0, answers: [] };
  const json = { 'content-type': 'application/json' };
  const status = (promise: Promise<{ status: number }>) => promise.then((a) => a.status, () => 0);
  const malformed = [Buffer.from('{"name":'), Buffer.from([0xff, 0xfe, 0x7b, 0x7d]), Buffer.from('name=ops&role=admin'), Buffer.from('['.repeat(20_000)), hostile.bytes(2000)];
  for (const body of malformed) {
    sent.answers.push([400, await status(agent.api('POST', '/v1/tokens', { body, headers: json }))]);
    sent.malformedBodies++;
  }
  // Over the body bound: declared, and chunked without a length. The agent may answer
  // 413 and close before the whole body is sent; a reset then is a refusal too.
  const huge = hostile.bytes(Math.max(1024 * 1024, 4 * kApiLimitsDefault.bodyBytesMax));
  sent.answers.push([413, await status(agent.api('POST', '/v1/tokens', { body: huge, headers: json }))]);
  sent.answers.push([413, await status(agent.api('POST', '/v1/tokens', { body: huge.subarray(0, kApiLimitsDefault.bodyBytesMax + 64 * 1024), headers: { ...json, 'transfer-encoding': 'chunked' } }))]);
  sent.oversizedBodies += 2;
  sent.answers.push([415, await status(agent.api('POST', '/v1/tokens', { body: Buffer.from('{"name":"x","role":"viewer"}'), headers: { 'content-type': 'text/plain' } }))]);
  sent.wrongContentType++;
  for (const token of ['', 'not-a-token', hostile.bytes(48).toString('base64')]) {
    sent.answers.push([401, await status(agent.relay.http('GET', '/v1/members', { token }))]);
    sent.badTokens++;
  }
  for (const garbage of [hostile.bytes(300), Buffer.from('GXA1 {"t":"request"}\r\n\r\n'), Buffer.from('GET / HTTP/9.9\r\n\x00\x01\r\n\r\n')]) {
    const socket = agent.relay.tcp('127.0.0.1', kApiPort);
    socket.on('error', () => {});
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.write(garbage);
    await Promise.race([once(socket, 'close'), sleep(5000)]);
    socket.destroy();
    sent.answers.push([400, Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)]);
    sent.notHttp++;
  }
  return sent;
}

/** Clients that send headers a byte a second and never finish; resolves with the ms until the API closed each (null: not within waitMs). */
export async function slowApiClients(agent: LabAgent, count: number, waitMs: number): Promise<Array<{ closedMs: number | null; answer: string }>> {
  const startedAt = Date.now();
  return Promise.all(
    Array.from({ length: count }, async () => {
      const socket = agent.relay.tcp('127.0.0.1', kApiPort);
      socket.on('error', () => {});
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
      socket.write('GET /v1/members HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      const drip = setInterval(() => socket.destroyed || socket.write('a'), 1000);
      const closedMs = await Promise.race([once(socket, 'close').then(() => Date.now() - startedAt), sleep(waitMs).then(() => null)]);
      clearInterval(drip);
      socket.destroy();
      return { closedMs, answer: answer.split('\r\n')[0] ?? '' };
    }),
  );
}
