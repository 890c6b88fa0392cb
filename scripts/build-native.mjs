#!/usr/bin/env node
// Builds the optional galaxy_native addon during `npm install` (and for
// `npm run build:native`). The addon is an accelerator, not a requirement, so
// every failure ends in a warning and exit code 0: an install must never fail
// because a machine lacks a C++ toolchain.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function log(message) {
  console.log(`galaxy-farm: ${message}`);
}

function warnAndFallBack(cause) {
  console.warn(
    `galaxy-farm: WARNING: the optional native addon (galaxy_native) was not built: ${cause}. ` +
      'This is not fatal: Galaxy will run on its TypeScript/Wasm paths instead of the native ' +
      'Linux UDP fast path, and `galaxy doctor` will say so. To get the addon, install a C++17 ' +
      'compiler, make and Python 3, then run `npm run build:native`.',
  );
  process.exit(0);
}

// The ways of running node-gyp, best first. Each entry is a command plus the
// arguments that precede node-gyp's own arguments.
function nodeGypCandidates() {
  const candidates = [];
  const addScript = (label, script) => {
    if (script && existsSync(script)) {
      candidates.push({ label, command: process.execPath, prefix: [script] });
    }
  };
  // npm points this at its bundled node-gyp when it runs lifecycle scripts.
  addScript('npm_config_node_gyp', process.env.npm_config_node_gyp);
  // When run by hand, npm's own bundled copy is next to the running node.
  addScript(
    "npm's bundled node-gyp",
    path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  );
  if (process.env.npm_execpath) {
    addScript(
      "npm's bundled node-gyp (via npm_execpath)",
      path.join(path.dirname(process.env.npm_execpath), '../node_modules/node-gyp/bin/node-gyp.js'),
    );
  }
  addScript('local node-gyp', path.join(packageRoot, 'node_modules/node-gyp/bin/node-gyp.js'));
  candidates.push({ label: 'node-gyp on PATH', command: 'node-gyp', prefix: [] });
  // --yes=false guarantees that nothing is downloaded from the registry.
  candidates.push({ label: 'npm exec node-gyp', command: 'npm', prefix: ['exec', '--yes=false', '--', 'node-gyp'] });
  return candidates;
}

// Use the headers that ship with this node (for example /usr/include/node on
// distribution packages) so node-gyp does not download a header tarball.
function localNodeDirectory() {
  if (process.env.npm_config_nodedir) return undefined;
  const candidates = [path.resolve(path.dirname(process.execPath), '..'), '/usr'];
  return candidates.find((directory) => existsSync(path.join(directory, 'include/node/node_api.h')));
}

if (process.env.GALAXY_NO_NATIVE === '1') {
  log('skipping the native addon build because GALAXY_NO_NATIVE=1; Galaxy will use its TypeScript/Wasm paths.');
  process.exit(0);
}

const nodeGypArguments = ['rebuild', '--jobs=max'];
const nodeDirectory = localNodeDirectory();
if (nodeDirectory) nodeGypArguments.push(`--nodedir=${nodeDirectory}`);

for (const candidate of nodeGypCandidates()) {
  const commandLine = [candidate.command, ...candidate.prefix, ...nodeGypArguments];
  log(`building the native addon with ${candidate.label}: ${commandLine.join(' ')}`);
  const result = spawnSync(candidate.command, [...candidate.prefix, ...nodeGypArguments], {
    cwd: packageRoot,
    stdio: 'inherit',
    env: process.env,
  });
  // ENOENT only means this way of finding node-gyp is absent; try the next.
  if (result.error && result.error.code === 'ENOENT') continue;
  if (result.error) warnAndFallBack(`${candidate.label} could not be started (${result.error.message})`);
  if (result.status !== 0) {
    const how = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.status}`;
    warnAndFallBack(`node-gyp ${how} (see its output above; a missing compiler is the usual cause)`);
  }
  const addonPath = path.join(packageRoot, 'build/Release/galaxy_native.node');
  if (!existsSync(addonPath)) warnAndFallBack(`node-gyp succeeded but ${addonPath} is missing`);
  log(`built ${path.relative(packageRoot, addonPath)}`);
  process.exit(0);
}

warnAndFallBack('node-gyp could not be found (it is normally bundled with npm)');
