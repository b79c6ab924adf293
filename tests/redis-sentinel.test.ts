/**
 * The bridge behind Redis Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_NAME): a private master, a
 * replica and a redis-sentinel; the API and a worker (separate OS processes) find the master
 * through the sentinel. A failover forced under load (SENTINEL FAILOVER) moves them to the new
 * master without a restart, and no accepted job is lost.
 *
 * Redis replicates asynchronously, so the API runs with REDIS_WAIT_REPLICAS=1 (a job is
 * acknowledged once the replica holds it) and the master with `min-replicas-to-write 1` (once its
 * replica is promoted it refuses writes instead of accepting ones nobody will see). Without them
 * this test lost an accepted job in about one run of four.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempDir } from './helpers/env.js';
import { createHarness, postJson, type SpawnedProcess } from './helpers/harness.js';
import { startPrivateRedis, type PrivateRedis } from './helpers/private-redis.js';
import { waitFor } from './helpers/records.js';
import { jobsEnded, startAsyncLoad } from './helpers/async-load.js';

const NAME = 'bridge-master';
const h = createHarness('sentinel');
let master: PrivateRedis;
let replica: PrivateRedis;
let sentinel: PrivateRedis;
let sentinelClient: Redis;
const procs: SpawnedProcess[] = [];
// Each server in a directory of its own: a full resync writes an RDB file even with saving off.
const noPersistence = () => ['--dir', tempDir('sentinel-redis'), '--save', '', '--appendonly', 'no'];

/** The master's port as the sentinel reports it now. */
async function masterPort(): Promise<number> {
  const [, port] = (await sentinelClient.call('SENTINEL', 'get-master-addr-by-name', NAME)) as string[];
  return Number(port);
}

beforeAll(async () => {
  master = await startPrivateRedis({
    args: [...noPersistence(), '--min-replicas-to-write', '1', '--min-replicas-max-lag', '10'],
  });
  replica = await startPrivateRedis({
    args: [...noPersistence(), '--replicaof', '127.0.0.1', String(master.port)],
  });
  const conf = join(tempDir('sentinel'), 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `sentinel monitor ${NAME} 127.0.0.1 ${master.port} 1`,
      `sentinel down-after-milliseconds ${NAME} 2000`,
      `sentinel failover-timeout ${NAME} 10000`,
      '',
    ].join('\n'),
  );
  sentinel = await startPrivateRedis({ bin: 'redis-sentinel', argsFirst: [conf] });
  sentinelClient = new Redis(sentinel.port, '127.0.0.1', { maxRetriesPerRequest: 3 });
  // The sentinel must know a healthy replica before it can fail over to it.
  await waitFor(
    async () => {
      const replicas = (await sentinelClient.call('SENTINEL', 'replicas', NAME)) as string[][];
      return replicas.some((r) => {
        const f = Object.fromEntries(r.flatMap((v, i) => (i % 2 ? [] : [[v, r[i + 1]]])));
        return f.port === String(replica.port) && f['master-link-status'] === 'ok' && f.flags === 'slave';
      });
    },
    20_000,
    'the sentinel to see the replica',
  );
});
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  sentinelClient?.disconnect();
  for (const r of [sentinel, replica, master]) await r?.stop();
  await h.cleanup();
});

it('runs through the sentinel and loses no accepted job when it fails over under load', async () => {
  const env = {
    REDIS_SENTINELS: `127.0.0.1:${sentinel.port}`,
    REDIS_SENTINEL_NAME: NAME,
    // Ignored behind Sentinel but for password and database: nothing listens there.
    REDIS_URL: 'redis://127.0.0.1:1',
    WORKER_CONCURRENCY_CLAUDE: '4',
    // The load outruns the worker: the backlog is the point, not the key's queue cap.
    MAX_QUEUED_PER_KEY: '0',
    // A job is acknowledged once the replica holds it: the failover cannot lose it then.
    REDIS_WAIT_REPLICAS: '1',
    // A job whose completion the old master refused is run again once its lock lapses: soon.
    WORKER_LOCK_DURATION_MS: '5000',
    WORKER_STALLED_INTERVAL_MS: '2000',
  };
  const api = await h.spawnApi(env);
  const worker = await h.spawnWorker({ ...env, WORKER_PROVIDERS: 'claude' });
  procs.push(api, worker);
  const key = await h.createKey(api.url);
  const auth = { authorization: `Bearer ${key}` };
  expect(await masterPort()).toBe(master.port);

  const load = startAsyncLoad(api.url, auth, 'failover');
  const { answers, accepted } = load;

  await waitFor(() => accepted().length >= 20, 10_000, 'jobs before the failover');
  const failoverAt = Date.now();
  expect(await sentinelClient.call('SENTINEL', 'FAILOVER', NAME)).toBe('OK');
  await waitFor(async () => (await masterPort()) === replica.port, 20_000, 'the new master');
  const switchedAt = Date.now();
  await waitFor(
    () => answers.filter((a) => a.at > switchedAt && a.status === 202).length >= 20,
    20_000,
    'jobs after the failover',
  );
  await load.stop();
  for (const a of answers) expect([202, 503], JSON.stringify(a)).toContain(a.status);
  const refused = answers.filter((a) => a.at >= failoverAt && a.status === 503).length;
  console.log(
    `failover: ${answers.length} answers, ${accepted().length} accepted, ${refused} refused with 503; ` +
      `sentinel switched ${switchedAt - failoverAt} ms after SENTINEL FAILOVER`,
  );

  // Every accepted job completes, on the new master, with the worker never restarted.
  const ids = accepted().map((a) => a.id!);
  const statuses = await jobsEnded(api.url, auth, ids, 90_000);
  expect(statuses.filter((s) => s !== 'completed')).toEqual([]);
  const sync = await postJson(
    `${api.url}/generate`,
    { systemPrompt: '', userPrompt: 'after failover' },
    auth,
  );
  expect(sync.status, JSON.stringify(sync.json)).toBe(200);
  expect(worker.proc.exitCode).toBeNull();
  const promoted = new Redis(replica.port, '127.0.0.1');
  expect(((await promoted.call('ROLE')) as string[])[0]).toBe('master');
  promoted.disconnect();
}, 150_000);
