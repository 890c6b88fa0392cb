import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { kOrderings } from '../../core/channels/channel-options.js';
import { CliError, connect, run, table, withConnection, type ConnectionFlags, type Print } from '../../surface/cli/cli-kit.js';
import type { ChannelSummary, SendOutcome } from './cluster-channel-desk.js';
import type { ChannelReadReply } from './channel-routes.js';
import { kInboxEntriesMax } from './channel-inbox.js';
import type { WebSocket } from 'ws';

/**
 * `galaxy channel create|ls|send|listen` over the local agent's API (channel-routes.ts):
 * channels of a cluster the agent is a member of. `listen` reads the channel's WebSocket
 * delivery stream (GET .../stream?after=AT) and prints one line per entry: a view as
 * `view V: MEMBERS`, a delivery as `SENDER view V seq S: PAYLOAD` (the payload as UTF-8
 * text). While it is attached the agent consumes a delivery only once it wrote it to
 * the stream, so a listener slower than the senders holds them back (the channel's
 * credit) instead of losing entries.
 */

export function registerChannelCommands(program: Command, print: Print = (line) => console.log(line)): void {
  const channel = program.command('channel').description('channels of a cluster: named message streams with chosen reliability and ordering (create, ls, send, listen)');
  const path = (cluster: string, rest = ''): string => `/v1/clusters/${encodeURIComponent(cluster)}/channels${rest}`;

  withConnection(
    channel
      .command('create')
      .description('open a channel on a cluster this agent is a member of (the other members learn it), e.g. galaxy channel create web orders --ordering total --reliable')
      .argument('<cluster>')
      .argument('<name>', 'channel name: 1 to 64 of [A-Za-z0-9_.-]')
      .option('--ordering <o>', `${kOrderings.join(' | ')}`, 'fifo')
      .option('--reliable', 'retransmit until every member of the view has it (the default)')
      .option('--unreliable', 'best effort (only with ordering none or fifo)')
      .option('--window <n>', 'messages each receiver may hold unconsumed per sender (default 64)')
      .option('--rate <msgPerS>', 'the channel\'s total rate limit, shared by the members'),
  ).action((cluster: string, name: string, flags: ConnectionFlags & { ordering: string; reliable?: boolean; unreliable?: boolean; window?: string; rate?: string }) =>
    run(print, async () => {
      if (!kOrderings.includes(flags.ordering as never)) throw new CliError(`--ordering is one of ${kOrderings.join(', ')}, got "${flags.ordering}"`);
      if (flags.reliable === true && flags.unreliable === true) throw new CliError('--reliable or --unreliable, not both');
      const body: Record<string, unknown> = { name, ordering: flags.ordering, reliability: flags.unreliable === true ? 'unreliable' : 'reliable' };
      if (flags.window !== undefined) body['windowMessages'] = positive('--window', flags.window, true);
      if (flags.rate !== undefined) body['rateMessagesPerSecond'] = positive('--rate', flags.rate, false);
      const opened = (await connect(flags).post(path(cluster), body)) as ChannelSummary;
      if (flags.json) return print(JSON.stringify(opened, null, 2));
      print(`opened channel ${opened.name} on cluster ${cluster}: ${opened.reliability}, ${opened.ordering} order`);
    }),
  );
  withConnection(channel.command('ls').description('the channels of a cluster known on this agent, with counters').argument('<cluster>')).action((cluster: string, flags: ConnectionFlags) =>
    run(print, async () => {
      const list = (await connect(flags).get(path(cluster))) as ChannelSummary[];
      if (flags.json) return print(JSON.stringify(list, null, 2));
      if (list.length === 0) return print('(no channels)');
      table(print, [
        ['CHANNEL', 'GUARANTEES', 'OPENED HERE', 'DELIVERED', 'BUFFERED', 'DROPPED', 'SENT', 'DONE', 'FAILED'],
        ...list.map((c) => [c.name, `${c.reliability} ${c.ordering}`, c.openedHere ? 'yes' : 'no', String(c.delivered), `${c.buffered}/${c.bufferMax}`, String(c.dropped), String(c.sends), String(c.sendsDone), String(c.sendsFailed)]),
      ]);
    }),
  );
  withConnection(
    channel
      .command('send')
      .description('send one message (TEXT, or the bytes of --file); waits for its outcome per the channel\'s guarantee')
      .argument('<cluster>')
      .argument('<name>')
      .argument('[text]')
      .option('--file <path>', 'send the bytes of this file (at most 64 KiB)'),
  ).action((cluster: string, name: string, text: string | undefined, flags: ConnectionFlags & { file?: string }) =>
    run(print, async () => {
      if ((text === undefined) === (flags.file === undefined)) throw new CliError('give the message as TEXT or --file PATH (one of them)');
      const message = flags.file !== undefined ? { base64: readFileSync(flags.file).toString('base64') } : { text: text! };
      const reply = (await connect(flags).post(path(cluster, `/${encodeURIComponent(name)}/messages`), { messages: [message] })) as { outcomes: SendOutcome[] };
      const outcome = reply.outcomes[0]!;
      if (flags.json) return print(JSON.stringify(outcome, null, 2));
      if (!outcome.ok) throw new CliError(`not sent: ${outcome.code}: ${outcome.message}`);
      print(`sent on ${cluster}/${name}: view ${outcome.viewId ?? '?'} seq ${outcome.seq ?? '?'}`);
    }),
  );
  withConnection(
    channel
      .command('listen')
      .description('print what this agent delivers on the channel (from the oldest entry it keeps), over its WebSocket delivery stream: views and messages with sender, view and sequence; a slow terminal holds the senders back instead of losing messages')
      .argument('<cluster>')
      .argument('<name>')
      .option('--count <n>', 'stop after N messages')
      .option('--after <at>', 'start after this inbox position (0: everything kept)', '0')
      .option('--new', 'only what arrives from now on'),
  ).action((cluster: string, name: string, flags: ConnectionFlags & { count?: string; after: string; new?: boolean }) =>
    run(print, async () => {
      const count = flags.count === undefined ? Infinity : positive('--count', flags.count, true);
      const after = Number(flags.after);
      if (!Number.isInteger(after) || after < 0) throw new CliError(`--after is an inbox position >= 0, got "${flags.after}"`);
      // Without ?after the stream starts at the inbox's newest entry: --new.
      const listener = new StreamListener(count, flags.new === true ? null : after, flags.json === true, print);
      const socket = await connect(flags).openStream(path(cluster, `/${encodeURIComponent(name)}/stream${flags.new === true ? '' : `?after=${after}`}`), (data) => listener.frame(data));
      await listener.follow(socket);
    }),
  );
}

/**
 * Prints a delivery stream's entries until `count` messages (or the agent closes it:
 * then an error naming its code and reason). Frames may come before the socket is
 * handed over (with the handshake's answer): they are printed as they come. Flow
 * control: when stdout's buffer is full (a terminal or pipe slower than the
 * deliveries), the socket is paused until it drains, so the TCP window fills, the agent
 * stops writing, and the channel's credit holds the senders back; nothing is dropped on
 * the way. (Where stdout writes block, as pipes and terminals do on Linux, the same
 * follows from the blocked event loop.)
 */
class StreamListener {
  private seen = 0;
  private last: number | null;
  private done = false;
  private socket: WebSocket | null = null;
  private settle: ((error?: Error) => void) | null = null;
  private readonly resume = (): void => this.socket?.resume();

  constructor(
    private readonly count: number,
    after: number | null,
    private readonly json: boolean,
    private readonly print: Print,
  ) {
    this.last = after;
  }

  frame(data: Buffer): void {
    if (this.done) return;
    const reply = JSON.parse(data.toString('utf8')) as ChannelReadReply;
    const last = this.last;
    if (last !== null && last > 0 && reply.first > last + 1) this.print(`(${reply.first - last - 1} entries dropped before this listener attached: the inbox keeps its newest ${kInboxEntriesMax})`);
    for (const e of reply.entries) {
      this.last = e.at;
      if (this.json) this.print(JSON.stringify(e));
      else if (e.kind === 'view') this.print(`view ${e.viewId}: ${(e.members ?? []).join(' ')}`);
      else this.print(`${e.sender} view ${e.viewId} seq ${e.seq}: ${Buffer.from(e.base64 ?? '', 'base64').toString('utf8')}`);
      if (e.kind === 'message' && ++this.seen >= this.count) return this.finish();
    }
    if (process.stdout.writableNeedDrain) this.socket?.pause();
  }

  /** Resolves once `count` messages are printed; rejects when the stream ends first. */
  follow(socket: WebSocket): Promise<void> {
    this.socket = socket;
    return new Promise((resolve, reject) => {
      this.settle = (error) => (error === undefined ? resolve() : reject(error));
      if (this.done) return this.finish();
      process.stdout.on('drain', this.resume);
      if (process.stdout.writableNeedDrain) socket.pause();
      socket.on('close', (code, reason) => this.finish(new CliError(`the agent closed the delivery stream (${code}${reason.length > 0 ? `: ${reason.toString()}` : ''}) after ${this.seen} messages${this.last === null ? '' : `; go on with --after ${this.last}`}`)));
      socket.on('error', (error) => this.finish(new CliError(`the delivery stream failed: ${error.message}`)));
    });
  }

  private finish(error?: Error): void {
    this.done = true;
    if (this.socket === null || this.settle === null) return;
    const settle = this.settle;
    this.settle = null;
    process.stdout.off('drain', this.resume);
    this.socket.close(1000);
    settle(error);
  }
}

function positive(flag: string, text: string, integer: boolean): number {
  const n = Number(text);
  if (!(n > 0) || !Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new CliError(`${flag} is a positive ${integer ? 'integer' : 'number'}, got "${text}"`);
  return n;
}
