import { readFileSync, statSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ApiClientError } from '../../surface/client/api-client.js';
import { CliError, connect, table, type ConnectionFlags } from '../../surface/cli/cli-kit.js';
import { dirname } from 'node:path';
import { maxSatisfying, parseSemverRange } from '../../farm/install/semver.js';
import type { ApiClient } from '../../surface/client/api-client.js';
import { parseProfileDocument, type ProfileDocument } from './profile-document.js';
import { ProfileError } from './profile-error.js';
import { readProfileDirectory } from './profile-files.js';
import type { ImportedProfile, ProfileInput, ShownProfile, StoredVersion } from './profile-library.js';
import { kStoredProfileBytesMax } from './profile-library.js';
import { kProfileRefPattern } from './profile-schema.js';
import { findProfile } from './profile-source.js';

/**
 * `galaxy profile import|ls|show|export|rm`: the profiles stored in the FMIDB, over the
 * local agent's API (profile-routes.ts); and the API half of `render` and `diff` when
 * they are given stored names. Exit codes as elsewhere: 0 ok, 2 refused (a bad
 * profile, an unknown name, bad flags), 1 the agent could not be reached or failed.
 */
export interface StoreCommandsIo {
  readonly print: (line: string) => void;
  readonly printError: (line: string) => void;
}

/** The connection flags without --json (render and diff print YAML and lines). */
export function withApiFlags(command: Command): Command {
  return command
    .option('--api <url>', 'agent API, for stored profiles (env GALAXY_API)')
    .option('--token <token>', 'API bearer token (env GALAXY_TOKEN)')
    .option('--data-dir <dir>', 'a local agent\'s data directory: its api.json and admin.token are used (env GALAXY_DATA_DIR)');
}

function withConnection(command: Command): Command {
  return withApiFlags(command).option('--json', 'print JSON');
}

/** Runs an API-backed action: a refusal prints every line of the agent's reason and exits 2. */
export async function runStored(io: StoreCommandsIo, action: () => Promise<number | void>): Promise<void> {
  try {
    process.exitCode = (await action()) ?? 0;
  } catch (error) {
    if (error instanceof ApiClientError) {
      for (const line of error.message.split('\n')) io.printError(`galaxy: ${line}`);
      io.printError(`galaxy: (${error.code})`);
      process.exitCode = error.status !== undefined && error.status < 500 ? 2 : 1;
      return;
    }
    if (error instanceof CliError) {
      io.printError(`galaxy: ${error.message}`);
      process.exitCode = 2;
      return;
    }
    throw error;
  }
}

/** A profile file as the API takes it: its name as given, its text. */
export function readForApi(file: string): { file: string; text: string } {
  try {
    const bytes = statSync(file).size;
    if (bytes > kStoredProfileBytesMax) throw new CliError(`${file}: is ${bytes} bytes; the FMIDB stores profiles of at most ${kStoredProfileBytesMax} bytes`);
    return { file, text: readFileSync(file, 'utf8') };
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`${file}: ${(error as Error).message}`);
  }
}

/** A stored name, or a file's text, as render, diff and the designer send it. */
export function profileInputOf(argument: string, isFile: boolean): ProfileInput {
  return isFile ? readForApi(argument) : { ref: argument };
}

/** The `extends` and `mixins` references of a document. */
function referencesOf(document: ProfileDocument): string[] {
  const parent = document.value['extends'];
  const mixins = document.value['mixins'];
  return [...(typeof parent === 'string' ? [parent] : []), ...(Array.isArray(mixins) ? mixins.filter((m): m is string => typeof m === 'string') : [])];
}

/**
 * The parents and mixins (transitively) of the files being imported that neither the
 * FMIDB nor the import holds, found in `dir`: imported along, so that the FMIDB never
 * holds a profile it cannot compose.
 */
async function parentsOnDisk(client: ApiClient, files: ReadonlyArray<{ file: string; text: string }>, dir: string): Promise<Array<{ file: string; text: string; ref: string }>> {
  const stored = ((await client.get('/v1/profiles')) as StoredVersion[]).filter((v) => v.complete);
  const batch: ProfileDocument[] = [];
  for (const { file, text } of files) {
    try {
      batch.push(parseProfileDocument(file, text));
    } catch (error) {
      // The agent reports a file that does not parse, with the others' problems.
      if (!(error instanceof ProfileError)) throw error;
    }
  }
  const { source } = readProfileDirectory(dir);
  const added: Array<{ file: string; text: string; ref: string }> = [];
  const held = (name: string, range: string | null): boolean => {
    const parsed = parseSemverRange(range ?? '*');
    const versions = [...stored.filter((v) => v.name === name).map((v) => v.version), ...batch.filter((d) => d.name === name).map((d) => d.version)];
    return parsed !== null && versions.length > 0 && (range === null || maxSatisfying(versions, parsed) !== null);
  };
  for (let at = 0; at < batch.length; at++) {
    for (const reference of referencesOf(batch[at]!)) {
      const match = kProfileRefPattern.exec(reference);
      if (match === null || held(match[1]!, match[2] ?? null)) continue;
      const found = findProfile(source, match[1]!, match[2] ?? null);
      if (found === null) continue;
      batch.push(found);
      added.push({ ...readForApi(found.file), ref: `${found.name}@${found.version}` });
    }
  }
  return added;
}

function missingText(version: Pick<StoredVersion, 'kind' | 'missing' | 'valid'>): string {
  if (version.kind !== 'ClusterProfile' || !version.valid) return '-';
  if (version.missing.length === 0) return 'none';
  return [...new Set(version.missing.map((m) => `${m.package} ${m.range}`))].join(', ');
}

export function registerStoredProfileCommands(profile: Command, io: StoreCommandsIo): void {
  withConnection(
    profile
      .command('import')
      .description('store profiles in the FMIDB, farm-wide: each is checked and composed against the stored profiles and the other files given; all are stored or none')
      .argument('<files...>', 'profile files')
      .option('--profiles-dir <dir>', 'parents and mixins neither stored nor given are taken from this directory and imported along'),
  ).action((files: string[], flags: ConnectionFlags & { profilesDir?: string }) =>
    runStored(io, async () => {
      const client = connect(flags);
      const profiles = files.map(readForApi);
      if (flags.profilesDir !== undefined) {
        const parents = await parentsOnDisk(client, profiles, flags.profilesDir);
        for (const parent of parents) io.print(`with ${parent.ref} from ${parent.file} (a parent or mixin the FMIDB does not hold)`);
        profiles.push(...parents.map(({ file, text }) => ({ file, text })));
      }
      let imported: ImportedProfile[];
      try {
        imported = (await client.post('/v1/profiles', { profiles })) as ImportedProfile[];
      } catch (error) {
        if (error instanceof ApiClientError && error.code === 'GALAXY_PROFILE_NOT_FOUND' && flags.profilesDir === undefined) {
          const dirs = [...new Set(files.map((file) => dirname(file)))];
          io.printError(`galaxy: hint: a parent or mixin is not stored yet: import it in the same command, or give --profiles-dir ${dirs[0]} to take it from disk`);
        }
        throw error;
      }
      if (flags.json) return io.print(JSON.stringify(imported, null, 2));
      for (const p of imported) {
        io.print(`${p.written ? 'imported ' : 'unchanged'} ${p.ref}  (${p.file}, ${p.kind})`);
        if (p.missing.length > 0) io.print(`          NOT deployable yet: missing ${[...new Set(p.missing.map((m) => `${m.package} ${m.range}`))].join(', ')}`);
      }
      io.print('It replicates to every node of the farm in about a second.');
    }),
  );

  withConnection(profile.command('ls').description('the profiles stored in the FMIDB: versions, what they extend, missing components')).action((flags: ConnectionFlags) =>
    runStored(io, async () => {
      const list = (await connect(flags).get('/v1/profiles')) as StoredVersion[];
      if (flags.json) return io.print(JSON.stringify(list, null, 2));
      if (list.length === 0) return io.print('(no profiles stored: galaxy profile import FILE...)');
      table(io.print, [
        ['NAME', 'VERSION', 'KIND', 'EXTENDS', 'MIXINS', 'STATUS', 'MISSING COMPONENTS'],
        ...list.map((v) => [v.name, v.version, v.kind ?? '?', v.extends ?? '-', v.mixins.join(',') || '-', v.valid ? 'ok' : !v.complete ? 'pending' : 'invalid', missingText(v)]),
      ]);
      for (const v of list.filter((x) => !x.valid && x.problem !== null)) io.print(`${v.name}@${v.version}: ${v.problem}`);
    }),
  );

  withConnection(profile.command('show').description('one stored profile (NAME: the highest version; NAME@RANGE): its details and its text as imported').argument('<profile>', 'NAME or NAME@VERSION-RANGE'))
    .option('--rendered', 'print the composed profile instead of the text as imported')
    .action((ref: string, flags: ConnectionFlags & { rendered?: boolean }) =>
      runStored(io, async () => {
        const shown = (await connect(flags).get(`/v1/profiles/${encodeURIComponent(ref)}`)) as ShownProfile;
        if (flags.json) return io.print(JSON.stringify(shown, null, 2));
        io.print(`# ${shown.ref} (${shown.kind ?? '?'}, ${shown.bytes} bytes)`);
        io.print(`# extends: ${shown.extends ?? '-'}; mixins: ${shown.mixins.join(', ') || '-'}; composed from: ${shown.lineage.join(' + ') || '-'}`);
        io.print(`# status: ${shown.valid ? 'ok' : `invalid: ${shown.problem}`}; missing components: ${missingText(shown)}`);
        io.print((flags.rendered ? (shown.rendered ?? '# (does not compose)\n') : shown.text).trimEnd());
      }),
    );

  withConnection(profile.command('export').description('a stored profile\'s text, byte for byte as imported').argument('<profile>', 'NAME or NAME@VERSION-RANGE'))
    .option('-o, --output <file>', 'write to this file instead of standard output')
    .action((ref: string, flags: ConnectionFlags & { output?: string }) =>
      runStored(io, async () => {
        const shown = (await connect(flags).get(`/v1/profiles/${encodeURIComponent(ref)}`)) as ShownProfile;
        if (flags.output === undefined) {
          process.stdout.write(shown.text);
          return;
        }
        try {
          writeFileSync(flags.output, shown.text);
        } catch (error) {
          throw new CliError(`${flags.output}: ${(error as Error).message}`);
        }
        io.print(`wrote ${shown.ref} to ${flags.output} (${Buffer.byteLength(shown.text)} bytes)`);
      }),
    );

  withConnection(profile.command('rm').description('remove one stored version farm-wide (refused while another stored profile composes from it)').argument('<profile>', 'NAME@VERSION')).action((ref: string, flags: ConnectionFlags) =>
    runStored(io, async () => {
      await connect(flags).delete(`/v1/profiles/${encodeURIComponent(ref)}`);
      io.print(`removed ${ref}`);
    }),
  );
}
