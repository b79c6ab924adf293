// The raw floor: what BullMQ alone costs for one round trip (queue.add → a no-op Worker →
// job.waitUntilFinished(queueEvents)), sequential, with the bridge's own default job options, all
// in this one process. Then, in the same run, the bridge's overhead at 1 in flight (sync
// POST /generate with the fake claude answering at once, minus spawning that CLI directly; see
// overhead.mjs) expressed as a multiple of the floor. Target from the issue: ≤ 1.5×.
//
// Options: --floor-warmup=50 --floor-n=500 --bridge-warmup=30 --bridge-n=300 --block=50
import { Queue, QueueEvents, Worker } from 'bullmq';
import { defaultJobOptions, loadConfig } from '@cli-bridge/shared';
import {
  bridgeEnv,
  createBenchContext,
  log,
  REDIS_URL,
  runConcurrent,
  statsRow,
  summarize,
} from './lib/common.mjs';
import { measurePair, setupBridgeAndDirect } from './overhead.mjs';

export const DEFAULTS = { floorWarmup: 50, floorN: 500, bridgeWarmup: 30, bridgeN: 300, block: 50 };
export const TARGET_MULTIPLE = 1.5;

async function measureFloor(ctx, { warmup, n }) {
  const u = new URL(REDIS_URL);
  const connection = { host: u.hostname, port: Number(u.port || 6379) };
  const prefix = ctx.prefix;
  const name = 'floor';
  const queue = new Queue(name, {
    connection,
    prefix,
    defaultJobOptions: defaultJobOptions(loadConfig(bridgeEnv(prefix))),
  });
  const worker = new Worker(name, async () => ({ ok: true }), {
    connection: { ...connection, maxRetriesPerRequest: null },
    prefix,
    concurrency: 1,
  });
  const events = new QueueEvents(name, { connection, prefix });
  ctx.atClose(async () => {
    await worker.close();
    await events.close();
    await queue.close();
  });
  await Promise.all([queue.waitUntilReady(), worker.waitUntilReady(), events.waitUntilReady()]);
  // A payload the size of a real generate job's.
  const data = (i) => ({
    v: 1,
    provider: 'claude',
    keyName: 'bench',
    systemPrompt: 'You are a terse assistant.',
    userPrompt: `What is 2+2? (request ${i})`,
    model: 'sonnet',
    stream: false,
    submittedAt: Date.now(),
  });
  const once = async (i) => {
    const t0 = performance.now();
    const job = await queue.add('generate', data(i));
    const value = await job.waitUntilFinished(events, 10_000);
    if (value?.ok !== true) throw new Error('floor job returned the wrong value');
    return performance.now() - t0;
  };
  await runConcurrent(warmup, 1, once);
  return summarize(await runConcurrent(n, 1, once));
}

export async function run(opts = {}) {
  const o = { ...DEFAULTS, ...opts };
  const ctx = createBenchContext('floor');
  try {
    log(
      `floor: BullMQ add → no-op worker → waitUntilFinished, ${o.floorWarmup} warm-up + ${o.floorN} sequential`,
    );
    const floorBefore = await measureFloor(ctx, { warmup: o.floorWarmup, n: o.floorN });

    log(
      `floor: bridge vs direct fake claude, ${o.bridgeWarmup} warm-up + ${o.bridgeN} per side at 1 in flight`,
    );
    const sides = await setupBridgeAndDirect(ctx, { workerConcurrency: 2 });
    await runConcurrent(o.bridgeWarmup, 1, sides.bridge);
    await runConcurrent(o.bridgeWarmup, 1, sides.direct);
    const pair = await measurePair(sides, { total: o.bridgeN, concurrency: 1, block: o.block });

    // The floor again, after the bridge run, to show how stable it is within this run.
    log(`floor: floor again (${o.floorN})`);
    const floorAfter = await measureFloor(ctx, { warmup: 10, n: o.floorN });

    const floor = floorBefore;
    const mult = (a, b) => Math.round((a / b) * 100) / 100;
    const multiple = {
      p50: mult(pair.overhead.p50, floor.p50),
      mean: mult(pair.overhead.mean, floor.mean),
      p99: mult(pair.overhead.p99, floor.p99),
    };
    const met = multiple.p50 <= TARGET_MULTIPLE;
    return {
      name: 'floor',
      config: o,
      floor,
      floorAfter,
      bridge: pair.bridge,
      direct: pair.direct,
      overhead: pair.overhead,
      cliInWorker: pair.cliInWorker,
      breakdown: pair.breakdown,
      multiple,
      target: { multiple: TARGET_MULTIPLE, on: 'p50', met },
      errors: sides.errors(),
      table: [
        statsRow('BullMQ floor (add→no-op→waitUntilFinished)', floor),
        statsRow('BullMQ floor, again after the bridge run', floorAfter),
        statsRow('bridge @1 (fake claude)', pair.bridge),
        statsRow('direct spawn @1', pair.direct),
        { series: 'bridge overhead (pXX diff)', n: '', ...pair.overhead, max: '' },
        ...Object.entries(pair.breakdown).map(([k, v]) => statsRow(`  bridge job ${k}`, v)),
        {
          series: 'overhead ÷ floor (×)',
          n: '',
          p50: multiple.p50,
          p95: '',
          p99: multiple.p99,
          mean: multiple.mean,
          max: '',
        },
      ],
      notes: [
        'ms unless marked ×; overhead = bridge pXX − direct pXX (difference of percentiles).',
        `overhead as a multiple of the floor, at p50: ${multiple.p50}× (target ≤ ${TARGET_MULTIPLE}× → ${met ? 'MET' : 'NOT MET'}).`,
        'The floor runs Queue, Worker and QueueEvents in one process; the bridge splits them over the API and worker processes and adds HTTP, auth, the worker-liveness and hold checks, a scratch dir and the CLI spawn bookkeeping.',
      ],
    };
  } finally {
    await ctx.close();
  }
}
