import { Ajv, type ValidateFunction } from 'ajv';
import type { ResponseFormatJSONObject, ResponseFormatJSONSchema } from 'openai/resources/shared';
import { AppError, badInput, ErrorCode } from '../errors.js';
import { forbiddenKey } from '../functions/index.js';

export interface ResponseFormatInput {
  type: 'text' | 'json_object' | 'json_schema';
  jsonSchema?: {
    name: string;
    schema?: unknown;
    strict?: boolean | null;
    description?: string | null;
  } | null;
}

/** A request's structured-output contract: what goes upstream, and how the finished reply is checked. */
export interface StructuredOutput {
  wire: ResponseFormatJSONObject | ResponseFormatJSONSchema;
  /** The reply parsed and validated; INVALID_STRUCTURED_OUTPUT when it is not valid JSON for the format. */
  parse(content: string): unknown;
}

const FIELD = 'input.responseFormat';
const NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const MAX_SCHEMA_BYTES = 32 * 1024;

/**
 * `responseFormat`: checked when the request comes in (a JSON schema must be a valid JSON Schema for an object),
 * sent upstream as `response_format`, and the finished reply validated with ajv. Formats (`"format": "email"`)
 * are the model's to honour and are not checked here.
 */
export class StructuredOutputs {
  private readonly ajv = new Ajv({ strict: false, validateFormats: false, allErrors: false });

  /** Null for plain text (no format, or TEXT); BAD_USER_INPUT naming the field for a bad format. */
  prepare(input: ResponseFormatInput | null | undefined): StructuredOutput | null {
    if (!input || input.type === 'text') {
      if (input?.jsonSchema) throw badInput(`${FIELD}.jsonSchema`, 'is only allowed with type JSON_SCHEMA');
      return null;
    }
    if (input.type === 'json_object') {
      if (input.jsonSchema) throw badInput(`${FIELD}.jsonSchema`, 'is only allowed with type JSON_SCHEMA');
      return { wire: { type: 'json_object' }, parse: (content) => parseObject(content) };
    }
    const spec = input.jsonSchema;
    if (!spec) throw badInput(`${FIELD}.jsonSchema`, 'is required with type JSON_SCHEMA');
    if (!NAME.test(spec.name)) throw badInput(`${FIELD}.jsonSchema.name`, 'must match ^[a-zA-Z0-9_-]{1,64}$');
    // A copy of plain objects: a literal in the document arrives with null prototypes, which libraries trip on.
    const schema = plainCopy(spec.schema);
    const validate = this.compile(schema);
    return {
      wire: {
        type: 'json_schema',
        json_schema: {
          name: spec.name,
          schema,
          ...(spec.strict != null ? { strict: spec.strict } : {}),
          ...(spec.description ? { description: spec.description } : {}),
        },
      },
      parse: (content) => {
        const value = parseObject(content);
        if (!validate(value)) {
          throw invalid(
            `it does not match the schema: ${this.ajv.errorsText(validate.errors, { dataVar: 'reply' })}`,
          );
        }
        return value;
      },
    };
  }

  private compile(schema: Record<string, unknown>): ValidateFunction {
    const field = `${FIELD}.jsonSchema.schema`;
    if (Buffer.byteLength(JSON.stringify(schema)) > MAX_SCHEMA_BYTES)
      throw badInput(field, `must be at most ${MAX_SCHEMA_BYTES} bytes`);
    if ((schema as { type?: unknown }).type !== 'object')
      throw badInput(field, 'must have "type": "object" at the top');
    const forbidden = forbiddenKey(schema);
    if (forbidden) throw badInput(field, forbidden);
    const regex = regexKeyword(schema);
    if (regex)
      throw badInput(field, `"${regex}" is not supported (its regex would run on the reply unbounded)`);
    if (!this.ajv.validateSchema(schema))
      throw badInput(field, `not a valid JSON Schema: ${this.ajv.errorsText()}`);
    try {
      return this.ajv.compile(schema);
    } catch (error) {
      throw badInput(field, `cannot be compiled: ${(error as Error).message}`);
    } finally {
      // ajv keeps every compiled schema by identity; each request brings a new one, so none is kept.
      this.ajv.removeSchema(schema);
    }
  }
}

function plainCopy(schema: unknown): Record<string, unknown> {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw badInput(`${FIELD}.jsonSchema.schema`, 'must be a JSON Schema object');
  }
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
}

/**
 * A regex keyword anywhere in the schema (`pattern` with a string, `patternProperties`): ajv would run it on the
 * model's reply on the main thread, and a backtracking one can stall the server. Depth is bounded before this.
 */
function regexKeyword(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return null;
  for (const [key, child] of Object.entries(value)) {
    if ((key === 'pattern' && typeof child === 'string') || key === 'patternProperties') return key;
    const found = regexKeyword(child);
    if (found) return found;
  }
  return null;
}

function parseObject(content: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(content);
  } catch (error) {
    throw invalid(`it is not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid('it is not a JSON object');
  return value as Record<string, unknown>;
}

const invalid = (why: string) =>
  new AppError(
    ErrorCode.INVALID_STRUCTURED_OUTPUT,
    `The reply does not follow responseFormat: ${why}. The reply is stored as the completion's message.`,
  );
