/**
 * Async jobs: submit → poll, privacy between keys, idempotency, listing, cancellation while
 * queued and while running on a worker in another process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { isAlive, readRecords, waitFor } from './helpers/records.js';
import { readSse } from './helpers/sse.js';

const recordDir = tempDir('job-records');
const h = createHarness('jobs', {
  FAKE_CLI_RECORD_DIR: recordDir,
  WORKER_CONCURRENCY_CLAUDE: '2',
  WORKER_CONCURRENCY_CODEX: '1',
});
let url = '';
let keyA = '';
let keyB = '';
const A = () => ({ authorization: `Bearer ${keyA}` });
const B = () => ({ authorization: `Bearer ${keyB}` });
const get = async (path: string, headers: Record<string, string>) => {
  const res = await fetch(`${url}${path}`, { headers });
  return { status: res.status, json: (await res.json()) as any };
};
const del = async (path: string, headers: Record<string, string>) => {
  const res = await fetch(`${url}${path}`, { method: 'DELETE', headers });
  return { status: res.status, json: (await res.json()) as any };
};
const submit = (body: Record<string, unknown>, headers: Record<string, string> = A()) =>
  postJson(`${url}/jobs`, { provider: 'claude', systemPrompt: '', ...body }, headers);
const poll = (id: string, until: (s: string) => boolean, headers = A()) =>
  waitFor(
    async () => {
      const r = await get(`/jobs/${id}`, headers);
      return until(r.json.status) ? r.json : undefined;
    },
    10_000,
    `job ${id}`,
  );

beforeAll(async () => {
  url = (await h.startApi()).url;
  await h.startWorker(['claude'], { FAKE_CLI_RECORD_DIR: recordDir });
  keyA = await h.createKey(url, 'key-a');
  keyB = await h.createKey(url, 'key-b');
});
afterAll(() => h.cleanup());

describe('submit and poll', () => {
  it('answers 202 with a Location, then the same result the sync route gives', async () => {
    const prompt = 'same answer @@fake in=5 out=6 cost=0.001@@';
    const res = await submit({ userPrompt: prompt });
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({
      id: expect.stringMatching(/^claude-/),
      status: 'queued',
      provider: 'claude',
      created_at: expect.any(String),
    });
    expect(res.headers.get('location')).toBe(`/jobs/${res.json.id}`);
    const done = await poll(res.json.id, (s) => s === 'completed');
    expect(done).toMatchObject({
      started_at: expect.any(String),
      finished_at: expect.any(String),
      model: 'sonnet',
    });
    const sync = await postJson(`${url}/generate`, { systemPrompt: '', userPrompt: prompt }, A());
    const strip = ({ job_id: _j, duration_ms: _d, ...rest }: any) => rest;
    expect(strip(done.result)).toEqual(strip(sync.json));
    expect(done.result.job_id).toBe(res.json.id);
  });

  it('validates the body and the provider', async () => {
    expect(
      (await postJson(`${url}/jobs`, { provider: 'gemini', systemPrompt: '', userPrompt: 'x' }, A())).json
        .error.field,
    ).toBe('provider');
    expect(
      (await postJson(`${url}/jobs`, { provider: 'claude', systemPrompt: '' }, A())).json.error.field,
    ).toBe('userPrompt');
    expect((await get('/jobs/claude-not-a-uuid', A())).status).toBe(404);
  });

  it('reports a failed job with its error', async () => {
    const res = await submit({ userPrompt: '@@fake mode=error-401@@' });
    const failed = await poll(res.json.id, (s) => s === 'failed');
    expect(failed.error).toEqual({
      type: 'provider_error',
      message: expect.stringMatching(/Invalid API key/),
    });
  });
});

describe('privacy between keys', () => {
  it('gives another key 404 for reading, listing, streaming and cancelling', async () => {
    const { json } = await submit({ userPrompt: 'mine @@fake delay_ms=300@@' });
    expect((await get(`/jobs/${json.id}`, B())).status).toBe(404);
    expect((await get('/jobs', B())).json.jobs.map((j: any) => j.id)).not.toContain(json.id);
    expect((await readSse(`${url}/jobs/${json.id}/events`, { headers: B() })).status).toBe(404);
    expect((await del(`/jobs/${json.id}`, B())).status).toBe(404);
    expect((await poll(json.id, (s) => s === 'completed')).status).toBe('completed');
  });
});

describe('idempotency', () => {
  it('20 concurrent submits with one Idempotency-Key make 1 job and 1 CLI run', async () => {
    const headers = { ...A(), 'idempotency-key': 'order-42' };
    const results = await Promise.all(
      Array.from({ length: 20 }, () => submit({ userPrompt: 'idem-once' }, headers)),
    );
    const ids = new Set(results.map((r) => r.json.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.status === 202)).toHaveLength(1);
    expect(results.filter((r) => r.status === 200)).toHaveLength(19);
    await poll([...ids][0]!, (s) => s === 'completed');
    expect(readRecords(recordDir).filter((r) => r.stdin.includes('idem-once'))).toHaveLength(1);
    // Later replays return the same finished job.
    const later = await submit({ userPrompt: 'idem-once' }, headers);
    expect(later.status).toBe(200);
    expect(later.json).toMatchObject({ id: [...ids][0], status: 'completed' });
  });

  it('refuses the same Idempotency-Key with another body (409), and a malformed key (400)', async () => {
    const headers = { ...A(), 'idempotency-key': 'order-43' };
    expect((await submit({ userPrompt: 'first body' }, headers)).status).toBe(202);
    const clash = await submit({ userPrompt: 'second body' }, headers);
    expect(clash.status).toBe(409);
    expect(clash.json.error.type).toBe('conflict');
    expect((await submit({ userPrompt: 'x' }, { ...A(), 'idempotency-key': 'x'.repeat(201) })).status).toBe(
      400,
    );
    // Another API key may use the same Idempotency-Key for its own job.
    expect(
      (await submit({ userPrompt: 'first body' }, { ...B(), 'idempotency-key': 'order-43' })).status,
    ).toBe(202);
  });
});

describe('listing', () => {
  it("lists the caller's jobs newest first, filtered by status", async () => {
    const a = await submit({ userPrompt: 'list-1' });
    const b = await submit({ userPrompt: 'list-2 @@fake mode=error-401@@' });
    await poll(a.json.id, (s) => s === 'completed');
    await poll(b.json.id, (s) => s === 'failed');
    const all = (await get('/jobs?limit=2', A())).json.jobs;
    expect(all.map((j: any) => j.id)).toEqual([b.json.id, a.json.id]);
    const failed = (await get('/jobs?status=failed&limit=100', A())).json.jobs;
    expect(failed.every((j: any) => j.status === 'failed')).toBe(true);
    expect(failed.map((j: any) => j.id)).toContain(b.json.id);
    expect((await get('/jobs?status=bogus', A())).status).toBe(400);
    expect((await get('/jobs?limit=0', A())).status).toBe(400);
    expect((await get('/jobs?cursor=-1', A())).status).toBe(400);
  });

  it('pages with next_cursor: every job once, and a filtered page reads a bounded slice', async () => {
    const key = await h.createKey(url);
    const auth = { authorization: `Bearer ${key}` };
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const prompt = i === 1 ? 'rare @@fake mode=error-401@@' : `page-${i}`;
      ids.push(
        (await postJson(`${url}/jobs`, { provider: 'claude', systemPrompt: '', userPrompt: prompt }, auth))
          .json.id,
      );
    }
    const seen: string[] = [];
    let cursor: number | undefined;
    do {
      const page: { jobs: any[]; next_cursor?: number } = (
        await get(`/jobs?limit=5${cursor === undefined ? '' : `&cursor=${cursor}`}`, auth)
      ).json;
      expect(page.jobs.length).toBeLessThanOrEqual(5);
      seen.push(...page.jobs.map((j: any) => j.id));
      cursor = page.next_cursor;
    } while (cursor !== undefined);
    expect(seen).toEqual([...ids].reverse());
    // The one failed job is the second oldest: a page of 1 reads at most 5 jobs, so it takes
    // pages to reach it, each short, and each says where to go on.
    await poll(ids[1]!, (s) => s === 'failed', auth);
    let found: any[] = [];
    let pages = 0;
    cursor = undefined;
    do {
      const page: { jobs: any[]; next_cursor?: number } = (
        await get(`/jobs?status=failed&limit=1${cursor === undefined ? '' : `&cursor=${cursor}`}`, auth)
      ).json;
      found = found.concat(page.jobs);
      cursor = page.next_cursor;
      pages++;
    } while (cursor !== undefined && found.length === 0);
    expect(found.map((j) => j.id)).toEqual([ids[1]]);
    expect(pages).toBe(3);
    // Leave no backlog for the tests after this one.
    for (const id of ids) await poll(id, (s) => s === 'completed' || s === 'failed', auth);
  });
});

describe('cancellation', () => {
  it('cancels a queued job: removed, status cancelled, settled once; a second cancel is 409', async () => {
    // Both claude slots busy, so the next job waits.
    const blockers = [
      await submit({ userPrompt: 'hold-1 @@fake delay_ms=1500@@' }),
      await submit({ userPrompt: 'hold-2 @@fake delay_ms=1500@@' }),
    ];
    const queued = await submit({ userPrompt: 'never runs' });
    const v = (await get(`/jobs/${queued.json.id}`, A())).json;
    expect(v.status).toBe('queued');
    expect(v.queue_position).toBe(1);
    const res = await del(`/jobs/${queued.json.id}`, A());
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: queued.json.id, status: 'cancelled', error: { type: 'cancelled' } });
    expect((await get(`/jobs/${queued.json.id}`, A())).json.status).toBe('cancelled');
    expect((await del(`/jobs/${queued.json.id}`, A())).status).toBe(409);
    for (const b of blockers) await poll(b.json.id, (s) => s === 'completed');
    expect(readRecords(recordDir).some((r) => r.stdin.includes('never runs'))).toBe(false);
    const logs = (
      await get(`/admin/logs?key=key-a&limit=500`, { authorization: `Bearer ${h.env.BRIDGE_ADMIN_KEY}` })
    ).json.logs;
    expect(logs.filter((l: any) => l.job_id === queued.json.id)).toHaveLength(1);
  });

  it('refuses to cancel a finished job (409)', async () => {
    const { json } = await submit({ userPrompt: 'finish first' });
    await poll(json.id, (s) => s === 'completed');
    const res = await del(`/jobs/${json.id}`, A());
    expect(res.status).toBe(409);
    expect(res.json.error.type).toBe('conflict');
  });

  it('kills a running CLI on a worker in another process within 2 s; settles once', async () => {
    const other = await h.spawnWorker({ WORKER_PROVIDERS: 'codex' });
    const { json } = await postJson(
      `${url}/jobs`,
      { provider: 'codex', systemPrompt: '', userPrompt: 'remote-kill @@fake mode=hang@@' },
      A(),
    );
    const rec = await waitFor(
      () => readRecords(recordDir).find((r) => r.stdin.includes('remote-kill')),
      5_000,
      'the CLI to start',
    );
    expect(rec.ppid).toBe(other.proc.pid);
    // Time the kill itself, from the moment the cancel is sent, not the DELETE's own answer
    // (which also waits for the worker to record the job as cancelled).
    const started = Date.now();
    const deleting = del(`/jobs/${json.id}`, A());
    await waitFor(() => !isAlive(rec.pid) && !isAlive(rec.grandchildPid!), 2_000, 'the process group to die');
    const killedAfterMs = Date.now() - started;
    expect(killedAfterMs).toBeLessThan(2_000);
    const res = await deleting;
    expect(res.json.status).toBe('cancelled');
    const logs = (
      await get(`/admin/logs?key=key-a&limit=500`, { authorization: `Bearer ${h.env.BRIDGE_ADMIN_KEY}` })
    ).json.logs;
    const mine = logs.filter((l: any) => l.job_id === json.id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ status: 'cancelled', error_type: 'cancelled' });
    await other.stop();
  });
});
