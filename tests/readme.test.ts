/**
 * The README's walkthrough, run as written: its bash blocks are read out of README.md (not copied
 * here) and run in one shell against a fresh `npm start` (the launcher, with the fake CLIs the
 * README's "Trying it without a subscription" names) with DEFAULT limits. Every answer must come
 * back, and the bridge must never have answered 429 or 5xx: following the README does not trip
 * the bridge's own limiters, and no provider is missing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAKE_CLAUDE, FAKE_CODEX, REDIS_URL, ROOT, freePort, tempDir, uniquePrefix } from './helpers/env.js';
import { Redis } from 'ioredis';
import { deletePrefix } from './helpers/prefix.js';
import { waitFor } from './helpers/records.js';

/** The bash blocks of the README section whose heading is `heading`. */
function bashBlocks(heading: string): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README has no section "${heading}"`);
  const level = heading.split(' ')[0]!;
  const rest = readme.slice(start + heading.length + 2);
  const next = rest.search(new RegExp(`\\n${level} `));
  const section = next < 0 ? rest : rest.slice(0, next);
  return [...section.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

const prefix = uniquePrefix('readme');
const cwd = tempDir('readme');
let port = 0;
let launcher: ReturnType<typeof spawn>;
const responses: { url: string; status: number }[] = [];
let exited: Promise<number | null>;

beforeAll(async () => {
  port = await freePort();
  launcher = spawn(process.execPath, [join(ROOT, 'launcher/dist/main.js')], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      REDIS_URL,
      REDIS_PREFIX: prefix,
      PORT: String(port),
      LOG_FORMAT: 'json',
      CLAUDE_BIN: FAKE_CLAUDE,
      CODEX_BIN: FAKE_CODEX,
      CODEX_PRICING_FILE: join(ROOT, 'codex-pricing.json'),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  exited = new Promise((r) => launcher.on('exit', (code) => r(code)));
  let started = 0;
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: launcher.stdout! }).on('line', (line) => {
      let entry: Record<string, any>;
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      if (entry.req && entry.res)
        responses.push({ url: `${entry.req.method} ${entry.req.url}`, status: entry.res.statusCode });
      if (entry.msg === 'api listening' || entry.msg === 'worker started') if (++started === 2) resolve();
    });
    void exited.then((code) => reject(new Error(`npm start exited (${code}) before it was ready`)));
  });
}, 60_000);

afterAll(async () => {
  launcher.kill('SIGTERM');
  expect(await exited).toBe(0);
  const redis = new Redis(REDIS_URL);
  await deletePrefix(redis, prefix);
  await redis.quit();
});

describe('the README walkthrough', () => {
  it('answers every example of "Using it", "Async jobs", "OpenAI and Anthropic clients", "Keys" and the admin queues with default limits: no 429, no 5xx', async () => {
    const blocks = [
      ...bashBlocks('## Using it (curl)'),
      ...bashBlocks('## Async jobs and streaming'),
      ...bashBlocks('## OpenAI and Anthropic clients'),
      ...bashBlocks('## Keys, limits and usage'),
      ...bashBlocks('## Queues, jobs, workers and stats (admin)'),
    ];
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    // The examples name the default port; this bridge listens on a free one.
    const script = ['set -euo pipefail', ...blocks]
      .join('\n')
      .replaceAll('127.0.0.1:3456', `127.0.0.1:${port}`);
    const run = spawnSync('bash', ['-c', script], { cwd, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    // Answers as the README shows them.
    expect(run.stdout).toContain('"text":"Echo: What is 2+2?"');
    expect(run.stdout).toMatch(/"provider":"codex"/);
    expect(run.stdout).toContain('event: done');
    // The OpenAI- and Anthropic-compatible examples.
    expect(run.stdout).toMatch(/"object":"chat.completion".*"content":"Echo: What is 2\+2\?"/);
    expect(run.stdout).toContain('"object":"chat.completion.chunk"');
    expect(run.stdout).toContain('data: [DONE]');
    expect(run.stdout).toMatch(/"type":"message".*"text":"Echo: What is 2\+2\?"/);
    expect(run.stdout).toContain('{"input_tokens":1}');
    expect(run.stdout).toMatch(/"object":"list","data":\[.*"id":"gpt-5-codex"/);
    expect(run.stdout).toMatch(/"name":"webapp"/);
    expect(run.stdout).toContain('"revoked":true');
    // The admin examples (the job of "Async jobs" is retried while completed: a 409, then removed).
    expect(run.stdout).toMatch(/"queues":\[\{"provider":"claude"/);
    expect(run.stdout).toContain('"removed":true');
    expect(run.stdout).toMatch(/"workers":\[\{"id"/);
    expect(run.stdout).toMatch(/"days":\[\{"date"/);
    // What the bridge answered, from its own request log (written asynchronously: the last
    // request, the stats, comes last).
    await waitFor(() => responses.some((r) => r.url.startsWith('GET /admin/stats')), 5_000);
    const bad = responses.filter((r) => r.status === 429 || r.status >= 500);
    expect(bad).toEqual([]);
    expect(responses.length).toBeGreaterThan(15);
  });
});
