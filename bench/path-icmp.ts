/**
 * bench:path's ICMP row (issue 14 item 3): the CPU one ICMP port-unreachable report costs
 * the agent at 10,000 members, through its real code: the agent's NodeDriver (what
 * workers/agent-worker.ts runs), built as bench/path-agent.ts builds it (the agent's
 * worker data, native transport, `lan` preset, a key, gossip on), with 10,000 members on
 * distinct loopback addresses in its table, run on this thread so that its CPU can be
 * read. Each report is handed to the NativeTransport as the addon hands it a drained
 * error-queue record (its `errors` callback): classified, the peer's address resolved,
 * the engine's unreachable evidence (address to row through the AddressIndex, the
 * re-probe that confirms it), the events posted. Every member gets exactly one report (the
 * common case: the first report about a member that is still alive). CPU is
 * process.cpuUsage over rounds after warm-up rounds, median round. Beside it, in the same run, issue 14's
 * address lookup alone (bench/baseline-row-of-address.ts: every row's address formatted
 * per report) over the same table and addresses.
 */
import type { NativeUdpErrorRecord } from '../src/node/native/loader.js';
import { isAdmissionDatagram } from '../src/farm/admission/admission-wire.js';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { MembershipTable } from '../src/core/table/membership-table.js';
import * as F from '../src/core/wire/format.js';
import { formatWireAddress, parseWireAddress } from '../src/core/wire/message.js';
import { agentWorkerData } from '../src/node/driver/agent-host.js';
import { agentSettings } from '../src/node/driver/agent-options.js';
import { NodeDriver } from '../src/node/driver/node-driver.js';
import { Keyring } from '../src/node/security/keyring.js';
import { scanRowOfAddress } from './baseline-row-of-address.js';
import { freePort } from './free-port.js';

export interface IcmpRow {
  readonly members: number;
  readonly backend: string;
  readonly reports: number;
  /** CPU per report through the NodeDriver, µs (median round). */
  readonly usPerReport: number;
  /** Issue 14's lookup alone (a scan formatting every row), µs per report. */
  readonly usOldLookupOnly: number;
  /** Membership events the reports caused (deaths confirmed, suspicions). */
  readonly events: number;
}

const kRounds = 5;
/** Rounds delivered before the measured ones (the JIT: the first backend run would pay it alone). */
const kWarmupRounds = 3;
const kDeadPort = 9;

export async function measureIcmpReports(options: { members: number; backend: 'wasm' | 'ts' }): Promise<IcmpRow> {
  const key = Keyring.generateKey();
  const settings = agentSettings({ bind: `127.0.0.1:${await freePort()}`, keys: [key], transport: 'native', backend: options.backend, preset: 'lan' });
  const runtime = createRuntime({ memoryBytes: settings.memoryBytes, backend: settings.backend });
  const table = MembershipTable.create(runtime, settings.config.membersMax);
  const data = agentWorkerData(settings, runtime, table, 15, false);
  let events = 0;
  const driver = new NodeDriver({ data, report: (report) => void (report.type === 'events' && (events += report.events.length)), isAdmissionDatagram });
  try {
    await driver.start();
    const engine = driver.engine!;
    const addresses: string[] = [];
    for (let i = 1; i < options.members; i++) {
      const text = formatWireAddress(parseWireAddress(`127.2.${(i >> 8) & 255}.${i & 255}:${kDeadPort}`));
      addresses.push(text);
      table.upsert({ high: 0x3000 + (i >>> 16), low: (i * 2654435761) >>> 0 }, parseWireAddress(text), 1, F.kStatusAlive, 0);
    }
    engine.adoptTable();
    driver.handle({ type: 'keys', keys: [key] });
    const transport = (driver as unknown as { running: { datagram: { kind: string; errors(records: readonly NativeUdpErrorRecord[]): void } } }).running.datagram;
    if (transport.kind !== 'native') throw new Error('bench:path ICMP row needs the native addon: npm run build:native');
    const record = (peer: string): NativeUdpErrorRecord => ({ address: peer.slice(0, peer.lastIndexOf(':')), port: kDeadPort, peer, errno: 111, origin: 'icmp', icmpType: 3, icmpCode: 3, info: 0, offender: '' });
    // A permutation of the members, so that each report is the first about its member.
    const order = addresses.map((_, i) => i).sort((a, b) => ((Math.imul(a, 2654435761) >>> 0) % 65_521) - ((Math.imul(b, 2654435761) >>> 0) % 65_521));
    const perRound = Math.floor(order.length / (kRounds + kWarmupRounds));
    const records = order.map((i) => [record(addresses[i]!)]);
    let next = 0;
    const deliver = (count: number): void => {
      for (let n = 0; n < count; n++) transport.errors(records[next++]!);
    };
    deliver(perRound * kWarmupRounds); // warm-up
    await new Promise((resolve) => setImmediate(resolve));
    const rounds: number[] = [];
    const events0 = events;
    for (let round = 0; round < kRounds; round++) {
      const before = process.cpuUsage();
      deliver(perRound);
      const spent = process.cpuUsage(before);
      rounds.push((spent.user + spent.system) / perRound);
      await new Promise((resolve) => setImmediate(resolve));
    }
    rounds.sort((a, b) => a - b);
    let sink = 0;
    const lookups = 200;
    const before = process.cpuUsage();
    for (let n = 0; n < lookups; n++) sink += scanRowOfAddress(table, engine.selfRow, addresses[order[n]!]!);
    const spent = process.cpuUsage(before);
    if (sink === 0) throw new Error('the scan found no member');
    return { members: options.members, backend: options.backend, reports: perRound * kRounds, usPerReport: rounds[rounds.length >> 1]!, usOldLookupOnly: (spent.user + spent.system) / lookups, events: events - events0 };
  } finally {
    await driver.stop(0);
  }
}
