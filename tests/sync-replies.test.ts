/**
 * Sync requests hear of their job's end on their API process's reply channel, published by the
 * worker right after settlement, without waiting for BullMQ to complete the job. When no reply
 * comes (the job ended another way, or the reply was published while the API's subscriber was
 * reconnecting), the job's stored outcome answers.
 *
 * The worker here is a plain BullMQ worker on the bridge's queue with a processor of the test's
 * own, so the test decides what is published and when the job completes; admission sees it as
 * live through a heartbeat entry written by the test.
 */
import {
  createGenerateWorker,
  createJobEvents,
  createLogger,
  createRedis,
  redisTarget,
  type GenerateJob,
  type GenerateResult,
  type GenerateWorker,
} from '@cli-bridge/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, postJson } from './helpers/harness.js';

const h = createHarness('sync-replies');
let url = '';
let key = '';
const auth = () => ({ authorization: `Bearer ${key}` });
const seen: GenerateJob[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const resultOf = (text: string): GenerateResult => ({
  text,
  usage: { input_tokens: 1, output_tokens: 2, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
  cost_micros: 0,
  duration_ms: 1,
  model: 'sonnet',
  provider: 'claude',
});

/** How long the test's processor keeps a job after publishing its end (BullMQ completes it then). */
const HOLD_MS = 3_000;

let worker: GenerateWorker;
const connection = createRedis({
  ...redisTarget(h.config),
  prefix: h.prefix,
  role: 'worker',
  name: 'test-replier',
  logger: createLogger({ level: 'silent', name: 'test' }),
});
const events = createJobEvents({ redis: h.redis, keys: h.keys, ttlS: 60 });

/** Cuts the API's reply subscriber (CLIENT KILL by its connection name); it reconnects by itself. */
async function killReplySubscriber(): Promise<void> {
  const list = (await h.redis.client('LIST')) as string;
  const name = `cli-bridge:${h.prefix}:api-replies:subscriber`;
  const line = list.split('\n').find((l) => l.includes(` name=${name} `));
  const id = line && /\bid=(\d+)/.exec(line)?.[1];
  if (!id) throw new Error(`no client named ${name}`);
  await h.redis.client('KILL', 'ID', id);
}

beforeAll(async () => {
  url = (await h.startApi()).url;
  key = await h.createKey(url);
  // A live "worker" for admission: a heartbeat entry far in the future.
  await h.redis.zadd(h.keys.providerWorkers('claude'), Date.now() + 600_000, 'test-replier');
  worker = createGenerateWorker(
    'claude',
    async (job) => {
      seen.push(job);
      const prompt = job.data.userPrompt;
      const result = resultOf(`answer to ${prompt}`);
      if (prompt.startsWith('reply')) {
        await events.completed(job.id!, result, { textStreamed: false, replyTo: job.data.replyTo });
        await sleep(HOLD_MS);
      } else if (prompt.startsWith('lost')) {
        // The API's subscriber is cut just before the reply: the reply is lost, the job completes.
        await killReplySubscriber();
        await events.completed(job.id!, result, { textStreamed: false, replyTo: job.data.replyTo });
      } else if (prompt.startsWith('fail')) {
        await events.failed(
          job.id!,
          { type: 'provider_error', message: 'the model broke' },
          { replyTo: job.data.replyTo },
        );
        await sleep(HOLD_MS);
      }
      // 'silent': no reply at all; the job's completion is all the API hears.
      return result;
    },
    { connection, prefix: h.prefix, concurrency: 4 },
  );
  void worker.run();
});
afterAll(async () => {
  await worker.close();
  await connection.quit();
  await h.cleanup();
});

describe('sync replies', () => {
  it('answers from the reply channel while BullMQ has not completed the job yet', async () => {
    const started = Date.now();
    const res = await postJson(`${url}/generate`, { systemPrompt: '', userPrompt: 'reply one' }, auth());
    const tookMs = Date.now() - started;
    expect(res.status).toBe(200);
    expect(res.json.content[0].text).toBe('answer to reply one');
    // BullMQ completes the job HOLD_MS after the reply: the answer came before that.
    expect(tookMs).toBeLessThan(HOLD_MS - 500);
    const job = seen.find((j) => j.data.userPrompt === 'reply one')!;
    expect(job.data.replyTo).toMatch(new RegExp(`^${h.prefix}:reply:`));
    expect(await job.isCompleted()).toBe(false);
  });

  it('answers a failure published on the channel with its error', async () => {
    const started = Date.now();
    const res = await postJson(`${url}/generate`, { systemPrompt: '', userPrompt: 'fail two' }, auth());
    expect(Date.now() - started).toBeLessThan(HOLD_MS - 500);
    expect(res.status).toBe(502);
    expect(res.json.error).toMatchObject({ type: 'provider_error', message: 'the model broke' });
  });

  it("answers from the job's stored outcome when no reply is published", async () => {
    const res = await postJson(`${url}/generate`, { systemPrompt: '', userPrompt: 'silent three' }, auth());
    expect(res.status).toBe(200);
    expect(res.json.content[0].text).toBe('answer to silent three');
  });

  it('reads the outcome of every waiting job as soon as its subscriber is back after a cut', async () => {
    const started = Date.now();
    const res = await postJson(`${url}/generate`, { systemPrompt: '', userPrompt: 'lost six' }, auth());
    expect(res.status).toBe(200);
    expect(res.json.content[0].text).toBe('answer to lost six');
    // Not the periodic fallback (a wait is first read a second after it was queued): the reconnect.
    expect(Date.now() - started).toBeLessThan(900);
  });

  it('a sync request that ends within a second reads no holds beyond its admission', async () => {
    const monitor = await h.redis.duplicate().monitor();
    const reads: string[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      // Admission's own check of the holds is its script (EVALSHA, then commands from `lua`).
      const scripted = source.includes('lua') || /^eval/i.test(args[0] ?? '');
      if (!scripted && args.slice(1).includes(h.keys.holds('claude'))) reads.push(args[0]!);
    });
    const res = await postJson(`${url}/generate`, { systemPrompt: '', userPrompt: 'reply five' }, auth());
    expect(res.status).toBe(200);
    await sleep(100);
    await monitor.disconnect();
    expect(reads).toEqual([]);
  });

  it('gives async jobs no reply channel', async () => {
    const res = await postJson(
      `${url}/jobs`,
      { provider: 'claude', systemPrompt: '', userPrompt: 'silent four' },
      auth(),
    );
    expect(res.status).toBe(202);
    const deadline = Date.now() + 5_000;
    while (!seen.some((j) => j.data.userPrompt === 'silent four') && Date.now() < deadline) await sleep(20);
    const job = seen.find((j) => j.data.userPrompt === 'silent four');
    expect(job).toBeDefined();
    expect(job!.data.replyTo).toBeUndefined();
  });
});
