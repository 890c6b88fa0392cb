import { stringify } from 'yaml';
import type { Composition } from './profile-composer.js';

/**
 * `render`: the fully composed profile as YAML, what a cluster made from it gets. A
 * comment at the top says what it was composed from, in merge order. Keys keep the
 * order of first appearance (parent first), which is the order people wrote them in.
 */
export function renderProfile(composition: Composition): string {
  const header = `# ${composition.lineage.at(-1)} composed from ${composition.lineage.join(' + ')} (${composition.document.file})\n`;
  return header + stringify(composition.value, { lineWidth: 0, aliasDuplicateObjects: false });
}
