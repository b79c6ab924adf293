/**
 * POST /v1/chat/completions: OpenAI's Chat Completions API over the bridge (text, images,
 * structured output), so the official OpenAI SDKs work unchanged (baseURL http://host:3456/v1). The model name picks the
 * provider (compat/models.ts); the conversation is rendered into one CLI run
 * (compat/conversation.ts); the job runs through the same path as /generate (job-runner.ts).
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
 * The fields read. Sampling and bookkeeping fields (temperature, top_p, max_tokens,
 * max_completion_tokens, stop, user, metadata, seed, presence_penalty, frequency_penalty,
 * logit_bias, store, service_tier, reasoning_effort, parallel_tool_calls, ...) are accepted and
 * ignored, as is any other unknown field; those that ask for what a CLI run with no tools cannot
 * give (tools, several choices, audio, logprobs) are refused below.
 */
const chatRequestSchema = z.object({
  model: z.string({ error: 'model must be a string' }),
  messages: z
    .array(
      z.looseObject({
        role: z.string({ error: 'role must be a string' }),
        content: z.unknown(),
        tool_calls: z.unknown().optional(),
        function_call: z.unknown().optional(),
      }),
      { error: 'messages must be an array of messages' },
    )
    .min(1, 'messages must hold at least one message'),
  stream: z.boolean({ error: 'stream must be a boolean' }).nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  n: z.number({ error: 'n must be a number' }).int().nullish(),
  tools: z.unknown().optional(),
  functions: z.unknown().optional(),
  tool_choice: z.unknown().optional(),
  function_call: z.unknown().optional(),
  response_format: z.unknown().optional(),
  audio: z.unknown().optional(),
  modalities: z.unknown().optional(),
  logprobs: z.boolean().nullish(),
});
type ChatRequest = z.infer<typeof chatRequestSchema>;

function refuseUnsupported(req: ChatRequest): void {
  if (req.n !== undefined && req.n !== null && req.n !== 1) {
    throw new BridgeError('invalid_request', 'n: only one choice (n = 1) is supported', {
      details: { param: 'n' },
    });
  }
  for (const f of ['tools', 'functions'] as const) if (present(req[f])) throw unsupported(f, 'tools are');
  for (const f of ['tool_choice', 'function_call'] as const)
    if (present(req[f]) && req[f] !== 'none') throw unsupported(f, 'tools are');
  if (present(req.audio)) throw unsupported('audio', 'audio output is');
  if (Array.isArray(req.modalities) && req.modalities.some((m) => m !== 'text'))
    throw unsupported('modalities', 'modalities other than text are');
  if (req.logprobs === true) throw unsupported('logprobs', 'logprobs are');
}

/** OpenAI messages → the system prompt's parts and the turns. */
function readMessages(
  messages: ChatRequest['messages'],
  content: ContentReader,
): { system: string[]; turns: Turn[] } {
  const system: string[] = [];
  const turns: Turn[] = [];
  messages.forEach((m, i) => {
    const param = `messages[${i}]`;
    const text = content.text(m.content, `${param}.content`, m.role === 'user');
    if (m.role === 'system' || m.role === 'developer') system.push(text);
    else if (m.role === 'user' || m.role === 'assistant') {
      if (present(m.tool_calls) || present(m.function_call))
        throw unsupported(`${param}.tool_calls`, 'tool calls are');
      turns.push({ role: m.role, text });
    } else if (m.role === 'tool' || m.role === 'function')
      throw unsupported(`${param}.role`, 'tool messages are');
    else
      throw new BridgeError('invalid_request', `${param}.role must be system, developer, user or assistant`, {
        details: { param: `${param}.role` },
      });
  });
  return { system, turns };
}

export function openaiUsage(u: Usage) {
  const prompt = u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens;
  return {
    prompt_tokens: prompt,
    completion_tokens: u.output_tokens,
    total_tokens: prompt + u.output_tokens,
    prompt_tokens_details: { cached_tokens: u.cache_read_input_tokens, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
  };
}

function completion(r: GenerateResponse, created: number) {
  return {
    id: `chatcmpl-${r.job_id}`,
    object: 'chat.completion' as const,
    created,
    model: r.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant' as const,
          content: r.content.map((c) => c.text).join(''),
          refusal: null,
        },
        logprobs: null,
        finish_reason: 'stop' as const,
      },
    ],
    usage: openaiUsage(r.usage),
    system_fingerprint: null,
  };
}

/** The job's events as `chat.completion.chunk`s, then `data: [DONE]`. */
function chunkRenderer(jobId: string, model: string, created: number, includeUsage: boolean) {
  const base = {
    id: `chatcmpl-${jobId}`,
    object: 'chat.completion.chunk',
    created,
    model,
    system_fingerprint: null,
  };
  const data = (v: unknown) => `data: ${JSON.stringify(v)}\n\n`;
  const choice = (delta: Record<string, unknown>, finish: 'stop' | null) => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  return {
    prelude: () => data(choice({ role: 'assistant', content: '' }, null)),
    render: (ev: JobEvent): string => {
      const payload = JSON.parse(ev.data) as JobEventPayload;
      switch (ev.type) {
        case 'text':
          return data(choice({ content: payload.text ?? '' }, null));
        case 'usage':
          return (
            data(choice({}, 'stop')) +
            (includeUsage
              ? data({ ...base, choices: [], usage: openaiUsage(payload.usage ?? ZERO_USAGE) })
              : '')
          );
        case 'error': {
          return data(openaiErrorBody(jobEventError(payload.error, { job_id: jobId })));
        }
        case 'done':
          return 'data: [DONE]\n\n';
        default:
          return '';
      }
    },
  };
}

export function openaiRoutes(deps: AppDeps): Router {
  const { config, services } = deps;
  const r = Router();
  const runner = createJobRunner(deps);

  r.post(
    '/v1/chat/completions',
    requireAdmittedUserKey(services.auth),
    jsonBody(config),
    async (req, res) => {
      const body = parseBody(chatRequestSchema, req.body);
      refuseUnsupported(body);
      const stream = body.stream === true;
      const input = compatJobInput(
        deps,
        req,
        res,
        'openai',
        body.model,
        () => {
          const content = createContentReader('chat', config);
          const { system, turns } = readMessages(body.messages, content);
          return {
            conversation: renderConversation(system, turns, 'messages'),
            images: content.images,
            output: readOutputFormat(body.response_format, 'response_format', 'json_schema'),
          };
        },
        stream,
      );
      const created = Math.floor(Date.now() / 1000);
      if (!stream) {
        res.json(completion(await runner.sync(input, res), created));
        return;
      }
      const jobId = newJobId(input.provider);
      const chunks = chunkRenderer(jobId, body.model, created, body.stream_options?.include_usage === true);
      await runner.stream({ ...input, jobId }, res, chunks);
    },
  );
  return r;
}
