import { lexicographicSortSchema } from 'graphql';
import { builder } from './builder.js';
import '../auth/auth.schema.js';
import '../budgets/budgets.schema.js';
import '../conversations/conversations.schema.js';
import '../conversations/context.schema.js';
import '../completions/completions.schema.js';
import '../completions/approvals.schema.js';
import '../functions/functions.schema.js';
import '../mcp/mcp.schema.js';
import '../shopping/shopping.schema.js';
import '../tokens/models.schema.js';
import '../observability/usage.schema.js';

export const schema = lexicographicSortSchema(builder.toSchema());
