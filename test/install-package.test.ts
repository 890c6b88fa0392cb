// Proves the component package format and store: semantic versions order as semver.org
// says; the checksum text is exactly the documented one; a fixture directory seals,
// packs into a .gxpkg archive and imports (from the directory and from the archive)
// to the same content; and every corruption is refused with its own code before
// anything becomes visible in the store: a changed byte (in a sealed directory, in an
// archive, and on the store's disk, caught when read), a traversal path, a wrong
// checksum, an oversized package, a symbolic link, a truncated archive, trailing bytes,
// and a second content under one name@version. Also the pure reconcile plan and start
// order. Real files in a temporary directory; no processes.
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, appendFileSync, truncateSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InstallError } from '../src/farm/install/install-error.js';
import { planInstall, startSequence, desiredKey, type InstalledRecord } from '../src/farm/install/install-plan.js';
import { kArchiveHeaderBytes, writePackageArchive } from '../src/farm/install/package-archive.js';
import { packageBounds } from '../src/farm/install/package-bounds.js';
import { checksumText, packageChecksum } from '../src/farm/install/package-checksum.js';
import { sealPackageDirectory } from '../src/farm/install/package-directory.js';
import { packagePathProblem } from '../src/farm/install/package-path.js';
import { PackageStore } from '../src/farm/install/package-store.js';
import { compareSemver, parseSemver } from '../src/farm/install/semver.js';
import { packageRoot } from '../src/core/platform/package-root.js';

const root = mkdtempSync(join(tmpdir(), 'galaxy-install-package-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const bounds = packageBounds();
let counter = 0;

/** A copy of a fixture package directory, its manifest changed by `edit`. */
function fixtureCopy(fixture: string, edit: (manifest: Record<string, unknown>) => void = () => {}): string {
  const dir = join(root, `pkg-${counter++}`);
  cpSync(join(packageRoot(), 'test', 'fixtures', 'packages', fixture), dir, { recursive: true });
  const manifestPath = join(dir, 'galaxy-component.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
  edit(manifest);
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
  return dir;
}

/** A copy of the greeter fixture, sealed in place (files and checksum written into its manifest). */
async function sealedCopy(edit?: (manifest: Record<string, unknown>) => void): Promise<string> {
  const dir = fixtureCopy('greeter', edit);
  const { manifest } = await sealPackageDirectory(dir, bounds);
  writeFileSync(join(dir, 'galaxy-component.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

function newStore(options: Parameters<typeof packageBounds>[0] = {}): PackageStore {
  return new PackageStore(join(root, `store-${counter++}`), options);
}

async function refusal(promise: Promise<unknown>): Promise<InstallError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(InstallError);
    return error as InstallError;
  }
  throw new Error('expected a refusal');
}

function flipByte(path: string, at: number): void {
  const bytes = readFileSync(path);
  bytes[at] = bytes[at]! ^ 0x01;
  writeFileSync(path, bytes);
}

describe('semver', () => {
  it('parses the grammar and orders by precedence', () => {
    expect(parseSemver('1.2.3')).toEqual({ major: 1, minor: 2, patch: 3, prerelease: [] });
    for (const bad of ['1.2', '01.2.3', '1.2.3-', '1.2.3-01', 'v1.2.3', '1.2.3+', '../1.0.0']) expect(parseSemver(bad)).toBeNull();
    const ordered = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.10.0', '2.0.0'];
    expect([...ordered].reverse().sort(compareSemver)).toEqual(ordered);
  });
});

describe('package checksum', () => {
  it('is the sha256 of the documented text', () => {
    const manifest = { format: 1, name: 'a', version: '1.0.0', kind: 'k', entry: 'x.mjs', config: { b: 1, a: [2, { d: 1, c: 2 }] }, checksum: 'ignored', files: [] };
    const files = [
      { path: 'z.js', sha256: 'f'.repeat(64), bytes: 3 },
      { path: 'lib/y.js', sha256: 'e'.repeat(64), bytes: 10 },
    ];
    expect(checksumText(manifest, files)).toBe(
      'galaxy-component-package 1\n' +
        'manifest {"config":{"a":[2,{"c":2,"d":1}],"b":1},"entry":"x.mjs","kind":"k","name":"a","version":"1.0.0"}\n' +
        `${'e'.repeat(64)} 10 lib/y.js\n` +
        `${'f'.repeat(64)} 3 z.js\n`,
    );
    // Fields change it, the order of the file list does not.
    expect(packageChecksum(manifest, files)).toBe(packageChecksum(manifest, [...files].reverse()));
    expect(packageChecksum({ ...manifest, startOrder: 1 }, files)).not.toBe(packageChecksum(manifest, files));
  });

  it('refuses paths that could leave the package', () => {
    for (const bad of ['../x', 'a/../../x', '/etc/passwd', 'a//b', './a', 'a\\b', 'a/./b', '', 'galaxy-component.json', 'a b']) expect(packagePathProblem(bad)).not.toBeNull();
    for (const good of ['index.mjs', 'lib/words.mjs', '.hidden', 'node_modules/@scope/x/index.js']) expect(packagePathProblem(good)).toBeNull();
  });
});

describe('seal, pack, import', () => {
  it('imports a directory and its archive to the same verified content', async () => {
    const dir = fixtureCopy('greeter');
    const { manifest } = await sealPackageDirectory(dir, bounds);
    expect(manifest.files.map((f) => f.path)).toEqual(['index.mjs', 'lib/words.mjs']);
    const archive = join(root, 'greeter-1.0.0.gxpkg');
    const packed = await writePackageArchive(dir, archive, bounds);
    expect(packed.checksum).toBe(manifest.checksum);

    const fromDir = newStore();
    expect((await fromDir.importDirectory(dir)).checksum).toBe(manifest.checksum);
    const fromArchive = newStore();
    expect((await fromArchive.importArchive(archive)).checksum).toBe(manifest.checksum);
    await fromArchive.verify('greeter', '1.0.0');
    expect(fromArchive.list()).toMatchObject([{ name: 'greeter', version: '1.0.0', kind: 'greeter', files: 2, startOrder: 10, checksum: manifest.checksum }]);
    expect(readFileSync(fromArchive.modulePath('greeter', '1.0.0'), 'utf8')).toBe(readFileSync(join(dir, 'index.mjs'), 'utf8'));
    // The same content again is no change; a chunk reads back exactly.
    await fromArchive.importDirectory(dir);
    expect((await fromArchive.readChunk('greeter', '1.0.0', 'lib/words.mjs', 0, 10)).toString()).toBe(readFileSync(join(dir, 'lib/words.mjs'), 'utf8').slice(0, 10));
    expect(readdirSync(join(fromArchive.root, '.staging'))).toEqual([]);
  });

  it('refuses a changed byte in a sealed directory', async () => {
    const dir = await sealedCopy();
    await newStore().importDirectory(dir);
    flipByte(join(dir, 'lib', 'words.mjs'), 5);
    const error = await refusal(newStore().importDirectory(dir));
    expect(error.code).toBe('GALAXY_PACKAGE_FILE_MISMATCH');
    expect(error.message).toContain('lib/words.mjs');
  });

  it('refuses a file not listed in a sealed manifest, and a symbolic link', async () => {
    const dir = await sealedCopy();
    writeFileSync(join(dir, 'extra.js'), 'export {};');
    expect((await refusal(newStore().importDirectory(dir))).code).toBe('GALAXY_PACKAGE_FILE_MISMATCH');
    const linked = fixtureCopy('greeter');
    symlinkSync('/etc/hostname', join(linked, 'lib', 'host'));
    expect((await refusal(newStore().importDirectory(linked))).code).toBe('GALAXY_PACKAGE_BAD_FILE');
  });

  it('refuses a wrong checksum', async () => {
    const dir = await sealedCopy();
    const manifestPath = join(dir, 'galaxy-component.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(manifestPath, JSON.stringify({ ...manifest, checksum: '0'.repeat(64) }));
    expect((await refusal(newStore().importDirectory(dir))).code).toBe('GALAXY_PACKAGE_CHECKSUM_MISMATCH');
    // A sealed manifest whose entry point was changed afterwards no longer matches its checksum.
    writeFileSync(manifestPath, JSON.stringify({ ...manifest, entry: 'lib/words.mjs' }));
    expect((await refusal(newStore().importDirectory(dir))).code).toBe('GALAXY_PACKAGE_CHECKSUM_MISMATCH');
  });

  it('refuses an oversized package', async () => {
    const dir = fixtureCopy('greeter');
    writeFileSync(join(dir, 'lib', 'blob.bin'), Buffer.alloc(5000));
    const small = newStore({ bytesMax: 4096 });
    const error = await refusal(small.importDirectory(dir));
    expect(error.code).toBe('GALAXY_PACKAGE_TOO_LARGE');
    const archive = join(root, `big-${counter++}.gxpkg`);
    await writePackageArchive(dir, archive, bounds);
    expect((await refusal(small.importArchive(archive))).code).toBe('GALAXY_PACKAGE_TOO_LARGE');
    const fewFiles = newStore({ filesMax: 2 });
    expect((await refusal(fewFiles.importDirectory(dir))).code).toBe('GALAXY_PACKAGE_TOO_LARGE');
    expect(small.list()).toEqual([]);
  });

  it('refuses archives that are damaged, truncated, padded or name a traversal path', async () => {
    const dir = fixtureCopy('greeter');
    const archive = join(root, `a-${counter++}.gxpkg`);
    await writePackageArchive(dir, archive, bounds);
    const size = readFileSync(archive).length;

    const damaged = join(root, `d-${counter++}.gxpkg`);
    cpSync(archive, damaged);
    flipByte(damaged, size - 3);
    expect((await refusal(newStore().importArchive(damaged))).code).toBe('GALAXY_PACKAGE_FILE_MISMATCH');

    const truncated = join(root, `t-${counter++}.gxpkg`);
    cpSync(archive, truncated);
    truncateSync(truncated, size - 1);
    expect((await refusal(newStore().importArchive(truncated))).code).toBe('GALAXY_PACKAGE_BAD_ARCHIVE');

    const padded = join(root, `p-${counter++}.gxpkg`);
    cpSync(archive, padded);
    appendFileSync(padded, 'x');
    expect((await refusal(newStore().importArchive(padded))).code).toBe('GALAXY_PACKAGE_BAD_ARCHIVE');

    const notOne = join(root, `n-${counter++}.gxpkg`);
    writeFileSync(notOne, 'PK\u0003\u0004 a zip file, not a package');
    expect((await refusal(newStore().importArchive(notOne))).code).toBe('GALAXY_PACKAGE_BAD_ARCHIVE');

    // An archive whose manifest names ../evil.mjs, with a checksum that holds for it:
    // refused by the path rule before anything is written.
    const bytes = readFileSync(archive);
    const manifestLength = bytes.readUInt32BE(12);
    const manifest = JSON.parse(bytes.subarray(kArchiveHeaderBytes, kArchiveHeaderBytes + manifestLength).toString('utf8')) as { files: Array<{ path: string; sha256: string; bytes: number }>; checksum: string };
    manifest.files[0]!.path = '../evil.mjs';
    manifest.checksum = packageChecksum(manifest, manifest.files);
    const evilManifest = Buffer.from(JSON.stringify(manifest));
    const header = Buffer.from(bytes.subarray(0, kArchiveHeaderBytes));
    header.writeUInt32BE(evilManifest.length, 12);
    const evil = join(root, `e-${counter++}.gxpkg`);
    writeFileSync(evil, Buffer.concat([header, evilManifest, bytes.subarray(kArchiveHeaderBytes + manifestLength)]));
    const store = newStore();
    const error = await refusal(store.importArchive(evil));
    expect(error.code).toBe('GALAXY_PACKAGE_BAD_MANIFEST');
    expect(error.message).toContain('../evil.mjs');
    expect(readdirSync(root).includes('evil.mjs')).toBe(false);
    expect(readdirSync(store.root).filter((n) => n !== '.staging')).toEqual([]);
  });

  it('catches a byte that rots on the store\'s disk when it is read, and refuses a second content for one version', async () => {
    const store = newStore();
    const dir = fixtureCopy('greeter');
    await store.importDirectory(dir);
    await store.readChunk('greeter', '1.0.0', 'index.mjs', 0, 16);
    flipByte(join(store.root, 'greeter', '1.0.0', 'index.mjs'), 40);
    expect((await refusal(store.readChunk('greeter', '1.0.0', 'index.mjs', 0, 16))).code).toBe('GALAXY_PACKAGE_FILE_MISMATCH');
    expect((await refusal(store.verify('greeter', '1.0.0'))).code).toBe('GALAXY_PACKAGE_FILE_MISMATCH');
    expect((await refusal(store.readChunk('greeter', '1.0.0', '../secret', 0, 1))).code).toBe('GALAXY_INSTALL_BAD_REQUEST');

    const other = newStore();
    await other.importDirectory(dir);
    writeFileSync(join(dir, 'index.mjs'), `${readFileSync(join(dir, 'index.mjs'), 'utf8')}\n// changed\n`);
    expect((await refusal(other.importDirectory(dir))).code).toBe('GALAXY_PACKAGE_CONFLICT');
  });

  it('prunes versions older than what is kept, never newer ones', async () => {
    const store = newStore();
    for (const version of ['1.0.0', '1.1.0', '2.0.0', '2.1.0', '3.0.0', '4.0.0']) await store.importDirectory(fixtureCopy('greeter', (m) => (m['version'] = version)));
    expect(store.prune('greeter', new Set(['3.0.0', '1.1.0']), 3).sort()).toEqual(['1.0.0', '2.0.0']);
    expect(store.versions('greeter')).toEqual(['1.1.0', '2.1.0', '3.0.0', '4.0.0']);
  });
});

describe('reconcile plan', () => {
  const record = (name: string, version: string, config = {}): InstalledRecord => ({ name, version, checksum: 'a'.repeat(64), config });

  it('removes, installs, reconfigures, leaves and skips', () => {
    const installed = new Map([
      ['old', record('old', '1.0.0')],
      ['same', record('same', '1.0.0')],
      ['up', record('up', '1.0.0')],
      ['conf', record('conf', '1.0.0', { a: 1 })],
      ['lost', record('lost', '2.0.0')],
    ]);
    const desired = [
      { name: 'same', version: '1.0.0' },
      { name: 'up', version: '2.0.0' },
      { name: 'conf', version: '1.0.0', config: { a: 2 } },
      { name: 'lost', version: '2.0.0' },
      { name: 'new', version: '1.0.0' },
      { name: 'bad', version: '1.0.0' },
      { name: 'measurement', version: '1.0.0' },
    ];
    const plan = planInstall({ desired, installed, onHost: new Set(['old', 'same', 'up', 'conf', 'measurement']), failed: new Map([['bad', desiredKey({ name: 'bad', version: '1.0.0' })]]) });
    expect(plan.removals.map((r) => r.name)).toEqual(['old']);
    expect(plan.unchanged).toEqual(['same']);
    expect(plan.configures).toMatchObject([{ name: 'conf', config: { a: 2 } }]);
    expect(plan.installs).toMatchObject([
      { name: 'up', version: '2.0.0', previous: { version: '1.0.0' } },
      { name: 'lost', version: '2.0.0', previous: null },
      { name: 'new', version: '1.0.0', previous: null },
    ]);
    expect(plan.skipped).toEqual(['bad']);
    expect(plan.notManaged).toEqual(['measurement']);
  });

  it('orders starts by dependencies, then startOrder, then name, and names cycles', () => {
    expect(
      startSequence([
        { name: 'web', startOrder: 0, dependsOn: ['db'] },
        { name: 'db', startOrder: 5, dependsOn: [] },
        { name: 'cache', startOrder: 1, dependsOn: [] },
        { name: 'agent', startOrder: 1, dependsOn: ['elsewhere'] },
      ]),
    ).toEqual({ order: ['agent', 'cache', 'db', 'web'], cyclic: [] });
    expect(
      startSequence([
        { name: 'a', startOrder: 0, dependsOn: ['b'] },
        { name: 'b', startOrder: 0, dependsOn: ['a'] },
        { name: 'c', startOrder: 0, dependsOn: [] },
      ]),
    ).toEqual({ order: ['c'], cyclic: ['a', 'b'] });
  });
});
