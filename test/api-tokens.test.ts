// Proves the API token store on a real file in a temporary directory: secrets are
// returned once and only their SHA-256 reaches the file (the file is scanned for the
// secret and every recognisable piece of it), the file is 0600 and survives a reload,
// authentication accepts exactly the issued secrets, names and roles are validated,
// duplicate names, unknown names, the last admin and a full store are coded errors, a
// failed write leaves memory unchanged, corrupt files are refused with clear messages,
// and bootstrap writes a 0600 admin token file only for an empty store.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { kTokensMax, TokenStore, TokenStoreError, type TokenStoreErrorCode } from '../src/ops/api/token-store.js';

let dir: string;
let path: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'galaxy-tokens-'));
  path = join(dir, 'tokens.json');
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

function codeOf(action: () => unknown): TokenStoreErrorCode {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(TokenStoreError);
    return (error as TokenStoreError).code;
  }
  throw new Error('expected a TokenStoreError');
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

describe('TokenStore', () => {
  it('stores only hashes, in a 0600 file, and authenticates the same secrets after a reload', () => {
    const fixed = new Date('2025-01-02T03:04:05.000Z');
    const store = TokenStore.open(path, { now: () => fixed });
    const ops = store.create('ops', 'operator');
    const ci = store.create('ci.bot-1', 'viewer');
    expect(ops.token).toMatch(/^gxt_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(ops.token.slice(4), 'base64url')).toHaveLength(32);
    expect(ops).toMatchObject({ name: 'ops', role: 'operator', createdAt: fixed.toISOString() });

    const text = readFileSync(path, 'utf8');
    for (const secret of [ops.token, ci.token]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(secret.slice(4));
      expect(text).not.toContain(secret.slice(4, 20));
      expect(text).toContain(sha256(secret));
    }
    expect(statSync(path).mode & 0o777).toBe(0o600);

    const reloaded = TokenStore.open(path);
    expect(reloaded.authenticate(ops.token)).toEqual({ name: 'ops', role: 'operator' });
    expect(reloaded.authenticate(ci.token)).toEqual({ name: 'ci.bot-1', role: 'viewer' });
    expect(reloaded.list()).toEqual([
      { name: 'ci.bot-1', role: 'viewer', createdAt: fixed.toISOString() },
      { name: 'ops', role: 'operator', createdAt: fixed.toISOString() },
    ]);
    expect(reloaded.size).toBe(2);
  });

  it('refuses anything but an issued secret', () => {
    const store = TokenStore.open(path);
    const { token } = store.create('ops', 'operator');
    const flipped = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    for (const wrong of ['', 'gxt_', flipped, token.slice(4), `${token}x`, `Bearer ${token}`, `gxt_${randomBytes(32).toString('base64url')}`, 'x'.repeat(100_000)]) {
      expect(store.authenticate(wrong)).toBeNull();
    }
    expect(store.authenticate(token)).toEqual({ name: 'ops', role: 'operator' });
  });

  it('validates names and roles, refuses duplicates and unknown names', () => {
    const store = TokenStore.open(path);
    store.create('a', 'admin');
    expect(codeOf(() => store.create('a', 'viewer'))).toBe('GALAXY_TOKEN_NAME_TAKEN');
    expect(codeOf(() => store.create('', 'viewer'))).toBe('GALAXY_TOKEN_NAME_INVALID');
    expect(codeOf(() => store.create('x'.repeat(65), 'viewer'))).toBe('GALAXY_TOKEN_NAME_INVALID');
    expect(codeOf(() => store.create('has space', 'viewer'))).toBe('GALAXY_TOKEN_NAME_INVALID');
    expect(codeOf(() => store.create('slash/name', 'viewer'))).toBe('GALAXY_TOKEN_NAME_INVALID');
    expect(codeOf(() => store.create('root', 'root' as 'admin'))).toBe('GALAXY_TOKEN_ROLE_INVALID');
    expect(store.create('x'.repeat(64), 'viewer').name).toHaveLength(64);
    expect(codeOf(() => store.remove('nobody'))).toBe('GALAXY_TOKEN_NOT_FOUND');
  });

  it('removes tokens, persistently, but never the last admin', () => {
    const store = TokenStore.open(path);
    const first = store.create('first', 'admin');
    const viewer = store.create('viewer', 'viewer');
    expect(codeOf(() => store.remove('first'))).toBe('GALAXY_TOKEN_LAST_ADMIN');
    store.remove('viewer');
    expect(store.authenticate(viewer.token)).toBeNull();
    const second = store.create('second', 'admin');
    store.remove('first');
    const reloaded = TokenStore.open(path);
    expect(reloaded.authenticate(first.token)).toBeNull();
    expect(reloaded.authenticate(second.token)).toEqual({ name: 'second', role: 'admin' });
    expect(reloaded.list().map((t) => t.name)).toEqual(['second']);
  });

  it('is bounded: a full store refuses another token', () => {
    const records = Array.from({ length: kTokensMax }, (_, i) => ({ name: `t${i}`, role: 'viewer', hash: sha256(`secret-${i}`), createdAt: '2025-01-01T00:00:00.000Z' }));
    writeFileSync(path, JSON.stringify({ version: 1, tokens: records }));
    const store = TokenStore.open(path);
    expect(store.size).toBe(kTokensMax);
    expect(codeOf(() => store.create('one-more', 'viewer'))).toBe('GALAXY_TOKEN_STORE_FULL');
    writeFileSync(path, JSON.stringify({ version: 1, tokens: [...records, { ...records[0]!, name: 'over', hash: sha256('over') }] }));
    expect(codeOf(() => TokenStore.open(path))).toBe('GALAXY_TOKEN_STORE_CORRUPT');
  });

  it('keeps memory and file in step when a write fails', () => {
    const store = TokenStore.open(join(dir, 'missing-directory', 'tokens.json'));
    expect(() => store.create('ops', 'operator')).toThrow(/ENOENT/);
    expect(store.list()).toEqual([]);
    expect(store.size).toBe(0);
  });

  it('refuses a corrupt file with a message naming the file and the fault', () => {
    const message = (text: string): string => {
      writeFileSync(path, text);
      try {
        TokenStore.open(path);
      } catch (error) {
        expect((error as TokenStoreError).code).toBe('GALAXY_TOKEN_STORE_CORRUPT');
        return (error as Error).message;
      }
      throw new Error('expected open to fail');
    };
    const good = { name: 'a', role: 'admin', hash: sha256('a'), createdAt: '2025-01-01T00:00:00.000Z' };
    expect(message('{not json')).toMatch(new RegExp(`token store ${path} is corrupt \\(not JSON`));
    expect(message(JSON.stringify({ version: 2, tokens: [] }))).toMatch(/file\.version/);
    expect(message(JSON.stringify({ version: 1, tokens: [{ ...good, hash: 'ABC' }] }))).toMatch(/file\.tokens\.0\.hash: must be 64 lowercase hex digits/);
    expect(message(JSON.stringify({ version: 1, tokens: [{ ...good, role: 'root' }] }))).toMatch(/file\.tokens\.0\.role/);
    expect(message(JSON.stringify({ version: 1, tokens: [{ ...good, secret: 'gxt_x' }] }))).toMatch(/Unrecognized key/);
    expect(message(JSON.stringify({ version: 1, tokens: [good, { ...good, hash: sha256('b') }] }))).toMatch(/the name "a" appears twice/);
    expect(message(JSON.stringify({ version: 1, tokens: [good, { ...good, name: 'b' }] }))).toMatch(/share the hash/);
  });

  it('bootstraps an admin token into a 0600 file only when the store is empty', () => {
    const adminPath = join(dir, 'admin.token');
    const store = TokenStore.open(path);
    expect(store.bootstrap(adminPath)).toBe(true);
    expect(statSync(adminPath).mode & 0o777).toBe(0o600);
    const secret = readFileSync(adminPath, 'utf8').trim();
    expect(secret).toMatch(/^gxt_/);
    expect(readFileSync(path, 'utf8')).not.toContain(secret);
    expect(TokenStore.open(path).authenticate(secret)).toEqual({ name: 'admin', role: 'admin' });

    expect(store.bootstrap(adminPath)).toBe(false);
    expect(TokenStore.open(path).bootstrap(adminPath)).toBe(false);
    expect(readFileSync(adminPath, 'utf8').trim()).toBe(secret);

    const other = join(dir, 'other');
    const seeded = TokenStore.open(join(dir, 'seeded.json'));
    seeded.create('ops', 'admin');
    expect(seeded.bootstrap(other)).toBe(false);
    expect(() => statSync(other)).toThrow(/ENOENT/);
  });
});
