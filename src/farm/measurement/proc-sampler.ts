import { readFileSync, statfsSync } from 'node:fs';

/**
 * The Measurement service's reader: one sample of this node's CPU, memory, load, disk
 * and network from Linux's /proc (and statfs for the disk), with rates computed from the
 * previous sample. The parsers are pure functions of the files' text, so they are tested
 * on fixed inputs; the sampler only reads the files.
 *
 * The values are what the FMIDB will replicate per node (issue: FMIDB and landscapes):
 * flat numeric keys, units last in their names.
 */
export interface Measurement {
  /** Share of CPU time busy since the previous sample, 0..1 (0 on the first sample). */
  cpuBusy: number;
  load1: number;
  load5: number;
  load15: number;
  memTotalBytes: number;
  memAvailableBytes: number;
  diskTotalBytes: number;
  diskFreeBytes: number;
  netReceiveBytesPerSecond: number;
  netTransmitBytesPerSecond: number;
}

export interface CpuTimes {
  busy: number;
  total: number;
}

/** Parses the aggregate "cpu" line of /proc/stat. */
export function parseCpuTimes(stat: string): CpuTimes {
  const line = stat.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) throw new Error('/proc/stat has no aggregate "cpu" line');
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  if (fields.length < 4 || fields.some((n) => !Number.isFinite(n))) throw new Error(`/proc/stat "cpu" line is malformed: ${line}`);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = fields[3]! + (fields[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

/** Parses /proc/loadavg. */
export function parseLoadAverage(text: string): [number, number, number] {
  const [a, b, c] = text.trim().split(/\s+/).map(Number);
  if (![a, b, c].every((n) => Number.isFinite(n))) throw new Error(`/proc/loadavg is malformed: ${text.trim()}`);
  return [a!, b!, c!];
}

/** Parses MemTotal and MemAvailable (kB) from /proc/meminfo, in bytes. */
export function parseMemory(text: string): { totalBytes: number; availableBytes: number } {
  const value = (key: string): number => {
    const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    if (match === null) throw new Error(`/proc/meminfo has no ${key}`);
    return Number(match[1]) * 1024;
  };
  return { totalBytes: value('MemTotal'), availableBytes: value('MemAvailable') };
}

/** Sums received and transmitted bytes over every interface but loopback in /proc/net/dev. */
export function parseNetworkBytes(text: string): { receiveBytes: number; transmitBytes: number } {
  let receiveBytes = 0;
  let transmitBytes = 0;
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    if (name === 'lo') continue;
    const fields = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (fields.length < 9) continue;
    receiveBytes += fields[0]!;
    transmitBytes += fields[8]!;
  }
  return { receiveBytes, transmitBytes };
}

/** Where the sampler reads; tests point it at fixtures. */
export interface ProcSources {
  readFile(path: string): string;
  statfs(path: string): { totalBytes: number; freeBytes: number };
  nowMs(): number;
}

export const kLinuxSources: ProcSources = {
  readFile: (path) => readFileSync(path, 'utf8'),
  statfs: (path) => {
    const s = statfsSync(path);
    return { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
  },
  nowMs: () => performance.now(),
};

/** Takes samples; keeps the previous one for rates. */
export class ProcSampler {
  private previous: { cpu: CpuTimes; net: { receiveBytes: number; transmitBytes: number }; atMs: number } | null = null;

  constructor(
    private readonly sources: ProcSources = kLinuxSources,
    private readonly diskPath = '/',
  ) {}

  sample(): Measurement {
    const cpu = parseCpuTimes(this.sources.readFile('/proc/stat'));
    const [load1, load5, load15] = parseLoadAverage(this.sources.readFile('/proc/loadavg'));
    const memory = parseMemory(this.sources.readFile('/proc/meminfo'));
    const net = parseNetworkBytes(this.sources.readFile('/proc/net/dev'));
    const disk = this.sources.statfs(this.diskPath);
    const atMs = this.sources.nowMs();
    const before = this.previous;
    this.previous = { cpu, net, atMs };
    const seconds = before === null ? 0 : (atMs - before.atMs) / 1000;
    const rate = (now: number, then: number) => (seconds > 0 ? Math.max(0, now - then) / seconds : 0);
    const cpuTotal = before === null ? 0 : cpu.total - before.cpu.total;
    return {
      cpuBusy: cpuTotal > 0 ? (cpu.busy - before!.cpu.busy) / cpuTotal : 0,
      load1,
      load5,
      load15,
      memTotalBytes: memory.totalBytes,
      memAvailableBytes: memory.availableBytes,
      diskTotalBytes: disk.totalBytes,
      diskFreeBytes: disk.freeBytes,
      netReceiveBytesPerSecond: before === null ? 0 : rate(net.receiveBytes, before.net.receiveBytes),
      netTransmitBytesPerSecond: before === null ? 0 : rate(net.transmitBytes, before.net.transmitBytes),
    };
  }
}
