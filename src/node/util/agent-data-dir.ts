import { mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { AgentUsageError } from './agent-usage-error.js';

/**
 * The data directory an agent uses when none is given: ~/.galaxy/<bind>, with the colons
 * of the canonical bind address replaced by underscores. Deriving it from the bind means
 * agents on one machine (the demo, the tests) never share one by accident, and an agent
 * restarted on the same address finds its identity again.
 */
export function defaultDataDir(bind: string, home: string = homedir()): string {
  return join(home, '.galaxy', bind.replace(/:/g, '_'));
}

/** Creates the data directory if missing (mode 0700: it identifies this node); throws AgentUsageError when it cannot. */
export function ensureDataDir(path: string): void {
  try {
    mkdirSync(path, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new AgentUsageError(`data directory ${path}: cannot create it: ${(error as Error).message}`);
  }
  if (!statSync(path).isDirectory()) throw new AgentUsageError(`data directory ${path} is not a directory`);
}
