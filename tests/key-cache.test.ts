/**
 * The key lookup cache (api/src/services/key-cache.ts, used by `requireAdmittedUserKey`): on the
 * routes that go through admission, a key looked up a moment ago skips the lookup script (one
 * EVALSHA fewer per request), yet a revoked key is refused at once, because admission re-checks
 * the key record. Wrong keys are never cached and keep counting as failed authentications; the
 * other routes keep the uncached lookup. Real Redis, real HTTP, an in-process API and worker; the
 * API's own Redis client is watched to count the scripts each request runs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { ApiServer } from '@cli-bridge/api';
import { ADMIN_KEY } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';

const h = createHarness('keycache');
afterAll(() => h.cleanup());

const api = await h.startApi();
await h.startWorker(['claude']);
const adminAuth = { authorization: `Bearer ${ADMIN_KEY}` };

interface ScriptCalls {
  /** Every EVALSHA the API's client sent. */
  all: number;
  /** Those of the key lookup (the by-hash index among their keys). */
  lookups: number;
}

/** Counts the EVALSHAs `server`'s own Redis client sends while `fn` runs. */
async function scriptsDuring<T>(server: ApiServer, fn: () => Promise<T>): Promise<[T, ScriptCalls]> {
  const redis = server.services.auth.redis;
  const byHash = h.keys.apiKeyByHash;
  const calls: ScriptCalls = { all: 0, lookups: 0 };
  const real = redis.evalsha.bind(redis);
  redis.evalsha = ((...args: unknown[]) => {
    calls.all++;
    if (args.includes(byHash)) calls.lookups++;
    return (real as (...a: unknown[]) => unknown)(...args);
  }) as typeof redis.evalsha;
  try {
    return [await fn(), calls];
  } finally {
    redis.evalsha = real;
  }
}

const submit = (url: string, key: string, headers: Record<string, string> = {}) =>
  postJson(
    `${url}/jobs`,
    { provider: 'claude', systemPrompt: '', userPrompt: 'cached @@fake delay_ms=1@@' },
    { authorization: `Bearer ${key}`, ...headers },
  );
const generate = (url: string, key: string) =>
  postJson(`${url}/generate`, { systemPrompt: '', userPrompt: 'hi' }, { authorization: `Bearer ${key}` });
const revoke = async (name: string) =>
  expect(
    (await fetch(`${api.url}/admin/keys/${name}`, { method: 'DELETE', headers: adminAuth })).status,
  ).toBe(200);

describe('on the routes that go through admission', () => {
  it('a key looked up a moment ago costs one EVALSHA fewer (POST /jobs)', async () => {
    const key = await h.createKey(api.url);
    const [first, miss] = await scriptsDuring(api, () => submit(api.url, key));
    const [second, hit] = await scriptsDuring(api, () => submit(api.url, key));
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(miss.lookups).toBe(1);
    expect(hit.lookups).toBe(0);
    expect(hit.all).toBe(miss.all - 1);
  });

  it('and on POST /generate', async () => {
    const key = await h.createKey(api.url);
    const [first, miss] = await scriptsDuring(api, () => generate(api.url, key));
    const [second, hit] = await scriptsDuring(api, () => generate(api.url, key));
    expect([first.status, second.status]).toEqual([200, 200]);
    expect([miss.lookups, hit.lookups]).toEqual([1, 0]);
  });

  it('refuses a revoked key with 401 at once on POST /jobs, even from the cache; then looks it up again', async () => {
    const key = await h.createKey(api.url, 'revoked-jobs');
    expect((await submit(api.url, key)).status).toBe(202); // cached now
    await revoke('revoked-jobs');
    const [refused, cached] = await scriptsDuring(api, () => submit(api.url, key));
    expect(refused.status).toBe(401);
    expect(refused.json.error).toMatchObject({ type: 'unauthorized', message: 'Invalid API key' });
    expect(cached.lookups).toBe(0); // the cache answered the lookup; admission refused
    // The 401 dropped the entry: the next request takes the lookup (which counts failures).
    const [again, looked] = await scriptsDuring(api, () => submit(api.url, key));
    expect(again.status).toBe(401);
    expect(looked.lookups).toBe(1);
  });

  it('refuses a revoked key with 401 at once on POST /generate, even from the cache', async () => {
    const key = await h.createKey(api.url, 'revoked-generate');
    expect((await generate(api.url, key)).status).toBe(200);
    await revoke('revoked-generate');
    const [refused, cached] = await scriptsDuring(api, () => generate(api.url, key));
    expect(refused.status).toBe(401);
    expect(cached.lookups).toBe(0);
  });

  it('never caches a wrong key: every one is looked up and counted as a failed authentication', async () => {
    const strict = await h.startApi({ AUTH_FAILURE_LIMIT: '2' });
    const good = await h.createKey(strict.url);
    expect((await submit(strict.url, good)).status).toBe(202);
    const statuses: number[] = [];
    const [, calls] = await scriptsDuring(strict, async () => {
      for (let i = 0; i < 3; i++) statuses.push((await submit(strict.url, 'cbk_wrong-key')).status);
    });
    expect(statuses).toEqual([401, 401, 429]);
    expect(calls.lookups).toBe(3);
    // A valid key from the blocked address still gets in.
    expect((await submit(strict.url, good)).status).toBe(202);
  });

  it('looks every key up when KEY_CACHE_TTL_MS is 0', async () => {
    const uncached = await h.startApi({ KEY_CACHE_TTL_MS: '0' });
    const key = await h.createKey(uncached.url);
    expect((await submit(uncached.url, key)).status).toBe(202);
    const [res, calls] = await scriptsDuring(uncached, () => submit(uncached.url, key));
    expect(res.status).toBe(202);
    expect(calls.lookups).toBe(1);
  });
});

describe('every other route', () => {
  it('keeps the uncached lookup, as does POST /jobs with an Idempotency-Key', async () => {
    const key = await h.createKey(api.url);
    const auth = { authorization: `Bearer ${key}` };
    const created = await submit(api.url, key); // the key is cached now
    expect(created.status).toBe(202);
    const requests: [string, () => Promise<Response | { status: number }>][] = [
      ['GET /jobs', () => fetch(`${api.url}/jobs`, { headers: auth })],
      ['GET /jobs/:id', () => fetch(`${api.url}/jobs/${String(created.json.id)}`, { headers: auth })],
      ['GET /usage', () => fetch(`${api.url}/usage`, { headers: auth })],
      ['GET /me', () => fetch(`${api.url}/me`, { headers: auth })],
      ['GET /v1/models', () => fetch(`${api.url}/v1/models`, { headers: auth })],
      [
        'POST /v1/messages/count_tokens',
        () =>
          postJson(
            `${api.url}/v1/messages/count_tokens`,
            { model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] },
            auth,
          ),
      ],
      ['POST /jobs with Idempotency-Key', () => submit(api.url, key, { 'idempotency-key': 'once' })],
      ['POST /jobs with the same Idempotency-Key', () => submit(api.url, key, { 'idempotency-key': 'once' })],
    ];
    for (const [name, call] of requests) {
      const [res, calls] = await scriptsDuring(api, call);
      expect({ name, status: res.status < 300, lookups: calls.lookups }).toEqual({
        name,
        status: true,
        lookups: 1,
      });
    }
  });

  it('answers an Idempotency-Key repeat of a revoked key with 401, not its old job', async () => {
    const key = await h.createKey(api.url, 'revoked-idem');
    const idem = { 'idempotency-key': 'replayed' };
    expect((await submit(api.url, key, idem)).status).toBe(202);
    expect((await submit(api.url, key)).status).toBe(202); // cached now
    await revoke('revoked-idem');
    expect((await submit(api.url, key, idem)).status).toBe(401);
  });
});
