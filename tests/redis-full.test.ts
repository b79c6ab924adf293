/**
 * A Redis at its maxmemory (noeviction) refuses writes: the API answers 503 `unavailable` with
 * Retry-After, never 500.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '@cli-bridge/api';
import { createLogger } from '@cli-bridge/shared';
import { Redis } from 'ioredis';
import { ADMIN_KEY, freePort, testConfig, uniquePrefix } from './helpers/env.js';
import { postJson } from './helpers/harness.js';
import { waitFor } from './helpers/records.js';

let redis: ChildProcess;
let api: ApiServer;
let redisUrl = '';

beforeAll(async () => {
  const port = await freePort();
  redisUrl = `redis://127.0.0.1:${port}`;
  redis = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  // Generous limits: only Redis's own memory stops the flood.
  const config = testConfig(uniquePrefix('redisfull'), {
    REDIS_URL: redisUrl,
    MAX_QUEUED_PER_KEY: '0',
    MAX_QUEUED_PER_PROVIDER: '0',
  });
  api = await startApiServer(config, createLogger({ level: 'silent', name: 'test' }));
  await waitFor(async () => (await fetch(`${api.url}/ready`)).status === 200, 5_000, 'redis to be ready');
});
afterAll(async () => {
  await api?.close({ graceMs: 500 });
  if (redis.exitCode === null) redis.kill('SIGKILL');
});

it('answers 503 when Redis is full, never 500', async () => {
  const created = await postJson(
    `${api.url}/admin/keys`,
    { name: 'flood' },
    { authorization: `Bearer ${ADMIN_KEY}` },
  );
  expect(created.status).toBe(201);
  const auth = { authorization: `Bearer ${created.json.key}` };
  // Cap Redis just above what it holds now: a few 200 kB jobs fill it.
  const conn = new Redis(redisUrl);
  const used = Number(/used_memory:(\d+)/.exec(await conn.info('memory'))![1]);
  await conn.config('SET', 'maxmemory', String(used + 2 * 1024 * 1024));
  await conn.config('SET', 'maxmemory-policy', 'noeviction');
  const statuses: number[] = [];
  let last: Awaited<ReturnType<typeof postJson>> | undefined;
  for (let i = 0; i < 40 && !statuses.includes(503); i++) {
    last = await postJson(
      `${api.url}/jobs`,
      { provider: 'claude', systemPrompt: '', userPrompt: `${i} ${'x'.repeat(200_000)}` },
      auth,
    );
    statuses.push(last.status);
  }
  await conn.quit();
  expect(statuses).toContain(503);
  expect(statuses.filter((s) => s !== 202 && s !== 503)).toEqual([]);
  expect(last!.json.error.type).toBe('unavailable');
  expect(last!.json.error.message).toMatch(/full/);
  expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
});
