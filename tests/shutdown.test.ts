/**
 * Every in-flight request gets an HTTP answer on shutdown, whichever process gets the signal:
 * its result, or 503 with its job id and Retry-After when the job cannot finish in time (the job
 * goes on, or stays queued). Keep-alive clients do not hold the shutdown, and one Ctrl-C on
 * `npm start` (SIGINT to the whole foreground process group) is one graceful shutdown.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, FAKE_CLAUDE, REDIS_URL, ROOT, freePort, tempDir } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { isAlive, waitFor } from './helpers/records.js';

const h = createHarness('shutdown', { SHUTDOWN_TIMEOUT_MS: '2000' });
afterAll(() => h.cleanup());

describe('SIGTERM to the API', () => {
  it('answers sync requests whose jobs outlast the deadline with 503 + job id; the jobs go on', async () => {
    const api = await h.spawnApi();
    await h.startWorker(['claude'], { WORKER_CONCURRENCY_CLAUDE: '2' });
    const key = await h.createKey(api.url);
    const auth = { authorization: `Bearer ${key}` };
    const pending = Array.from({ length: 6 }, (_, i) =>
      postJson(
        `${api.url}/generate`,
        { systemPrompt: '', userPrompt: `long ${i} @@fake delay_ms=4000@@` },
        auth,
      ),
    );
    // All six admitted (two running, four queued) before the signal.
    const [keyId] = await h.redis.zrange(h.keys.apiKeyIds, 0, 0);
    await waitFor(async () => (await h.redis.zcard(h.keys.leases(keyId!))) === 6);
    const t0 = Date.now();
    void api.stop('SIGTERM');
    const answers = await Promise.all(pending);
    expect(Date.now() - t0).toBeLessThan(2_500);
    for (const a of answers) {
      expect(a.status).toBe(503);
      expect(a.json.error).toMatchObject({ type: 'unavailable', job_id: expect.stringMatching(/^claude-/) });
      expect(Number(a.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    // Nothing was cancelled: another API sees every job run to its end.
    const other = await h.startApi();
    for (const a of answers) {
      const id = a.json.error.job_id;
      const done = await waitFor(async () => {
        const v = (await (await fetch(`${other.url}/jobs/${id}`, { headers: auth })).json()) as {
          status: string;
        };
        return ['completed', 'failed', 'cancelled'].includes(v.status) ? v : undefined;
      }, 20_000);
      expect(done.status, JSON.stringify(done)).toBe('completed');
    }
  }, 40_000);

  it('does not wait for idle keep-alive connections', async () => {
    const api = await h.spawnApi({ SHUTDOWN_TIMEOUT_MS: '10000' });
    // undici keeps this connection open after the answer.
    expect((await fetch(`${api.url}/health`)).status).toBe(200);
    const t0 = Date.now();
    expect(await api.stop('SIGTERM')).toBe(0);
    expect(Date.now() - t0).toBeLessThan(2_000);
  });
});

describe('Ctrl-C on npm start', () => {
  it('is one graceful shutdown: SIGINT to the whole process group answers every request', async () => {
    const port = await freePort();
    const launcher = spawn(process.execPath, [join(ROOT, 'launcher/dist/main.js')], {
      cwd: tempDir('ctrl-c'),
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        REDIS_URL,
        REDIS_PREFIX: h.prefix,
        PORT: String(port),
        LOG_FORMAT: 'json',
        CLAUDE_BIN: FAKE_CLAUDE,
        WORKER_PROVIDERS: 'claude',
        WORKER_CONCURRENCY_CLAUDE: '10',
        BRIDGE_ADMIN_KEY: ADMIN_KEY,
      },
      // As a terminal runs it: the leader of its own foreground process group.
      detached: true,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((r) => launcher.on('exit', (code) => r(code)));
    const pids: number[] = [];
    try {
      let started = 0;
      await new Promise<void>((resolve) =>
        createInterface({ input: launcher.stdout! }).on('line', (line) => {
          try {
            const e = JSON.parse(line);
            if (e.msg === 'api listening' || e.msg === 'worker started') {
              pids.push(e.pid);
              if (++started === 2) resolve();
            }
          } catch {
            // not a log line
          }
        }),
      );
      const url = `http://127.0.0.1:${port}`;
      const key = await h.createKey(url);
      const pending = Array.from({ length: 10 }, (_, i) =>
        postJson(
          `${url}/generate`,
          { systemPrompt: '', userPrompt: `ctrl-c ${i} @@fake delay_ms=1500@@` },
          {
            authorization: `Bearer ${key}`,
          },
        ),
      );
      await new Promise((r) => setTimeout(r, 500));
      process.kill(-launcher.pid!, 'SIGINT'); // what the terminal does on Ctrl-C
      const answers = await Promise.all(pending);
      expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
      expect(await exited).toBe(0);
      await waitFor(() => pids.every((pid) => !isAlive(pid)));
    } finally {
      // A failed run must not leave the detached bridge behind.
      for (const pid of [launcher.pid!, ...pids]) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    }
  }, 30_000);
});
