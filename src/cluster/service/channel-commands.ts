import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { kOrderings } from '../../core/channels/channel-options.js';
import { CliError, connect, run, table, withConnection, type ConnectionFlags, type Print } from '../../surface/cli/cli-kit.js';
import type { ChannelSummary, SendOutcome } from './cluster-channel-desk.js';
import type { ChannelReadReply } from './channel-routes.js';

/**
 * `galaxy channel create|ls|send|listen` over the local agent's API (channel-routes.ts):
 * channels of a cluster the agent is a member of. `listen` long-polls the agent's inbox
 * of the channel and prints one line per entry: a view as `view V: MEMBERS`, a delivery
 * as `SENDER view V seq S: PAYLOAD` (the payload as UTF-8 text).
 */
/** How long one long-poll of `listen` holds, ms (under the API client's 30 s request timeout). */
const kListenHoldMs = 20_000;

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
      .description('print what this agent delivers on the channel (from the oldest entry it keeps): views and messages with sender, view and sequence')
      .argument('<cluster>')
      .argument('<name>')
      .option('--count <n>', 'stop after N messages')
      .option('--after <at>', 'start after this inbox position (0: everything kept)', '0')
      .option('--new', 'only what arrives from now on'),
  ).action((cluster: string, name: string, flags: ConnectionFlags & { count?: string; after: string; new?: boolean }) =>
    run(print, async () => {
      const count = flags.count === undefined ? Infinity : positive('--count', flags.count, true);
      const client = connect(flags);
      const messages = path(cluster, `/${encodeURIComponent(name)}/messages`);
      let after = Number(flags.after);
      if (!Number.isInteger(after) || after < 0) throw new CliError(`--after is an inbox position >= 0, got "${flags.after}"`);
      if (flags.new === true) {
        const list = (await client.get(path(cluster))) as ChannelSummary[];
        const found = list.find((c) => c.name === name);
        if (found === undefined) throw new CliError(`cluster "${cluster}" has no channel named "${name}" here (galaxy channel ls ${cluster} lists them)`);
        after = found.last;
      }
      let seen = 0;
      while (seen < count) {
        const reply = (await client.get(`${messages}?after=${after}&waitMs=${kListenHoldMs}`)) as ChannelReadReply;
        if (reply.first > after + 1 && after > 0) print(`(${reply.first - after - 1} entries dropped: this listener was too slow for the inbox)`);
        for (const e of reply.entries) {
          after = e.at;
          if (flags.json) print(JSON.stringify(e));
          else if (e.kind === 'view') print(`view ${e.viewId}: ${(e.members ?? []).join(' ')}`);
          else print(`${e.sender} view ${e.viewId} seq ${e.seq}: ${Buffer.from(e.base64 ?? '', 'base64').toString('utf8')}`);
          if (e.kind === 'message' && ++seen >= count) break;
        }
      }
    }),
  );
}

function positive(flag: string, text: string, integer: boolean): number {
  const n = Number(text);
  if (!(n > 0) || !Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new CliError(`${flag} is a positive ${integer ? 'integer' : 'number'}, got "${text}"`);
  return n;
}
