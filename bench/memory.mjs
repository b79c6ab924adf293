// Memory: RSS of the API and worker processes (VmRSS from /proc/<pid>/status) idle and after N
// sync jobs (fake claude, instant reply), and Redis memory: INFO used_memory (whole server, so
// anything else using this Redis shows up too) and the sum of MEMORY USAGE over this bench's own
// keys (exact to the prefix). Per retained job = growth of the prefix's memory ÷ jobs retained.
// Phase 2 restarts the API with JOB_RETENTION_COUNT=<retain> (the API sets removeOnComplete when
// it adds a job; the worker applies it when the job completes) and runs a few more jobs, to show
// memory after retention has trimmed the completed set.
//
// The issue asks for 10,000 jobs; the default here is 2,000 to keep a full run short:
// `--jobs=10000` runs the issue's figure.
// Options: --jobs=2000 --concurrency=8 --retain=100 --phase2-jobs=200 --settle-ms=2000
import { setTimeout as sleep } from 'node:timers/promises';
import {
  bridgeEnv,
  createBenchContext,
  createKey,
  log,
  prefixMemory,
  redisUsedMemory,
  rssKiB,
  runConcurrent,
  summarize,
} from './lib/common.mjs';

export const DEFAULTS = { jobs: 2000, concurrency: 8, retain: 100, phase2Jobs: 200, settleMs: 2000 };

export async function run(opts = {}) {
  const o = { ...DEFAULTS, ...opts };
  const ctx = createBenchContext('memory');
  const q = (s) => `${ctx.prefix}:claude:${s}`;
  try {
    const env = bridgeEnv(ctx.prefix, {
      WORKER_PROVIDERS: 'claude',
      WORKER_CONCURRENCY_CLAUDE: String(o.concurrency),
    });
    const usedBefore = await redisUsedMemory(ctx.redis);
    let api = await ctx.group.startApi(env);
    const worker = await ctx.group.startWorker(env);
    const key = await createKey(ctx.http, api.url);
    const auth = { authorization: `Bearer ${key}` };
    let failures = 0;
    const generate = async (i) => {
      const r = await ctx.http.post(
        `${api.url}/generate`,
        { systemPrompt: 'You are a terse assistant.', userPrompt: `What is 2+2? (request ${i})` },
        auth,
      );
      if (r.status !== 200) {
        if (++failures <= 3) log(`memory: request failed ${r.status} ${r.text.slice(0, 200)}`);
        if (failures > 20) throw new Error('memory: too many failed requests');
        return undefined;
      }
      return r.ms;
    };

    const snapshot = async (label) => {
      const [pm, used, completed, failed, eventsLen, eventsBytes] = await Promise.all([
        prefixMemory(ctx.redis, ctx.prefix),
        redisUsedMemory(ctx.redis),
        ctx.redis.zcard(q('completed')),
        ctx.redis.zcard(q('failed')),
        ctx.redis.xlen(q('events')),
        ctx.redis.memory('USAGE', q('events'), 'SAMPLES', '0'),
      ]);
      return {
        label,
        apiRssMiB: Math.round(rssKiB(api.pid) / 102.4) / 10,
        workerRssMiB: Math.round(rssKiB(worker.pid) / 102.4) / 10,
        redisUsedMemoryMiB: Math.round(used / 1024 / 102.4) / 10,
        prefixKeys: pm.keys,
        prefixBytes: pm.bytes,
        completedRetained: completed,
        failedRetained: failed,
        eventsStreamLen: eventsLen,
        eventsStreamBytes: Number(eventsBytes ?? 0),
      };
    };

    await sleep(o.settleMs);
    const idle = await snapshot('idle (started, one key, no jobs)');

    log(`memory: ${o.jobs} jobs at ${o.concurrency} in flight`);
    const slowFrom = await lastSlowlogId(ctx.redis);
    const t0 = performance.now();
    // In quarters, sampling RSS after each, to tell growth that levels off from a leak.
    const lat1All = [];
    const rssTimeline = [];
    for (let q4 = 0; q4 < 4; q4++) {
      const from = Math.round((o.jobs * q4) / 4);
      const to = Math.round((o.jobs * (q4 + 1)) / 4);
      lat1All.push(...(await runConcurrent(to - from, o.concurrency, (i) => generate(from + i))));
      rssTimeline.push({
        jobs: to,
        apiRssMiB: Math.round(rssKiB(api.pid) / 102.4) / 10,
        workerRssMiB: Math.round(rssKiB(worker.pid) / 102.4) / 10,
      });
    }
    const lat1 = summarize(lat1All.filter((x) => x !== undefined));
    const wall1 = (performance.now() - t0) / 1000;
    const slow1 = await slowlogSince(ctx.redis, slowFrom, ctx.prefix);
    await sleep(o.settleMs);
    const after = await snapshot(`after ${o.jobs} jobs (JOB_RETENTION_COUNT=10000, the default)`);

    // Phase 2: a small retention. The first job completed under it trims the completed set.
    log(`memory: restarting the API with JOB_RETENTION_COUNT=${o.retain}, then ${o.phase2Jobs} more jobs`);
    await api.stop();
    api = await ctx.group.startApi({ ...env, JOB_RETENTION_COUNT: String(o.retain) });
    const slowFrom2 = await lastSlowlogId(ctx.redis);
    const firstTrim = await generate(o.jobs); // the request whose completion runs the trim
    const slowTrim = await slowlogSince(ctx.redis, slowFrom2, ctx.prefix);
    // The next 20 one at a time, as the first one ran: its baseline.
    const seq = summarize(
      (await runConcurrent(20, 1, (i) => generate(o.jobs + 1 + i))).filter((x) => x !== undefined),
    );
    const lat2 = summarize(
      (await runConcurrent(o.phase2Jobs - 21, o.concurrency, (i) => generate(o.jobs + 21 + i))).filter(
        (x) => x !== undefined,
      ),
    );
    await sleep(o.settleMs);
    const retained = await snapshot(`after ${o.phase2Jobs} more with JOB_RETENTION_COUNT=${o.retain}`);
    const usedEnd = await redisUsedMemory(ctx.redis);

    const perJob = (a, b) => {
      const jobs = b.completedRetained - a.completedRetained;
      return jobs > 0 ? Math.round((b.prefixBytes - a.prefixBytes) / jobs) : null;
    };
    const perJobExclEvents = (a, b) => {
      const jobs = b.completedRetained - a.completedRetained;
      return jobs > 0
        ? Math.round((b.prefixBytes - b.eventsStreamBytes - (a.prefixBytes - a.eventsStreamBytes)) / jobs)
        : null;
    };
    const perRetainedJob = {
      bytesInclEventsStream: perJob(idle, after),
      bytesExclEventsStream: perJobExclEvents(idle, after),
    };
    return {
      name: 'memory',
      config: { ...o, issueTarget: 10000, note: `ran ${o.jobs} jobs (issue: 10,000; --jobs=10000 to match)` },
      snapshots: { idle, after, retained },
      redisUsedMemoryBytes: { beforeStart: usedBefore, end: usedEnd },
      perRetainedJob,
      rssTimeline,
      // Redis SLOWLOG entries (server threshold, default 10 ms) naming this bench's prefix.
      slowlog: { phase1: slow1, firstRequestUnderSmallRetention: slowTrim },
      latency: {
        phase1: lat1,
        phase1Wall_s: Math.round(wall1),
        firstRequestUnderSmallRetention_ms: firstTrim && Math.round(firstTrim),
        next20Sequential: seq,
        phase2: lat2,
      },
      failures,
      table: [idle, after, retained].map((s) => ({
        phase: s.label,
        'api RSS MiB': s.apiRssMiB,
        'worker RSS MiB': s.workerRssMiB,
        'redis used_memory MiB (server)': s.redisUsedMemoryMiB,
        'prefix keys': s.prefixKeys,
        'prefix KiB': Math.round(s.prefixBytes / 1024),
        completed: s.completedRetained,
        'events len': s.eventsStreamLen,
        'events KiB': Math.round(s.eventsStreamBytes / 1024),
      })),
      notes: [
        `jobs: ${o.jobs} (the issue says 10,000; --jobs=N to change), ${o.concurrency} in flight, WORKER_CONCURRENCY_CLAUDE=${o.concurrency}.`,
        `per retained completed job: ${perRetainedJob.bytesInclEventsStream} B of Redis incl. the events stream, ${perRetainedJob.bytesExclEventsStream} B excl. it (MEMORY USAGE over the prefix).`,
        `"redis used_memory" is the whole server (other users of this Redis count too); "prefix KiB" is this bench's keys only.`,
        `latency of the first request under JOB_RETENTION_COUNT=${o.retain} (its completion trims ~${after.completedRetained - o.retain} jobs): ${firstTrim && Math.round(firstTrim)} ms; the 20 after it, one at a time: p50 ${seq.p50} ms, max ${seq.max} ms.`,
        `RSS after each quarter of phase 1 (jobs: api/worker MiB): ${rssTimeline.map((r) => `${r.jobs}: ${r.apiRssMiB}/${r.workerRssMiB}`).join(', ')}.`,
        `Redis SLOWLOG entries on this prefix: phase 1 ${slow1.length}${slow1.length ? ` (max ${Math.max(...slow1.map((e) => e.durationUs))} µs)` : ''}; around the first trim ${slowTrim.length}${slowTrim.length ? `: ${slowTrim.map((e) => `${e.command} ${e.durationUs} µs`).join(', ')}` : ''}.`,
        `phase 1 latency at ${o.concurrency} in flight: p50 ${lat1.p50} ms, p99 ${lat1.p99} ms, ${Math.round(o.jobs / wall1)} jobs/s.`,
      ],
    };
  } finally {
    await ctx.close();
  }
}

async function lastSlowlogId(redis) {
  const [latest] = await redis.slowlog('GET', 1);
  return latest ? Number(latest[0]) : -1;
}

/** SLOWLOG entries newer than `afterId` whose arguments mention `prefix` (others' are ignored). */
async function slowlogSince(redis, afterId, prefix) {
  const entries = await redis.slowlog('GET', 128);
  return entries
    .filter((e) => Number(e[0]) > afterId && e[3].some((a) => String(a).includes(prefix)))
    .map((e) => ({
      durationUs: Number(e[2]),
      command: String(e[3][0]),
      args: e[3].slice(1, 4).map((a) => String(a).slice(0, 60)),
    }));
}
