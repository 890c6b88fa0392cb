import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { writeFileAtomic } from '../../node/util/atomic-file.js';
import type { ApiRole } from '../../surface/api/api-roles.js';
import { kTokenNameSchema } from '../../surface/api/api-schemas.js';
import { kApiRoleSchema } from '../../surface/api/api-roles.js';
import { describeZodError } from '../../node/util/zod-issues.js';
import { CodedError } from '../../core/util/coded-error.js';

/**
 * The API's bearer tokens, persisted in one JSON file. A token is `gxt_` followed by
 * the base64url of 32 random bytes; the file keeps only the SHA-256 of each token, so
 * reading the file (a backup, a support bundle) does not let anyone call the API.
 *
 * Why a fast hash and not bcrypt/scrypt: slow hashes protect low-entropy secrets
 * (passwords) from guessing. A token carries 256 random bits, so guessing is hopeless
 * whatever the hash costs, and a slow hash would only make every API request slower
 * and hand an unauthenticated caller a cheap way to burn CPU.
 *
 * The file is rewritten whole on each change (tmp + fsync + rename, mode 0600), which
 * is fine at the bound of kTokensMax tokens; tokens change at operator speed.
 */
export const kTokenPrefix = 'gxt_';
export const kTokenSecretBytes = 32;
/** Tokens a store holds at most: far more than a farm's operators and scripts need, small enough to rewrite the file whole. */
export const kTokensMax = 1000;
/** Name of the token `bootstrap` creates. */
export const kBootstrapTokenName = 'admin';
const kFileVersion = 1;

/** 1 to 64 of A-Z a-z 0-9 _ . - : safe in a URL path segment, a file listing and a log line. */
export { kTokenNameSchema };
/** The exact shape of a secret: checked before hashing so a huge header costs nothing. */
const kSecretPattern = /^gxt_[A-Za-z0-9_-]{43}$/;
const kHashPattern = /^[0-9a-f]{64}$/;

const kRecordSchema = z
  .object({
    name: kTokenNameSchema,
    role: kApiRoleSchema,
    hash: z.string().regex(kHashPattern, 'must be 64 lowercase hex digits (SHA-256)'),
    createdAt: z.string().datetime(),
  })
  .strict();

const kFileSchema = z
  .object({
    version: z.literal(kFileVersion),
    tokens: z.array(kRecordSchema).max(kTokensMax),
  })
  .strict();

type TokenRecord = z.infer<typeof kRecordSchema>;

/** A token as listed: never its secret, which the store does not have. */
export interface TokenInfo {
  readonly name: string;
  readonly role: ApiRole;
  readonly createdAt: string;
}

/** What `create` returns: the only time the secret is seen. */
export interface CreatedToken extends TokenInfo {
  readonly token: string;
}

/** Who a valid token belongs to. */
export interface TokenIdentity {
  readonly name: string;
  readonly role: ApiRole;
}

export type TokenStoreErrorCode =
  | 'GALAXY_TOKEN_STORE_CORRUPT'
  | 'GALAXY_TOKEN_NAME_INVALID'
  | 'GALAXY_TOKEN_ROLE_INVALID'
  | 'GALAXY_TOKEN_NAME_TAKEN'
  | 'GALAXY_TOKEN_NOT_FOUND'
  | 'GALAXY_TOKEN_STORE_FULL'
  | 'GALAXY_TOKEN_LAST_ADMIN';

export class TokenStoreError extends CodedError<TokenStoreErrorCode> {}

export interface TokenStoreOptions {
  /** The clock for createdAt; tests pass a fixed one. */
  readonly now?: () => Date;
}

export class TokenStore {
  readonly path: string;
  private readonly now: () => Date;
  /** By name, in the order the file lists them. */
  private readonly byName = new Map<string, TokenRecord>();
  /** By hash: authentication is one map lookup, whatever the number of tokens. */
  private readonly byHash = new Map<string, TokenRecord>();

  private constructor(path: string, records: readonly TokenRecord[], options: TokenStoreOptions) {
    this.path = path;
    this.now = options.now ?? (() => new Date());
    for (const record of records) this.index(record);
  }

  /**
   * Opens the store at `path`; a missing file is an empty store (the file is written on
   * the first change). A file that does not parse or validate is an error, never
   * silently replaced: that would drop every token the operators handed out.
   */
  static open(path: string, options: TokenStoreOptions = {}): TokenStore {
    return new TokenStore(path, loadRecords(path), options);
  }

  get size(): number {
    return this.byName.size;
  }

  /** Creates a token and returns its secret, which is not kept and cannot be shown again. */
  create(name: string, role: ApiRole): CreatedToken {
    checkName(name);
    checkRole(role);
    if (this.byName.has(name)) throw new TokenStoreError('GALAXY_TOKEN_NAME_TAKEN', `a token named "${name}" exists; remove it first or choose another name`);
    if (this.byName.size >= kTokensMax) throw new TokenStoreError('GALAXY_TOKEN_STORE_FULL', `the token store holds ${kTokensMax} tokens, its limit: remove unused ones first`);
    const token = kTokenPrefix + randomBytes(kTokenSecretBytes).toString('base64url');
    const record: TokenRecord = { name, role, hash: hashToken(token), createdAt: this.now().toISOString() };
    this.index(record);
    this.saveOrUndo(() => this.unindex(record));
    return { name, role, createdAt: record.createdAt, token };
  }

  /** Every token, by name, without secrets. */
  list(): TokenInfo[] {
    return [...this.byName.values()].map(({ name, role, createdAt }) => ({ name, role, createdAt })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Removes a token; its holder is refused from the next request on. The last admin
   * token cannot be removed: nobody could create tokens any more, and bootstrap only
   * runs on an empty store.
   */
  remove(name: string): void {
    const record = this.byName.get(name);
    if (record === undefined) throw new TokenStoreError('GALAXY_TOKEN_NOT_FOUND', `no token named "${name}"`);
    if (record.role === 'admin' && this.adminCount() === 1) throw new TokenStoreError('GALAXY_TOKEN_LAST_ADMIN', `"${name}" is the last admin token: create another admin token before removing it`);
    this.unindex(record);
    this.saveOrUndo(() => this.index(record));
  }

  /**
   * Who holds `secret`, or null. The lookup is by hash, so its timing depends only on
   * the hash, which tells an attacker nothing about any stored token (they cannot
   * invert it); the final comparison is constant-time anyway, so a future change to
   * the lookup cannot turn into a byte-by-byte timing oracle.
   */
  authenticate(secret: string): TokenIdentity | null {
    if (!kSecretPattern.test(secret)) return null;
    const hash = hashToken(secret);
    const record = this.byHash.get(hash);
    if (record === undefined) return null;
    if (!timingSafeEqual(Buffer.from(record.hash, 'hex'), Buffer.from(hash, 'hex'))) return null;
    return { name: record.name, role: record.role };
  }

  /**
   * On an empty store, creates the admin token "admin" and writes its secret to
   * `adminTokenPath` (mode 0600), as Consul's ACL bootstrap does: the first operator
   * reads it from the agent's data directory. Returns whether it did.
   *
   * The secret file is written before the store: a crash in between leaves an empty
   * store, so the next start bootstraps again and overwrites the file. The other order
   * could leave a store whose only admin secret was never written anywhere.
   */
  bootstrap(adminTokenPath: string): boolean {
    if (this.byName.size > 0) return false;
    const token = kTokenPrefix + randomBytes(kTokenSecretBytes).toString('base64url');
    writeFileAtomic(adminTokenPath, `${token}\n`, 0o600);
    const record: TokenRecord = { name: kBootstrapTokenName, role: 'admin', hash: hashToken(token), createdAt: this.now().toISOString() };
    this.index(record);
    this.saveOrUndo(() => this.unindex(record));
    return true;
  }

  private adminCount(): number {
    let count = 0;
    for (const record of this.byName.values()) if (record.role === 'admin') count++;
    return count;
  }

  private index(record: TokenRecord): void {
    this.byName.set(record.name, record);
    this.byHash.set(record.hash, record);
  }

  private unindex(record: TokenRecord): void {
    this.byName.delete(record.name);
    this.byHash.delete(record.hash);
  }

  /** Writes the file; when that fails, the change is undone in memory so memory and disk agree. */
  private saveOrUndo(undo: () => void): void {
    try {
      const document = { version: kFileVersion, tokens: [...this.byName.values()] };
      writeFileAtomic(this.path, `${JSON.stringify(document, null, 2)}\n`, 0o600);
    } catch (error) {
      undo();
      throw error;
    }
  }
}

/** SHA-256, lowercase hex. */
function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function checkName(name: string): void {
  const parsed = kTokenNameSchema.safeParse(name);
  if (!parsed.success) throw new TokenStoreError('GALAXY_TOKEN_NAME_INVALID', describeZodError('name', parsed.error));
}

function checkRole(role: string): void {
  const parsed = kApiRoleSchema.safeParse(role);
  if (!parsed.success) throw new TokenStoreError('GALAXY_TOKEN_ROLE_INVALID', describeZodError('role', parsed.error));
}

function loadRecords(path: string): TokenRecord[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const corrupt = (why: string): TokenStoreError => new TokenStoreError('GALAXY_TOKEN_STORE_CORRUPT', `token store ${path} is corrupt (${why}); fix it or move it away to start with a new admin token`);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw corrupt(`not JSON: ${(error as Error).message}`);
  }
  const parsed = kFileSchema.safeParse(document);
  if (!parsed.success) throw corrupt(describeZodError('file', parsed.error));
  const names = new Set<string>();
  const hashes = new Set<string>();
  for (const record of parsed.data.tokens) {
    if (names.has(record.name)) throw corrupt(`the name "${record.name}" appears twice`);
    if (hashes.has(record.hash)) throw corrupt(`tokens share the hash ${record.hash.slice(0, 16)}…`);
    names.add(record.name);
    hashes.add(record.hash);
  }
  return parsed.data.tokens;
}
