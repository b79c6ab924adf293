import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@cli-bridge/shared';
import { ROOT } from '../helpers/env.js';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      PORT: 3456,
      DATA_DIR: './data',
      CORS_ORIGINS: [],
      RATE_LIMIT_WINDOW_MS: 60000,
      RATE_LIMIT_MAX_REQUESTS: 30,
      CLAUDE_TIMEOUT_MS: 120000,
      CLAUDE_MAX_BUFFER_BYTES: 10485760,
      CODEX_TIMEOUT_MS: 180000,
      CODEX_MAX_BUFFER_BYTES: 10485760,
      REDIS_URL: 'redis://127.0.0.1:6379',
      REDIS_PREFIX: 'bridge',
      WORKER_CONCURRENCY_CLAUDE: 2,
      WORKER_CONCURRENCY_CODEX: 2,
      CLAUDE_BIN: 'claude',
      CODEX_BIN: 'codex',
    });
    expect(c.WORKER_PROVIDERS).toBeUndefined(); // auto-detect
  });

  it('treats empty values (NAME= in .env) as unset', () => {
    const c = loadConfig({ NODE_ENV: '', LOG_LEVEL: ' ', BRIDGE_ADMIN_KEY: '', PORT: '' });
    expect(c).toMatchObject({ NODE_ENV: 'development', LOG_LEVEL: 'info', PORT: 3456 });
    expect(c.BRIDGE_ADMIN_KEY).toBeUndefined();
  });

  it('names the variable in the message', () => {
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(/PORT must be an integer 0-65535/);
    expect(() => loadConfig({ WORKER_PROVIDERS: 'claude,gemini' })).toThrow(/WORKER_PROVIDERS/);
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
    expect(() => loadConfig({ CLAUDE_DEFAULT_MODEL: '--evil' })).toThrow(/CLAUDE_DEFAULT_MODEL/);
  });

  it('reports every problem at once', () => {
    try {
      loadConfig({ PORT: '-1', CLAUDE_TIMEOUT_MS: 'soon' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems).toHaveLength(2);
    }
  });

  it('requires BRIDGE_ADMIN_KEY in production for the API only (workers never use it)', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' }, { role: 'api' })).toThrow(
      /BRIDGE_ADMIN_KEY is required in production/,
    );
    expect(loadConfig({ NODE_ENV: 'production' }, { role: 'worker' }).BRIDGE_ADMIN_KEY).toBeUndefined();
    const key = 'x'.repeat(32);
    expect(
      loadConfig({ NODE_ENV: 'production', BRIDGE_ADMIN_KEY: key }, { role: 'api' }).BRIDGE_ADMIN_KEY,
    ).toBe(key);
  });

  it('makes the processes exit 1 with the message on bad config (built entry points)', () => {
    for (const entry of ['api/dist/main.js', 'worker/dist/main.js']) {
      const r = spawnSync(process.execPath, [join(ROOT, entry)], {
        env: { PATH: process.env.PATH, PORT: 'abc' },
        encoding: 'utf8',
        timeout: 10_000,
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('PORT must be an integer 0-65535');
    }
  });
});
