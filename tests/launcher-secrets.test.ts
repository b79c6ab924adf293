/**
 * Under `npm start` the admin key reaches the API process only: a CLI runs as the same user as
 * its worker and could read the worker's environment from /proc/<pid>/environ.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { FAKE_CLAUDE, freePort, ROOT, tempDir } from './helpers/env.js';
import { waitFor } from './helpers/records.js';

/** The environment of a running process, as another process of the same user can read it. */
function environOf(pid: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

async function startLauncher(extraEnv: Record<string, string>) {
  const [apiPort, redisPort] = [await freePort(), await freePort()];
  const dataDir = tempDir('launcher-secrets');
  const proc = spawn(process.execPath, [join(ROOT, 'launcher/dist/main.js')], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(apiPort),
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      DATA_DIR: dataDir,
      CLAUDE_BIN: FAKE_CLAUDE,
      CODEX_BIN: 'no-such-codex',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let rest = '';
  proc.stdout!.on('data', (d: Buffer) => {
    const lines = (rest + d.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  const exited = new Promise<number | null>((r) => proc.on('exit', (c) => r(c)));
  const pidOf = (msg: string) =>
    waitFor(() => logs.find((l) => l.msg === msg)?.pid as number | undefined, 20_000, `"${msg}"`);
  return { proc, exited, dataDir, pidOf };
}

it.each([
  ['generated into DATA_DIR', {}],
  ['set in the environment', { BRIDGE_ADMIN_KEY: 'given-admin-key-0123456789' }],
])(
  'the admin key %s is in the API process only, not the worker',
  async (_how, extraEnv) => {
    const l = await startLauncher(extraEnv);
    try {
      const [apiPid, workerPid] = await Promise.all([l.pidOf('api listening'), l.pidOf('worker started')]);
      expect(workerPid).not.toBe(apiPid);
      const key =
        (extraEnv as { BRIDGE_ADMIN_KEY?: string }).BRIDGE_ADMIN_KEY ??
        readFileSync(join(l.dataDir, 'admin-key'), 'utf8').trim();
      expect(environOf(apiPid).BRIDGE_ADMIN_KEY).toBe(key);
      const workerEnv = environOf(workerPid);
      expect(workerEnv.BRIDGE_ADMIN_KEY).toBeUndefined();
      expect(Object.values(workerEnv)).not.toContain(key);
      expect(workerEnv.CLAUDE_BIN).toBe(FAKE_CLAUDE); // it is the worker's environment indeed
    } finally {
      l.proc.kill('SIGTERM');
    }
    expect(await l.exited).toBe(0);
  },
  60_000,
);
