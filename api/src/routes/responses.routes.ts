/**
 * POST /v1/responses: OpenAI's Responses API over the bridge, stateless (text, images,
 * structured output), so current
 * OpenAI SDKs (`responses.create`, `responses.stream`) and Codex-style clients work unchanged.
 * Same model routing (compat/models.ts), conversation rendering (compat/conversation.ts), error
 * bodies (compat/errors.ts) and job path (job-runner.ts) as /v1/chat/completions.
 *
 * The bridge keeps no conversation state: `store: true`, `previous_response_id`, `conversation`
 * and `background: true` are refused, as are tools and audio or file input.
 */
import {
  BridgeError,
  newJobId,
  ZERO_USAGE,
  type GenerateResponse,
  type JobEvent,
  type Usage,
} from '@cli-bridge/shared';
import { Router } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { createContentReader, present, unsupported, type ContentReader } from '../compat/content.js';
import { readOutputFormat } from '../compat/output-format.js';
import { renderConversation, type Turn } from '../compat/conversation.js';
import { jobEventError, openaiErrorBody, type JobEventPayload } from '../compat/errors.js';
import { compatJobInput } from '../compat/job-input.js';
import { createJobRunner } from '../job-runner.js';
import { jsonBody } from '../middleware/body.js';
import { requireAdmittedUserKey } from '../middleware/auth.js';
import { parseBody } from '../validate.js';

/**
 * The fields read. `max_output_tokens`, `temperature`, `top_p`, `metadata`, `user`, `include`,
 * `reasoning`, `truncation`, `service_tier`, `parallel_tool_calls`, `prompt_cache_key`,
 * `safety_identifier`, `store: false` and any other unknown field are accepted and ignored.
 */
const responsesRequestSchema = z.object({
  model: z.string({ error: 'model must be a string' }),
  instructions: z.string({ error: 'instructions must be a string' }).nullish(),
  input: z.union([z.string(), z.array(z.unknown())], {
    error: 'input must be a string or an array of input items',
  }),
  stream: z.boolean({ error: 'stream must be a boolean' }).nullish(),
  store: z.boolean({ error: 'store must be a boolean' }).nullish(),
  previous_response_id: z.unknown().optional(),
  conversation: z.unknown().optional(),
  background: z.boolean({ error: 'background must be a boolean' }).nullish(),
  prompt: z.unknown().optional(),
  tools: z.unknown().optional(),
  tool_choice: z.unknown().optional(),
  text: z.looseObject({ format: z.unknown().optional() }).nullish(),
  metadata: z.unknown().optional(),
});
type ResponsesRequest = z.infer<typeof responsesRequestSchema>;

function refuseUnsupported(req: ResponsesRequest): void {
  const stateless = (param: string, what: string) =>
    new BridgeError(
      'invalid_request',
      `${param}: ${what} not supported: this bridge keeps no conversation state; send the whole conversation in input`,
      { details: { param } },
    );
  if (req.store === true) throw stateless('store', 'stored responses are');
  if (present(req.previous_response_id)) throw stateless('previous_response_id', 'previous responses are');
  if (present(req.conversation)) throw stateless('conversation', 'conversations are');
  if (req.background === true) throw stateless('background', 'background responses are');
  if (present(req.prompt)) throw unsupported('prompt', 'stored prompt templates are');
  if (present(req.tools)) throw unsupported('tools', 'tools are');
  if (present(req.tool_choice) && req.tool_choice !== 'none' && req.tool_choice !== 'auto')
    throw unsupported('tool_choice', 'tools are');
}

/** `instructions` and `input` → the system prompt's parts and the turns. */
function readInput(req: ResponsesRequest, content: ContentReader): { system: string[]; turns: Turn[] } {
  const system = req.instructions ? [req.instructions] : [];
  if (typeof req.input === 'string') return { system, turns: [{ role: 'user', text: req.input }] };
  const turns: Turn[] = [];
  req.input.forEach((item: unknown, i) => {
    const param = `input[${i}]`;
    const m = item as { type?: unknown; role?: unknown; content?: unknown } | null;
    if (typeof m !== 'object' || m === null) {
      throw new BridgeError('invalid_request', `${param} must be an input item`, { details: { param } });
    }
    if (m.type !== undefined && m.type !== 'message') {
      throw unsupported(
        `${param}.type`,
        `input items of type "${typeof m.type === 'string' ? m.type : '?'}" are`,
      );
    }
    const text = content.text(m.content, `${param}.content`, m.role === 'user');
    if (m.role === 'system' || m.role === 'developer') system.push(text);
    else if (m.role === 'user' || m.role === 'assistant') turns.push({ role: m.role, text });
    else
      throw new BridgeError('invalid_request', `${param}.role must be system, developer, user or assistant`, {
        details: { param: `${param}.role` },
      });
  });
  return { system, turns };
}

export function responsesUsage(u: Usage) {
  const input = u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: u.cache_read_input_tokens },
    output_tokens: u.output_tokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: input + u.output_tokens,
  };
}

/** `metadata` is not kept, only echoed back (as OpenAI does) when it is an object of strings. */
function echoedMetadata(m: unknown): Record<string, string> {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return {};
  const entries = Object.entries(m);
  return entries.every(([, v]) => typeof v === 'string')
    ? (Object.fromEntries(entries) as Record<string, string>)
    : {};
}

type Status = 'in_progress' | 'completed' | 'failed';

/** The `response` object: its fixed fields, and the state of one run. */
function responseObject(
  jobId: string,
  model: string,
  created: number,
  req: ResponsesRequest,
  state: {
    status: Status;
    text?: string;
    usage?: Usage;
    error?: { code: string; message: string };
  },
) {
  const text = state.text ?? '';
  const done = state.status === 'completed';
  return {
    id: `resp_${jobId}`,
    object: 'response' as const,
    created_at: created,
    status: state.status,
    ...(done ? { completed_at: Math.floor(Date.now() / 1000) } : {}),
    background: false,
    error: state.error ?? null,
    incomplete_details: null,
    instructions: req.instructions ?? null,
    max_output_tokens: null,
    model,
    output: done ? [messageItem(jobId, 'completed', text)] : [],
    output_text: done ? text : '',
    parallel_tool_calls: false,
    previous_response_id: null,
    reasoning: null,
    store: false,
    temperature: null,
    text: { format: req.text?.format ?? { type: 'text' as const } },
    tool_choice: 'none' as const,
    tools: [],
    top_p: null,
    truncation: 'disabled' as const,
    usage: state.usage ? responsesUsage(state.usage) : null,
    metadata: echoedMetadata(req.metadata),
  };
}

function messageItem(jobId: string, status: 'in_progress' | 'completed', text: string | undefined) {
  return {
    type: 'message' as const,
    id: `msg_${jobId}`,
    status,
    role: 'assistant' as const,
    content: text === undefined ? [] : [outputText(text)],
  };
}

const outputText = (text: string) => ({ type: 'output_text' as const, text, annotations: [] });

function fromResult(r: GenerateResponse, created: number, req: ResponsesRequest) {
  return responseObject(r.job_id, r.model, created, req, {
    status: 'completed',
    text: r.content.map((c) => c.text).join(''),
    usage: r.usage,
  });
}

/**
 * The job's events as the Responses stream: `response.created`, `response.in_progress`,
 * `response.output_item.added`, `response.content_part.added`, one `response.output_text.delta`
 * per text event, then `response.output_text.done`, `response.content_part.done`,
 * `response.output_item.done` and `response.completed` (with usage); a failed job ends with
 * `response.failed`. Every event has its `sequence_number`.
 */
function eventRenderer(jobId: string, model: string, created: number, req: ResponsesRequest) {
  let seq = 0;
  let text = '';
  const event = (type: string, data: Record<string, unknown>) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`;
  const at = { item_id: `msg_${jobId}`, output_index: 0, content_index: 0 };
  const response = (state: Parameters<typeof responseObject>[4]) =>
    responseObject(jobId, model, created, req, state);
  return {
    prelude: () =>
      event('response.created', { response: response({ status: 'in_progress' }) }) +
      event('response.in_progress', { response: response({ status: 'in_progress' }) }) +
      event('response.output_item.added', {
        output_index: 0,
        item: messageItem(jobId, 'in_progress', undefined),
      }) +
      event('response.content_part.added', { ...at, part: outputText('') }),
    render: (ev: JobEvent): string => {
      const payload = JSON.parse(ev.data) as JobEventPayload;
      switch (ev.type) {
        case 'text':
          text += payload.text ?? '';
          return event('response.output_text.delta', { ...at, delta: payload.text ?? '', logprobs: [] });
        case 'usage':
          return (
            event('response.output_text.done', { ...at, text, logprobs: [] }) +
            event('response.content_part.done', { ...at, part: outputText(text) }) +
            event('response.output_item.done', {
              output_index: 0,
              item: messageItem(jobId, 'completed', text),
            }) +
            event('response.completed', {
              response: response({ status: 'completed', text, usage: payload.usage ?? ZERO_USAGE }),
            })
          );
        case 'error': {
          const { error } = openaiErrorBody(jobEventError(payload.error, { job_id: jobId }));
          return event('response.failed', {
            response: response({ status: 'failed', error: { code: error.code, message: error.message } }),
          });
        }
        default:
          return '';
      }
    },
  };
}

export function responsesRoutes(deps: AppDeps): Router {
  const { config, services } = deps;
  const r = Router();
  const runner = createJobRunner(deps);

  r.post('/v1/responses', requireAdmittedUserKey(services.auth), jsonBody(config), async (req, res) => {
    const body = parseBody(responsesRequestSchema, req.body);
    refuseUnsupported(body);
    const stream = body.stream === true;
    const input = compatJobInput(
      deps,
      req,
      res,
      'openai',
      body.model,
      () => {
        const content = createContentReader('responses', config);
        const { system, turns } = readInput(body, content);
        return {
          conversation: renderConversation(system, turns, 'input'),
          images: content.images,
          output: readOutputFormat(body.text?.format, 'text.format', 'self'),
        };
      },
      stream,
    );
    const created = Math.floor(Date.now() / 1000);
    if (!stream) {
      res.json(fromResult(await runner.sync(input, res), created, body));
      return;
    }
    const jobId = newJobId(input.provider);
    await runner.stream({ ...input, jobId }, res, eventRenderer(jobId, body.model, created, body));
  });
  return r;
}
