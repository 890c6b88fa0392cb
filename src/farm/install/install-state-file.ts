import { z } from 'zod';
import { writeFileAtomic } from '../../node/util/atomic-file.js';
import { readJsonFile } from '../../node/util/json-file.js';
import { kDesiredComponentSchema, kDesiredComponentsMax, type DesiredComponent } from './desired-components.js';
import type { InstalledRecord } from './install-plan.js';

/**
 * What the install service must remember across restarts of the agent: the components
 * it installed (so a restarted node runs them again, and knows what to roll back to)
 * and the explicit per-node installs (operator or rollout decisions that override the
 * farm's desired list until it changes). One JSON file, written atomically.
 */
export interface InstallState {
  readonly installed: readonly InstalledRecord[];
  readonly local: readonly DesiredComponent[];
  /** Who installed each explicit install that had an owner (the cluster lifecycle), by name (install-service.ts). */
  readonly owners: Readonly<Record<string, string>>;
}

/** An owner's length at most (`cluster/NAME op ID`). */
export const kOwnerLengthMax = 128;

const kInstalledRecordSchema = z
  .object({
    name: kDesiredComponentSchema.shape.name,
    version: kDesiredComponentSchema.shape.version,
    checksum: z.string().regex(/^[0-9a-f]{64}$/),
    config: z.record(z.unknown()),
  })
  .strict();

const kStateSchema = z
  .object({
    format: z.literal(1),
    installed: z.array(kInstalledRecordSchema).max(kDesiredComponentsMax * 2),
    local: z.array(kDesiredComponentSchema).max(kDesiredComponentsMax),
    // Absent in files written before owners were kept: nothing owned.
    owners: z.record(z.string().max(kOwnerLengthMax)).optional(),
  })
  .strict();

export function readInstallState(path: string): InstallState {
  const state = readJsonFile(path, kStateSchema, 'install state');
  return state === null ? { installed: [], local: [], owners: {} } : { installed: state.installed, local: state.local, owners: state.owners ?? {} };
}

export function writeInstallState(path: string, state: InstallState): void {
  writeFileAtomic(path, `${JSON.stringify({ format: 1, installed: state.installed, local: state.local, owners: state.owners }, null, 2)}\n`);
}
