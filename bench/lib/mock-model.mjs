// A minimal loopback stand-in for the Anthropic Messages API and the OpenAI Responses API, so the
// real `claude` and `codex` CLIs can run offline in the cold-start bench. A small port of
// tests/helpers/mock-model-server.ts (TypeScript, not importable from .mjs without a loader):
// text replies only, no scripting. It answers at once, so timings are the CLIs' own.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

const id = (prefix) => prefix + randomBytes(12).toString('hex');
const USAGE_ANTHROPIC = { input_tokens: 11, output_tokens: 7 };
const USAGE_OPENAI = { input_tokens: 13, output_tokens: 5 };

/** @returns {Promise<{url: string, counts: Record<string, number>, close(): Promise<void>}>} */
export async function startMockModel({
  anthropicText = 'Hello from mock-anthropic.',
  openaiText = 'Hello from mock-openai.',
} = {}) {
  const counts = { anthropic: 0, openai: 0, other: 0 };
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    let body = {};
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    } catch {
      // compressed or not JSON: the reply does not depend on it
    }
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'POST' && path === '/v1/messages') {
      counts.anthropic++;
      return body.stream
        ? anthropicStream(res, body, anthropicText)
        : anthropicJson(res, body, anthropicText);
    }
    if (req.method === 'POST' && path === '/v1/responses') {
      counts.openai++;
      return openaiStream(res, body, openaiText);
    }
    counts.other++;
    if (req.method === 'HEAD') return res.writeHead(200).end(); // claude warms its connection up
    if (path === '/v1/messages/count_tokens') return json(res, 200, { input_tokens: 11 });
    if (path === '/v1/models') return json(res, 200, { object: 'list', data: [], models: [] });
    json(res, 404, { type: 'error', error: { type: 'not_found_error', message: `mock: no route ${path}` } });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    counts,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function json(res, status, data) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(data));
}

function sse(res) {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    'request-id': id('req_'),
  });
  return (event, data) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

function anthropicJson(res, body, text) {
  json(res, 200, {
    id: id('msg_'),
    type: 'message',
    role: 'assistant',
    model: body.model ?? 'mock',
    content: [{ type: 'text', text }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { ...USAGE_ANTHROPIC, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
  });
}

function anthropicStream(res, body, text) {
  const send = sse(res);
  const usage = {
    input_tokens: USAGE_ANTHROPIC.input_tokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  };
  send('message_start', {
    type: 'message_start',
    message: {
      id: id('msg_'),
      type: 'message',
      role: 'assistant',
      model: body.model ?? 'mock',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...usage, output_tokens: 1 },
    },
  });
  send('content_block_start', {
    type: 'content_block_start',
    index: 0,
    content_block: { type: 'text', text: '' },
  });
  send('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } });
  send('content_block_stop', { type: 'content_block_stop', index: 0 });
  send('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: 'end_turn', stop_sequence: null },
    usage: { ...usage, output_tokens: USAGE_ANTHROPIC.output_tokens },
  });
  send('message_stop', { type: 'message_stop' });
  res.end();
}

function openaiStream(res, body, text) {
  const emit = sse(res);
  const base = {
    id: id('resp_'),
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    model: body.model ?? 'mock',
  };
  let seq = 0;
  const send = (type, data) => emit(type, { type, sequence_number: seq++, ...data });
  const item = { type: 'message', id: id('msg_'), role: 'assistant', status: 'completed', content: [] };
  const part = { type: 'output_text', text, annotations: [] };
  const at = { item_id: item.id, output_index: 0, content_index: 0 };
  send('response.created', { response: { ...base, status: 'in_progress', output: [] } });
  send('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress' } });
  send('response.content_part.added', { ...at, part: { ...part, text: '' } });
  send('response.output_text.delta', { ...at, delta: text });
  send('response.output_text.done', { ...at, text });
  send('response.content_part.done', { ...at, part });
  item.content = [part];
  send('response.output_item.done', { output_index: 0, item });
  send('response.completed', {
    response: {
      ...base,
      status: 'completed',
      output: [item],
      usage: {
        input_tokens: USAGE_OPENAI.input_tokens,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: USAGE_OPENAI.output_tokens,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: USAGE_OPENAI.input_tokens + USAGE_OPENAI.output_tokens,
      },
    },
  });
  res.end();
}
