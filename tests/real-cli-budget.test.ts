/**
 * The cost bound through the REAL claude CLI: a key with a dollar limit gets its requests run
 * with --max-budget-usd at CLAUDE_COST_BOUND_USD, and real claude, once an answer costs more,
 * answers `error_max_budget_usd` (the model did answer: the cost is reported and billed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, postJson } from './helpers/harness.js';
import { startMockModelServer, type MockModelServer } from './helpers/mock-model-server.js';
import { claudeBin, prepareClaude, type CliSandbox } from './helpers/real-cli.js';

let mock: MockModelServer;
let box: CliSandbox;
const h = createHarness('realbudget', {
  CLAUDE_BIN: claudeBin(),
  CLAUDE_CODE_MAX_RETRIES: '0',
  JOB_ATTEMPTS: '1',
  // Below what one mock answer costs (about $0.0001 by claude's own price table).
  CLAUDE_COST_BOUND_USD: '0.00001',
});
let url = '';

beforeAll(async () => {
  mock = await startMockModelServer();
  box = await prepareClaude(mock.url);
  url = (await h.startApi()).url;
  await h.startWorker(['claude'], box.env);
});
afterAll(async () => {
  await h.cleanup();
  await mock?.close();
  await box?.cleanup();
});

describe('real claude at its cost bound', () => {
  it('fails an answer that cost more than the bound, and bills what it cost', async () => {
    const key = await h.createKey(url, 'limited', { maxCostPerDay: 1 });
    const auth = { authorization: `Bearer ${key}` };
    const res = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'an expensive answer' },
      auth,
    );
    expect(res.status).toBe(429);
    expect(res.json.error).toMatchObject({ type: 'limit_exceeded' });
    expect(res.json.error.message).toMatch(/cost bound.*Reached maximum budget \(\$0\.00001\)/);
    const usage = ((await (await fetch(`${url}/usage`, { headers: auth })).json()) as any).usage.today;
    expect(usage.cost_usd).toBeGreaterThan(0.00001);
    expect(usage.output_tokens).toBeGreaterThan(0);
  }, 60_000);

  it('runs a key without a dollar limit with no budget at all', async () => {
    const key = await h.createKey(url, 'open');
    const res = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'any answer' },
      {
        authorization: `Bearer ${key}`,
      },
    );
    expect(res.status).toBe(200);
    expect(res.json.content[0].text).toBe('Hello from mock-anthropic.');
  }, 60_000);
});
