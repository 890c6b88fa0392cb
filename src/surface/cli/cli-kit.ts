import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ApiClient, ApiClientError } from '../client/api-client.js';
import { parseFingerprint } from '../client/certificate-fingerprint.js';

export { kDefaultApiBind } from './agent-files.js';

/**
 * The operator's commands: each talks to a running agent's HTTP API. Where the agent
 * is and which token to use come from --api/--token, then GALAXY_API/GALAXY_TOKEN, then
 * the agent's data directory (--data-dir: api.json and admin.token, written by the
 * agent), then the default loopback address.
 */
export interface ConnectionFlags {
  api?: string;
  /** SHA-256 fingerprint of the agent's API certificate to pin (https only). */
  apiFingerprint?: string;
  token?: string;
  dataDir?: string;
  json?: boolean;
}

export { kApiFileName, kAdminTokenFileName } from './agent-files.js';
import { kApiFileName, kAdminTokenFileName, kDefaultApiBind } from './agent-files.js';

export function connect(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): ApiClient {
  const dataDir = flags.dataDir ?? env['GALAXY_DATA_DIR'];
  const fromDir = (file: string): string | undefined => {
    if (dataDir === undefined) return undefined;
    try {
      return readFileSync(join(dataDir, file), 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  const apiFile = fromDir(kApiFileName);
  const local = apiFile === undefined ? undefined : (JSON.parse(apiFile) as { url: string; fingerprint?: string });
  const url = flags.api ?? env['GALAXY_API'] ?? local?.url ?? `http://${kDefaultApiBind}`;
  const token = flags.token ?? env['GALAXY_TOKEN'] ?? fromDir(kAdminTokenFileName);
  if (token === undefined) throw new CliError('no API token: pass --token, set GALAXY_TOKEN, or give --data-dir of a local agent (it holds admin.token)');
  // The local agent's own fingerprint applies only to its own URL.
  const pinText = flags.apiFingerprint ?? env['GALAXY_API_FINGERPRINT'] ?? (local !== undefined && url === local.url ? local.fingerprint : undefined);
  if (pinText === undefined) return new ApiClient({ url, token });
  const fingerprint = parseFingerprint(pinText);
  if (fingerprint === null) throw new CliError(`--api-fingerprint takes the SHA-256 fingerprint the agent printed, "SHA256:AB:CD:…" (32 bytes of hex), got "${pinText}"`);
  return new ApiClient({ url, token, fingerprint });
}

export class CliError extends Error {}

/** key=value pairs of a component configuration; values parsed as JSON when they can be, else kept as text. */
export function parseConfigPairs(pairs: readonly string[]): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new CliError(`expected key=value, got "${pair}"`);
    const text = pair.slice(at + 1);
    try {
      config[pair.slice(0, at)] = JSON.parse(text);
    } catch {
      config[pair.slice(0, at)] = text;
    }
  }
  return config;
}

export function withConnection(command: Command): Command {
  return command
    .option('--api <url>', 'agent API, e.g. http://127.0.0.1:7600 (env GALAXY_API)')
    .option('--token <token>', 'API bearer token (env GALAXY_TOKEN)')
    .option('--api-fingerprint <sha256>', 'pin the agent API\'s TLS certificate: the SHA256:… fingerprint the agent printed at start (env GALAXY_API_FINGERPRINT)')
    .option('--data-dir <dir>', 'a local agent\'s data directory: its api.json and admin.token are used (env GALAXY_DATA_DIR)')
    .option('--json', 'print JSON');
}

export type Print = (line: string) => void;

export async function run(print: Print, action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (error) {
    if (error instanceof ApiClientError || error instanceof CliError) {
      console.error(`galaxy: ${error.message}`);
      process.exitCode = error instanceof ApiClientError && error.status !== undefined && error.status < 500 ? 2 : 1;
      return;
    }
    throw error;
  }
}

export function table(print: Print, rows: ReadonlyArray<readonly string[]>): void {
  if (rows.length === 0) return;
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const row of rows) print(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
}

