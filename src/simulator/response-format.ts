import { type ApiError, apiError, type ChatRequest, textOf } from './protocol.js';

type Schema = Record<string, unknown>;

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema: Schema; strict: boolean };

/** What a refusing model says (the `refusal` fault). */
export const REFUSAL_TEXT = "I'm sorry, but I can't help with that request.";

const NAME = /^[a-zA-Z0-9_-]+$/;
const TYPES = ['text', 'json_object', 'json_schema'];

/**
 * `response_format` as OpenAI checks it, with its status, wording and param: the type, JSON mode's demand that
 * the messages mention JSON, the json_schema name, an object schema at the top, and strict mode's rules
 * (`additionalProperties: false` and every property required, on every object).
 */
export function checkResponseFormat(request: ChatRequest): ResponseFormat | ApiError | undefined {
  const raw = request.response_format;
  if (raw === undefined || raw === null) return undefined;
  if (!isRecord(raw)) {
    return apiError(
      400,
      "Invalid type for 'response_format': expected an object, but got a string instead.",
      {
        param: 'response_format',
        code: 'invalid_type',
      },
    );
  }
  if (typeof raw.type !== 'string' || !TYPES.includes(raw.type)) {
    return apiError(
      400,
      `Invalid value: '${String(raw.type)}'. Supported values are: 'json_object', 'json_schema', and 'text'.`,
      { param: 'response_format.type', code: 'invalid_value' },
    );
  }
  if (raw.type === 'text') return { type: 'text' };
  if (raw.type === 'json_object') {
    if (!request.messages.some((message) => /json/i.test(textOf(message.content) ?? ''))) {
      return apiError(
        400,
        "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
        { param: 'messages' },
      );
    }
    return { type: 'json_object' };
  }
  const spec = raw.json_schema;
  if (!isRecord(spec)) return missing('response_format.json_schema');
  if (spec.name === undefined) return missing('response_format.json_schema.name');
  if (typeof spec.name !== 'string' || !NAME.test(spec.name) || spec.name.length > 64) {
    return apiError(
      400,
      "Invalid 'response_format.json_schema.name': string does not match pattern. Expected a string that matches " +
        "the pattern '^[a-zA-Z0-9_-]+$'.",
      { param: 'response_format.json_schema.name', code: 'invalid_value' },
    );
  }
  const schema = isRecord(spec.schema) ? spec.schema : {};
  const invalid = (problem: string) =>
    apiError(400, `Invalid schema for response_format '${spec.name}': ${problem}`, {
      param: 'response_format',
    });
  if (schema.type !== 'object') {
    return invalid(`schema must be a JSON Schema of 'type: "object"', got 'type: "${String(schema.type)}"'.`);
  }
  const strict = spec.strict === true;
  if (strict) {
    const problem = strictProblem(schema, []);
    if (problem) return invalid(problem);
  }
  return { type: 'json_schema', name: spec.name, schema, strict };
}

const missing = (param: string) =>
  apiError(400, `Missing required parameter: '${param}'.`, { param, code: 'missing_required_parameter' });

/** Strict mode: every object closes its properties and requires them all (OpenAI's "In context=(...)" errors). */
function strictProblem(schema: Schema, context: string[]): string | undefined {
  const where = `In context=(${context.map((part) => `'${part}'`).join(', ')}${context.length === 1 ? ',' : ''})`;
  if (schema.type === 'object' || isRecord(schema.properties)) {
    if (schema.additionalProperties !== false) {
      return `${where}, 'additionalProperties' is required to be supplied and to be false.`;
    }
    const properties = isRecord(schema.properties) ? schema.properties : {};
    const required = Array.isArray(schema.required) ? schema.required : [];
    const absent = Object.keys(properties).find((key) => !required.includes(key));
    if (absent !== undefined) {
      return (
        `${where}, 'required' is required to be supplied and to be an array including every key in properties. ` +
        `Missing '${absent}'.`
      );
    }
  }
  for (const [keyword, child] of subschemas(schema)) {
    const problem = strictProblem(child, [...context, ...keyword]);
    if (problem) return problem;
  }
  return undefined;
}

function* subschemas(schema: Schema): Generator<[string[], Schema]> {
  if (isRecord(schema.properties)) {
    for (const [key, child] of Object.entries(schema.properties)) {
      if (isRecord(child)) yield [['properties', key], child];
    }
  }
  if (isRecord(schema.items)) yield [['items'], schema.items];
  for (const keyword of ['anyOf', '$defs', 'definitions'] as const) {
    const value = schema[keyword];
    const entries = Array.isArray(value) ? value.entries() : isRecord(value) ? Object.entries(value) : [];
    for (const [key, child] of entries) if (isRecord(child)) yield [[keyword, String(key)], child];
  }
}

/**
 * The deterministic "model" under a response format: a JSON text that conforms. JSON mode wraps the plain reply
 * in `{"reply": ...}`; a schema gets a value built from it, strings quoting the reply.
 */
export function formattedReply(format: ResponseFormat, reply: string): string {
  if (format.type === 'json_object') return JSON.stringify({ reply }, null, 1);
  if (format.type === 'text') return reply;
  return JSON.stringify(valueFor(format.schema, format.schema, reply, 0), null, 1);
}

const MAX_DEPTH = 16;

function valueFor(schema: Schema, root: Schema, text: string, depth: number): unknown {
  const resolved = resolveRef(schema, root);
  if ('const' in resolved) return resolved.const;
  if (Array.isArray(resolved.enum) && resolved.enum.length > 0) return resolved.enum[0];
  const alternatives = resolved.anyOf ?? resolved.oneOf;
  if (Array.isArray(alternatives) && isRecord(alternatives[0])) {
    return valueFor(alternatives[0], root, text, depth + 1);
  }
  const type = Array.isArray(resolved.type) ? resolved.type.find((t) => t !== 'null') : resolved.type;
  if (depth > MAX_DEPTH) return null;
  switch (type) {
    case 'object': {
      const properties = isRecord(resolved.properties) ? resolved.properties : {};
      return Object.fromEntries(
        Object.entries(properties).map(([key, child]) => [
          key,
          isRecord(child) ? valueFor(child, root, text, depth + 1) : null,
        ]),
      );
    }
    case 'array': {
      const count = typeof resolved.minItems === 'number' ? Math.max(1, resolved.minItems) : 1;
      const items = isRecord(resolved.items) ? resolved.items : {};
      return Array.from({ length: Math.min(count, 8) }, () => valueFor(items, root, text, depth + 1));
    }
    case 'integer':
    case 'number': {
      const minimum = typeof resolved.minimum === 'number' ? resolved.minimum : 0;
      return type === 'integer' ? Math.ceil(minimum) : minimum;
    }
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return text;
  }
}

function resolveRef(schema: Schema, root: Schema): Schema {
  const ref = schema.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return schema;
  let target: unknown = root;
  for (const part of ref.slice(2).split('/')) target = isRecord(target) ? target[part] : undefined;
  return isRecord(target) ? target : {};
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
