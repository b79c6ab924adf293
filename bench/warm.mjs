// Warm pool on vs off with the REAL CLIs (pinned devDependencies of tests/) offline against the
// loopback mock model (the tests' mock model server, which answers at once): two bridges side by
// side in one run, each an API + a worker process on its own Redis prefix, one with
// WARM_POOL_MAX=0 (every job spawns its CLI cold) and one with the pool on (default settings).
// Repeated requests with one system prompt, cold and warm strictly alternating:
//   - claude and codex, sync (time to response, client side) and streaming (time to the first
//     `text` SSE event, client side);
//   - between two requests a client "think time" (--think-ms, default 1500): the pool starts the
//     next process when a job ends, and a real client rarely sends its next request within
//     the same millisecond; both sides get the same pause;
//   - one discarded warm-up round; the warm side's hits and misses are read from its worker's
//     heartbeat (a miss is served cold and still counted in the warm column: nothing is dropped).
// Memory: RSS of each worker process and of the CLI process groups waiting under it, sampled
// after every request and every 100 ms of a load phase (--load-n requests, 4 in flight, with
// --load-keys system prompts so keys churn) run against the warm bridge with
// WARM_POOL_MAX_RSS_MB=--load-budget-mb.
//
// Options: --warm-n=20 --think-ms=1500 --load-n=40 --load-keys=6 --load-budget-mb=600
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import { loadConfig, redisKeys } from '@cli-bridge/shared';
import {
  bridgeEnv,
  createBenchContext,
  createKey,
  log,
  runConcurrent,
  rssKiB,
  summarize,
} from './lib/common.mjs';
import { postSse } from './lib/sse.mjs';
import { startMockModelServer } from '../tests/dist/mock-model-server.js';
import { claudeBin, claudeMockEnv, codexBin, createScratch, writeCodexHome } from '../tests/dist/real-cli.js';

export const DEFAULTS = { warmN: 20, thinkMs: 1500, loadN: 40, loadKeys: 6, loadBudgetMb: 600 };

const SYSTEM_PROMPT = 'You are a terse assistant. Answer in one line.';
const TEXT = { claude: 'Hello from mock-anthropic.', codex: 'Hello from mock-openai.' };
const PATHS = { claude: '/generate', codex: '/generate-codex' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Pids and RSS (KiB) of the live processes whose parent is `ppid`, with their command lines. */
function children(ppid) {
  const out = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) !== ppid || f[0] === 'Z') continue;
      out.push({ pid: Number(e), pgrp: Number(f[2]), cmd: readFileSync(`/proc/${e}/cmdline`, 'utf8') });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** RSS (MiB) of every process in group `pgid`. */
function groupRssMiB(pgid) {
  let kib = 0;
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // A zombie has no VmRSS line (NaN): it holds no memory.
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid) kib += rssKiB(Number(e)) || 0;
    } catch {
      // gone
    }
  }
  return kib / 1024;
}

/** Worker RSS and the RSS of the CLI groups under it (the watchdog shell excluded), MiB. */
function memoryOf(workerPid) {
  const clis = children(workerPid).filter((c) => !c.cmd.startsWith('/bin/sh'));
  const groups = clis.map((c) => ({ cmd: c.cmd, mib: groupRssMiB(c.pgrp) }));
  const cliMiB = groups.reduce((a, g) => a + g.mib, 0);
  return { workerMiB: rssKiB(workerPid) / 1024, cliMiB, clis: groups.length, groups };
}

const r1 = (x) => Math.round(x * 10) / 10;

export async function run(opts = {}) {
  const o = { ...DEFAULTS, ...opts };
  const cold = createBenchContext('warm-off');
  const warm = createBenchContext('warm-on');
  const mock = await startMockModelServer({
    anthropicText: TEXT.claude,
    openaiText: TEXT.codex,
    logUnknown: false,
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  try {
    const bins = { claude: claudeBin(), codex: codexBin() };
    async function deploy(ctx, extra) {
      const home = await createScratch(`bench-${ctx.name}`);
      ctx.atClose(() => home.cleanup());
      const env = bridgeEnv(ctx.prefix, {
        HOME: home.home,
        WORKER_PROVIDERS: 'claude,codex',
        CLAUDE_BIN: bins.claude,
        CODEX_BIN: bins.codex,
        CLI_ENV_PASSTHROUGH: 'MOCK_API_KEY',
        CLAUDE_CODE_MAX_RETRIES: '0',
        ...claudeMockEnv(mock.url),
        ...(await writeCodexHome(join(home.home, '.codex'), mock.url, [
          loadConfig(bridgeEnv(ctx.prefix)).CODEX_DEFAULT_MODEL,
        ])),
        ...extra,
      });
      const api = await ctx.group.startApi(env);
      const worker = await ctx.group.startWorker(env);
      const key = await createKey(ctx.http, api.url);
      return { ctx, env, api, worker, auth: { authorization: `Bearer ${key}` } };
    }
    const off = await deploy(cold, { WARM_POOL_MAX: '0' });
    // The pool's own defaults (WARM_POOL_MAX 4, PER_KEY 1, MAX_RSS_MB 1024).
    const on = await deploy(warm, { WARM_POOL_MAX: '4' });

    /** The warm pool figures of the side's worker (the one that beat last). */
    async function pool(side) {
      const keys = redisKeys(side.ctx.prefix);
      const [id] = await side.ctx.redis.zrange(keys.workers, 0, 0, 'REV');
      const raw = id ? await side.ctx.redis.get(keys.worker(id)) : null;
      return raw ? JSON.parse(raw).warmPool : undefined;
    }

    /** One request; resolves to { ms, ttftMs } (ttftMs for streams only). */
    async function request(side, provider, stream, systemPrompt = SYSTEM_PROMPT) {
      const url = `${side.api.url}${PATHS[provider]}`;
      const body = { systemPrompt, userPrompt: 'What is 2+2?', stream };
      if (!stream) {
        const r = await side.ctx.http.post(url, body, side.auth);
        const text = r.json?.content?.[0]?.text;
        if (r.status !== 200 || text !== TEXT[provider])
          throw new Error(`${provider} sync failed: ${r.status} ${r.text.slice(0, 300)}`);
        return { ms: r.ms };
      }
      const r = await postSse(agent, url, body, side.auth);
      const first = r.events.find((e) => e.type === 'text');
      const text = r.events
        .filter((e) => e.type === 'text')
        .map((e) => JSON.parse(e.data).text)
        .join('');
      if (r.status !== 200 || !first || text !== TEXT[provider] || r.events.at(-1)?.type !== 'done')
        throw new Error(`${provider} stream failed: ${r.status} ${r.text.slice(0, 300)} text=${text}`);
      return { ms: r.endMono - r.startMono, ttftMs: first.atMono - r.startMono };
    }

    const series = [];
    for (const provider of ['claude', 'codex'])
      for (const stream of [false, true]) series.push({ provider, stream });
    const results = new Map(series.map((s) => [s, { off: [], on: [], offTtft: [], onTtft: [] }]));
    const memSamples = [];

    log('warm: one discarded warm-up round per side and series');
    for (const s of series) {
      await request(off, s.provider, s.stream);
      await request(on, s.provider, s.stream);
    }
    await sleep(o.thinkMs);
    const before = await pool(on);
    log(`warm: ${o.warmN} rounds, cold and warm alternating, ${o.thinkMs} ms think time`);
    for (let i = 0; i < o.warmN; i++) {
      for (const s of series) {
        // Alternate which side goes first, so neither always follows the other's CPU burst.
        const order = i % 2 ? [on, off] : [off, on];
        for (const side of order) {
          const r = await request(side, s.provider, s.stream);
          const bucket = results.get(s);
          const which = side === on ? 'on' : 'off';
          bucket[which].push(r.ms);
          if (r.ttftMs !== undefined) bucket[`${which}Ttft`].push(r.ttftMs);
        }
        memSamples.push(memoryOf(on.worker.pid));
      }
      await sleep(o.thinkMs);
    }
    const after = await pool(on);

    // Memory under load: several system prompts, 4 in flight, a smaller budget.
    log(`warm: load phase, ${o.loadN} requests, ${o.loadKeys} system prompts, budget ${o.loadBudgetMb} MiB`);
    await on.worker.stop();
    const loaded = await warm.group.startWorker({ ...on.env, WARM_POOL_MAX_RSS_MB: String(o.loadBudgetMb) });
    const loadSamples = [];
    // The pool's own figure for its waiting processes (what the budget caps), from each heartbeat.
    const poolRss = [];
    const sampler = setInterval(() => {
      try {
        loadSamples.push(memoryOf(loaded.pid));
      } catch {
        // a process went away mid-read
      }
      void pool(on).then((p) => p && poolRss.push(p.rssMb));
    }, 100);
    let k = 0;
    let memoryLoadPool;
    try {
      await runConcurrent(o.loadN, 4, async () => {
        const n = k++;
        const provider = n % 3 === 2 ? 'codex' : 'claude';
        await request(on, provider, false, `${SYSTEM_PROMPT} Persona ${n % o.loadKeys}.`);
      });
      // The pool refills after the last jobs: watch it settle for a few sweeps.
      await sleep(3_000);
      memoryLoadPool = await pool(on);
    } finally {
      clearInterval(sampler);
    }

    const table = [];
    const out = { series: [] };
    for (const s of series) {
      const b = results.get(s);
      const label = `${s.provider} ${s.stream ? 'stream' : 'sync'}`;
      const offS = summarize(b.off);
      const onS = summarize(b.on);
      const row = { label, off: offS, on: onS, ratioP50: r1((onS.p50 / offS.p50) * 100) / 100 };
      table.push({
        series: `${label}: time to response`,
        n: onS.n,
        'off p50': offS.p50,
        'off p95': offS.p95,
        'on p50': onS.p50,
        'on p95': onS.p95,
        'on/off p50': (onS.p50 / offS.p50).toFixed(2),
        'on/off p95': (onS.p95 / offS.p95).toFixed(2),
      });
      if (s.stream) {
        const offT = summarize(b.offTtft);
        const onT = summarize(b.onTtft);
        Object.assign(row, { offTtft: offT, onTtft: onT });
        table.push({
          series: `${label}: time to first text`,
          n: onT.n,
          'off p50': offT.p50,
          'off p95': offT.p95,
          'on p50': onT.p50,
          'on p95': onT.p95,
          'on/off p50': (onT.p50 / offT.p50).toFixed(2),
          'on/off p95': (onT.p95 / offT.p95).toFixed(2),
        });
      }
      out.series.push(row);
    }
    const perProcess = (samples, re) =>
      summarize(samples.flatMap((m) => m.groups.filter((g) => re.test(g.cmd)).map((g) => g.mib)));
    const memory = {
      sequential: {
        workerMiB: summarize(memSamples.map((m) => m.workerMiB)),
        waitingCliMiB: summarize(memSamples.map((m) => m.cliMiB)),
        totalMiB: summarize(memSamples.map((m) => m.workerMiB + m.cliMiB)),
        claudeGroupMiB: perProcess(memSamples, /claude/),
        codexGroupMiB: perProcess(memSamples, /codex/),
      },
      load: {
        budgetMiB: o.loadBudgetMb,
        samples: loadSamples.length,
        workerMiB: summarize(loadSamples.map((m) => m.workerMiB)),
        cliMiB: summarize(loadSamples.map((m) => m.cliMiB)),
        totalMiB: summarize(loadSamples.map((m) => m.workerMiB + m.cliMiB)),
        maxClis: Math.max(0, ...loadSamples.map((m) => m.clis)),
        waitingMiB: summarize(poolRss),
      },
      loadPool: memoryLoadPool,
    };
    for (const [name, m] of Object.entries({
      'worker RSS (sequential)': memory.sequential.workerMiB,
      'waiting CLIs RSS (sequential, sampled after each request)': memory.sequential.waitingCliMiB,
      'one claude group RSS (waiting or running)': memory.sequential.claudeGroupMiB,
      'one codex group RSS (waiting or running)': memory.sequential.codexGroupMiB,
      [`worker RSS (load)`]: memory.load.workerMiB,
      [`CLI groups RSS, waiting + running (load)`]: memory.load.cliMiB,
      [`waiting CLIs RSS, the pool's own reading (load, budget ${o.loadBudgetMb} MiB)`]:
        memory.load.waitingMiB,
      [`worker + all its CLI groups (load)`]: memory.load.totalMiB,
    }))
      table.push({
        series: `MiB: ${name}`,
        n: m.n,
        'on p50': r1(m.p50),
        'on p95': r1(m.p95),
        max: r1(m.max),
      });

    return {
      name: 'warm',
      config: { ...o, bins, mock: 'tests/helpers/mock-model-server.ts (loopback, instant)' },
      ...out,
      pool: { before, after, hits: after.hits - before.hits, misses: after.misses - before.misses },
      memory,
      table,
      notes: [
        `ms, client side; ${o.warmN} requests per side and series, cold (WARM_POOL_MAX=0) and warm (pool on) alternating, ${o.thinkMs} ms think time after each round.`,
        `warm side during the timed rounds: ${after.hits - before.hits} hits, ${after.misses - before.misses} misses (a miss runs cold and stays in the figures).`,
        `load phase: ${o.loadN} sync requests, 4 in flight, ${o.loadKeys} system prompts (claude 2 of 3, codex 1 of 3), WARM_POOL_MAX_RSS_MB=${o.loadBudgetMb}; pool after: ${JSON.stringify(memory.loadPool)}; at most ${memory.load.maxClis} CLI groups under the worker at once (running + waiting).`,
      ],
    };
  } finally {
    agent.destroy();
    await warm.close();
    await cold.close();
    await mock.close();
  }
}
