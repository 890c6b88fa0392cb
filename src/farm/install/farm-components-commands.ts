import type { Command } from 'commander';
import { CliError, connect, run, table, withConnection, type ConnectionFlags, type Print } from '../../surface/cli/cli-kit.js';
import type { DesiredComponent } from './desired-components.js';
import type { ComponentAssignment } from './farm-desired-components.js';

/** `name@version`, optionally `#checksum` (64 hex digits): one entry of a desired list. */
export function parseComponentSpec(spec: string): DesiredComponent {
  const match = /^([a-z][a-z0-9-]{0,62})@([^#\s]+)(?:#([0-9a-f]{64}))?$/.exec(spec);
  if (match === null) throw new CliError(`expected NAME@VERSION or NAME@VERSION#SHA256, got "${spec}"`);
  return { name: match[1]!, version: match[2]!, ...(match[3] === undefined ? {} : { checksum: match[3] }) };
}

/** `galaxy farm components ls|set`: the farm configuration of components, kept in the FMIDB. */
export function registerFarmComponentsCommands(program: Command, print: Print = (line) => console.log(line)): void {
  const farm = program.command('farm').description('the farm configuration, replicated in the FMIDB');
  const farmComponents = farm.command('components').description('which components (and versions) the nodes of a landscape, or all nodes, must run; the install service on each node makes it so');
  withConnection(farmComponents.command('ls').description('the lists per target, and what this node must run')).action((flags: ConnectionFlags) =>
    run(print, async () => {
      const result = (await connect(flags).get('/v1/farm/components')) as { assignments: ComponentAssignment[]; thisNode: DesiredComponent[]; ready: boolean };
      if (flags.json) return print(JSON.stringify(result, null, 2));
      if (result.assignments.length === 0) print('(no components assigned)');
      else table(print, [['TARGET', 'COMPONENTS', 'SET BY', 'UPDATED'], ...result.assignments.map((a) => [a.target, a.components.map((c) => `${c.name}@${c.version}`).join(' '), a.origin, a.updatedAt])]);
      print(`this node must run: ${result.thisNode.map((c) => `${c.name}@${c.version}`).join(' ') || '(nothing)'}${result.ready ? '' : ' (not final yet: the replica or a landscape is still being read)'}`);
    }),
  );
  withConnection(
    farmComponents
      .command('set')
      .description('set the list of a target farm-wide, e.g. galaxy farm components set web-r2 nginx-probe@1.2.0 (no components clears it)')
      .argument('<target>', '"all" or a landscape name')
      .argument('[components...]', 'NAME@VERSION or NAME@VERSION#SHA256'),
  ).action((target: string, specs: string[], flags: ConnectionFlags) =>
    run(print, async () => {
      const components = specs.map(parseComponentSpec);
      const result = (await connect(flags).put(`/v1/farm/components/${encodeURIComponent(target)}`, { components })) as { assignments: ComponentAssignment[] };
      if (flags.json) return print(JSON.stringify(result, null, 2));
      print(components.length === 0 ? `cleared the components of ${target}` : `${target} must run ${specs.join(' ')}; every node of it installs them from its peers`);
    }),
  );

}
