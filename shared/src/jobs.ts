/**
 * Payloads and results of generate jobs: the contract between API and worker. The worker parses
 * `job.data` with `generateJobDataSchema` (never casts it) and fails a malformed job for good.
 */
import { z } from 'zod';
import { MODEL_NAME } from './config.js';
import { isErrorType, type ErrorType } from './errors.js';
import { randomUUID } from 'node:crypto';
import { PROVIDERS, type Provider } from './providers.js';
import { imageInputSchema, outputSpecSchema } from './structured-output.js';

/** Job ids name their provider (`claude-<uuid>`), so a job is found without a lookup. */
export function newJobId(provider: Provider): string {
  return `${provider}-${randomUUID()}`;
}

const JOB_ID = /^(claude|codex)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The provider of a well-formed job id, or undefined. */
export function providerOfJobId(id: string): Provider | undefined {
  const m = JOB_ID.exec(id);
  return m ? (m[1] as Provider) : undefined;
}

/** Each prompt may hold at most this many characters (the default body limit admits both). */
export const MAX_PROMPT_CHARS = 500_000;

/** The body of `POST /generate` and `POST /generate-codex`. Unknown fields are ignored. */
export const generateRequestSchema = z.object({
  systemPrompt: z
    .string({ error: 'systemPrompt must be a string' })
    .max(MAX_PROMPT_CHARS, `systemPrompt must be at most ${MAX_PROMPT_CHARS} characters`),
  userPrompt: z
    .string({ error: 'userPrompt must be a string' })
    .min(1, 'userPrompt must not be empty')
    .max(MAX_PROMPT_CHARS, `userPrompt must be at most ${MAX_PROMPT_CHARS} characters`),
  model: z
    .string({ error: 'model must be a string' })
    .regex(MODEL_NAME, 'model is not a valid model name')
    .optional(),
  stream: z.boolean({ error: 'stream must be a boolean' }).optional(),
});
export type GenerateRequest = z.infer<typeof generateRequestSchema>;

export const generateJobDataSchema = z.object({
  /** Payload version, so a later shape can be told apart from this one. */
  v: z.literal(1),
  provider: z.enum(PROVIDERS),
  /** Name of the API key that submitted the job, as it was then (a label, for logs). */
  keyName: z.string().min(1),
  /** Immutable id of that key: the job's owner and settlement target (absent: jobs queued before ids, whose keys' ids are their names). */
  keyId: z.string().min(1).optional(),
  systemPrompt: z.string().max(MAX_PROMPT_CHARS),
  userPrompt: z.string().min(1).max(MAX_PROMPT_CHARS),
  /** Already checked against the provider's allowlist by the API. */
  model: z.string().regex(MODEL_NAME),
  stream: z.boolean(),
  requestId: z.string().optional(),
  /**
   * A sync request's waiting API process: its reply channel (`keys.replyChannel`), told of the
   * job's end as soon as it is settled (absent: async jobs, streams).
   */
  replyTo: z.string().min(1).max(200).optional(),
  /** Epoch ms at which the API accepted the request. */
  submittedAt: z.number().int(),
  /** The cost bound reserved at admission (micro-dollars; absent = none): the CLI may spend no more. */
  costBoundMicros: z.number().int().positive().optional(),
  /** Structured output (compatible routes): the answer must be JSON matching this. */
  output: outputSpecSchema.optional(),
  /** Images for the CLI to see with the user prompt (compatible routes), in order. */
  images: z.array(imageInputSchema).optional(),
});
export type GenerateJobData = z.infer<typeof generateJobDataSchema>;

/** The id of the key that owns a job (its payload read as stored, parsed or not). */
export function jobOwner(data: Pick<GenerateJobData, 'keyName' | 'keyId'>): string {
  return data.keyId ?? data.keyName;
}

const usageSchema = z.object({
  input_tokens: z.number().int().nonnegative(),
  output_tokens: z.number().int().nonnegative(),
  cache_creation_input_tokens: z.number().int().nonnegative(),
  cache_read_input_tokens: z.number().int().nonnegative(),
});
export type Usage = z.infer<typeof usageSchema>;

export const ZERO_USAGE: Usage = {
  input_tokens: 0,
  output_tokens: 0,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
};

/** What a worker returns for a completed job (BullMQ return value). */
export const generateResultSchema = z.object({
  text: z.string(),
  usage: usageSchema,
  /** Cost in integer micro-dollars (1 USD = 1,000,000). */
  cost_micros: z.number().int().nonnegative(),
  /** Wall time of the CLI run, ms. */
  duration_ms: z.number().int().nonnegative(),
  model: z.string(),
  provider: z.enum(PROVIDERS),
});
export type GenerateResult = z.infer<typeof generateResultSchema>;

/** The public response body of a synchronous generate (the original ai-cli-bridge's shape). */
export function toGenerateResponse(result: GenerateResult, jobId: string) {
  return {
    content: [{ type: 'text' as const, text: result.text }],
    usage: result.usage,
    cost_usd: microsToUsd(result.cost_micros),
    duration_ms: result.duration_ms,
    model: result.model,
    provider: result.provider,
    job_id: jobId,
  };
}
export type GenerateResponse = ReturnType<typeof toGenerateResponse>;

export function usdToMicros(usd: number): number {
  return Math.max(0, Math.round(usd * 1_000_000));
}
export function microsToUsd(micros: number): number {
  return micros / 1_000_000;
}

/** The error of a job cancelled by its client (DELETE /jobs/:id, or a disconnect). */
export const CANCELLED_ERROR = { type: 'cancelled', message: 'Cancelled by the client' } as const;

/** The error of a job whose API key was revoked before it ran: it never runs. */
export const KEY_REVOKED_ERROR = {
  type: 'cancelled',
  message: 'Cancelled: its API key was revoked',
} as const;

/**
 * A failed job's `failedReason` is `"<error type>: <message>"`, readable as it stands in any
 * queue UI, and parsed back into a typed error by the API.
 */
export function encodeFailure(type: ErrorType, message: string): string {
  return `${type}: ${message}`;
}

export function decodeFailure(reason: string | undefined): {
  type: ErrorType;
  message: string;
} {
  const m = /^([a-z_]+): ([\s\S]*)$/.exec(reason ?? '');
  if (m && isErrorType(m[1])) return { type: m[1], message: m[2] ?? '' };
  return { type: 'provider_error', message: reason || 'The job failed' };
}
