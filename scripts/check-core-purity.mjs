// The clock, timer and randomness rule of ARCHITECTURE.md, which dependency-cruiser cannot
// see (it checks imports, not globals): src/core holds pure state machines and src/sim runs
// a whole farm from one seed, so neither may read the wall or monotonic clock
// (Date.now, new Date() without an argument, performance.now), arm a timer (setTimeout,
// setInterval, setImmediate), or draw randomness outside the seeded Prng (Math.random,
// crypto.getRandomValues / randomUUID). src/core also may not read the process
// (process.env, process.hrtime, ...): src/core/platform is its one door to the machine
// and is skipped. Comments and strings are not code: the files are parsed with the
// TypeScript compiler, and only expressions count. Exit 1 names each use with its place.
// Usage: node scripts/check-core-purity.mjs [root] (default: the current directory).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const root = process.argv[2] ?? process.cwd();
/** Folders checked, with what each forbids beyond the clock, timer and randomness rule. */
const kScopes = [
  { dir: 'src/core', skip: ['src/core/platform'], process: true },
  { dir: 'src/sim', skip: [], process: false },
];
const kForbiddenCalls = new Set(['setTimeout', 'setInterval', 'setImmediate']);
const kForbiddenMembers = new Map([
  ['Date', new Set(['now'])],
  ['Math', new Set(['random'])],
  ['performance', new Set(['now'])],
  ['crypto', new Set(['getRandomValues', 'randomUUID', 'randomBytes'])],
]);

function filesUnder(dir) {
  const out = [];
  let names;
  try {
    names = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Names the file declares itself (variables, parameters, functions, imports): those shadow the globals. */
function declaredNames(source) {
  const names = new Set();
  const visit = (node) => {
    if ((ts.isVariableDeclaration(node) || ts.isParameter(node) || ts.isFunctionDeclaration(node) || ts.isClassDeclaration(node) || ts.isImportSpecifier(node) || ts.isImportClause(node) || ts.isNamespaceImport(node)) && node.name !== undefined && ts.isIdentifier(node.name)) {
      names.add(node.name.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return names;
}

function check(path, scope) {
  const text = readFileSync(path, 'utf8');
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const local = declaredNames(source);
  const found = [];
  const place = (node) => {
    const { line, character } = source.getLineAndCharacterOfPosition(node.getStart(source));
    return `${relative(root, path)}:${line + 1}:${character + 1}`;
  };
  const global = (node, name) => ts.isIdentifier(node) && node.text === name && !local.has(name);
  const visit = (node) => {
    if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression) && !local.has(node.expression.text)) {
      const object = node.expression.text;
      const member = node.name.text;
      if (kForbiddenMembers.get(object)?.has(member)) found.push(`${place(node)} ${object}.${member}`);
      else if (object === 'globalThis' && (kForbiddenCalls.has(member) || kForbiddenMembers.has(member) || (scope.process && member === 'process'))) found.push(`${place(node)} globalThis.${member}`);
      else if (scope.process && object === 'process') found.push(`${place(node)} process.${member}`);
    } else if (ts.isCallExpression(node) && [...kForbiddenCalls].some((name) => global(node.expression, name))) {
      found.push(`${place(node)} ${node.expression.text}()`);
    } else if (ts.isNewExpression(node) && global(node.expression, 'Date') && (node.arguments === undefined || node.arguments.length === 0)) {
      found.push(`${place(node)} new Date() (the wall clock)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const problems = [];
let files = 0;
for (const scope of kScopes) {
  for (const path of filesUnder(join(root, scope.dir))) {
    const rel = relative(root, path).split('\\').join('/');
    if (scope.skip.some((skip) => rel === skip || rel.startsWith(`${skip}/`))) continue;
    files++;
    problems.push(...check(path, scope));
  }
}
if (problems.length === 0) {
  console.log(`core purity: no clock, timer, randomness or process use (${files} files in ${kScopes.map((s) => s.dir).join(', ')})`);
} else {
  for (const problem of problems) console.error(`core purity: ${problem}`);
  console.error('src/core and src/sim take time as ticks or an injected clock and randomness from a seeded Prng (ARCHITECTURE.md); src/core reads the machine only in src/core/platform');
  process.exit(1);
}
