/**
 * A job is charged and logged once even when it is delivered to a worker twice (a stalled job
 * taken over by another worker after the first one had already finished it, a re-delivery after
 * a lost lock). The job runs through a real worker; then BullMQ is made to deliver the very same
 * job again (Job.retry of the completed job), and the worker runs and settles it a second time.
 * /usage and the request log must show one request's usage and one entry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGenerateQueue, createLogger, createRedis, type GenerateQueue } from '@cli-bridge/shared';
import { ADMIN_KEY, REDIS_URL, tempDir } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { readRecords, waitFor } from './helpers/records.js';

const recordDir = tempDir('settle-once');
const h = createHarness('settleonce', { FAKE_CLI_RECORD_DIR: recordDir });
const conn = createRedis({
  url: REDIS_URL,
  prefix: h.prefix,
  role: 'producer',
  name: 'test-redeliver',
  logger: createLogger({ level: 'silent', name: 'test' }),
});
let queue: GenerateQueue;
let url = '';
const admin = { authorization: `Bearer ${ADMIN_KEY}` };

async function getJson(path: string, headers: Record<string, string>) {
  return (await (await fetch(`${url}${path}`, { headers })).json()) as any;
}

const completedJob = (id: string, after = 0) =>
  waitFor(
    async () => {
      const job = await queue.getJob(id);
      return job && (await job.getState()) === 'completed' && job.finishedOn! > after ? job : undefined;
    },
    10_000,
    `job ${id} to complete`,
  );

/**
 * Submits a job for `keyName`, lets the worker finish it, then has BullMQ deliver it again and
 * waits for the second run to finish too. Returns the job id and the usage after the first run.
 */
async function deliverTwice(keyName: string, prompt: string) {
  const raw = await h.createKey(url, keyName, { maxConcurrent: 1 });
  const auth = { authorization: `Bearer ${raw}` };
  const submitted = await postJson(
    `${url}/jobs`,
    { provider: 'claude', systemPrompt: '', userPrompt: prompt },
    auth,
  );
  expect(submitted.status).toBe(202);
  const id = String(submitted.json.id);
  const first = await completedJob(id);
  const afterFirst = await getJson('/usage', auth);

  await first.retry('completed'); // the same job, delivered again
  await completedJob(id, first.finishedOn);
  // It really ran twice.
  expect(readRecords(recordDir).filter((r) => r.stdin === prompt)).toHaveLength(2);
  return { id, auth, afterFirst };
}

beforeAll(async () => {
  url = (await h.startApi()).url;
  await h.startWorker(['claude'], { FAKE_CLI_RECORD_DIR: recordDir });
  queue = createGenerateQueue('claude', { connection: conn, prefix: h.prefix, config: h.config });
});
afterAll(async () => {
  await queue?.close();
  conn.disconnect();
  await h.cleanup();
});

describe('a job delivered twice', () => {
  it('is charged once in /usage and logged once', async () => {
    const { id, auth, afterFirst } = await deliverTwice(
      'billed-once',
      'bill me once @@fake in=100 out=50 cost=0.01@@',
    );
    const once = { requests: 1, tokens: 150, cost_usd: 0.01 };
    expect(afterFirst.usage.today).toMatchObject(once);

    const usage = await getJson('/usage', auth);
    expect(usage.usage.today).toEqual(afterFirst.usage.today);
    expect(usage.usage.month).toEqual(afterFirst.usage.month);
    const total = (await getJson('/admin/keys/billed-once', admin)).usage.total;
    expect(total).toMatchObject({ ...once, input_tokens: 100, output_tokens: 50 });
    const logs = (await getJson('/admin/logs?key=billed-once&limit=500', admin)).logs;
    expect(logs.filter((l: any) => l.job_id === id)).toHaveLength(1);
  });

  // The second delivery re-takes the key's concurrency lease when its run starts; settlement,
  // finding the job settled already, must still give it back (else a key with maxConcurrent 1
  // is locked out until the lease expires, about two minutes by default).
  it('gives its concurrency slot back after the second run', async () => {
    const { auth } = await deliverTwice('slot-back', 'release my slot');
    expect((await getJson('/usage', auth)).active).toBe(0);
  });
});
