import { readFileSync } from 'node:fs';
import type { z } from 'zod';

/**
 * Reads a JSON state file checked by a schema: null when it does not exist; a clear
 * error naming the file and the bad fields when it cannot be read, is not JSON, or does
 * not match (state files are never replaced silently: they hold keys and decisions).
 */
export function readJsonFile<T>(path: string, schema: z.ZodType<T, z.ZodTypeDef, unknown>, what: string): T | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`${what} ${path}: cannot read it: ${(error as Error).message}`);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new Error(`${what} ${path} is corrupt (not JSON: ${(error as Error).message})`);
  }
  const parsed = schema.safeParse(document);
  if (!parsed.success) throw new Error(`${what} ${path} is corrupt: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'file'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}
