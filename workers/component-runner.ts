// The process one farm service component runs in, forked by ComponentHost
// (src/components/host/component-host.ts) as `component-runner.js <module path>`. It
// wires the component runtime to the process: IPC messages in and out, uncaught errors
// reported to the host before exiting, and an exit as soon as the IPC channel closes.
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { errorText } from '../src/farm/components/host/component-error.js';
import { kErrorLengthMax } from '../src/farm/components/host/component-limits.js';
import { kRunnerExitUncaught, kRunnerExitUsage, type ComponentToHost } from '../src/farm/components/host/component-protocol.js';
import { ComponentRuntime } from '../src/farm/components/host/component-runtime.js';

/** How long a fatal report may take to reach the host before the runner exits anyway. */
const kFatalReportTimeoutMs = 1000;

const modulePath = process.argv[2];
if (typeof process.send !== 'function' || modulePath === undefined || !isAbsolute(modulePath)) {
  process.stderr.write('component-runner: must be forked by the component host with an IPC channel and an absolute module path\n');
  process.exit(kRunnerExitUsage);
}

function send(message: ComponentToHost): void {
  // Once the channel is closed the runner is on its way out; what it would say is lost.
  if (process.connected) process.send!(message, undefined, undefined, () => {});
}

let dying = false;

/** An error nobody caught: the component's state is unknown, so report it and end the process; the host restarts it. */
function fatal(error: unknown): void {
  if (dying) return;
  dying = true;
  if (!process.connected) process.exit(kRunnerExitUncaught);
  const stack = error instanceof Error && typeof error.stack === 'string' ? error.stack.slice(0, kErrorLengthMax) : undefined;
  const report: ComponentToHost = { type: 'fatal', error: `uncaught: ${errorText(error, kErrorLengthMax)}`, ...(stack === undefined ? {} : { stack }) };
  process.send!(report, undefined, undefined, () => process.exit(kRunnerExitUncaught));
  setTimeout(() => process.exit(kRunnerExitUncaught), kFatalReportTimeoutMs);
}

process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);
// The channel closes when the host stops this component or when the agent dies (even by
// SIGKILL: the kernel closes its end of the socket). Either way nobody controls this
// process any more, and an orphan component must not run on unsupervised.
process.on('disconnect', () => process.exit(0));

const runtime = new ComponentRuntime(send, () => import(pathToFileURL(modulePath).href));
process.on('message', (message: unknown) => runtime.receive(message));
