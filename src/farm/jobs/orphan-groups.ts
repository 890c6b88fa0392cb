import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../node/util/atomic-file.js';
import { signalGroup } from './process-runner.js';

/**
 * The process groups of running jobs, written to the jobs component's state directory
 * so that a component killed outright (SIGKILL, an OOM kill: no handler runs) does not
 * leave its jobs running unsupervised. Each job process leads a group of its own, so
 * the component host's kill of the component's group does not reach them; instead the
 * next incarnation of the component reads this record at init and SIGKILLs every group
 * still alive whose leader has the start time recorded (so a pid reused by an unrelated
 * process since is left alone). When the component exits normally, or because its agent
 * died, it kills the groups itself (ProcessRunner.killAll on 'exit').
 *
 * The start time is field 22 of /proc/<pid>/stat (clock ticks since boot): Linux only,
 * like the rest of the runner. Where /proc is missing nothing is recorded or reaped.
 */
export const kOrphanFileName = 'running-groups.json';
/** Entries read back at most: as many as the runner may run. */
const kOrphanEntriesMax = 65_536;

interface GroupEntry {
  readonly pid: number;
  readonly startTicks: string;
}

/** The start time of a live process, or null (gone, a zombie, or no /proc). */
export function processStartTicks(pid: number): string | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Fields follow the parenthesised command name, which may itself hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z') return null;
  // Field 22 overall is index 19 after the name (fields 3.. start at index 0).
  return fields[19] ?? null;
}

export class OrphanGroups {
  private readonly path: string;

  constructor(stateDir: string) {
    this.path = join(stateDir, kOrphanFileName);
  }

  /** Kills the groups a previous incarnation left; returns how many were still alive. */
  reap(): number {
    let entries: GroupEntry[];
    try {
      entries = JSON.parse(readFileSync(this.path, 'utf8')) as GroupEntry[];
    } catch {
      return 0;
    }
    let killed = 0;
    if (Array.isArray(entries)) {
      for (const entry of entries.slice(0, kOrphanEntriesMax)) {
        if (!Number.isSafeInteger(entry?.pid) || entry.pid <= 1 || typeof entry.startTicks !== 'string') continue;
        if (processStartTicks(entry.pid) !== entry.startTicks) continue;
        signalGroup(entry.pid, 'SIGKILL');
        killed++;
      }
    }
    rmSync(this.path, { force: true });
    return killed;
  }

  /** Records the groups running now (after each start and end). */
  record(pids: readonly number[]): void {
    const entries: GroupEntry[] = [];
    for (const pid of pids) {
      const startTicks = processStartTicks(pid);
      if (startTicks !== null) entries.push({ pid, startTicks });
    }
    if (entries.length === 0) rmSync(this.path, { force: true });
    else writeFileAtomic(this.path, JSON.stringify(entries));
  }
}
