/**
 * Transient CLI errors (an overloaded API, a 429 that is no usage limit, Codex's "exceeded retry
 * limit") are run again with exponential backoff and jitter, up to JOB_ATTEMPTS runs, then the
 * job fails with the last run's message. A usage limit is not one of them (tests/accounts.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { readRecords } from './helpers/records.js';

const recordDir = tempDir('transient-records');
const BACKOFF_MS = 300;
const h = createHarness('transient', {
  FAKE_CLI_RECORD_DIR: recordDir,
  JOB_ATTEMPTS: '3',
  JOB_BACKOFF_MS: String(BACKOFF_MS),
  JOB_BACKOFF_JITTER: '0.5',
});
let url = '';
let key = '';

beforeAll(async () => {
  url = (await h.startApi()).url;
  await h.startWorker(['claude', 'codex'], { FAKE_CLI_RECORD_DIR: recordDir });
  key = await h.createKey(url);
});
afterAll(() => h.cleanup());

describe('transient errors', () => {
  it.each([
    ['claude', 'generate', 'error-529', /^API Error: 529 Overloaded/],
    ['claude', 'generate', 'error-429', /per-minute rate limit/],
    ['codex', 'generate-codex', 'error-429', /^exceeded retry limit, last status: 429/],
  ])(
    '%s %s: retried with a growing, jittered backoff, then failed with the last message',
    async (_p, route, mode, message) => {
      const marker = `${route}-${mode}`;
      const res = await postJson(
        `${url}/${route}`,
        { systemPrompt: '', userPrompt: `${marker} @@fake mode=${mode}@@` },
        { authorization: `Bearer ${key}` },
      );
      expect(res.status).toBe(502);
      expect(res.json.error.type).toBe('provider_error');
      expect(res.json.error.message).toMatch(message);
      const runs = readRecords(recordDir).filter((r) => r.stdin.includes(marker));
      expect(runs).toHaveLength(3);
      // Exponential with 50 % jitter: the n-th wait is in [½, 1] × BACKOFF_MS × 2^(n-1).
      const waits = [1, 2].map((i) => runs[i]!.startedAt - runs[i - 1]!.endedAt!);
      expect(waits[0]).toBeGreaterThanOrEqual(BACKOFF_MS / 2 - 5);
      expect(waits[1]).toBeGreaterThanOrEqual(BACKOFF_MS - 5);
    },
  );
});
