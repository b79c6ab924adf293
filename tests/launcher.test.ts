/**
 * `npm start` (launcher/dist/main.js) on a "fresh machine": nothing answers at REDIS_URL and no
 * admin key is set. It must start a private Redis with AOF under DATA_DIR, generate an admin key
 * into DATA_DIR (0600, never printed), run API + worker, serve a generate, and stop everything on
 * SIGTERM.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { FAKE_CLAUDE, freePort, ROOT, tempDir } from './helpers/env.js';
import { postJson } from './helpers/harness.js';
import { isAlive, waitFor } from './helpers/records.js';

/** Runs `npm start`'s entry point on free ports with a fresh DATA_DIR; `output()` is what it printed. */
async function startLauncher(name: string, env: Record<string, string | undefined>) {
  const [apiPort, redisPort] = [await freePort(), await freePort()];
  const dataDir = tempDir(name);
  const proc = spawn(process.execPath, [join(ROOT, 'launcher/dist/main.js')], {
    env: {
      HOME: process.env.HOME,
      PORT: String(apiPort),
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (c) => r(c)));
  return {
    proc,
    exited,
    output: () => out,
    apiPort,
    redisPort,
    dataDir,
    base: `http://127.0.0.1:${apiPort}`,
  };
}

it('runs the whole bridge on a private Redis and stops cleanly', async () => {
  const { proc, exited, output, apiPort, redisPort, dataDir, base } = await startLauncher('launcher', {
    // As under `npm start`: the pinned dev CLIs are on PATH, and must not be picked up.
    PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH}`,
    CLAUDE_BIN: FAKE_CLAUDE,
    WORKER_HEARTBEAT_MS: '500',
  });
  try {
    const ready = await waitFor(
      async () => {
        const r = await fetch(`${base}/ready`).catch(() => undefined);
        const body = r?.ok
          ? ((await r.json()) as { providers: Record<string, { workers: number }> })
          : undefined;
        return body?.providers.claude?.workers === 1 ? body : undefined;
      },
      20_000,
      'the bridge to be ready',
    );
    // node_modules/.bin/codex (a dev dependency) was not taken for the user's own CLI.
    expect(ready.providers.codex!.workers).toBe(0);
    const keyFile = join(dataDir, 'admin-key');
    expect((statSync(keyFile).mode & 0o777).toString(8)).toBe('600');
    const adminKey = readFileSync(keyFile, 'utf8').trim();
    expect(output()).toContain(keyFile);
    expect(output()).not.toContain(adminKey);

    const created = await postJson(
      `${base}/admin/keys`,
      { name: 'me' },
      { authorization: `Bearer ${adminKey}` },
    );
    expect(created.status).toBe(201);
    const res = await postJson(
      `${base}/generate`,
      { systemPrompt: 'Be brief.', userPrompt: 'What is 2+2?' },
      { authorization: `Bearer ${created.json.key}` },
    );
    expect(res.status).toBe(200);
    expect(res.json.content[0].text).toBe('Echo: What is 2+2?');
    expect(readdirSync(join(dataDir, 'redis')).some((f) => f.startsWith('appendonly'))).toBe(true);
  } finally {
    proc.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
  // Nothing left listening.
  await waitFor(
    async () => !(await fetch(`http://127.0.0.1:${apiPort}/health`).catch(() => undefined)),
    5_000,
    'the API to stop',
  );
  // The private Redis went with it.
  const redisGone = await new Promise<boolean>((resolve) => {
    const sock = connect({ host: '127.0.0.1', port: redisPort });
    sock.on('connect', () => (sock.destroy(), resolve(false)));
    sock.on('error', () => resolve(true));
  });
  expect(redisGone).toBe(true);
  expect(existsSync(join(dataDir, 'redis'))).toBe(true);
  expect(isAlive(proc.pid!)).toBe(false);
}, 60_000);

it('keeps the API up without a worker when no CLI is installed, answering 503 for generate', async () => {
  const { proc, exited, output, dataDir, base } = await startLauncher('launcher-nocli', {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    CLAUDE_BIN: 'no-such-claude',
    CODEX_BIN: 'no-such-codex',
  });
  try {
    await waitFor(() => output().includes('no worker: no CLI was found'), 20_000, 'the launcher to notice');
    await waitFor(async () => (await fetch(`${base}/health`).catch(() => undefined))?.ok, 20_000, 'the API');
    const adminKey = readFileSync(join(dataDir, 'admin-key'), 'utf8').trim();
    const created = await postJson(
      `${base}/admin/keys`,
      { name: 'me' },
      { authorization: `Bearer ${adminKey}` },
    );
    const res = await postJson(
      `${base}/generate`,
      { systemPrompt: '', userPrompt: 'hi' },
      { authorization: `Bearer ${created.json.key}` },
    );
    expect(res.status).toBe(503);
    expect(res.json.error.message).toBe('No worker is serving claude right now');
  } finally {
    proc.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
}, 60_000);
