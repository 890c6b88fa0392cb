// Proves the Measurement service's /proc reader: the parsers read fixed Linux inputs
// exactly (CPU busy share from two /proc/stat samples, load averages, MemTotal and
// MemAvailable, network bytes excluding loopback), malformed files give clear errors,
// and on this Linux machine a live sample gives sane values.
import { describe, expect, it } from 'vitest';
import { parseCpuTimes, parseLoadAverage, parseMemory, parseNetworkBytes, ProcSampler, type ProcSources } from '../src/farm/measurement/proc-sampler.js';

const stat = (user: number, idle: number) => `cpu  ${user} 0 0 ${idle} 0 0 0 0 0 0\ncpu0 1 2 3 4\nintr 1\n`;
const netdev = (rx: number, tx: number) => `Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets\n    lo: 999 1 0 0 0 0 0 0 999 1 0 0 0 0 0 0\n  eth0: ${rx} 10 0 0 0 0 0 0 ${tx} 10 0 0 0 0 0 0\n`;

describe('proc parsers', () => {
  it('parse fixed inputs exactly', () => {
    expect(parseCpuTimes(stat(300, 700))).toEqual({ busy: 300, total: 1000 });
    expect(parseLoadAverage('0.52 1.10 2.00 3/400 12345\n')).toEqual([0.52, 1.1, 2]);
    expect(parseMemory('MemTotal:       2048 kB\nMemFree: 1 kB\nMemAvailable:   1024 kB\n')).toEqual({ totalBytes: 2048 * 1024, availableBytes: 1024 * 1024 });
    expect(parseNetworkBytes(netdev(5000, 7000))).toEqual({ receiveBytes: 5000, transmitBytes: 7000 });
  });

  it('refuse malformed files with clear errors', () => {
    expect(() => parseCpuTimes('intr 1\n')).toThrow(/no aggregate "cpu" line/);
    expect(() => parseLoadAverage('x y z')).toThrow(/loadavg is malformed/);
    expect(() => parseMemory('MemTotal: 5 kB\n')).toThrow(/no MemAvailable/);
  });

  it('computes rates between samples', () => {
    let t = 0;
    const files: Record<string, string> = { '/proc/stat': stat(100, 900), '/proc/loadavg': '1 1 1 1/1 1', '/proc/meminfo': 'MemTotal: 4 kB\nMemAvailable: 2 kB\n', '/proc/net/dev': netdev(0, 0) };
    const sources: ProcSources = { readFile: (p) => files[p]!, statfs: () => ({ totalBytes: 100, freeBytes: 40 }), nowMs: () => t };
    const sampler = new ProcSampler(sources);
    expect(sampler.sample()).toMatchObject({ cpuBusy: 0, netReceiveBytesPerSecond: 0, diskFreeBytes: 40 });
    files['/proc/stat'] = stat(400, 1600); // +300 busy of +1000 total
    files['/proc/net/dev'] = netdev(2000, 4000);
    t = 2000;
    expect(sampler.sample()).toMatchObject({ cpuBusy: 0.3, netReceiveBytesPerSecond: 1000, netTransmitBytesPerSecond: 2000 });
  });
});

describe('live sample', () => {
  it.skipIf(process.platform !== 'linux')('reads this machine', () => {
    const sampler = new ProcSampler();
    sampler.sample();
    const m = sampler.sample();
    expect(m.memTotalBytes).toBeGreaterThan(m.memAvailableBytes);
    expect(m.memAvailableBytes).toBeGreaterThan(0);
    expect(m.diskTotalBytes).toBeGreaterThanOrEqual(m.diskFreeBytes);
    expect(m.cpuBusy).toBeGreaterThanOrEqual(0);
    expect(m.cpuBusy).toBeLessThanOrEqual(1);
    expect(m.load1).toBeGreaterThanOrEqual(0);
  });
});
