/**
 * The spine in-process: API + worker + fake CLIs on a real Redis. Covers the generate routes,
 * validation, auth, the response shape and how each CLI failure reaches the client.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claudeArgs, codexArgs } from '@cli-bridge/worker';
import { createHarness, postJson } from './helpers/harness.js';
import { tempDir } from './helpers/env.js';
import { isAlive, readRecords, waitFor } from './helpers/records.js';

const recordDir = tempDir('records');
const h = createHarness('generate', {
  FAKE_CLI_RECORD_DIR: recordDir,
  JOB_ATTEMPTS: '2',
  CLAUDE_TIMEOUT_MS: '1500',
});
let url = '';
let key = '';
const auth = () => ({ authorization: `Bearer ${key}` });

beforeAll(async () => {
  const api = await h.startApi();
  url = api.url;
  await h.startWorker(['claude', 'codex'], { FAKE_CLI_RECORD_DIR: recordDir });
  key = await h.createKey(url);
});
afterAll(() => h.cleanup());

describe('POST /generate', () => {
  it('answers with the documented generate response shape', async () => {
    const res = await postJson(
      `${url}/generate`,
      {
        systemPrompt: 'Be brief.',
        userPrompt: 'What is 2+2? @@fake in=120 out=34 cache_read=5 cache_create=6 cost=0.0123@@',
      },
      auth(),
    );
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      content: [{ type: 'text', text: 'Echo: What is 2+2?' }],
      usage: {
        input_tokens: 120,
        output_tokens: 34,
        cache_creation_input_tokens: 6,
        cache_read_input_tokens: 5,
      },
      cost_usd: 0.0123,
      duration_ms: expect.any(Number),
      model: 'sonnet',
      provider: 'claude',
      job_id: expect.any(String),
    });
  });

  it('runs Codex on /generate-codex with cost from the pricing table', async () => {
    const res = await postJson(
      `${url}/generate-codex`,
      { systemPrompt: 'S', userPrompt: 'hi @@fake in=1000000 cached=200000 out=100000@@' },
      auth(),
    );
    expect(res.status).toBe(200);
    expect(res.json.provider).toBe('codex');
    expect(res.json.model).toBe('gpt-5-codex');
    // 800k uncached × $1.25 + 200k cached × $0.125 + 100k out × $10 = 1.0 + 0.025 + 1.0
    expect(res.json.cost_usd).toBe(2.025);
    expect(res.json.usage).toEqual({
      input_tokens: 800000,
      cache_read_input_tokens: 200000,
      output_tokens: 100000,
      cache_creation_input_tokens: 0,
    });
    expect(res.json.content[0].text).toContain('hi');
  });

  it('refuses a request without a key, or with a wrong one', async () => {
    const none = await postJson(`${url}/generate`, { systemPrompt: '', userPrompt: 'x' });
    expect(none.status).toBe(401);
    expect(none.json.error.type).toBe('unauthorized');
    const wrong = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'x' },
      { authorization: 'Bearer cbk_nope' },
    );
    expect(wrong.status).toBe(401);
  });

  it('accepts the key in x-api-key (the Anthropic SDK header)', async () => {
    const res = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'via x-api-key' },
      { 'x-api-key': key },
    );
    expect(res.status).toBe(200);
  });

  it('names the offending field in a 400', async () => {
    const missing = await postJson(`${url}/generate`, { systemPrompt: 'x' }, auth());
    expect(missing.status).toBe(400);
    expect(missing.json.error).toMatchObject({ type: 'invalid_request', field: 'userPrompt' });
    expect(missing.json.error.message).toMatch(/userPrompt/);

    const wrongType = await postJson(`${url}/generate`, { systemPrompt: 1, userPrompt: 'x' }, auth());
    expect(wrongType.json.error).toMatchObject({ type: 'invalid_request', field: 'systemPrompt' });

    const badJson = await postJson(`${url}/generate`, '{"systemPrompt": ', auth());
    expect(badJson.status).toBe(400);
    expect(badJson.json.error.type).toBe('invalid_request');

    const tooLong = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'x'.repeat(500_001) },
      auth(),
    );
    expect(tooLong.status).toBe(400);
    expect(tooLong.json.error.field).toBe('userPrompt');
  });

  it('refuses models off the allowlist, model names that look like flags, and unpriced Codex models', async () => {
    const flag = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'x', model: '--dangerously-skip-permissions' },
      auth(),
    );
    expect(flag.status).toBe(400);
    expect(flag.json.error.field).toBe('model');
    const off = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'x', model: 'gpt-5' },
      auth(),
    );
    expect(off.status).toBe(400);
    const unpriced = await postJson(
      `${url}/generate-codex`,
      { systemPrompt: '', userPrompt: 'x', model: 'gpt-99' },
      auth(),
    );
    expect(unpriced.status).toBe(400);
    expect(unpriced.json.error.message).toMatch(/no price/);
  });

  it('reports an is_error result as a failure with the CLI message, never a success', async () => {
    const res = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: '@@fake mode=error-401@@' },
      auth(),
    );
    expect(res.status).toBe(502);
    expect(res.json.error.type).toBe('provider_error');
    expect(res.json.error.message).toMatch(/Invalid API key/);
    expect(res.json.error.job_id).toEqual(expect.any(String));
  });

  it('retries a transient error a bounded number of times, then fails', async () => {
    const before = readRecords(recordDir).filter((r) => r.stdin.includes('retry-me')).length;
    const res = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'retry-me @@fake mode=error-529@@' },
      auth(),
    );
    expect(res.status).toBe(502);
    const runs = readRecords(recordDir).filter((r) => r.stdin.includes('retry-me')).length - before;
    expect(runs).toBe(2); // JOB_ATTEMPTS=2
  });

  it('fails on a non-zero exit, non-JSON output and oversize output', async () => {
    const exit = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: '@@fake mode=exit-nonzero@@' },
      auth(),
    );
    expect(exit.status).toBe(502);
    expect(exit.json.error.message).toMatch(/something broke/);
    const nonjson = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: '@@fake mode=nonjson@@' },
      auth(),
    );
    expect(nonjson.status).toBe(502);
    expect(nonjson.json.error.message).toMatch(/unparsable/);
    const huge = await postJson(
      `${url}/generate-codex`,
      { systemPrompt: '', userPrompt: '@@fake mode=huge bytes=20000000@@' },
      auth(),
    );
    expect(huge.status).toBe(502);
    expect(huge.json.error.message).toMatch(/more than 10485760 bytes/);
  });

  it('kills the whole process group on timeout', async () => {
    const res = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'hang-test @@fake mode=hang@@' },
      auth(),
    );
    expect(res.status).toBe(504);
    expect(res.json.error.type).toBe('timeout');
    expect(res.json.error.job_id).toEqual(expect.any(String));
    const rec = readRecords(recordDir).find((r) => r.stdin.includes('hang-test'))!;
    expect(rec.grandchildPid).toEqual(expect.any(Number));
    await waitFor(() => !isAlive(rec.pid) && !isAlive(rec.grandchildPid!), 3_000, 'the process group to die');
  });

  it('escalates to SIGKILL when the CLI ignores SIGTERM', async () => {
    const res = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'stubborn @@fake mode=ignore-term@@' },
      auth(),
    );
    expect(res.status).toBe(504);
    const rec = readRecords(recordDir).find((r) => r.stdin.includes('stubborn'))!;
    await waitFor(() => !isAlive(rec.pid), 3_000, 'the stubborn CLI to die');
  });
});

describe('spawn hygiene', () => {
  it('passes prompts as data, never as flags, in an empty scratch dir with a minimal env', async () => {
    const res = await postJson(
      `${url}/generate`,
      { systemPrompt: '--dangerously-skip-permissions', userPrompt: '--help' },
      auth(),
    );
    expect(res.status).toBe(200);
    expect(res.json.content[0].text).toBe('Echo: --help');
    const rec = readRecords(recordDir).find((r) => r.stdin === '--help')!;
    // Exactly the adapter's argv (what each flag does is tested against the real CLIs), with the
    // system prompt file the worker wrote and nothing taken from the prompt.
    const file = rec.argv[rec.argv.indexOf('--system-prompt-file') + 1]!;
    expect(rec.argv).toEqual(claudeArgs({ model: 'sonnet', stream: false }, file));
    expect(file).toMatch(/system-prompt\.txt$/);
    expect(rec.argv).not.toContain('--help');
    expect(rec.systemPrompt).toBe('--dangerously-skip-permissions');
    expect(rec.systemPromptFileMode).toBe('600');
    expect(rec.cwdEntriesAtStart).toEqual([]);
    // Removed after the answer, in the background.
    await waitFor(() => !existsSync(rec.cwd), 5_000, 'the scratch directory removed');
    expect(rec.env.BRIDGE_ADMIN_KEY).toBeUndefined();
    expect(rec.env.REDIS_URL).toBeUndefined();
    expect(rec.env.REDIS_PREFIX).toBeUndefined();
    expect(rec.env.TZ).toBe('UTC');
    expect(rec.env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC).toBe('1');
    expect(rec.env.CLAUDE_CODE_MAX_RETRIES).toBe('2');
    expect(rec.env.PATH).toBeTruthy();
  });

  it('carries a 300,000-character prompt and a 200,000-character system prompt intact', async () => {
    const user = 'u'.repeat(299_990) + ' big-one';
    const system = 's'.repeat(200_000);
    const res = await postJson(`${url}/generate`, { systemPrompt: system, userPrompt: user }, auth());
    expect(res.status).toBe(200);
    const rec = readRecords(recordDir).find((r) => r.stdin.endsWith('big-one'))!;
    expect(rec.stdin).toBe(user);
    expect(rec.systemPrompt).toBe(system);
  });

  it('gives Codex both prompts on stdin with its locked-down flags', async () => {
    const res = await postJson(
      `${url}/generate-codex`,
      { systemPrompt: 'SYS-123', userPrompt: '-m evil codex-user' },
      auth(),
    );
    expect(res.status).toBe(200);
    const rec = readRecords(recordDir).find((r) => r.stdin.includes('codex-user'))!;
    expect(rec.argv).toEqual(codexArgs('gpt-5-codex'));
    expect(rec.stdin).toContain('SYS-123');
    expect(rec.stdin).toContain('-m evil codex-user');
  });
});
