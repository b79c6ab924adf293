/**
 * The processes as a newcomer starts them: `.env` is read (the real environment wins), logs are
 * JSON or readable lines as LOG_FORMAT says, and a port that is taken is one clear line, not a
 * stack trace.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { ROOT, REDIS_URL, tempDir, uniquePrefix } from './helpers/env.js';
import { deletePrefix } from './helpers/prefix.js';

const API = join(ROOT, 'api/dist/main.js');

/** Runs the API in `cwd` until its first stdout line (or its exit); then stops it. */
async function runApi(cwd: string, env: Record<string, string>) {
  const proc = spawn(process.execPath, [API], {
    cwd,
    env: { PATH: process.env.PATH ?? '', REDIS_URL, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const lines: string[] = [];
  const first = await new Promise<string | undefined>((resolve) => {
    createInterface({ input: proc.stdout }).on('line', (l) => {
      lines.push(l);
      if (/api listening/.test(l)) resolve(l);
    });
    void exited.then(() => resolve(undefined));
  });
  if (proc.exitCode === null) proc.kill('SIGTERM');
  const code = await exited;
  return { first, lines, stderr, code };
}

const servers: Server[] = [];
/** The prefixes the APIs started here used: their queues' records are removed afterwards. */
const prefixes: string[] = [];
const prefix = (name: string) => {
  const p = uniquePrefix(name);
  prefixes.push(p);
  return p;
};
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  const redis = new Redis(REDIS_URL);
  for (const p of prefixes) await deletePrefix(redis, p);
  await redis.quit();
});

describe('the API entry point', () => {
  it('reads .env from its working directory; a variable of the real environment wins', async () => {
    const cwd = tempDir('dotenv');
    writeFileSync(
      join(cwd, '.env'),
      ['PORT=0', `REDIS_PREFIX=${prefix('dotenv')}`, 'LOG_FORMAT=pretty', 'LOG_LEVEL=info'].join('\n'),
    );
    // From the file alone: pretty lines, not JSON.
    const pretty = await runApi(cwd, {});
    expect(pretty.first).toMatch(/INFO.*api listening/);
    expect(() => JSON.parse(pretty.first!)).toThrow();
    // The real environment's LOG_FORMAT beats the file's.
    const json = await runApi(cwd, { LOG_FORMAT: 'json' });
    expect(JSON.parse(json.first!)).toMatchObject({ msg: 'api listening', name: 'api' });
  });

  it('says in one line that a port is taken, and exits 1', async () => {
    const taken = createServer();
    servers.push(taken);
    const port = await new Promise<number>((r) =>
      taken.listen(0, '127.0.0.1', () => r((taken.address() as { port: number }).port)),
    );
    const res = await runApi(tempDir('port'), { PORT: String(port), REDIS_PREFIX: prefix('port') });
    expect(res.code).toBe(1);
    expect(res.stderr.trim()).toBe(
      `api failed to start: 127.0.0.1:${port} is already in use: stop what uses it, or set PORT`,
    );
  });
});
