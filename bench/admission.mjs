// The measured cost of admission: the latency of `admission.admit(...)` (the one atomic Redis
// script that checks every limit of a key, takes the concurrency lease and counts the request)
// against the bare round trips it cannot avoid, on the same connection, in the same run:
//   - `redis.ping()`: one Redis round trip, no work;
//   - `redis.eval('return 1', 0)`: one round trip into the Lua engine, no work.
// "admission − PING" is the difference of the percentiles (admit pXX − PING pXX), not a
// percentile of per-call differences: the extra latency admission adds per request over the one
// round trip it needs anyway.
//
// It calls admit the way the API calls it (the key already resolved by the auth middleware) and
// records the commands one admit call actually sends (Redis MONITOR, this client's connection
// only) so the table says whether it measured EVAL or EVALSHA.
//
// The key record is written directly (no API process): name, hash, created_at and every limit set
// to a value never reached, so the script checks them all and always admits. Leases are released
// after each block, outside the timed calls. No bridge process runs.
//
// Options (node bench/run.mjs admission --adm-n=5000 ...):
//   --adm-warmup=500 --adm-n=5000 --adm-block=500 --adm-concurrency=16
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import {
  admissionSettings,
  createAdmission,
  createLogger,
  createRedis,
  hashApiKey,
  HEARTBEAT_TTL_FACTOR,
  limitsToHash,
  loadConfig,
  redisKeys,
} from '@cli-bridge/shared';
import {
  bridgeEnv,
  createBenchContext,
  diffPercentiles,
  log,
  REDIS_URL,
  runConcurrent,
  summarize,
  statsRow,
} from './lib/common.mjs';

export const DEFAULTS = { admWarmup: 500, admN: 5000, admBlock: 500, admConcurrency: 16 };

const LIMITS = {
  maxRequestsPerDay: 1e9,
  maxRequestsPerMonth: 1e9,
  maxTokensPerMonth: 1e12,
  maxCostPerDay: 1e6,
  maxCostPerMonth: 1e6,
  maxConcurrent: 1e6,
  maxRequestsPerMinute: 1e9,
  maxQueued: 1e9,
};

/**
 * The commands `client` sends while `fn` runs (MONITOR on a connection of its own, which
 * `base.monitor()` opens, filtered to the client's own port).
 */
async function commandsSentBy(client, base, fn) {
  const port = client.stream?.localPort;
  const monitor = await base.monitor();
  const seen = [];
  let listening = true;
  monitor.on('monitor', (_time, args, source) => {
    if (listening && port && String(source).endsWith(`:${port}`)) seen.push(String(args[0]).toLowerCase());
  });
  await new Promise((r) => setTimeout(r, 50));
  await fn();
  await new Promise((r) => setTimeout(r, 100));
  listening = false;
  monitor.disconnect();
  return seen;
}

export async function run(opts = {}) {
  const o = { ...DEFAULTS, ...opts };
  const ctx = createBenchContext('admission');
  const logger = createLogger({ level: 'warn', name: 'bench-admission' });
  // The API's own kind of connection (fail-fast `producer`), from the shared factory.
  const redis = createRedis({
    url: REDIS_URL,
    role: 'producer',
    name: 'bench-admission',
    prefix: ctx.prefix,
    logger,
  });
  ctx.atClose(() => redis.quit());
  try {
    if (redis.status !== 'ready') await once(redis, 'ready');
    const config = loadConfig(bridgeEnv(ctx.prefix));
    const keys = redisKeys(ctx.prefix);
    // As the API builds it (api/src/services/index.ts): its limits, queue caps and cost bound.
    const admission = createAdmission({
      ...admissionSettings(config),
      redis,
      keys,
      waitListKey: (p) => `${ctx.prefix}:${p}:wait`,
    });

    // The key record, as the admin API would write it, plus the by-hash index entry.
    const name = `bench${randomBytes(4).toString('hex')}`;
    const keyHash = hashApiKey(`cbk_${randomBytes(32).toString('base64url')}`);
    await redis.hset(keys.apiKey(name), {
      name,
      hash: keyHash,
      created_at: new Date().toISOString(),
      ...limitsToHash(LIMITS),
    });
    await redis.hset(keys.apiKeyByHash, keyHash, name);

    // waitMs: a sync request's wait, so the script also reads the account holds (two live
    // accounts, one of them held: the check reads both and admits).
    const serve = {
      workerTtlMs: config.WORKER_HEARTBEAT_MS * HEARTBEAT_TTL_FACTOR,
      waitMs: config.SYNC_WAIT_TIMEOUT_MS,
    };
    // One live worker for the script's ZCOUNT (a heartbeat far in the future: it stays live).
    await redis.zadd(keys.providerWorkers('claude'), Date.now() + 86_400_000, 'bench-worker');
    for (const account of ['work', 'personal'])
      await redis.zadd(keys.accounts('claude'), Date.now() + 86_400_000, account);
    await redis.hset(
      keys.holds('claude'),
      'work',
      JSON.stringify({ until: Date.now() + 86_400_000, reason: 'usage_limit', setAt: Date.now() }),
    );
    // The key was resolved by the auth middleware before (its own EVALSHA, not measured here).
    const admitCall = (jobId) => admission.admit({ keyId: name, keyName: name }, 'claude', jobId, serve);
    const callForm =
      "admit({ keyId, keyName }, 'claude', jobId, { workerTtlMs, waitMs }): limits, queue caps, cost reservation, lease, live-worker ZCOUNT and the account holds in one script";

    let seq = 0;
    const runId = randomBytes(3).toString('hex');
    const jobId = () => `claude-bench-${runId}-${seq++}`;

    // The first call (it may load the script: EVALSHA → NOSCRIPT → EVAL) and the next two, with
    // the commands each sent. Each must admit: an error must never pass for a fast call.
    const sanityIds = [jobId(), jobId(), jobId()];
    const sentByFirstAdmit = await commandsSentBy(redis, ctx.redis, async () => {
      await admitCall(sanityIds[0]);
    });
    if ((await redis.zscore(keys.leases(name), sanityIds[0])) === null)
      throw new Error('the first admit took no lease');
    const sentByTwoMore = await commandsSentBy(redis, ctx.redis, async () => {
      await admitCall(sanityIds[1]);
      await admitCall(sanityIds[2]);
    });
    await redis.zrem(keys.leases(name), ...sanityIds);
    await redis.zrem(keys.queuedJobs(name), ...sanityIds);
    log(
      `admission: first admit sent [${sentByFirstAdmit.join(', ')}], next two [${sentByTwoMore.join(', ')}]`,
    );

    const ops = {
      admit: async () => {
        const id = jobId();
        const t = performance.now();
        await admitCall(id);
        const ms = performance.now() - t;
        return { ms, id };
      },
      ping: async () => {
        const t = performance.now();
        const r = await redis.ping();
        const ms = performance.now() - t;
        if (r !== 'PONG') throw new Error(`PING answered ${r}`);
        return { ms };
      },
      eval: async () => {
        const t = performance.now();
        const r = await redis.eval('return 1', 0);
        const ms = performance.now() - t;
        if (r !== 1) throw new Error(`EVAL answered ${r}`);
        return { ms };
      },
    };
    const release = async (results) => {
      const ids = results.filter((r) => r.id).map((r) => r.id);
      if (ids.length) {
        await redis.zrem(keys.leases(name), ...ids);
        await redis.zrem(keys.queuedJobs(name), ...ids);
      }
    };
    // The key's lease set after admission, to check nothing leaked (released per block).
    const leaseCount = () => redis.zcard(keys.leases(name));

    /** `total` calls of each op at `concurrency`, rotating admit → ping → eval in blocks. */
    async function measure(total, concurrency) {
      const ms = { admit: [], ping: [], eval: [] };
      const wall = { admit: 0, ping: 0, eval: 0 };
      for (let done = 0; done < total; done += o.admBlock) {
        const n = Math.min(o.admBlock, total - done);
        for (const op of ['admit', 'ping', 'eval']) {
          const t = performance.now();
          const res = await runConcurrent(n, concurrency, ops[op]);
          wall[op] += performance.now() - t;
          ms[op].push(...res.map((r) => r.ms));
          await release(res); // outside the timed calls
        }
      }
      const s = Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, summarize(v)]));
      return {
        concurrency,
        ...s,
        admitMinusPing: diffPercentiles(s.admit, s.ping),
        admitMinusEval: diffPercentiles(s.admit, s.eval),
        perSecond: Object.fromEntries(
          Object.entries(wall).map(([k, w]) => [k, Math.round((total / w) * 1000)]),
        ),
      };
    }

    log(`admission: warm-up ${o.admWarmup} of each at 1 and at ${o.admConcurrency}`);
    await measure(o.admWarmup, 1);
    await measure(o.admWarmup, o.admConcurrency);
    log(`admission: ${o.admN} of each at 1 in flight`);
    const c1 = await measure(o.admN, 1);
    log(`admission: ${o.admN} of each at ${o.admConcurrency} in flight`);
    const cN = await measure(o.admN, o.admConcurrency);
    const leasesLeft = await leaseCount();
    const jobIndexSize = await redis.zcard(`${keys.prefix}:jobs:key:${name}`);

    const table = [];
    for (const m of [c1, cN]) {
      const c = m.concurrency;
      table.push(statsRow(`admit @${c}`, m.admit));
      table.push(statsRow(`PING @${c}`, m.ping));
      table.push(statsRow(`EVAL 'return 1' @${c}`, m.eval));
      table.push({ series: `admit − PING @${c} (pXX diff)`, n: '', ...m.admitMinusPing, max: '' });
      table.push({ series: `admit − EVAL 'return 1' @${c} (pXX diff)`, n: '', ...m.admitMinusEval, max: '' });
      table.push({
        series: `calls/s @${c}: admit ${m.perSecond.admit}, PING ${m.perSecond.ping}, EVAL ${m.perSecond.eval}`,
      });
    }
    return {
      name: 'admission',
      config: { ...o, callForm, leaseMs: config.CONCURRENCY_LEASE_MS, limits: LIMITS },
      commandsPerAdmit: { first: sentByFirstAdmit, nextTwo: sentByTwoMore },
      c1,
      cN,
      leasesLeft,
      jobIndexSize,
      table,
      notes: [
        `measured: ${callForm}, as the API's code calls it in the tree at run time (read from the built shared package); the first admit sent [${sentByFirstAdmit.join(', ')}], the next two [${sentByTwoMore.join(', ')}] (MONITOR, this connection only).`,
        'admit − PING / admit − EVAL = difference of the percentiles (admit pXX − baseline pXX), not a percentile of per-call differences; ms, client-side (performance.now() around the awaited call).',
        `all on one fail-fast ('producer') ioredis connection, as the API's; the three series alternate in blocks of ${o.admBlock}. Leases released per block outside the timed calls (left at the end: ${leasesLeft}); the key's job index held ${jobIndexSize} entries at the end.`,
      ],
    };
  } finally {
    await ctx.close();
  }
}
