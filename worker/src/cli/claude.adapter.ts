/**
 * Claude Code as an answering model: print mode, no tools, no settings or MCP servers from disk,
 * no transcript. The user prompt goes on stdin (a stream-json user message), the system prompt in
 * a 0600 file.
 *
 * Structured output: `--json-schema` (the CLI offers the model one internal tool whose input is
 * the answer, and reports it as `structured_output`). Images: image blocks of the same stream-json
 * user message, after its text.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  nextMonthStart,
  usdToMicros,
  ZERO_USAGE,
  schemaOf,
  type GenerateJobData,
  type GenerateResult,
  type Usage,
} from '@cli-bridge/shared';
import type { CliAdapter, JobDirs } from './adapter.js';
import { CliFailure, runFailure, stderrTail } from './cli-failure.js';
import { isExtraUsageExhausted, isUsageLimitMessage, parseResetTime } from './reset-time.js';
import type { CliRun } from './run-cli.js';

export interface ClaudeAdapterOptions {
  bin: string;
  timeoutMs: number;
  maxBufferBytes: number;
  /** CLAUDE_CODE_MAX_RETRIES for the CLI's own API retries. */
  maxRetries: number;
  now?: () => number;
}

export function claudeArgs(
  data: Pick<GenerateJobData, 'model' | 'stream' | 'costBoundMicros' | 'output'>,
  systemPromptFile: string,
): string[] {
  return [
    '-p',
    // The prompt comes as one stream-json user message (claudeStdin). In text mode the CLI gives
    // up on stdin that stays silent for 3 s (hard-coded in 2.1.197: "no stdin data received in
    // 3s"), so a process started ahead of its job (the warm pool) could wait no longer than that;
    // in stream-json mode it waits for its message however long. stream-json input requires
    // stream-json output; the parser reads the final `result` line either way.
    '--input-format',
    'stream-json',
    '--output-format',
    'stream-json',
    '--verbose',
    ...(data.stream ? ['--include-partial-messages'] : []),
    '--model',
    data.model,
    '--system-prompt-file',
    systemPromptFile,
    // Only an empty tool list stops every tool; permission modes still let read-only tools run.
    '--tools',
    '',
    '--strict-mcp-config',
    '--setting-sources',
    '',
    '--no-session-persistence',
    // The cost reserved against the key's dollar limits: the CLI stops (and fails) past it.
    ...(data.costBoundMicros ? ['--max-budget-usd', (data.costBoundMicros / 1_000_000).toFixed(6)] : []),
    ...(data.output ? ['--json-schema', JSON.stringify(schemaOf(data.output))] : []),
  ];
}

/**
 * The user prompt as the CLI reads it with `--input-format stream-json`: one user message on one
 * line, its text then its images. JSON.stringify escapes every newline, so a prompt can never add
 * a line of its own (such as a control request) to the stream.
 */
export function claudeStdin(data: Pick<GenerateJobData, 'userPrompt' | 'images'>): string {
  const content = data.images?.length
    ? [
        { type: 'text', text: data.userPrompt },
        ...data.images.map((i) => ({
          type: 'image',
          source: { type: 'base64', media_type: i.mediaType, data: i.data },
        })),
      ]
    : data.userPrompt;
  return `${JSON.stringify({ type: 'user', message: { role: 'user', content } })}\n`;
}

/** Usage summed over `modelUsage`: a run stopped at its budget reports its tokens only there. */
function usageOfModels(modelUsage: Record<string, unknown> | undefined): Usage {
  const u = { ...ZERO_USAGE };
  for (const m of Object.values(modelUsage ?? {})) {
    const n = (v: unknown) => (typeof v === 'number' && v >= 0 ? Math.round(v) : 0);
    const r = (m ?? {}) as Record<string, unknown>;
    u.input_tokens += n(r.inputTokens);
    u.output_tokens += n(r.outputTokens);
    u.cache_creation_input_tokens += n(r.cacheCreationInputTokens);
    u.cache_read_input_tokens += n(r.cacheReadInputTokens);
  }
  return u;
}

interface ClaudeResultLine {
  type: 'result';
  subtype?: string;
  is_error?: boolean;
  api_error_status?: number | null;
  result?: string;
  /** With --json-schema: the answer, as the object the model gave. */
  structured_output?: unknown;
  errors?: string[];
  total_cost_usd?: number;
  usage?: Partial<Usage>;
  modelUsage?: Record<string, unknown>;
}

/**
 * stream-json's `rate_limit_event` of a rejected request: its `resetsAt` (epoch seconds) is the
 * account's reset, to the second, and zone-free. Epoch ms, or undefined.
 */
export function rateLimitResetAt(stdout: string): number | undefined {
  let at: number | undefined;
  for (const line of stdout.split('\n')) {
    if (!line.includes('"rate_limit_event"')) continue;
    try {
      const obj = JSON.parse(line) as {
        type?: unknown;
        rate_limit_info?: { status?: unknown; resetsAt?: unknown };
      };
      const info = obj.type === 'rate_limit_event' ? obj.rate_limit_info : undefined;
      if (info?.status === 'rejected' && typeof info.resetsAt === 'number' && info.resetsAt > 0) {
        at = info.resetsAt * 1000;
      }
    } catch {
      // not a JSON line
    }
  }
  return at;
}

function findResult(stdout: string): ClaudeResultLine | undefined {
  const lines = stdout.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim();
    if (!line.startsWith('{')) continue;
    try {
      const obj = JSON.parse(line) as { type?: unknown };
      if (obj && obj.type === 'result') return obj as ClaudeResultLine;
    } catch {
      // not a JSON line
    }
  }
  return undefined;
}

function toUsage(u: Partial<Usage> | undefined): Usage {
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.round(v) : 0);
  if (!u) return { ...ZERO_USAGE };
  return {
    input_tokens: n(u.input_tokens),
    output_tokens: n(u.output_tokens),
    cache_creation_input_tokens: n(u.cache_creation_input_tokens),
    cache_read_input_tokens: n(u.cache_read_input_tokens),
  };
}

/** Turns a finished run into a result, or throws `CliFailure`. Exported for unit tests. */
export function parseClaudeRun(
  run: CliRun,
  data: Pick<GenerateJobData, 'model'>,
  limits: { timeoutMs: number; maxBufferBytes: number },
  now: number,
): GenerateResult {
  const early = runFailure(run, 'claude', limits);
  if (early) throw early;

  const res = findResult(run.stdout);
  if (!res) {
    const why = run.exitCode === 0 ? 'unparsable output' : `exit code ${run.exitCode ?? run.exitSignal}`;
    const tail = stderrTail(run.stderr) || run.stdout.trim().slice(0, 200);
    throw new CliFailure('fatal', `claude failed (${why})${tail ? `: ${tail}` : ''}`);
  }

  const usage = toUsage(res.usage);
  const costMicros = usdToMicros(typeof res.total_cost_usd === 'number' ? res.total_cost_usd : 0);
  if (res.is_error === true || run.exitCode !== 0) {
    const message =
      (typeof res.result === 'string' && res.result) ||
      res.errors?.join('; ') ||
      `claude reported an error (${res.subtype ?? 'unknown'})`;
    const status = res.api_error_status ?? undefined;
    const spent = { usage, costMicros };
    if (res.subtype === 'error_max_budget_usd') {
      // The model answered, but the answer cost more than the request's bound: it is paid for.
      throw new CliFailure('fatal', `The answer cost more than this request's cost bound (${message})`, {
        type: 'limit_exceeded',
        usage: usageOfModels(res.modelUsage),
        costMicros,
      });
    }
    if (isExtraUsageExhausted(message)) {
      // The month's Agent SDK credit is spent: nothing to retry until it renews on the 1st.
      throw new CliFailure('usage_limit', message, {
        ...spent,
        type: 'provider_exhausted',
        resetAt: nextMonthStart(now),
        holdReason: 'extra_usage_exhausted',
      });
    }
    const structuredReset = rateLimitResetAt(run.stdout);
    if ((status === 429 || structuredReset !== undefined) && isUsageLimitMessage(message)) {
      throw new CliFailure('usage_limit', message, {
        ...spent,
        type: 'provider_exhausted',
        // The structured reset first; the printed time is truncated to the minute.
        resetAt: structuredReset ?? parseResetTime(message, now),
      });
    }
    if (
      status === 429 ||
      status === 529 ||
      (status !== undefined && status >= 500) ||
      (status === undefined && /\b529\b|overloaded|high demand/i.test(message))
    ) {
      throw new CliFailure('transient', message, spent);
    }
    throw new CliFailure('fatal', message, spent);
  }

  const models = Object.keys(res.modelUsage ?? {});
  return {
    text:
      res.structured_output !== undefined
        ? JSON.stringify(res.structured_output)
        : typeof res.result === 'string'
          ? res.result
          : '',
    usage,
    cost_micros: costMicros,
    duration_ms: run.durationMs,
    model: models[0] ?? data.model,
    provider: 'claude',
  };
}

export function createClaudeAdapter(opts: ClaudeAdapterOptions): CliAdapter {
  const limits = {
    timeoutMs: opts.timeoutMs,
    maxBufferBytes: opts.maxBufferBytes,
  };
  const now = opts.now ?? Date.now;
  return {
    provider: 'claude',
    bin: opts.bin,
    timeoutMs: opts.timeoutMs,
    async prepare(data: GenerateJobData, dirs: JobDirs) {
      const file = join(dirs.privateDir, 'system-prompt.txt');
      // Written synchronously: for one small file the thread pool's three hops (open, write,
      // close), each waiting for the event loop, cost more than the write itself (measured on a
      // disk-backed /tmp under load: 0.5 ms async against 0.2 ms sync, p50).
      writeFileSync(file, data.systemPrompt, { mode: 0o600 });
      return {
        bin: opts.bin,
        args: claudeArgs(data, file),
        stdin: claudeStdin(data),
        env: {
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
          DISABLE_AUTOUPDATER: '1',
          CLAUDE_CODE_MAX_RETRIES: String(opts.maxRetries),
        },
        ...limits,
      };
    },
    stdinOf: (data) => claudeStdin(data),
    // Every flag claudeArgs sets from the job, and the system prompt it reads at start-up (images
    // come on stdin: they do not fix a process).
    warmKey: (data) =>
      JSON.stringify([
        data.model,
        data.stream,
        data.costBoundMicros ?? 0,
        createHash('sha256').update(data.systemPrompt).digest('base64url'),
        data.output ? JSON.stringify(schemaOf(data.output)) : '',
      ]),
    parse: (run, data) => parseClaudeRun(run, data, limits, now()),
    textDelta(line: string) {
      // stream-json + --include-partial-messages: raw API events, text in content_block_delta.
      if (!line.includes('"text_delta"')) return undefined;
      try {
        const obj = JSON.parse(line) as {
          type?: string;
          event?: { type?: string; delta?: { type?: string; text?: unknown } };
        };
        const d =
          obj.type === 'stream_event' && obj.event?.type === 'content_block_delta'
            ? obj.event.delta
            : undefined;
        return d?.type === 'text_delta' && typeof d.text === 'string' ? d.text : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
