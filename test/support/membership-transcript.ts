// The interpreter behind the membership transition transcripts (test/testdata/membership/*.txt),
// in the style of etcd raft's datadriven testdata: it drives ONE MembershipEngine from
// readable commands and prints what the engine did after each, decoded with the
// project's own codec (src/wire/codec.ts), so a transcript pins single transitions.
//
// Nodes are named by one capital letter: A is the engine under test; letter L is node
// id 0000000000000<L's index + 1> at 10.0.0.<index + 1>:7946. Time starts at 0 ms and
// moves only by `tick`.
import { createRuntime } from '../../src/core/kernels/create-runtime.js';
import { type Runtime } from '../../src/core/runtime/runtime.js';
import type { KernelBackend } from '../../src/core/runtime/kernels.js';
import { membershipConfig, type MembershipConfig, type MembershipOptions } from '../../src/core/membership/config.js';
import { MembershipEngine } from '../../src/core/membership/membership-engine.js';
import { summarize } from '../../src/core/membership/summary.js';
import { encodeSummaryFrame } from '../../src/core/membership/state-frame.js';
import { MembershipTable } from '../../src/core/table/membership-table.js';
import { CodedError } from '../../src/core/util/coded-error.js';
import { Prng } from '../../src/core/util/prng.js';
import { Codec } from '../../src/core/wire/codec.js';
import * as F from '../../src/core/wire/format.js';
import { formatNodeId, formatWireAddress, kNoAddress, parseWireAddress, type MemberEntry, type Message, type NodeId, type WireAddress } from '../../src/core/wire/message.js';

/**
 * The engine's config in a transcript unless a `config` command changes it: LAN, a small
 * table, and no watch beats (they would fill every transcript with a datagram per 20 ms;
 * watch-ring.txt turns them on).
 */
const kTranscriptDefaults: MembershipOptions = { membersMax: 64, watchIntervalMs: 0 };
/** Step of `tick` unless given: the drivers call tick every 5-10 ms. */
const kTickStepMs = 10;
/** A transcript that runs longer than this in one tick command is a mistake in the script. */
const kTickMsMax = 24 * 3600 * 1000;
/** Frames up to this size are decoded; transcripts hold a handful of members. */
const kFrameDecodeBytesMax = 1 << 20;
/** Acks waiting for delivery within one step; a handful at most (one per ping sent). */
const kPendingAcksMax = 256;

const kStatusNames: Record<number, string> = { [F.kStatusEmpty]: 'empty', [F.kStatusAlive]: 'alive', [F.kStatusSuspect]: 'suspect', [F.kStatusDead]: 'dead', [F.kStatusLeft]: 'left' };
const kStatusByName: Record<string, number> = { alive: F.kStatusAlive, suspect: F.kStatusSuspect, dead: F.kStatusDead, left: F.kStatusLeft };

/** A transcript that cannot be run as written (a bad command, a missing argument). */
export class TranscriptError extends CodedError<'GALAXY_TRANSCRIPT_INVALID'> {
  constructor(message: string) {
    super('GALAXY_TRANSCRIPT_INVALID', message);
  }
}

/** One command of a transcript with its expected output and where it sits in the file. */
export interface TranscriptBlock {
  /** Comment and blank lines before the command, kept verbatim on rewrite. */
  readonly preamble: string[];
  readonly command: string;
  readonly expected: string;
  readonly line: number;
}

/** Parses a transcript: `command`, a `----` line, the output up to a blank line. */
export function parseTranscript(text: string): { blocks: TranscriptBlock[]; trailer: string[] } {
  const lines = text.split('\n');
  const blocks: TranscriptBlock[] = [];
  let preamble: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '' || line.startsWith('#')) {
      preamble.push(line);
      i++;
      continue;
    }
    const command = line;
    const at = i + 1;
    i++;
    const output: string[] = [];
    if (lines[i] === '----') {
      i++;
      while (i < lines.length && lines[i]!.trim() !== '') output.push(lines[i++]!);
    }
    blocks.push({ preamble, command, expected: output.join('\n'), line: at });
    preamble = [];
  }
  while (preamble.length > 0 && preamble[preamble.length - 1] === '') preamble.pop();
  return { blocks, trailer: preamble };
}

/** Writes a transcript back with the given outputs (the GALAXY_REWRITE path). */
export function formatTranscript(blocks: readonly TranscriptBlock[], outputs: readonly string[], trailer: readonly string[]): string {
  const out: string[] = [];
  blocks.forEach((block, i) => {
    out.push(...block.preamble, block.command, '----', outputs[i]!);
  });
  out.push(...trailer);
  return `${out.join('\n')}\n`;
}

export function nameIndex(name: string): number {
  if (!/^[A-Z]$/.test(name)) throw new TranscriptError(`node names are single capital letters, got "${name}"`);
  return name.charCodeAt(0) - 65;
}

export function idOfName(name: string): NodeId {
  return { high: 0, low: nameIndex(name) + 1 };
}

export function addressOfName(name: string): string {
  return `10.0.0.${nameIndex(name) + 1}:7946`;
}

export function nameOfId(id: NodeId): string {
  if (id.high === 0 && id.low >= 1 && id.low <= 26) return String.fromCharCode(64 + id.low);
  return formatNodeId(id);
}

export function nameOfAddress(address: string): string {
  const m = /^10\.0\.0\.(\d+):7946$/.exec(address);
  if (m !== null && Number(m[1]) >= 1 && Number(m[1]) <= 26) return String.fromCharCode(64 + Number(m[1]));
  return address;
}

function nameOfWireAddress(address: WireAddress): string {
  return address.family === 0 ? '-' : nameOfAddress(formatWireAddress(address));
}

/** Accepts a node name or an "ip:port" address. */
function resolveAddress(text: string): string {
  return /^[A-Z]$/.test(text) ? addressOfName(text) : text;
}

function text(bytes: Uint8Array): string {
  const printable = bytes.every((b) => b >= 0x20 && b < 0x7f && b !== 0x20);
  return printable ? new TextDecoder().decode(bytes) : `0x${Buffer.from(bytes).toString('hex')}`;
}

function flagNames(flags: number): string {
  const names: string[] = [];
  if (flags & F.kPushPullFlagJoin) names.push('join');
  if (flags & F.kPushPullFlagReply) names.push('reply');
  if (flags & F.kPushPullFlagGossip) names.push('gossip');
  if (flags & F.kPushPullFlagPartial) names.push('partial');
  return names.length === 0 ? '0' : names.join(',');
}

function flagsOf(textFlags: string | undefined): number {
  if (textFlags === undefined || textFlags === '0') return 0;
  let flags = 0;
  for (const name of textFlags.split(',')) {
    const bit = { join: F.kPushPullFlagJoin, reply: F.kPushPullFlagReply, gossip: F.kPushPullFlagGossip, partial: F.kPushPullFlagPartial }[name];
    if (bit === undefined) throw new TranscriptError(`unknown flag "${name}"`);
    flags |= bit;
  }
  return flags;
}

function entryText(e: MemberEntry): string {
  let s = `${nameOfId(e.id)}=${kStatusNames[e.status] ?? e.status}/${e.incarnation}/hb${e.heartbeat}`;
  if (e.meta !== undefined && e.meta.length > 0) s += `/meta=${text(e.meta)}`;
  return s;
}

/** One decoded message as a short line. */
export function messageText(m: Message): string {
  switch (m.type) {
    case F.kTypePing:
      return `ping seq=${m.seq} target=${nameOfId(m.target)} from=${nameOfId(m.source)} reply-to=${nameOfWireAddress(m.sourceAddress)}`;
    case F.kTypeIndirectPing:
      return `indirect-ping seq=${m.seq} target=${nameOfId(m.target)}@${nameOfWireAddress(m.targetAddress)} from=${nameOfId(m.source)}${m.nack ? ' nack' : ''}`;
    case F.kTypeAck:
      return `ack seq=${m.seq} from=${nameOfId(m.source)}${m.payload.length > 0 ? ` payload=${text(m.payload)}` : ''}`;
    case F.kTypeNack:
      return `nack seq=${m.seq} from=${nameOfId(m.source)}`;
    case F.kTypeSuspect:
    case F.kTypeDead:
      return `${m.type === F.kTypeSuspect ? 'suspect' : 'dead'} subject=${nameOfId(m.node)} inc=${m.incarnation} from=${nameOfId(m.from)}`;
    case F.kTypeAlive:
    case F.kTypeJoin:
      return `${m.type === F.kTypeAlive ? 'alive' : 'join'} subject=${nameOfId(m.node)}@${nameOfWireAddress(m.address)} inc=${m.incarnation}${m.meta.length > 0 ? ` meta=${text(m.meta)}` : ''}`;
    case F.kTypeLeave:
      return `leave subject=${nameOfId(m.node)} inc=${m.incarnation}`;
    case F.kTypePushPullDigest:
    case F.kTypePushPullState: {
      // Every datagram carries the sender's own heartbeat as a one-entry gossip digest.
      const kind = m.type === F.kTypePushPullState ? 'state' : m.flags === F.kPushPullFlagGossip && m.entries.length === 1 ? 'heartbeat' : 'digest';
      const flags = kind === 'heartbeat' ? '' : ` flags=${flagNames(m.flags)}`;
      return `${kind}${flags} ${m.entries.map(entryText).join(' ')}`.trimEnd();
    }
    case F.kTypeUser:
      return `user payload=${text(m.payload)}`;
    case F.kTypePushPullSummary:
      return `summary flags=${flagNames(m.flags)} buckets=${m.hashes.length} members=${m.memberCount}`;
  }
}

/** key=value words of a command; bare words go under their own name with value ''. */
function parseArgs(words: readonly string[]): Map<string, string> {
  const args = new Map<string, string>();
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq < 0) args.set(word, '');
    else args.set(word.slice(0, eq), word.slice(eq + 1));
  }
  return args;
}

function need(args: Map<string, string>, key: string, command: string): string {
  const value = args.get(key);
  if (value === undefined || value === '') throw new TranscriptError(`${command} needs ${key}=`);
  return value;
}

function int(value: string, what: string): number {
  if (!/^\d+$/.test(value)) throw new TranscriptError(`${what} must be a non-negative integer, got "${value}"`);
  return Number(value);
}

function durationMs(value: string): number {
  const m = /^(\d+)(ms|s)$/.exec(value);
  if (m === null) throw new TranscriptError(`a duration is like 500ms or 3s, got "${value}"`);
  return Number(m[1]) * (m[2] === 's' ? 1000 : 1);
}

/** Parses `NAME=STATUS/INC[/hbN][/meta=TEXT]` entries. */
function parseEntry(word: string): MemberEntry {
  const m = /^([A-Z])=(alive|suspect|dead|left)\/(\d+)((?:\/hb\d+)?)((?:\/meta=\S*)?)$/.exec(word);
  if (m === null) throw new TranscriptError(`an entry is NAME=STATUS/INC[/hbN][/meta=TEXT], got "${word}"`);
  const name = m[1]!;
  const meta = m[5] === '' ? undefined : new TextEncoder().encode(m[5]!.slice('/meta='.length));
  return {
    id: idOfName(name),
    address: parseWireAddress(addressOfName(name)),
    incarnation: Number(m[3]),
    heartbeat: m[4] === '' ? 0 : Number(m[4]!.slice(3)),
    status: kStatusByName[m[2]!]!,
    ...(meta === undefined ? {} : { meta }),
  };
}

export interface TranscriptOptions {
  backend?: KernelBackend;
}

/**
 * Runs one transcript's commands against one engine. `run` returns the output of one
 * command as text lines; the engine is made by `start` or `join`.
 */
export class MembershipTranscript {
  private readonly runtime: Runtime;
  private readonly codec: Codec;
  private readonly frameCodec: Codec;
  private readonly backend: KernelBackend;
  private options: MembershipOptions = { ...kTranscriptDefaults };
  private seed = 1;
  private nowMs = 0;
  private engine: MembershipEngine | null = null;
  private lines: string[] = [];
  private lastMembers = '';
  /** Peers the harness plays as healthy: they answer every ping to them with an ack. */
  private readonly healthy = new Set<string>();
  /** Acks from healthy peers, delivered once the engine call that pinged them returns. */
  private readonly pending: Array<{ kind: 'dgram' | 'frame'; from: string; bytes: Uint8Array; seq: number }> = [];

  constructor(options: TranscriptOptions = {}) {
    this.backend = options.backend ?? 'wasm';
    this.runtime = createRuntime({ backend: this.backend, memoryBytes: 16 * 1024 * 1024 });
    this.codec = new Codec(this.runtime);
    this.frameCodec = new Codec(this.runtime, kFrameDecodeBytesMax, { messages: 4, entries: 1024, payloadBytes: 65536 });
  }

  run(command: string): string {
    this.lines = [];
    const words = command.trim().split(/\s+/);
    const verb = words[0]!;
    const rest = words.slice(1);
    switch (verb) {
      case 'config':
        this.configure(rest);
        break;
      case 'seed':
        this.seed = int(rest[0] ?? '', 'seed');
        break;
      case 'start':
      case 'join':
        this.startEngine(verb, rest);
        break;
      case 'tick':
        this.tick(rest);
        break;
      case 'recv':
        this.receive(command.trim().slice('recv'.length).trim());
        break;
      case 'recv-frame':
        this.receiveFrame(rest);
        break;
      case 'icmp-unreachable':
        this.must().unreachable(resolveAddress(rest[0] ?? ''));
        break;
      case 'stream-failed':
        this.must().streamFailed(resolveAddress(rest[0] ?? ''));
        break;
      case 'lag':
        this.must().reportEventLoopLag(durationMs(rest[0] ?? ''));
        break;
      case 'leave':
        this.must().leave();
        break;
      case 'set-meta':
        this.must().setMeta(new TextEncoder().encode(rest[0] ?? ''));
        break;
      case 'broadcast':
        this.must().broadcastUser(new TextEncoder().encode(rest[0] ?? ''));
        break;
      case 'healthy':
        for (const name of rest) this.healthy.add(nameOfAddress(resolveAddress(name)));
        break;
      case 'unhealthy':
        for (const name of rest) this.healthy.delete(nameOfAddress(resolveAddress(name)));
        break;
      case 'members':
        this.lines.push(`members: ${this.membersText()}`);
        break;
      case 'health': {
        const e = this.must();
        this.lines.push(`health=${e.health} incarnation=${e.incarnation} live=${e.aliveCount} suspicions-confirmed=${e.stats.suspicionConfirmations}`);
        break;
      }
      default:
        throw new TranscriptError(`unknown command "${verb}"`);
    }
    this.deliverAcks();
    this.flushEvents();
    this.reportMembers();
    return this.lines.length === 0 ? 'ok' : this.lines.join('\n');
  }

  private must(): MembershipEngine {
    if (this.engine === null) throw new TranscriptError('no engine yet: `start` or `join` first');
    return this.engine;
  }

  private configure(words: readonly string[]): void {
    if (this.engine !== null) throw new TranscriptError('config comes before start/join');
    let options = this.options;
    for (const [key, value] of parseArgs(words)) {
      const number = /^\d+(ms|s)$/.test(value) ? durationMs(value) : Number(value);
      if (!Number.isFinite(number)) throw new TranscriptError(`config ${key} must be a number, got "${value}"`);
      options = { ...options, [key]: number };
    }
    // Validated before it is kept, so a rejected config leaves the transcript as it was.
    membershipConfig(options);
    this.options = options;
  }

  private startEngine(verb: string, words: readonly string[]): void {
    if (this.engine !== null) throw new TranscriptError('the engine has started already');
    const args = parseArgs(words.filter((w) => w.includes('=')));
    const seeds = verb === 'join' ? words.filter((w) => !w.includes('=')).map(resolveAddress) : [];
    if (verb === 'join' && seeds.length === 0) throw new TranscriptError('join needs a seed (a name or an address)');
    const config: MembershipConfig = membershipConfig(this.options);
    const meta = args.get('meta');
    // The engine's scratch holds one whole frame (kFrameBytesMax, 16 MiB).
    const runtime = createRuntime({ backend: this.backend, memoryBytes: 32 * 1024 * 1024 });
    this.engine = new MembershipEngine({
      config,
      runtime,
      environment: {
        nowMs: () => this.nowMs,
        random: new Prng(this.seed),
        sendDatagram: (to, bytes) => this.sent('dgram', to, bytes),
        sendFrame: (to, bytes) => this.sent('frame', to, bytes),
      },
      id: idOfName('A'),
      address: parseWireAddress(addressOfName('A')),
      incarnation: args.has('inc') ? int(args.get('inc')!, 'inc') : 1,
      ...(meta === undefined ? {} : { meta: new TextEncoder().encode(meta) }),
      seeds,
    });
    this.engine.start();
  }

  private sent(kind: 'dgram' | 'frame', to: string, bytes: Uint8Array): void {
    const codec = kind === 'dgram' ? this.codec : this.frameCodec;
    const count = codec.tryDecode(bytes);
    const messages = count < 0 ? [] : codec.tape.read();
    const body = count < 0 ? `undecodable (error ${-count})` : messages.map(messageText).join(' | ');
    const name = nameOfAddress(to);
    this.lines.push(`@${this.nowMs} ${kind} to=${name}: ${body}`);
    if (!this.healthy.has(name)) return;
    for (const m of messages) {
      if (m.type !== F.kTypePing || nameOfId(m.target) !== name) continue;
      const bytes = this.codec.encode([{ type: F.kTypeAck, seq: m.seq, source: m.target, payload: new Uint8Array(0) }]);
      if (this.pending.length >= kPendingAcksMax) throw new TranscriptError(`more than ${kPendingAcksMax} acks pending in one step`);
      this.pending.push({ kind, from: name, bytes, seq: m.seq });
    }
  }

  /** Feeds the engine the acks of healthy peers (bounded: an ack never makes a ping). */
  private deliverAcks(): void {
    const engine = this.engine;
    if (engine === null) return;
    for (let i = 0; i < this.pending.length; i++) {
      const ack = this.pending[i]!;
      this.lines.push(`@${this.nowMs} ${ack.from} acks seq=${ack.seq}${ack.kind === 'frame' ? ' (stream)' : ''}`);
      if (ack.kind === 'dgram') engine.receiveDatagram(addressOfName(ack.from), ack.bytes);
      else engine.receiveFrame(addressOfName(ack.from), ack.bytes);
    }
    this.pending.length = 0;
  }

  private flushEvents(): void {
    if (this.engine === null) return;
    for (const event of this.engine.drainEvents()) {
      const meta = event.meta !== undefined && event.meta.length > 0 ? ` meta=${text(event.meta)}` : '';
      const name = /^0{13}/.test(event.id) ? nameOfId({ high: 0, low: parseInt(event.id.slice(8), 16) }) : event.id;
      this.lines.push(`@${event.atMs} event ${event.type} ${name} inc=${event.incarnation}${meta}`);
    }
  }

  private membersText(): string {
    const table = this.must().table;
    const rows: string[] = [];
    for (let row = 0; row < table.rowCount; row++) {
      const status = table.status[row]!;
      if (status === F.kStatusEmpty) continue;
      rows.push(`${nameOfId({ high: table.idHigh[row]!, low: table.idLow[row]! })}=${kStatusNames[status]}/${table.incarnation[row]}`);
    }
    return rows.sort().join(' ');
  }

  /** Prints the member states when a command changed any status or incarnation. */
  private reportMembers(): void {
    if (this.engine === null) return;
    const now = this.membersText();
    if (now !== this.lastMembers) {
      this.lastMembers = now;
      if (!this.lines.some((l) => l.startsWith('members: '))) this.lines.push(`members: ${now}`);
    }
  }

  private tick(words: readonly string[]): void {
    const engine = this.must();
    const args = parseArgs(words.slice(1));
    const total = durationMs(words[0] ?? '');
    if (total > kTickMsMax) throw new TranscriptError(`tick of ${total} ms is longer than ${kTickMsMax} ms`);
    const step = args.has('step') ? durationMs(args.get('step')!) : kTickStepMs;
    const end = this.nowMs + total;
    while (this.nowMs < end) {
      this.nowMs = Math.min(end, this.nowMs + step);
      engine.tick();
      this.deliverAcks();
      this.flushEvents();
    }
  }

  /** `recv MSG [+ MSG...]`: one datagram; its sender is `via=` or the first message's from=. */
  private receive(rest: string): void {
    const engine = this.must();
    const messages: Message[] = [];
    let sender: string | undefined;
    for (const piece of rest.split(' + ')) {
      const words = piece.trim().split(/\s+/);
      const args = parseArgs(words.slice(1));
      if (args.has('via')) sender = resolveAddress(args.get('via')!);
      const from = args.get('from');
      if (sender === undefined && from !== undefined) sender = addressOfName(from);
      messages.push(this.message(words[0]!, args));
    }
    if (sender === undefined) throw new TranscriptError('recv needs from= or via= to know the sender');
    engine.receiveDatagram(sender, this.codec.encode(messages));
  }

  private message(kind: string, args: Map<string, string>): Message {
    const seq = () => int(need(args, 'seq', kind), 'seq');
    const inc = () => int(need(args, 'inc', kind), 'inc');
    const id = (key: string) => idOfName(need(args, key, kind));
    const address = (key: string): WireAddress => (args.has(key) ? parseWireAddress(resolveAddress(args.get(key)!)) : kNoAddress);
    switch (kind) {
      case 'ping':
        return { type: F.kTypePing, seq: seq(), target: args.has('target') ? id('target') : idOfName('A'), source: id('from'), sourceAddress: address('reply-to') };
      case 'indirect-ping':
        return { type: F.kTypeIndirectPing, seq: seq(), nack: args.has('nack'), target: id('target'), targetAddress: parseWireAddress(addressOfName(need(args, 'target', kind))), source: id('from'), sourceAddress: address('reply-to') };
      case 'ack':
        return { type: F.kTypeAck, seq: seq(), source: id('from'), payload: new Uint8Array(0) };
      case 'nack':
        return { type: F.kTypeNack, seq: seq(), source: id('from') };
      case 'suspect':
        return { type: F.kTypeSuspect, incarnation: inc(), node: id('subject'), from: id('from') };
      case 'dead':
        return { type: F.kTypeDead, incarnation: inc(), node: id('subject'), from: id('from') };
      case 'alive':
        return { type: F.kTypeAlive, incarnation: inc(), node: id('subject'), address: parseWireAddress(addressOfName(need(args, 'subject', kind))), meta: new TextEncoder().encode(args.get('meta') ?? '') };
      case 'leave':
        return { type: F.kTypeLeave, incarnation: inc(), node: id('subject') };
      case 'digest': {
        const entries = [...args.entries()].filter(([k]) => /^[A-Z]$/.test(k)).map(([k, v]) => parseEntry(`${k}=${v}`));
        return { type: F.kTypePushPullDigest, flags: args.has('flags') ? flagsOf(args.get('flags')) : F.kPushPullFlagGossip, entries };
      }
      case 'user':
        return { type: F.kTypeUser, payload: new TextEncoder().encode(need(args, 'payload', kind)) };
      default:
        throw new TranscriptError(`unknown message "${kind}"`);
    }
  }

  /**
   * `recv-frame state from=B [flags=..] ENTRY...`, `recv-frame summary from=B [flags=..]
   * [buckets=N] ENTRY...` (the summary of a table holding those entries), or
   * `recv-frame ping|ack from=B seq=N`.
   */
  private receiveFrame(words: readonly string[]): void {
    const engine = this.must();
    const kind = words[0];
    const args = parseArgs(words.slice(1));
    const from = need(args, 'from', `recv-frame ${kind}`);
    const entries = words.slice(1).filter((w) => /^[A-Z]=/.test(w)).map(parseEntry);
    const flags = flagsOf(args.get('flags'));
    let bytes: Uint8Array;
    switch (kind) {
      case 'state':
        bytes = this.frameCodec.encode([{ type: F.kTypePushPullState, flags, entries: entries.map((e) => ({ ...e, meta: e.meta ?? new Uint8Array(0) })) }]);
        break;
      case 'summary': {
        const runtime = createRuntime({ backend: 'ts', memoryBytes: 1 << 20 });
        const table = MembershipTable.create(runtime, 64);
        for (const e of entries) {
          const row = table.upsert(e.id, e.address, e.incarnation, e.status, 0);
          table.heartbeat[row] = e.heartbeat;
        }
        bytes = encodeSummaryFrame(summarize(table, args.has('buckets') ? int(args.get('buckets')!, 'buckets') : 1), flags, true);
        break;
      }
      case 'ping':
        bytes = this.codec.encode([{ type: F.kTypePing, seq: int(need(args, 'seq', 'ping'), 'seq'), target: idOfName('A'), source: idOfName(from), sourceAddress: kNoAddress }]);
        break;
      case 'ack':
        bytes = this.codec.encode([{ type: F.kTypeAck, seq: int(need(args, 'seq', 'ack'), 'seq'), source: idOfName(from), payload: new Uint8Array(0) }]);
        break;
      default:
        throw new TranscriptError(`unknown frame "${String(kind)}"`);
    }
    engine.receiveFrame(addressOfName(from), bytes);
  }
}
