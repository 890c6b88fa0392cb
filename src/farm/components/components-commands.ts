import type { Command } from 'commander';
import type { ComponentStatus } from './component-status.js';
import { connect, run, table, withConnection, parseConfigPairs, type ConnectionFlags, type Print } from '../../surface/cli/cli-kit.js';

/**
 * `galaxy components` (ls, restart, config) over components-routes.ts. The install
 * feature's commands (install, remove, installed, operation) join this group
 * (install-commands.ts), registered after it.
 */
export function registerComponentsCommands(program: Command, print: Print = (line) => console.log(line)): void {
  const components = program.command('components').description('farm service components on this agent: state, restarts, configuration; installing packages');
  withConnection(components.command('ls').description('the components on this agent: state, pid, restarts, configuration')).action((flags: ConnectionFlags) =>
    run(print, async () => {
      const list = (await connect(flags).get('/v1/components')) as ComponentStatus[];
      if (flags.json) return print(JSON.stringify(list, null, 2));
      table(print, [['NAME', 'KIND', 'STATE', 'PID', 'RESTARTS', 'CONFIG'], ...list.map((c) => [c.name, c.kind, c.state, String(c.pid ?? '-'), String(c.restarts), JSON.stringify(c.config)])]);
    }),
  );
  withConnection(components.command('restart <name>').description('stop and start a component (also takes it out of failed)')).action((name: string, flags: ConnectionFlags) =>
    run(print, async () => {
      const status = (await connect(flags).post(`/v1/components/${encodeURIComponent(name)}/restart`, {})) as ComponentStatus;
      print(`${status.name} ${status.state}`);
    }),
  );
  withConnection(components.command('config <name> <key=value...>').description('change a live component\'s configuration (values parsed as JSON when they can be)')).action((name: string, pairs: string[], flags: ConnectionFlags) =>
    run(print, async () => {
      const config = parseConfigPairs(pairs);
      const status = (await connect(flags).put(`/v1/components/${encodeURIComponent(name)}/config`, config)) as ComponentStatus;
      print(`${status.name} ${status.state} ${JSON.stringify(status.config)}`);
    }),
  );
}
