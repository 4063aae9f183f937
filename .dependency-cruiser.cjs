// The layers of source/, lowest first: a module may import its own layer and the ones below it,
// never one above, and nothing may form a cycle. `npm run lint` checks this in CI.
// - run/ (events, the step runner, formatters) and errors.ts are the vocabulary every layer shares;
// - contract/ is what an MCP server offers its clients and how two releases differ: pure data and rules;
// - ui/ reaches the engine, the host listings and init's detection only through ui/engine-port.ts.
const layers = [
  ['errors\\.ts$', 'run/'],
  ['contract/'],
  ['config/'],
  ['project/'],
  ['remote/'],
  ['host/', 'runtime/', 'health/'],
  ['validate/'],
  ['engine/'],
  ['notify/', 'report/', 'sandbox/', 'ops/'],
  ['ui/'],
  ['cli/'],
];

const path = (folder) => `^source/${folder}`;
const above = (index) => layers.slice(index + 1).flat().map(path);

const layerRules = layers.flatMap((folders, index) =>
  index === layers.length - 1
    ? []
    : [
        {
          name: `layer-${folders.join('+').replaceAll('\\', '').replaceAll('$', '')}`,
          comment: `${folders.join(', ')} may not import from a layer above it`,
          severity: 'error',
          from: { path: folders.map(path) },
          to: { path: above(index) },
        },
      ],
);

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'imports form a cycle', from: {}, to: { circular: true } },
    ...layerRules,
    {
      name: 'ui-through-its-port',
      severity: 'error',
      comment: 'ui/ files reach the layers below run/ only through ui/engine-port.ts',
      from: { path: '^source/ui/', pathNot: '^source/ui/engine-port\\.ts$' },
      to: { path: '^source/', pathNot: ['^source/ui/', '^source/run/', '^source/errors\\.ts$'] },
    },
    { name: 'no-test-code-in-source', severity: 'error', from: { path: '^source/' }, to: { path: '^(test|bench)/' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    // TypeScript 7 has no JS API for dependency-cruiser to parse with: swc reads the sources, type imports included.
    parser: 'swc',
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
