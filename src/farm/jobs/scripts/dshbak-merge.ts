/**
 * The merged view of many nodes' output, as `dshbak -c` prints pdsh's: nodes whose
 * output is identical are shown once, under one header naming them all. A rollout on a
 * thousand nodes then reads as "998 nodes: ok" and the two that differ. Here the exit
 * status is part of what must be identical (two nodes that printed the same but exited
 * differently did not do the same thing), and stdout and stderr are compared apart.
 */
export interface NodeOutput {
  readonly node: string;
  /** How the node ended, e.g. "exit 0", "exit 3", "SIGKILL", "lost". */
  readonly status: string;
  readonly stdout: string;
  readonly stderr: string;
}

export interface MergedGroup {
  /** Sorted. */
  readonly nodes: readonly string[];
  readonly status: string;
  readonly stdout: string;
  readonly stderr: string;
}

/** Groups identical outputs; groups come largest first, ties by their first node. */
export function mergeOutputs(outputs: readonly NodeOutput[]): MergedGroup[] {
  const groups = new Map<string, { nodes: string[]; status: string; stdout: string; stderr: string }>();
  for (const output of outputs) {
    // JSON of the triple is an unambiguous key whatever the texts contain.
    const key = JSON.stringify([output.status, output.stdout, output.stderr]);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { nodes: [output.node], status: output.status, stdout: output.stdout, stderr: output.stderr });
    else group.nodes.push(output.node);
  }
  const merged = [...groups.values()].map((g) => ({ ...g, nodes: [...g.nodes].sort() }));
  return merged.sort((a, b) => b.nodes.length - a.nodes.length || (a.nodes[0]! < b.nodes[0]! ? -1 : a.nodes[0]! > b.nodes[0]! ? 1 : 0));
}

const kRule = '----------------';

/**
 * dshbak -c's text layout: a rule, the nodes (comma-separated, with their count when
 * more than one) and status, a rule, then the output; stderr follows under its own label.
 */
export function formatMerged(groups: readonly MergedGroup[]): string {
  const blocks = groups.map((g) => {
    const header = `${g.nodes.join(',')}${g.nodes.length > 1 ? ` (${g.nodes.length})` : ''}  [${g.status}]`;
    const parts = [kRule, header, kRule];
    if (g.stdout !== '') parts.push(g.stdout.replace(/\n$/, ''));
    if (g.stderr !== '') parts.push('[stderr]', g.stderr.replace(/\n$/, ''));
    if (g.stdout === '' && g.stderr === '') parts.push('(no output)');
    return parts.join('\n');
  });
  return blocks.length === 0 ? '' : `${blocks.join('\n')}\n`;
}
