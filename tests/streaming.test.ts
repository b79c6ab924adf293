/**
 * SSE: text deltas relayed while the CLI still runs, resumable with Last-Event-ID on another API
 * process, replayed in full after the job ends, heartbeats on a quiet stream, and a client that
 * leaves mid-stream takes its job (and CLI) with it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, tempDir } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { isAlive, readRecords, waitFor } from './helpers/records.js';
import { readSse, type SseEvent } from './helpers/sse.js';

const recordDir = tempDir('stream-records');
const h = createHarness('streaming', { FAKE_CLI_RECORD_DIR: recordDir, SSE_HEARTBEAT_MS: '200' });
let url = '';
let key = '';
const auth = () => ({ authorization: `Bearer ${key}` });
const text = (events: SseEvent[]) =>
  events
    .filter((e) => e.event === 'text')
    .map((e) => e.data.text)
    .join('');
const REPLY = 'one two three four five six';
const replyDirective = `reply=${REPLY.replaceAll(' ', '_')}`;

beforeAll(async () => {
  url = (await h.startApi()).url;
  await h.startWorker(['claude', 'codex'], { FAKE_CLI_RECORD_DIR: recordDir });
  key = await h.createKey(url);
});
afterAll(() => h.cleanup());

describe('streaming generate', () => {
  it('relays text deltas before the CLI exits, then usage and done, each with an id', async () => {
    const res = await readSse(`${url}/generate`, {
      method: 'POST',
      headers: auth(),
      body: {
        systemPrompt: '',
        userPrompt: `live @@fake ${replyDirective} chunk_delay_ms=150 in=9 out=4@@`,
        stream: true,
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    const jobId = res.headers.get('x-job-id')!;
    expect(jobId).toMatch(/^claude-/);
    const types = res.events.map((e) => e.event);
    expect(types.at(-1)).toBe('done');
    expect(types.at(-2)).toBe('usage');
    expect(types.filter((t) => t === 'text').length).toBeGreaterThan(2);
    expect(text(res.events)).toBe(REPLY);
    expect(res.events.every((e) => /^\d+-\d+$/.test(e.id!))).toBe(true);
    const usage = res.events.find((e) => e.event === 'usage')!.data;
    expect(usage).toMatchObject({
      job_id: jobId,
      cost_usd: expect.any(Number),
      duration_ms: expect.any(Number),
    });
    expect(usage.usage).toMatchObject({ input_tokens: 9, output_tokens: 4 });
    const rec = readRecords(recordDir).find((r) => r.stdin.includes('live'))!;
    expect(rec.argv).toContain('stream-json');
    const firstText = res.events.find((e) => e.event === 'text')!;
    expect(firstText.at).toBeLessThan(rec.endedAt!);
  });

  it('bills a streamed request like a plain one', async () => {
    const name = 'billing';
    const k = await h.createKey(url, name);
    await readSse(`${url}/generate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${k}` },
      body: { systemPrompt: '', userPrompt: 'bill @@fake in=3 out=2 cost=0.5@@', stream: true },
    });
    const info = (await (
      await fetch(`${url}/admin/keys/${name}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })
    ).json()) as any;
    expect(info.usage.today).toMatchObject({ requests: 1, input_tokens: 3, output_tokens: 2, cost_usd: 0.5 });
  });

  it('streams Codex as one text event', async () => {
    const res = await readSse(`${url}/generate-codex`, {
      method: 'POST',
      headers: auth(),
      body: { systemPrompt: '', userPrompt: 'codex whole', stream: true },
    });
    expect(res.events.map((e) => e.event)).toEqual(['text', 'usage', 'done']);
    expect(res.events[0]!.data.text).toBe('Echo: codex whole');
  });

  it('ends with an error event when the CLI fails', async () => {
    const res = await readSse(`${url}/generate`, {
      method: 'POST',
      headers: auth(),
      body: { systemPrompt: '', userPrompt: '@@fake mode=error-401@@', stream: true },
    });
    expect(res.events.map((e) => e.event)).toEqual(['error', 'done']);
    expect(res.events[0]!.data.error).toMatchObject({
      type: 'provider_error',
      message: expect.stringMatching(/Invalid API key/),
    });
  });

  it('sends JSON errors (not a stream) when the request is refused', async () => {
    const res = await readSse(`${url}/generate`, {
      method: 'POST',
      headers: auth(),
      body: { systemPrompt: '', stream: true },
    });
    expect(res.status).toBe(400);
    expect(res.json.error.field).toBe('userPrompt');
  });
});

describe('job event streams', () => {
  it('resumes with Last-Event-ID on another API process: exact continuation, nothing lost or repeated', async () => {
    const twin = await h.spawnApi();
    const { json } = await postJson(
      `${url}/jobs`,
      {
        provider: 'claude',
        systemPrompt: '',
        userPrompt: `resume @@fake ${replyDirective} chunk_delay_ms=150@@`,
      },
      auth(),
    );
    const first = await readSse(`${url}/jobs/${json.id}/events`, {
      headers: auth(),
      until: (evs) => evs.filter((e) => e.event === 'text').length >= 2,
    });
    const lastId = first.events.at(-1)!.id!;
    const rest = await readSse(`${twin.url}/jobs/${json.id}/events`, {
      headers: { ...auth(), 'last-event-id': lastId },
    });
    const all = [...first.events, ...rest.events];
    const ids = all.map((e) => e.id!);
    expect(new Set(ids).size).toBe(ids.length);
    const cmp = (a: string, b: string) => {
      const [am, as] = a.split('-').map(Number);
      const [bm, bs] = b.split('-').map(Number);
      return am! - bm! || as! - bs!;
    };
    expect([...ids].sort(cmp)).toEqual(ids);
    expect(text(all)).toBe(REPLY);
    expect(rest.events.at(-1)!.event).toBe('done');

    // Opened after the end: every event again, the same ids.
    const replay = await readSse(`${twin.url}/jobs/${json.id}/events`, { headers: auth() });
    expect(replay.events.map((e) => e.id)).toEqual(ids);
    await twin.stop();
  });

  it('sends heartbeats while a job is quiet', async () => {
    const { json } = await postJson(
      `${url}/jobs`,
      { provider: 'claude', systemPrompt: '', userPrompt: 'quiet @@fake delay_ms=900@@' },
      auth(),
    );
    const res = await readSse(`${url}/jobs/${json.id}/events`, { headers: auth() });
    expect(res.comments.filter((c) => c === 'heartbeat').length).toBeGreaterThanOrEqual(2);
    expect(res.events.at(-1)!.event).toBe('done');
  });

  it('refuses a malformed Last-Event-ID', async () => {
    const { json } = await postJson(
      `${url}/jobs`,
      { provider: 'claude', systemPrompt: '', userPrompt: 'x' },
      auth(),
    );
    const res = await readSse(`${url}/jobs/${json.id}/events`, {
      headers: { ...auth(), 'last-event-id': 'yesterday' },
    });
    expect(res.status).toBe(400);
  });
});

describe('disconnect', () => {
  it('a client leaving mid-stream cancels the job, kills the CLI and settles once', async () => {
    const name = 'leaver';
    const k = await h.createKey(url, name);
    const res = await readSse(`${url}/generate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${k}` },
      body: {
        systemPrompt: '',
        userPrompt: `bye @@fake ${replyDirective} chunk_delay_ms=400@@`,
        stream: true,
      },
      until: (evs) => evs.some((e) => e.event === 'text'),
    });
    const jobId = res.headers.get('x-job-id')!;
    const rec = readRecords(recordDir).find((r) => r.stdin.includes('bye'))!;
    await waitFor(() => !isAlive(rec.pid), 3_000, 'the CLI to be killed');
    const view = await waitFor(
      async () => {
        const v = (await (
          await fetch(`${url}/jobs/${jobId}`, { headers: { authorization: `Bearer ${k}` } })
        ).json()) as any;
        return v.status === 'cancelled' ? v : undefined;
      },
      5_000,
      'the job to be cancelled',
    );
    expect(view.error.type).toBe('cancelled');
    const logs = (
      (await (
        await fetch(`${url}/admin/logs?key=${name}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })
      ).json()) as any
    ).logs;
    expect(logs).toHaveLength(1);
    expect(logs[0].status).toBe('cancelled');
  });
});
