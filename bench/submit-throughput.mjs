// Async submit throughput: autocannon against POST /jobs of the bridge's API, and against a bare
// Express + BullMQ `queue.add` endpoint (bench/lib/bare-submit-server.mjs, same job options) as
// the baseline; both servers are separate processes, alive together, measured in alternating
// blocks (bare, bridge, then bridge, bare, ...) so the load of everything else on the machine hits
// both alike; the figure is the ratio of their request totals over equal time.
// While the bridge is measured its claude queue is paused, so only submission is measured (no CLI
// runs compete for the CPU). The API's log lines are written as in production but not parsed by
// this process, which also runs the load generator. CPU per request (from /proc, and Redis's own
// from INFO cpu) is reported per side: on a machine that is never quiet, the least noisy figure.
//
// --ablation=1 adds two more servers to the rotation: the bare one with the bridge's admission
// before its add, and with that and the bridge's log line (bench/lib/bare-submit-server.mjs), to
// show what each part of the bridge costs in throughput.
//
// Options: --connections=16 --rounds=4 --block-s=3 --warmup-s=2 --ablation=0
import autocannon from 'autocannon';
import { Queue } from 'bullmq';
import { hashApiKey, parseKeyIndexEntry, redisKeys } from '@cli-bridge/shared';
import {
  bridgeEnv,
  cpuMs,
  createBenchContext,
  createKey,
  deletePrefix,
  log,
  median,
  profileArgs,
  REDIS_URL,
} from './lib/common.mjs';

export const DEFAULTS = { connections: 16, rounds: 4, blockS: 3, warmupS: 2, ablation: 0 };
/** The target: the bridge's submit rate at least this share of the bare server's. */
export const TARGET_RATIO = 0.8;

const BODY = { provider: 'claude', systemPrompt: 'You are a terse assistant.', userPrompt: 'What is 2+2?' };

function cannon(url, headers, { connections, durationS }) {
  return autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(BODY),
    connections,
    pipelining: 1,
    duration: durationS,
  });
}

/** Redis's own CPU time so far (user + sys, ms), for the whole server. */
async function redisCpuMs(redis) {
  const info = await redis.info('cpu');
  const f = (k) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return (f('used_cpu_user') + f('used_cpu_sys')) * 1000;
}

/** One side's running totals over its blocks. */
function tally(name, url, headers, pid) {
  return {
    name,
    url,
    headers,
    pid,
    requests: 0,
    seconds: 0,
    non2xx: 0,
    errors: 0,
    timeouts: 0,
    cpuMs: 0,
    redisCpuMs: 0,
    latency: [], // p50 of each block
    latencyP99: [],
    blockRates: [],
  };
}

async function block(side, redis, o) {
  const cpu0 = cpuMs(side.pid);
  const redis0 = await redisCpuMs(redis);
  const r = await cannon(side.url, side.headers, { connections: o.connections, durationS: o.blockS });
  side.cpuMs += cpuMs(side.pid) - cpu0;
  side.redisCpuMs += (await redisCpuMs(redis)) - redis0;
  side.requests += r.requests.total;
  side.seconds += r.duration;
  side.non2xx += r.non2xx;
  side.errors += r.errors;
  side.timeouts += r.timeouts;
  side.latency.push(r.latency.p50);
  side.latencyP99.push(r.latency.p99);
  side.blockRates.push(Math.round(r.requests.total / r.duration));
}

const round2 = (x) => Math.round(x * 100) / 100;

function figures(s) {
  return {
    reqPerSec: Math.round(s.requests / s.seconds),
    requests: s.requests,
    blockRates: s.blockRates,
    latencyP50Median: median(s.latency),
    latencyP99Median: median(s.latencyP99),
    serverCpuMsPerRequest: Math.round((s.cpuMs / s.requests) * 1000) / 1000,
    redisCpuMsPerRequest: Math.round((s.redisCpuMs / s.requests) * 1000) / 1000,
    non2xx: s.non2xx,
    errors: s.errors,
    timeouts: s.timeouts,
  };
}

export async function run(opts = {}) {
  const o = { ...DEFAULTS, ...opts };
  const ctx = createBenchContext('submit');
  const barePrefix = `${ctx.prefix}-bare`;
  try {
    const startBare = (prefix, extra = {}) => {
      ctx.atClose(() => deletePrefix(ctx.redis, prefix));
      return ctx.group.startServer(
        'bench/lib/bare-submit-server.mjs',
        { PATH: process.env.PATH ?? '', REDIS_URL, REDIS_PREFIX: prefix, ...extra },
        { readLogs: false, ...profileArgs(`bare${prefix.slice(barePrefix.length)}`) },
      );
    };
    const bareServer = await startBare(barePrefix);

    // No worker takes jobs: they pile up, so the queue caps are lifted (their checks still run in
    // the admission script, at 0 = no cap). A live worker is there so the API accepts jobs for
    // claude; its queue is paused.
    const env = bridgeEnv(ctx.prefix, {
      WORKER_PROVIDERS: 'claude',
      MAX_QUEUED_PER_KEY: '0',
      MAX_QUEUED_PER_PROVIDER: '0',
    });
    const api = await ctx.group.startApi(env, {
      readLogs: false,
      ...profileArgs('api'),
    });
    const key = await createKey(ctx.http, api.url);
    const auth = { authorization: `Bearer ${key}` };
    await ctx.group.startWorker(env);
    const u = new URL(REDIS_URL);
    const queue = new Queue('claude', {
      connection: { host: u.hostname, port: Number(u.port || 6379) },
      prefix: ctx.prefix,
    });
    ctx.atClose(() => queue.close());
    await queue.pause(); // submission only: no CLI runs during the measurement
    const probe = await ctx.http.post(`${api.url}/jobs`, BODY, auth);
    if (probe.status !== 202)
      throw new Error(`POST /jobs answered ${probe.status}, not 202: ${probe.text.slice(0, 300)}`);

    const bare = tally('bare Express + BullMQ add', `${bareServer.url}/jobs`, {}, bareServer.pid);
    const bridge = tally('bridge POST /jobs', `${api.url}/jobs`, auth, api.pid);
    const sides = [bare, bridge];
    if (Number(o.ablation)) {
      // The bridge's key, for the bare servers that run its admission.
      const entry = await ctx.redis.hget(redisKeys(ctx.prefix).apiKeyByHash, hashApiKey(key));
      if (!entry) throw new Error("the bench key is not in the bridge's index");
      const keyId = parseKeyIndexEntry(entry).id;
      const admitEnv = { BARE_ADMIT_PREFIX: ctx.prefix, BARE_ADMIT_KEY_ID: keyId };
      const withAdmission = await startBare(`${ctx.prefix}-bare-adm`, admitEnv);
      const withLog = await startBare(`${ctx.prefix}-bare-adm-log`, { ...admitEnv, BARE_LOG: '1' });
      sides.splice(
        1,
        0,
        tally('bare + admission', `${withAdmission.url}/jobs`, {}, withAdmission.pid),
        tally('bare + admission + log line', `${withLog.url}/jobs`, {}, withLog.pid),
      );
    }
    for (const side of sides) {
      const r = await ctx.http.post(side.url, BODY, side.headers);
      if (r.status !== 202) throw new Error(`${side.name} answered ${r.status}: ${r.text.slice(0, 300)}`);
    }
    log(`submit-throughput: ${o.warmupS} s warm-up each, ${o.connections} connections`);
    for (const side of sides)
      await cannon(side.url, side.headers, { connections: o.connections, durationS: o.warmupS });
    for (let r = 0; r < o.rounds; r++) {
      const order = r % 2 === 0 ? sides : [...sides].reverse();
      log(
        `submit-throughput: round ${r + 1}/${o.rounds}, ${order.map((s) => s.name).join(' then ')}, ${o.blockS} s each`,
      );
      for (const side of order) await block(side, ctx.redis, o);
    }
    for (const side of sides) {
      if (side.non2xx || side.errors || side.timeouts)
        throw new Error(`${side.name} had failures: ${JSON.stringify(figures(side))}`);
    }

    const b = figures(bare);
    const g = figures(bridge);
    const ratio = round2(g.reqPerSec / b.reqPerSec);
    const row = (server, s) => ({
      server,
      'req/s': s.reqPerSec,
      'req/s per block': s.blockRates.join(' '),
      'p50 ms': s.latencyP50Median,
      'p99 ms': s.latencyP99Median,
      'server CPU ms/req': s.serverCpuMsPerRequest,
      'Redis CPU ms/req': s.redisCpuMsPerRequest,
    });
    return {
      name: 'submit-throughput',
      config: o,
      baseline: b,
      bridge: g,
      ratio,
      target: { ratio: TARGET_RATIO, met: ratio >= TARGET_RATIO },
      ...(sides.length > 2
        ? { ablation: Object.fromEntries(sides.slice(1, -1).map((s) => [s.name, figures(s)])) }
        : {}),
      table: sides.map((s) => {
        const f = figures(s);
        return { ...row(s.name, f), '× bare': round2(f.reqPerSec / b.reqPerSec) };
      }),
      notes: [
        `bridge / baseline throughput: ${ratio}× (target ${TARGET_RATIO}×: ${ratio >= TARGET_RATIO ? 'MET' : 'NOT MET'}); per-block ratios ${bridge.blockRates.map((x, i) => round2(x / bare.blockRates[i])).join(', ')}.`,
        `autocannon: ${o.connections} connections, pipelining 1, ${o.rounds} rounds of ${o.blockS} s blocks per side, alternating order, after ${o.warmupS} s warm-up each; no failed request on either side.`,
        "p50/p99: the median over the blocks of each block's percentile. CPU ms/req: the server process (/proc) and the whole Redis server (INFO cpu) over that side's blocks.",
      ],
    };
  } finally {
    await ctx.close();
  }
}
