import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { DomainError } from '../../../core/util/domain-error.js';
import type { StudyInput } from '../../../sim/study/study-spec.js';

/**
 * A scenario file: named studies for repeatable evaluations, in YAML.
 *
 *   defaults: { nodes: 500, seconds: 90s, preset: lan }   # optional, merged under each
 *   seeds: [1, 2, 3]                                       # optional, for every scenario
 *   scenarios:
 *     - name: crash-under-loss
 *       loss: 5%
 *       crash: 5
 *       seeds: [7]                                         # optional, overrides the above
 *
 * The fields of a scenario are those of StudyInput (study-spec.ts); they are checked
 * there, this file checks only the shape around them.
 */
export interface ScenarioEntry {
  readonly input: StudyInput & { name: string };
  readonly seeds: readonly number[] | null;
}

/** The most scenarios one file may hold. */
export const kScenariosMax = 100;
/** The largest scenario file read, bytes. */
const kScenarioFileBytesMax = 1024 * 1024;

export function readScenarioFile(path: string): ScenarioEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new DomainError('not-found', 'simulate.scenario-unreadable', `cannot read scenario file ${path}: ${(error as Error).message}`);
  }
  if (text.length > kScenarioFileBytesMax) throw invalid(path, `larger than ${kScenarioFileBytesMax} bytes`);
  return parseScenarios(text, path);
}

export function parseScenarios(text: string, path: string): ScenarioEntry[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    throw invalid(path, `not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (!isRecord(doc)) throw invalid(path, 'expected a mapping with a "scenarios" list');
  for (const key of Object.keys(doc)) if (!['defaults', 'seeds', 'scenarios'].includes(key)) throw invalid(path, `unknown top-level field "${key}" (expected defaults, seeds, scenarios)`);
  const defaults = doc.defaults ?? {};
  if (!isRecord(defaults)) throw invalid(path, '"defaults" must be a mapping');
  if ('name' in defaults || 'seeds' in defaults) throw invalid(path, '"defaults" may not hold name or seeds');
  const topSeeds = doc.seeds === undefined ? null : seedList(doc.seeds, path, 'seeds');
  const list = doc.scenarios;
  if (!Array.isArray(list) || list.length === 0) throw invalid(path, '"scenarios" must be a non-empty list');
  if (list.length > kScenariosMax) throw invalid(path, `at most ${kScenariosMax} scenarios`);
  const names = new Set<string>();
  return list.map((entry, i) => {
    if (!isRecord(entry)) throw invalid(path, `scenario ${i + 1} must be a mapping`);
    const { seeds, ...fields } = entry;
    const name = fields.name;
    if (typeof name !== 'string' || name === '') throw invalid(path, `scenario ${i + 1} needs a name`);
    if (names.has(name)) throw invalid(path, `two scenarios are named "${name}"`);
    names.add(name);
    return { input: { ...defaults, ...fields, name } as StudyInput & { name: string }, seeds: seeds === undefined ? topSeeds : seedList(seeds, path, `${name}.seeds`) };
  });
}

function seedList(value: unknown, path: string, what: string): number[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || !list.every((s) => Number.isInteger(s) && s >= 0 && s <= 0xffffffff)) throw invalid(path, `${what} must be a list of unsigned 32-bit integers`);
  return list as number[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(path: string, problem: string): DomainError {
  return new DomainError('invalid', 'simulate.bad-scenario-file', `${path}: ${problem}`);
}
