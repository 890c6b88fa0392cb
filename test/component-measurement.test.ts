// Proves the Measurement service as a component in its own process (the compiled
// dist/src/farm/measurement/measurement-component.js): it posts this machine's real
// CPU, load, memory, disk and network figures from /proc; its sampling interval changes
// at runtime (at 2000 ms nothing arrives in the first 300 ms; switched to 100 ms, five
// samples arrive within well under two seconds, each less than a second apart); an
// interval outside 100 ms .. 1 h is refused with the field named, and the old interval
// stays. The configuration parser is also checked on its own. Needs the compiled module:
// `npm test` builds first (pretest); by hand, run `npx tsc -p tsconfig.json` before vitest.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { kMeasurementComponent, measurementComponentPath, parseMeasurementConfig } from '../src/farm/measurement/measurement-component.js';
import { closeHosts, testHost, waitFor } from './support/components.js';

afterEach(async () => {
  await closeHosts();
});

const kKeys = ['cpuBusy', 'load1', 'load5', 'load15', 'memTotalBytes', 'memAvailableBytes', 'diskTotalBytes', 'diskFreeBytes', 'netReceiveBytesPerSecond', 'netTransmitBytesPerSecond'];

describe('measurement component', () => {
  it('parses its configuration with defaults and bounds', () => {
    expect(parseMeasurementConfig({})).toEqual({ intervalMs: 5000, diskPath: '/' });
    expect(parseMeasurementConfig({ intervalMs: 100 }).intervalMs).toBe(100);
    expect(() => parseMeasurementConfig({ intervalMs: 99 })).toThrow(/intervalMs/);
    expect(() => parseMeasurementConfig({ intervalMs: 3_600_001 })).toThrow(/intervalMs/);
    expect(() => parseMeasurementConfig({ intervalMs: 1.5 })).toThrow(/intervalMs/);
    expect(() => parseMeasurementConfig({ diskPath: 'relative' })).toThrow(/diskPath/);
    expect(() => parseMeasurementConfig({ interval: 100 })).toThrow(/interval/);
    expect(kMeasurementComponent).toEqual({ name: 'measurement', kind: 'measurement', module: measurementComponentPath() });
    expect(measurementComponentPath()).toMatch(/dist\/src\/farm\/measurement\/measurement-component\.js$/);
  });

  it('posts real values from /proc and changes its interval at runtime', async () => {
    const t = testHost();
    t.host.add({ ...kMeasurementComponent, config: { intervalMs: 2000 } });
    const started = await t.host.start('measurement');
    expect(started.state).toBe('running');
    expect(started.config).toEqual({ intervalMs: 2000 });

    // At 2000 ms nothing comes for two seconds; at 100 ms, five samples take about half of one.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(t.values).toHaveLength(0);
    expect(await t.host.query('measurement')).toMatchObject({ intervalMs: 2000, samples: 0 });
    const changedAt = Date.now();
    await t.host.configure('measurement', { intervalMs: 100 });
    await waitFor('five samples at the new interval', () => t.values.length >= 5, 3000);
    expect(Date.now() - changedAt).toBeLessThan(1700);
    const recent = t.values.slice(0, 5).map((v) => v.atMs);
    const gaps = recent.slice(1).map((at, i) => at - recent[i]!);
    expect(Math.max(...gaps)).toBeLessThan(1000);

    const sample = t.values[4]!.values;
    expect(Object.keys(sample).sort()).toEqual([...kKeys].sort());
    const memTotalKb = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1]);
    expect(sample['memTotalBytes']).toBe(memTotalKb * 1024);
    expect(sample['memAvailableBytes']).toBeGreaterThan(0);
    expect(sample['diskTotalBytes']).toBeGreaterThan(0);
    expect(sample['diskFreeBytes']).toBeLessThanOrEqual(sample['diskTotalBytes'] as number);
    expect(sample['cpuBusy']).toBeGreaterThanOrEqual(0);
    expect(sample['cpuBusy']).toBeLessThanOrEqual(1);
    expect(sample['load1']).toBeGreaterThanOrEqual(0);
    expect(sample['netReceiveBytesPerSecond']).toBeGreaterThanOrEqual(0);
    expect(await t.host.query('measurement')).toMatchObject({ intervalMs: 100, diskPath: '/' });

    const refused = t.host.configure('measurement', { intervalMs: 50 });
    await expect(refused).rejects.toMatchObject({ code: 'GALAXY_COMPONENT_CONFIG_REJECTED', message: expect.stringContaining('intervalMs') });
    expect(t.host.status()[0]!.config).toEqual({ intervalMs: 100 });
    expect(await t.host.query('measurement')).toMatchObject({ intervalMs: 100 });
  });

  it('fails its start on a configuration it cannot use', async () => {
    const t = testHost();
    t.host.add({ ...kMeasurementComponent, config: { intervalMs: 10 } });
    const status = await t.host.start('measurement');
    expect(status.state).toBe('backoff');
    expect(status.lastError).toContain('intervalMs');
  });
});
