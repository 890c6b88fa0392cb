import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * The directory of the galaxy-farm package, found by walking up from this file. It is
 * the same whether the code runs from src/ (tests) or dist/src/ (the built package), so
 * build outputs such as dist/asm/galaxy.wasm are found from either.
 */
export function packageRoot(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const name = (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name;
      if (name === 'galaxy-farm') return (cached = dir);
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`galaxy-farm package root not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/**
 * The compiled JavaScript of the module at `moduleUrl` (pass `import.meta.url`): itself
 * when it already runs from dist/, else its twin under dist/ (tests run the TypeScript
 * sources, but child processes and workers need the build). So a module that names its
 * own compiled file keeps naming the right one wherever the tree moves it.
 */
export function compiledModulePath(moduleUrl: string): string {
  const root = packageRoot();
  const path = fileURLToPath(moduleUrl);
  const dist = join(root, 'dist');
  if (path.startsWith(dist + '/')) return path;
  if (!path.startsWith(root + '/')) throw new Error(`${path} is not inside the galaxy-farm package at ${root}`);
  return join(dist, path.slice(root.length + 1)).replace(/\.ts$/, '.js');
}
