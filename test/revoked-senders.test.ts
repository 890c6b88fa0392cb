// The revoked-senders file (src/farm/admission/revoked-senders.ts): what a member that is
// no controller keeps of the farm's revocations. Ids written survive a reload; one held
// already costs no write; a corrupt file and a malformed id are refused, never replaced.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kRevokedSendersFileName, RevokedSenders } from '../src/farm/admission/revoked-senders.js';

const dir = (): string => mkdtempSync(join(tmpdir(), 'galaxy-revoked-'));

describe('revoked senders file', () => {
  it('keeps the revoked ids across a reload, writing once per new id', () => {
    const dataDir = dir();
    const first = RevokedSenders.load(dataDir);
    expect(first.ids).toEqual([]);
    expect(first.add('00000000000000b2')).toBe(true);
    expect(first.add('00000000000000a1')).toBe(true);
    expect(first.add('00000000000000b2')).toBe(false);
    expect(first.writes).toBe(2);
    const again = RevokedSenders.load(dataDir);
    expect([...again.ids].sort()).toEqual(['00000000000000a1', '00000000000000b2']);
    expect(again.has('00000000000000a1')).toBe(true);
    expect(again.has('00000000000000c3')).toBe(false);
    expect(JSON.parse(readFileSync(join(dataDir, kRevokedSendersFileName), 'utf8'))).toEqual({ version: 1, ids: ['00000000000000a1', '00000000000000b2'] });
  });

  it('refuses a corrupt file and a malformed id, and leaves the file as it was', () => {
    const dataDir = dir();
    const path = join(dataDir, kRevokedSendersFileName);
    writeFileSync(path, '{"version":1,"ids":["not-an-id"]}');
    expect(() => RevokedSenders.load(dataDir)).toThrow(/revoked senders file .* is corrupt/);
    writeFileSync(path, '{"version":1,');
    expect(() => RevokedSenders.load(dataDir)).toThrow(/not JSON/);
    expect(readFileSync(path, 'utf8')).toBe('{"version":1,');
    const fresh = RevokedSenders.load(dir());
    expect(() => fresh.add('B2')).toThrow(/not a node id/);
    expect(fresh.writes).toBe(0);
  });
});
