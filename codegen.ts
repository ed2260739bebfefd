import type { CodegenConfig } from '@graphql-codegen/cli';

const clientPreset = {
  preset: 'client',
  presetConfig: { fragmentMasking: false },
  config: {
    documentMode: 'string',
    useTypeImports: true,
    enumsAsTypes: true,
    scalars: { DateTime: 'string', JSON: 'unknown', ID: 'string' },
  },
} as const;

/**
 * Typed documents: `graphql(\`...\`)` in the tests and benchmarks, and in the example client (which users copy
 * with its own generated folder), becomes a typed document string.
 */
const config: CodegenConfig = {
  schema: 'schema.graphql',
  ignoreNoDocuments: true,
  importExtension: '.js',
  generates: {
    'test/gql/': { ...clientPreset, documents: ['test/**/*.ts', 'bench/**/*.ts', '!test/gql/**'] },
    'examples/chat-client/gql/': {
      ...clientPreset,
      presetConfig: { ...clientPreset.presetConfig, persistedDocuments: { hashAlgorithm: 'sha256' } },
      documents: ['examples/chat-client/**/*.ts', '!examples/chat-client/gql/**'],
    },
  },
};

export default config;
