/**
 * A key is its immutable id; its name is a label. Revoking a key takes its jobs, usage and logs
 * with it: a new key given the same name starts with nothing of the old one, and the old key's
 * queued jobs are cancelled, never run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '@cli-bridge/shared';
import { ADMIN_KEY, tempDir } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { readRecords, waitFor } from './helpers/records.js';

const recordDir = tempDir('identity-records');
const h = createHarness('identity', { FAKE_CLI_RECORD_DIR: recordDir });
let url = '';
const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const get = async (path: string, headers: Record<string, string>) =>
  (await (await fetch(`${url}${path}`, { headers })).json()) as any;

beforeAll(async () => {
  url = (await h.startApi()).url;
  await h.startWorker(['claude'], { FAKE_CLI_RECORD_DIR: recordDir, WORKER_CONCURRENCY_CLAUDE: '1' });
});
afterAll(() => h.cleanup());

describe('a revoked key', () => {
  it('leaves nothing to a new key of the same name: no jobs, usage or logs', async () => {
    const old = await h.createKey(url, 'reused');
    const oldAuth = { authorization: `Bearer ${old}` };
    const done = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'old secret answer' },
      oldAuth,
    );
    expect(done.status).toBe(200);
    const oldJob = done.json.job_id;
    expect((await get('/usage', oldAuth)).usage.today.requests).toBe(1);
    expect((await fetch(`${url}/admin/keys/reused`, { method: 'DELETE', headers: admin })).status).toBe(200);

    const fresh = await h.createKey(url, 'reused');
    const freshAuth = { authorization: `Bearer ${fresh}` };
    expect((await get('/usage', freshAuth)).usage).toMatchObject({ today: { requests: 0, tokens: 0 } });
    expect((await get('/jobs', freshAuth)).jobs).toEqual([]);
    expect((await fetch(`${url}/jobs/${oldJob}`, { headers: freshAuth })).status).toBe(404);
    expect((await fetch(`${url}/jobs/${oldJob}/events`, { headers: freshAuth })).status).toBe(404);
    expect((await get('/admin/logs?key=reused', admin)).logs).toEqual([]);
    expect((await get('/admin/keys/reused', admin)).usage.total.requests).toBe(0);
    // The global log still has the old key's request, naming its (old) id.
    const logged = (await get('/admin/logs?limit=500', admin)).logs.find((l: any) => l.job_id === oldJob);
    expect(logged).toMatchObject({ key: 'reused' });
    expect(logged.key_id).not.toBe(await h.keyId('reused'));
  });

  it('has its queued jobs cancelled, never run', async () => {
    const key = await h.createKey(url, 'doomed');
    const auth = { authorization: `Bearer ${key}` };
    const submit = (p: string) =>
      postJson(`${url}/jobs`, { provider: 'claude', systemPrompt: '', userPrompt: p }, auth);
    // One runs (the worker takes one at a time), one waits behind it.
    const running = (await submit('first @@fake delay_ms=1500@@')).json.id;
    const queued = (await submit('never-run-me')).json.id;
    await waitFor(() => readRecords(recordDir).some((r) => r.stdin.includes('first')), 5_000);
    expect((await fetch(`${url}/admin/keys/doomed`, { method: 'DELETE', headers: admin })).status).toBe(200);
    // Its records went with the key: the jobs' own records say how they ended.
    const ended = async (id: string) => {
      const job = await h.redis.hget(`${h.prefix}:claude:${id}`, 'failedReason');
      const tomb = await h.redis.get(h.keys.jobTombstone(id));
      return job ?? (tomb ? 'cancelled (removed while queued)' : undefined);
    };
    expect(await waitFor(() => ended(queued), 5_000)).toMatch(/cancelled/);
    expect(await waitFor(() => ended(running), 5_000)).toMatch(/cancelled/);
    await new Promise((r) => setTimeout(r, 500));
    expect(readRecords(recordDir).some((r) => r.stdin.includes('never-run-me'))).toBe(false);
  });

  it('a key made before key ids keeps working, with its name as its id, after a restart', async () => {
    // As an older bridge stored it: record and data under the name, the hash index → the name.
    const raw = 'cbk_legacy-key-0123456789abcdefghijklmnopqrstuvw';
    await h.redis.hset(h.keys.apiKey('oldtimer'), {
      name: 'oldtimer',
      hash: hashApiKey(raw),
      created_at: new Date().toISOString(),
    });
    await h.redis.hset(h.keys.apiKeyByHash, hashApiKey(raw), 'oldtimer');
    await h.redis.zadd(h.keys.apiKeyIds, Date.now(), 'oldtimer');
    await h.redis.hset(h.keys.usageTotal('oldtimer'), 'requests', '41');
    const restarted = (await h.startApi()).url;
    const auth = { authorization: `Bearer ${raw}` };
    expect(
      (await postJson(`${restarted}/generate`, { systemPrompt: '', userPrompt: 'still me' }, auth)).status,
    ).toBe(200);
    const rec = (await (await fetch(`${restarted}/admin/keys/oldtimer`, { headers: admin })).json()) as any;
    expect(rec).toMatchObject({ id: 'oldtimer', name: 'oldtimer', usage: { total: { requests: 42 } } });
  });
});
