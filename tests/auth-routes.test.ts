/**
 * Authentication of every route, table-driven over the app's OWN route table (read from the
 * Express router stack), so a route added later is covered without being listed here:
 * - every user route answers 401 to no key, a wrong key and a revoked key;
 * - with BRIDGE_ADMIN_KEY unset, every admin route answers 401 "The admin API is disabled",
 *   whatever bearer is sent.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, testConfig } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { fillPath, isAdminRoute, isUserRoute, routeTableOf, type RouteEntry } from './helpers/routes.js';

const h = createHarness('authroutes');
afterAll(() => h.cleanup());

// The tables must exist when the tests are collected (describe.each), hence top-level awaits.
const api = await h.startApi();
const routes = routeTableOf(api, h.config);
const userRoutes = routes.filter(isUserRoute);

const noAdminConfig = { BRIDGE_ADMIN_KEY: '' };
const apiNoAdmin = await h.startApi(noAdminConfig);
const adminRoutes = routeTableOf(apiNoAdmin, testConfig(h.prefix, noAdminConfig)).filter(isAdminRoute);

const adminAuth = { authorization: `Bearer ${ADMIN_KEY}` };
// A live key that owns a job: the parameters of the routes point at real things, so a hole in
// the authentication shows as a 200 (or a 202, a 409...), not as a 404 that passes by accident.
const ownerKey = await h.createKey(api.url, 'owner');
const ownersJob = await postJson(
  `${api.url}/jobs`,
  { provider: 'claude', systemPrompt: '', userPrompt: 'owned job (no worker: it stays queued)' },
  { authorization: `Bearer ${ownerKey}` },
);
if (ownersJob.status !== 202) throw new Error(`setup: job submit answered ${ownersJob.status}`);
const params: Record<string, string> = {
  id: String(ownersJob.json.id),
  name: 'owner',
  provider: 'claude',
};

// A key that worked, then was revoked.
const revokedKey = await h.createKey(api.url, 'revoked');
{
  const res = await fetch(`${api.url}/admin/keys/revoked`, { method: 'DELETE', headers: adminAuth });
  if (res.status !== 200) throw new Error(`setup: revoke answered ${res.status}`);
}

/** A body a route could accept, so that only the authentication stands in the way. */
const bodyFor = (r: RouteEntry) =>
  r.method === 'POST' || r.method === 'PATCH' || r.method === 'PUT'
    ? JSON.stringify(
        r.path === '/jobs'
          ? { provider: 'claude', systemPrompt: '', userPrompt: 'auth probe' }
          : r.path.startsWith('/admin')
            ? { name: 'made-by-probe', maxRequestsPerDay: 1 }
            : { systemPrompt: '', userPrompt: 'auth probe' },
      )
    : undefined;

async function call(base: string, r: RouteEntry, headers: Record<string, string>) {
  const ac = new AbortController();
  const res = await fetch(`${base}${fillPath(r.path, params)}`, {
    method: r.method,
    headers: { 'content-type': 'application/json', ...headers },
    body: bodyFor(r),
    signal: ac.signal,
  });
  const type = res.headers.get('content-type') ?? '';
  // An SSE route that let the caller in would stream forever: read no further than its status.
  const json = type.startsWith('application/json') ? ((await res.json()) as any) : undefined;
  ac.abort();
  return { status: res.status, type, json };
}

describe('the route table the tests iterate over', () => {
  it('is the real one: it holds every known user route, and the admin routes', () => {
    const show = (list: RouteEntry[]) => list.map((r) => `${r.method} ${r.path}`);
    expect(show(userRoutes)).toEqual(
      expect.arrayContaining([
        'POST /generate',
        'POST /generate-codex',
        'POST /jobs',
        'GET /jobs',
        'GET /jobs/:id',
        'DELETE /jobs/:id',
        'GET /jobs/:id/events',
        'GET /usage',
        'POST /v1/chat/completions',
        'POST /v1/responses',
        'POST /v1/messages',
        'POST /v1/messages/count_tokens',
        'GET /v1/models',
        'GET /v1/models/:id',
      ]),
    );
    expect(show(adminRoutes)).toEqual(
      expect.arrayContaining([
        'POST /admin/keys',
        'GET /admin/keys',
        'GET /admin/keys/:name',
        'PATCH /admin/keys/:name',
        'DELETE /admin/keys/:name',
        'POST /admin/keys/:name/reset-usage',
        'GET /admin/logs',
        'GET /admin/queues',
        'POST /admin/queues/:provider/pause',
        'POST /admin/queues/:provider/resume',
        'POST /admin/queues/:provider/clear-hold',
        'GET /admin/jobs',
        'GET /admin/jobs/:id',
        'POST /admin/jobs/:id/retry',
        'DELETE /admin/jobs/:id',
        'GET /admin/workers',
        'GET /admin/stats',
      ]),
    );
    // Health, readiness and admin are not user routes; the split leaves nothing out.
    expect(show(routes)).toEqual(expect.arrayContaining(['GET /health', 'GET /ready']));
    expect(show(userRoutes).some((r) => /\/(health|ready|admin)\b/.test(r))).toBe(false);
    expect(routes.length).toBe(userRoutes.length + adminRoutes.length + 2);
  });
});

const userCases: { name: string; headers: () => Record<string, string>; message: RegExp }[] = [
  { name: 'no key', headers: () => ({}), message: /^Missing API key/ },
  {
    name: 'a wrong key (Bearer)',
    headers: () => ({ authorization: 'Bearer cbk_this-key-was-never-issued-0000000000000000' }),
    message: /^Invalid API key$/,
  },
  {
    name: 'a wrong key (x-api-key)',
    headers: () => ({ 'x-api-key': 'cbk_this-key-was-never-issued-1111111111111111' }),
    message: /^Invalid API key$/,
  },
  {
    name: 'a revoked key',
    headers: () => ({ authorization: `Bearer ${revokedKey}` }),
    message: /^Invalid API key$/,
  },
];

/**
 * The 401 body in the route's dialect: the bridge's own, or on /v1 OpenAI's
 * (`{error: {type, code, message, param}}`) or, on /v1/messages*, Anthropic's
 * (`{type: "error", error: {type, message}}`).
 */
function expectUnauthorized(route: RouteEntry, json: any, message: RegExp) {
  const text = expect.stringMatching(message);
  if (route.path.startsWith('/v1/messages')) {
    expect(json).toEqual({ type: 'error', error: { type: 'authentication_error', message: text } });
  } else if (route.path.startsWith('/v1/')) {
    expect(json?.error).toEqual({
      type: 'authentication_error',
      code: 'invalid_api_key',
      param: null,
      message: text,
    });
  } else {
    expect(json?.error).toMatchObject({ type: 'unauthorized', message: text });
  }
}

describe.each(userRoutes.map((r) => [`${r.method} ${r.path}`, r] as const))('user route %s', (_, route) => {
  it.each(userCases)('answers 401 to $name', async ({ headers, message }) => {
    const res = await call(api.url, route, headers());
    expect(res.status).toBe(401);
    expectUnauthorized(route, res.json, message);
  });
});

describe('the owner key, for contrast', () => {
  it('is let in where the others were refused', async () => {
    const res = await call(
      api.url,
      { method: 'GET', path: '/jobs/:id' },
      { authorization: `Bearer ${ownerKey}` },
    );
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: params.id, status: 'queued' });
  });
});

const disabled = 'The admin API is disabled: BRIDGE_ADMIN_KEY is not set';
const adminCases: { name: string; headers: () => Record<string, string> }[] = [
  { name: 'no bearer', headers: () => ({}) },
  { name: 'the test suite admin key', headers: () => adminAuth },
  { name: 'a random bearer', headers: () => ({ authorization: 'Bearer 0123456789abcdef0123456789' }) },
  { name: 'a user key', headers: () => ({ authorization: `Bearer ${ownerKey}` }) },
  { name: 'an x-api-key', headers: () => ({ 'x-api-key': ADMIN_KEY }) },
];

describe.each(adminRoutes.map((r) => [`${r.method} ${r.path}`, r] as const))(
  'admin route %s with BRIDGE_ADMIN_KEY unset',
  (_, route) => {
    it.each(adminCases)('refuses $name with 401 "admin API disabled"', async ({ headers }) => {
      const res = await call(apiNoAdmin.url, route, headers());
      expect(res.status).toBe(401);
      expect(res.json?.error).toEqual({ type: 'unauthorized', message: disabled });
    });
  },
);

const adminRefusals: { name: string; headers: () => Record<string, string>; message: string }[] = [
  { name: 'no credentials', headers: () => ({}), message: 'Invalid admin key' },
  {
    name: 'a user key',
    headers: () => ({ authorization: `Bearer ${ownerKey}` }),
    message: 'Invalid admin key',
  },
  {
    name: 'a user key as x-api-key',
    headers: () => ({ 'x-api-key': ownerKey }),
    message: 'Invalid admin key',
  },
];

describe.each(adminRoutes.map((r) => [`${r.method} ${r.path}`, r] as const))(
  'admin route %s with BRIDGE_ADMIN_KEY set',
  (_, route) => {
    it.each(adminRefusals)('refuses $name with 401', async ({ headers, message }) => {
      const res = await call(api.url, route, headers());
      expect(res.status).toBe(401);
      expect(res.json?.error).toEqual({ type: 'unauthorized', message });
    });
  },
);

describe('admin routes with BRIDGE_ADMIN_KEY set, for contrast', () => {
  it('let the admin key in on the same Redis', async () => {
    const res = await call(api.url, { method: 'GET', path: '/admin/keys' }, adminAuth);
    expect(res.status).toBe(200);
    expect(res.json.keys.map((k: any) => k.name)).toContain('owner');
  });
});
