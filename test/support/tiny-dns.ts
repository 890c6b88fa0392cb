// A DNS server for tests, on node:dgram: it answers A and SRV questions from a
// table the test can change, NXDOMAIN for names it does not hold, and counts queries.
// Enough for node:dns's Resolver#setServers(['127.0.0.1:PORT']); no compression in
// answers beyond the pointer to the question, no TCP, no EDNS.
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';

export interface SrvRecord {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
}

export interface DnsZone {
  a?: Record<string, string[]>;
  srv?: Record<string, SrvRecord[]>;
}

const kTypeA = 1;
const kTypeSrv = 33;

export class TinyDns {
  zone: DnsZone;
  queries = 0;
  private constructor(private readonly socket: Socket, zone: DnsZone) {
    this.zone = zone;
    socket.on('message', (message, rinfo) => {
      this.queries++;
      const answer = this.answer(message);
      if (answer !== null) socket.send(answer, rinfo.port, rinfo.address);
    });
  }

  static async start(zone: DnsZone): Promise<TinyDns> {
    const socket = createSocket('udp4');
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    return new TinyDns(socket, zone);
  }

  get server(): string {
    return `127.0.0.1:${this.socket.address().port}`;
  }

  close(): void {
    this.socket.close();
  }

  private answer(query: Buffer): Buffer | null {
    if (query.length < 12) return null;
    let offset = 12;
    const labels: string[] = [];
    while (offset < query.length && query[offset]! !== 0) {
      const length = query[offset]!;
      labels.push(query.subarray(offset + 1, offset + 1 + length).toString('ascii'));
      offset += 1 + length;
    }
    offset += 1;
    const type = query.readUInt16BE(offset);
    const questionEnd = offset + 4;
    const name = labels.join('.').toLowerCase();
    const records: Buffer[] = [];
    const known = [this.zone.a, this.zone.srv].some((table) => table !== undefined && Object.hasOwn(table, name));
    if (type === kTypeA) for (const ip of this.zone.a?.[name] ?? []) records.push(record(kTypeA, Buffer.from(ip.split('.').map(Number))));
    if (type === kTypeSrv) {
      for (const srv of this.zone.srv?.[name] ?? []) {
        const fixed = Buffer.alloc(6);
        fixed.writeUInt16BE(srv.priority, 0);
        fixed.writeUInt16BE(srv.weight, 2);
        fixed.writeUInt16BE(srv.port, 4);
        records.push(record(kTypeSrv, Buffer.concat([fixed, encodeName(srv.target)])));
      }
    }
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2);
    header.writeUInt16BE(known ? 0x8180 : 0x8183, 2); // response, recursion available; NXDOMAIN when unknown
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(records.length, 6);
    return Buffer.concat([header, query.subarray(12, questionEnd), ...records]);
  }
}

function record(type: number, data: Buffer): Buffer {
  const fixed = Buffer.alloc(12);
  fixed.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
  fixed.writeUInt16BE(type, 2);
  fixed.writeUInt16BE(1, 4);
  fixed.writeUInt32BE(5, 6);
  fixed.writeUInt16BE(data.length, 10);
  return Buffer.concat([fixed, data]);
}

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'ascii')]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}
