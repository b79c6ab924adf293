/**
 * Redis goes away under load and comes back (same port, same append-only file), with the API and
 * a worker as separate OS processes that are NOT restarted: requests during the outage answer 503
 * quickly (never hang), service is whole again once Redis is back, the worker reconnects and runs
 * on, and no job that was accepted (202) is lost.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ADMIN_KEY, tempDir } from './helpers/env.js';
import { createHarness, postJson, type SpawnedProcess } from './helpers/harness.js';
import { startPrivateRedis, type PrivateRedis } from './helpers/private-redis.js';
import { waitFor } from './helpers/records.js';

const h = createHarness('redis-outage');
let redis: PrivateRedis;
const procs: SpawnedProcess[] = [];

beforeAll(async () => {
  redis = await startPrivateRedis({
    args: [
      ...['--dir', tempDir('redis-outage'), '--appendonly', 'yes', '--appendfsync', 'always'],
      ...['--save', '', '--maxmemory-policy', 'noeviction'],
    ],
  });
});
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await redis.stop();
  await h.cleanup();
});

interface Answer {
  status: number;
  id?: string;
  at: number;
  ms: number;
}

it('answers 503 during an outage, recovers without a restart, and loses no accepted job', async () => {
  // The load outruns the worker: the backlog is the point, not the key's queue cap.
  const env = { REDIS_URL: redis.url, WORKER_CONCURRENCY_CLAUDE: '4', MAX_QUEUED_PER_KEY: '0' };
  const api = await h.spawnApi(env);
  const worker = await h.spawnWorker({ ...env, WORKER_PROVIDERS: 'claude' });
  procs.push(api, worker);
  const key = await h.createKey(api.url);
  const auth = { authorization: `Bearer ${key}` };

  // Load: four clients submitting async jobs back to back for the whole test.
  const answers: Answer[] = [];
  let loading = true;
  let n = 0;
  const client = async () => {
    while (loading) {
      const t0 = Date.now();
      const res = await postJson(
        `${api.url}/jobs`,
        { provider: 'claude', systemPrompt: '', userPrompt: `outage-${n++} @@fake delay_ms=100@@` },
        auth,
      );
      answers.push({ status: res.status, id: res.json?.id, at: t0, ms: Date.now() - t0 });
      // Pacing, so the outage is not a busy loop of instant 503s.
      if (res.status !== 202) await new Promise((r) => setTimeout(r, 20));
    }
  };
  const clients = Array.from({ length: 4 }, client);
  const accepted = () => answers.filter((a) => a.status === 202);

  await waitFor(() => accepted().length >= 20, 10_000, 'jobs before the outage');
  const downAt = Date.now();
  await redis.stop('SIGKILL');
  await waitFor(() => answers.filter((a) => a.at > downAt && a.status === 503).length >= 10, 10_000, '503s');
  // The fleet series need Redis; the process's own metrics are still served.
  const metrics = await (
    await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })
  ).text();
  expect(metrics).toMatch(/^cli_bridge_redis_up 0$/m);
  expect((await fetch(`${api.url}/ready`)).status).toBe(503);

  const upAt = Date.now();
  await redis.start();
  await waitFor(
    () => answers.filter((a) => a.at > upAt && a.status === 202).length >= 20,
    20_000,
    'recovery',
  );
  loading = false;
  await Promise.all(clients);
  const recoveredAt = answers.find((a) => a.at > upAt && a.status === 202)!.at;

  // During the outage: 503 (never another error), each at once.
  const during = answers.filter((a) => a.at > downAt && a.at < upAt);
  expect(during.length).toBeGreaterThanOrEqual(10);
  for (const a of during) {
    expect([202, 503]).toContain(a.status);
    expect(a.ms).toBeLessThan(2_000);
  }
  for (const a of answers) expect([202, 503], JSON.stringify(a)).toContain(a.status);
  console.log(
    `outage: ${answers.length} answers, ${accepted().length} accepted, ${during.length} during the outage; ` +
      `first 202 ${recoveredAt - upAt} ms after Redis answered again`,
  );

  // A sync request after the outage runs on the same (reconnected) worker.
  const sync = await postJson(
    `${api.url}/generate`,
    { systemPrompt: '', userPrompt: 'after the outage' },
    auth,
  );
  expect(sync.status, JSON.stringify(sync.json)).toBe(200);
  expect((await fetch(`${api.url}/ready`)).status).toBe(200);

  // Every accepted job runs to completion.
  const ids = accepted().map((a) => a.id!);
  const statuses = await waitFor(
    async () => {
      const views = await Promise.all(
        ids.map(
          async (id) =>
            ((await (await fetch(`${api.url}/jobs/${id}`, { headers: auth })).json()) as { status: string })
              .status,
        ),
      );
      return views.every((s) => ['completed', 'failed', 'cancelled'].includes(s)) ? views : undefined;
    },
    60_000,
    'every accepted job to end',
  );
  expect(statuses.filter((s) => s !== 'completed')).toEqual([]);
  expect(worker.proc.exitCode).toBeNull(); // never restarted
}, 120_000);
