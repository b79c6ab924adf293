// Runs the REAL claude and codex CLIs (pinned devDependencies) offline against the loopback mock
// model server, with exactly the locked-down flags cli-bridge uses (the worker's own claudeArgs
// and codexArgs), and checks what they print, what they send, and that the model cannot make them
// run a tool.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { claudeArgs, claudeStdin, codexArgs } from '@cli-bridge/worker';
import {
  DEFAULT_ANTHROPIC_TEXT,
  DEFAULT_OPENAI_TEXT,
  toolCallThenEcho,
  toolResultOf,
  type Json,
  type Script,
} from './helpers/mock-model-server.js';
import { claudeBin, codexBin, jsonLines, prepareClaude, prepareCodex, runCli } from './helpers/real-cli.js';
import { useMockModel } from './helpers/mock-model-lifecycle.js';

const PROMPT = 'Prompt line 1\nline 2 with "quotes" and $dollar\n';
const SYSTEM_PROMPT = 'You are a terse bridge bot.';
const timings: string[] = [];

const ctx = useMockModel();
afterAll(() => {
  // Wall time of each CLI run (spawn → exit, fresh HOME), for the record.
  if (timings.length) console.log(`real CLI wall times:\n  ${timings.join('\n  ')}`);
});

describe('real claude, locked flags', { timeout: 30_000 }, () => {
  async function runClaude(label: string, o: { stream?: boolean; script?: (cwd: string) => Script } = {}) {
    const sb = await prepareClaude(ctx.mock.url);
    ctx.sandboxes.push(sb);
    if (o.script) ctx.mock.setScript(o.script(sb.cwd));
    const promptFile = join(sb.root, 'system-prompt.txt'); // outside cwd: cwd stays empty
    await writeFile(promptFile, SYSTEM_PROMPT);
    // The worker's own argv: `--tools ""` (an argv item that is the empty string) means no
    // built-in tools at all.
    const args = claudeArgs({ model: 'claude-sonnet-4-5', stream: o.stream ?? false }, promptFile);
    const r = await runCli(claudeBin(), args, {
      cwd: sb.cwd,
      env: { ...sb.env, CLAUDE_CODE_MAX_RETRIES: '0' },
      stdin: claudeStdin({ userPrompt: PROMPT }),
    });
    timings.push(`claude ${label}: ${r.ms} ms`);
    return { sb, r };
  }

  it('ends with one JSON result line and sends our system prompt and prompt', async () => {
    const { r } = await runClaude('json');
    expect(r.code, r.stderr).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines.filter((l) => l.type === 'result')).toHaveLength(1);
    const out = lines.at(-1);
    expect(out).toMatchObject({
      type: 'result',
      subtype: 'success',
      is_error: false,
      result: DEFAULT_ANTHROPIC_TEXT,
    });
    expect(out.usage).toMatchObject({ input_tokens: 11, output_tokens: 7 });

    const calls = ctx.mock.modelRequests('anthropic');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.url).toBe('/v1/messages?beta=true');
    const body = calls[0]!.body;
    expect(body).toMatchObject({ model: 'claude-sonnet-4-5', stream: true, tools: [] });
    expect(JSON.stringify(body.system)).toContain(SYSTEM_PROMPT);
    expect(body.messages.at(-1).content.map((c: Json) => c.text)).toContain(PROMPT);
    // Nothing but the model call and a HEAD / connection warm-up reached the ctx.mock.
    for (const req of ctx.mock.requests)
      expect(['HEAD /', 'POST /v1/messages?beta=true']).toContain(`${req.method} ${req.url}`);
  });

  it('streams text deltas with stream-json --verbose --include-partial-messages', async () => {
    const { r } = await runClaude('stream-json', { stream: true });
    expect(r.code, r.stderr).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines[0]).toMatchObject({ type: 'system', subtype: 'init', tools: [] });
    const deltas = lines
      .filter((l) => l.type === 'stream_event' && l.event.type === 'content_block_delta')
      .map((l) => l.event.delta);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.every((d) => d.type === 'text_delta')).toBe(true);
    expect(deltas.map((d) => d.text).join('')).toBe(DEFAULT_ANTHROPIC_TEXT);
    expect(lines.at(-1)).toMatchObject({
      type: 'result',
      is_error: false,
      result: DEFAULT_ANTHROPIC_TEXT,
    });
  });

  it('refuses a Bash tool call from the model: the file is not created', async () => {
    // The target is inside the CLI's own cwd, where default permissions are the loosest.
    let target = '';
    const { r } = await runClaude('tool-lock', {
      script: (cwd) => {
        target = join(cwd, 'pwned-claude');
        return toolCallThenEcho({
          anthropic: { name: 'Bash', input: { command: `touch ${target}`, description: 'mock' } },
        });
      },
    });
    expect(r.code, r.stderr).toBe(0);
    const out = jsonLines(r.stdout).at(-1);
    expect(out.type).toBe('result');
    expect(out.num_turns).toBe(2);
    expect(out.result).toMatch(/^TOOL_RESULT is_error=true: .*No such tool available: Bash/);
    expect(existsSync(target)).toBe(false);

    // The tool result the CLI sent back to the model says the same.
    const calls = ctx.mock.modelRequests('anthropic');
    expect(calls).toHaveLength(2);
    const sent = toolResultOf('anthropic', calls[1]!.body);
    expect(sent).toMatchObject({ isError: true });
    expect(sent!.text).toContain('No such tool available: Bash');
  });
});

describe('real codex, locked flags', { timeout: 30_000 }, () => {
  async function runCodex(
    label: string,
    o: { declareModels?: string[]; script?: (cwd: string) => Script } = {},
  ) {
    const sb = await prepareCodex(ctx.mock.url, { declareModels: o.declareModels });
    ctx.sandboxes.push(sb);
    if (o.script) ctx.mock.setScript(o.script(sb.cwd));
    // The worker's own argv (without `--disable plugins` codex resolves github.com at start-up).
    const args = codexArgs('gpt-5-codex');
    const r = await runCli(codexBin(), args, { cwd: sb.cwd, env: sb.env, stdin: PROMPT });
    timings.push(`codex ${label}: ${r.ms} ms`);
    return { sb, r, events: r.code === 0 ? jsonLines(r.stdout) : [] };
  }

  it('prints the agent message and usage, and sends our prompt', async () => {
    const { r, events } = await runCodex('json');
    expect(r.code, r.stderr).toBe(0);
    expect(events[0]).toMatchObject({ type: 'thread.started' });
    expect(events).toContainEqual({
      type: 'item.completed',
      item: expect.objectContaining({ type: 'agent_message', text: DEFAULT_OPENAI_TEXT }),
    });
    expect(events.at(-1)).toMatchObject({
      type: 'turn.completed',
      usage: { input_tokens: 13, cached_input_tokens: 0, output_tokens: 5 },
    });

    const calls = ctx.mock.modelRequests('openai');
    expect(calls).toHaveLength(1);
    const body = calls[0]!.body;
    expect(body).toMatchObject({ model: 'gpt-5-codex', stream: true });
    const texts = body.input.flatMap((i: Json) => (i.content ?? []).map((c: Json) => c.text));
    expect(texts).toContain(PROMPT);
    // --disable shell_tool: no shell-like tool is offered to the model.
    const toolNames = (body.tools ?? []).map((t: Json) => t.name);
    for (const shell of ['exec_command', 'shell', 'shell_command', 'exec'])
      expect(toolNames).not.toContain(shell);
    expect(
      ctx.mock.requests.every(
        (q: { method: string; url: string }) => q.method === 'POST' && q.url === '/v1/responses',
      ),
    ).toBe(true);
  });

  it('refuses a shell call from the model: the file is not created', async () => {
    let target = '';
    const { r, events } = await runCodex('tool-lock', {
      script: (cwd) => {
        target = join(cwd, 'pwned-codex');
        // exec_command {cmd} is the shell tool codex 0.171.0 offers this model when shell_tool is on.
        return toolCallThenEcho({
          openai: { name: 'exec_command', input: { cmd: `touch ${target}` } },
        });
      },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(target)).toBe(false);
    expect(events.some((e) => e.item?.type === 'command_execution')).toBe(false);
    const message = events.find((e) => e.type === 'item.completed' && e.item.type === 'agent_message');
    expect(message?.item.text).toBe('TOOL_RESULT: unsupported call: exec_command');

    const calls = ctx.mock.modelRequests('openai');
    expect(calls).toHaveLength(2);
    expect(toolResultOf('openai', calls[1]!.body)?.text).toContain('unsupported call: exec_command');
  });

  it('with the model declared in a catalog, prints exactly the sample event sequence', async () => {
    const { r, events } = await runCodex('json+catalog', { declareModels: ['gpt-5-codex'] });
    expect(r.code, r.stderr).toBe(0);
    // Same shape as tests/fixtures/cli-samples/codex-json.jsonl (no "Model metadata ... not found" item).
    expect(events.map((e) => e.type)).toEqual([
      'thread.started',
      'turn.started',
      'item.completed',
      'turn.completed',
    ]);
    expect(events[2]).toEqual({
      type: 'item.completed',
      item: { id: 'item_0', type: 'agent_message', text: DEFAULT_OPENAI_TEXT },
    });
  });
});
