import { lexicographicSortSchema } from 'graphql';
import { builder } from './builder.js';
import '../auth/auth.schema.js';
import '../conversations/conversations.schema.js';
import '../completions/completions.schema.js';
import '../tokens/models.schema.js';

export const schema = lexicographicSortSchema(builder.toSchema());
