#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { backendReport } from '../backends.js';
import { packageRoot } from '../util/package-root.js';
import { runSelfCheck } from './self-check.js';

const version = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;

const program = new Command()
  .name('galaxy')
  .description('Galaxy: farm and cluster management (SWIM + Lifeguard membership, FMIDB, landscapes, clusters)')
  .version(version);

program
  .command('doctor')
  .description('print which kernel backend (Wasm or TypeScript) and which native parts are active, and why')
  .option('--json', 'print machine-readable JSON')
  .action((options: { json?: boolean }) => {
    const report = backendReport();
    if (options.json) {
      console.log(JSON.stringify(report, null, 2));
      return;
    }
    console.log(`kernels    ${report.kernels.backend.padEnd(6)} ${report.kernels.reason}`);
    console.log(`native     ${(report.native.loaded ? 'loaded' : 'absent').padEnd(6)} ${report.native.reason}`);
    if (report.native.capabilities) {
      const caps = report.native.capabilities;
      for (const key of ['ipRecvErr', 'ipv6RecvErr', 'recvmmsg', 'sendmmsg', 'errQueue']) console.log(`  ${key.padEnd(12)} ${String(caps[key])}`);
      for (const reason of (caps.reasons as string[] | undefined) ?? []) console.log(`  note: ${reason}`);
    }
    console.log('switches   GALAXY_NO_WASM=1 forces TypeScript kernels; GALAXY_NO_NATIVE=1 disables the addon');
  });

program
  .command('demo')
  .description('the embedded demo run by `npm start`')
  .option('--members <n>', 'members in the demo table', '10000')
  .action(async (options: { members: string }) => {
    const members = Number(options.members);
    if (!Number.isInteger(members) || members < 10 || members > 100_000) {
      program.error(`--members must be an integer from 10 to 100000, got "${options.members}"`);
    }
    await runSelfCheck(members, (line) => console.log(line));
  });

await program.parseAsync(process.argv);
