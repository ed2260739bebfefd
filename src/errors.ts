import { GraphQLError } from 'graphql';

/** The stable `extensions.code` values of the GraphQL contract. */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  RATE_LIMITED: 'RATE_LIMITED',
  CONTEXT_TOO_LONG: 'CONTEXT_TOO_LONG',
  UPSTREAM_INVALID_REQUEST: 'UPSTREAM_INVALID_REQUEST',
  UPSTREAM_RATE_LIMITED: 'UPSTREAM_RATE_LIMITED',
  UPSTREAM_UNAVAILABLE: 'UPSTREAM_UNAVAILABLE',
  FUNCTION_FAILED: 'FUNCTION_FAILED',
  PERSISTED_DOCUMENT_NOT_FOUND: 'PERSISTED_DOCUMENT_NOT_FOUND',
  PERSISTED_DOCUMENT_REQUIRED: 'PERSISTED_DOCUMENT_REQUIRED',
  /** The reply did not parse or validate against the request's responseFormat (the reply is still stored). */
  INVALID_STRUCTURED_OUTPUT: 'INVALID_STRUCTURED_OUTPUT',
  /** approveToolCall / denyToolCall on a call already approved, denied or expired: nothing more runs. */
  TOOL_CALL_NOT_PENDING: 'TOOL_CALL_NOT_PENDING',
  /** A budget cannot cover the request's estimated cost: nothing was sent (retryAfter, resetsAt: when it resets). */
  BUDGET_EXCEEDED: 'BUDGET_EXCEEDED',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * An error meant for the client: Yoga passes GraphQLErrors through unmasked, so every expected failure is an
 * AppError with a code, and anything else is masked as INTERNAL_SERVER_ERROR.
 */
export class AppError extends GraphQLError {
  readonly code: ErrorCode;
  readonly retryAfter: number | undefined;
  readonly resetsAt: Date | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    extra: { retryAfter?: number; field?: string; resetsAt?: Date } = {},
  ) {
    const extensions: Record<string, unknown> = { code };
    if (extra.retryAfter !== undefined) extensions.retryAfter = extra.retryAfter;
    if (extra.field !== undefined) extensions.field = extra.field;
    if (extra.resetsAt !== undefined) extensions.resetsAt = extra.resetsAt.toISOString();
    super(message, { extensions });
    this.code = code;
    this.retryAfter = extra.retryAfter;
    this.resetsAt = extra.resetsAt;
  }
}

export const notFound = (what: string, id: string) =>
  new AppError(ErrorCode.NOT_FOUND, `${what} ${id} not found`);

export const badInput = (field: string, message: string) =>
  new AppError(ErrorCode.BAD_USER_INPUT, `${field}: ${message}`, { field });
