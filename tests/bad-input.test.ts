/**
 * Hostile or broken requests get a 4xx, never a 500, and nobody without credentials gets the
 * bridge to read a request body.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY } from './helpers/env.js';
import { createHarness } from './helpers/harness.js';

const h = createHarness('bad-input');
let url = '';
let key = '';
beforeAll(async () => {
  url = (await h.startApi()).url;
  key = await h.createKey(url);
});
afterAll(() => h.cleanup());

async function send(path: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
  const res = await fetch(`${url}${path}`, init);
  return { status: res.status, body: (await res.json()) as { error: { type: string; message: string } } };
}

describe('bodies the API cannot read', () => {
  const bogusCharset = { 'content-type': 'application/json; charset=bogus' };
  const gzipPlain = { 'content-type': 'application/json', 'content-encoding': 'gzip' };

  it('answers 401 without a key, before looking at the body', async () => {
    for (const headers of [bogusCharset, gzipPlain]) {
      const res = await send('/generate', { method: 'POST', headers, body: '{"userPrompt":"x"}' });
      expect(res.status).toBe(401);
    }
  });

  it('answers 415 for an unknown charset and 400 for a body that is not what its encoding says', async () => {
    const auth = { authorization: `Bearer ${key}` };
    const charset = await send('/generate', {
      method: 'POST',
      headers: { ...bogusCharset, ...auth },
      body: '{"userPrompt":"x"}',
    });
    expect(charset).toMatchObject({ status: 415, body: { error: { type: 'unsupported_media_type' } } });
    const gzip = await send('/jobs', { method: 'POST', headers: { ...gzipPlain, ...auth }, body: '{}' });
    expect(gzip).toMatchObject({ status: 400, body: { error: { type: 'invalid_request' } } });
    const admin = await send('/admin/keys', {
      method: 'POST',
      headers: { ...gzipPlain, authorization: `Bearer ${ADMIN_KEY}` },
      body: '{}',
    });
    expect(admin.status).toBe(400);
  });

  it('answers an unauthenticated upload at once, without waiting for its body', async () => {
    // Headers announce 8 MB; no byte of the body is ever sent.
    const answer = await new Promise<string>((resolve, reject) => {
      const sock = connect(Number(new URL(url).port), '127.0.0.1');
      let data = '';
      sock.on('data', (d) => {
        data += d.toString();
        if (!data.includes('\r\n\r\n')) return;
        sock.destroy();
        resolve(data);
      });
      sock.on('error', reject);
      sock.write(
        'POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
          `Content-Length: ${8 * 1024 * 1024}\r\nAuthorization: Bearer not-a-key\r\n\r\n`,
      );
      setTimeout(() => reject(new Error(`no answer before the body: ${data}`)), 3_000).unref();
    });
    expect(answer).toMatch(/^HTTP\/1\.1 401/);
    // ... and closes the connection rather than wait for a body it will not read.
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
  });
});

describe('malformed percent-encoding in ids', () => {
  it('is a 400, on every route that takes an id', async () => {
    const auth = { authorization: `Bearer ${key}` };
    for (const [method, path] of [
      ['GET', '/jobs/%ZZ'],
      ['GET', '/jobs/%E0%A4%A'],
      ['GET', '/jobs/%E0%A4%A/events'],
      ['DELETE', '/jobs/%ZZ'],
    ] as const) {
      const res = await send(path, { method, headers: auth });
      expect(res, `${method} ${path}`).toMatchObject({
        status: 400,
        body: { error: { type: 'invalid_request' } },
      });
    }
    const admin = await send('/admin/keys/%ZZ', { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(admin.status).toBe(400);
  });
});
