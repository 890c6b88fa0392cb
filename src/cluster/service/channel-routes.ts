import { z } from 'zod';
import { kOrderings, kReliabilities } from '../../core/channels/channel-options.js';
import { DomainError } from '../../core/util/domain-error.js';
import { ok, route, type ApiRoute } from '../../surface/api/api-route.js';
import type { InboxEntry, InboxRead } from './channel-inbox.js';
import { kSendBatchMax } from './cluster-channel-desk.js';
import { kClusterNamePattern } from './cluster-name.js';
import type { ClusterService } from './cluster-service.js';

/**
 * The channel routes (issue 18, item 3), about the node answering: its membership of
 * the cluster and what was delivered to it. Reads are viewer routes; opening and
 * sending need an operator.
 *
 *   GET  /v1/clusters/:name/channels                    viewer    channels known here, with counters
 *   POST /v1/clusters/:name/channels                    operator  {name, ordering, reliability?, windowMessages?, rateMessagesPerSecond?, ...} -> 201 the channel
 *   PUT  /v1/clusters/:name/channels/:channel           operator  {rateMessagesPerSecond?, senderRateMessagesPerSecond?, burstMessages?}: this member's rate limits from now on
 *   POST /v1/clusters/:name/channels/:channel/messages  operator  {messages: [{text} | {base64}], timeoutMs?} -> one outcome per message, in order
 *   GET  /v1/clusters/:name/channels/:channel/messages  viewer    ?after=AT&waitMs=MS&max=N: inbox entries after AT (views and deliveries), long-polled
 *   GET  /v1/clusters/:name/channels/:channel/stream    viewer    WebSocket, ?after=AT (default: from now): the same replies pushed as text
 *                                                                  frames as entries arrive; deliveries are consumed only once written to
 *                                                                  the client, so a slow client slows the senders instead of losing entries
 *
 * A delivery's payload is base64 in JSON. `after` is the inbox position (`at`) of the
 * last entry the client saw; `first` past after+1 means entries were dropped at the bound.
 */
const kNameSchema = z.string().regex(kClusterNamePattern, 'a cluster name is 1 to 48 of [A-Za-z0-9_.-] starting with a letter or digit');
/** A channel name here is stricter than the layer's (1-255 bytes of UTF-8): it goes in URLs and CLI arguments. */
export const kChannelNamePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const kChannelSchema = z.string().regex(kChannelNamePattern, 'a channel name is 1 to 64 of [A-Za-z0-9_.-] starting with a letter or digit');
const kClusterParams = z.object({ name: kNameSchema }).strict();
const kChannelParams = z.object({ name: kNameSchema, channel: kChannelSchema }).strict();
const kRate = z.union([z.number().positive(), z.literal('Infinity').transform(() => Infinity)]);
const kOpenBodySchema = z
  .object({
    name: kChannelSchema,
    ordering: z.enum(kOrderings as [string, ...string[]], { errorMap: () => ({ message: `ordering is one of ${kOrderings.join(', ')}` }) }),
    reliability: z.enum(kReliabilities as [string, ...string[]]).default('reliable'),
    slowReceiverPolicy: z.enum(['block', 'remove']).optional(),
    windowMessages: z.number().int().min(1).max(65_536).optional(),
    slowReceiverBoundMs: z.number().min(0).optional(),
    rateMessagesPerSecond: kRate.optional(),
    senderRateMessagesPerSecond: kRate.optional(),
    burstMessages: z.number().int().min(1).optional(),
  })
  .strict();
const kRateBodySchema = z
  .object({ rateMessagesPerSecond: kRate.optional(), senderRateMessagesPerSecond: kRate.optional(), burstMessages: z.number().int().min(1).optional() })
  .strict()
  .refine((b) => Object.values(b).some((v) => v !== undefined), 'give rateMessagesPerSecond, senderRateMessagesPerSecond or burstMessages');
/** Bytes of one message over the API (base64 or UTF-8 text); the layer itself takes up to 1 MiB. */
export const kApiMessageBytesMax = 64 * 1024;
const kMessageSchema = z.union([z.object({ text: z.string().max(kApiMessageBytesMax) }).strict(), z.object({ base64: z.string().max(Math.ceil(kApiMessageBytesMax / 3) * 4) }).strict()]);
/** The longest a send waits for its outcomes, and the default. */
// Up to 5 minutes: a send held back by a slow member's credit window can wait that long, and the caller
// decides (the HTTP client's own response timeout, undici's default, is 300 s as well).
const kSendTimeoutMsMax = 300_000;
const kSendTimeoutMsDefault = 10_000;
const kSendBodySchema = z.object({ messages: z.array(kMessageSchema).min(1).max(kSendBatchMax), timeoutMs: z.number().int().min(1).max(kSendTimeoutMsMax).optional() }).strict();
/** The longest a read long-polls: under the CLI client's 30 s request timeout. */
export const kReadWaitMsMax = 25_000;
const kReadQuerySchema = z
  .object({ after: z.coerce.number().int().min(0).default(0), waitMs: z.coerce.number().int().min(0).max(kReadWaitMsMax).default(0), max: z.coerce.number().int().min(1).max(1024).optional() })
  .strict();

const kStreamQuerySchema = z.object({ after: z.coerce.number().int().min(0).optional() }).strict();

export interface WireEntry {
  readonly at: number;
  readonly kind: 'view' | 'message';
  readonly viewId: number;
  readonly members?: readonly string[];
  readonly sender?: string;
  readonly seq?: number;
  readonly base64?: string;
}

export interface ChannelReadReply {
  readonly entries: readonly WireEntry[];
  readonly first: number;
  readonly dropped: number;
}

function wire(e: InboxEntry): WireEntry {
  if (e.kind === 'view') return { at: e.at, kind: 'view', viewId: e.viewId, members: e.members };
  return { at: e.at, kind: 'message', viewId: e.viewId, sender: e.sender, seq: e.seq, base64: Buffer.from(e.payload.buffer, e.payload.byteOffset, e.payload.byteLength).toString('base64') };
}

function replyOf(read: InboxRead): ChannelReadReply {
  return { entries: read.entries.map(wire), first: read.first, dropped: read.dropped };
}

function payloadOf(m: { text: string } | { base64: string }): Uint8Array {
  if ('text' in m) {
    const bytes = Buffer.from(m.text, 'utf8');
    if (bytes.length > kApiMessageBytesMax) throw new DomainError('too-large', 'GALAXY_CHANNEL_MESSAGE_TOO_LARGE', `a message is at most ${kApiMessageBytesMax} bytes over the API`);
    return bytes;
  }
  return Buffer.from(m.base64, 'base64');
}

export function channelRoutes(service: ClusterService): ApiRoute[] {
  return [
    route({ method: 'GET', pattern: '/v1/clusters/:name/channels', role: 'viewer', params: kClusterParams, handle: ({ params }) => ok(service.channels.list(params.name)) }),
    route({
      method: 'POST',
      pattern: '/v1/clusters/:name/channels',
      role: 'operator',
      params: kClusterParams,
      body: kOpenBodySchema,
      handle: ({ params, body }) => {
        const { name, ordering, reliability, ...rest } = body;
        const options = { ordering, reliability, ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) } as Parameters<ClusterService['channels']['open']>[2];
        return { status: 201, json: service.channels.open(params.name, name, options) };
      },
    }),
    route({
      method: 'PUT',
      pattern: '/v1/clusters/:name/channels/:channel',
      role: 'operator',
      params: kChannelParams,
      body: kRateBodySchema,
      handle: ({ params, body }) => ok(service.channels.setRate(params.name, params.channel, Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)))),
    }),
    route({
      method: 'POST',
      pattern: '/v1/clusters/:name/channels/:channel/messages',
      role: 'operator',
      params: kChannelParams,
      body: kSendBodySchema,
      handle: async ({ params, body }) => ok({ outcomes: await service.channels.send(params.name, params.channel, body.messages.map(payloadOf), body.timeoutMs ?? kSendTimeoutMsDefault) }),
    }),
    route({
      method: 'GET',
      pattern: '/v1/clusters/:name/channels/:channel/messages',
      role: 'viewer',
      params: kChannelParams,
      query: kReadQuerySchema,
      handle: async ({ params, query }) => {
        const read = await service.channels.read(params.name, params.channel, query.after, query.waitMs, query.max);
        return ok(replyOf(read));
      },
    }),
    route({
      method: 'GET',
      pattern: '/v1/clusters/:name/channels/:channel/stream',
      role: 'viewer',
      params: kChannelParams,
      query: kStreamQuerySchema,
      stream: ({ params, query }) => service.channels.stream(params.name, params.channel, query.after ?? null, (read) => JSON.stringify(replyOf(read))),
      handle: () => {
        throw new DomainError('invalid', 'GALAXY_API_NOT_WEBSOCKET', 'the channel stream is a WebSocket: connect with an Upgrade request');
      },
    }),
  ];
}
