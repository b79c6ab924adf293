/**
 * TRACE_STAGES: with it on, one sync /generate gives one "stage trace" line from the API and one
 * from the worker, each with every mark in order and the job id; with it off (the default),
 * neither process logs one. API and worker run as separate OS processes, as bench/trace.mjs runs
 * them.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { API_TRACE_STAGES, STAGE_TRACE_MSG, WORKER_TRACE_STAGES } from '@cli-bridge/shared';
import { createHarness, postJson } from './helpers/harness.js';
import { waitFor } from './helpers/records.js';

const h = createHarness('stage-trace');
afterAll(() => h.cleanup());

/** API + worker with `env`, one sync /generate; returns both processes' logs and the job id. */
async function oneRequest(env: Record<string, string>) {
  const api = await h.spawnApi(env);
  const worker = await h.spawnWorker({ WORKER_PROVIDERS: 'claude', ...env });
  try {
    const key = await h.createKey(api.url);
    // The API answers 503 until it has seen the worker's heartbeat.
    const res = await waitFor(async () => {
      const r = await postJson(
        `${api.url}/generate`,
        { systemPrompt: 'Be brief.', userPrompt: 'trace me' },
        { authorization: `Bearer ${key}` },
      );
      return r.status === 503 ? undefined : r;
    }, 10_000);
    expect(res.status).toBe(200);
    const jobId = (res.json as { job_id: string }).job_id;
    // The worker logs after it answered; the API right after its answer is written.
    await waitFor(() => worker.logs.some((l) => l.msg === 'job completed' && l.jobId === jobId));
    await waitFor(() => api.logs.some((l) => l.msg === 'request completed'));
    await new Promise((r) => setTimeout(r, 200));
    return { api: api.logs, worker: worker.logs, jobId };
  } finally {
    await Promise.all([api.stop(), worker.stop()]);
  }
}

const traces = (logs: Record<string, unknown>[]) => logs.filter((l) => l.msg === STAGE_TRACE_MSG);

describe('TRACE_STAGES', () => {
  it('off (the default): neither the API nor the worker logs a trace', async () => {
    const { api, worker } = await oneRequest({});
    expect(traces(api)).toEqual([]);
    expect(traces(worker)).toEqual([]);
  });

  it('on: one trace per side, every mark present, in order, with the job id', async () => {
    const { api, worker, jobId } = await oneRequest({ TRACE_STAGES: 'true' });
    const [a, ...moreA] = traces(api);
    const [w, ...moreW] = traces(worker);
    expect(moreA).toEqual([]);
    expect(moreW).toEqual([]);
    expect(a).toMatchObject({ level: 30, jobId });
    expect(w).toMatchObject({ level: 30, jobId });

    const apiStages = a!.stages as Record<string, number>;
    const workerStages = w!.stages as Record<string, number>;
    expect(Object.keys(apiStages)).toEqual([...API_TRACE_STAGES]);
    expect(Object.keys(workerStages)).toEqual([...WORKER_TRACE_STAGES]);
    for (const stages of [apiStages, workerStages]) {
      const times = Object.values(stages);
      for (const t of times) expect(t).toBeGreaterThan(Date.now() - 60_000);
      for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThanOrEqual(times[i - 1]!);
    }
    // Across the two processes (one clock; 1 ms of slack for the two processes' time origins):
    // the job is picked after admission (not necessarily after the API's add call returned:
    // the worker may be first) and the API hears of it once the worker has published its end
    // (on the reply channel: before the worker's own clean-up, which is off the critical path).
    expect(workerStages.picked).toBeGreaterThan(apiStages.admitted! - 1);
    expect(apiStages.ended).toBeGreaterThan(workerStages.settled! - 1);
  });
});
