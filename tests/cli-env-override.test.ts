/**
 * The provider's own settings for a CLI run (`extra` of buildCliEnv: Claude's
 * CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1, DISABLE_AUTOUPDATER=1, CLAUDE_CODE_MAX_RETRIES) are
 * applied LAST: a worker whose own environment says otherwise must not switch them back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCliEnv } from '@cli-bridge/worker';
import { tempDir } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { readRecords } from './helpers/records.js';

describe('buildCliEnv', () => {
  it("gives the provider's value, not the worker's, when both set a variable", () => {
    const env = buildCliEnv({
      provider: 'claude',
      base: {
        PATH: '/usr/bin',
        HOME: '/home/u',
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '0', // kept: a CLI prefix
        MY_VAR: 'from-worker', // kept: passed through
      },
      passthrough: ['MY_VAR'],
      extra: { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', MY_VAR: 'from-provider' },
    });
    expect(env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC).toBe('1');
    expect(env.MY_VAR).toBe('from-provider');
  });
});

describe('through a worker', () => {
  const recordDir = tempDir('env-override');
  const h = createHarness('envoverride', { FAKE_CLI_RECORD_DIR: recordDir });
  let url = '';
  let key = '';

  beforeAll(async () => {
    url = (await h.startApi()).url;
    // The worker's own environment asks for the opposite of what the Claude adapter sets.
    await h.startWorker(['claude'], {
      FAKE_CLI_RECORD_DIR: recordDir,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '0',
      DISABLE_AUTOUPDATER: '0',
      CLI_ENV_PASSTHROUGH: 'FAKE_CLI_RECORD_DIR,DISABLE_AUTOUPDATER',
      CLAUDE_CODE_MAX_RETRIES: '4',
    });
    key = await h.createKey(url);
  });
  afterAll(() => h.cleanup());

  it("runs the CLI with the Claude adapter's values over the worker's", async () => {
    const res = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'env override probe' },
      { authorization: `Bearer ${key}` },
    );
    expect(res.status).toBe(200);
    const rec = readRecords(recordDir).find((r) => r.stdin.includes('env override probe'))!;
    expect(rec.env).toMatchObject({
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
      CLAUDE_CODE_MAX_RETRIES: '4', // the adapter's value comes from the config, which says 4
    });
  });
});
