import { ScriptsError } from './scripts-error.js';
import { kPhaseNameLengthMax, kPhasesMax } from './scripts-limits.js';

/**
 * A script's phases. Every node finishes phase k before any node starts phase k+1 (the
 * barrier), so a rollout can prepare everywhere, then switch everywhere, then verify.
 * Two ways to say where the phases are:
 *
 * 1. Phase markers, lines of the form
 *
 *        # galaxy:phase NAME
 *
 *    (`#`, optional spaces, `galaxy:phase`, an optional name). Each marker starts a
 *    phase that runs to the next marker. Lines before the first marker are the prelude
 *    (a shebang, `set -euo pipefail`, functions, variables) and are run at the start of
 *    every phase, since each phase runs in a shell of its own. A phase without a name is
 *    called phase-N.
 * 2. A count, `--phases N` without markers: the whole script is run N times, with
 *    GALAXY_PHASE set to 1..N; the script branches on it.
 *
 * Every phase also gets GALAXY_PHASE (1-based), GALAXY_PHASE_NAME and GALAXY_PHASES.
 * Markers and a count together are refused, as is a marker phase with nothing to run.
 */
export interface ScriptPhase {
  /** 1-based, as GALAXY_PHASE says. */
  readonly number: number;
  readonly name: string;
  /** The text one shell runs for this phase: prelude and body. */
  readonly text: string;
}

export const kPhaseMarker = /^[ \t]*#[ \t]*galaxy:phase(?:[ \t]+(.*?))?[ \t]*$/;
const kPhaseNamePattern = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;

export function splitPhases(script: string, phasesCount?: number): ScriptPhase[] {
  const lines = script.split('\n');
  const markers = lines.flatMap((line, at) => (kPhaseMarker.test(line) ? [at] : []));
  if (markers.length === 0) return countedPhases(script, phasesCount ?? 1);
  if (phasesCount !== undefined) throw new ScriptsError('GALAXY_SCRIPTS_INVALID', `the script has ${markers.length} "# galaxy:phase" markers: give either markers or a phase count, not both`);
  if (markers.length > kPhasesMax) throw new ScriptsError('GALAXY_SCRIPTS_INVALID', `the script has ${markers.length} phases (at most ${kPhasesMax})`);
  const prelude = lines.slice(0, markers[0]).join('\n');
  const seen = new Set<string>();
  return markers.map((start, i) => {
    const number = i + 1;
    const name = phaseName(kPhaseMarker.exec(lines[start]!)![1], number);
    if (seen.has(name)) throw new ScriptsError('GALAXY_SCRIPTS_INVALID', `phase name "${name}" is used twice`);
    seen.add(name);
    const body = lines.slice(start + 1, markers[i + 1] ?? lines.length).join('\n');
    if (body.trim() === '') throw new ScriptsError('GALAXY_SCRIPTS_INVALID', `phase ${number} ("${name}", line ${start + 1}) has nothing to run`);
    // The marker line stays (as a comment) so line numbers in shell errors point near the source.
    return { number, name, text: `${prelude}\n${lines[start]}\n${body}\n` };
  });
}

function countedPhases(script: string, count: number): ScriptPhase[] {
  if (!Number.isSafeInteger(count) || count < 1 || count > kPhasesMax) throw new ScriptsError('GALAXY_SCRIPTS_INVALID', `the phase count must be an integer from 1 to ${kPhasesMax}, got ${count}`);
  if (script.trim() === '') throw new ScriptsError('GALAXY_SCRIPTS_INVALID', 'the script is empty');
  return Array.from({ length: count }, (_, i) => ({ number: i + 1, name: `phase-${i + 1}`, text: script }));
}

function phaseName(given: string | undefined, number: number): string {
  if (given === undefined || given === '') return `phase-${number}`;
  if (given.length > kPhaseNameLengthMax || !kPhaseNamePattern.test(given)) {
    throw new ScriptsError('GALAXY_SCRIPTS_INVALID', `phase name "${given.slice(0, 80)}" must be 1 to ${kPhaseNameLengthMax} of A-Z a-z 0-9 _ . : - starting with a letter or digit`);
  }
  return given;
}
