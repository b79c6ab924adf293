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
import { jobsEnded, startAsyncLoad } from './helpers/async-load.js';

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

it('answers 503 during an outage, recovers without a restart, and loses no accepted job', async () => {
  // The load outruns the worker: the backlog is the point, not the key's queue cap.
  const env = { REDIS_URL: redis.url, WORKER_CONCURRENCY_CLAUDE: '4', MAX_QUEUED_PER_KEY: '0' };
  const api = await h.spawnApi(env);
  const worker = await h.spawnWorker({ ...env, WORKER_PROVIDERS: 'claude' });
  procs.push(api, worker);
  const key = await h.createKey(api.url);
  const auth = { authorization: `Bearer ${key}` };

  // Load: four clients submitting async jobs back to back for the whole test.
  const load = startAsyncLoad(api.url, auth, 'outage');
  const { answers, accepted } = load;

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
  await load.stop();
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
  const statuses = await jobsEnded(api.url, auth, ids, 60_000);
  expect(statuses.filter((s) => s !== 'completed')).toEqual([]);
  expect(worker.proc.exitCode).toBeNull(); // never restarted
}, 120_000);
