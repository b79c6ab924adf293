/**
 * Redis Cluster readiness: a Lua script (ours or BullMQ's) may only touch keys of ONE hash slot
 * on a cluster. With a braced REDIS_PREFIX (`{name}`, a hash tag) every key of the bridge hashes
 * to the slot of that name. This file runs the bridge under such a prefix, records the keys of
 * every script call actually made (EVALSHA/EVAL, as ioredis sends them: our scripts and BullMQ's)
 * through the whole life of keys and jobs, and computes their slots.
 */
import { Redis, type Command } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiServer } from '@cli-bridge/api';
import { ADMIN_KEY } from './helpers/env.js';
import { clusterSlot } from './helpers/cluster-slot.js';
import { createHarness, postJson } from './helpers/harness.js';
import { readSse } from './helpers/sse.js';

describe('clusterSlot', () => {
  it('matches the cluster specification', () => {
    expect(clusterSlot('foo')).toBe(12182);
    expect(clusterSlot('somekey')).toBe(11058);
    expect(clusterSlot('123456789')).toBe(0x31c3 % 16384);
    expect(clusterSlot('{user1000}.following')).toBe(clusterSlot('{user1000}.followers'));
    expect(clusterSlot('foo{}{bar}')).toBe(clusterSlot('foo{}{bar}')); // empty tag: the whole key
    expect(clusterSlot('foo{}{bar}')).not.toBe(clusterSlot('bar'));
    expect(clusterSlot('foo{{bar}}zap')).toBe(clusterSlot('{bar'));
  });
});

const h = createHarness(
  'slots',
  // The limiters' scripts run only when the limiters are on.
  { RATE_LIMIT_MAX_REQUESTS: '1000', AUTH_FAILURE_LIMIT: '1000', ADMIN_RATE_LIMIT_MAX: '1000' },
  { hashTag: true },
);
const calls: { sha: string; keys: string[] }[] = [];
const sendCommand = Redis.prototype.sendCommand;
let api: ApiServer;

beforeAll(async () => {
  Redis.prototype.sendCommand = function (this: Redis, command: Command, ...rest: unknown[]) {
    if (command.name === 'evalsha' || command.name === 'eval') {
      const args = command.args.map(String);
      const keys = args.slice(2, 2 + Number(args[1]));
      if (keys.some((k) => k.startsWith(h.prefix))) calls.push({ sha: args[0]!, keys });
    }
    return (sendCommand as (this: Redis, ...a: unknown[]) => unknown).call(this, command, ...rest);
  };
  api = await h.startApi();
  await h.startWorker(['claude', 'codex']);
});
afterAll(async () => {
  Redis.prototype.sendCommand = sendCommand;
  await h.cleanup();
});

describe('a hash-tagged REDIS_PREFIX', () => {
  it('puts every key of every script call in one slot, through the life of keys and jobs', async () => {
    expect(h.prefix).toMatch(/^\{test-slots-[0-9a-f]{8}\}$/);
    const admin = { authorization: `Bearer ${ADMIN_KEY}` };
    const key = await h.createKey(api.url, 'slots');
    const auth = { authorization: `Bearer ${key}` };
    const patch = await fetch(`${api.url}/admin/keys/slots`, {
      method: 'PATCH',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ maxRequestsPerDay: 100, maxCostPerDay: 5, maxConcurrent: 3 }),
    });
    expect(patch.status).toBe(200);
    expect((await fetch(`${api.url}/usage`)).status).toBe(401); // no key: anonymous limiter
    expect((await fetch(`${api.url}/usage`, { headers: { authorization: 'Bearer cbk_wrong' } })).status).toBe(
      401,
    );

    const sync = await postJson(`${api.url}/generate`, { systemPrompt: '', userPrompt: 'slot me' }, auth);
    expect(sync.status).toBe(200);
    const codex = await postJson(
      `${api.url}/generate-codex`,
      { systemPrompt: '', userPrompt: 'slot codex' },
      auth,
    );
    expect(codex.status).toBe(200);
    const stream = await readSse(`${api.url}/generate`, {
      method: 'POST',
      headers: auth,
      body: { systemPrompt: '', userPrompt: 'slot stream', stream: true },
    });
    expect(stream.events.at(-1)!.event).toBe('done');
    const failing = await postJson(
      `${api.url}/generate`,
      { systemPrompt: '', userPrompt: 'slot retry @@fake mode=error-529@@' },
      auth,
    );
    expect(failing.status).toBe(502);
    const job = await postJson(
      `${api.url}/jobs`,
      { provider: 'claude', systemPrompt: '', userPrompt: 'slot cancel @@fake delay_ms=5000@@' },
      { ...auth, 'idempotency-key': 'slots-1' },
    );
    expect(job.status).toBe(202);
    const cancel = await fetch(`${api.url}/jobs/${job.json.id}`, { method: 'DELETE', headers: auth });
    expect(cancel.status).toBe(200);
    expect((await fetch(`${api.url}/admin/keys/slots`, { method: 'DELETE', headers: admin })).status).toBe(
      200,
    );

    const spread = calls.filter((c) => new Set(c.keys.map(clusterSlot)).size > 1);
    expect(spread, 'script calls whose keys span several slots').toEqual([]);
    // Every kind of script ran: admission, lease, settlement, key records, the limiters, BullMQ's.
    const touched = (part: string) => calls.some((c) => c.keys.some((k) => k.includes(part)));
    for (const part of [
      ':settled:',
      ':leases:',
      ':reserved:',
      ':claude:wait',
      ':codex:',
      ':keys:byhash',
      ':rl:',
    ]) {
      expect(touched(part), part).toBe(true);
    }
    const multiKey = calls.filter((c) => c.keys.length > 1);
    expect(new Set(multiKey.map((c) => c.sha)).size).toBeGreaterThanOrEqual(10);
    // The same calls without the hash tag would span slots: the tag is what makes them cluster-safe.
    const untagged = multiKey.filter(
      (c) => new Set(c.keys.map((k) => clusterSlot(k.replace(/[{}]/g, '')))).size > 1,
    );
    expect(untagged.length).toBeGreaterThan(0);
  }, 60_000);
});
