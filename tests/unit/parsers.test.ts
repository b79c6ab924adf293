/** The CLI output parsers against the real CLIs' captured output (tests/fixtures/cli-samples). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger, createPricingStore } from '@cli-bridge/shared';
import { CliFailure, parseClaudeRun, parseCodexRun, type CliRun } from '@cli-bridge/worker';
import { ROOT } from '../helpers/env.js';

const sample = (name: string) => readFileSync(join(ROOT, 'tests/fixtures/cli-samples', name), 'utf8');
const run = (stdout: string, exitCode: number | null = 0, extra: Partial<CliRun> = {}): CliRun => ({
  end: 'exited',
  stdout,
  stderr: '',
  exitCode,
  exitSignal: null,
  durationMs: 42,
  ...extra,
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

describe('parseClaudeRun', () => {
  it('reads a success: text, usage, cost in micro-dollars, model', () => {
    const r = parseClaudeRun(run(sample('claude-json.json')), { model: 'sonnet' }, limits, now);
    expect(r).toEqual({
      text: 'Hello from mock-anthropic.',
      usage: {
        input_tokens: 11,
        output_tokens: 7,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
      cost_micros: 230,
      duration_ms: 42,
      model: 'claude-opus-4-8[1m]',
      provider: 'claude',
    });
  });

  it('reads the result line of a stream-json run', () => {
    const r = parseClaudeRun(
      run(sample('claude-stream-json-partial.jsonl')),
      { model: 'sonnet' },
      limits,
      now,
    );
    expect(r.text).toBe('Hello from mock-anthropic.');
  });

  it.each([
    ['claude-error-429.json', 'transient'],
    ['claude-error-529.json', 'transient'],
    ['claude-error-500.json', 'transient'],
    ['claude-error-401.json', 'fatal'],
    ['claude-usage-limit-apikey.json', 'transient'],
    ['claude-max-turns.json', 'fatal'],
  ])('%s is a %s failure carrying the CLI message', (file, kind) => {
    const f = failure(() => parseClaudeRun(run(sample(file), 1), { model: 'sonnet' }, limits, now));
    expect(f.kind).toBe(kind);
    expect(f.message.length).toBeGreaterThan(5);
  });

  it('takes the message of an error result without a `result` field from `errors`', () => {
    const f = failure(() =>
      parseClaudeRun(run(sample('claude-max-turns.json'), 1), { model: 'sonnet' }, limits, now),
    );
    expect(f.message).toBe('Reached maximum number of turns (1)');
    expect(f.opts.usage?.output_tokens).toBe(7); // what the run consumed is kept for settlement
  });

  it('recognises the subscription usage limit and its reset time', () => {
    const f = failure(() =>
      parseClaudeRun(run(sample('claude-usage-limit-oauth.json'), 1), { model: 'sonnet' }, limits, now),
    );
    expect(f.kind).toBe('usage_limit');
    expect(f.type).toBe('provider_exhausted');
    expect(f.opts.resetAt).toBe(Date.parse('2026-11-28T04:39:00Z'));
    const s = failure(() =>
      parseClaudeRun(
        run(sample('claude-usage-limit-oauth-stream.jsonl'), 1),
        { model: 'sonnet' },
        limits,
        now,
      ),
    );
    expect(s.kind).toBe('usage_limit');
  });

  it('fails on unparsable output, exit codes, timeouts, oversize and spawn errors', () => {
    expect(failure(() => parseClaudeRun(run('not json'), { model: 's' }, limits, now)).message).toMatch(
      /unparsable/,
    );
    expect(
      failure(() => parseClaudeRun(run('', 1, { stderr: 'boom\n' }), { model: 's' }, limits, now)).message,
    ).toMatch(/exit code 1\): boom/);
    expect(
      failure(() => parseClaudeRun(run('', null, { end: 'timeout' }), { model: 's' }, limits, now)).type,
    ).toBe('timeout');
    expect(
      failure(() => parseClaudeRun(run('', null, { end: 'oversize' }), { model: 's' }, limits, now)).message,
    ).toMatch(/more than 1000 bytes/);
    const spawn = failure(() =>
      parseClaudeRun(
        run('', null, { end: 'spawn_failed', spawnError: new Error('ENOENT') }),
        { model: 's' },
        limits,
        now,
      ),
    );
    expect(spawn.type).toBe('unavailable');
  });

  it('never returns success when the result says is_error even with exit code 0', () => {
    expect(
      failure(() => parseClaudeRun(run(sample('claude-error-401.json'), 0), { model: 's' }, limits, now))
        .kind,
    ).toBe('fatal');
  });
});

describe('parseCodexRun', () => {
  const opts = { ...limits, pricing };

  it('reads a success, keeping cached tokens apart from input', () => {
    const r = parseCodexRun(run(sample('codex-json.jsonl')), { model: 'gpt-5-codex' }, opts, now);
    expect(r.text).toBe('Hello from mock-openai.');
    expect(r.usage).toEqual({
      input_tokens: 13,
      output_tokens: 5,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    });
    // 13 × 1.25 + 5 × 10 = 66.25 micro-dollars → 66
    expect(r.cost_micros).toBe(66);
  });

  it('treats `error` lines before a successful turn as notices', () => {
    const withNotice = [
      '{"type":"thread.started","thread_id":"x"}',
      '{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Model metadata for `gpt-5-codex` not found."}}',
      '{"type":"error","message":"reconnecting..."}',
      ...sample('codex-json.jsonl').trim().split('\n').slice(1),
    ].join('\n');
    expect(parseCodexRun(run(withNotice), { model: 'gpt-5-codex' }, opts, now).text).toBe(
      'Hello from mock-openai.',
    );
  });

  it.each([
    ['codex-error-429.jsonl', 'transient'],
    ['codex-error-500.jsonl', 'transient'],
    ['codex-error-failed.jsonl', 'transient'],
    ['codex-error-401.jsonl', 'fatal'],
  ])('%s is a %s failure', (file, kind) => {
    expect(failure(() => parseCodexRun(run(sample(file), 1), { model: 'gpt-5-codex' }, opts, now)).kind).toBe(
      kind,
    );
  });

  it('recognises the usage limit (curly apostrophe) and its reset time', () => {
    const f = failure(() =>
      parseCodexRun(run(sample('codex-error-usage_limit.jsonl'), 1), { model: 'gpt-5-codex' }, opts, now),
    );
    expect(f.kind).toBe('usage_limit');
    expect(f.opts.resetAt).toBe(Date.parse('2026-11-28T04:39:00Z'));
  });

  it('fails on a non-zero exit without events, and on no answer', () => {
    expect(
      failure(() =>
        parseCodexRun(
          run('', 2, { stderr: 'error: unexpected argument' }),
          { model: 'gpt-5-codex' },
          opts,
          now,
        ),
      ).message,
    ).toMatch(/unexpected argument/);
    expect(failure(() => parseCodexRun(run('garbage'), { model: 'gpt-5-codex' }, opts, now)).message).toMatch(
      /unparsable/,
    );
    expect(
      failure(() => parseCodexRun(run('{"type":"turn.started"}'), { model: 'gpt-5-codex' }, opts, now))
        .message,
    ).toMatch(/without an answer/);
  });
});
