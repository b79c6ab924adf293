/**
 * Accounts without Redis or processes: their configuration, the usage-limit and transient forms
 * the parsers tell apart, the reset times, the Agent SDK credit's projection, the auth mode.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  createLogger,
  createPricingStore,
  creditOf,
  creditView,
  defaultJobOptions,
  loadConfig,
  nextMonthStart,
} from '@cli-bridge/shared';
import {
  accountAuth,
  CliFailure,
  parseClaudeRun,
  parseCodexRun,
  parseResetTime,
  workerAccounts,
  type CliRun,
} from '@cli-bridge/worker';
import { ROOT, tempDir } from '../helpers/env.js';
import { readFileSync } from 'node:fs';

const sample = (name: string) => readFileSync(join(ROOT, 'tests/fixtures/cli-samples', name), 'utf8');
const run = (stdout: string, exitCode: number | null = 1): CliRun => ({
  end: 'exited',
  stdout,
  stderr: '',
  exitCode,
  exitSignal: null,
  durationMs: 42,
});
const limits = { timeoutMs: 1000, maxBufferBytes: 1000 };
const now = Date.parse('2026-11-28T04:30:00Z');
const pricing = createPricingStore({
  file: join(ROOT, 'codex-pricing.json'),
  logger: createLogger({ level: 'silent', name: 't' }),
});

function failure(fn: () => unknown): CliFailure {
  try {
    fn();
  } catch (err) {
    if (err instanceof CliFailure) return err;
    throw err;
  }
  throw new Error('expected a CliFailure');
}

/** A claude result line with this message and API status (the 429 sample's shape). */
function claudeError(message: string, status: number | null): string {
  const r = JSON.parse(sample('claude-error-429.json'));
  return JSON.stringify({ ...r, result: message, api_error_status: status }) + '\n';
}
/** A codex failed turn with this message. */
function codexError(message: string): string {
  const [thread, turn, error, failed] = sample('codex-error-429.jsonl')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  error.message = message;
  failed.error.message = message;
  return [thread, turn, error, failed].map((l) => JSON.stringify(l)).join('\n') + '\n';
}

describe('CLAUDE_ACCOUNTS / CODEX_ACCOUNTS', () => {
  it('reads name=dir[:N] entries; none = the worker\'s own login as "default"', () => {
    const c = loadConfig({
      CLAUDE_ACCOUNTS: 'work=/home/u/.claude-work, personal=/home/u/.claude-personal:3',
      WORKER_CONCURRENCY_CLAUDE: '2',
    });
    expect(c.CLAUDE_ACCOUNTS).toEqual([
      { name: 'work', dir: '/home/u/.claude-work' },
      { name: 'personal', dir: '/home/u/.claude-personal', concurrency: 3 },
    ]);
    expect(workerAccounts('claude', c)).toEqual([
      {
        provider: 'claude',
        name: 'work',
        env: { CLAUDE_CONFIG_DIR: '/home/u/.claude-work' },
        concurrency: 2,
      },
      {
        provider: 'claude',
        name: 'personal',
        env: { CLAUDE_CONFIG_DIR: '/home/u/.claude-personal' },
        concurrency: 3,
      },
    ]);
    expect(workerAccounts('codex', c)).toEqual([
      { provider: 'codex', name: 'default', env: {}, concurrency: 2 },
    ]);
    const x = loadConfig({ CODEX_ACCOUNTS: 'a=/x/codex-a:1' });
    expect(workerAccounts('codex', x)[0]!.env).toEqual({ CODEX_HOME: '/x/codex-a' });
  });

  it.each([
    ['relative dir', 'work=.claude'],
    ['no name', '=/x'],
    ['bad name', 'my work=/x'],
    ['concurrency 0', 'work=/x:0'],
    ['same name twice', 'a=/x,a=/y'],
  ])('refuses %s, naming the variable', (_what, value) => {
    expect(() => loadConfig({ CLAUDE_ACCOUNTS: value })).toThrow(ConfigError);
    expect(() => loadConfig({ CLAUDE_ACCOUNTS: value })).toThrow(/CLAUDE_ACCOUNTS/);
  });

  it('reads credits per account, a bare amount for the rest, and a stop share in (0, 1]', () => {
    const c = loadConfig({
      CLAUDE_ACCOUNT_CREDIT_USD: 'work=200,50',
      CLAUDE_ACCOUNT_CREDIT_STOP_SHARE: '0.95',
    });
    expect(creditOf(c.CLAUDE_ACCOUNT_CREDIT_USD, 'work')).toBe(200);
    expect(creditOf(c.CLAUDE_ACCOUNT_CREDIT_USD, 'other')).toBe(50);
    expect(c.CLAUDE_ACCOUNT_CREDIT_STOP_SHARE).toBe(0.95);
    expect(creditOf(loadConfig({}).CLAUDE_ACCOUNT_CREDIT_USD, 'work')).toBeUndefined();
    expect(() => loadConfig({ CLAUDE_ACCOUNT_CREDIT_STOP_SHARE: '1.5' })).toThrow(/STOP_SHARE/);
    expect(() => loadConfig({ CLAUDE_ACCOUNT_CREDIT_USD: 'work=lots' })).toThrow(/CREDIT_USD/);
  });
});

describe('usage limits, spent credits and transient errors', () => {
  it("prefers stream-json's rate_limit_event resetsAt (to the second) over the printed time", () => {
    const f = failure(() =>
      parseClaudeRun(run(sample('claude-usage-limit-oauth-stream.jsonl')), { model: 'sonnet' }, limits, now),
    );
    expect(f.kind).toBe('usage_limit');
    expect(f.opts.resetAt).toBe(1795840757 * 1000);
    // The JSON form has only the text: "resets 4:39am (UTC)".
    const j = failure(() =>
      parseClaudeRun(run(sample('claude-usage-limit-oauth.json')), { model: 'sonnet' }, limits, now),
    );
    expect(j.opts.resetAt).toBe(Date.parse('2026-11-28T04:39:00Z'));
  });

  it('holds an account out of extra usage until the 1st of next month (UTC)', () => {
    const f = failure(() =>
      parseClaudeRun(
        run(
          claudeError(
            "API Error: 400 You're out of extra usage. Add more at claude.ai/settings/usage and keep going.",
            400,
          ),
        ),
        { model: 'sonnet' },
        limits,
        now,
      ),
    );
    expect(f).toMatchObject({ kind: 'usage_limit', type: 'provider_exhausted' });
    expect(f.opts.holdReason).toBe('extra_usage_exhausted');
    expect(f.opts.resetAt).toBe(Date.parse('2026-12-01T00:00:00Z'));
    expect(nextMonthStart(Date.parse('2026-12-31T23:59:59Z'))).toBe(Date.parse('2027-01-01T00:00:00Z'));
  });

  it.each([
    [
      'claude 529',
      () => parseClaudeRun(run(sample('claude-error-529.json')), { model: 'sonnet' }, limits, now),
    ],
    [
      'claude 429 (not a usage limit)',
      () => parseClaudeRun(run(sample('claude-error-429.json')), { model: 'sonnet' }, limits, now),
    ],
    [
      'claude overloaded, no status',
      () =>
        parseClaudeRun(run(claudeError('API Error: 529 Overloaded', null)), { model: 'sonnet' }, limits, now),
    ],
    [
      'codex exceeded retry limit 429',
      () =>
        parseCodexRun(
          run(sample('codex-error-429.jsonl')),
          { model: 'gpt-5-codex' },
          { ...limits, pricing },
          now,
        ),
    ],
    [
      'codex high demand',
      () =>
        parseCodexRun(
          run(codexError('We are experiencing high demand, please try again later.')),
          { model: 'gpt-5-codex' },
          { ...limits, pricing },
          now,
        ),
    ],
  ])('%s is transient (retried), with the CLI message', (_what, parse) => {
    const f = failure(parse);
    expect(f.kind).toBe('transient');
    expect(f.message.length).toBeGreaterThan(10);
  });

  it('retries with exponential backoff and jitter (JOB_BACKOFF_MS, JOB_BACKOFF_JITTER)', () => {
    const c = loadConfig({ JOB_ATTEMPTS: '4', JOB_BACKOFF_MS: '1000', JOB_BACKOFF_JITTER: '0.25' });
    expect(defaultJobOptions(c)).toMatchObject({
      attempts: 4,
      backoff: { type: 'exponential', delay: 1000, jitter: 0.25 },
    });
    expect(defaultJobOptions(loadConfig({})).backoff).toEqual({
      type: 'exponential',
      delay: 2000,
      jitter: 0.5,
    });
    expect(() => loadConfig({ JOB_BACKOFF_JITTER: '2' })).toThrow(/JOB_BACKOFF_JITTER/);
  });

  it('reads the reset of older Claude Code ("Claude AI usage limit reached|<epoch s>")', () => {
    expect(parseResetTime('Claude AI usage limit reached|1795840757', now)).toBe(1795840757 * 1000);
  });
});

describe('the Agent SDK credit', () => {
  it("projects the exhaustion date from this month's burn rate", () => {
    const mid = Date.parse('2026-11-11T00:00:00Z'); // 10 days into November
    const v = creditView({ month: '2026-11', costMicros: 50_000_000, runs: 100 }, 200, 0.95, mid);
    // $5/day: the $150 left lasts 30 days, past the renewal on Dec 1: no exhaustion this month.
    expect(v).toMatchObject({
      spent_usd: 50,
      credit_usd: 200,
      remaining_usd: 150,
      used_share: 0.25,
      stop_share: 0.95,
    });
    expect(v.projected_exhaustion_at).toBeNull();
    expect(v.renews_at).toBe('2026-12-01T00:00:00.000Z');
    // $15/day: the $50 left lasts 3⅓ days.
    const fast = creditView({ month: '2026-11', costMicros: 150_000_000, runs: 300 }, 200, undefined, mid);
    expect(fast.projected_exhaustion_at).toBe(new Date(mid + (10 / 3) * 86_400_000).toISOString());
    expect(creditView({ month: '2026-11', costMicros: 1, runs: 1 }, undefined, undefined, mid)).toMatchObject(
      {
        credit_usd: null,
        remaining_usd: null,
        projected_exhaustion_at: null,
      },
    );
  });
});

describe('auth mode', () => {
  const dir = tempDir('auth-mode');
  const acc = (name: string, env: Record<string, string>) => ({
    provider: 'claude' as const,
    name,
    env,
    concurrency: 1,
  });
  it('tells a subscription login from an API key, and warns when a key overrides a login', () => {
    const login = join(dir, 'login');
    mkdirSync(login);
    writeFileSync(join(login, '.credentials.json'), '{}');
    const none = join(dir, 'none');
    mkdirSync(none);
    expect(accountAuth(acc('l', { CLAUDE_CONFIG_DIR: login }), {})).toEqual({ mode: 'subscription' });
    expect(accountAuth(acc('n', { CLAUDE_CONFIG_DIR: none }), {})).toEqual({ mode: 'unknown' });
    expect(accountAuth(acc('t', { CLAUDE_CONFIG_DIR: none }), { CLAUDE_CODE_OAUTH_TOKEN: 'x' })).toEqual({
      mode: 'subscription',
    });
    expect(accountAuth(acc('k', { CLAUDE_CONFIG_DIR: none }), { ANTHROPIC_API_KEY: 'sk' })).toEqual({
      mode: 'api_key',
    });
    const both = accountAuth(acc('b', { CLAUDE_CONFIG_DIR: login }), { ANTHROPIC_API_KEY: 'sk' });
    expect(both.mode).toBe('api_key');
    expect(both.warning).toMatch(/ANTHROPIC_API_KEY is set/);
    const codexHome = join(dir, 'codex');
    mkdirSync(codexHome);
    writeFileSync(
      join(codexHome, 'auth.json'),
      JSON.stringify({ OPENAI_API_KEY: null, tokens: { id_token: 'x' } }),
    );
    expect(
      accountAuth({ provider: 'codex', name: 'c', env: { CODEX_HOME: codexHome }, concurrency: 1 }, {}),
    ).toEqual({
      mode: 'subscription',
    });
  });
});
