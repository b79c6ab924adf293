/**
 * A client leaving a sync generate while its CLI runs: the job is cancelled and the CLI killed,
 * unless CANCEL_ON_DISCONNECT=false, in which case the job runs to its end. Usage is settled
 * once either way.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, tempDir } from './helpers/env.js';
import { cleanupAll } from './helpers/leak-check.js';
import { createHarness } from './helpers/harness.js';
import { isAlive, readRecords, waitFor } from './helpers/records.js';

const recordDir = tempDir('disconnect-records');
const harnesses: ReturnType<typeof createHarness>[] = [];
afterAll(() => cleanupAll(harnesses));

async function leaveMidRun(cancelOnDisconnect: boolean, marker: string) {
  const h = createHarness('disconnect', {
    FAKE_CLI_RECORD_DIR: recordDir,
    CANCEL_ON_DISCONNECT: String(cancelOnDisconnect),
  });
  harnesses.push(h);
  const url = (await h.startApi()).url;
  await h.startWorker(['claude'], { FAKE_CLI_RECORD_DIR: recordDir });
  const name = `k-${marker}`;
  const key = await h.createKey(url, name);
  const ac = new AbortController();
  const gone = fetch(`${url}/generate`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ systemPrompt: '', userPrompt: `${marker} @@fake delay_ms=1500@@` }),
    signal: ac.signal,
  }).catch(() => undefined);
  const rec = await waitFor(
    () => readRecords(recordDir).find((r) => r.stdin.includes(marker)),
    5_000,
    'the CLI to start',
  );
  ac.abort();
  await gone;
  const logs = await waitFor(
    async () => {
      const res = await fetch(`${url}/admin/logs?key=${name}`, {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      });
      const l = ((await res.json()) as { logs: { status: string }[] }).logs;
      return l.length ? l : undefined;
    },
    5_000,
    'the job to be settled',
  );
  // The record as it is now (endedAt is added when the CLI exits).
  return { rec: readRecords(recordDir).find((r) => r.pid === rec.pid)!, logs };
}

describe('client disconnect during a sync generate', () => {
  it('cancels the job and kills its CLI', async () => {
    const { rec, logs } = await leaveMidRun(true, 'leave-and-cancel');
    expect(isAlive(rec.pid)).toBe(false);
    expect(rec.endedAt).toBeDefined();
    expect(logs).toHaveLength(1);
    expect(logs[0]!.status).toBe('cancelled');
  });

  it('lets the job finish when CANCEL_ON_DISCONNECT=false', async () => {
    const { rec, logs } = await leaveMidRun(false, 'leave-and-keep');
    expect(logs).toHaveLength(1);
    expect(logs[0]!.status).toBe('completed');
    expect(rec.endedAt! - rec.startedAt).toBeGreaterThanOrEqual(1_400);
  });
});
