// Real CLI cold start: each job spawns a fresh `claude` / `codex` process, so a CLI's start-up is
// paid per request. This runs the REAL CLIs (pinned devDependencies of tests/) offline against a
// loopback mock model (the tests' mock model server, which answers at once) and compares
//   direct: spawn the CLI from Node with the bridge's exact argv/stdin/env (the adapter's
//           prepare() + buildCliEnv), in a fresh empty cwd, and
//   bridge: sync POST /generate (claude) / POST /generate-codex (codex) through an API and a
//           worker process whose CLAUDE_BIN / CODEX_BIN are the real CLIs.
// Direct and bridge use separate scratch HOMEs; each gets one discarded warm-up run first. Runs
// are interleaved (claude direct, claude bridge, codex direct, codex bridge) N times.
//
// Options: --cold-n=10
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger, createPricingStore, loadConfig } from '@cli-bridge/shared';
import { buildCliEnv, createClaudeAdapter, createCodexAdapter } from '@cli-bridge/worker';
import { bridgeEnv, createBenchContext, createKey, log, spawnDirect, summarize } from './lib/common.mjs';
import { startMockModelServer } from '../tests/dist/mock-model-server.js';
import { claudeBin, claudeMockEnv, codexBin, createScratch, writeCodexHome } from '../tests/dist/real-cli.js';

export const DEFAULTS = { coldN: 10 };

const SYSTEM_PROMPT = 'You are a terse assistant.';
const USER_PROMPT = 'What is 2+2?';
const CLAUDE_TEXT = 'Hello from mock-anthropic.';
const CODEX_TEXT = 'Hello from mock-openai.';

export async function run(opts = {}) {
  const o = { ...DEFAULTS, ...opts };
  const ctx = createBenchContext('cold-start');
  const mock = await startMockModelServer({
    anthropicText: CLAUDE_TEXT,
    openaiText: CODEX_TEXT,
    logUnknown: false,
  });
  ctx.atClose(() => mock.close());
  try {
    const bins = { claude: claudeBin(), codex: codexBin() };
    // One env builder for both sides: what the worker process gets, with a given HOME.
    const homes = {
      direct: await createScratch('bench-direct'),
      bridge: await createScratch('bench-bridge'),
    };
    ctx.atClose(() => Promise.all(Object.values(homes).map((h) => h.cleanup())));
    const workerEnv = async (home) =>
      bridgeEnv(ctx.prefix, {
        HOME: home,
        WORKER_PROVIDERS: 'claude,codex',
        CLAUDE_BIN: bins.claude,
        CODEX_BIN: bins.codex,
        CLI_ENV_PASSTHROUGH: 'MOCK_API_KEY',
        CLAUDE_CODE_MAX_RETRIES: '0',
        ...claudeMockEnv(mock.url),
        ...(await writeCodexHome(join(home, '.codex'), mock.url, [
          loadConfig(bridgeEnv(ctx.prefix)).CODEX_DEFAULT_MODEL,
        ])),
      });
    const envDirect = await workerEnv(homes.direct.home);
    const envBridge = await workerEnv(homes.bridge.home);
    const config = loadConfig(envDirect);

    // ---- direct side: the adapters' own invocation
    const pricing = createPricingStore({
      file: config.CODEX_PRICING_FILE,
      logger: createLogger({ level: 'silent', name: 'bench' }),
    });
    const adapters = {
      claude: createClaudeAdapter({
        bin: bins.claude,
        timeoutMs: 60_000,
        maxBufferBytes: config.CLAUDE_MAX_BUFFER_BYTES,
        maxRetries: config.CLAUDE_CODE_MAX_RETRIES,
      }),
      codex: createCodexAdapter({
        bin: bins.codex,
        timeoutMs: 60_000,
        maxBufferBytes: config.CODEX_MAX_BUFFER_BYTES,
        pricing,
      }),
    };
    const models = { claude: config.CLAUDE_DEFAULT_MODEL, codex: config.CODEX_DEFAULT_MODEL };
    async function direct(provider) {
      const privateDir = await mkdtemp(join(homes.direct.root, 'job-'));
      const workDir = join(privateDir, 'work');
      await mkdir(workDir);
      try {
        const inv = await adapters[provider].prepare(
          {
            v: 1,
            provider,
            keyName: 'bench',
            systemPrompt: SYSTEM_PROMPT,
            userPrompt: USER_PROMPT,
            model: models[provider],
            stream: false,
            submittedAt: Date.now(),
          },
          { workDir, privateDir },
        );
        const env = buildCliEnv({
          provider,
          base: envDirect,
          passthrough: config.CLI_ENV_PASSTHROUGH,
          extra: inv.env,
        });
        const r = await spawnDirect({ bin: inv.bin, args: inv.args, stdin: inv.stdin, cwd: workDir, env });
        const text = provider === 'claude' ? claudeText(r.stdout) : codexText(r.stdout);
        const want = provider === 'claude' ? CLAUDE_TEXT : CODEX_TEXT;
        if (r.code !== 0 || text !== want)
          throw new Error(
            `direct ${provider} failed: rc ${r.code}, text ${JSON.stringify(text)}, stderr ${r.stderr.slice(-400)}`,
          );
        return r.ms;
      } finally {
        await rm(privateDir, { recursive: true, force: true });
      }
    }

    // ---- bridge side
    const api = await ctx.group.startApi(envBridge);
    const worker = await ctx.group.startWorker(envBridge);
    const key = await createKey(ctx.http, api.url);
    async function bridge(provider) {
      const path = provider === 'claude' ? '/generate' : '/generate-codex';
      const r = await ctx.http.post(
        `${api.url}${path}`,
        { systemPrompt: SYSTEM_PROMPT, userPrompt: USER_PROMPT },
        { authorization: `Bearer ${key}` },
      );
      const text = r.json?.content?.[0]?.text;
      const want = provider === 'claude' ? CLAUDE_TEXT : CODEX_TEXT;
      if (r.status !== 200 || text !== want)
        throw new Error(`bridge ${provider} failed: ${r.status} ${r.text.slice(0, 400)}`);
      return r.ms;
    }

    log('cold-start: one discarded warm-up run per side and CLI');
    for (const p of ['claude', 'codex']) {
      await direct(p);
      await bridge(p);
    }
    const ms = { claude: { direct: [], bridge: [] }, codex: { direct: [], bridge: [] } };
    const cliBefore = worker.cliRuns.length;
    log(`cold-start: ${o.coldN} interleaved runs of each`);
    for (let i = 0; i < o.coldN; i++) {
      for (const p of ['claude', 'codex']) {
        ms[p].direct.push(await direct(p));
        ms[p].bridge.push(await bridge(p));
      }
    }
    const cliRuns = worker.cliRuns.slice(cliBefore);
    const out = {};
    const table = [];
    for (const p of ['claude', 'codex']) {
      const d = summarize(ms[p].direct);
      const b = summarize(ms[p].bridge);
      const inWorker = summarize(cliRuns.filter((r) => r.provider === p).map((r) => r.durationMs));
      out[p] = {
        direct: d,
        bridge: b,
        cliInWorker: inWorker,
        medianDiff: Math.round((b.p50 - d.p50) * 100) / 100,
        raw: ms[p],
      };
      table.push({
        cli: p,
        n: d.n,
        'direct median': d.p50,
        'bridge median': b.p50,
        'bridge − direct (medians)': out[p].medianDiff,
        'CLI run in worker median': inWorker.p50,
        'direct min/max': `${d.min}/${d.max}`,
        'bridge min/max': `${b.min}/${b.max}`,
      });
    }
    return {
      name: 'cold-start',
      config: { ...o, bins, models, mock: 'tests/helpers/mock-model-server.ts (loopback, instant)' },
      ...out,
      mockRequests: {
        anthropic: mock.modelRequests('anthropic').length,
        openai: mock.modelRequests('openai').length,
        other: mock.requests.length - mock.modelRequests().length,
      },
      table,
      notes: [
        'ms; each run is a fresh CLI process (the bridge spawns one per job). "CLI run in worker" = durationMs of the worker\'s "job completed" log.',
        "Both sides get the env the worker builds (buildCliEnv: PATH, HOME, LANG, TZ=UTC, ANTHROPIC_*/CODEX_*, passthrough MOCK_API_KEY) and the adapters' argv/stdin.",
      ],
    };
  } finally {
    await ctx.close();
  }
}

function claudeText(stdout) {
  try {
    const r = JSON.parse(stdout.trim().split('\n').at(-1));
    return r.is_error ? undefined : r.result;
  } catch {
    return undefined;
  }
}

function codexText(stdout) {
  let text;
  for (const line of stdout.split('\n')) {
    try {
      const ev = JSON.parse(line);
      if (ev.type === 'item.completed' && ev.item?.type === 'agent_message') text = ev.item.text;
    } catch {
      // not JSON
    }
  }
  return text;
}
