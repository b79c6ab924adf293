// Time to first token through the bridge: streaming POST /generate ("stream": true, SSE) with the
// fake claude (API and one worker as separate OS processes), from the moment the CLI writes its
// first text delta to the moment the client has parsed the first `text` SSE event.
//
//   overhead = (first `text` event received, client Date.now()) − firstDeltaAt
//
// firstDeltaAt is the fake claude's own Date.now() right before it writes its first
// `content_block_delta` / `text_delta` line, read back from its record file (FAKE_CLI_RECORD_DIR,
// passed to the CLI through CLI_ENV_PASSTHROUGH); each request carries a unique marker in its
// prompt to find its record. Both clocks are the same machine's wall clock in whole ms, so each
// figure is ±1 ms. The path measured: CLI stdout → worker (line split, textDelta, coalescing on
// setImmediate) → XADD to the job's Redis stream → the API's XREAD BLOCK → SSE write → client.
// Also reported for context: request start → first `text` event (auth, admission, queue, spawn,
// the CLI's start-up and the above), and request start → the CLI's startedAt.
//
// Options (node bench/run.mjs ttft --ttft-n=200 ...):
//   --ttft-warmup=20 --ttft-n=200 --ttft-n8=200 --chunk-delay-ms=50
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bridgeEnv,
  createBenchContext,
  createKey,
  log,
  runConcurrent,
  statsRow,
  summarize,
} from './lib/common.mjs';
import { readRecords } from '../tests/dist/records.js';
import { postSse } from './lib/sse.mjs';

export const DEFAULTS = { ttftWarmup: 20, ttftN: 200, ttftN8: 200, chunkDelayMs: 50 };
const CONCURRENCY = 8;

/** The fake CLI's records in `dir` by marker (markers look like `ttftm<hex>x<n>`). */
function recordsByMarker(dir) {
  const byMarker = new Map();
  for (const rec of readRecords(dir)) {
    const m = /\bttftm[0-9a-f]+x\d+\b/.exec(rec.stdin ?? '');
    if (m) byMarker.set(m[0], rec);
  }
  return byMarker;
}

export async function run(opts = {}) {
  const o = { ...DEFAULTS, ...opts };
  const ctx = createBenchContext('ttft');
  const recordDir = mkdtempSync(join(tmpdir(), 'cli-bridge-bench-ttft-'));
  ctx.atClose(() => rmSync(recordDir, { recursive: true, force: true }));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  ctx.atClose(() => agent.destroy());
  const runId = randomBytes(4).toString('hex');
  try {
    const env = bridgeEnv(ctx.prefix, {
      WORKER_PROVIDERS: 'claude',
      // 8 CLIs at once, so the 8-in-flight phase does not queue behind the default 2.
      WORKER_CONCURRENCY_CLAUDE: String(CONCURRENCY),
      FAKE_CLI_RECORD_DIR: recordDir,
      CLI_ENV_PASSTHROUGH: 'FAKE_CLI_MODE,FAKE_CLI_RECORD_DIR',
    });
    const api = await ctx.group.startApi(env);
    const worker = await ctx.group.startWorker(env);
    const key = await createKey(ctx.http, api.url);
    const auth = { authorization: `Bearer ${key}` };

    let errors = 0;
    /** One streaming request; resolves to its timings (client side) or undefined on error. */
    async function one(i) {
      const marker = `ttftm${runId}x${i}`;
      const userPrompt = `Say ${marker} @@fake chunk_delay_ms=${o.chunkDelayMs}@@`;
      const expected = `Echo: Say ${marker}`;
      const r = await postSse(
        agent,
        `${api.url}/generate`,
        { systemPrompt: '', userPrompt, stream: true },
        auth,
      );
      const types = r.events.map((e) => e.type);
      const text = r.events
        .filter((e) => e.type === 'text')
        .map((e) => JSON.parse(e.data).text)
        .join('');
      const jobId = r.headers['x-job-id'];
      const firstText = r.events.find((e) => e.type === 'text');
      const ok =
        r.status === 200 &&
        typeof jobId === 'string' &&
        firstText &&
        text === expected &&
        types.includes('usage') &&
        types.at(-1) === 'done' &&
        !types.includes('error');
      if (!ok) {
        if (++errors <= 3)
          log(
            `ttft request failed: ${r.status} ${r.text.slice(0, 300)} events=${types.join(',')} text=${JSON.stringify(text)}`,
          );
        if (errors > 10) throw new Error('too many failed streaming requests');
        return undefined;
      }
      return {
        marker,
        jobId,
        startWall: r.startWall,
        firstTextWall: firstText.atWall,
        toFirstTextMs: firstText.atMono - r.startMono,
        totalMs: r.endMono - r.startMono,
        textEvents: types.filter((t) => t === 'text').length,
      };
    }

    /** Joins the client timings with the CLI records; returns the series. */
    function analyse(results) {
      const records = recordsByMarker(recordDir);
      const overhead = [];
      const toFirstText = [];
      const toCliStart = [];
      const cliToFirstDelta = [];
      const total = [];
      let unmatched = 0;
      for (const r of results) {
        if (!r) continue;
        const rec = records.get(r.marker);
        if (!rec || typeof rec.firstDeltaAt !== 'number') {
          unmatched++;
          continue;
        }
        overhead.push(r.firstTextWall - rec.firstDeltaAt);
        toFirstText.push(r.toFirstTextMs);
        toCliStart.push(rec.startedAt - r.startWall);
        cliToFirstDelta.push(rec.firstDeltaAt - rec.startedAt);
        total.push(r.totalMs);
      }
      return {
        overhead: summarize(overhead),
        toFirstText: summarize(toFirstText),
        toCliStart: summarize(toCliStart),
        cliToFirstDelta: summarize(cliToFirstDelta),
        total: summarize(total),
        unmatched,
        textEventsPerRequest: summarize(results.filter(Boolean).map((r) => r.textEvents)),
      };
    }

    let next = 0;
    const batch = (n, c) => runConcurrent(n, c, () => one(next++));

    log(`ttft: warm-up ${o.ttftWarmup} at 1 in flight`);
    await batch(o.ttftWarmup, 1);
    log(`ttft: ${o.ttftN} at 1 in flight`);
    const c1 = analyse(await batch(o.ttftN, 1));
    log(`ttft: warm-up ${CONCURRENCY * 2} at ${CONCURRENCY} in flight`);
    await batch(CONCURRENCY * 2, CONCURRENCY);
    log(`ttft: ${o.ttftN8} at ${CONCURRENCY} in flight`);
    const c8 = analyse(await batch(o.ttftN8, CONCURRENCY));

    const row = (label, s) => statsRow(label, s, { withMin: true });
    const table = [];
    for (const [c, m] of [
      [1, c1],
      [CONCURRENCY, c8],
    ]) {
      table.push(row(`first text event − CLI firstDeltaAt @${c}`, m.overhead));
      table.push(row(`request start → first text event @${c}`, m.toFirstText));
      table.push(row(`  request start → CLI startedAt @${c}`, m.toCliStart));
      table.push(row(`  CLI startedAt → firstDeltaAt @${c}`, m.cliToFirstDelta));
      table.push(row(`request start → done (whole stream) @${c}`, m.total));
    }
    return {
      name: 'ttft',
      config: {
        ...o,
        concurrency: [1, CONCURRENCY],
        workerConcurrencyClaude: CONCURRENCY,
        logLevel: 'info',
        nodeEnv: 'production',
        worker: `fake claude, stream-json with partial messages, chunk_delay_ms=${o.chunkDelayMs} between deltas`,
      },
      c1,
      c8,
      errors,
      warnings: { api: api.warnings, worker: worker.warnings },
      table,
      notes: [
        "first text event − firstDeltaAt: client Date.now() when the first `text` SSE event was parsed minus the fake CLI's Date.now() right before it wrote its first text_delta line (same machine clock, whole ms: ±1 ms).",
        'request start → first text event: performance.now() in the client, from the request being sent; "request start → CLI startedAt" and "CLI startedAt → firstDeltaAt" use wall clocks (whole ms).',
        `text events per request (the worker coalesces deltas of one stdout chunk): p50 ${c1.textEventsPerRequest.p50} @1, ${c8.textEventsPerRequest.p50} @${CONCURRENCY}; records not matched: ${c1.unmatched} @1, ${c8.unmatched} @${CONCURRENCY}.`,
      ],
    };
  } finally {
    await ctx.close();
  }
}
