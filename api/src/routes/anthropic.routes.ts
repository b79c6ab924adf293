/**
 * POST /v1/messages and POST /v1/messages/count_tokens: Anthropic's Messages API over the bridge,
 * text and images, so the official Anthropic SDKs work unchanged (baseURL http://host:3456). Same
 * routing, rendering and job path as /v1/chat/completions.
 */
import { newJobId, ZERO_USAGE, type Config, type GenerateResponse, type JobEvent } from '@cli-bridge/shared';
import { Router } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { createContentReader, present, unsupported } from '../compat/content.js';
import { estimateTokens, renderConversation, type Turn } from '../compat/conversation.js';
import { anthropicErrorBody, jobEventError, type JobEventPayload } from '../compat/errors.js';
import { compatJobInput } from '../compat/job-input.js';
import { routeModel } from '../compat/models.js';
import { createJobRunner } from '../job-runner.js';
import { jsonBody } from '../middleware/body.js';
import { requireAdmittedUserKey, requireUserKey } from '../middleware/auth.js';
import { parseBody } from '../validate.js';

/**
 * The fields read. `max_tokens`, `stop_sequences`, `metadata`, `temperature`, `top_p`, `top_k`,
 * `service_tier` and any other unknown field are accepted and ignored; tools are refused.
 */
const messagesRequestSchema = z.object({
  model: z.string({ error: 'model must be a string' }),
  max_tokens: z.number({ error: 'max_tokens must be a number' }).int().positive().optional(),
  system: z.unknown().optional(),
  messages: z
    .array(
      z.looseObject({
        role: z.enum(['user', 'assistant'], { error: 'role must be user or assistant' }),
        content: z.unknown(),
      }),
      {
        error: 'messages must be an array of messages',
      },
    )
    .min(1, 'messages must hold at least one message'),
  stream: z.boolean({ error: 'stream must be a boolean' }).optional(),
  tools: z.unknown().optional(),
  tool_choice: z.unknown().optional(),
  mcp_servers: z.unknown().optional(),
});
type MessagesRequest = z.infer<typeof messagesRequestSchema>;

function read(body: MessagesRequest, limits: Pick<Config, 'MAX_IMAGE_BYTES' | 'MAX_IMAGES'>) {
  for (const f of ['tools', 'tool_choice', 'mcp_servers'] as const)
    if (present(body[f])) throw unsupported(f, 'tools are');
  const content = createContentReader('messages', limits);
  const system = body.system === undefined ? [] : [content.text(body.system, 'system')];
  const turns: Turn[] = body.messages.map((m, i) => ({
    role: m.role,
    text: content.text(m.content, `messages[${i}].content`, m.role === 'user'),
  }));
  return { conversation: renderConversation(system, turns, 'messages'), images: content.images };
}

/** Anthropic's estimate for an image of about 1.15 megapixels (its largest unscaled size). */
const TOKENS_PER_IMAGE = 1_600;

function message(r: GenerateResponse) {
  return {
    id: `msg_${r.job_id}`,
    type: 'message' as const,
    role: 'assistant' as const,
    model: r.model,
    content: r.content.map((c) => ({ type: 'text' as const, text: c.text })),
    stop_reason: 'end_turn' as const,
    stop_sequence: null,
    usage: r.usage,
  };
}

/** The job's events as Anthropic's stream: message_start … message_stop. */
function eventRenderer(jobId: string, model: string) {
  const event = (type: string, data: Record<string, unknown>) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  return {
    prelude: () =>
      event('message_start', {
        message: {
          id: `msg_${jobId}`,
          type: 'message',
          role: 'assistant',
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: ZERO_USAGE,
        },
      }) +
      event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
      event('ping', {}),
    render: (ev: JobEvent): string => {
      const payload = JSON.parse(ev.data) as JobEventPayload;
      switch (ev.type) {
        case 'text':
          return event('content_block_delta', {
            index: 0,
            delta: { type: 'text_delta', text: payload.text ?? '' },
          });
        case 'usage':
          return (
            event('content_block_stop', { index: 0 }) +
            event('message_delta', {
              delta: { stop_reason: 'end_turn', stop_sequence: null },
              usage: payload.usage ?? ZERO_USAGE,
            }) +
            event('message_stop', {})
          );
        case 'error': {
          const body = anthropicErrorBody(jobEventError(payload.error));
          return `event: error\ndata: ${JSON.stringify(body)}\n\n`;
        }
        default:
          return '';
      }
    },
  };
}

export function anthropicRoutes(deps: AppDeps): Router {
  const { config, services } = deps;
  const r = Router();
  const runner = createJobRunner(deps);
  // count_tokens never reaches admission, so it keeps the uncached lookup (auth.ts).
  const auth = requireUserKey(services.auth);
  const body = jsonBody(config);

  r.post('/v1/messages', requireAdmittedUserKey(services.auth), body, async (req, res) => {
    const request = parseBody(messagesRequestSchema, req.body);
    const stream = request.stream === true;
    const input = compatJobInput(
      deps,
      req,
      res,
      'anthropic',
      request.model,
      () => read(request, config),
      stream,
    );
    if (!stream) {
      res.json(message(await runner.sync(input, res)));
      return;
    }
    const jobId = newJobId(input.provider);
    await runner.stream({ ...input, jobId }, res, eventRenderer(jobId, request.model));
  });

  /** An estimate, not the model's tokenizer: one token per 4 characters of the
   * rendered prompts, and TOKENS_PER_IMAGE per image. */
  r.post('/v1/messages/count_tokens', auth, body, (req, res) => {
    const request = parseBody(messagesRequestSchema, req.body);
    routeModel(request.model, config, services.pricing);
    const { conversation, images } = read(request, config);
    res.json({ input_tokens: estimateTokens(conversation) + images.length * TOKENS_PER_IMAGE });
  });
  return r;
}
