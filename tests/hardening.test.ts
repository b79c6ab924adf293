/**
 * The API under abuse: event streams share one Redis connection and are capped, a stream that
 * resumes after its end ends at once, a stalled upload is dropped while long answers are not cut,
 * connections are capped, and many concurrent sync requests leak no listeners.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, postJson } from './helpers/harness.js';
import { waitFor } from './helpers/records.js';
import { readSse } from './helpers/sse.js';

const h = createHarness('hardening', { SSE_HEARTBEAT_MS: '200' });
let url = '';
let key = '';
const auth = () => ({ authorization: `Bearer ${key}` });

beforeAll(async () => {
  url = (await h.startApi({ SSE_MAX_STREAMS_PER_KEY: '40', REQUEST_TIMEOUT_MS: '1000' })).url;
  await h.startWorker(['claude'], { WORKER_CONCURRENCY_CLAUDE: '20' });
  key = await h.createKey(url);
});
afterAll(() => h.cleanup());

/** This harness's Redis connections named `…:<name>:…` (connection names carry the prefix). */
async function clients(name: string): Promise<number> {
  const list = (await h.redis.client('LIST')) as string;
  return list.split('\n').filter((l) => l.includes(`name=cli-bridge:${h.prefix}:${name}:`)).length;
}

async function submitJob(prompt: string): Promise<string> {
  const res = await postJson(
    `${url}/jobs`,
    { provider: 'claude', systemPrompt: '', userPrompt: prompt },
    auth(),
  );
  expect(res.status).toBe(202);
  return res.json.id;
}

describe('event streams', () => {
  it('serves many open streams from one Redis connection, and caps them per key (429)', async () => {
    const jobs = await Promise.all(
      Array.from({ length: 5 }, (_, i) => submitJob(`slow ${i} @@fake delay_ms=3000@@`)),
    );
    const aborts: AbortController[] = [];
    const open = Array.from({ length: 40 }, (_, i) => {
      const ac = new AbortController();
      aborts.push(ac);
      return fetch(`${url}/jobs/${jobs[i % jobs.length]}/events`, { headers: auth(), signal: ac.signal });
    });
    const responses = await Promise.all(open);
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(await clients('api-sse')).toBe(1);
    // The 41st stream of this key is refused before it starts.
    const extra = await fetch(`${url}/jobs/${jobs[0]}/events`, { headers: auth() });
    expect(extra.status).toBe(429);
    expect(((await extra.json()) as any).error.type).toBe('rate_limited');
    for (const ac of aborts) ac.abort();
    await Promise.all(responses.map((r) => r.body?.cancel().catch(() => {})));
    // Closed streams free their places.
    await waitFor(
      async () => (await fetch(`${url}/jobs/${jobs[0]}/events`, { headers: auth() })).status === 200,
    );
  });

  it('ends at once when Last-Event-ID is already the last event of a finished job', async () => {
    const first = await readSse(`${url}/generate`, {
      method: 'POST',
      headers: auth(),
      body: { systemPrompt: '', userPrompt: 'short', stream: true },
    });
    const jobId = first.headers.get('x-job-id')!;
    const last = first.events.at(-1)!;
    expect(last.event).toBe('done');
    const t0 = Date.now();
    const again = await readSse(`${url}/jobs/${jobId}/events`, {
      headers: { ...auth(), 'last-event-id': last.id! },
    });
    expect(again.status).toBe(200);
    expect(again.events).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('delivers to a stream opened on a job that has not started yet', async () => {
    const jobId = await submitJob('later @@fake delay_ms=300@@');
    const res = await readSse(`${url}/jobs/${jobId}/events`, { headers: auth() });
    expect(res.events.slice(-2).map((e) => e.event)).toEqual(['usage', 'done']);
    const texts = res.events.slice(0, -2);
    expect(texts.every((e) => e.event === 'text')).toBe(true);
    expect(texts.map((e) => e.data.text).join('')).toBe('Echo: later');
  });
});

describe('slow clients', () => {
  const sockets: Socket[] = [];
  afterAll(() => sockets.forEach((s) => s.destroy()));

  it('drops an upload that stalls past REQUEST_TIMEOUT_MS (408), key or not', async () => {
    const t0 = Date.now();
    const answer = await new Promise<string>((resolve) => {
      const sock = connect(Number(new URL(url).port), '127.0.0.1');
      sockets.push(sock);
      let data = '';
      sock.on('data', (d) => (data += d.toString()));
      sock.on('close', () => resolve(data));
      sock.write(
        `POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer ${key}\r\n` +
          'Content-Length: 1000\r\n\r\n{"provider":',
      );
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it('does not cut answers that take longer than REQUEST_TIMEOUT_MS: sync and streamed', async () => {
    const sync = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'slow @@fake delay_ms=2000@@' },
      auth(),
    );
    expect(sync.status).toBe(200);
    const streamed = await readSse(`${url}/generate`, {
      method: 'POST',
      headers: auth(),
      body: {
        systemPrompt: '',
        userPrompt: 'slow @@fake reply=a_b_c_d_e chunk_delay_ms=400@@',
        stream: true,
      },
    });
    expect(streamed.events.at(-1)!.event).toBe('done');
    expect(streamed.comments.length).toBeGreaterThan(0);
  });
});

describe('connections', () => {
  it('refuses connections past MAX_CONNECTIONS and serves again once they go', async () => {
    const capped = await h.startApi({ MAX_CONNECTIONS: '3' });
    const port = Number(new URL(capped.url).port);
    const idle = await Promise.all(
      Array.from(
        { length: 3 },
        () =>
          new Promise<Socket>((resolve) => {
            const s = connect(port, '127.0.0.1', () => resolve(s));
          }),
      ),
    );
    // The fourth is closed by the server without an answer.
    const refused = await fetch(`${capped.url}/health`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect(refused).toBe('refused');
    for (const s of idle) s.destroy();
    await waitFor(async () => (await fetch(`${capped.url}/health`).catch(() => undefined))?.status === 200);
  });

  it('answers 20 concurrent sync requests without adding a listener per request', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          postJson(
            `${url}/generate`,
            { systemPrompt: '', userPrompt: `c${i} @@fake delay_ms=200@@` },
            auth(),
          ),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
      expect(results.map((r) => r.json.content[0].text)).toEqual(
        Array.from({ length: 20 }, (_, i) => `Echo: c${i}`),
      );
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });
});
