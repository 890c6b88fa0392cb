// The layering rules of ARCHITECTURE.md, checked by dependency-cruiser (`npm run lint:layers`,
// run by `npm test`'s pretest). Layers, lowest first: core < sim < node < surface < farm < cluster < ops.
// A layer may import itself and any layer below it, never one above; no cycles between folders.
const layers = ['core', 'sim', 'node', 'surface', 'farm', 'cluster', 'ops'];
const above = (layer) => layers.slice(layers.indexOf(layer) + 1);
const layerRules = layers.slice(0, -1).map((layer) => ({
  name: `${layer}-not-above`,
  comment: `src/${layer} must not import a higher layer (${above(layer).join(', ')})`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: `^src/(${above(layer).join('|')})/` },
}));
module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'domain-not-to-surface',
      comment: 'farm and cluster domain code never imports the operator surface (src/surface: route contracts, schemas, API client, CLI kit): the types it serves live with the layer that makes them. Only a feature\'s surface adapters may: its routes (*-routes.ts), its commands (*-commands.ts, *-command.ts), and the few files that hand the surface a stream or a route list or take the CLI\'s client, named here',
      severity: 'error',
      from: {
        path: '^src/(farm|cluster)/',
        pathNot: [
          '-(routes|commands|command)\\.ts$',
          // the lifecycle's wiring for the agent: returns the lifecycle and its ApiRoute list
          '^src/cluster/lifecycle/agent-lifecycle\\.ts$',
          // the channel inbox as a route's WebSocket stream (ApiStreamSocket, ApiStreamAttach)
          '^src/cluster/service/(channel-stream|cluster-channel-desk)\\.ts$',
          // the designer's hand-over to the CLI: an applier takes the CLI's ApiClient
          '^src/cluster/designer/cluster-plan-apply\\.ts$',
        ],
      },
      to: { path: '^src/surface/' },
    },
    {
      name: 'core-no-io',
      comment: 'src/core holds pure state machines: no node: built-ins, no native or SQLite modules (src/core/platform, which reads the compiled Wasm kernels once, is the one exception)',
      severity: 'error',
      from: { path: '^src/core/', pathNot: '^src/core/platform/' },
      to: { dependencyTypes: ['core', 'npm', 'npm-dev', 'npm-optional', 'npm-peer'] },
    },
    {
      name: 'sim-no-io',
      comment: 'src/sim runs in one thread from one seed: no node: built-ins except what tests need',
      severity: 'error',
      from: { path: '^src/sim/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'entry-points-on-top',
      comment: 'src/index.ts and src/exports/ are the package\'s entry points (package.json "exports"): they may import any layer, and no layer imports them',
      severity: 'error',
      from: { path: '^(src|workers)/', pathNot: '^src/(index\\.ts$|exports/)' },
      to: { path: '^src/(index\\.ts$|exports/)' },
    },
    {
      name: 'workers-are-drivers',
      comment: 'workers/ holds thread and process entry points: they run node and farm machinery, never the simulator or the operator surface',
      severity: 'error',
      from: { path: '^workers/' },
      to: { path: '^src/(sim|ops)/' },
    },
    {
      name: 'no-module-cycles',
      comment: 'no cycles between modules through runtime imports (a facade and its parts may name each other\'s types); folder cycles are checked by scripts/check-folder-cycles.mjs',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
