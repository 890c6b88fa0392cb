// Folder-level cycle check for the layered tree (ARCHITECTURE.md): dependency-cruiser's
// rules forbid imports into higher layers and module cycles; this adds the rule that
// the feature folders of one layer (src/<layer>/<feature>/) never import each other in
// a circle, so each can be read, tested and moved on its own. Exit 1 names each cycle.
import { cruise } from 'dependency-cruiser';

const result = await cruise(['src'], { tsPreCompilationDeps: true, doNotFollow: { path: 'node_modules' } });
const folderOf = (path) => {
  const parts = path.split('/');
  if (parts[0] !== 'src' || parts.length < 3) return null;
  return parts.length === 3 ? `${parts[0]}/${parts[1]}` : `${parts[0]}/${parts[1]}/${parts[2]}`;
};
const edges = new Map();
for (const module of result.output.modules) {
  const from = folderOf(module.source);
  if (from === null) continue;
  for (const dependency of module.dependencies) {
    const to = folderOf(dependency.resolved);
    if (to === null || to === from) continue;
    if (!edges.has(from)) edges.set(from, new Map());
    const targets = edges.get(from);
    if (!targets.has(to)) targets.set(to, `${module.source} -> ${dependency.resolved}`);
  }
}
// Tarjan's strongly connected components over the folder graph.
let index = 0;
const indexOf = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const cycles = [];
function visit(node) {
  indexOf.set(node, index);
  low.set(node, index);
  index++;
  stack.push(node);
  onStack.add(node);
  for (const next of edges.get(node)?.keys() ?? []) {
    if (!indexOf.has(next)) {
      visit(next);
      low.set(node, Math.min(low.get(node), low.get(next)));
    } else if (onStack.has(next)) low.set(node, Math.min(low.get(node), indexOf.get(next)));
  }
  if (low.get(node) === indexOf.get(node)) {
    const component = [];
    let member;
    do {
      member = stack.pop();
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1) cycles.push(component);
  }
}
for (const node of edges.keys()) if (!indexOf.has(node)) visit(node);
if (cycles.length === 0) {
  console.log(`folder cycles: none (${edges.size} folders)`);
} else {
  for (const component of cycles) {
    console.error(`folder cycle: ${component.sort().join(' <-> ')}`);
    for (const from of component) {
      for (const [to, example] of edges.get(from) ?? []) if (component.includes(to)) console.error(`  ${example}`);
    }
  }
  process.exit(1);
}
