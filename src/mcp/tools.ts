import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { AppError, ErrorCode } from '../errors.js';
import {
  type ArgumentValidator,
  FUNCTION_NAME,
  type McpToolDefinition,
  unstorableJson,
} from '../functions/index.js';

/** Server names never contain `__` nor end in `_`, so `<server>__<tool>` always splits at its first `__`. */
export const MCP_SERVER_NAME = /^(?=.{1,32}$)[a-zA-Z0-9]+(?:[-_][a-zA-Z0-9]+)*$/;
const MAX_DESCRIPTION = 1024;
/** Functions taken from one server: each is a row, and all are offered to MCP clients of /mcp. */
const MAX_TOOLS = 256;
const MAX_ERROR_CHARS = 2000;

/** How this platform names itself to MCP servers and clients. */
export const IMPLEMENTATION = { name: 'agent-platform', version: '0.1.0' };

export const functionName = (server: string, tool: string) => `${server}__${tool}`;

/** The registry's definitions for a server's tools; a tool the registry cannot offer is left out, with why. */
export function toolDefinitions(
  server: string,
  tools: readonly Tool[],
  validator: ArgumentValidator,
): { definitions: McpToolDefinition[]; skipped: { tool: string; reason: string }[] } {
  const definitions: McpToolDefinition[] = [];
  const skipped: { tool: string; reason: string }[] = [];
  for (const tool of tools) {
    const name = functionName(server, tool.name);
    const problem = !FUNCTION_NAME.test(name)
      ? `the function name ${name} does not match ${FUNCTION_NAME.source}`
      : definitions.length >= MAX_TOOLS
        ? `more than ${MAX_TOOLS} tools`
        : unstorableJson(JSON.stringify(tool))
          ? 'holds a NUL or an unpaired surrogate, which cannot be stored'
          : validator.schemaProblem(tool.inputSchema);
    if (problem) {
      skipped.push({ tool: tool.name, reason: problem });
      continue;
    }
    const description = (tool.description ?? tool.title ?? tool.name).slice(0, MAX_DESCRIPTION);
    definitions.push({ name, description, parameters: tool.inputSchema, mcpTool: tool.name });
  }
  return { definitions, skipped };
}

/**
 * A `tools/call` result as the registry's result: the structured content when the server gives it, else the
 * text of the content. `isError` is a failure, with the text as its error.
 */
export function resultValue(server: string, result: CallToolResult): unknown {
  const text = result.content.map(contentText).join('\n');
  if (result.isError)
    throw new AppError(
      ErrorCode.FUNCTION_FAILED,
      `${server}: ${text.slice(0, MAX_ERROR_CHARS) || 'the tool failed'}`,
    );
  return result.structuredContent ?? text;
}

function contentText(block: CallToolResult['content'][number]): string {
  if (block.type === 'text') return block.text;
  if (block.type === 'resource' && 'text' in block.resource) return block.resource.text;
  if (block.type === 'resource_link') return block.uri;
  return `[${block.type} content (${'mimeType' in block ? block.mimeType : 'unknown type'}) left out]`;
}
