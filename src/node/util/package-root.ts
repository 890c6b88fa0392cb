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
