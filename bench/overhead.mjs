// Bridge overhead: sync POST /generate through the bridge (API and one worker as separate OS
// processes, CLAUDE_BIN = the fake claude answering at once) versus spawning the same fake CLI
// directly from Node with the same argv, stdin and environment, at 1 and at 8 in flight (--many).
// The 1-in-flight measurement is repeated --runs times (the target must hold in 5 of 6 runs).
//
// The two sides run in alternating blocks (bridge block, direct block, ...) so drift in machine
// load hits both. "overhead" is the difference of the percentiles (bridge pXX − direct pXX), not a
// percentile of per-request differences (the two sides are separate requests).
//
// Options (node bench/run.mjs overhead --runs=6 ...): --warmup=50 --n1=300 --runs=1 --many=8
// --n-many=300 --block=50
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@cli-bridge/shared';
import { buildCliEnv, createClaudeAdapter } from '@cli-bridge/worker';
import {
  bridgeEnv,
  createBenchContext,
  createKey,
  diffPercentiles,
  idleCost,
  log,
  profileArgs,
  runConcurrent,
  cpuMs,
  spawnDirect,
  summarize,
  statsRow,
} from './lib/common.mjs';

export const DEFAULTS = { warmup: 50, n1: 300, runs: 1, many: 8, nMany: 300, block: 50 };
/** The 1-in-flight target (ms), to hold in at least 5 of 6 runs. */
export const TARGET = { p50: 5, p99: 15 };

/** Runs out of `runs` in which the target must hold: 5 of 6 (1 of 1). */
export const runsRequired = (runs) => Math.ceil((runs * 5) / 6);

const SYSTEM_PROMPT = 'You are a terse assistant.';
const userPrompt = (i) => `What is 2+2? (request ${i})`;

/**
 * Starts an API and a worker for `ctx` and returns the two request functions:
 * `bridge(i)` (POST /generate, resolves to ms) and `direct(i)` (spawn the CLI, resolves to ms).
 * Both check the answer, so an error can never pass for a fast reply.
 */
export async function setupBridgeAndDirect(ctx, { workerConcurrency = 2, env: extraEnv = {} } = {}) {
  const env = bridgeEnv(ctx.prefix, {
    WORKER_PROVIDERS: 'claude',
    WORKER_CONCURRENCY_CLAUDE: String(workerConcurrency),
    ...extraEnv,
  });
  const api = await ctx.group.startApi(env, profileArgs('api'));
  let worker = await ctx.group.startWorker(env, profileArgs('worker'));
  const key = await createKey(ctx.http, api.url);
  const auth = { authorization: `Bearer ${key}` };

  // The direct side: exactly the invocation the worker's adapter builds (argv, stdin, extra env),
  // with the environment the worker would hand the CLI (buildCliEnv over the worker's env).
  const config = loadConfig(env);
  const adapter = createClaudeAdapter({
    bin: config.CLAUDE_BIN,
    timeoutMs: config.CLAUDE_TIMEOUT_MS,
    maxBufferBytes: config.CLAUDE_MAX_BUFFER_BYTES,
    maxRetries: config.CLAUDE_CODE_MAX_RETRIES,
  });
  const scratch = mkdtempSync(join(tmpdir(), 'cli-bridge-bench-direct-'));
  ctx.atClose(() => rmSync(scratch, { recursive: true, force: true }));
  const workDir = join(scratch, 'work');
  await mkdir(workDir);
  const jobData = {
    v: 1,
    provider: 'claude',
    keyName: 'bench',
    systemPrompt: SYSTEM_PROMPT,
    userPrompt: userPrompt(0),
    model: config.CLAUDE_DEFAULT_MODEL,
    stream: false,
    submittedAt: Date.now(),
  };
  const inv = await adapter.prepare(jobData, { workDir, privateDir: scratch });
  const cliEnv = buildCliEnv({
    provider: 'claude',
    base: env,
    passthrough: config.CLI_ENV_PASSTHROUGH,
    extra: inv.env,
  });

  let bridgeErrors = 0;
  /** { jobId, ms } of every successful bridge request, for `breakdown()`. */
  const bridgeLog = [];
  async function bridge(i) {
    const r = await ctx.http.post(
      `${api.url}/generate`,
      { systemPrompt: SYSTEM_PROMPT, userPrompt: userPrompt(i) },
      auth,
    );
    const text = r.json?.content?.[0]?.text;
    if (r.status !== 200 || typeof text !== 'string' || !text.startsWith('Echo: ')) {
      if (++bridgeErrors <= 3) log(`bridge request failed: ${r.status} ${r.text.slice(0, 300)}`);
      if (bridgeErrors > 10)
        throw new Error(`too many failed bridge requests (last: ${r.status} ${r.text.slice(0, 300)})`);
      return undefined;
    }
    bridgeLog.push({ jobId: r.json.job_id, ms: r.ms });
    return r.ms;
  }
  let directErrors = 0;
  async function direct(i) {
    const r = await spawnDirect({
      bin: inv.bin,
      args: inv.args,
      stdin: adapter.stdinOf({ ...jobData, userPrompt: userPrompt(i) }),
      cwd: workDir,
      env: cliEnv,
    });
    let ok = false;
    try {
      ok = r.code === 0 && JSON.parse(r.stdout.trim().split('\n').at(-1)).type === 'result';
    } catch {
      ok = false;
    }
    if (!ok) {
      if (++directErrors <= 3) log(`direct spawn failed: rc ${r.code} ${r.stderr.slice(0, 300)}`);
      if (directErrors > 10) throw new Error('too many failed direct spawns');
      return undefined;
    }
    return r.ms;
  }

  return {
    api,
    prefix: ctx.prefix,
    redis: ctx.redis,
    get worker() {
      return worker;
    },
    bridge,
    direct,
    bridgeLog,
    errors: () => ({ bridge: bridgeErrors, direct: directErrors }),
    /** Replaces the worker process (e.g. with another WORKER_CONCURRENCY_CLAUDE). */
    async restartWorker(overrides) {
      await worker.stop();
      worker = await ctx.group.startWorker({ ...env, ...overrides });
    },
  };
}

/**
 * `total` requests per side at `concurrency` in flight, the sides alternating in blocks of
 * `block`. Returns both summaries and their percentile difference.
 */
export async function measurePair(sides, { total, concurrency, block }) {
  const bridgeMs = [];
  const directMs = [];
  const cliBefore = sides.worker.cliDurations.length;
  const logFrom = sides.bridgeLog.length;
  const t0 = performance.now();
  const elapsed = { bridge: 0, direct: 0 };
  const cpu0 = { api: cpuMs(sides.api.pid), worker: cpuMs(sides.worker.pid) };
  for (let done = 0; done < total; done += block) {
    const n = Math.min(block, total - done);
    let t = performance.now();
    bridgeMs.push(...(await runConcurrent(n, concurrency, (i) => sides.bridge(done + i))));
    elapsed.bridge += performance.now() - t;
    t = performance.now();
    directMs.push(...(await runConcurrent(n, concurrency, (i) => sides.direct(done + i))));
    elapsed.direct += performance.now() - t;
  }
  // CPU the two bridge processes spent per request (their own, not the CLIs' or Redis's); they idle
  // during the direct blocks but for heartbeats.
  const cpuPerRequestMs = {
    api: Math.round(((cpuMs(sides.api.pid) - cpu0.api) / total) * 100) / 100,
    worker: Math.round(((cpuMs(sides.worker.pid) - cpu0.worker) / total) * 100) / 100,
  };
  const perSecond = {
    bridge: Math.round((total / elapsed.bridge) * 10000) / 10,
    direct: Math.round((total / elapsed.direct) * 10000) / 10,
  };
  const wallS = (performance.now() - t0) / 1000;
  const breakdown = await jobBreakdown(sides, logFrom);
  const bridge = summarize(bridgeMs.filter((x) => x !== undefined));
  const direct = summarize(directMs.filter((x) => x !== undefined));
  // The CLI's run time as the worker timed it (spawn → close), from its "job completed" log lines.
  const cliInWorker = summarize(sides.worker.cliDurations.slice(cliBefore));
  return {
    concurrency,
    total,
    bridge,
    direct,
    overhead: diffPercentiles(bridge, direct),
    cliInWorker,
    breakdown,
    perSecond,
    cpuPerRequestMs,
    wallS: Math.round(wallS),
  };
}

/**
 * Where a bridge request's time goes, from the BullMQ job hashes (kept by retention) and the
 * result's duration_ms, per request, then summarised (ms; BullMQ stamps are whole ms):
 *   queueWait  = processedOn − timestamp   (added → a worker took it)
 *   processing = finishedOn − processedOn  (the worker's processor, CLI included)
 *   cli        = result duration_ms        (runCli: spawn → close)
 *   workerExtra = processing − cli         (payload parse, scratch dir, prompt file, rm, parse)
 *   apiSide    = request ms − (finishedOn − timestamp)  (HTTP, auth, checks, add, the
 *                completion event reaching the API, the response)
 */
export async function jobBreakdown(sides, from = 0) {
  const entries = sides.bridgeLog.slice(from);
  const prefix = sides.prefix;
  const p = sides.redis.pipeline();
  for (const e of entries)
    p.hmget(`${prefix}:claude:${e.jobId}`, 'timestamp', 'processedOn', 'finishedOn', 'returnvalue');
  const rows = await p.exec();
  const parts = { queueWait: [], processing: [], cli: [], workerExtra: [], apiSide: [] };
  rows.forEach(([err, v], i) => {
    if (err || !v?.[0] || !v[2]) return; // job already trimmed by retention
    const [ts, processedOn, finishedOn] = v.slice(0, 3).map(Number);
    let cli;
    try {
      cli = JSON.parse(v[3]).duration_ms;
    } catch {
      return;
    }
    parts.queueWait.push(processedOn - ts);
    parts.processing.push(finishedOn - processedOn);
    parts.cli.push(cli);
    parts.workerExtra.push(finishedOn - processedOn - cli);
    parts.apiSide.push(entries[i].ms - (finishedOn - ts));
  });
  return Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, summarize(v)]));
}

export async function run(opts = {}) {
  const o = { ...DEFAULTS, ...opts };
  const ctx = createBenchContext('overhead');
  try {
    const sides = await setupBridgeAndDirect(ctx, { workerConcurrency: 2 });
    // What the two processes cost doing nothing (timers, heartbeats), part of every request's CPU.
    log('overhead: 5 s idle');
    const idle = await idleCost({ api: sides.api.pid, worker: sides.worker.pid });
    log(`overhead: warm-up ${o.warmup} per side`);
    await runConcurrent(o.warmup, 1, sides.bridge);
    await runConcurrent(o.warmup, 1, sides.direct);

    const c1runs = [];
    for (let r = 1; r <= o.runs; r++) {
      log(
        `overhead: run ${r}/${o.runs}, ${o.n1} per side at 1 in flight (WORKER_CONCURRENCY_CLAUDE=2, the default)`,
      );
      c1runs.push(await measurePair(sides, { total: o.n1, concurrency: 1, block: o.block }));
    }
    const c1 = c1runs.at(-1);

    // Reference: the API's own HTTP round trip (GET /health: Express, helmet, no Redis, not logged).
    const health = summarize(
      await runConcurrent(200, 1, async () => {
        const r = await ctx.http.get(`${sides.api.url}/health`);
        if (r.status !== 200) throw new Error(`/health answered ${r.status}`);
        return r.ms;
      }),
    );

    log(`overhead: restarting the worker with WORKER_CONCURRENCY_CLAUDE=${o.many}`);
    await sides.restartWorker({ WORKER_CONCURRENCY_CLAUDE: String(o.many) });
    await runConcurrent(o.warmup, o.many, sides.bridge);
    await runConcurrent(o.warmup, o.many, sides.direct);
    log(`overhead: ${o.nMany} per side at ${o.many} in flight`);
    const cMany = await measurePair(sides, {
      total: o.nMany,
      concurrency: o.many,
      block: Math.max(o.block, 250),
    });

    const metIn = (m) => m.overhead.p50 <= TARGET.p50 && m.overhead.p99 <= TARGET.p99;
    const runsMet = c1runs.filter(metIn).length;
    const met = runsMet >= runsRequired(o.runs);
    const table = [];
    table.push(statsRow('reference: GET /health @1', health));
    table.push({
      series: `idle, per second: api ${idle.api.cpuMsPerS} ms CPU, ${idle.api.wakeupsPerS} wake-ups; worker ${idle.worker.cpuMsPerS} ms CPU, ${idle.worker.wakeupsPerS} wake-ups`,
    });
    if (c1runs.length > 1) {
      c1runs.forEach((m, i) =>
        table.push({
          series: `run ${i + 1}: overhead @1 (pXX diff)${metIn(m) ? '' : ' (target missed)'}`,
          n: m.total,
          ...m.overhead,
          max: '',
        }),
      );
    }
    for (const m of [c1, cMany]) {
      table.push(statsRow(`bridge @${m.concurrency}`, m.bridge));
      table.push(statsRow(`direct @${m.concurrency}`, m.direct));
      table.push({ series: `overhead @${m.concurrency} (pXX diff)`, n: '', ...m.overhead, max: '' });
      table.push({
        series: `completed/s @${m.concurrency}: bridge ${m.perSecond.bridge}, direct ${m.perSecond.direct}`,
      });
      table.push({
        series: `CPU ms per request @${m.concurrency}: api ${m.cpuPerRequestMs.api}, worker ${m.cpuPerRequestMs.worker}`,
      });
      table.push(statsRow(`CLI run inside worker @${m.concurrency}`, m.cliInWorker));
      for (const [k, v] of Object.entries(m.breakdown))
        table.push(statsRow(`  job ${k} @${m.concurrency}`, v));
    }
    return {
      name: 'overhead',
      config: {
        ...o,
        logLevel: 'info',
        nodeEnv: 'production',
        worker: 'fake claude, instant reply (FAKE_CLI_MODE unset = success, delay 0)',
      },
      c1,
      c1runs,
      cMany,
      health,
      idle,
      target: { ...TARGET, atConcurrency: 1, runs: o.runs, runsMet, runsRequired: runsRequired(o.runs), met },
      errors: sides.errors(),
      warnings: { api: sides.api.warnings, worker: sides.worker.warnings },
      table,
      notes: [
        'overhead = bridge percentile − direct percentile (difference of percentiles, not percentile of differences); ms.',
        `target at 1 in flight: p50 ≤ ${TARGET.p50} ms and p99 ≤ ${TARGET.p99} ms in ${runsRequired(o.runs)} of ${o.runs} run(s) → ${met ? 'MET' : 'NOT MET'} (met in ${runsMet}; p50s ${c1runs.map((m) => m.overhead.p50).join(', ')}; p99s ${c1runs.map((m) => m.overhead.p99).join(', ')}).`,
        '"CLI run inside worker" = durationMs from the worker\'s "job completed" log (spawn → close as timed by the worker).',
        '"job …" rows, per request from the BullMQ job hash: queueWait = added→taken, processing = taken→finished, cli = runCli time, workerExtra = processing − cli, apiSide = request − (added→finished): HTTP, auth, checks, add, completion event, response.',
      ],
    };
  } finally {
    await ctx.close();
  }
}
