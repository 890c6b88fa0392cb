import type { Command } from 'commander';
import type { AdmissionRecord, ComponentStatus, KeyView, MemberView, NodeSummary } from '../../surface/api/api-backend.js';
import { Keyring } from '../../node/security/keyring.js';
import { connect, run, table, withConnection, parseConfigPairs, CliError, type ConnectionFlags, type Print } from '../../surface/cli/cli-kit.js';

function printRecords(print: Print, records: readonly AdmissionRecord[]): void {
  if (records.length === 0) {
    print('(none)');
    return;
  }
  table(print, [['ID', 'STATUS', 'ADDRESS', 'ROLES', 'FINGERPRINT', 'REQUESTED', 'DECIDED BY'], ...records.map((r) => [r.id, r.status, r.address, r.roles.join(',') || '-', r.fingerprint, r.requestedAt, r.decidedBy ?? '-'])]);
}

export function registerApiCommands(program: Command, print: Print = (line) => console.log(line)): void {
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

  const nodes = program.command('nodes').description('admission: the nodes that asked to join, and the administrator\'s decisions (on a controller)');
  withConnection(nodes.command('pending').description('nodes waiting for approval')).action((flags: ConnectionFlags) =>
    run(print, async () => {
      const records = (await connect(flags).get('/v1/nodes?status=pending')) as AdmissionRecord[];
      if (flags.json) return print(JSON.stringify(records, null, 2));
      printRecords(print, records);
    }),
  );
  withConnection(nodes.command('list').description('every admission record: pending, approved, rejected, revoked')).action((flags: ConnectionFlags) =>
    run(print, async () => {
      const records = (await connect(flags).get('/v1/nodes')) as AdmissionRecord[];
      if (flags.json) return print(JSON.stringify(records, null, 2));
      printRecords(print, records);
    }),
  );
  for (const [verb, help] of [
    ['approve', 'approve a pending node: it receives its certificate and the farm keyring, then joins'],
    ['reject', 'reject a pending node: it gets nothing further'],
    ['revoke', 'expel an approved node and rotate the farm keyring so it can no longer read or send farm traffic'],
  ] as const) {
    const command = withConnection(nodes.command(`${verb} <id>`).description(help));
    if (verb === 'approve') command.option('--role <roles>', 'roles to grant, comma-separated (default: those it asked for)');
    command.action((id: string, flags: ConnectionFlags & { role?: string }) =>
      run(print, async () => {
        const body = verb === 'approve' && flags.role !== undefined ? { roles: flags.role.split(',').filter((r) => r !== '') } : {};
        const record = (await connect(flags).post(`/v1/nodes/${encodeURIComponent(id)}/${verb}`, body)) as AdmissionRecord;
        if (flags.json) return print(JSON.stringify(record, null, 2));
        print(`${record.id} ${record.status}${verb === 'revoke' ? ' (the farm keyring is being rotated)' : ''}`);
      }),
    );
  }

  const keys = program.command('keys').description('the farm keyring: install a key everywhere, make it primary, remove the old one, without losing a member');
  withConnection(keys.command('list').description('the keys this agent holds (fingerprints; primary first)')).action((flags: ConnectionFlags) =>
    run(print, async () => {
      const views = (await connect(flags).get('/v1/keys')) as KeyView[];
      if (flags.json) return print(JSON.stringify(views, null, 2));
      for (const view of views) print(`${view.fingerprint}${view.primary ? '  primary' : ''}`);
    }),
  );
  keys
    .command('generate')
    .description('print a new random key (base64) to install')
    .action(() => print(Keyring.generateKey()));
  for (const op of ['install', 'use', 'remove'] as const) {
    const argument = op === 'install' ? '<key>' : '<key-or-fingerprint>';
    const description = op === 'install' ? 'install a key (base64) on every member' : op === 'use' ? 'make an installed key the primary on every member: the key, or its fingerprint as `keys list` shows it' : 'remove a key from every member (not the primary): the key, or its fingerprint as `keys list` shows it';
    withConnection(keys.command(`${op} ${argument}`).description(description)).action((key: string, flags: ConnectionFlags) =>
      run(print, async () => {
        const views = (await connect(flags).post(`/v1/keys/${op}`, { key })) as KeyView[];
        if (flags.json) return print(JSON.stringify(views, null, 2));
        for (const view of views) print(`${view.fingerprint}${view.primary ? '  primary' : ''}`);
      }),
    );
  }

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

  withConnection(program.command('values').description('values posted by components (the Measurement service) per node').option('--node <id>', 'one node')).action((flags: ConnectionFlags & { node?: string }) =>
    run(print, async () => {
      const rows = (await connect(flags).get(`/v1/values${flags.node === undefined ? '' : `?node=${encodeURIComponent(flags.node)}`}`)) as Array<{ node: string; values: Record<string, unknown>; updatedAt: string | null }>;
      if (flags.json) return print(JSON.stringify(rows, null, 2));
      for (const row of rows) print(`${row.node} ${row.updatedAt ?? '-'} ${Object.entries(row.values).map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toPrecision(6)) : v}`).join(' ')}`);
    }),
  );
}
