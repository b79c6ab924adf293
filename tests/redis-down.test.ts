/**
 * A private redis-server that the test kills: the API must answer 503 `unavailable` at once
 * (fail-fast producer connection), never hang; /health stays up; /ready says Redis is down.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '@cli-bridge/api';
import { createLogger } from '@cli-bridge/shared';
import { ADMIN_KEY, freePort, testConfig, uniquePrefix } from './helpers/env.js';
import { postJson } from './helpers/harness.js';
import { waitFor } from './helpers/records.js';

let redis: ChildProcess;
let api: ApiServer;

beforeAll(async () => {
  const port = await freePort();
  redis = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const config = testConfig(uniquePrefix('redisdown'), { REDIS_URL: `redis://127.0.0.1:${port}` });
  api = await startApiServer(config, createLogger({ level: 'silent', name: 'test' }));
  await waitFor(async () => (await fetch(`${api.url}/ready`)).status === 200, 5_000, 'redis to be ready');
});
afterAll(async () => {
  await api?.close({ graceMs: 500 });
  if (redis.exitCode === null) redis.kill('SIGKILL');
});

it('answers 503 within a second when Redis goes away, and recovers nothing it should not', async () => {
  const created = await postJson(
    `${api.url}/admin/keys`,
    { name: 'before-outage' },
    { authorization: `Bearer ${ADMIN_KEY}` },
  );
  expect(created.status).toBe(201);

  redis.kill('SIGKILL');
  await new Promise((r) => redis.once('exit', r));

  for (const [path, body] of [
    ['/generate', { systemPrompt: '', userPrompt: 'x' }],
    ['/admin/keys', { name: 'during-outage' }],
  ] as const) {
    const headers = { authorization: `Bearer ${path === '/generate' ? created.json.key : ADMIN_KEY}` };
    const started = Date.now();
    const res = await postJson(`${api.url}${path}`, body, headers);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(res.status).toBe(503);
    expect(res.json.error.type).toBe('unavailable');
    expect(res.headers.get('retry-after')).toBe('5');
  }

  const health = await fetch(`${api.url}/health`);
  expect(health.status).toBe(200);
  const ready = await fetch(`${api.url}/ready`);
  expect(ready.status).toBe(503);
  expect(await ready.json()).toMatchObject({ status: 'unavailable', redis: 'down' });
});
