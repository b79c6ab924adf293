/**
 * GET /metrics: Prometheus text, readable with the admin key or METRICS_TOKEN. HTTP series are per
 * API process; what workers produce (tokens, cost, jobs, queue wait, CLI run time, time to first
 * token) is fleet-wide, kept in Redis by settlement, so any API instance shows all of it. Label
 * sets stay bounded: no job id, no raw key, unknown paths collapsed. One request's API and worker
 * log lines carry the same request id and job id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiServer } from '@cli-bridge/api';
import type { WorkerHandle } from '@cli-bridge/worker';
import { ADMIN_KEY } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { waitFor } from './helpers/records.js';
import { readSse } from './helpers/sse.js';

const METRICS_TOKEN = 'metrics-token-0123456789';
const h = createHarness('metrics', { METRICS_TOKEN });
let api: ApiServer;
let worker: WorkerHandle;
let key = '';
const auth = () => ({ authorization: `Bearer ${key}` });

beforeAll(async () => {
  api = await h.startApi();
  worker = await h.startWorker(['claude', 'codex']);
  key = await h.createKey(api.url, 'metrics-key');
});
afterAll(() => h.cleanup());

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample named `name` whose labels include `labels` (undefined if none). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

async function scrape(url = api.url, token = ADMIN_KEY): Promise<{ text: string; samples: Sample[] }> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, samples: parse(text) };
}

describe('GET /metrics', () => {
  it('is readable with the admin key or METRICS_TOKEN, and nothing else', async () => {
    expect((await fetch(`${api.url}/metrics`)).status).toBe(401);
    for (const bad of [key, 'not-the-metrics-token-000']) {
      const res = await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${bad}` } });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { type: string } }).error.type).toBe('unauthorized');
    }
    await scrape(api.url, ADMIN_KEY);
    await scrape(api.url, METRICS_TOKEN);
    // Without METRICS_TOKEN configured, only the admin key reads it.
    const other = await h.startApi({ METRICS_TOKEN: '' });
    const res = await fetch(`${other.url}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(res.status).toBe(401);
  });

  it("keeps Node's default process metrics, the event loop's delay among them", async () => {
    // Sampled every EVENT_LOOP_SAMPLE_MS (100 ms): wait for a few samples.
    await new Promise((r) => setTimeout(r, 350));
    const { samples } = await scrape();
    for (const name of [
      'process_cpu_seconds_total',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      expect(value(samples, name), name).toBeGreaterThan(0);
    }
    expect(value(samples, 'nodejs_eventloop_lag_max_seconds')).toBeLessThan(60);
  });

  it('counts HTTP requests per route, provider, model, status and key name; never a raw path, key or job id', async () => {
    const res = await postJson(
      `${api.url}/generate`,
      { systemPrompt: '', userPrompt: 'count me', model: 'sonnet' },
      auth(),
    );
    expect(res.status).toBe(200);
    const job = await postJson(
      `${api.url}/jobs`,
      { provider: 'codex', systemPrompt: '', userPrompt: 'async one' },
      auth(),
    );
    expect(job.status).toBe(202);
    const jobId = String(job.json.id);
    expect((await fetch(`${api.url}/jobs/${jobId}`, { headers: auth() })).status).toBe(200);
    expect((await fetch(`${api.url}/no/such/path-${jobId}`, { headers: auth() })).status).toBe(404);

    const { text, samples } = await scrape();
    expect(
      value(samples, 'cli_bridge_requests_total', {
        route: '/generate',
        method: 'POST',
        provider: 'claude',
        model: 'sonnet',
        status: '200',
        key: 'metrics-key',
      }),
    ).toBe(1);
    expect(
      value(samples, 'cli_bridge_requests_total', {
        route: '/jobs',
        method: 'POST',
        provider: 'codex',
        model: 'gpt-5-codex',
        status: '202',
      }),
    ).toBe(1);
    expect(value(samples, 'cli_bridge_requests_total', { route: '/jobs/:id', method: 'GET' })).toBe(1);
    expect(value(samples, 'cli_bridge_requests_total', { route: 'unknown', status: '404' })).toBe(1);
    expect(
      value(samples, 'cli_bridge_request_duration_seconds_count', {
        route: '/generate',
        provider: 'claude',
        status: '200',
      }),
    ).toBe(1);
    expect(text).not.toContain(jobId);
    expect(text).not.toContain(key);
    expect(text).not.toContain('/no/such');
    // Node's own process metrics come along.
    expect(value(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });

  it('shows what the workers consumed fleet-wide, on every API instance', async () => {
    const fleetKey = await h.createKey(api.url, 'fleet-key');
    const res = await postJson(
      `${api.url}/generate`,
      {
        systemPrompt: '',
        userPrompt: 'usage @@fake in=1200 out=80 cache_read=1000 cache_create=30 cost=0.0125@@',
      },
      { authorization: `Bearer ${fleetKey}` },
    );
    expect(res.status).toBe(200);
    const stream = await readSse(`${api.url}/generate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fleetKey}` },
      body: { systemPrompt: '', userPrompt: 'streamed @@fake chunk_delay_ms=20 cost=0.0025@@', stream: true },
    });
    expect(stream.events.at(-1)!.event).toBe('done');
    const failed = await postJson(
      `${api.url}/generate`,
      { systemPrompt: '', userPrompt: 'broken @@fake mode=error-401@@' },
      { authorization: `Bearer ${fleetKey}` },
    );
    expect(failed.status).toBeGreaterThanOrEqual(400);

    // Another API instance that served none of it reports the same fleet-wide series.
    const other = await h.startApi();
    for (const url of [api.url, other.url]) {
      const { samples } = await scrape(url);
      const k = { provider: 'claude', model: 'sonnet', key: 'fleet-key' };
      // The streamed run adds the fake CLI's default usage (11 in, 7 out).
      expect(value(samples, 'cli_bridge_tokens_total', { ...k, type: 'input' })).toBeGreaterThanOrEqual(1211);
      expect(value(samples, 'cli_bridge_tokens_total', { ...k, type: 'cache_read' })).toBe(1000);
      expect(value(samples, 'cli_bridge_tokens_total', { ...k, type: 'cache_creation' })).toBe(30);
      expect(value(samples, 'cli_bridge_cost_usd_total', k)).toBeCloseTo(0.015, 6);
      expect(value(samples, 'cli_bridge_jobs_total', { ...k, status: 'completed' })).toBe(2);
      expect(value(samples, 'cli_bridge_jobs_total', { ...k, status: 'failed' })).toBe(1);
      const run = { provider: 'claude', model: 'sonnet' };
      expect(value(samples, 'cli_bridge_cli_run_seconds_count', run)).toBeGreaterThanOrEqual(3);
      expect(value(samples, 'cli_bridge_cli_run_seconds_bucket', { ...run, le: '+Inf' })).toBe(
        value(samples, 'cli_bridge_cli_run_seconds_count', run),
      );
      expect(value(samples, 'cli_bridge_time_to_first_token_seconds_count', run)).toBe(1);
      expect(value(samples, 'cli_bridge_time_to_first_token_seconds_sum', run)).toBeGreaterThan(0);
      expect(
        value(samples, 'cli_bridge_queue_wait_seconds_count', { provider: 'claude' }),
      ).toBeGreaterThanOrEqual(3);
      expect(value(samples, 'cli_bridge_workers', { provider: 'claude' })).toBe(1);
      expect(value(samples, 'cli_bridge_redis_up')).toBe(1);
      // This instance's own HTTP series: only the first one served the generate requests.
      const served = value(samples, 'cli_bridge_requests_total', {
        route: '/generate',
        key: 'fleet-key',
        status: '200',
      });
      expect(served).toBe(url === api.url ? 2 : undefined);
    }
  });

  it('shows queue depths and a held account with its reset time', async () => {
    const before = Date.now();
    const held = await postJson(
      `${api.url}/jobs`,
      { provider: 'codex', systemPrompt: '', userPrompt: 'limit @@fake mode=usage-limit reset_in_s=600@@' },
      auth(),
    );
    expect(held.status).toBe(202);
    const { samples } = await waitFor(
      async () => {
        const s = await scrape();
        return value(s.samples, 'cli_bridge_account_held', { provider: 'codex', account: 'default' }) === 1
          ? s
          : undefined;
      },
      10_000,
      'the codex hold',
    );
    const reset = value(samples, 'cli_bridge_account_hold_reset_timestamp_seconds', { provider: 'codex' })!;
    expect(reset * 1000).toBeGreaterThan(before + 500_000);
    expect(reset * 1000).toBeLessThan(Date.now() + 610_000);
    expect(value(samples, 'cli_bridge_account_held', { provider: 'claude' })).toBe(0);
    // The Claude account's spend this month (earlier tests ran Claude jobs): the credit it draws.
    expect(
      value(samples, 'cli_bridge_account_credit_spent_usd', { provider: 'claude', account: 'default' }),
    ).toBeGreaterThan(0);
    expect(value(samples, 'cli_bridge_account_credit_spent_usd', { provider: 'codex' })).toBeUndefined();
    const queued = ['waiting', 'active', 'delayed'].map(
      (state) => value(samples, 'cli_bridge_queue_jobs', { provider: 'codex', state }) ?? 0,
    );
    expect(queued.reduce((a, b) => a + b)).toBe(1);
    // Its job goes away with the queue hold: the test's prefix is deleted at cleanup.
    await fetch(`${api.url}/jobs/${held.json.id}`, { method: 'DELETE', headers: auth() });
  });
});

describe('logs of one request', () => {
  it('carry the same request id and job id in the API and the worker', async () => {
    await worker.close(); // the job must run in the worker process below
    const spawned = await h.spawnApi();
    const spawnedWorker = await h.spawnWorker({ WORKER_PROVIDERS: 'claude' });
    const res = await postJson(
      `${spawned.url}/generate`,
      { systemPrompt: '', userPrompt: 'trace me' },
      { ...auth(), 'x-request-id': 'req-trace-42' },
    );
    expect(res.status).toBe(200);
    const jobId = res.json.job_id as string;
    const apiLine = await waitFor(
      () => spawned.logs.find((l) => (l.req as { id?: string } | undefined)?.id === 'req-trace-42'),
      3_000,
      'the API access log line',
    );
    expect(apiLine.jobId).toBe(jobId);
    const workerLine = await waitFor(
      () => spawnedWorker.logs.find((l) => l.jobId === jobId && l.msg === 'job completed'),
      3_000,
      'the worker line',
    );
    expect(workerLine.requestId).toBe('req-trace-42');
    await Promise.all([spawned.stop(), spawnedWorker.stop()]);
  });
});
