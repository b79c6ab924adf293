/**
 * A request admitted (limits checked, concurrency slot taken) whose enqueue then fails must give
 * its slot back at once: otherwise a key with maxConcurrent 1 is locked out until the lease
 * expires (CONCURRENCY_LEASE_MS, 10 minutes by default).
 *
 * The enqueue is made to fail on the Redis side: BullMQ's add script starts with INCR on the
 * queue's `id` counter, so a non-integer value there makes every add fail before anything is
 * written, while admission (our own script) goes through.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, postJson } from './helpers/harness.js';

const h = createHarness('enqueuefail');
let url = '';
const idCounter = () => `${h.prefix}:claude:id`;
const breakEnqueue = () => h.redis.set(idCounter(), 'not-an-integer');
const mendEnqueue = () => h.redis.del(idCounter());

/** A fresh key that may have one request in flight. */
async function oneAtATime(name: string) {
  const raw = await h.createKey(url, name, { maxConcurrent: 1 });
  const auth = { authorization: `Bearer ${raw}` };
  const usage = async () => (await (await fetch(`${url}/usage`, { headers: auth })).json()) as any;
  return { name, auth, usage };
}

beforeAll(async () => {
  url = (await h.startApi()).url;
  await h.startWorker(['claude']); // the sync route wants a live worker
});
afterEach(() => mendEnqueue());
afterAll(() => h.cleanup());

describe('an enqueue that fails after admission', () => {
  it('POST /jobs: the slot is free at once and the key can submit again', async () => {
    const key = await oneAtATime('jobs-key');
    await breakEnqueue();
    const body = { provider: 'claude', systemPrompt: '', userPrompt: 'never queued' };
    const failed = await postJson(`${url}/jobs`, body, key.auth);
    expect(failed.status).toBe(500);
    expect(failed.json.error.type).toBe('internal_error');
    // It was admitted (counted) ...
    const after = await key.usage();
    expect(after.usage.today.requests).toBe(1);
    // ... and its slot is back, at once.
    expect(after.active).toBe(0);
    expect(await h.redis.zcard(h.keys.leases(await h.keyId(key.name)))).toBe(0);

    await mendEnqueue();
    const again = await postJson(`${url}/jobs`, { ...body, userPrompt: 'queued this time' }, key.auth);
    expect(again.status).toBe(202);
  });

  it('POST /generate: the slot is free at once and the key can ask again', async () => {
    const key = await oneAtATime('generate-key');
    await breakEnqueue();
    const failed = await postJson(
      `${url}/generate`,
      { systemPrompt: '', userPrompt: 'never queued' },
      key.auth,
    );
    expect(failed.status).toBe(500);
    expect((await key.usage()).active).toBe(0);
    expect(await h.redis.zcard(h.keys.leases(await h.keyId(key.name)))).toBe(0);

    await mendEnqueue();
    const again = await postJson(`${url}/generate`, { systemPrompt: '', userPrompt: 'answered' }, key.auth);
    expect(again.status).toBe(200);
    expect(again.json.content[0].text).toBe('Echo: answered');
  });
});
