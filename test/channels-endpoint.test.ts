// Proves the component API over the channel layer (ChannelEndpoint, Channel), with three
// members on the ReferenceVsGroup whose applications are the endpoints: send promises
// resolve with the (view, seq) the message went as; every reader's async iterator yields
// the same total order with sender, view and seq, and a view change in-band; a reader
// that stops reading closes the senders' window (at most windowMessages sent) until it
// reads again; a send over the size bound rejects with its coded error.
import { describe, expect, it } from 'vitest';
import { ChannelError } from '../src/core/channels/channel-error.js';
import { ChannelEndpoint, type Channel, type ChannelEvent, type SendReceipt } from '../src/cluster/channels/channel-endpoint.js';
import { ReferenceVsGroup } from '../src/sim/channels/reference-vs-group.js';

const kMembers = ['m0', 'm1', 'm2'];

function build(seed: number): { group: ReferenceVsGroup; endpoints: Record<string, ChannelEndpoint> } {
  const endpoints: Record<string, ChannelEndpoint> = {};
  const group = new ReferenceVsGroup({
    seed, members: 3, external: kMembers, layer: { messageBytesMax: 4096, fragmentBytes: 1024 },
    onAppEvent: (member, event) => endpoints[member]?.handle(event),
  });
  for (const member of kMembers) endpoints[member] = new ChannelEndpoint((command) => group.command(member, command));
  return { group, endpoints };
}

/** Runs the simulation for durationMs, letting the readers' promise chains run between slices. */
async function run(group: ReferenceVsGroup, durationMs: number): Promise<void> {
  for (let t = 0; t < durationMs; t += 2) {
    group.runFor(2);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function read(channel: Channel, into: ChannelEvent[], stopAfterMessages: number): Promise<void> {
  return (async () => {
    let messages = 0;
    for await (const event of channel) {
      into.push(event);
      if (event.kind === 'message' && ++messages >= stopAfterMessages) return;
    }
  })();
}

describe('channel endpoint', () => {
  it('send promises resolve per the guarantee; readers see one total order, views in-band', async () => {
    const { group, endpoints } = build(21);
    const channel0 = endpoints.m0!.open('api', { reliability: 'reliable', ordering: 'total' });
    await run(group, 10);
    const channels = { m0: channel0, m1: endpoints.m1!.channel('api')!, m2: endpoints.m2!.channel('api')! };
    expect(channels.m1).toBeDefined();
    const seen: Record<string, ChannelEvent[]> = { m0: [], m1: [], m2: [] };
    const readers = [read(channels.m0, seen.m0!, 40), read(channels.m1, seen.m1!, 40)];
    void read(channels.m2, seen.m2!, 1_000);
    const receipts: Promise<SendReceipt>[] = [];
    for (let i = 0; i < 10; i++) for (const member of ['m0', 'm1'] as const) receipts.push(channels[member].send(new Uint8Array(100 + i).fill(i)));
    await run(group, 50);
    const done = await Promise.all(receipts);
    expect(done.every((r) => r.viewId === 1 && r.seq >= 1 && r.seq <= 10)).toBe(true);
    // A view change reaches the readers in-band; later messages carry the new view.
    group.crash('m2');
    await run(group, 20);
    for (let i = 0; i < 10; i++) for (const member of ['m0', 'm1'] as const) receipts.push(channels[member].send(new Uint8Array(3000).fill(i)));
    await run(group, 50);
    await Promise.all(readers);
    const order = (events: ChannelEvent[]): string[] => events.map((e) => (e.kind === 'view' ? `view ${e.view.id}` : `${e.sender}:${e.viewId}:${e.seq}`));
    expect(order(seen.m0!)).toEqual(order(seen.m1!));
    const viewAt = order(seen.m0!).indexOf('view 2');
    expect(viewAt).toBe(20);
    expect(seen.m0!.slice(viewAt + 1).every((e) => e.kind === 'message' && e.viewId === 2 && e.payload.length === 3000)).toBe(true);
    expect(seen.m2!.filter((e) => e.kind === 'message').length).toBe(20);
  });

  it("a reader that stops reading holds its senders to the window; reading again releases them", async () => {
    const { group, endpoints } = build(22);
    const channel0 = endpoints.m0!.open('slow', { reliability: 'reliable', ordering: 'fifo', windowMessages: 4 });
    await run(group, 10);
    const fast: ChannelEvent[] = [];
    void read(channel0, fast, 1_000);
    void read(endpoints.m1!.channel('slow')!, [], 1_000);
    const sends = Array.from({ length: 12 }, (_, i) => channel0.send(new Uint8Array([i])));
    await run(group, 100);
    // m2 has not read anything: only its window's worth left m0.
    expect(group.layerOf('m0').channelCounters('slow')!.messagesSent).toBe(4);
    const late: ChannelEvent[] = [];
    const reader = read(endpoints.m2!.channel('slow')!, late, 12);
    await run(group, 100);
    await reader;
    expect(group.layerOf('m0').channelCounters('slow')!.messagesSent).toBe(12);
    expect((await Promise.all(sends)).map((r) => r.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(late.filter((e) => e.kind === 'message').map((e) => e.kind === 'message' && e.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it('rejects a send over the size bound with its code', async () => {
    const { group, endpoints } = build(23);
    const channel = endpoints.m0!.open('bounded', { reliability: 'reliable', ordering: 'fifo' });
    await run(group, 10);
    const error = await channel.send(new Uint8Array(4097)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChannelError);
    expect((error as ChannelError).code).toBe('GALAXY_CHANNEL_MESSAGE_TOO_LARGE');
  });
});
