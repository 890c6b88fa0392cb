// Proves that the agent's NodeDriver fixes the datagram checksum by the farm's mode
// (issue 14 item 2): a secure node's datagrams, once opened with the farm key, carry a 0
// trailer (AES-GCM authenticates them, the checksum is neither computed nor checked),
// and an insecure node's carry the real checksum. A plain UDP socket stands in for a
// member in the node's table and reads the node's first probe of it; both kernel
// backends are run.
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryViews } from '../src/core/runtime/memory-views.js';
import { checksum } from '../src/core/wire/checksum.js';
import * as F from '../src/core/wire/format.js';
import { isAdmissionDatagram } from '../src/farm/admission/admission-wire.js';
import { NodeDriver } from '../src/node/driver/node-driver.js';
import { Keyring } from '../src/node/security/keyring.js';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { MembershipTable } from '../src/core/table/membership-table.js';
import { parseWireAddress } from '../src/core/wire/message.js';
import { agentWorkerData } from '../src/node/driver/agent-host.js';
import { agentSettings } from '../src/node/driver/agent-options.js';
import { freePort } from './support/agents.js';

const drivers: NodeDriver[] = [];
const sockets: Socket[] = [];

afterAll(async () => {
  await Promise.all(drivers.map((d) => d.stop(0)));
  for (const socket of sockets) socket.close();
});

/** The first datagram a node sends to a member it holds in its table (its probe), as it left the node. */
async function firstDatagram(options: { keys: string[]; secure: boolean; backend: 'wasm' | 'ts' }): Promise<Uint8Array> {
  const member = createSocket('udp4');
  sockets.push(member);
  member.bind(0, '127.0.0.1');
  await once(member, 'listening');
  const received = once(member, 'message') as Promise<[Buffer]>;
  const settings = agentSettings({ bind: `127.0.0.1:${await freePort()}`, keys: options.keys, secure: options.secure, backend: options.backend });
  const runtime = createRuntime({ memoryBytes: settings.memoryBytes, backend: settings.backend });
  const table = MembershipTable.create(runtime, settings.config.membersMax);
  const driver = new NodeDriver({ data: agentWorkerData(settings, runtime, table, 17), report: () => undefined, isAdmissionDatagram });
  drivers.push(driver);
  await driver.start();
  // A member in the table, as if it had joined: the node probes it over UDP.
  table.upsert({ high: 0x5151, low: 1 }, parseWireAddress(`127.0.0.1:${member.address().port}`), 1, F.kStatusAlive, 0);
  driver.engine!.adoptTable();
  const [bytes] = await received;
  return new Uint8Array(bytes);
}

const trailerOf = (datagram: Uint8Array): number => Buffer.from(datagram).readUInt32LE(datagram.length - F.kChecksumBytes);

describe('NodeDriver: the datagram checksum follows the farm mode', () => {
  for (const backend of ['wasm', 'ts'] as const) {
    it(`${backend}: a secure node's datagrams carry a 0 trailer under the seal`, async () => {
      const key = Keyring.generateKey();
      const sealed = await firstDatagram({ keys: [key], secure: true, backend });
      const datagram = new Keyring([key]).open(sealed);
      expect(datagram).not.toBeNull();
      expect([datagram![0], datagram![1]]).toEqual([F.kMagic0, F.kMagic1]);
      expect(trailerOf(datagram!)).toBe(0);
    });

    it(`${backend}: an insecure node's datagrams carry the checksum`, async () => {
      const datagram = await firstDatagram({ keys: [], secure: false, backend });
      expect([datagram[0], datagram[1]]).toEqual([F.kMagic0, F.kMagic1]);
      const views = new MemoryViews(new ArrayBuffer(F.kDatagramBytesMax + 64));
      views.u8.set(datagram, 0);
      expect(trailerOf(datagram)).toBe(checksum(views, 0, datagram.length - F.kChecksumBytes));
      expect(trailerOf(datagram)).not.toBe(0);
    });
  }
});
