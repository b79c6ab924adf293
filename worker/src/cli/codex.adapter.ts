/**
 * Codex as an answering model: `codex exec` with JSON events, no git check, no session kept, a
 * read-only sandbox AND every tool that can reach the host switched off (the sandbox alone still
 * lets the shell read any file, and view_image reads any image), plugins and analytics off.
 * What the model is still offered cannot touch the host: see `codexArgs`. System and user prompt
 * go on stdin together.
 *
 * Images and a JSON Schema for the answer are written as files into the job's private dir and
 * named with `--image=FILE` (one per image: the flag takes several values, so the `=` form keeps
 * it from swallowing the next argument) and `--output-schema FILE`. A `json_object` answer has no
 * schema flag (codex sends schemas in strict mode, which needs every property named): the
 * instructions ask for one JSON object, and the worker checks the answer.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  costMicros as priceRun,
  ZERO_USAGE,
  type GenerateJobData,
  type GenerateResult,
  type ImageMediaType,
  type PricingStore,
  type Usage,
} from '@cli-bridge/shared';
import type { CliAdapter } from './adapter.js';
import { CliFailure, runFailure, stderrTail } from './cli-failure.js';
import { isUsageLimitMessage, parseResetTime } from './reset-time.js';
import type { CliRun } from './run-cli.js';

export interface CodexAdapterOptions {
  bin: string;
  timeoutMs: number;
  maxBufferBytes: number;
  pricing: PricingStore;
  now?: () => number;
}

export interface CodexArgsOptions {
  /** MCP servers declared in the CLI's config.toml (`codexMcpServers`): each is switched off. */
  mcpServers?: readonly string[];
  /** Image files to attach to the prompt. */
  images?: readonly string[];
  /** A JSON Schema file the final answer must match. */
  outputSchemaFile?: string;
}

const IMAGE_EXT: Record<ImageMediaType, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

/** Asked of a `json_object` answer, after the caller's own instructions. */
export const JSON_OBJECT_INSTRUCTION =
  'Answer with exactly one JSON object and nothing else: no prose, no Markdown code fence.';

export function codexArgs(model: string, opts: CodexArgsOptions = {}): string[] {
  // prettier-ignore
  return [
    'exec',
    '--json',
    '--skip-git-repo-check',
    '--ephemeral',
    // Writes (apply_patch, shell) are refused by the sandbox, with approvals never asked in exec.
    '--sandbox', 'read-only',
    // The switches below were each checked against the request codex 0.171.0 sends the model
    // (tests/real-cli-tools.test.ts records it and drives every tool still offered). An unknown
    // feature name makes codex exit ("Unknown feature flag"), so a CLI that renamed one of
    // them fails closed instead of offering the tool again.
    // The shell: exec_command / shell_command, top-level or inside code mode's `exec`.
    '--disable', 'shell_tool',
    // Reads any image the sandbox lets it read (read-only = the whole disk) and hands it to the
    // model: it sent a PNG from outside the scratch directory.
    '--disable', 'view_image',
    // create_goal / get_goal / update_goal.
    '--disable', 'goals',
    // clock.sleep.
    '--disable', 'sleep_tool',
    // The multi_agent_v1 namespace (spawn_agent, ...) and tool_search on non-code-mode models.
    // Code-mode models still get the `collaboration` tools: a sub-agent runs in this process with
    // these same flags (checked: its request offers the same tools), and spawning one with
    // history fails under --ephemeral.
    '--disable', 'multi_agent',
    // Plugins and their tools; without this codex also resolves github.com at start-up.
    '--disable', 'plugins',
    // codex exits on a known -c key with a value of the wrong type, but ignores an unknown key:
    // these two are proven only by the recorded request (see the test).
    // The hosted web_search tool (runs at the provider, but fetches what the model asks).
    '-c', 'web_search="disabled"',
    // request_user_input / request_user_input_async (nobody answers in exec mode anyway).
    '-c', 'tools.experimental_request_user_input.enabled=false',
    '-c', 'analytics.enabled=false',
    // MCP servers of the operator's config.toml: codex starts each on every run and offers the
    // model its tools. `-c mcp_servers={}` does not remove them (checked: the server still
    // started); switching each off by name does. codex splits the key on dots, so a server
    // whose name has one makes it exit ("invalid transport"): closed, not open.
    ...(opts.mcpServers ?? []).flatMap((name) => ['-c', `mcp_servers.${name}.enabled=false`]),
    ...(opts.images ?? []).map((file) => `--image=${file}`),
    ...(opts.outputSchemaFile ? ['--output-schema', opts.outputSchemaFile] : []),
    '-m', model,
    '-', // the prompt comes on stdin
  ];
}

/**
 * Names of the MCP servers a codex config.toml declares: `[mcp_servers.NAME]` (or a sub-table of
 * it), entries of an `[mcp_servers]` table, and top-level `mcp_servers.NAME...` keys. Quoted names
 * come back unquoted. A light reader, not a TOML parser: it errs towards finding too many.
 */
export function codexMcpServers(configToml: string): string[] {
  const names = new Set<string>();
  const key = String.raw`(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))`;
  const header = new RegExp(String.raw`^\s*\[\s*([^\]]*?)\s*\]\s*(?:#.*)?$`);
  const dotted = new RegExp(String.raw`^\s*mcp_servers\s*\.\s*${key}`);
  const entry = new RegExp(String.raw`^\s*${key}\s*[.=]`);
  const inHeader = new RegExp(String.raw`^mcp_servers\s*\.\s*${key}`);
  const pick = (m: RegExpExecArray) => m[1] ?? m[2] ?? m[3];
  let table = ''; // the current [table], '' before the first
  for (const line of configToml.split(/\r?\n/)) {
    if (line.trim().startsWith('[[')) {
      table = '[[]]'; // an array of tables: no server in it
      continue;
    }
    const h = header.exec(line);
    if (h) {
      table = h[1]!;
      const m = inHeader.exec(table);
      if (m) names.add(pick(m)!);
      continue;
    }
    const m = table === '' ? dotted.exec(line) : table === 'mcp_servers' ? entry.exec(line) : null;
    if (m) names.add(pick(m)!);
  }
  return [...names];
}

/** The MCP servers of the config.toml codex reads with this environment ($CODEX_HOME or ~/.codex). */
export async function codexMcpServersIn(env: Record<string, string | undefined>): Promise<string[]> {
  const home = env.CODEX_HOME || join(env.HOME || homedir(), '.codex');
  let text: string;
  try {
    text = await readFile(join(home, 'config.toml'), 'utf8');
  } catch {
    return []; // no config: no servers
  }
  return codexMcpServers(text);
}

/** What codex reads on stdin: both prompts, with the JSON instruction of a `json_object` job. */
export function codexStdin(data: Pick<GenerateJobData, 'systemPrompt' | 'userPrompt' | 'output'>): string {
  const system =
    data.output?.kind === 'json_object'
      ? [data.systemPrompt, JSON_OBJECT_INSTRUCTION].filter((s) => s.trim()).join('\n\n')
      : data.systemPrompt;
  return codexPrompt(system, data.userPrompt);
}

/** Codex takes one prompt; the system prompt leads it, fenced so the two stay apart. */
export function codexPrompt(systemPrompt: string, userPrompt: string): string {
  if (!systemPrompt.trim()) return userPrompt;
  return `<system_instructions>\n${systemPrompt}\n</system_instructions>\n\n${userPrompt}`;
}

interface CodexEvent {
  type?: string;
  item?: { type?: string; text?: unknown };
  usage?: Record<string, unknown>;
  error?: { message?: unknown };
  message?: unknown;
}

function toUsage(u: Record<string, unknown> | undefined): Usage {
  if (!u) return { ...ZERO_USAGE };
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.round(v) : 0);
  const cached = n(u.cached_input_tokens);
  return {
    // Codex counts cached tokens inside input_tokens; the bridge keeps them apart, as Claude does.
    input_tokens: Math.max(0, n(u.input_tokens) - cached),
    output_tokens: n(u.output_tokens),
    cache_creation_input_tokens: n(u.cache_write_input_tokens),
    cache_read_input_tokens: cached,
  };
}

function classify(message: string, now: number, spent: { usage: Usage; costMicros: number }): CliFailure {
  if (isUsageLimitMessage(message)) {
    return new CliFailure('usage_limit', message, {
      ...spent,
      type: 'provider_exhausted',
      resetAt: parseResetTime(message, now),
    });
  }
  if (
    /\b(429|5\d\d)\b|overloaded|high demand|stream disconnected|timed? ?out|temporar(y|ily)/i.test(message)
  ) {
    return new CliFailure('transient', message, spent);
  }
  return new CliFailure('fatal', message, spent);
}

export function parseCodexRun(
  run: CliRun,
  data: Pick<GenerateJobData, 'model'>,
  opts: { timeoutMs: number; maxBufferBytes: number; pricing: PricingStore },
  now: number,
): GenerateResult {
  const early = runFailure(run, 'codex', opts);
  if (early) throw early;

  let text: string | undefined;
  let usage: Usage | undefined;
  let failed: string | undefined;
  let lastError: string | undefined;
  let events = 0;
  for (const raw of run.stdout.split('\n')) {
    const line = raw.trim();
    if (!line.startsWith('{')) continue;
    let ev: CodexEvent;
    try {
      ev = JSON.parse(line) as CodexEvent;
    } catch {
      continue;
    }
    events++;
    if (
      ev.type === 'item.completed' &&
      ev.item?.type === 'agent_message' &&
      typeof ev.item.text === 'string'
    ) {
      text = ev.item.text;
    } else if (ev.type === 'turn.completed') {
      usage = toUsage(ev.usage);
    } else if (ev.type === 'turn.failed') {
      failed = typeof ev.error?.message === 'string' ? ev.error.message : 'codex turn failed';
    } else if (ev.type === 'error' && typeof ev.message === 'string') {
      lastError = ev.message; // a notice unless the turn then fails
    }
  }

  const spentUsage = usage ?? { ...ZERO_USAGE };
  const price = opts.pricing.get(data.model);
  const costMicros = price ? priceRun(price, spentUsage) : 0;
  const spent = { usage: spentUsage, costMicros };
  if (failed !== undefined) throw classify(failed, now, spent);
  if (run.exitCode !== 0) {
    const msg = lastError ?? (stderrTail(run.stderr) || `exit code ${run.exitCode ?? run.exitSignal}`);
    throw classify(`codex failed: ${msg}`, now, spent);
  }
  if (events === 0) throw new CliFailure('fatal', 'codex failed (unparsable output)');
  if (text === undefined || usage === undefined) {
    throw new CliFailure('fatal', 'codex finished without an answer', spent);
  }
  return {
    text,
    usage,
    cost_micros: costMicros,
    duration_ms: run.durationMs,
    model: data.model,
    provider: 'codex',
  };
}

export function createCodexAdapter(opts: CodexAdapterOptions): CliAdapter {
  const now = opts.now ?? Date.now;
  return {
    provider: 'codex',
    bin: opts.bin,
    timeoutMs: opts.timeoutMs,
    async prepare(data: GenerateJobData, dirs, env = process.env) {
      const images: string[] = [];
      for (const [i, image] of (data.images ?? []).entries()) {
        const file = join(dirs.privateDir, `image-${i + 1}.${IMAGE_EXT[image.mediaType]}`);
        await writeFile(file, Buffer.from(image.data, 'base64'), { mode: 0o600 });
        images.push(file);
      }
      let outputSchemaFile: string | undefined;
      if (data.output?.kind === 'json_schema') {
        outputSchemaFile = join(dirs.privateDir, 'output-schema.json');
        await writeFile(outputSchemaFile, JSON.stringify(data.output.schema), { mode: 0o600 });
      }
      return {
        bin: opts.bin,
        args: codexArgs(data.model, {
          mcpServers: await codexMcpServersIn(env),
          images,
          outputSchemaFile,
        }),
        stdin: codexStdin(data),
        env: {},
        timeoutMs: opts.timeoutMs,
        maxBufferBytes: opts.maxBufferBytes,
      };
    },
    stdinOf: codexStdin,
    // codexArgs depends on the model alone (and the MCP servers of config.toml, read at start-up);
    // both prompts come on stdin. A job with images or a schema file names them in argv: never warm.
    warmKey: (data) =>
      data.images?.length || data.output?.kind === 'json_schema' ? undefined : JSON.stringify([data.model]),
    parse: (run, data) => parseCodexRun(run, data, opts, now()),
    textDelta(line: string) {
      // Codex gives its message whole: one delta per agent_message.
      if (!line.includes('"agent_message"')) return undefined;
      try {
        const ev = JSON.parse(line) as CodexEvent;
        return ev.type === 'item.completed' &&
          ev.item?.type === 'agent_message' &&
          typeof ev.item.text === 'string'
          ? ev.item.text
          : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
