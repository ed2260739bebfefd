import { MessageRef } from '../conversations/conversations.schema.js';
import { builder } from '../schema/builder.js';

const ResponseFormatTypeEnum = builder.enumType('ResponseFormatType', {
  values: {
    TEXT: { value: 'text', description: 'Plain text (the default).' },
    JSON_OBJECT: { value: 'json_object', description: 'Any JSON object (OpenAI JSON mode).' },
    JSON_SCHEMA: { value: 'json_schema', description: 'A JSON object that follows jsonSchema.schema.' },
  } as const,
});

const JsonSchemaFormatInput = builder.inputType('JsonSchemaFormatInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: 'Names the format for the model: ^[a-zA-Z0-9_-]{1,64}$.' }),
    schema: t.field({
      type: 'JSON',
      required: true,
      description:
        'A JSON Schema with "type": "object" at the top, checked when the request comes in (at most 32 KiB; no ' +
        '"pattern" or "patternProperties").',
    }),
    strict: t.boolean({ description: "OpenAI's strict mode: the model must follow the schema exactly." }),
    description: t.string(),
  }),
});

export const ResponseFormatInput = builder.inputType('ResponseFormatInput', {
  description: "OpenAI's response_format: the finished reply is validated and exposed as Completion.parsed.",
  fields: (t) => ({
    type: t.field({ type: ResponseFormatTypeEnum, required: true }),
    jsonSchema: t.field({ type: JsonSchemaFormatInput, description: 'Required with JSON_SCHEMA.' }),
  }),
});

builder.objectField(MessageRef, 'refusal', (t) =>
  t.exposeString('refusal', {
    nullable: true,
    description: 'An assistant reply the model refused to give (content is then null).',
  }),
);
