// A tiny stand-in for the Anthropic Messages API and the OpenAI Responses API, on loopback, so
// the REAL `claude` and `codex` CLIs can run in tests without network. It records every request
// (so a test can check what the CLI sent) and lets a test script each reply (text, a tool call,
// or an HTTP error). The wire formats follow what the real APIs stream and what the captured
// samples in tests/fixtures/cli-samples/ show the CLIs accept. The cold-start bench runs the real
// CLIs against it too (compiled, see tsconfig.build.json here).
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, inflateSync, brotliDecompressSync } from 'node:zlib';

export type Api = 'anthropic' | 'openai';

/**
 * Parsed JSON from a CLI or an HTTP body. Deliberately untyped (it is `any`, spelled so lint
 * rules against explicit `any` stay quiet): tests poke at the shapes of two foreign APIs.
 */
export type Json = ReturnType<typeof JSON.parse>;

export interface RecordedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON when the body is JSON, else the raw text ('' when empty). */
  body: Json;
}

/** A tool call: Anthropic `tool_use` block / OpenAI `function_call` item (input JSON-encoded). */
export interface ToolCall {
  name: string;
  input: Record<string, unknown>;
  /** OpenAI only: the tool's namespace (codex groups tools, e.g. `collaboration.spawn_agent`). */
  namespace?: string;
}

/**
 * OpenAI only: a call of a FREEFORM (`custom`) tool, e.g. codex's code-mode `exec`, whose input
 * is raw text (JavaScript source), not JSON.
 */
export interface CustomToolCall {
  name: string;
  input: string;
}

/** What the mock answers to one model call. */
export type MockReply =
  | { text: string }
  | { tool: ToolCall }
  | { custom: CustomToolCall }
  /** An HTTP error with an API-shaped JSON body. */
  | { error: { status: number; message: string; type?: string } };

export interface ScriptContext {
  api: Api;
  request: RecordedRequest;
  /** The request body (parsed JSON). */
  body: Json;
  /** 0 for the first model call of this api since start, 1 for the next, ... */
  turn: number;
  /** The tool result this request carries back, if any (see `toolResultOf`). */
  toolResult: ToolResult | undefined;
}

/** Returns the reply, or undefined to fall back to the default text reply. */
export type Script = (ctx: ScriptContext) => MockReply | undefined;

export interface ToolResult {
  /** The tool result content as text (arrays of parts are JSON-encoded, as the CLIs sent them). */
  text: string;
  /** Anthropic only: the `is_error` flag of the tool_result block. */
  isError?: boolean;
}

export interface MockModelServer {
  /** http://127.0.0.1:PORT (no trailing slash, no /v1). */
  url: string;
  /** Every request received, in order, including unknown ones. */
  requests: RecordedRequest[];
  /** Only the model calls (POST /v1/messages, POST /v1/responses). */
  modelRequests(api?: Api): RecordedRequest[];
  /** Decide replies per request; `undefined` restores the default text replies. */
  setScript(fn: Script | undefined): void;
  close(): Promise<void>;
}

export interface MockModelServerOptions {
  /** Print unknown requests to stderr (default true) so a new CLI start-up call is visible. */
  logUnknown?: boolean;
  anthropicText?: string;
  openaiText?: string;
}

export const DEFAULT_ANTHROPIC_TEXT = 'Hello from mock-anthropic.';
export const DEFAULT_OPENAI_TEXT = 'Hello from mock-openai.';
// Token counts as in the captured samples (claude-json.json, codex-json.jsonl).
const ANTHROPIC_USAGE = { input_tokens: 11, output_tokens: 7 };
const OPENAI_USAGE = { input_tokens: 13, output_tokens: 5 };

/**
 * Extract the tool result a follow-up request carries: the last `tool_result` block (Anthropic)
 * or the last `function_call_output` / `custom_tool_call_output` item (OpenAI).
 */
export function toolResultOf(api: Api, body: Json): ToolResult | undefined {
  if (api === 'anthropic') {
    const last = body?.messages?.at?.(-1);
    if (last?.role !== 'user' || !Array.isArray(last.content)) return undefined;
    const block = last.content.findLast?.((b: Json) => b?.type === 'tool_result');
    if (!block) return undefined;
    const text =
      typeof block.content === 'string'
        ? block.content
        : (block.content ?? []).map((p: Json) => p?.text ?? JSON.stringify(p)).join('');
    return { text, isError: block.is_error === true };
  }
  const items: Json[] = Array.isArray(body?.input) ? body.input : [];
  const item = items.findLast((i) => /_call_output$/.test(i?.type ?? ''));
  if (!item) return undefined;
  const out = item.output;
  return { text: typeof out === 'string' ? out : JSON.stringify(out) };
}

/**
 * A ready-made two-turn script: the first model call asks for `tool`, the next one (which carries
 * the tool result) answers "TOOL_RESULT is_error=<flag>: <result>" (Anthropic) or
 * "TOOL_RESULT: <result>" (OpenAI), like the captured samples, so the CLI's final output shows
 * what the tool run (or its refusal) produced.
 */
export function toolCallThenEcho(calls: Partial<Record<Api, ToolCall>>): Script {
  return ({ api, toolResult }) => {
    if (toolResult) {
      const flag = api === 'anthropic' ? ` is_error=${toolResult.isError === true}` : '';
      return { text: `TOOL_RESULT${flag}: ${toolResult.text}` };
    }
    const call = calls[api];
    return call && { tool: call };
  };
}

export async function startMockModelServer(opts: MockModelServerOptions = {}): Promise<MockModelServer> {
  const logUnknown = opts.logUnknown ?? true;
  const requests: RecordedRequest[] = [];
  const turns: Record<Api, number> = { anthropic: 0, openai: 0 };
  let script: Script | undefined;

  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      process.stderr.write(`[mock-model-server] handler error: ${String(err)}\n`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = decode(Buffer.concat(await collect(req)), req.headers['content-encoding']);
    let body: Json = raw;
    try {
      body = raw ? JSON.parse(raw) : '';
    } catch {
      /* keep the text */
    }
    const rec: RecordedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body,
    };
    requests.push(rec);
    const path = rec.url.split('?')[0];
    const api = apiOf(rec);
    if (api) {
      const ctx: ScriptContext = {
        api,
        request: rec,
        body,
        turn: turns[api]++,
        toolResult: toolResultOf(api, body),
      };
      const reply = script?.(ctx) ?? {
        text:
          api === 'anthropic'
            ? (opts.anthropicText ?? DEFAULT_ANTHROPIC_TEXT)
            : (opts.openaiText ?? DEFAULT_OPENAI_TEXT),
      };
      if ('error' in reply) return sendError(res, api, reply.error);
      if (api === 'anthropic')
        return body?.stream ? anthropicStream(res, body, reply) : anthropicJson(res, body, reply);
      return openaiStream(res, body, reply);
    }

    // claude (a Bun binary) sends `HEAD /` to warm up the connection before its first call.
    if (req.method === 'HEAD' && path === '/') {
      res.writeHead(200).end();
      return;
    }
    // Anything else gets a harmless answer, and is logged so a new start-up call shows up.
    if (logUnknown) process.stderr.write(`[mock-model-server] unhandled ${rec.method} ${rec.url}\n`);
    if (req.method === 'POST' && path === '/v1/messages/count_tokens')
      return json(res, 200, { input_tokens: 11 });
    if (req.method === 'GET' && path === '/v1/models')
      return json(res, 200, { object: 'list', data: [], models: [] });
    json(res, 404, {
      type: 'error',
      error: { type: 'not_found_error', message: `mock: no route ${path}` },
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    modelRequests: (api) => requests.filter((r) => (api ? apiOf(r) === api : apiOf(r) !== undefined)),
    setScript: (fn) => {
      script = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections(); // keep-alive sockets would otherwise hold close() open
        server.close(() => resolve());
      }),
  };
}

// ---- Anthropic Messages API ------------------------------------------------------------------

function anthropicContent(reply: MockReply): Json {
  if ('tool' in reply)
    return { type: 'tool_use', id: id('toolu_'), name: reply.tool.name, input: reply.tool.input };
  if ('text' in reply) return { type: 'text', text: reply.text };
  throw new Error('the Anthropic mock has no freeform tool calls');
}

function anthropicJson(res: ServerResponse, body: Json, reply: MockReply): void {
  const block = anthropicContent(reply);
  json(res, 200, {
    id: id('msg_'),
    type: 'message',
    role: 'assistant',
    model: body?.model ?? 'mock',
    content: [block],
    stop_reason: block.type === 'tool_use' ? 'tool_use' : 'end_turn',
    stop_sequence: null,
    usage: { ...ANTHROPIC_USAGE, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
  });
}

function anthropicStream(res: ServerResponse, body: Json, reply: MockReply): void {
  const block = anthropicContent(reply);
  const sse = startSse(res, { 'request-id': id('req_') });
  const usage = {
    input_tokens: ANTHROPIC_USAGE.input_tokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  };
  sse('message_start', {
    type: 'message_start',
    message: {
      id: id('msg_'),
      type: 'message',
      role: 'assistant',
      model: body?.model ?? 'mock',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...usage, output_tokens: 1 },
    },
  });
  if (block.type === 'text') {
    sse('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'text', text: '' },
    });
    // Two deltas, so tests can see partial messages arrive in pieces.
    for (const piece of split(block.text)) {
      sse('content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: piece },
      });
    }
  } else {
    sse('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
    });
    sse('content_block_delta', {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) },
    });
  }
  sse('content_block_stop', { type: 'content_block_stop', index: 0 });
  sse('message_delta', {
    type: 'message_delta',
    delta: {
      stop_reason: block.type === 'tool_use' ? 'tool_use' : 'end_turn',
      stop_sequence: null,
    },
    usage: { ...usage, output_tokens: ANTHROPIC_USAGE.output_tokens },
  });
  sse('message_stop', { type: 'message_stop' });
  res.end();
}

// ---- OpenAI Responses API --------------------------------------------------------------------

function openaiStream(res: ServerResponse, body: Json, reply: MockReply): void {
  const sse = startSse(res, { 'x-request-id': id('req_') });
  const respId = id('resp_');
  const base = {
    id: respId,
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    model: body?.model ?? 'mock',
  };
  let seq = 0;
  const send = (type: string, data: object) => sse(type, { type, sequence_number: seq++, ...data });

  send('response.created', { response: { ...base, status: 'in_progress', output: [] } });
  let item: Json;
  if ('tool' in reply) {
    item = {
      type: 'function_call',
      id: id('fc_'),
      call_id: id('call_'),
      name: reply.tool.name,
      ...(reply.tool.namespace ? { namespace: reply.tool.namespace } : {}),
      arguments: JSON.stringify(reply.tool.input),
      status: 'completed',
    };
    send('response.output_item.added', {
      output_index: 0,
      item: { ...item, arguments: '', status: 'in_progress' },
    });
    send('response.function_call_arguments.delta', {
      item_id: item.id,
      output_index: 0,
      delta: item.arguments,
    });
    send('response.function_call_arguments.done', {
      item_id: item.id,
      output_index: 0,
      arguments: item.arguments,
    });
  } else if ('custom' in reply) {
    item = {
      type: 'custom_tool_call',
      id: id('ctc_'),
      call_id: id('call_'),
      name: reply.custom.name,
      input: reply.custom.input,
      status: 'completed',
    };
    send('response.output_item.added', {
      output_index: 0,
      item: { ...item, input: '', status: 'in_progress' },
    });
    send('response.custom_tool_call_input.delta', {
      item_id: item.id,
      output_index: 0,
      delta: item.input,
    });
    send('response.custom_tool_call_input.done', {
      item_id: item.id,
      output_index: 0,
      input: item.input,
    });
  } else if ('text' in reply) {
    item = {
      type: 'message',
      id: id('msg_'),
      role: 'assistant',
      status: 'completed',
      content: [] as Json[],
    };
    send('response.output_item.added', {
      output_index: 0,
      item: { ...item, status: 'in_progress' },
    });
    const part = { type: 'output_text', text: reply.text, annotations: [] };
    send('response.content_part.added', {
      item_id: item.id,
      output_index: 0,
      content_index: 0,
      part: { ...part, text: '' },
    });
    for (const delta of split(reply.text)) {
      send('response.output_text.delta', {
        item_id: item.id,
        output_index: 0,
        content_index: 0,
        delta,
      });
    }
    send('response.output_text.done', {
      item_id: item.id,
      output_index: 0,
      content_index: 0,
      text: reply.text,
    });
    send('response.content_part.done', {
      item_id: item.id,
      output_index: 0,
      content_index: 0,
      part,
    });
    item.content = [part];
  }
  send('response.output_item.done', { output_index: 0, item });
  send('response.completed', {
    response: {
      ...base,
      status: 'completed',
      output: [item],
      usage: {
        input_tokens: OPENAI_USAGE.input_tokens,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: OPENAI_USAGE.output_tokens,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: OPENAI_USAGE.input_tokens + OPENAI_USAGE.output_tokens,
      },
    },
  });
  res.end();
}

// ---- plumbing --------------------------------------------------------------------------------

/** Which API a request is a model call of, if any (the query string, e.g. ?beta=true, is ignored). */
function apiOf(r: RecordedRequest): Api | undefined {
  if (r.method !== 'POST') return undefined;
  const path = r.url.split('?')[0];
  return path === '/v1/messages' ? 'anthropic' : path === '/v1/responses' ? 'openai' : undefined;
}

function sendError(
  res: ServerResponse,
  api: Api,
  e: { status: number; message: string; type?: string },
): void {
  const type =
    e.type ??
    (e.status === 429 ? 'rate_limit_error' : e.status === 401 ? 'authentication_error' : 'api_error');
  json(
    res,
    e.status,
    api === 'anthropic'
      ? { type: 'error', error: { type, message: e.message } }
      : { error: { type, message: e.message, code: null, param: null } },
  );
}

function startSse(res: ServerResponse, extraHeaders: Record<string, string>) {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    ...extraHeaders,
  });
  return (event: string, data: object) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

function json(res: ServerResponse, status: number, data: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(data));
}

async function collect(req: IncomingMessage): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return chunks;
}

// Clients may compress request bodies; Node 20's zlib has no zstd, so such a body stays opaque.
function decode(buf: Buffer, encoding: string | string[] | undefined): string {
  try {
    if (encoding === 'gzip') return gunzipSync(buf).toString('utf8');
    if (encoding === 'deflate') return inflateSync(buf).toString('utf8');
    if (encoding === 'br') return brotliDecompressSync(buf).toString('utf8');
  } catch {
    /* fall through to raw */
  }
  if (encoding && encoding !== 'identity') {
    process.stderr.write(`[mock-model-server] cannot decode content-encoding ${String(encoding)}\n`);
  }
  return buf.toString('utf8');
}

function split(text: string): string[] {
  const mid = Math.ceil(text.length / 2);
  return text.length > 1 ? [text.slice(0, mid), text.slice(mid)] : [text];
}

function id(prefix: string): string {
  return prefix + randomBytes(12).toString('hex');
}
