import { parseArgs } from 'node:util';
import { ChatClient } from './client.js';

const usage = `Usage: npm run example:chat -- [--conversation ID] [--function NAME]... [--trusted] "question"
  --trusted               send operation ids from gql/persisted-documents.json, not their text
  AGENT_PLATFORM_URL      GraphQL endpoint (default http://127.0.0.1:4000/graphql)
  AGENT_PLATFORM_API_KEY  API key, when the server has API_KEYS`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    conversation: { type: 'string' },
    function: { type: 'string', multiple: true },
    trusted: { type: 'boolean', default: false },
  },
});
const question = positionals.join(' ').trim();
if (!question) {
  console.error(usage);
  process.exit(2);
}

const client = new ChatClient({
  url: process.env.AGENT_PLATFORM_URL ?? 'http://127.0.0.1:4000/graphql',
  apiKey: process.env.AGENT_PLATFORM_API_KEY,
  trustedDocuments: values.trusted,
});
try {
  const conversationId = values.conversation ?? (await client.createConversation(question.slice(0, 60)));
  const completionId = await client.startCompletion(conversationId, question, values.function);
  console.error(`conversation ${conversationId}, completion ${completionId}`);
  const resumed = (afterSeq: number) =>
    console.error(`\n[connection lost; resuming after event ${afterSeq}]`);
  for await (const event of client.events(completionId, resumed)) {
    switch (event.__typename) {
      case 'ContentDelta':
        process.stdout.write(event.text);
        break;
      case 'FunctionExecuted':
        console.error(`[${event.execution.functionName}: ${event.execution.status}]`);
        break;
      case 'CompletionDone':
        process.stdout.write('\n');
        console.error(
          `[done: ${event.finishReason}, ${event.usage.totalTokens} tokens, $${event.usage.costUsd}]`,
        );
        break;
      case 'CompletionFailed':
        console.error(`\n[failed: ${event.error.code} ${event.error.message}]`);
        process.exitCode = 1;
        break;
    }
  }
} finally {
  await client.close();
}
