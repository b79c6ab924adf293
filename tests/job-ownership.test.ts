/**
 * A job belongs to the key that submitted it, in EVERY state it can be in: queued, running,
 * completed, failed, cancelled while queued (BullMQ no longer holds it: a separate "tombstone"
 * record answers for it) and cancelled while running. For each, another key gets exactly the
 * 404 a job that never existed gets (never 200, never 409) from GET /jobs/:id, DELETE /jobs/:id
 * and GET /jobs/:id/events, and its DELETE changes nothing; the owner gets its answer.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { isAlive, readRecords, waitFor } from './helpers/records.js';
import { readSse } from './helpers/sse.js';

const recordDir = tempDir('ownership-records');
// One Claude run at a time: a hanging job holds the slot, so the next one stays queued.
const h = createHarness('ownership', { FAKE_CLI_RECORD_DIR: recordDir, WORKER_CONCURRENCY_CLAUDE: '1' });
let url = '';
let ownerKey = '';
let otherKey = '';
const OWNER = () => ({ authorization: `Bearer ${ownerKey}` });
const OTHER = () => ({ authorization: `Bearer ${otherKey}` });

async function request(method: string, path: string, headers: Record<string, string>) {
  const res = await fetch(`${url}${path}`, { method, headers });
  return { status: res.status, json: (await res.json()) as any };
}
const view = (id: string, headers = OWNER()) => request('GET', `/jobs/${id}`, headers);
const cancel = (id: string, headers = OWNER()) => request('DELETE', `/jobs/${id}`, headers);

/** Opens the job's event stream and reads no further than its status (a live job never ends). */
async function openEvents(id: string, headers: Record<string, string>) {
  const ac = new AbortController();
  const res = await fetch(`${url}/jobs/${id}/events`, { headers, signal: ac.signal });
  const type = res.headers.get('content-type') ?? '';
  const json = type.startsWith('application/json') ? ((await res.json()) as any) : undefined;
  ac.abort();
  return { status: res.status, type, json };
}

/** The whole event stream of a finished job, as its owner replays it. */
const replay = (id: string) =>
  readSse(`${url}/jobs/${id}/events`, {
    headers: OWNER(),
    until: (evs) => evs.some((e) => e.event === 'done'),
  });

const submit = async (userPrompt: string) => {
  const res = await postJson(`${url}/jobs`, { provider: 'claude', systemPrompt: '', userPrompt }, OWNER());
  expect(res.status).toBe(202);
  return String(res.json.id);
};
const statusOf = async (id: string) => (await view(id)).json.status as string;
const until = (id: string, status: string) =>
  waitFor(async () => (await statusOf(id)) === status, 10_000, `job ${id} to be ${status}`);

/** What GET/DELETE answer for a job id that never existed, with `id` in place of that id. */
let notFoundBody: (id: string) => unknown;

/**
 * Another key must learn nothing: the three routes answer the very 404 body a job that never
 * existed gets, and the job is as it was.
 */
async function expectHiddenFromOther(id: string) {
  const before = (await view(id)).json;
  const read = await view(id, OTHER());
  expect(read.status, 'GET by another key').toBe(404);
  expect(read.json).toEqual(notFoundBody(id));
  const del = await cancel(id, OTHER());
  expect(del.status, 'DELETE by another key').toBe(404);
  expect(del.json).toEqual(notFoundBody(id));
  const events = await openEvents(id, OTHER());
  expect(events.status, 'GET events by another key').toBe(404);
  expect(events.json).toEqual(notFoundBody(id));
  // The other key's DELETE cancelled nothing.
  expect((await view(id)).json.status).toBe(before.status);
}

let completed = '';
let failed = '';
let running = '';
let queued = '';

beforeAll(async () => {
  url = (await h.startApi()).url;
  await h.startWorker(['claude'], { FAKE_CLI_RECORD_DIR: recordDir });
  ownerKey = await h.createKey(url, 'owner');
  otherKey = await h.createKey(url, 'other');

  const ghost = `claude-${randomUUID()}`;
  const body = (await view(ghost, OTHER())).json;
  notFoundBody = (id) => JSON.parse(JSON.stringify(body).replaceAll(ghost, id));

  completed = await submit('ownership: completes');
  await until(completed, 'completed');
  failed = await submit('ownership: fails @@fake mode=error-401@@');
  await until(failed, 'failed');
  running = await submit('ownership: runs until cancelled @@fake mode=hang@@');
  await until(running, 'running');
  queued = await submit('ownership: waits behind the hanging job');
});
afterAll(() => h.cleanup());

describe('a job is private to its key in every state', () => {
  it('queued', async () => {
    expect((await view(queued)).json).toMatchObject({ status: 'queued', queue_position: 1 });
    await expectHiddenFromOther(queued);
    const live = await openEvents(queued, OWNER());
    expect(live.status).toBe(200);
    expect(live.type).toMatch(/^text\/event-stream/);
  });

  it('cancelled while queued (the tombstone record)', async () => {
    const res = await cancel(queued);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: queued, status: 'cancelled', error: { type: 'cancelled' } });
    // BullMQ no longer has the job: what answers now is the tombstone.
    expect(await h.redis.exists(`${h.prefix}:claude:${queued}`)).toBe(0);
    expect(JSON.parse((await h.redis.get(h.keys.jobTombstone(queued)))!)).toMatchObject({
      id: queued,
      keyName: 'owner',
    });

    await expectHiddenFromOther(queued);
    expect((await view(queued)).json).toMatchObject({ status: 'cancelled', error: { type: 'cancelled' } });
    expect((await cancel(queued)).status).toBe(409);
    const events = await replay(queued);
    expect(events.status).toBe(200);
    expect(events.events.map((e) => e.event)).toEqual(['error', 'done']);
    expect(events.events[0]!.data.error.type).toBe('cancelled');
  });

  it('running', async () => {
    expect(await statusOf(running)).toBe('running');
    const cli = await waitFor(
      () => readRecords(recordDir).find((r) => r.stdin.includes('runs until cancelled')),
      5_000,
      'the CLI to start',
    );
    expect(isAlive(cli.pid)).toBe(true);
    await expectHiddenFromOther(running);
    // The other key's DELETE did not reach the CLI either.
    expect(isAlive(cli.pid)).toBe(true);
    const live = await openEvents(running, OWNER());
    expect(live.status).toBe(200);
    expect(live.type).toMatch(/^text\/event-stream/);
  });

  it('cancelled while running', async () => {
    const res = await cancel(running);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: running, status: 'cancelled', error: { type: 'cancelled' } });

    await expectHiddenFromOther(running);
    expect((await view(running)).json).toMatchObject({ status: 'cancelled', error: { type: 'cancelled' } });
    expect((await cancel(running)).status).toBe(409);
    const events = await replay(running);
    expect(events.events.at(-2)?.data.error.type).toBe('cancelled');
    expect(events.events.at(-1)?.event).toBe('done');
  });

  it('completed', async () => {
    await expectHiddenFromOther(completed);
    expect((await view(completed)).json).toMatchObject({
      status: 'completed',
      result: { content: [{ type: 'text', text: 'Echo: ownership: completes' }] },
    });
    expect((await cancel(completed)).status).toBe(409);
    const events = (await replay(completed)).events;
    // Text may come in several events (one per stdout chunk of the CLI).
    expect(events.filter((e) => e.event !== 'text').map((e) => e.event)).toEqual(['usage', 'done']);
    const text = events.filter((e) => e.event === 'text').map((e) => e.data.text);
    expect(text.join('')).toBe('Echo: ownership: completes');
  });

  it('failed', async () => {
    await expectHiddenFromOther(failed);
    expect((await view(failed)).json).toMatchObject({ status: 'failed', error: { type: 'provider_error' } });
    expect((await cancel(failed)).status).toBe(409);
    const events = await replay(failed);
    expect(events.events.map((e) => e.event)).toEqual(['error', 'done']);
  });

  it("lists no job of the owner's to the other key", async () => {
    const list = (await request('GET', '/jobs?limit=100', OTHER())).json.jobs;
    expect(list).toEqual([]);
    const mine = (await request('GET', '/jobs?limit=100', OWNER())).json.jobs.map((j: any) => j.id);
    expect(mine).toEqual(expect.arrayContaining([completed, failed, running, queued]));
  });
});
