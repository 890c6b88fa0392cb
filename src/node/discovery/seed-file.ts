import { parseSocketAddress } from '../transport/socket-address.js';

/**
 * The seed file of `galaxy agent --seeds-file PATH`: one address per line, "a.b.c.d:port",
 * "[v6]:port" or "host.name:port" (resolved when read), blank lines and `#` comments
 * (whole-line or trailing) ignored. A provisioning tool (Ansible, cloud-init, a config
 * map) writes it; the agent re-reads it when it changes. A bad line is reported and
 * skipped, not fatal: a file edited while the agent runs must not stop it.
 */
export interface SeedFileEntries {
  /** Canonical "ip:port" addresses, in file order, without duplicates. */
  readonly addresses: readonly string[];
  /** Host names with their port ("db1.example:7946"), to resolve. */
  readonly names: ReadonlyArray<{ readonly host: string; readonly port: number }>;
  /** "line N: why" for each line skipped. */
  readonly problems: readonly string[];
}

/** A seed file with more lines than this is read up to here: the farm needs a few live seeds, not a census. */
export const kSeedFileLinesMax = 4096;
const kHostNamePattern = /^(?=.{1,253}$)([a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?)*\.?$/;

export function parseSeedFile(text: string): SeedFileEntries {
  const addresses: string[] = [];
  const names: Array<{ host: string; port: number }> = [];
  const problems: string[] = [];
  const lines = text.split(/\r?\n/).slice(0, kSeedFileLinesMax);
  lines.forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const address = parseSocketAddress(line);
    if (address !== null) {
      if (!addresses.includes(address.text)) addresses.push(address.text);
      return;
    }
    const at = line.lastIndexOf(':');
    const host = line.slice(0, at);
    const port = Number(line.slice(at + 1));
    if (at > 0 && !host.includes(':') && kHostNamePattern.test(host) && Number.isInteger(port) && port >= 1 && port <= 65535) {
      if (!names.some((n) => n.host === host && n.port === port)) names.push({ host, port });
      return;
    }
    problems.push(`line ${i + 1}: "${line}" is not "a.b.c.d:port", "[v6]:port" or "host:port"`);
  });
  return { addresses, names, problems };
}
