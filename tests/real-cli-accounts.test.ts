/**
 * Accounts through the REAL claude binary: a worker (its own OS process) serving two accounts
 * runs each account's CLI with that account's CLAUDE_CONFIG_DIR. Claude keeps its device id in
 * `<config dir>/.claude.json` and sends it with every model request, so the mock model server
 * sees which account each request came from. Also: the worker reads each account's auth mode
 * (an API key here) into its heartbeat, and warns when a key overrides a subscription login.
 */
import { writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHolds } from '@cli-bridge/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, postJson } from './helpers/harness.js';
import { startMockModelServer, type MockModelServer } from './helpers/mock-model-server.js';
import { prepareClaude, realCliBridgeEnv, type CliSandbox } from './helpers/real-cli.js';
import { waitFor } from './helpers/records.js';

let mock: MockModelServer;
let box: CliSandbox;
const h = createHarness('realcli-accounts', { ...realCliBridgeEnv(), ACCOUNT_HOLD_POLL_MS: '200' });
const holds = createHolds({ redis: h.redis, keys: h.keys, heartbeatMs: 500 });
let url = '';
let key = '';
let worker: Awaited<ReturnType<typeof h.spawnWorker>>;
const dirs = { a: '', b: '' };

const paused = (account: string) => {
  const turns = worker.logs.filter((l) => l.component === 'account-gate' && l.account === account);
  return turns.at(-1)?.held === true;
};

/** The device id claude sent with a model request (its metadata.user_id is a JSON string). */
const deviceIds = () =>
  mock.requests
    .filter((r) => r.url.startsWith('/v1/messages'))
    .map((r) => JSON.parse(r.body.metadata.user_id).device_id as string);

beforeAll(async () => {
  mock = await startMockModelServer();
  box = await prepareClaude(mock.url);
  for (const a of ['a', 'b'] as const) mkdirSync((dirs[a] = join(box.root, `claude-${a}`)));
  // Account a also holds a subscription login (a credentials file): the API key overrides it.
  writeFileSync(join(dirs.a, '.credentials.json'), '{}');
  url = (await h.startApi()).url;
  worker = await h.spawnWorker({
    ...box.env,
    WORKER_PROVIDERS: 'claude',
    CLAUDE_ACCOUNTS: `a=${dirs.a}:1,b=${dirs.b}:1`,
    LOG_LEVEL: 'info',
  });
  key = await h.createKey(url);
}, 60_000);
afterAll(async () => {
  await h.cleanup();
  await mock?.close();
  await box?.cleanup();
});

describe('real claude, two accounts', () => {
  it("runs each account's CLI with its own CLAUDE_CONFIG_DIR", async () => {
    const ask = async (held: 'a' | 'b', prompt: string) => {
      await holds.set('claude', held, { until: Date.now() + 3_600_000, reason: 'usage_limit' });
      await waitFor(() => paused(held), 10_000, `${held} paused`);
      const res = await postJson(
        `${url}/generate`,
        { systemPrompt: '', userPrompt: prompt },
        { authorization: `Bearer ${key}` },
      );
      expect(res.status, res.text).toBe(200);
      await holds.clear('claude', held);
      await waitFor(() => !paused(held), 10_000, `${held} serving`);
    };
    await ask('b', 'to account a');
    await ask('a', 'to account b');
    // Each account's CLI wrote its device id into its own config directory, and sent it.
    const idOf = (d: string) =>
      (JSON.parse(readFileSync(join(d, '.claude.json'), 'utf8')) as { userID: string }).userID;
    expect(idOf(dirs.a)).not.toBe(idOf(dirs.b));
    expect(deviceIds()).toEqual([idOf(dirs.a), idOf(dirs.b)]);
  }, 60_000);

  it("puts each account's auth mode in the heartbeat, and warns when a key overrides a login", async () => {
    const [info] = await waitFor(async () => {
      const ids = await h.redis.zrange(h.keys.workers, 0, -1);
      const raw = await Promise.all(ids.map((id) => h.redis.get(h.keys.worker(id))));
      const infos = raw.filter(Boolean).map((r) => JSON.parse(r!));
      return infos.length ? infos : undefined;
    });
    expect(info.accounts.claude).toEqual([
      { name: 'a', concurrency: 1, authMode: 'api_key' },
      { name: 'b', concurrency: 1, authMode: 'api_key' },
    ]);
    const warnings = worker.logs.filter((l) => String(l.msg).startsWith('WARNING:'));
    expect(warnings.map((w) => w.account)).toEqual(['a']);
    expect(String(warnings[0]!.msg)).toMatch(/ANTHROPIC_API_KEY is set.*API prices/);
  });
});
