import type { Command } from 'commander';
import { connect, run, withConnection, type ConnectionFlags, type Print } from '../../surface/cli/cli-kit.js';

/** `galaxy values`: the values components posted per node (measurement-routes.ts). */
export function registerMeasurementCommands(program: Command, print: Print = (line) => console.log(line)): void {
  withConnection(program.command('values').description('values posted by components (the Measurement service) per node').option('--node <id>', 'one node')).action((flags: ConnectionFlags & { node?: string }) =>
    run(print, async () => {
      const rows = (await connect(flags).get(`/v1/values${flags.node === undefined ? '' : `?node=${encodeURIComponent(flags.node)}`}`)) as Array<{ node: string; values: Record<string, unknown>; updatedAt: string | null }>;
      if (flags.json) return print(JSON.stringify(rows, null, 2));
      for (const row of rows) print(`${row.node} ${row.updatedAt ?? '-'} ${Object.entries(row.values).map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toPrecision(6)) : v}`).join(' ')}`);
    }),
  );
}
