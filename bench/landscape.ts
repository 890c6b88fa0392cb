/**
 * The landscape benchmark (`npm run bench:landscape`): a mirror of 10,000 nodes with
 * 10 attributes each, and in one run
 *  (a) re-evaluation of a typical landscape (`rack = 'r12' AND load1 < 2`), a broad one
 *      (half the farm) and a heavy one (two subqueries, one grouped), timed
 *      through the engine's tick after a load change, as the agent would see it;
 *  (b) the same selections as a JavaScript filter over the same data held as objects,
 *      the floor any SQL mirror pays for, and the ratio SQL / JS;
 *  (c) the typical landscape with the `rack` and `role` columns indexed (indexedKeys),
 *      and the ratio unindexed / indexed;
 *  (d) applying a batch of 50,000 value changes (loads and free memory), indexed or not.
 * Prints a table with the target (typical re-evaluation under 50 ms at 10,000 nodes)
 * and writes bench/results/landscape.json. Absolute figures depend on the machine and
 * on what else runs: the load average is recorded.
 *
 *   GALAXY_BENCH_QUICK=1 node dist/bench/landscape.js     fewer repetitions (a smoke run)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { LandscapeEngine } from '../src/farm/data/landscape/landscape-engine.js';
import type { NodeChange } from '../src/farm/data/landscape/node-mirror.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { Prng } from '../src/core/util/prng.js';

const kQuick = process.env['GALAXY_BENCH_QUICK'] === '1';
const kNodes = 10_000;
const kRacks = 100;
const kBatchChanges = 50_000;
const kRuns = kQuick ? 10 : 60;
const kBatchRuns = kQuick ? 3 : 10;
const kTargetTypicalMs = 50;
const kOrigin = '00000000000000aa';

interface NodeRow {
  node: string;
  rack: string;
  row: string;
  role: string;
  os: string;
  cpus: number;
  mem_total: number;
  load1: number;
  load5: number;
  mem_free: number;
  disk_free: number;
}

const landscapes = {
  typical: {
    sql: "SELECT node FROM nodes WHERE rack = 'r12' AND load1 < 2",
    js: (n: NodeRow) => n.rack === 'r12' && n.load1 < 2,
  },
  broad: {
    sql: 'SELECT node FROM nodes WHERE load1 < 4',
    js: (n: NodeRow) => n.load1 < 4,
  },
  heavy: {
    // Busy database nodes in racks that run hot on average: a grouped subquery and a
    // correlated-free scalar subquery over the whole farm.
    sql: `SELECT node FROM nodes
          WHERE role = 'db' AND load5 > (SELECT avg(load5) FROM nodes WHERE role = 'db')
            AND rack IN (SELECT rack FROM nodes GROUP BY rack HAVING avg(load1) > 4)`,
    js: null,
  },
} as const;

function nodeId(i: number): string {
  return i.toString(16).padStart(16, '0');
}

function makeFarm(random: Prng): NodeRow[] {
  const rows: NodeRow[] = [];
  for (let i = 0; i < kNodes; i++) {
    const memTotal = 64 * (1 + random.nextInt(8));
    rows.push({
      node: nodeId(i + 1),
      rack: `r${random.nextInt(kRacks)}`,
      row: `row${random.nextInt(10)}`,
      role: random.chance(0.25) ? 'db' : random.chance(0.5) ? 'web' : 'batch',
      os: random.chance(0.9) ? 'linux-6.8' : 'linux-6.1',
      cpus: 16 * (1 + random.nextInt(8)),
      mem_total: memTotal,
      load1: random.nextInt(800) / 100,
      load5: random.nextInt(800) / 100,
      mem_free: random.nextInt(memTotal * 100) / 100,
      disk_free: random.nextInt(2000),
    });
  }
  return rows;
}

function populationChanges(rows: readonly NodeRow[]): NodeChange[] {
  const changes: NodeChange[] = [];
  for (const row of rows) {
    for (const [key, value] of Object.entries(row)) if (key !== 'node') changes.push({ subject: row.node, key, value: value as string | number });
  }
  return changes;
}

/** A batch of load and free-memory changes, applied to the JS copy too so both stay equal. */
function loadWave(rows: NodeRow[], random: Prng): NodeChange[] {
  const changes: NodeChange[] = [];
  const keys = ['load1', 'load5', 'mem_free'] as const;
  for (let i = 0; i < kBatchChanges; i++) {
    const row = rows[random.nextInt(rows.length)]!;
    const key = keys[random.nextInt(keys.length)]!;
    const value = key === 'mem_free' ? random.nextInt(row.mem_total * 100) / 100 : random.nextInt(800) / 100;
    row[key] = value;
    changes.push({ subject: row.node, key, value });
  }
  return changes;
}

interface Stats {
  medianMs: number;
  p95Ms: number;
  minMs: number;
}

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { medianMs: round(at(0.5)), p95Ms: round(at(0.95)), minMs: round(sorted[0]!) };
}

function round(value: number, digits = 3): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function time(run: () => void): number {
  const start = performance.now();
  run();
  return performance.now() - start;
}

/** Every holder of the farm's data; each change goes to all of them. */
interface Copies {
  readonly engines: readonly LandscapeEngine[];
  readonly rows: NodeRow[];
}

/** Counts the single changes that trigger re-evaluation, so each writes a new value. */
let changeSequence = 0;

/**
 * Re-evaluation through the engine: change one node's load1 (untimed), then time the
 * tick that re-evaluates the landscape. The load swings between low and high so the
 * member set changes about half the time, as in a live farm; the small increment makes
 * every write a new value (an unchanged value re-evaluates nothing).
 */
function reevaluation(engine: LandscapeEngine, name: string, nowMs: { value: number }, copies: Copies): Stats {
  const samples: number[] = [];
  for (let run = 0; run < kRuns + 5; run++) {
    const sequence = changeSequence++;
    const load1 = (sequence % 2 === 0 ? 0.1 : 7.9) + sequence * 1e-6;
    const change: NodeChange = { subject: nodeId(1 + (sequence % kNodes)), key: 'load1', value: load1 };
    // The other engine and the JS copy get the change too, so all three hold the same data.
    for (const other of copies.engines) other.applyChanges([change]);
    copies.rows[sequence % kNodes]!.load1 = load1;
    nowMs.value += 100;
    const elapsed = time(() => {
      const result = engine.tick(nowMs.value);
      if (result.failed !== 0) throw new Error(`landscape ${name} failed: ${engine.show(name).error?.message}`);
      if (result.evaluated !== 1) throw new Error(`landscape ${name} was not re-evaluated after a load change`);
    });
    if (run >= 5) samples.push(elapsed);
  }
  engine.drainEvents();
  return stats(samples);
}

function jsFilter(rows: readonly NodeRow[], predicate: (n: NodeRow) => boolean): Stats {
  const samples: number[] = [];
  let sink = 0;
  for (let run = 0; run < kRuns + 5; run++) {
    const elapsed = time(() => {
      const members = new Set<string>();
      for (const row of rows) if (predicate(row)) members.add(row.node);
      sink += members.size;
    });
    if (run >= 5) samples.push(elapsed);
  }
  if (sink < 0) throw new Error('unreachable');
  return stats(samples);
}

function buildEngine(rows: readonly NodeRow[], indexedKeys: string[]): { engine: LandscapeEngine; populateMs: number } {
  const engine = new LandscapeEngine({ origin: kOrigin, options: { indexedKeys } });
  const populateMs = time(() => engine.applyChanges(populationChanges(rows)));
  engine.tick(0);
  return { engine, populateMs };
}

function main(): void {
  const rows = makeFarm(new Prng(6));
  const plain = buildEngine(rows, []);
  const indexed = buildEngine(rows, ['rack', 'role']);
  const nowMs = { value: 1000 };
  const copies: Copies = { engines: [plain.engine, indexed.engine], rows };

  // One landscape per engine at a time, so each tick evaluates exactly the one measured.
  const sql: Record<string, Stats> = {};
  for (const [name, landscape] of Object.entries(landscapes)) {
    plain.engine.define({ name, sql: landscape.sql, mode: { kind: 'on-change' } }, nowMs.value);
    sql[name] = reevaluation(plain.engine, name, nowMs, copies);
    const members = plain.engine.members(name).length;
    console.log(`  ${name}: ${members} members`);
    plain.engine.delete(name, nowMs.value);
  }
  indexed.engine.define({ name: 'typical', sql: landscapes.typical.sql, mode: { kind: 'on-change' } }, nowMs.value);
  const typicalIndexed = reevaluation(indexed.engine, 'typical', nowMs, copies);

  // The JS copy must agree with SQL on the data it filters.
  const expected = rows.filter(landscapes.typical.js).map((r) => r.node).sort();
  indexed.engine.tick(nowMs.value += 100);
  if (JSON.stringify(expected) !== JSON.stringify(indexed.engine.members('typical'))) throw new Error('SQL and JS disagree on the typical landscape');
  const js = { typical: jsFilter(rows, landscapes.typical.js), broad: jsFilter(rows, landscapes.broad.js) };

  const random = new Prng(7);
  const batch = (engine: LandscapeEngine): Stats => {
    const samples: number[] = [];
    for (let run = 0; run < kBatchRuns; run++) {
      const wave = loadWave(rows, random);
      samples.push(time(() => engine.applyChanges(wave)));
      engine.tick(nowMs.value += 100);
    }
    return stats(samples);
  };
  const batchPlain = batch(plain.engine);
  const batchIndexed = batch(indexed.engine);

  const results = {
    when: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    loadAverage1m: round(loadavg()[0]!, 2),
    quick: kQuick,
    nodes: kNodes,
    attributesPerNode: 10,
    runs: kRuns,
    populateMs: { plain: round(plain.populateMs, 1), indexed: round(indexed.populateMs, 1), values: kNodes * 10 },
    reevaluationMs: { ...sql, typicalIndexed },
    jsFilterMs: js,
    applyBatchMs: { changes: kBatchChanges, plain: batchPlain, indexed: batchIndexed },
    ratios: {
      typicalSqlOverJs: round(sql['typical']!.medianMs / js.typical.medianMs, 1),
      broadSqlOverJs: round(sql['broad']!.medianMs / js.broad.medianMs, 1),
      typicalUnindexedOverIndexed: round(sql['typical']!.medianMs / typicalIndexed.medianMs, 1),
      batchIndexedOverPlain: round(batchIndexed.medianMs / batchPlain.medianMs, 2),
    },
    target: { typicalReevaluationMsMax: kTargetTypicalMs, met: sql['typical']!.medianMs < kTargetTypicalMs && sql['typical']!.p95Ms < kTargetTypicalMs },
  };
  plain.engine.close();
  indexed.engine.close();

  const table = [
    ['re-evaluation, 10,000 nodes', 'median ms', 'p95 ms'],
    ['typical (rack, load1)', sql['typical']!.medianMs, sql['typical']!.p95Ms],
    ['typical, rack indexed', typicalIndexed.medianMs, typicalIndexed.p95Ms],
    ['broad (load1 < 4)', sql['broad']!.medianMs, sql['broad']!.p95Ms],
    ['heavy (two subqueries)', sql['heavy']!.medianMs, sql['heavy']!.p95Ms],
    ['JS filter, typical', js.typical.medianMs, js.typical.p95Ms],
    ['JS filter, broad', js.broad.medianMs, js.broad.p95Ms],
    [`apply ${kBatchChanges} changes`, batchPlain.medianMs, batchPlain.p95Ms],
    [`apply ${kBatchChanges} changes, indexed`, batchIndexed.medianMs, batchIndexed.p95Ms],
  ];
  for (const line of table) console.log(`${String(line[0]).padEnd(34)} ${String(line[1]).padStart(10)} ${String(line[2]).padStart(10)}`);
  console.log(`populate ${kNodes * 10} values: ${results.populateMs.plain} ms (indexed ${results.populateMs.indexed} ms)`);
  console.log('ratios', results.ratios);
  console.log(`target: typical re-evaluation under ${kTargetTypicalMs} ms (median and p95): ${results.target.met ? 'met' : 'NOT met'}`);
  const directory = join(packageRoot(), 'bench', 'results');
  mkdirSync(directory, { recursive: true });
  writeFileSync(join(directory, 'landscape.json'), `${JSON.stringify(results, null, 2)}\n`);
}

main();
