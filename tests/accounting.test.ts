/**
 * The accounting scripts against a real Redis: leases expire (a dead worker cannot hold a slot),
 * a run renews its lease and waits when the key is full, a final settlement happens once.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  createAdmission,
  createLeases,
  createSettlement,
  limitsToHash,
  type GenerateJobData,
  type SettledJob,
} from '@cli-bridge/shared';
import { createHarness, postJson } from './helpers/harness.js';
import { tempDir } from './helpers/env.js';
import { readRecords, waitFor } from './helpers/records.js';

const recordDir = tempDir('acct-records');
const h = createHarness('accounting', { FAKE_CLI_RECORD_DIR: recordDir });
const { redis, keys } = h;

async function makeKey(name: string, limits: Record<string, number> = {}) {
  await redis.hset(keys.apiKey(name), {
    name,
    hash: 'h',
    created_at: new Date().toISOString(),
    ...limitsToHash(limits),
  });
}

/** Admission as the API builds it, with no queue caps and no cost bound. */
const admissionDefaults = {
  maxQueuedDefault: 0,
  providerQueueCap: 0,
  waitListKey: (p: string) => `${h.prefix}:${p}:wait`,
  costBoundMicros: () => 0,
};

afterAll(() => h.cleanup());

describe('leases', () => {
  it('a lease taken at admission expires, freeing the slot', async () => {
    let now = 1_000_000;
    const admission = createAdmission({ ...admissionDefaults, redis, keys, leaseMs: 5_000, now: () => now });
    await makeKey('lease1', { maxConcurrent: 1 });
    await admission.admit({ keyId: 'lease1', keyName: 'lease1' }, 'claude', 'job-a');
    await expect(
      admission.admit({ keyId: 'lease1', keyName: 'lease1' }, 'claude', 'job-b'),
    ).rejects.toMatchObject({
      type: 'limit_exceeded',
    });
    now += 5_001;
    await admission.admit({ keyId: 'lease1', keyName: 'lease1' }, 'claude', 'job-b');
    expect(await redis.zscore(keys.leases('lease1'), 'job-b')).toBe(String(now + 5_000));
  });

  it('a run renews its own lease, and waits when its lease lapsed and the key is full', async () => {
    let now = 2_000_000;
    const admission = createAdmission({ ...admissionDefaults, redis, keys, leaseMs: 1_000, now: () => now });
    const leases = createLeases({ redis, keys, now: () => now });
    await makeKey('lease2', { maxConcurrent: 1 });
    await admission.admit({ keyId: 'lease2', keyName: 'lease2' }, 'claude', 'job-a');
    expect(await leases.acquireForRun('lease2', 'job-a', 60_000)).toBe('run');
    now += 30_000; // past the admission lease, within the run's
    expect(await leases.active('lease2')).toBe(1);
    // job-b was admitted long ago and its lease lapsed while it sat in the queue
    expect(await leases.acquireForRun('lease2', 'job-b', 60_000)).toBe('wait');
    now += 30_001; // job-a's run lease is over too (its worker died)
    expect(await leases.acquireForRun('lease2', 'job-b', 60_000)).toBe('run');
    // A job cancelled before it started takes no lease.
    await redis.set(keys.cancelRequested('job-c'), '1');
    expect(await leases.acquireForRun('lease2', 'job-c', 60_000)).toBe('cancelled');
    expect(await redis.zscore(keys.leases('lease2'), 'job-c')).toBeNull();
  });

  it("a worker killed mid-job does not hold its key's slot beyond the lease", async () => {
    const api = await h.startApi();
    // Lease of a run = CLAUDE_TIMEOUT_MS + 2 × KILL_GRACE_MS + 1 s = 3 s.
    const worker = await h.spawnWorker({ CLAUDE_TIMEOUT_MS: '1000', KILL_GRACE_MS: '500' });
    const key = await h.createKey(api.url, 'killed', { maxConcurrent: 1 });
    const ac = new AbortController();
    const pending = fetch(`${api.url}/generate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ systemPrompt: '', userPrompt: 'doomed @@fake delay_ms=800@@' }),
      signal: ac.signal,
    }).catch(() => undefined);
    await waitFor(
      () => readRecords(recordDir).some((r) => r.stdin.includes('doomed')),
      5_000,
      'the CLI to start',
    );
    const leases = createLeases({ redis, keys });
    const killedAt = Date.now();
    await worker.stop('SIGKILL');
    const killedId = await h.keyId('killed');
    expect(await leases.active(killedId)).toBe(1);
    const refused = await postJson(
      `${api.url}/generate`,
      { systemPrompt: '', userPrompt: 'x' },
      { authorization: `Bearer ${key}` },
    );
    expect([429, 503]).toContain(refused.status); // slot held (or no worker left)
    await waitFor(async () => (await leases.active(killedId)) === 0, 6_000, 'the lease to expire');
    expect(Date.now() - killedAt).toBeLessThan(4_000);
    ac.abort();
    await pending;
  });
});

describe('settlement', () => {
  const settlementWith = (logPromptChars = 0) =>
    createSettlement({ redis, keys, logMaxEntries: 3, jobTtlS: 600, logPromptChars });
  const jobOf = (id: string, data: Partial<GenerateJobData>): SettledJob => ({
    id,
    timestamp: Date.now(),
    data: {
      v: 1,
      provider: 'claude',
      keyName: 'k',
      model: 'sonnet',
      userPrompt: 'u',
      systemPrompt: 's',
      stream: false,
      submittedAt: Date.now(),
      ...data,
    },
  });

  it('adds each run, closes the job once, and ignores a second close', async () => {
    const settlement = settlementWith();
    await makeKey('settle1');
    const job = jobOf('j1', { keyId: 'settle1', keyName: 'settle1' });
    const usage = {
      input_tokens: 10,
      output_tokens: 5,
      cache_creation_input_tokens: 1,
      cache_read_input_tokens: 2,
    };
    await settlement.addRun(job, { usage, costMicros: 100 });
    expect(await settlement.close(job, { status: 'completed' }, { usage, costMicros: 100 })).toBe(true);
    expect(await settlement.close(job, { status: 'completed' }, { usage, costMicros: 100 })).toBe(false);
    const total = await redis.hgetall(keys.usageTotal('settle1'));
    expect(total).toMatchObject({
      input_tokens: '20',
      output_tokens: '10',
      tokens: '36',
      cost_micros: '200',
    });
    const logs = await redis.lrange(keys.keyLogs('settle1'), 0, -1);
    expect(logs).toHaveLength(1);
    expect(JSON.parse(logs[0]!)).toMatchObject({
      status: 'completed',
      cost_micros: 200,
      usage: { input_tokens: 20 },
    });
  });

  it('caps the logs at LOG_MAX_ENTRIES', async () => {
    const settlement = settlementWith();
    await makeKey('settle2');
    for (let i = 0; i < 5; i++) {
      const job = jobOf(`c${i}`, { keyName: 'settle2', provider: 'codex', model: 'm', systemPrompt: '' });
      await settlement.close(job, { status: 'failed', error: { type: 'provider_error', message: 'x' } });
    }
    const logs = (await redis.lrange(keys.keyLogs('settle2'), 0, -1)).map((l) => JSON.parse(l).job_id);
    expect(logs).toEqual(['c4', 'c3', 'c2']);
    expect(await redis.hget(keys.usageTotal('settle2'), 'errors')).toBe('5');
  });

  it('stores prompt text only when LOG_PROMPT_CHARS > 0', async () => {
    for (const [chars, name] of [
      [0, 'settle3'],
      [6, 'settle4'],
    ] as const) {
      await makeKey(name);
      await settlementWith(chars).close(jobOf(`p${chars}`, { keyName: name, userPrompt: 'secret prompt' }), {
        status: 'completed',
      });
    }
    const entry = async (name: string) => JSON.parse((await redis.lindex(keys.keyLogs(name), 0))!);
    expect((await entry('settle3')).prompt).toBeUndefined();
    expect((await entry('settle4')).prompt).toBe('secret');
  });
});
