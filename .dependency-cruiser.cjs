/**
 * The layering of ARCHITECTURE.md, checked on every `npm run lint`: arrows point down only
 * (server -> schema -> feature services -> stores / upstream -> storage, tokens, limits), and no import cycle.
 * Type-only imports count: a cycle of types still ties the files together.
 */
const lower = '^src/(storage|tokens|limits|simulator)/';
const features = '^src/(auth|conversations|completions|functions|mcp|shopping|observability)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'lower-layers-stay-low',
      comment: 'storage, tokens, limits and the simulator serve the features and never reach up into them',
      severity: 'error',
      from: { path: lower, pathNot: '\\.schema\\.ts$' },
      to: {
        path: `${features}|^src/(upstream|server|schema)/|^src/(app|services)\\.ts$`,
        pathNot: '^src/observability/logger\\.ts$',
      },
    },
    {
      name: 'upstream-knows-no-feature',
      comment: 'the model API layer is used by completions and conversations, not the other way round',
      severity: 'error',
      from: { path: '^src/upstream/' },
      to: { path: `${features.replace('|observability', '')}|^src/(server|schema)/` },
    },
    {
      name: 'services-know-no-graphql',
      comment: 'only the schema files (*.schema.ts) and the server map GraphQL; services take plain inputs',
      severity: 'error',
      from: { path: `${features}|^src/(upstream|storage|tokens|limits)/`, pathNot: '\\.schema\\.ts$' },
      to: { path: '^src/(schema|server)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
