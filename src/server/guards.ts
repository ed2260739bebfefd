import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import {
  GraphQLError,
  Lexer,
  NoSchemaIntrospectionCustomRule,
  Source,
  TokenKind,
  type ValidationContext,
} from 'graphql';
import { type Plugin, maskError as yogaMaskError } from 'graphql-yoga';
import { ErrorCode } from '../errors.js';

/** Brackets deeper than this are refused before graphql-js's recursive parser could overflow the stack on them. */
export const MAX_DOCUMENT_NESTING = 64;
/** The standard introspection query (graphql-js getIntrospectionQuery) is 21 levels deep. */
export const INTROSPECTION_MAX_DEPTH = 25;

const OPENING = new Set<TokenKind>([TokenKind.BRACE_L, TokenKind.BRACKET_L, TokenKind.PAREN_L]);
const CLOSING = new Set<TokenKind>([TokenKind.BRACE_R, TokenKind.BRACKET_R, TokenKind.PAREN_R]);

/**
 * Yoga's masking without its development mode, which NODE_ENV=development would switch on to send stacks and
 * SQL to clients; and a code on every error a client sees. The errors that reach here unmasked and uncoded are
 * graphql-js's, Pothos's and Yoga's own refusals of a request (variable coercion, a negative `first`, CSRF).
 */
export function maskError(error: unknown, message: string): Error {
  const masked = yogaMaskError(error, message, false);
  if (masked instanceof GraphQLError && typeof masked.extensions.code !== 'string') {
    const status = (masked.extensions.http as { status?: number } | undefined)?.status;
    tagError(masked, status === 403 ? ErrorCode.FORBIDDEN : ErrorCode.BAD_USER_INPUT);
  }
  return masked;
}

/** graphql-armor's rejections carry no code; a limit exceeded is the client's input to fix. */
export function tagRejection(_context: unknown, error: GraphQLError) {
  tagError(error, ErrorCode.BAD_USER_INPUT);
}

function tagError(error: GraphQLError, code: ErrorCode) {
  (error.extensions as Record<string, unknown>).code = code;
}

/** Counts bracket nesting with graphql-js's lexer, which is iterative: linear time, constant stack. */
export function useDocumentNestingLimit(): Plugin {
  return {
    onParse({ params }) {
      if (!nestsDeeperThan(params.source, MAX_DOCUMENT_NESTING)) return;
      throw new GraphQLError(`The document nests deeper than ${MAX_DOCUMENT_NESTING} levels`, {
        extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: 400 } },
      });
    },
  };
}

function nestsDeeperThan(source: string | Source, limit: number): boolean {
  const lexer = new Lexer(typeof source === 'string' ? new Source(source) : source);
  let depth = 0;
  try {
    for (let token = lexer.advance(); token.kind !== TokenKind.EOF; token = lexer.advance()) {
      if (OPENING.has(token.kind)) depth += 1;
      else if (CLOSING.has(token.kind)) depth -= 1;
      if (depth > limit) return true;
    }
  } catch {
    // A syntax error: the parser reports it.
  }
  return false;
}

/**
 * GRAPHQL_INTROSPECTION: off, `__schema` and `__type` are refused; on, an introspection query may go
 * INTROSPECTION_MAX_DEPTH deep (armor's GRAPHQL_MAX_DEPTH leaves introspection out, so this bounds it).
 */
export function useIntrospectionPolicy(enabled: boolean): Plugin {
  const rule = enabled
    ? maxDepthRule({
        n: INTROSPECTION_MAX_DEPTH,
        ignoreIntrospection: false,
        propagateOnRejection: false,
        onReject: [tagRejection, (context, error) => (context as ValidationContext).reportError(error)],
      })
    : NoSchemaIntrospectionCustomRule;
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(rule);
    },
  };
}
