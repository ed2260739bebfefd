/**
 * Requests whose prompt_tokens OpenAI's API reported, as published in the OpenAI cookbook "How to count tokens
 * with tiktoken" (sections 6 and 7, examples run against the API): fixed numbers a wrong counting rule misses.
 */

/** Section 6: system messages, `name` fields and a user message. */
export const NAMED_MESSAGES = {
  messages: [
    {
      role: 'system',
      content:
        'You are a helpful, pattern-following assistant that translates corporate jargon into plain English.',
    },
    { role: 'system', name: 'example_user', content: 'New synergies will help drive top-line growth.' },
    {
      role: 'system',
      name: 'example_assistant',
      content: 'Things working well together will increase revenue.',
    },
    {
      role: 'system',
      name: 'example_user',
      content:
        "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.",
    },
    {
      role: 'system',
      name: 'example_assistant',
      content: "Let's talk later when we're less busy about how to do better.",
    },
    {
      role: 'user',
      content: "This late pivot means we don't have time to boil the ocean for the client deliverable.",
    },
  ],
  promptTokens: { 'gpt-4': 129, 'gpt-4o': 124 },
} as const;

/** Section 7: a tool definition (with descriptions and an enum) offered with two messages. */
export const WEATHER_TOOL_REQUEST = {
  tool: {
    name: 'get_current_weather',
    description: 'Get the current weather in a given location',
    parameters: {
      type: 'object',
      properties: {
        location: { type: 'string', description: 'The city and state, e.g. San Francisco, CA' },
        unit: {
          type: 'string',
          description: 'The unit of temperature to return',
          enum: ['celsius', 'fahrenheit'],
        },
      },
      required: ['location'],
    },
  },
  messages: [
    {
      role: 'system',
      content: 'You are a helpful assistant that can answer to questions about the weather.',
    },
    { role: 'user', content: "What's the weather like in San Francisco?" },
  ],
  promptTokens: { 'gpt-4': 105, 'gpt-4o': 101 },
} as const;

/**
 * A tool call and its result. OpenAI publishes no count for these; the figures follow the approximation the
 * README documents (3 per message + the role; a call adds 3 + its name + its arguments), worked out by hand:
 * the call 3 + 1 ("assistant") + 3 + 3 ("get_current_weather") + 9 (the arguments) = 19, the result
 * 3 + 1 ("tool") + 13 (the content) = 17; the token counts of the pieces are the same in cl100k and o200k.
 */
export const WEATHER_TOOL_CALL = {
  call: {
    id: 'call_weather_1',
    functionName: 'get_current_weather',
    arguments: '{"location": "San Francisco, CA"}',
  },
  result: '{"temperature": 18, "unit": "celsius"}',
  tokens: { call: 19, result: 17 },
} as const;
