// Proves that the optional galaxy_native addon builds and loads on Linux, that
// its capability probes see IP_RECVERR, that its error-queue decoder turns a
// real ICMP/ICMPv6 "port unreachable" from the loopback into the right errno,
// type, code and destination, and that the loader falls back with a clear
// reason when the addon is disabled, missing or unloadable.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, expect, vi } from 'vitest';
import { loadNative, loadNativeFrom, type NativeAddon } from '../src/node/native/loader.js';
import { closedLoopbackPort, ipv6LoopbackUnavailable } from './support/net.js';

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const notBuiltReason = 'addon not built (no compiler at install?) — run npm run build:native';

function hasCompiler(): boolean {
  return ['c++', 'g++', 'clang++'].some((compiler) => spawnSync(compiler, ['--version']).status === 0);
}

// On Linux with a C++ compiler the install script must have produced the
// addon, so its absence is a failure rather than a reason to skip.
const nativeExpected = process.platform === 'linux' && hasCompiler();
const nativeSkipNote = `native addon not expected here (platform ${process.platform}, C++ compiler ${hasCompiler() ? 'present' : 'absent'})`;

// The real package root but an empty environment, so a GALAXY_NO_NATIVE=1
// in the developer's shell cannot hide a broken build from these tests.
function requireAddon(): NativeAddon {
  const status = loadNativeFrom({}, packageRoot);
  if (!status.loaded) throw new Error(`native addon did not load: ${status.reason}`);
  return status.addon;
}


const connectionRefused = os.constants.errno.ECONNREFUSED;

describe('native addon on this machine', () => {
  it('loads and reports IP_RECVERR support on Linux', (context) => {
    if (!nativeExpected) context.skip(nativeSkipNote);
    const status = loadNativeFrom({}, packageRoot);
    expect(status.loaded ? 'loaded' : status.reason).toBe('loaded');
    if (!status.loaded) return;
    expect(status.path).toBe(path.join(packageRoot, 'build', 'Release', 'galaxy_native.node'));
    expect(status.capabilities.addonVersion).toBe(1);
    expect(status.capabilities.platform).toBe('linux');
    expect(status.capabilities.ipRecvErr).toBe(true);
    expect(status.capabilities.errQueue).toBe(true);
    expect(Array.isArray(status.capabilities.reasons)).toBe(true);
    // Every false capability must come with an explanation for galaxy doctor.
    const falseCapabilities = (['ipRecvErr', 'ipv6RecvErr', 'recvmmsg', 'sendmmsg', 'errQueue', 'soTimestampNs'] as const).filter(
      (name) => !status.capabilities[name],
    );
    for (const name of falseCapabilities) {
      expect(status.capabilities.reasons.some((reason) => reason.startsWith(`${name}:`))).toBe(true);
    }
  });

  it('decodes an ICMP port unreachable for 127.0.0.1 from the error queue', async (context) => {
    if (!nativeExpected) context.skip(nativeSkipNote);
    const addon = requireAddon();
    const port = await closedLoopbackPort('udp4');
    const result = addon.probeErrQueue(false, port);
    expect(result).toMatchObject({
      ok: true,
      errno: connectionRefused,
      origin: 'icmp',
      icmpType: 3,
      icmpCode: 3,
      address: '127.0.0.1',
      port,
      offender: '127.0.0.1',
    });
    expect(connectionRefused).toBe(111);
    if (!result.ok) return;
    expect(result.elapsedUs).toBeGreaterThanOrEqual(0);
    expect(result.elapsedUs).toBeLessThan(200_000);
    console.info(`ICMPv4 port unreachable arrived after ${result.elapsedUs} µs`);
  });

  it('finds a closed IPv4 port by itself when none is given', (context) => {
    if (!nativeExpected) context.skip(nativeSkipNote);
    const result = requireAddon().probeErrQueue(false);
    expect(result.ok ? 'ok' : result.reason).toBe('ok');
    if (!result.ok) return;
    expect(result.origin).toBe('icmp');
    expect(result.address).toBe('127.0.0.1');
    expect(result.port).toBeGreaterThan(0);
    expect(result.port).toBeLessThanOrEqual(65535);
  });

  it('decodes an ICMPv6 port unreachable for ::1 from the error queue', async (context) => {
    if (!nativeExpected) context.skip(nativeSkipNote);
    const unavailable = await ipv6LoopbackUnavailable();
    if (unavailable !== undefined) context.skip(unavailable);
    const addon = requireAddon();
    expect(addon.capabilities().ipv6RecvErr).toBe(true);
    const port = await closedLoopbackPort('udp6');
    const result = addon.probeErrQueue(true, port);
    expect(result).toMatchObject({
      ok: true,
      errno: connectionRefused,
      origin: 'icmp6',
      icmpType: 1,
      icmpCode: 4,
      address: '::1',
      port,
      offender: '::1',
    });
    if (!result.ok) return;
    expect(result.elapsedUs).toBeGreaterThanOrEqual(0);
    expect(result.elapsedUs).toBeLessThan(200_000);
    console.info(`ICMPv6 port unreachable arrived after ${result.elapsedUs} µs`);
  });

  it('rejects malformed probe arguments with JavaScript errors instead of crashing', (context) => {
    if (!nativeExpected) context.skip(nativeSkipNote);
    const addon = requireAddon() as unknown as { probeErrQueue(...values: unknown[]): unknown };
    expect(() => addon.probeErrQueue('yes')).toThrow(TypeError);
    expect(() => addon.probeErrQueue(false, 0)).toThrow(RangeError);
    expect(() => addon.probeErrQueue(false, 70_000)).toThrow(RangeError);
    expect(() => addon.probeErrQueue(false, 1.5)).toThrow(RangeError);
  });
});

describe('native loader fallback', () => {
  it('is disabled by GALAXY_NO_NATIVE=1 even when the addon is built', () => {
    expect(loadNativeFrom({ GALAXY_NO_NATIVE: '1' }, packageRoot)).toEqual({
      loaded: false,
      reason: 'disabled by GALAXY_NO_NATIVE=1',
    });
  });

  it('ignores GALAXY_NO_NATIVE values other than 1', (context) => {
    if (!nativeExpected) context.skip(nativeSkipNote);
    expect(loadNativeFrom({ GALAXY_NO_NATIVE: '0' }, packageRoot).loaded).toBe(true);
  });

  it('says the addon is not built when the package root has no build output', () => {
    const bogusRoot = mkdtempSync(path.join(os.tmpdir(), 'galaxy-native-missing-'));
    try {
      expect(loadNativeFrom({}, bogusRoot)).toEqual({ loaded: false, reason: notBuiltReason });
    } finally {
      rmSync(bogusRoot, { recursive: true, force: true });
    }
  });

  it('reports the load error when the addon file is corrupt', () => {
    const bogusRoot = mkdtempSync(path.join(os.tmpdir(), 'galaxy-native-corrupt-'));
    try {
      const releaseDirectory = path.join(bogusRoot, 'build', 'Release');
      mkdirSync(releaseDirectory, { recursive: true });
      writeFileSync(path.join(releaseDirectory, 'galaxy_native.node'), 'this is not a shared object '.repeat(8));
      const status = loadNativeFrom({}, bogusRoot);
      expect(status.loaded).toBe(false);
      if (status.loaded) return;
      expect(status.reason).not.toBe(notBuiltReason);
      expect(status.reason).toContain('galaxy_native.node');
      if (process.platform === 'linux') expect(status.reason).toMatch(/invalid ELF header/);
    } finally {
      rmSync(bogusRoot, { recursive: true, force: true });
    }
  });

  it('memoises loadNative and agrees with loadNativeFrom on the real package', (context) => {
    const first = loadNative();
    expect(loadNative()).toBe(first);
    const direct = loadNativeFrom(process.env, packageRoot);
    expect(first.loaded).toBe(direct.loaded);
    if (!first.loaded && !direct.loaded) expect(first.reason).toBe(direct.reason);
    if (!nativeExpected) context.skip(nativeSkipNote);
    if (process.env['GALAXY_NO_NATIVE'] !== '1') expect(first.loaded).toBe(true);
  });

  it('makes a freshly imported loadNative honour GALAXY_NO_NATIVE=1 from process.env', async () => {
    const previous = process.env['GALAXY_NO_NATIVE'];
    process.env['GALAXY_NO_NATIVE'] = '1';
    try {
      vi.resetModules();
      const fresh = await import('../src/node/native/loader.js');
      expect(fresh.loadNative()).toEqual({ loaded: false, reason: 'disabled by GALAXY_NO_NATIVE=1' });
    } finally {
      if (previous === undefined) delete process.env['GALAXY_NO_NATIVE'];
      else process.env['GALAXY_NO_NATIVE'] = previous;
      vi.resetModules();
    }
  });
});
