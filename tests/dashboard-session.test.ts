/**
 * Dashboard sessions over real HTTP: the admin's cookie (flags, what it opens, logout, expiry,
 * the same-origin rule for its writes, failed logins counted) and the key holder's cookie (only
 * its own GET /me; refused on admin and other user routes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY } from './helpers/env.js';
import { createHarness } from './helpers/harness.js';

const h = createHarness('dashsession');
let url = '';
const bearer = { authorization: `Bearer ${ADMIN_KEY}` };

beforeAll(async () => {
  url = (await h.startApi({ TRUST_PROXY: '1' })).url;
});
afterAll(() => h.cleanup());

async function call(method: string, path: string, headers: Record<string, string> = {}, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

/** Logs in; returns the Set-Cookie line and the `name=value` pair to send back. */
async function login(kind: 'admin' | 'me', key: string, base = url, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/${kind}/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ key }),
  });
  const setCookie = res.headers.getSetCookie();
  return { status: res.status, setCookie: setCookie[0] ?? '', cookie: (setCookie[0] ?? '').split(';')[0]! };
}

describe('admin session', () => {
  it('sets an HttpOnly SameSite=Strict cookie with the session TTL, never the key itself', async () => {
    const { status, setCookie, cookie } = await login('admin', ADMIN_KEY);
    expect(status).toBe(200);
    expect(setCookie).toMatch(/^cb_admin=[A-Za-z0-9_-]{43}; /);
    expect(setCookie).toContain('; Path=/;');
    expect(setCookie).toContain('; HttpOnly');
    expect(setCookie).toContain('; SameSite=Strict');
    expect(setCookie).toContain(`; Max-Age=${h.config.DASHBOARD_SESSION_TTL_MS / 1000}`);
    // Plain HTTP: not Secure (the browser would drop it); over HTTPS it is (next test).
    expect(setCookie).not.toContain('Secure');
    expect(setCookie).not.toContain(ADMIN_KEY);
    // Stored under the hash of the id, with the TTL.
    const stored = await h.redis.keys(`${h.prefix}:session:admin:*`);
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.some((k) => k.includes(cookie.split('=')[1]!))).toBe(false);
    const pttl = await h.redis.pttl(stored[0]!);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(h.config.DASHBOARD_SESSION_TTL_MS);
  });

  it('is Secure when the request came over HTTPS (through a trusted proxy)', async () => {
    const { setCookie } = await login('admin', ADMIN_KEY, url, { 'x-forwarded-proto': 'https' });
    expect(setCookie).toContain('; Secure');
  });

  it('opens the admin API; unsafe requests need this origin, bearer callers do not', async () => {
    const { cookie } = await login('admin', ADMIN_KEY);
    expect((await call('GET', '/admin/keys', { cookie })).status).toBe(200);

    const body = { name: 'via-cookie' };
    expect((await call('POST', '/admin/keys', { cookie }, body)).status).toBe(403);
    const foreign = await call('POST', '/admin/keys', { cookie, origin: 'https://evil.example' }, body);
    expect(foreign.status).toBe(403);
    expect(foreign.json.error.type).toBe('forbidden');
    const crossSite = await call('POST', '/admin/keys', { cookie, 'sec-fetch-site': 'cross-site' }, body);
    expect(crossSite.status).toBe(403);
    // A sibling subdomain is same-site, not same-origin; and the browser's word wins over Origin.
    const sameSite = await call(
      'POST',
      '/admin/keys',
      { cookie, origin: url, 'sec-fetch-site': 'same-site' },
      body,
    );
    expect(sameSite.status).toBe(403);
    // Same scheme, host and port: accepted; so is Sec-Fetch-Site: same-origin without an Origin.
    expect((await call('POST', '/admin/keys', { cookie, origin: url }, body)).status).toBe(201);
    expect(
      (await call('DELETE', '/admin/keys/via-cookie', { cookie, 'sec-fetch-site': 'same-origin' })).status,
    ).toBe(200);
    // A bearer caller from any origin is not affected.
    const viaBearer = await call('POST', '/admin/keys', { ...bearer, origin: 'https://evil.example' }, body);
    expect(viaBearer.status).toBe(201);
  });

  it('logs out: the cookie is cleared and the session no longer opens anything', async () => {
    const { cookie } = await login('admin', ADMIN_KEY);
    const out = await fetch(`${url}/admin/session`, { method: 'DELETE', headers: { cookie, origin: url } });
    expect(out.status).toBe(200);
    expect(out.headers.getSetCookie()[0]).toMatch(/^cb_admin=; Path=\/; Expires=Thu, 01 Jan 1970/);
    const after = await call('GET', '/admin/keys', { cookie });
    expect(after.status).toBe(401);
    expect(after.json.error.message).toMatch(/log in again/);
  });

  it('expires after DASHBOARD_SESSION_TTL_MS', async () => {
    const shortUrl = (await h.startApi({ DASHBOARD_SESSION_TTL_MS: '1000' })).url;
    const { setCookie, cookie } = await login('admin', ADMIN_KEY, shortUrl);
    expect(setCookie).toContain('; Max-Age=1;');
    const get = () => fetch(`${shortUrl}/admin/keys`, { headers: { cookie } }).then((r) => r.status);
    expect(await get()).toBe(200);
    // The record's own TTL ends it: wait for Redis to drop it (an event, not a fixed sleep).
    const ttls = await Promise.all(
      (await h.redis.keys(`${h.prefix}:session:admin:*`)).map((k) => h.redis.pttl(k)),
    );
    expect(ttls.some((t) => t > 0 && t <= 1000)).toBe(true);
    await expect.poll(get, { timeout: 5_000, interval: 100 }).toBe(401);
  });

  it('refuses a wrong admin key and counts it as a failed authentication', async () => {
    const strict = await h.startApi({ AUTH_FAILURE_LIMIT: '2' });
    const wrong = ADMIN_KEY.replace(/.$/, '!');
    expect((await login('admin', wrong, strict.url)).status).toBe(401);
    expect((await login('admin', wrong, strict.url)).setCookie).toBe('');
    // Past the limit: 429 for this address's unauthenticated requests...
    const blocked = await login('admin', wrong, strict.url);
    expect(blocked.status).toBe(429);
    expect((await fetch(`${strict.url}/admin/keys`)).status).toBe(429);
    // ...while the right key still logs in.
    expect((await login('admin', ADMIN_KEY, strict.url)).status).toBe(200);
  });

  it('GET /admin/session says whether the cookie is a live session, without counting a failure', async () => {
    const strict = await h.startApi({ AUTH_FAILURE_LIMIT: '1' });
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${strict.url}/admin/session`, { headers: { cookie: 'cb_admin=stale' } });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ logged_in: false });
    }
    const { cookie } = await login('admin', ADMIN_KEY, strict.url);
    const res = await fetch(`${strict.url}/admin/session`, { headers: { cookie } });
    expect(await res.json()).toEqual({ logged_in: true });
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('is refused as a whole when BRIDGE_ADMIN_KEY is not set', async () => {
    const off = await h.startApi({ BRIDGE_ADMIN_KEY: '' });
    for (const method of ['GET', 'POST', 'DELETE']) {
      const res = await fetch(`${off.url}/admin/session`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: method === 'POST' ? JSON.stringify({ key: ADMIN_KEY }) : undefined,
      });
      expect(res.status).toBe(401);
      expect(((await res.json()) as any).error.message).toMatch(/admin API is disabled/);
    }
  });

  it('refuses a bad body with 400 and an oversized one with 413', async () => {
    expect((await call('POST', '/admin/session', {}, {})).status).toBe(400);
    expect((await call('POST', '/admin/session', {}, { key: 'x'.repeat(10_000) })).status).toBe(413);
  });
});

describe('key holder session', () => {
  let userKey = '';
  beforeAll(async () => {
    userKey = await h.createKey(url, 'holder', { maxRequestsPerDay: 7 });
    await h.createKey(url, 'someone-else');
  });

  it('sets a cookie scoped to /me that opens GET /me: the key own name, limits, usage, logs', async () => {
    const { status, setCookie, cookie } = await login('me', userKey);
    expect(status).toBe(200);
    expect(setCookie).toMatch(/^cb_me=[A-Za-z0-9_-]{43}; /);
    expect(setCookie).toContain('; Path=/me;');
    expect(setCookie).toContain('; HttpOnly');
    expect(setCookie).toContain('; SameSite=Strict');
    expect(setCookie).not.toContain(userKey);
    const me = await call('GET', '/me', { cookie });
    expect(me.status).toBe(200);
    expect(Object.keys(me.json).sort()).toEqual(['active', 'created_at', 'limits', 'logs', 'name', 'usage']);
    expect(me.json).toMatchObject({
      name: 'holder',
      limits: { maxRequestsPerDay: 7 },
      usage: { today: { requests: 0 }, month: { requests: 0 } },
      logs: [],
    });
    expect(JSON.stringify(me.json)).not.toContain('someone-else');
    // The key itself works as a bearer too.
    expect((await call('GET', '/me', { authorization: `Bearer ${userKey}` })).json.name).toBe('holder');
  });

  it('opens nothing else: not the admin API, not the other user routes', async () => {
    const { cookie } = await login('me', userKey);
    const sid = cookie.split('=')[1]!;
    // Even sent under the admin cookie's name, a key holder's session is no admin session.
    expect((await call('GET', '/admin/keys', { cookie: `cb_admin=${sid}` })).status).toBe(401);
    expect((await call('GET', '/admin/keys', { cookie })).status).toBe(401);
    expect((await call('GET', '/usage', { cookie })).status).toBe(401);
    expect((await call('GET', '/jobs/some-id', { cookie })).status).toBe(401);
    const gen = await call(
      'POST',
      '/generate',
      { cookie, origin: url },
      { systemPrompt: '', userPrompt: 'x' },
    );
    expect(gen.status).toBe(401);
    // And an admin session does not open /me.
    const admin = await login('admin', ADMIN_KEY);
    expect((await call('GET', '/me', { cookie: `cb_me=${admin.cookie.split('=')[1]}` })).status).toBe(401);
  });

  it('refuses a wrong key, logs out, and ends with its key', async () => {
    expect((await login('me', 'cbk_wrong')).status).toBe(401);
    const first = await login('me', userKey);
    const out = await fetch(`${url}/me/session`, {
      method: 'DELETE',
      headers: { cookie: first.cookie, origin: url },
    });
    expect(out.status).toBe(200);
    expect(out.headers.getSetCookie()[0]).toMatch(/^cb_me=; Path=\/me; Expires=Thu, 01 Jan 1970/);
    expect((await call('GET', '/me', { cookie: first.cookie })).status).toBe(401);

    const second = await login('me', userKey);
    expect((await call('DELETE', '/admin/keys/holder', bearer)).status).toBe(200);
    expect((await call('GET', '/me', { cookie: second.cookie })).status).toBe(401);
  });
});

describe('the static page', () => {
  it('serves /dashboard and /dashboard/me with a strict CSP: no inline script or style', async () => {
    for (const path of ['/dashboard', '/dashboard/me']) {
      const res = await fetch(`${url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const csp = res.headers.get('content-security-policy')!;
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      const html = await res.text();
      // Every script and stylesheet is a file of this origin.
      expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
      expect(html).not.toMatch(/<style|\sstyle=/);
      const asset = /src="(\/dashboard\/assets\/[^"]+\.js)"/.exec(html)![1]!;
      const js = await fetch(`${url}${asset}`);
      expect(js.status).toBe(200);
      expect(js.headers.get('cache-control')).toContain('immutable');
      expect(js.headers.get('content-security-policy')).toBe(csp);
    }
    expect((await fetch(`${url}/dashboard/assets/nope.js`)).status).toBe(404);
  });
});
