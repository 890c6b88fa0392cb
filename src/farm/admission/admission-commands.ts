import type { Command } from 'commander';
import type { AdmissionRecord, KeyView } from './admission-record.js';
import { Keyring } from '../../node/security/keyring.js';
import { connect, run, table, withConnection, type ConnectionFlags, type Print } from '../../surface/cli/cli-kit.js';

function printRecords(print: Print, records: readonly AdmissionRecord[]): void {
  if (records.length === 0) {
    print('(none)');
    return;
  }
  table(print, [['ID', 'STATUS', 'ADDRESS', 'ROLES', 'FINGERPRINT', 'REQUESTED', 'DECIDED BY'], ...records.map((r) => [r.id, r.status, r.address, r.roles.join(',') || '-', r.fingerprint, r.requestedAt, r.decidedBy ?? '-'])]);
}

/**
 * `galaxy nodes` (admission: pending, list, approve, reject, revoke) and `galaxy keys`
 * (the farm keyring: list, generate, install, use, remove), over admission-routes.ts.
 */
export function registerAdmissionCommands(program: Command, print: Print = (line) => console.log(line)): void {
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
}
