// Per-stage breakdown of a sync POST /generate (TRACE_STAGES=true; see shared/src/trace.ts): API
// and one worker as separate OS processes, the fake claude answering at once, N sequential
// requests, interleaved in blocks with the same number of direct spawns of that CLI (the
// baseline; overhead.mjs's `setupBridgeAndDirect` and `measurePair`).
//
// Each stage is the difference of two marks of one request, in ms; marks are epoch ms with
// sub-ms resolution (performance.timeOrigin + performance.now()) taken in this process (request
// sent, answer read), the API (a "stage trace" line per request) and the worker (one per job), so
// the stages that cross processes (HTTP in, worker pickup, reply heard, HTTP out) also carry
// the difference between the processes' time origins (µs on one machine). The stages of one
// request add up to its total exactly; their p50s need not. Two boundaries are not causal: the
// worker may take the job before the API's `queue.add` call has returned ('queued'), and the
// client may read the answer before the API's 'finish' callback runs ('responded'), and the API
// may hear the job's reply before the worker has read its settlement's answer ('settled': the
// two are sent back to back), so "worker pickup", "reply heard" and "HTTP out" can be below 0;
// the groups that join them with the stage before cannot.
//
// Options: --trace-warmup=30 --trace-n=300 --block=50
import { STAGE_TRACE_MSG } from '@cli-bridge/shared';
import { createBenchContext, log, runConcurrent, summarize } from './lib/common.mjs';
import { measurePair, setupBridgeAndDirect } from './overhead.mjs';

export const DEFAULTS = { traceWarmup: 30, traceN: 300, block: 50 };

/** [stage label, from mark, to mark]; `client.*` = this process, `api.*`, `worker.*`. */
export const STAGES = [
  ['HTTP in (client send → API first middleware)', 'client.sent', 'api.received'],
  ['API middleware (access log, security headers, CORS, limiters, routing)', 'api.received', 'api.routed'],
  ['auth (key lookup EVALSHA)', 'api.routed', 'api.authed'],
  ['body read + JSON parse', 'api.authed', 'api.bodyRead'],
  ['body validation (zod)', 'api.bodyRead', 'api.validated'],
  ['admission (model check, hold cache, EVALSHA)', 'api.validated', 'api.admitted'],
  ['queue add', 'api.admitted', 'api.queued'],
  ['worker pickup (queued → processor entered)', 'api.queued', 'worker.picked'],
  ['payload parse + scratch dir + prepare (lease renewed alongside)', 'worker.picked', 'worker.scratch'],
  ['lease acquire (EVALSHA: what outlasts the scratch dir)', 'worker.scratch', 'worker.leased'],
  ['spawn (env + fork/exec)', 'worker.leased', 'worker.spawned'],
  ['CLI run (spawned → close)', 'worker.spawned', 'worker.exited'],
  ['exit → parse', 'worker.exited', 'worker.parsed'],
  ['settlement (EVALSHA; the final events sent right behind it)', 'worker.parsed', 'worker.settled'],
  ['reply heard (events + PUBLISH → reply channel → API)', 'worker.settled', 'api.ended'],
  ['response (toGenerateResponse, res.json → finish)', 'api.ended', 'api.responded'],
  ['HTTP out (finish → client has the body)', 'api.responded', 'client.received'],
];

/**
 * The worker's steps off the request's path (they run while the API answers), reported apart:
 * [label, from mark, to mark].
 */
export const AFTER_REPLY = [
  ['worker: job events + reply MULTI done (settled → published)', 'worker.settled', 'worker.published'],
  [
    'worker: account spend, job log, scratch rm started (published → cleaned)',
    'worker.published',
    'worker.cleaned',
  ],
];

/** Groups of stages (by index range into STAGES), for the reading. */
const GROUPS = [
  // Two stages whose shared boundary the later process can pass first (see the header).
  ['queue add + worker pickup (admitted → picked)', [6, 7]],
  ['response + HTTP out (ended → client has the body)', [15, 16]],
  ['API in-process, before the queue (middleware … queue add)', [1, 2, 3, 4, 5, 6]],
  ['worker before the CLI (scratch, lease, spawn)', [8, 9, 10]],
  ['worker after the CLI, to the reply heard (parse, settlement, reply)', [12, 13, 14]],
  ['API response (ended → finish)', [15]],
];

const now = () => performance.timeOrigin + performance.now();
const r2 = (x) => Math.round(x * 100) / 100;

export async function run(opts = {}) {
  const o = { ...DEFAULTS, ...opts };
  const ctx = createBenchContext('trace');
  try {
    const sides = await setupBridgeAndDirect(ctx, { workerConcurrency: 2, env: { TRACE_STAGES: 'true' } });
    const sent = [];
    const traced = {
      ...sides,
      worker: sides.worker,
      async bridge(i) {
        const at = now();
        const ms = await sides.bridge(i);
        if (ms !== undefined) sent.push({ jobId: sides.bridgeLog.at(-1).jobId, sent: at, received: at + ms });
        return ms;
      },
    };
    log(`trace: warm-up ${o.traceWarmup} per side`);
    await runConcurrent(o.traceWarmup, 1, sides.bridge);
    await runConcurrent(o.traceWarmup, 1, sides.direct);
    log(`trace: ${o.traceN} per side at 1 in flight, blocks of ${o.block}`);
    const pair = await measurePair(traced, { total: o.traceN, concurrency: 1, block: o.block });
    // The worker logs its trace after it has answered: give the last lines time to arrive.
    await new Promise((r) => setTimeout(r, 500));

    const per = STAGES.map(() => []);
    const after = AFTER_REPLY.map(() => []);
    const totals = [];
    const nonCli = [];
    let missing = 0;
    let negative = 0;
    for (const s of sent) {
      const a = sides.api.traces.get(s.jobId);
      const w = sides.worker.traces.get(s.jobId);
      if (!a || !w) {
        missing++;
        continue;
      }
      const marks = { 'client.sent': s.sent, 'client.received': s.received };
      for (const [k, v] of Object.entries(a)) marks[`api.${k}`] = v;
      for (const [k, v] of Object.entries(w)) marks[`worker.${k}`] = v;
      const d = STAGES.map(([, from, to]) => marks[to] - marks[from]);
      AFTER_REPLY.forEach(([, from, to], i) => after[i].push(marks[to] - marks[from]));
      if (d.some((x) => !Number.isFinite(x))) {
        missing++;
        continue;
      }
      if (d.some((x) => x < 0)) negative++;
      d.forEach((x, i) => per[i].push(x));
      totals.push(s.received - s.sent);
      nonCli.push(s.received - s.sent - d[11]);
    }
    if (per[0].length < sent.length * 0.9)
      throw new Error(`only ${per[0].length} of ${sent.length} requests had both traces`);

    const stageStats = STAGES.map(([label, from, to], i) => ({
      label,
      from,
      to,
      ...summarize(per[i]),
      below0: per[i].filter((x) => x < 0).length,
    }));
    const afterStats = AFTER_REPLY.map(([label, from, to], i) => ({
      label,
      from,
      to,
      ...summarize(after[i]),
    }));
    const groupStats = GROUPS.map(([label, idx]) => {
      const sums = per[0].map((_, j) => idx.reduce((acc, i) => acc + per[i][j], 0));
      return { label, ...summarize(sums) };
    });
    const total = summarize(totals);
    const bridgeMinusCli = summarize(nonCli);
    const sumP50 = r2(stageStats.reduce((acc, s) => acc + s.p50, 0));
    const row = (label, s) => ({
      stage: label,
      n: s.n,
      min: s.min,
      p50: s.p50,
      p95: s.p95,
      mean: s.mean,
      max: s.max,
      ...(s.below0 ? { '<0': s.below0 } : {}),
    });
    const table = [
      ...stageStats.map((s) => row(s.label, s)),
      { stage: `sum of the stage p50s: ${sumP50}` },
      row('= request total (bridge @1)', total),
      row('request total − CLI run (per request)', bridgeMinusCli),
      row('direct spawn of the same CLI @1 (baseline)', pair.direct),
      { stage: `overhead (bridge p50 − direct p50): ${pair.overhead.p50}; p95 ${pair.overhead.p95}` },
      ...groupStats.map((s) => row(`group: ${s.label}`, s)),
      ...afterStats.map((s) => row(`off the path: ${s.label}`, s)),
    ];
    return {
      name: 'trace',
      config: { ...o, env: { TRACE_STAGES: 'true' }, logLevel: 'info', nodeEnv: 'production' },
      stages: stageStats,
      groups: groupStats,
      afterReply: afterStats,
      total,
      bridgeMinusCli,
      bridge: pair.bridge,
      direct: pair.direct,
      overhead: pair.overhead,
      jobBreakdown: pair.breakdown,
      cpuPerRequestMs: pair.cpuPerRequestMs,
      traced: per[0].length,
      missing,
      requestsWithANegativeStage: negative,
      errors: sides.errors(),
      warnings: { api: sides.api.warnings, worker: sides.worker.warnings },
      table,
      notes: [
        `ms; ${per[0].length} sequential requests traced (${missing} without both "${STAGE_TRACE_MSG}" lines); ${negative} had a stage below 0: the worker can take the job before the API's add call has returned ('queued'), and the client can have the answer before the API's 'finish' callback runs ('responded'); the groups join those pairs.`,
        'each stage = later mark − earlier mark of the same request; p50s of stages do not add up to the p50 of the total.',
        '"direct spawn" = the same fake CLI spawned from the bench process (argv, stdin, env as the worker builds them), interleaved in blocks with the bridge requests.',
      ],
    };
  } finally {
    await ctx.close();
  }
}
