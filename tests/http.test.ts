/**
 * HTTP hardening: security headers, CORS, rate limits that live in Redis (so they hold across
 * replicas), the failed-authentication limiter, body limits, request ids, the error envelope.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY } from './helpers/env.js';
import { cleanupAll } from './helpers/leak-check.js';
import { createHarness, postJson } from './helpers/harness.js';

const harnesses: ReturnType<typeof createHarness>[] = [];
async function api(overrides: Record<string, string>) {
  const h = createHarness('http', overrides);
  harnesses.push(h);
  const server = await h.startApi();
  return { h, url: server.url };
}
afterAll(() => cleanupAll(harnesses));

describe('headers', () => {
  it('sends helmet security headers and echoes a sane x-request-id', async () => {
    const { url } = await api({});
    const res = await fetch(`${url}/health`, { headers: { 'x-request-id': 'req-123' } });
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-powered-by')).toBeNull();
    expect(res.headers.get('x-request-id')).toBe('req-123');
    const weird = await fetch(`${url}/health`, { headers: { 'x-request-id': 'bad id\twith spaces' } });
    expect(weird.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers CORS for configured origins only', async () => {
    const { url } = await api({ CORS_ORIGINS: 'https://app.example' });
    const good = await fetch(`${url}/health`, { headers: { origin: 'https://app.example' } });
    expect(good.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const bad = await fetch(`${url}/health`, { headers: { origin: 'https://evil.example' } });
    expect(bad.headers.get('access-control-allow-origin')).toBeNull();
    const { url: open } = await api({});
    expect(
      (await fetch(`${open}/health`, { headers: { origin: 'https://any.example' } })).headers.get(
        'access-control-allow-origin',
      ),
    ).toBe('*');
  });

  it('answers unknown routes and oversized bodies with the error envelope', async () => {
    const { url } = await api({ BODY_LIMIT_BYTES: '2048' });
    const nf = await postJson(`${url}/nope`, {});
    expect(nf.status).toBe(404);
    expect(nf.json.error.type).toBe('not_found');
    const big = await postJson(
      `${url}/admin/keys`,
      { name: 'x'.repeat(5000) },
      { authorization: `Bearer ${ADMIN_KEY}` },
    );
    expect(big.status).toBe(413);
    expect(big.json.error.type).toBe('payload_too_large');
  });
});

describe('rate limits', () => {
  it('limits requests without a key per client in a window, shared through Redis; /health is exempt', async () => {
    const { h, url } = await api({ RATE_LIMIT_MAX_REQUESTS: '3' });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(`${url}/nowhere`)).status);
    expect(statuses).toEqual([404, 404, 404, 429]);
    const res = await fetch(`${url}/nowhere`);
    expect(await res.json()).toMatchObject({ error: { type: 'rate_limited' } });
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    // A second API process on the same Redis sees the same count.
    const twin = await h.spawnApi({ RATE_LIMIT_MAX_REQUESTS: '3' });
    expect((await fetch(`${twin.url}/nowhere`)).status).toBe(429);
  });

  it("leaves a valid key's traffic to that key's own limits, and polling costs no generate quota", async () => {
    const { h, url } = await api({ RATE_LIMIT_MAX_REQUESTS: '3' });
    await h.startWorker(['claude']);
    const key = await h.createKey(url, undefined, { maxRequestsPerMinute: 2 });
    const auth = { authorization: `Bearer ${key}` };
    const gen = await postJson(`${url}/generate`, { systemPrompt: '', userPrompt: 'hi' }, auth);
    expect(gen.status).toBe(200);
    // Far past the anonymous limit of 3: every poll and usage read answers.
    for (let i = 0; i < 10; i++) {
      expect((await fetch(`${url}/jobs/${gen.json.job_id}`, { headers: auth })).status).toBe(200);
      expect((await fetch(`${url}/usage`, { headers: auth })).status).toBe(200);
    }
    // Eleven reads later, the key's second generate of the minute is still admitted; the third is not.
    expect((await postJson(`${url}/generate`, { systemPrompt: '', userPrompt: 'hi' }, auth)).status).toBe(
      200,
    );
    const third = await postJson(`${url}/generate`, { systemPrompt: '', userPrompt: 'hi' }, auth);
    expect(third.status).toBe(429);
    expect(third.json.error).toMatchObject({ type: 'limit_exceeded', limit: 'maxRequestsPerMinute' });
  });

  it('blocks an address after repeated failed authentications, but never a valid key from it', async () => {
    const { h, url } = await api({ AUTH_FAILURE_LIMIT: '2' });
    await h.startWorker(['claude']);
    const key = await h.createKey(url);
    // One failure through the generate path (resolved in the admission script), one through
    // the plain lookup; then the address is blocked for unauthenticated requests.
    const bad = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'x' },
      { authorization: 'Bearer wrong' },
    );
    expect(bad.status).toBe(401);
    expect((await fetch(`${url}/usage`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    for (const res of [
      await fetch(`${url}/usage`, { headers: { authorization: 'Bearer wrong' } }),
      await fetch(`${url}/usage`),
      await fetch(`${url}/admin/keys`, { headers: { authorization: 'Bearer not-the-admin-key' } }),
      await fetch(`${url}/generate`, {
        method: 'POST',
        headers: { authorization: 'Bearer wrong-again', 'content-type': 'application/json' },
        body: JSON.stringify({ systemPrompt: '', userPrompt: 'x' }),
      }),
    ]) {
      expect(res.status).toBe(429);
      expect(((await res.json()) as any).error.message).toMatch(/failed authentications/);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    // The good key behind the same address is not locked out, on either path; nor is the admin.
    expect((await fetch(`${url}/usage`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
    const good = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'x' },
      {
        authorization: `Bearer ${key}`,
      },
    );
    expect(good.status).toBe(200);
    expect(
      (await fetch(`${url}/admin/keys`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).status,
    ).toBe(200);
  });

  it('counts wrong admin keys as failed authentications', async () => {
    const { url } = await api({ AUTH_FAILURE_LIMIT: '2' });
    const wrong = { authorization: 'Bearer not-the-admin-key-at-all' };
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(`${url}/admin/keys`, { headers: wrong })).status);
    expect(statuses).toEqual([401, 401, 429]);
  });

  it('never counts requests in flight with a good key as failures', async () => {
    const { h, url } = await api({ AUTH_FAILURE_LIMIT: '3', WORKER_CONCURRENCY_CLAUDE: '12' });
    await h.startWorker(['claude']);
    const key = await h.createKey(url);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        postJson(
          `${url}/generate`,
          { systemPrompt: '', userPrompt: `slow-${i} @@fake delay_ms=400@@` },
          { authorization: `Bearer ${key}` },
        ),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(12).fill(200));
  });

  it('has a stricter limit on /admin', async () => {
    const { url } = await api({ ADMIN_RATE_LIMIT_MAX: '2' });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push(
        (await fetch(`${url}/admin/keys`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).status,
      );
    expect(statuses).toEqual([200, 200, 429]);
    expect((await fetch(`${url}/ready`)).status).toBe(200);
  });
});
