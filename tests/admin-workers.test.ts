/**
 * GET /admin/workers: the heartbeat records of live workers, with the jobs each runs now and a
 * `stale` flag for a worker that missed two beats but has not expired yet.
 */
import { createWorkerRegistry } from '@cli-bridge/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { waitFor } from './helpers/records.js';

const h = createHarness('adminw');
// The API reads the records with a 10 s heartbeat (stale past 20 s, expired past 30 s); the
// worker beats every 500 ms.
const API_HEARTBEAT_MS = 10_000;
let url = '';
let key = '';
const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const call = async (method: string, path: string) => {
  const res = await fetch(`${url}${path}`, { method, headers: admin });
  return { status: res.status, json: (await res.json()) as any };
};
const workers = async () => (await call('GET', '/admin/workers')).json.workers as any[];

beforeAll(async () => {
  url = (await h.startApi({ WORKER_HEARTBEAT_MS: String(API_HEARTBEAT_MS) })).url;
  await h.startWorker(['claude']);
  key = await h.createKey(url, 'workers-user');
});
afterAll(() => h.cleanup());

describe('GET /admin/workers', () => {
  it('lists a live worker with its heartbeat record', async () => {
    const res = await call('GET', '/admin/workers');
    expect(res.status).toBe(200);
    expect(res.json.workers).toEqual([
      {
        id: expect.stringMatching(/^test-host:/),
        host: 'test-host',
        pid: process.pid,
        providers: ['claude'],
        concurrency: { claude: 2 },
        active: 0,
        active_jobs: [],
        cli_versions: {},
        // The worker's own login (no CLAUDE_ACCOUNTS); no credentials file in the test's HOME.
        accounts: { claude: [{ name: 'default', concurrency: 2, authMode: expect.any(String) }] },
        started_at: expect.any(String),
        last_beat: expect.any(String),
        stale: false,
      },
    ]);
    const w = res.json.workers[0];
    expect(Date.parse(w.last_beat)).toBeGreaterThanOrEqual(Date.parse(w.started_at));
  });

  it('names the jobs a worker runs now', async () => {
    const job = await postJson(
      `${url}/jobs`,
      { provider: 'claude', systemPrompt: '', userPrompt: '@@fake mode=hang@@' },
      { authorization: `Bearer ${key}` },
    );
    expect(job.status).toBe(202);
    const id = job.json.id;
    const busy = await waitFor(
      async () => (await workers()).find((w) => w.active_jobs.includes(id)),
      5_000,
      'the job in a heartbeat',
    );
    expect(busy.active).toBe(1);
    expect((await call('DELETE', `/admin/jobs/${id}`)).status).toBe(200);
    await waitFor(async () => (await workers())[0].active_jobs.length === 0, 5_000, 'an idle heartbeat');
  });

  it('marks a worker stale past two missed beats, until its record expires', async () => {
    const registry = createWorkerRegistry({ redis: h.redis, keys: h.keys, heartbeatMs: API_HEARTBEAT_MS });
    const now = Date.now();
    // An older worker's record: no activeJobs field.
    await registry.beat({
      id: 'old-box:42:abc',
      host: 'old-box',
      pid: 42,
      providers: ['codex'],
      concurrency: { codex: 1 },
      active: 1,
      cliVersions: { codex: 'codex-cli 0.1.0' },
      startedAt: now - 60_000,
      lastBeat: now - 2.5 * API_HEARTBEAT_MS,
    });
    const list = await workers();
    expect(list.map((w) => [w.host, w.stale])).toEqual([
      ['old-box', true],
      ['test-host', false],
    ]);
    expect(list[0]).toMatchObject({ active: 1, active_jobs: [], cli_versions: { codex: 'codex-cli 0.1.0' } });
    await registry.remove('old-box:42:abc');
  });
});
