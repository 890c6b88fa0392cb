import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../node/util/atomic-file.js';
import { readJsonFile } from '../../node/util/json-file.js';
import { kCertificateBodySchema, kGrantContentSchema, parseSignedBody, type CertificateBody, type GrantContent, type Signed } from './admission-wire.js';
import { publicKeyOf, verifyText } from './node-keys.js';

/**
 * What an approved node holds, in credentials.json of its data directory: the farm's
 * certificate of its identity, the authority's public key (pinned from the first grant
 * on), and the farm keyring with its epoch. A restart reads it and gossips at once.
 */
export const kCredentialsFileName = 'credentials.json';

export interface Credentials {
  readonly farm: string;
  readonly ca: string;
  readonly cert: Signed;
  readonly certificate: CertificateBody;
  readonly keys: readonly string[];
  readonly epoch: number;
  /** 'revoked' once a controller said so: the node no longer takes part. */
  readonly status: 'approved' | 'revoked';
}

const kFileSchema = z
  .object({
    farm: z.string(),
    ca: z.string(),
    cert: z.object({ body: z.string(), sig: z.string() }).strict(),
    keys: z.array(z.string()).min(1).max(16),
    epoch: z.number().int().min(1),
    status: z.enum(['approved', 'revoked']),
  })
  .strict();

export function readCredentials(dataDir: string): Credentials | null {
  const path = join(dataDir, kCredentialsFileName);
  const file = readJsonFile(path, kFileSchema, 'credentials');
  if (file === null) return null;
  const certificate = parseSignedBody(file.cert, kCertificateBodySchema);
  if (certificate === null) throw new Error(`credentials ${path}: the certificate does not parse`);
  return { ...file, certificate };
}

export function writeCredentials(dataDir: string, credentials: Credentials): void {
  const { certificate: _derived, ...file } = credentials;
  writeFileAtomic(join(dataDir, kCredentialsFileName), `${JSON.stringify(file)}\n`);
}

/**
 * Checks a grant against what this node asked for: the box opened (done by the caller),
 * the content well-formed, the certificate signed by the authority in the box and naming
 * this node's own keys, and the authority the one pinned before (if any). Returns the
 * credentials, or a reason.
 */
export function credentialsFromGrant(
  cert: Signed,
  contentText: string,
  self: { id: string; ed: string; x: string },
  pinnedCa: string | null,
): { credentials: Credentials; content: GrantContent } | { error: string } {
  let content: GrantContent;
  try {
    const parsed = kGrantContentSchema.safeParse(JSON.parse(contentText));
    if (!parsed.success) return { error: 'grant content malformed' };
    content = parsed.data;
  } catch {
    return { error: 'grant content is not JSON' };
  }
  if (pinnedCa !== null && content.ca !== pinnedCa) return { error: 'grant signed by another farm authority than the pinned one' };
  if (!verifyText(publicKeyOf('ed25519', content.ca), cert.body, cert.sig)) return { error: 'certificate signature does not verify' };
  const certificate = parseSignedBody(cert, kCertificateBodySchema);
  if (certificate === null) return { error: 'certificate malformed' };
  if (certificate.id !== self.id || certificate.ed !== self.ed || certificate.x !== self.x) return { error: 'certificate names another node or other keys' };
  if (certificate.farm !== content.farm) return { error: 'certificate of another farm' };
  return { credentials: { farm: content.farm, ca: content.ca, cert, certificate, keys: content.keys, epoch: content.epoch, status: 'approved' }, content };
}
