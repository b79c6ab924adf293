/**
 * The REAL claude and codex CLIs (pinned devDependencies) through the whole bridge: API → queue →
 * worker → CLI → loopback mock model server. Proves the locked-down invocation works end to end
 * and that a model asking for a tool gets none run.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHarness, postJson } from './helpers/harness.js';
import { tempDir } from './helpers/env.js';
import { startMockModelServer, toolCallThenEcho, type MockModelServer } from './helpers/mock-model-server.js';
import { prepareClaude, prepareCodex, realCliBridgeEnv, type CliSandbox } from './helpers/real-cli.js';

let mock: MockModelServer;
let claudeBox: CliSandbox;
let codexBox: CliSandbox;
const h = createHarness('realcli', realCliBridgeEnv());
let url = '';
let key = '';
const auth = () => ({ authorization: `Bearer ${key}` });
const markerDir = tempDir('real-markers');

beforeAll(async () => {
  mock = await startMockModelServer();
  claudeBox = await prepareClaude(mock.url);
  codexBox = await prepareCodex(mock.url, { declareModels: ['gpt-5-codex'] });
  url = (await h.startApi()).url;
  // One worker per CLI, each with its own scratch HOME and mock endpoint.
  await h.startWorker(['claude'], claudeBox.env);
  // Codex reads its key from the provider's env_key, which is not a CLI prefix: pass it through.
  await h.startWorker(['codex'], { ...codexBox.env, CLI_ENV_PASSTHROUGH: 'MOCK_API_KEY' });
  key = await h.createKey(url);
});
beforeEach(() => {
  mock.setScript(undefined);
  mock.requests.length = 0;
});
afterAll(async () => {
  await h.cleanup();
  await mock?.close();
  await claudeBox?.cleanup();
  await codexBox?.cleanup();
});

describe('real claude through the bridge', () => {
  it('answers, with our system and user prompt reaching the model', async () => {
    const res = await postJson(
      `${url}/generate`,
      { systemPrompt: 'You are a terse bridge bot.', userPrompt: '--help me with "quotes" and $dollar' },
      auth(),
    );
    expect(res.status).toBe(200);
    expect(res.json.content[0].text).toBe('Hello from mock-anthropic.');
    expect(res.json.usage.input_tokens).toBe(11);
    expect(res.json.cost_usd).toBeGreaterThan(0);
    const sent = JSON.stringify(mock.requests.find((r) => r.url.startsWith('/v1/messages'))!.body);
    expect(sent).toContain('You are a terse bridge bot.');
    expect(sent).toContain('--help me with \\"quotes\\" and $dollar');
    expect(sent).toContain('"tools":[]');
  }, 60_000);

  it('runs no tool when the model asks for Bash or Read', async () => {
    const marker = join(markerDir, 'pwned-claude');
    mock.setScript(toolCallThenEcho({ anthropic: { name: 'Bash', input: { command: `touch ${marker}` } } }));
    const bash = await postJson(`${url}/generate`, { systemPrompt: '', userPrompt: 'run it' }, auth());
    expect(bash.status).toBe(200);
    expect(bash.json.content[0].text).toMatch(/No such tool available: Bash/);
    expect(existsSync(marker)).toBe(false);

    mock.setScript(toolCallThenEcho({ anthropic: { name: 'Read', input: { file_path: '/etc/hostname' } } }));
    const read = await postJson(`${url}/generate`, { systemPrompt: '', userPrompt: 'read it' }, auth());
    expect(read.json.content[0].text).toMatch(/No such tool available: Read/);
  }, 60_000);

  it('fails with the CLI message when the model server answers an error', async () => {
    mock.setScript(() => ({
      error: { status: 401, message: 'Invalid bearer token (mock)', type: 'authentication_error' },
    }));
    const res = await postJson(`${url}/generate`, { systemPrompt: '', userPrompt: 'hi' }, auth());
    expect(res.status).toBe(502);
    expect(res.json.error.type).toBe('provider_error');
  }, 60_000);
});

describe('real codex through the bridge', () => {
  it('answers, with both prompts reaching the model', async () => {
    const res = await postJson(
      `${url}/generate-codex`,
      { systemPrompt: 'SYSTEM-RULES-42', userPrompt: 'codex user prompt' },
      auth(),
    );
    expect(res.json).toMatchObject({ content: [{ text: 'Hello from mock-openai.' }] });
    expect(res.status).toBe(200);
    expect(res.json.usage).toEqual({
      input_tokens: 13,
      output_tokens: 5,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    });
    const sent = JSON.stringify(mock.requests.find((r) => r.url.startsWith('/v1/responses'))!.body);
    expect(sent).toContain('SYSTEM-RULES-42');
    expect(sent).toContain('codex user prompt');
  }, 60_000);

  it('runs no shell command when the model asks for one', async () => {
    const marker = join(markerDir, 'pwned-codex');
    mock.setScript(toolCallThenEcho({ openai: { name: 'exec_command', input: { cmd: `touch ${marker}` } } }));
    const res = await postJson(`${url}/generate-codex`, { systemPrompt: '', userPrompt: 'run it' }, auth());
    expect(res.status).toBe(200);
    expect(res.json.content[0].text).toBe('TOOL_RESULT: unsupported call: exec_command');
    expect(existsSync(marker)).toBe(false);
  }, 60_000);
});

describe('the official SDKs through the real CLIs (/v1)', () => {
  const openai = () => new OpenAI({ apiKey: key, baseURL: `${url}/v1`, maxRetries: 0 });
  const anthropic = () => new Anthropic({ apiKey: key, baseURL: url, maxRetries: 0 });

  it('Anthropic SDK → real claude: a multi-turn conversation, streamed', async () => {
    const final = await anthropic()
      .messages.stream({
        model: 'sonnet',
        max_tokens: 100,
        system: 'SDK-SYSTEM-7',
        messages: [
          { role: 'user', content: 'first turn' },
          { role: 'assistant', content: 'first reply' },
          { role: 'user', content: 'second turn' },
        ],
      })
      .finalMessage();
    expect(final.content).toEqual([
      expect.objectContaining({ type: 'text', text: 'Hello from mock-anthropic.' }),
    ]);
    expect(final.usage.input_tokens).toBe(11);
    const sent = JSON.stringify(mock.requests.find((r) => r.url.startsWith('/v1/messages'))!.body);
    expect(sent).toContain('SDK-SYSTEM-7');
    expect(sent).toContain(
      '<turn role=\\"assistant\\">first reply</turn>\\n<turn role=\\"user\\">second turn</turn>',
    );
  }, 60_000);

  it('OpenAI SDK → real codex: a chat completion', async () => {
    const c = await openai().chat.completions.create({
      model: 'gpt-5-codex',
      messages: [
        { role: 'system', content: 'SDK-SYSTEM-8' },
        { role: 'user', content: 'codex via the openai sdk' },
      ],
    });
    expect(c.choices[0]!.message.content).toBe('Hello from mock-openai.');
    expect(c.usage).toMatchObject({ prompt_tokens: 13, completion_tokens: 5, total_tokens: 18 });
    const sent = JSON.stringify(mock.requests.find((r) => r.url.startsWith('/v1/responses'))!.body);
    expect(sent).toContain('SDK-SYSTEM-8');
    expect(sent).toContain('codex via the openai sdk');
  }, 60_000);

  const PNG =
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
  const schema = {
    type: 'object',
    properties: { colour: { type: 'string' } },
    required: ['colour'],
    additionalProperties: false,
  };

  it('real claude: an image and a JSON Schema reach the model as an image block and a tool', async () => {
    // The first call (no tool result yet) answers through the structured-output tool.
    mock.setScript(({ api, toolResult }) =>
      api === 'anthropic' && !toolResult
        ? { tool: { name: 'StructuredOutput', input: { colour: 'red' } } }
        : undefined,
    );
    const c = await openai().chat.completions.create({
      model: 'sonnet',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'which colour?' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
          ],
        },
      ],
      response_format: { type: 'json_schema', json_schema: { name: 'c', schema } },
    });
    expect(JSON.parse(c.choices[0]!.message.content!)).toEqual({ colour: 'red' });
    const body = mock.requests.find((r) => r.url.startsWith('/v1/messages'))!.body;
    const blocks = body.messages[0].content as { type: string; source?: { data: string } }[];
    expect(blocks.find((b) => b.type === 'image')?.source?.data).toBe(PNG);
    expect(body.tools.find((t: { name: string }) => t.name === 'StructuredOutput').input_schema).toEqual(
      schema,
    );
  }, 60_000);

  it('real codex: an image and a JSON Schema reach the model as input_image and text.format', async () => {
    mock.setScript(({ api }) => (api === 'openai' ? { text: '{"colour":"blue"}' } : undefined));
    const r = await openai().responses.create({
      model: 'gpt-5-codex',
      input: [
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'which colour?' },
            { type: 'input_image', image_url: `data:image/png;base64,${PNG}`, detail: 'auto' },
          ],
        },
      ],
      text: { format: { type: 'json_schema', name: 'c', schema, strict: true } },
    });
    expect(JSON.parse(r.output_text)).toEqual({ colour: 'blue' });
    const body = mock.requests.find((x) => x.url.startsWith('/v1/responses'))!.body;
    expect(body.text.format).toMatchObject({ type: 'json_schema', schema });
    expect(JSON.stringify(body.input)).toContain(`data:image/png;base64,${PNG}`);
  }, 60_000);
});
