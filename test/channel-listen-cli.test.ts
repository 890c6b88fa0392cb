// `galaxy channel listen` reads a channel's WebSocket delivery stream (issue 18), on three
// real `galaxy agent` processes on loopback, run as an operator runs it (a child process
// whose stdout is a pipe):
//  - a terminal that stops reading (the pipe to the CLI's stdout is not read: its writes
//    block, it stops reading the stream, the TCP window fills) holds the senders back
//    through the channel's credit: the listening member's delivered count stops short of
//    the total, and nothing is dropped there (the long-poll listener it replaces let the
//    inbox consume at once, so the count ran to the total while the terminal slept);
//  - once read again, the CLI prints every message, FIFO per sender, and exits 0 at --count;
//  - --new starts at the newest entry; an unknown channel exits 2 (refused, as every command's 4xx) naming it.
// 1,600 messages of 30,000 bytes (about 64 MB of frames), more than loopback's TCP
// buffers hold (test/channel-stream.test.ts). The cluster's suspicion timeout is 5 s:
// on a shared machine a member off the CPU for 400 ms would be cut from the view.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fifoChannelFarm } from './support/fifo-channel-farm.js';
import type { ChannelSummary, SendOutcome } from '../src/cluster/service/cluster-channel-desk.js';
import { api, eventually, kCliPath, killAll, type RigNode } from '../bench/cluster-rig.js';

afterAll(() => killAll());

const kCluster = 'clilisten';
const kChannel = 'tail';
const kMessages = 1600;
const kBytes = 30_000;
const kPerPost = 8;

interface Listen {
  readonly child: ReturnType<typeof spawn>;
  lines: string[];
  stderr: string;
  readonly exited: Promise<number | null>;
}

/** `galaxy channel listen ...` with its stdout piped to this process; `paused` leaves the pipe unread until resumed. */
function listen(node: RigNode, args: readonly string[], paused: boolean): Listen {
  const child = spawn(process.execPath, [kCliPath, 'channel', 'listen', kCluster, ...args, '--data-dir', node.dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const run: Listen = { child, lines: [], stderr: '', exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
  let partial = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    run.lines.push(...parts);
  });
  child.stderr!.on('data', (chunk: Buffer) => (run.stderr += chunk.toString()));
  if (paused) child.stdout!.pause();
  return run;
}

async function summaryAt(node: RigNode): Promise<ChannelSummary> {
  const list = (await api<ChannelSummary[]>(node, 'GET', `/v1/clusters/${kCluster}/channels`)).json;
  const found = list.find((c) => c.name === kChannel);
  if (found === undefined) throw new Error(`${node.id} has no channel ${kChannel}: ${JSON.stringify(list)}`);
  return found;
}

describe('galaxy channel listen over the delivery stream', () => {
  let nodes: RigNode[] = [];
  beforeAll(async () => {
    nodes = await fifoChannelFarm(kCluster, kChannel);
  }, 120_000);

  it('a terminal that stops reading holds the senders back; read again, it prints every message in order', async () => {
    const [a, b, c] = nodes as [RigNode, RigNode, RigNode];
    const run = listen(c, [kChannel, '--count', String(kMessages)], true);
    await eventually('the CLI\'s stream attached at C', async () => ((await summaryAt(c)).streams === 1 ? true : undefined), 30_000);
    const before = (await summaryAt(c)).delivered;
    const body = (i: number): { text: string } => ({ text: `m${i} `.padEnd(kBytes, 'x') });
    const posts: Promise<SendOutcome[]>[] = [];
    for (let i = 0; i < kMessages; i += kPerPost) {
      const sender = i % (2 * kPerPost) === 0 ? a : b;
      const messages = Array.from({ length: kPerPost }, (_, j) => body(i + j));
      posts.push(api<{ outcomes: SendOutcome[] }>(sender, 'POST', `/v1/clusters/${kCluster}/channels/${kChannel}/messages`, { messages, timeoutMs: 60_000 }).then((r) => {
        if (r.status !== 200) throw new Error(`send: ${r.status} ${JSON.stringify(r.json)}`);
        return r.json.outcomes;
      }));
    }
    // Held back: C's deliveries stop moving short of the total while its terminal does not read.
    let previous = -1;
    const stalled = await eventually('C\'s deliveries stop moving', async () => {
      const now = (await summaryAt(c)).delivered - before;
      const still = now === previous;
      previous = now;
      return still && now > 0 ? now : undefined;
    }, 60_000, 1000);
    expect(stalled).toBeLessThan(kMessages);
    expect((await summaryAt(c)).dropped).toBe(0);
    expect(run.lines.length).toBe(0);
    // The terminal reads again: every message, FIFO per sender, and the CLI ends at --count.
    run.child.stdout!.resume();
    const outcomes = (await Promise.all(posts)).flat();
    expect(outcomes.filter((o) => !o.ok)).toEqual([]);
    expect(await run.exited, run.stderr).toBe(0);
    const printed = run.lines.filter((l) => / seq \d+: m\d+ /.test(l));
    expect(printed.length).toBe(kMessages);
    expect(run.lines.some((l) => l.includes('dropped'))).toBe(false);
    const bySender = new Map<string, number[]>();
    for (const line of printed) {
      const [, sender, seq] = /^(\S+) view \d+ seq (\d+): /.exec(line)!;
      const seqs = bySender.get(sender!) ?? [];
      seqs.push(Number(seq));
      bySender.set(sender!, seqs);
    }
    expect(bySender.size).toBe(2);
    for (const seqs of bySender.values()) expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, k) => seqs[0]! + k));
    expect((await summaryAt(c)).dropped).toBe(0);
    await eventually('the stream detached at C', async () => ((await summaryAt(c)).streams === 0 ? true : undefined), 30_000);
  }, 240_000);

  it('--new prints only what arrives from now on; an unknown channel exits 2', async () => {
    const [a, b] = nodes as [RigNode, RigNode, RigNode];
    const run = listen(b, [kChannel, '--new', '--count', '2'], false);
    await eventually('the CLI\'s stream attached at B', async () => ((await summaryAt(b)).streams === 1 ? true : undefined), 30_000);
    for (const text of ['after one', 'after two']) {
      const sent = await api<{ outcomes: SendOutcome[] }>(a, 'POST', `/v1/clusters/${kCluster}/channels/${kChannel}/messages`, { messages: [{ text }] });
      expect(sent.json.outcomes[0]!.ok).toBe(true);
    }
    expect(await run.exited, run.stderr).toBe(0);
    expect(run.lines.filter((l) => / seq \d+: /.test(l)).map((l) => l.replace(/^.*: /, ''))).toEqual(['after one', 'after two']);
    const unknown = listen(b, ['nope'], false);
    expect(await unknown.exited).toBe(2);
    expect(unknown.stderr).toContain('nope');
  }, 120_000);
});
