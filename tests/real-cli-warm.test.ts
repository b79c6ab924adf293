/**
 * The warm pool with the REAL claude (pinned devDependency) against the loopback mock model: a
 * process started after the first job, waiting on stdin, answers the second job correctly, with
 * that job's prompt and the system prompt it was started with reaching the model, after waiting
 * longer than the 3 s the CLI allows a silent stdin in text mode.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerInfo } from '@cli-bridge/shared';
import { createHarness, postJson } from './helpers/harness.js';
import { startMockModelServer, type MockModelServer } from './helpers/mock-model-server.js';
import { childrenOf } from './helpers/procs.js';
import { claudeBin, prepareClaude, realCliBridgeEnv, type CliSandbox } from './helpers/real-cli.js';
import { isAlive, waitFor } from './helpers/records.js';

let mock: MockModelServer;
let box: CliSandbox;
const h = createHarness('realwarm', { ...realCliBridgeEnv(), WARM_POOL_MAX: '2' });
let url = '';
let key = '';
let workerId = '';

beforeAll(async () => {
  mock = await startMockModelServer();
  // The model answers with the tag it finds in the request, so each answer names its own prompt.
  mock.setScript(({ body }) => {
    const tag = /warmtag-[a-z0-9]+/.exec(JSON.stringify(body))?.[0];
    return tag ? { text: `Answer to ${tag}` } : undefined;
  });
  box = await prepareClaude(mock.url);
  url = (await h.startApi()).url;
  workerId = (await h.startWorker(['claude'], box.env)).id;
  key = await h.createKey(url);
});
afterAll(async () => {
  await h.cleanup();
  await mock?.close();
  await box?.cleanup();
});

async function pool(): Promise<NonNullable<WorkerInfo['warmPool']>> {
  const raw = await h.redis.get(h.keys.worker(workerId));
  return (JSON.parse(raw ?? '{}') as WorkerInfo).warmPool!;
}

async function ask(tag: string) {
  const res = await postJson(
    `${url}/generate`,
    { systemPrompt: 'You are the warm bridge bot.', userPrompt: `Please answer ${tag}.` },
    { authorization: `Bearer ${key}` },
  );
  expect(res.status, res.text).toBe(200);
  return res.json;
}

describe('real claude from the warm pool', () => {
  it('a warm hit answers correctly, with its own prompt and the system prompt', async () => {
    const first = await ask('warmtag-one');
    expect(first.content[0].text).toBe('Answer to warmtag-one');
    await waitFor(async () => (await pool())?.size === 1, 20_000, 'a warm claude waiting');
    const [waiting] = childrenOf(process.pid).filter((c) => c.cmdline.startsWith(claudeBin()));
    expect(waiting, 'the waiting claude').toBeDefined();
    // In text mode claude gives up on a stdin silent for 3 s; the bridge's stream-json input waits
    // as long as needed. Let the process wait past that (the time is what is tested here).
    const since = Date.now();
    await waitFor(() => Date.now() - since > 4_000 || !isAlive(waiting!.pid), 10_000, '4 s of waiting');
    expect(isAlive(waiting!.pid), 'the warm claude outlived 3 s of silence').toBe(true);
    mock.requests.length = 0;

    const second = await ask('warmtag-two');
    expect(second.content[0].text).toBe('Answer to warmtag-two');
    expect(second.usage.input_tokens).toBe(11);
    const sent = mock.modelRequests('anthropic').map((r) => JSON.stringify(r.body));
    const answered = sent.find((b) => b.includes('warmtag-two'));
    expect(answered).toBeDefined();
    expect(answered).toContain('You are the warm bridge bot.');
    expect(
      sent.some((b) => b.includes('warmtag-one')),
      'nothing of the first job',
    ).toBe(false);
    await waitFor(async () => (await pool())?.hits === 1, 10_000, 'the hit in the heartbeat');
    expect(await pool()).toMatchObject({ misses: 1, discarded: 0 });
  }, 120_000);
});
