import { existsSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { NodeFacts } from './launch-plan.js';
import { findPasswdEntry, passwdNameOf } from './passwd.js';

const kPasswdPath = '/etc/passwd';

function readPasswd(): string {
  try {
    return readFileSync(kPasswdPath, 'utf8');
  } catch {
    return '';
  }
}

/**
 * This node's facts for launch plans, read from the running process and /etc/passwd.
 * The passwd file is read again at each lookup, so a user added after the agent started
 * can run jobs without a restart.
 */
export function localNodeFacts(nodeId: string, environment: Readonly<Record<string, string | undefined>> = process.env): NodeFacts {
  const uid = typeof process.getuid === 'function' ? process.getuid() : -1;
  return {
    nodeId,
    uid,
    userName: passwdNameOf(readPasswd(), uid),
    lookupUser: (name) => findPasswdEntry(readPasswd(), name),
    environment,
    temporaryDirectory: tmpdir(),
    directoryExists: (path) => existsSync(path) && statSync(path).isDirectory(),
  };
}
