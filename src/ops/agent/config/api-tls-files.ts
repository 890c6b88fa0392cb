import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../../node/util/atomic-file.js';
import { AgentUsageError } from '../../../node/util/agent-usage-error.js';
import { certificateMatchesKey, createSelfSignedCertificate } from '../../api/self-signed-certificate.js';
import type { ApiTls } from '../../api/api-server.js';

/**
 * Where the API's TLS certificate comes from: files the operator provides (a CA-issued
 * certificate, or one made with openssl), or a self-signed one the agent makes once and
 * keeps in its data directory, under kApiTlsDirName, so its fingerprint stays the same
 * across restarts and the operators' pins stay valid.
 */
export type ApiTlsSpec = { readonly kind: 'files'; readonly certFile: string; readonly keyFile: string } | { readonly kind: 'self-signed' };

/** The folder of the data directory holding the self-signed certificate and its key. */
export const kApiTlsDirName = 'api-tls';
export const kApiTlsCertFileName = 'cert.pem';
export const kApiTlsKeyFileName = 'key.pem';
/** A PEM file larger than this is a mistake, not a certificate chain. */
const kPemBytesMax = 1024 * 1024;

export interface LoadedApiTls extends ApiTls {
  /** The certificate file served. */
  readonly certFile: string;
  /** True when a self-signed certificate was made on this start. */
  readonly created: boolean;
}

/**
 * Reads (or makes, for self-signed) the certificate and key, and checks that they belong
 * together; throws AgentUsageError naming the file. `apiHost`: the API's bind host, put
 * in a new self-signed certificate's subjectAltName beside localhost and the host name.
 */
export function loadApiTls(spec: ApiTlsSpec, dataDir: string, apiHost: string | null, nowMs: number = Date.now()): LoadedApiTls {
  if (spec.kind === 'files') {
    const cert = readPem(spec.certFile, '--api-tls-cert');
    const key = readPem(spec.keyFile, '--api-tls-key');
    mustMatch(cert, key, spec.certFile, spec.keyFile);
    return { cert, key, certFile: spec.certFile, created: false };
  }
  const dir = join(dataDir, kApiTlsDirName);
  const certFile = join(dir, kApiTlsCertFileName);
  const keyFile = join(dir, kApiTlsKeyFileName);
  if (existsSync(certFile) && existsSync(keyFile)) {
    const cert = readPem(certFile, '--api-tls self-signed');
    const key = readPem(keyFile, '--api-tls self-signed');
    mustMatch(cert, key, certFile, keyFile);
    return { cert, key, certFile, created: false };
  }
  const altNames = [...new Set(['localhost', '127.0.0.1', '::1', hostname(), ...(apiHost === null || apiHost === '0.0.0.0' || apiHost === '::' ? [] : [apiHost])])];
  const made = createSelfSignedCertificate({ commonName: `galaxy-agent ${hostname()}`, altNames, nowMs });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // The key first: a certificate without its key on disk would be replaced on the next start.
  writeFileAtomic(keyFile, made.key, 0o600);
  writeFileAtomic(certFile, made.cert, 0o644);
  return { ...made, certFile, created: true };
}

function readPem(file: string, source: string): string {
  try {
    const text = readFileSync(file, 'utf8');
    if (text.length > kPemBytesMax) throw new Error(`larger than ${kPemBytesMax} bytes`);
    return text;
  } catch (error) {
    throw new AgentUsageError(`${source} ${file}: cannot read it: ${(error as Error).message}`);
  }
}

function mustMatch(cert: string, key: string, certFile: string, keyFile: string): void {
  let matches: boolean;
  try {
    matches = certificateMatchesKey(cert, key);
  } catch (error) {
    throw new AgentUsageError(`API TLS: ${certFile} and ${keyFile} must be a PEM certificate and its PEM private key: ${(error as Error).message}`);
  }
  if (!matches) throw new AgentUsageError(`API TLS: the key in ${keyFile} is not the key of the certificate in ${certFile}`);
}
