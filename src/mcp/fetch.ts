import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';

/**
 * The fetch an MCP client transport uses, with the webhook rules: no redirects (an allowed host cannot send the
 * session elsewhere), and no response body over `maxBytes`, so a server cannot fill memory with one answer.
 * `onStreamEnd` hears when the body of a GET (the server's event stream, which carries `list_changed`) ends or
 * breaks: the session is then lost, as it is when the server restarts.
 */
export function guardedFetch(maxBytes: number, onStreamEnd: () => void): FetchLike {
  return async (url, init) => {
    const response = await fetch(url, { ...init, redirect: 'error' });
    if (!response.body) return response;
    const eventStream = (init?.method ?? 'GET') === 'GET' && response.ok;
    const body = bounded(response.body, maxBytes, eventStream ? onStreamEnd : () => {});
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

function bounded(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
  onEnd: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let size = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          return onEnd();
        }
        size += value.byteLength;
        if (size > maxBytes) throw new Error(`the MCP server sent a response over ${maxBytes} bytes`);
        controller.enqueue(value);
      } catch (error) {
        controller.error(error);
        await reader.cancel().catch(() => {});
        onEnd();
      }
    },
    cancel: (reason) => {
      onEnd();
      return reader.cancel(reason);
    },
  });
}
