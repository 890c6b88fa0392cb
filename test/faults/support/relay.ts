// The suite's side of ns-relay.mjs: TCP connections, UDP sessions and HTTP requests
// opened from inside one lab host, through the relay process that runs there.
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { packageRoot } from '../../../src/core/platform/package-root.js';
import type { LabHost } from './netns-lab.js';

const kRelayScript = join(packageRoot(), 'test', 'faults', 'support', 'ns-relay.mjs');
const kRelayStartMsMax = 10_000;
/** An HTTP request through a relay that takes longer than this fails (the agent may be stopped). */
export const kHttpTimeoutMs = 5_000;
/** A response body read at most, bytes (a members list of a 10-node farm is a few KiB). */
const kResponseBytesMax = 4 << 20;

export interface HttpAnswer {
  readonly status: number;
  readonly text: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface HttpOptions {
  readonly token?: string;
  /** A JSON value, or raw bytes sent as they are. */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

export class Relay {
  readonly host: LabHost;
  readonly socketPath: string;
  private readonly child: ChildProcess;
  /** What the relay wrote on stderr (it writes only when something is wrong). */
  stderr = '';

  private constructor(host: LabHost, socketPath: string, child: ChildProcess, stderr: string) {
    this.host = host;
    this.socketPath = socketPath;
    this.child = child;
    this.stderr = stderr;
    child.stderr!.on('data', (chunk: Buffer) => {
      if (this.stderr.length < 16_384) this.stderr += chunk.toString();
    });
  }

  /** Why the relay is gone, or null while it runs. */
  get exited(): string | null {
    const { exitCode, signalCode } = this.child;
    return exitCode === null && signalCode === null ? null : `relay in ${this.host.namespace} exited (${exitCode ?? signalCode}): ${this.stderr.slice(-2000)}`;
  }

  /** Starts the relay inside the host's namespace; resolves once it listens. */
  static async start(host: LabHost, socketDir: string): Promise<Relay> {
    const socketPath = join(socketDir, `${host.namespace}.sock`);
    const child = spawn('ip', ['netns', 'exec', host.namespace, process.execPath, kRelayScript, socketPath], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      if (stderr.length < 4096) stderr += chunk.toString();
    });
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), kRelayStartMsMax);
      createInterface({ input: child.stdout! }).once('line', (line) => {
        clearTimeout(timer);
        resolve(line === 'ready');
      });
      child.once('exit', () => resolve(false));
    });
    if (!ready) {
      child.kill('SIGKILL');
      throw new Error(`the relay in ${host.namespace} did not start: ${stderr}`);
    }
    child.stderr!.removeAllListeners('data');
    return new Relay(host, socketPath, child, stderr);
  }

  /** A socket whose bytes reach `host:port` over TCP from inside the namespace (connected or not yet). */
  tcp(host: string, port: number): Socket {
    const socket = connect(this.socketPath);
    socket.write(`TCP ${host} ${port}\n`);
    return socket;
  }

  /** A UDP socket inside the namespace, sending to `host:port` and collecting what comes back. */
  udp(host: string, port: number): UdpSession {
    return new UdpSession(connect(this.socketPath), host, port);
  }

  /** An HTTP request to a server inside the namespace (the agent's API on its loopback by default). */
  http(method: string, path: string, options: HttpOptions = {}, port = 7600, host = '127.0.0.1'): Promise<HttpAnswer> {
    const raw = options.body instanceof Uint8Array;
    const body = options.body === undefined ? undefined : raw ? (options.body as Uint8Array) : Buffer.from(JSON.stringify(options.body));
    // With Transfer-Encoding given, node sends the body chunked and no length.
    const chunked = options.headers?.['transfer-encoding'] !== undefined;
    const headers: Record<string, string> = {
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...(body === undefined || raw ? {} : { 'content-type': 'application/json' }),
      ...(body === undefined || chunked ? {} : { 'content-length': String(body.length) }),
      ...options.headers,
    };
    return new Promise<HttpAnswer>((resolve, reject) => {
      const req = httpRequest({ method, path, headers, createConnection: () => this.tcp(host, port) }, (res) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes <= kResponseBytesMax) chunks.push(chunk);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
        res.on('error', reject);
      });
      req.setTimeout(options.timeoutMs ?? kHttpTimeoutMs, () => req.destroy(new Error(`${method} ${path} in ${this.host.namespace}: no answer within ${options.timeoutMs ?? kHttpTimeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.child.stdin?.end();
    this.child.kill('SIGKILL');
  }
}

/** One UDP socket inside a namespace, reached through a relay connection. */
export class UdpSession {
  /** Datagrams received from anyone, in order. */
  readonly received: Buffer[] = [];
  private readonly socket: Socket;
  private pending = Buffer.alloc(0);
  private readonly waiters = new Set<() => void>();

  constructor(socket: Socket, host: string, port: number) {
    this.socket = socket;
    socket.write(`UDP ${host} ${port}\n`);
    socket.on('data', (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      while (this.pending.length >= 4 && this.pending.length >= 4 + this.pending.readUInt32LE(0)) {
        const length = this.pending.readUInt32LE(0);
        this.received.push(Buffer.from(this.pending.subarray(4, 4 + length)));
        this.pending = this.pending.subarray(4 + length);
      }
      for (const waiter of this.waiters) waiter();
    });
    socket.on('error', () => {});
  }

  send(bytes: Uint8Array): void {
    const header = Buffer.alloc(4);
    header.writeUInt32LE(bytes.length, 0);
    this.socket.write(Buffer.concat([header, bytes]));
  }

  /** Resolves once at least `count` datagrams have come back, or after timeoutMs with what came. */
  async receive(count: number, timeoutMs: number): Promise<Buffer[]> {
    if (this.received.length < count) {
      await new Promise<void>((resolve) => {
        const done = () => {
          if (this.received.length < count) return;
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(() => {
          this.waiters.delete(done);
          resolve();
        }, timeoutMs);
        this.waiters.add(done);
      });
    }
    return this.received;
  }

  /** Resolves when every frame written so far has been handed to the relay's socket. */
  flush(): Promise<void> {
    return new Promise((resolve) => this.socket.write(Buffer.alloc(0), () => resolve()));
  }

  close(): void {
    this.socket.destroy();
  }
}
