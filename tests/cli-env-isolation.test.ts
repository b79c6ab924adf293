/**
 * Each CLI gets only its own provider's variables: a worker process holding both providers'
 * keys hands claude the ANTHROPIC_* / CLAUDE_* ones and codex the OPENAI_* / CODEX_* ones, as the
 * fake CLIs record (tests/fixtures/README.md, FAKE_CLI_RECORD_DIR).
 */
import { afterAll, expect, it } from 'vitest';
import { tempDir } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { readRecords, waitFor } from './helpers/records.js';

const recordDir = tempDir('env-isolation');
const h = createHarness('envisolation', { FAKE_CLI_RECORD_DIR: recordDir });
afterAll(() => h.cleanup());

const PROVIDER_ENV = {
  ANTHROPIC_API_KEY: 'sk-ant-test',
  ANTHROPIC_BASE_URL: 'http://127.0.0.1:9/anthropic',
  CLAUDE_CODE_USE_BEDROCK: '0',
  OPENAI_API_KEY: 'sk-openai-test',
  OPENAI_BASE_URL: 'http://127.0.0.1:9/openai',
  CODEX_HOME: tempDir('env-isolation-codex-home'),
};

it('gives claude only the Anthropic/Claude variables and codex only the OpenAI/Codex ones', async () => {
  const url = (await h.startApi()).url;
  const key = await h.createKey(url);
  const worker = await h.spawnWorker(PROVIDER_ENV);
  const auth = { authorization: `Bearer ${key}` };
  const claude = await postJson(`${url}/generate`, { systemPrompt: '', userPrompt: 'env-claude' }, auth);
  const codex = await postJson(`${url}/generate-codex`, { systemPrompt: '', userPrompt: 'env-codex' }, auth);
  expect(claude.status, claude.text).toBe(200);
  expect(codex.status, codex.text).toBe(200);

  const recs = await waitFor(
    () => {
      const all = readRecords(recordDir);
      const c = all.find((r) => r.provider === 'claude' && r.stdin.includes('env-claude'));
      const x = all.find((r) => r.provider === 'codex' && r.stdin.includes('env-codex'));
      return c && x && { claude: c, codex: x };
    },
    5_000,
    'both records',
  );
  const names = (env: Record<string, string>) =>
    Object.keys(env).filter((k) => /^(ANTHROPIC|CLAUDE|OPENAI|CODEX)_/.test(k));

  // Claude: its own variables (the bridge's CLAUDE_* settings included), none of Codex's.
  expect(recs.claude.env).toMatchObject({
    ANTHROPIC_API_KEY: 'sk-ant-test',
    ANTHROPIC_BASE_URL: PROVIDER_ENV.ANTHROPIC_BASE_URL,
    CLAUDE_CODE_USE_BEDROCK: '0',
  });
  expect(names(recs.claude.env).filter((k) => /^(OPENAI|CODEX)_/.test(k))).toEqual([]);
  // Codex: the other way round.
  expect(recs.codex.env).toMatchObject({
    OPENAI_API_KEY: 'sk-openai-test',
    OPENAI_BASE_URL: PROVIDER_ENV.OPENAI_BASE_URL,
    CODEX_HOME: PROVIDER_ENV.CODEX_HOME,
  });
  expect(names(recs.codex.env).filter((k) => /^(ANTHROPIC|CLAUDE)_/.test(k))).toEqual([]);
  // Neither gets the bridge's own secrets.
  for (const rec of [recs.claude, recs.codex]) {
    expect(rec.env.BRIDGE_ADMIN_KEY).toBeUndefined();
    expect(rec.env.REDIS_URL).toBeUndefined();
  }
  await worker.stop();
});
