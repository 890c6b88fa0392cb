import type { Command } from 'commander';
import type { MemberView } from '../../core/membership/member-view.js';
import type { NodeSummary } from '../../farm/service/node-summary.js';
import { connect, run, table, withConnection, type ConnectionFlags, type Print } from '../../surface/cli/cli-kit.js';

/** `galaxy node` and `galaxy members`: this agent and the farm members it knows. */
export function registerNodeCommands(program: Command, print: Print = (line) => console.log(line)): void {
  withConnection(program.command('node').description('this agent: id, address, roles, admission state, farm')).action((flags: ConnectionFlags) =>
    run(print, async () => {
      const node = (await connect(flags).get('/v1/node')) as NodeSummary;
      if (flags.json) return print(JSON.stringify(node, null, 2));
      for (const [key, value] of Object.entries(node)) print(`${key.padEnd(12)} ${Array.isArray(value) ? value.join(',') || '-' : String(value)}`);
    }),
  );

  withConnection(program.command('members').description('the farm members this agent knows, with their state and tags')).action((flags: ConnectionFlags) =>
    run(print, async () => {
      const members = (await connect(flags).get('/v1/members')) as MemberView[];
      if (flags.json) return print(JSON.stringify(members, null, 2));
      table(print, [['ID', 'ADDRESS', 'STATUS', 'INCARNATION', 'TAGS'], ...members.map((m) => [m.id + (m.self ? '*' : ''), m.address, m.status, String(m.incarnation), Object.entries(m.tags).map(([k, v]) => `${k}=${v}`).join(' ')])]);
    }),
  );
}

/** `galaxy tokens`: the API's tokens and their roles (list, create, remove). */
export function registerTokenCommands(program: Command, print: Print = (line) => console.log(line)): void {
  const tokens = program.command('tokens').description('API tokens and their roles (admin, operator, viewer); stored hashed by the agent');
  withConnection(tokens.command('list')).action((flags: ConnectionFlags) =>
    run(print, async () => {
      const list = (await connect(flags).get('/v1/tokens')) as Array<{ name: string; role: string; createdAt: string }>;
      if (flags.json) return print(JSON.stringify(list, null, 2));
      table(print, [['NAME', 'ROLE', 'CREATED'], ...list.map((t) => [t.name, t.role, t.createdAt])]);
    }),
  );
  withConnection(tokens.command('create <name>').requiredOption('--role <role>', 'admin, operator or viewer')).action((name: string, flags: ConnectionFlags & { role: string }) =>
    run(print, async () => {
      const created = (await connect(flags).post('/v1/tokens', { name, role: flags.role })) as { token: string };
      if (flags.json) return print(JSON.stringify(created, null, 2));
      print(created.token);
    }),
  );
  withConnection(tokens.command('remove <name>')).action((name: string, flags: ConnectionFlags) =>
    run(print, async () => {
      await connect(flags).delete(`/v1/tokens/${encodeURIComponent(name)}`);
      print(`removed ${name}`);
    }),
  );
}
