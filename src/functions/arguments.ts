import { Ajv, type CodeOptions, type ValidateFunction } from 'ajv';
import { RE2JS } from 're2js';

/** Keys that could reach an object's prototype in a handler that copies or merges its arguments. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_DEPTH = 32;
const MAX_SCHEMA_BYTES = 32 * 1024;
/** In JSON text, an escaped NUL or lone surrogate (not preceded by an odd run of backslashes): jsonb refuses both. */
const UNSTORABLE_ESCAPE = /(?:^|[^\\])(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i;

/** True when JSON text (from JSON.stringify) holds a NUL or an unpaired surrogate, which PostgreSQL cannot store. */
export const unstorableJson = (text: string) => UNSTORABLE_ESCAPE.test(text);

/** `received`: what arrived, parsed when it was JSON, kept for the execution record. */
export type ArgumentCheck =
  | { ok: true; value: Record<string, unknown> }
  | { ok: false; error: string; received: unknown };

/**
 * JSON Schema checks for function parameters (on registration) and arguments (on every call), with ajv.
 * Arguments lose unknown properties (`removeAdditional: 'all'`) and get schema defaults, so a handler sees only
 * what its schema declares.
 */
export class ArgumentValidator {
  private readonly ajv = new Ajv({
    removeAdditional: 'all',
    useDefaults: true,
    allErrors: false,
    code: { regExp: linearRegExp },
  });
  /** Compiled validators by schema text: ajv caches by object identity, and stored schemas are fresh objects. */
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly maxArgumentBytes: number) {}

  /** The problem with a parameters schema, or null when it is a valid JSON Schema for an object. */
  schemaProblem(parameters: unknown): string | null {
    if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters))
      return 'must be a JSON Schema object';
    const text = JSON.stringify(parameters);
    if (Buffer.byteLength(text) > MAX_SCHEMA_BYTES) return `must be at most ${MAX_SCHEMA_BYTES} bytes`;
    if ((parameters as { type?: unknown }).type !== 'object') return 'must have "type": "object" at the top';
    const forbidden = forbiddenKey(parameters);
    if (forbidden) return forbidden;
    if (!this.ajv.validateSchema(parameters)) return `not a valid JSON Schema: ${this.ajv.errorsText()}`;
    try {
      this.validatorFor(parameters as Record<string, unknown>);
    } catch (error) {
      return `cannot be compiled: ${(error as Error).message}`;
    }
    return null;
  }

  /** Parses (when text) and validates arguments against `parameters`; the value is a cleaned copy. */
  check(raw: unknown, parameters: Record<string, unknown>): ArgumentCheck {
    const text = typeof raw === 'string' ? raw : JSON.stringify(raw ?? {});
    if (Buffer.byteLength(text) > this.maxArgumentBytes)
      return { ok: false, error: `arguments exceed ${this.maxArgumentBytes} bytes`, received: null };
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      return {
        ok: false,
        error: `arguments are not valid JSON: ${(error as Error).message}`,
        received: text,
      };
    }
    if (unstorableJson(text))
      return {
        ok: false,
        error: 'arguments hold a NUL or an unpaired surrogate, which cannot be stored',
        received: null,
      };
    const forbidden = forbiddenKey(value);
    // Not kept for the record: a value nested too deep would overflow whatever serialises it next.
    if (forbidden) return { ok: false, error: `arguments ${forbidden}`, received: null };
    const fail = (error: string): ArgumentCheck => ({ ok: false, error, received: value });
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return fail('arguments must be a JSON object');
    // ajv removes unknown keys and adds defaults in place: validate a copy so `received` stays as it came.
    const cleaned = structuredClone(value);
    const validate = this.validatorFor(parameters);
    if (!validate(cleaned))
      return fail(`invalid arguments: ${this.ajv.errorsText(validate.errors, { dataVar: 'arguments' })}`);
    return { ok: true, value: cleaned as Record<string, unknown> };
  }

  private validatorFor(parameters: Record<string, unknown>): ValidateFunction {
    const key = JSON.stringify(parameters);
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile(parameters);
      this.compiled.set(key, validate);
    }
    return validate;
  }
}

/**
 * `pattern` and `patternProperties` run on RE2 (re2js, pure JavaScript): matching is linear in the input, so no
 * schema can make validation backtrack for seconds on the main thread. A pattern RE2 cannot run that way
 * (backreferences, lookahead) fails to compile, and the schema is refused at registration.
 */
const linearRegExp: CodeOptions['regExp'] = Object.assign(
  (pattern: string) => RE2JS.compile(RE2JS.translateRegExp(pattern)),
  { code: 're2js' },
);

/** Describes the first forbidden key or excessive nesting found in a JSON value, or returns null. */
export function forbiddenKey(value: unknown, depth = 0): string | null {
  if (typeof value !== 'object' || value === null) return null;
  if (depth > MAX_DEPTH) return `nest deeper than ${MAX_DEPTH} levels`;
  for (const [key, child] of Object.entries(value)) {
    if (FORBIDDEN_KEYS.has(key)) return `may not use the key "${key}"`;
    const problem = forbiddenKey(child, depth + 1);
    if (problem) return problem;
  }
  return null;
}
