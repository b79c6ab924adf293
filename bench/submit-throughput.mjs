// Async submit throughput: autocannon against POST /jobs of the bridge's API, and against a bare
// Express + BullMQ `queue.add` endpoint (bench/lib/bare-submit-server.mjs, same job options) as
// the baseline; both servers are separate processes, measured in the same run, reported as a ratio.
// While the bridge half runs, its claude queue is paused, so only submission is measured (no CLI
// runs compete for the CPU). If the bridge answers 404 (the route does not exist yet), the bridge
// half is skipped and reported as such: no figure is invented for it.
//
// Options: --connections=16 --duration-s=10 --warmup-s=2
import autocannon from 'autocannon';
import { Queue } from 'bullmq';
import { bridgeEnv, createBenchContext, createKey, deletePrefix, log, REDIS_URL } from './lib/common.mjs';

export const DEFAULTS = { connections: 16, durationS: 10, warmupS: 2 };

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

function summary(r) {
  return {
    requests: r.requests.total,
    reqPerSec: Math.round(r.requests.average),
    latencyP50: r.latency.p50,
    latencyP97_5: r.latency.p97_5,
    latencyP99: r.latency.p99,
    latencyMax: r.latency.max,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
  };
}

async function measure(url, headers, o) {
  await cannon(url, headers, { connections: o.connections, durationS: o.warmupS });
  return summary(await cannon(url, headers, { connections: o.connections, durationS: o.durationS }));
}

export async function run(opts = {}) {
  const o = { ...DEFAULTS, ...opts };
  const ctx = createBenchContext('submit');
  const barePrefix = `${ctx.prefix}-bare`;
  ctx.atClose(() => deletePrefix(ctx.redis, barePrefix));
  try {
    // ---- baseline: bare Express + BullMQ add
    const bare = await ctx.group.startServer('bench/lib/bare-submit-server.mjs', {
      PATH: process.env.PATH ?? '',
      REDIS_URL,
      REDIS_PREFIX: barePrefix,
    });
    log(
      `submit-throughput: baseline, ${o.connections} connections, ${o.warmupS} s warm-up + ${o.durationS} s`,
    );
    const baseline = await measure(`${bare.url}/jobs`, {}, o);
    await bare.stop();
    if (baseline.non2xx || baseline.errors)
      throw new Error(`baseline had failures: ${JSON.stringify(baseline)}`);

    // ---- the bridge: POST /jobs, if it exists
    // No worker runs: the jobs pile up, so the queue caps are lifted (their checks still run in
    // the admission script, at 0 = no cap).
    const env = bridgeEnv(ctx.prefix, {
      WORKER_PROVIDERS: 'claude',
      MAX_QUEUED_PER_KEY: '0',
      MAX_QUEUED_PER_PROVIDER: '0',
    });
    const api = await ctx.group.startApi(
      env,
      process.env.BENCH_PROFILE ? { nodeArgs: ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] } : {},
    );
    const key = await createKey(ctx.http, api.url);
    const auth = { authorization: `Bearer ${key}` };
    let bridge;
    let skipped;
    let probe = await ctx.http.post(`${api.url}/jobs`, BODY, auth);
    if (probe.status === 404) {
      skipped = `not yet: POST /jobs missing (the bridge answered 404: ${probe.text.slice(0, 200)})`;
      log(`submit-throughput: ${skipped}`);
    } else {
      await ctx.group.startWorker(env); // a live worker, so the API accepts jobs for claude
      const u = new URL(REDIS_URL);
      const queue = new Queue('claude', {
        connection: { host: u.hostname, port: Number(u.port || 6379) },
        prefix: ctx.prefix,
      });
      ctx.atClose(() => queue.close());
      await queue.pause(); // submission only: no CLI runs during the measurement
      probe = await ctx.http.post(`${api.url}/jobs`, BODY, auth);
      if (probe.status !== 202)
        throw new Error(`POST /jobs answered ${probe.status}, not 202: ${probe.text.slice(0, 300)}`);
      log(
        `submit-throughput: bridge, ${o.connections} connections, ${o.warmupS} s warm-up + ${o.durationS} s`,
      );
      bridge = await measure(`${api.url}/jobs`, auth, o);
    }

    const ratio = bridge ? Math.round((bridge.reqPerSec / baseline.reqPerSec) * 100) / 100 : null;
    const row = (server, s) => ({
      server,
      'req/s': s.reqPerSec,
      requests: s.requests,
      'p50 ms': s.latencyP50,
      'p97.5 ms': s.latencyP97_5,
      'p99 ms': s.latencyP99,
      'max ms': s.latencyMax,
      non2xx: s.non2xx,
      errors: s.errors,
    });
    return {
      name: 'submit-throughput',
      config: o,
      baseline,
      bridge: bridge ?? null,
      skipped: skipped ?? null,
      ratio,
      table: [
        row('bare Express + BullMQ add', baseline),
        bridge
          ? row('bridge POST /jobs', bridge)
          : { server: 'bridge POST /jobs', 'req/s': 'skipped: not yet: POST /jobs missing' },
      ],
      notes: [
        bridge
          ? `bridge / baseline throughput: ${ratio}× (bridge non-2xx must be 0 for the figure to count: ${bridge.non2xx}).`
          : skipped,
        `autocannon: ${o.connections} connections, pipelining 1, ${o.durationS} s after ${o.warmupS} s warm-up, from the bench process.`,
      ],
    };
  } finally {
    await ctx.close();
  }
}
