import type { Command } from 'commander';
import { registerNodeCommands, registerTokenCommands } from './api-commands.js';
import { registerAdmissionCommands } from '../../farm/admission/admission-commands.js';
import { registerComponentsCommands } from '../../farm/components/components-commands.js';
import { registerMeasurementCommands } from '../../farm/measurement/measurement-commands.js';
import { registerDataCommands } from '../../farm/data/data-commands.js';
import { registerFarmComponentsCommands } from '../../farm/install/farm-components-commands.js';
import { registerEventsCommands } from '../../farm/events/events-commands.js';
import { registerInstallCommands } from '../../farm/install/install-commands.js';
import { registerJobsCommands } from '../../farm/jobs/jobs-commands.js';
import { backendReport } from '../../node/backends.js';
import { registerProfileCommands } from '../../cluster/profiles/profile-commands.js';
import { registerDesignCommand } from '../../cluster/designer/design-command.js';
import { registerChannelCommands } from '../../cluster/service/channel-commands.js';
import { registerClusterCommands } from '../../cluster/service/cluster-commands.js';
import { createFromProfile, deleteFromProfile, lifecycleApplier, registerLifecycleCommands } from '../../cluster/lifecycle/lifecycle-commands.js';
import { runDemo } from './demo.js';
import { runSelfCheck } from './self-check.js';
import { registerSimulateCommand } from './simulate/simulate-command.js';

/**
 * Every command of `galaxy` but `agent`, registered in the help's order with the agent's
 * command (main.ts) in its place. main.ts imports this module for any command but
 * `agent`, so an agent never loads these modules.
 */
export function registerCommands(program: Command, version: string, registerAgentCommand: (program: Command) => void): void {
  program
    .command('doctor')
    .description('print which kernel backend (Wasm or TypeScript), which native parts and which datagram transport (native or dgram) are active, and why')
    .option('--json', 'print machine-readable JSON')
    .action((options: { json?: boolean }) => {
      const report = backendReport();
      if (options.json) {
        console.log(JSON.stringify(report, null, 2));
        return;
      }
      console.log(`kernels    ${report.kernels.backend.padEnd(6)} ${report.kernels.reason}`);
      console.log(`native     ${(report.native.loaded ? 'loaded' : 'absent').padEnd(6)} ${report.native.reason}`);
      console.log(`transport  ${report.transport.kind.padEnd(6)} ${report.transport.reason}`);
      if (report.native.capabilities) {
        const caps = report.native.capabilities;
        for (const key of ['ipRecvErr', 'ipv6RecvErr', 'recvmmsg', 'sendmmsg', 'errQueue']) console.log(`  ${key.padEnd(12)} ${String(caps[key])}`);
        for (const reason of (caps.reasons as string[] | undefined) ?? []) console.log(`  note: ${reason}`);
      }
      console.log('switches   GALAXY_NO_WASM=1 forces TypeScript kernels; GALAXY_NO_NATIVE=1 disables the addon');
    });

  program
    .command('demo')
    .description('the embedded demo run by `npm start`: a farm of real agents on loopback, a crash and a rejoin')
    .option('--nodes <n>', 'agents to start (separate processes)', '5')
    .option('--duration <s>', 'stop by itself after this many seconds (0: run until Ctrl-C)', '0')
    .option('--no-failure', 'skip the SIGKILL and restart')
    .action(async (options: { nodes: string; duration: string; failure: boolean }) => {
      const nodes = Number(options.nodes);
      const durationS = Number(options.duration);
      if (!Number.isInteger(nodes) || nodes < 2 || nodes > 50) program.error(`--nodes must be an integer from 2 to 50, got "${options.nodes}"`);
      if (!Number.isFinite(durationS) || durationS < 0) program.error(`--duration must be a number of seconds >= 0, got "${options.duration}"`);
      await runDemo({ nodes, durationS, showFailure: options.failure, print: (line) => console.log(line) });
      process.exit(0);
    });

  program
    .command('self-check')
    .description('the foundation self-check: digests through the shared-memory ring into the gossip worker, merged and swept by the active kernels')
    .option('--members <n>', 'members in the table', '10000')
    .action(async (options: { members: string }) => {
      const members = Number(options.members);
      if (!Number.isInteger(members) || members < 10 || members > 100_000) {
        program.error(`--members must be an integer from 10 to 100000, got "${options.members}"`);
      }
      await runSelfCheck(members, (line) => console.log(line));
    });

  registerAgentCommand(program);

  // The agent's own commands and those of the features every agent runs, in the help's order.
  registerNodeCommands(program);
  registerAdmissionCommands(program);
  registerTokenCommands(program);
  registerComponentsCommands(program);
  registerMeasurementCommands(program);
  registerDataCommands(program);
  registerFarmComponentsCommands(program);
  registerEventsCommands(program);
  registerJobsCommands(program);
  registerProfileCommands(program);
  const print = (line: string): void => console.log(line);
  registerClusterCommands(program, undefined, { createFromProfile: createFromProfile(print), deleteFromProfile: deleteFromProfile(print) });
  registerLifecycleCommands(program);
  registerChannelCommands(program);
  registerSimulateCommand(program, version);
  // After registerComponentsCommands: install, remove, installed and operation join its `components` command.
  registerInstallCommands(program);
  // Last: `cluster design` joins the `cluster` group registered before it (or makes it).
  registerDesignCommand(program, { apply: lifecycleApplier(print) });
}
