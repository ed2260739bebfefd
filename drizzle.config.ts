import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: ['./src/storage/schema.ts', './src/storage/shopping.ts', './src/storage/tool-approvals.ts'],
  out: './drizzle',
});
