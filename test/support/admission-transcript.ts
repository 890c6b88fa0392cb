// The interpreter behind the admission transition transcripts (test/testdata/admission/*.txt),
// in the style of etcd raft's datadriven testdata and test/support/membership-transcript.ts:
// it drives the three admission cores of a few nodes (AdmissionController, AdmissionClient,
// KeyRotation) from readable commands and prints every output they produce, so a
// transcript pins single transitions: request, pending, approve, grant, redirect,
// revocation, rotation, restart.
//
// The parts are the real ones: a FarmAuthority whose file is written in a temporary folder
// (authority-file.ts, after each step that changed it, as FarmAdmission does),
// real Ed25519/X25519 node keys, real grant boxes and certificates, and
// real AES-GCM keyrings for `seal`/`open`. What the interpreter adds is the network: sends
// wait in a queue until `deliver X`, control broadcasts until `gossip`, and it routes
// outputs between the cores of one node the way FarmService does (grant -> rotation,
// rotate -> rotation, fetch -> client).
//
// Nodes are named by one capital letter: node L has id 00000000000000<hex of L's code>
// and address l:7946. Keys are named k1, k2, ... in the order the transcript first meets
// them; `*` marks the primary. Time starts at 1_700_000_000_000 ms and moves only by `tick`.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AdmissionClient, type AdmissionClientOutput } from '../../src/farm/admission/admission-client.js';
import { AdmissionController, type AdmissionControllerOutput } from '../../src/farm/admission/admission-controller.js';
import { decodeAdmission, kRequestBodySchema, parseSignedBody, type AdmissionMessage } from '../../src/farm/admission/admission-wire.js';
import type { Credentials } from '../../src/farm/admission/credentials.js';
import { AuthorityFile } from '../../src/farm/admission/authority-file.js';
import { FarmAuthority } from '../../src/farm/admission/farm-authority.js';
import { keyFingerprint } from '../../src/farm/admission/farm-keys.js';
import { KeyRotation, type KeyRotationInput, type KeyRotationOutput, type KeyStep } from '../../src/farm/admission/key-rotation.js';
import { generateNodeKeys, type NodeKeys } from '../../src/farm/admission/node-keys.js';
import type { ControlMessage } from '../../src/farm/service/farm-control.js';
import { Keyring } from '../../src/node/security/keyring.js';
import { CodedError } from '../../src/core/util/coded-error.js';
import { Prng } from '../../src/core/util/prng.js';

const kStartMs = 1_700_000_000_000;
/** Rounds of routing outputs between cores in one command at most; more means a loop. */
const kPumpRoundsMax = 64;
/** Messages waiting in the simulated network at most. */
const kQueueMax = 4096;

/** One command of a transcript with its expected output and where it sits in the file. */
export interface AdmissionBlock {
  readonly command: string;
  readonly expected: string;
  readonly line: number;
}

/** Parses a transcript: `command`, a `----` line, the output up to a blank line; `#` lines are comments. */
export function parseAdmissionTranscript(text: string): AdmissionBlock[] {
  const lines = text.split('\n');
  const blocks: AdmissionBlock[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '' || line.startsWith('#')) {
      i++;
      continue;
    }
    const at = i + 1;
    i++;
    const output: string[] = [];
    if (lines[i] === '----') {
      i++;
      while (i < lines.length && lines[i]!.trim() !== '') output.push(lines[i++]!);
    }
    blocks.push({ command: line, expected: output.join('\n'), line: at });
  }
  return blocks;
}

/** A transcript that cannot be run as written. */
export class AdmissionTranscriptError extends CodedError<'GALAXY_TRANSCRIPT_INVALID'> {
  constructor(message: string) {
    super('GALAXY_TRANSCRIPT_INVALID', message);
  }
}

interface Node {
  readonly name: string;
  readonly id: string;
  readonly address: string;
  readonly keys: NodeKeys;
  readonly seeds: string[];
  controller: AdmissionController;
  client: AdmissionClient;
  rotation: KeyRotation;
  authorityFile: AuthorityFile;
  /** The keyring as the rotation last handed it out (what the transport would seal with). */
  keyring: { keys: string[]; epoch: number };
  credentials: Credentials | null;
  /** False once the farm said revoked: it takes no part (FarmService suspends it). */
  active: boolean;
}

/** Knobs a test can turn to run a transcript against a deliberately broken setup. */
export interface AdmissionWorldOptions {
  /** Authorities approve every request at once (a broken controller for the pending transcripts). */
  readonly autoApprove?: boolean;
  /** Lie to rotations that no member lags behind (a broken driver for the revocation transcripts). */
  readonly laggardsAlwaysZero?: boolean;
}

/** A handful of nodes' admission cores and the network between them. */
export class AdmissionWorld {
  private nowMs = kStartMs;
  private readonly nodes = new Map<string, Node>();
  private readonly byAddress = new Map<string, Node>();
  private readonly byId = new Map<string, Node>();
  private readonly keyNames = new Map<string, string>();
  private readonly network: { from: Node; to: string; bytes: Uint8Array | null; message: AdmissionMessage | null }[] = [];
  private readonly broadcasts: { from: Node; message: ControlMessage }[] = [];
  private sealed: Uint8Array | null = null;
  private lines: string[] = [];

  constructor(
    private readonly dir: string,
    private readonly options: AdmissionWorldOptions = {},
  ) {}

  /** Runs one command and returns what it printed. */
  run(command: string): string {
    this.lines = [];
    const [verb, ...args] = command.trim().split(/\s+/);
    try {
      this.dispatch(verb!, args);
    } catch (error) {
      if (error instanceof AdmissionTranscriptError) throw error;
      this.lines.push(`error ${(error as { code?: string }).code ?? (error as Error).message}`);
    }
    this.pump();
    return this.lines.join('\n');
  }

  private dispatch(verb: string, args: string[]): void {
    switch (verb) {
      case 'farm':
        return this.makeFarm(this.newName(args[0]));
      case 'node':
        return void this.makeNode(this.newName(args[0]), args.slice(1));
      case 'restart':
        return this.restart(this.node(args[0]));
      case 'tick':
        this.nowMs += this.number(args[0]);
        for (const node of this.nodes.values()) this.tickNode(node);
        return;
      case 'deliver':
        // `deliver X reversed`: what waits for X arrives newest first (reordering).
        return this.deliver(this.node(args[0]), args[1] === 'reversed');
      case 'drop':
        return void this.takeFor(this.node(args[0]));
      case 'gossip':
        return this.gossip();
      case 'poll':
        return this.poll(this.node(args[0]));
      case 'keys':
        return this.printKeys(this.node(args[0]));
      case 'records':
        return this.printRecords(this.node(args[0]));
      case 'seal':
        this.sealed = new Keyring(this.node(args[0]).keyring.keys).seal(new TextEncoder().encode('farm traffic'));
        this.lines.push(`${args[0]}: sealed`);
        return;
      case 'open': {
        const node = this.node(args[0]);
        if (this.sealed === null) throw new AdmissionTranscriptError('open needs a seal before it');
        const list = node.keyring.keys;
        const opened = list.length > 0 && new Keyring(list).open(this.sealed) !== null;
        this.lines.push(`${node.name}: ${opened ? 'opened' : 'cannot open'}`);
        return;
      }
      case 'forge':
        return this.forge(this.node(args[0]), this.node(args[1]), args[2] ?? '');
      default: {
        const node = this.node(verb);
        return this.nodeCommand(node, args);
      }
    }
  }

  private nodeCommand(node: Node, args: string[]): void {
    const [what, ...rest] = args;
    switch (what) {
      case 'want':
        node.client.step({ t: 'want', epoch: this.number(rest[0]) });
        return;
      case 'controllers':
        node.client.step({ t: 'controllers', addresses: rest.map((n) => this.node(n).address) });
        return;
      case 'approve':
        node.controller.approve(this.node(rest[0]).id, rest.length > 1 ? rest.slice(1) : undefined, 'op');
        return;
      case 'reject':
        node.controller.reject(this.node(rest[0]).id, 'op');
        return;
      case 'revoke':
        node.controller.revoke(this.node(rest[0]).id, 'op');
        return;
      case 'install':
      case 'use':
      case 'remove':
        // `new`: a fresh key; `bad`: a string that is no key; otherwise a key's name.
        node.rotation.operate(what, rest[0] === 'new' ? this.newKey() : rest[0] === 'bad' ? 'not-a-key' : this.keyByName(rest[0]), 'op');
        return;
      case 'control':
        // A rotation step as farm control would bring it: `X control key-use k2 3`.
        node.rotation.step({ t: 'control', message: this.keyStep(rest) });
        return;
      default:
        throw new AdmissionTranscriptError(`unknown command for node ${node.name}: ${what ?? ''}`);
    }
  }

  // ---- nodes -------------------------------------------------------------------

  private makeFarm(name: string): void {
    const node = this.makeNode(name, []);
    const authority = FarmAuthority.create();
    node.authorityFile.persist(authority);
    authority.autoApprove = this.options.autoApprove === true;
    node.controller.adoptAuthority(authority);
    node.rotation.adoptAuthority(authority);
    // A controller admits itself from its own authority, as FarmService does on start.
    const grant = node.controller.admitSelf(node.client.request());
    node.authorityFile.persist(authority);
    if (grant === null) throw new AdmissionTranscriptError('the new authority did not admit its controller');
    node.client.step({ t: 'reply', message: grant, from: node.address });
  }

  private makeNode(name: string, args: string[]): Node {
    const seeds: string[] = [];
    for (const arg of args) {
      if (arg.startsWith('seeds=')) for (const seed of arg.slice(6).split(',')) seeds.push(this.addressOf(seed));
      else throw new AdmissionTranscriptError(`unknown node option ${arg}`);
    }
    mkdirSync(join(this.dir, name), { recursive: true });
    const code = name.charCodeAt(0);
    const id = code.toString(16).padStart(16, '0');
    const address = `${name.toLowerCase()}:7946`;
    const keys = generateNodeKeys();
    const node = { name, id, address, keys, seeds, credentials: null, active: true } as unknown as Node;
    this.build(node);
    this.nodes.set(name, node);
    this.byAddress.set(address, node);
    this.byId.set(id, node);
    return node;
  }

  /** (Re)makes a node's cores from what it holds: its node keys and its stored credentials. */
  private build(node: Node): void {
    const held = node.credentials;
    // A controller comes back with its authority file, as FarmService.start loads it.
    node.authorityFile = new AuthorityFile(join(this.dir, node.name, 'farm-authority.json'));
    const authority = node.authorityFile.load();
    if (authority !== null) authority.autoApprove = this.options.autoApprove === true;
    node.controller = new AdmissionController(node.id, authority);
    node.client = new AdmissionClient({ id: node.id, address: node.address, roles: [], keys: node.keys, seeds: node.seeds, pinnedCaFingerprint: null }, held);
    node.rotation = new KeyRotation({ keys: held?.keys ?? [], epoch: held?.epoch ?? 0 }, authority, new Prng(node.name.charCodeAt(0)));
    node.keyring = { keys: [...(held?.keys ?? [])], epoch: held?.epoch ?? 0 };
    this.tickNode(node);
  }

  private restart(node: Node): void {
    this.takeFor(node);
    node.active = true;
    this.build(node);
    this.lines.push(`${node.name}: restarted holding ${node.credentials === null ? 'nothing' : `epoch ${node.credentials.epoch}`}`);
  }

  private persist(node: Node, keys: readonly string[], epoch: number): void {
    if (node.credentials !== null) node.credentials = { ...node.credentials, keys: [...keys], epoch };
  }

  private tickNode(node: Node): void {
    node.controller.tick(this.nowMs);
    node.client.tick(this.nowMs);
    node.rotation.tick(this.nowMs);
  }

  // ---- the network -------------------------------------------------------------

  private deliver(node: Node, reversed: boolean): void {
    const items = this.takeFor(node);
    if (reversed) items.reverse();
    for (const item of items) {
      const message = item.message ?? decodeAdmission(item.bytes!);
      if (message === null) throw new AdmissionTranscriptError('an admission message did not decode');
      if (!node.active) continue;
      if (message.t === 'request') node.controller.step({ t: 'request', from: item.from.address, request: message.request, controllers: this.controllersKnownTo(node) });
      else node.client.step({ t: 'reply', message, from: item.from.address });
      this.pump();
    }
  }

  private takeFor(node: Node): AdmissionWorld['network'] {
    const mine = this.network.filter((item) => item.to === node.address);
    const rest = this.network.filter((item) => item.to !== node.address);
    this.network.length = 0;
    this.network.push(...rest);
    return mine;
  }

  /** A signed request in `victim`'s name but with `forger`'s key or body tampered. */
  private forge(forger: Node, victim: Node, how: string): void {
    const request = forger.client.request();
    if (how === 'tamper') {
      const body = JSON.parse(request.body) as Record<string, unknown>;
      body['roles'] = ['controller'];
      this.queue(forger, victim.address, { t: 'request', request: { body: JSON.stringify(body), sig: request.sig } });
    } else if (how === 'garbage') {
      this.queue(forger, victim.address, { t: 'request', request: { body: '{"id":1}', sig: request.sig } });
    } else throw new AdmissionTranscriptError(`forge how? tamper or garbage, got ${how}`);
  }

  private queue(from: Node, to: string, message: AdmissionMessage): void {
    if (this.network.length >= kQueueMax) throw new AdmissionTranscriptError('the network queue is full: deliver or drop');
    this.network.push({ from, to, bytes: null, message });
  }

  /** Every control broadcast so far reaches every other node (in order). */
  private gossip(): void {
    const pending = this.broadcasts.splice(0);
    for (const { from, message } of pending) {
      for (const node of this.nodes.values()) {
        if (node === from || !node.active) continue;
        this.tickNode(node);
        switch (message.op) {
          case 'decision':
            node.controller.step({ t: 'decision', record: message.record });
            break;
          case 'revoked':
            if (message.id === node.id) {
              node.active = false;
              this.lines.push(`${node.name}: revoked by the farm: suspended`);
            } else node.rotation.step({ t: 'revoked', id: message.id, epoch: message.epoch });
            break;
          default:
            node.rotation.step({ t: 'control', message });
        }
        this.pump();
      }
    }
  }

  /** What FarmService's timer does for a rotation: count the live members still below its epoch. */
  private poll(node: Node): void {
    const authority = node.controller.authority;
    for (const { revokedId, epoch } of node.rotation.awaiting()) {
      let count = 0;
      for (const other of this.nodes.values()) {
        if (other === node || other.id === revokedId || !other.active) continue;
        if ((authority?.record(other.id)?.epochGranted ?? 0) < epoch) count++;
      }
      this.lines.push(`${node.name}: laggards ${this.nameOfId(revokedId)} ${count}`);
      // The broken driver prints the truth and tells the core otherwise.
      const input: KeyRotationInput = { t: 'laggards', revokedId, count: this.options.laggardsAlwaysZero === true ? 0 : count };
      node.rotation.step(input);
    }
  }

  private controllersKnownTo(node: Node): string[] {
    const out: string[] = [];
    for (const other of this.nodes.values()) if (other !== node && other.active && other.controller.authority !== null) out.push(other.address);
    return out;
  }

  // ---- routing and printing outputs --------------------------------------------

  private pump(): void {
    for (let round = 0; round < kPumpRoundsMax; round++) {
      let acted = 0;
      for (const node of this.nodes.values()) acted += this.drainController(node) + this.drainClient(node) + this.drainRotation(node);
      if (acted === 0) return;
    }
    throw new AdmissionTranscriptError('outputs keep coming: a loop between cores');
  }

  private drainController(node: Node): number {
    node.authorityFile.persist(node.controller.authority);
    const batch = [...node.controller.ready()];
    node.controller.advance();
    for (const output of batch) this.actController(node, output);
    return batch.length;
  }

  private actController(node: Node, output: AdmissionControllerOutput): void {
    const say = (text: string) => this.lines.push(`${node.name}: ${text}`);
    switch (output.t) {
      case 'send':
        say(`send ${this.nameOfAddress(output.to)} ${this.describe(output.message)}`);
        this.queue(node, output.to, output.message);
        return;
      case 'decision':
        say(`broadcast decision ${this.nameOfId(output.record.id)} ${output.record.status}`);
        this.broadcasts.push({ from: node, message: { op: 'decision', record: output.record } });
        return;
      case 'revoked':
        say(`broadcast revoked ${this.nameOfId(output.id)} epoch=${output.epoch}`);
        this.broadcasts.push({ from: node, message: { op: 'revoked', id: output.id, epoch: output.epoch, by: output.by } });
        return;
      case 'rotate':
        say(`rotate away from ${this.nameOfId(output.revokedId)} to ${this.keyName(output.newKey)}`);
        node.rotation.step({ t: 'rotate', revokedId: output.revokedId, newKey: output.newKey, oldKeys: output.oldKeys, by: output.by });
        return;
      case 'event':
        say(`event ${output.type} ${this.nameOfId(output.record.id)}`);
        return;
      case 'asks':
        say(`asks to join ${this.nameOfId(output.id)}`);
        return;
      case 'refused':
        say(`refused ${output.reason} from ${this.nameOfAddress(output.from)}`);
        return;
    }
  }

  private drainClient(node: Node): number {
    const batch = [...node.client.ready()];
    node.client.advance();
    for (const output of batch) this.actClient(node, output);
    return batch.length;
  }

  private actClient(node: Node, output: AdmissionClientOutput): void {
    const say = (text: string) => this.lines.push(`${node.name}: ${text}`);
    switch (output.t) {
      case 'send': {
        say(`send ${this.nameOfAddress(output.to)} ${this.describe(decodeAdmission(output.bytes)!)}`);
        this.network.push({ from: node, to: output.to, bytes: output.bytes, message: null });
        return;
      }
      case 'grant':
        say(`granted by ${this.nameOfAddress(output.from)} epoch=${output.content.epoch} ${this.keyList(output.content.keys)}`);
        node.credentials = output.credentials;
        node.rotation.step({ t: 'grant', keys: output.content.keys, epoch: output.content.epoch });
        return;
      case 'status':
        say(`status ${output.status} from ${this.nameOfAddress(output.from)}`);
        if (output.status === 'revoked') node.active = false;
        return;
      case 'invalid':
        say(`invalid grant from ${this.nameOfAddress(output.from)}: ${output.why}`);
        return;
      case 'unexpected':
        say(`unexpected reply from ${this.nameOfAddress(output.from)}`);
        return;
    }
  }

  private drainRotation(node: Node): number {
    node.authorityFile.persist(node.controller.authority);
    const batch = [...node.rotation.ready()];
    node.rotation.advance();
    for (const output of batch) this.actRotation(node, output);
    return batch.length;
  }

  private actRotation(node: Node, output: KeyRotationOutput): void {
    const say = (text: string) => this.lines.push(`${node.name}: ${text}`);
    switch (output.t) {
      case 'keyring':
        say(`keyring epoch=${output.epoch} ${this.keyList(output.keys)}`);
        node.keyring = { keys: [...output.keys], epoch: output.epoch };
        this.persist(node, output.keys, output.epoch);
        return;
      case 'control': {
        const m = output.message;
        say(`broadcast ${m.op} ${m.op === 'key-install' ? this.keyName(m.key) : this.nameOfFingerprint(m.fingerprint)} epoch=${m.epoch}`);
        this.broadcasts.push({ from: node, message: m });
        return;
      }
      case 'fetch':
        say(`fetch keyring epoch>=${output.epoch}`);
        node.client.step({ t: 'controllers', addresses: this.controllersKnownTo(node) });
        node.client.step({ t: 'want', epoch: output.epoch });
        return;
      case 'event':
        say(`event keyring ${output.type} epoch=${String(output.body['epoch'])}`);
        return;
      case 'rotated':
        say(`rotated away from ${this.nameOfId(output.revokedId)} epoch=${output.epoch} primary=${this.nameOfFingerprint(output.primary)}`);
        return;
    }
  }

  private printKeys(node: Node): void {
    this.lines.push(`${node.name}: keys epoch=${node.keyring.epoch} ${this.keyList(node.keyring.keys)}`);
  }

  private printRecords(node: Node): void {
    const records = node.controller.records();
    if (records.length === 0) this.lines.push(`${node.name}: no records`);
    for (const record of records.sort((a, b) => a.id.localeCompare(b.id))) this.lines.push(`${node.name}: ${this.nameOfId(record.id)} ${record.status} by ${record.decidedBy ?? '-'}`);
  }

  private describe(message: AdmissionMessage): string {
    switch (message.t) {
      case 'request': {
        const body = parseSignedBody(message.request, kRequestBodySchema);
        return body === null ? 'request (malformed)' : `request ${this.nameOfId(body.id)} epoch=${body.epoch}`;
      }
      case 'redirect':
        return `redirect ${message.controllers.map((a) => this.nameOfAddress(a)).join(',')}`;
      case 'grant':
        return 'grant';
      default:
        return message.t;
    }
  }

  // ---- names -------------------------------------------------------------------

  private keyList(keys: readonly string[]): string {
    return keys.length === 0 ? '(none)' : keys.map((k, i) => `${this.keyName(k)}${i === 0 ? '*' : ''}`).join(',');
  }

  private keyName(key: string): string {
    let name = this.keyNames.get(key);
    if (name === undefined) {
      name = `k${this.keyNames.size + 1}`;
      this.keyNames.set(key, name);
    }
    return name;
  }

  private keyByName(name: string | undefined): string {
    for (const [key, n] of this.keyNames) if (n === name) return key;
    throw new AdmissionTranscriptError(`no key named ${name ?? ''}`);
  }

  private newKey(): string {
    const key = Keyring.generateKey();
    this.keyName(key);
    return key;
  }

  private keyStep(args: string[]): KeyStep {
    const [op, keyName, epochText] = args;
    const epoch = this.number(epochText);
    if (op === 'key-install') return { op, key: this.keyByName(keyName), epoch, by: 'op' };
    if (op === 'key-use' || op === 'key-remove') return { op, fingerprint: keyFingerprint(this.keyByName(keyName)), epoch, by: 'op' };
    throw new AdmissionTranscriptError(`unknown key step ${op ?? ''}`);
  }

  private nameOfFingerprint(fingerprint: string): string {
    for (const [key, name] of this.keyNames) if (keyFingerprint(key) === fingerprint) return name;
    return fingerprint;
  }

  private nameOfAddress(address: string): string {
    return this.byAddress.get(address)?.name ?? address;
  }

  private nameOfId(id: string): string {
    return this.byId.get(id)?.name ?? id;
  }

  private addressOf(name: string): string {
    return `${name.toLowerCase()}:7946`;
  }

  private newName(name: string | undefined): string {
    if (name === undefined || !/^[A-Z]$/.test(name)) throw new AdmissionTranscriptError(`a node is named by one capital letter, got ${name ?? 'nothing'}`);
    if (this.nodes.has(name)) throw new AdmissionTranscriptError(`node ${name} exists`);
    return name;
  }

  private node(name: string | undefined): Node {
    const node = name === undefined ? undefined : this.nodes.get(name);
    if (node === undefined) throw new AdmissionTranscriptError(`no node ${name ?? ''}`);
    return node;
  }

  private number(text: string | undefined): number {
    const value = Number(text);
    if (text === undefined || !Number.isFinite(value)) throw new AdmissionTranscriptError(`a number, got ${text ?? 'nothing'}`);
    return value;
  }
}
