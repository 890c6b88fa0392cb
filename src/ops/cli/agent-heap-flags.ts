import { setFlagsFromString } from 'node:v8';

/**
 * V8's young generation for `galaxy agent` (issue 14 item 7: an agent's RSS). Imported
 * first by main.ts, so that it runs before the program's modules load.
 *
 * V8 starts each thread's new space at 1 MiB per semi-space and doubles it whenever a
 * scavenge finds it busy, up to 8 MiB per semi-space here: the start-up's allocation
 * (loading the bundle, the zod schemas, commander, the worker's modules) grew the main
 * thread's new space to 8 MiB and the worker's to 4 MiB, and an idle agent allocates too
 * little afterwards to shrink them back, so both stayed resident for the agent's life.
 * With a growth factor of 1 they stay at their initial size (2 MiB per thread, the two
 * semi-spaces). The agent's steady state allocates almost nothing per datagram (see
 * "Receive path" in the README), so the smaller nursery costs nothing there; the start-up
 * runs a few more scavenges (measured by `npm run bench:footprint`).
 *
 * The flag is read by V8 each time a new space would grow, so setting it once the process
 * runs takes effect; it is process-wide, so the agent's worker (created later) gets it
 * too. Only the agent: `galaxy simulate` and the other commands keep V8's defaults, and a
 * semi-space size given to node by the user (NODE_OPTIONS or node's own flags) wins.
 */
export function limitAgentYoungGeneration(argv: readonly string[], execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  if (argv[2] !== 'agent') return false;
  const given = [...execArgv, nodeOptions ?? ''].some((flag) => /semi[-_]space/.test(flag));
  if (given) return false;
  setFlagsFromString('--semi-space-growth-factor=1');
  return true;
}

limitAgentYoungGeneration(process.argv, process.execArgv, process.env['NODE_OPTIONS']);
