/**
 * Test configuration: a unique Redis prefix per test file (so files run in parallel on one
 * server), fake CLIs, fast heartbeats, quiet logs. The benches use this file too (compiled, see
 * tsconfig.build.json here): `uniquePrefix`, `bridgeBaseEnv` and the paths.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig, type Config } from '@cli-bridge/shared';

export const ROOT = resolve(import.meta.dirname, '../..');
export const FAKE_CLAUDE = join(ROOT, 'tests/fixtures/bin/claude.mjs');
export const FAKE_CODEX = join(ROOT, 'tests/fixtures/bin/codex.mjs');
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const ADMIN_KEY = 'test-admin-key-0123456789';

/** `<kind>-<name>-<8 hex>`: the Redis key prefix of one test file (or one bench run). */
export function uniquePrefix(name: string, kind = 'test'): string {
  return `${kind}-${name}-${randomBytes(4).toString('hex')}`;
}

export function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `cb-${name}-`));
}

/**
 * What every bridge process the tests or the benches start gets: this Redis under `prefix`, the
 * API on any free loopback port, the fake CLIs, this checkout's Codex prices, quick kills.
 */
export function bridgeBaseEnv(prefix: string): Record<string, string> {
  return {
    REDIS_URL,
    REDIS_PREFIX: prefix,
    HOST: '127.0.0.1',
    PORT: '0',
    CLAUDE_BIN: FAKE_CLAUDE,
    CODEX_BIN: FAKE_CODEX,
    CODEX_PRICING_FILE: join(ROOT, 'codex-pricing.json'),
    KILL_GRACE_MS: '500',
    SHUTDOWN_TIMEOUT_MS: '5000',
  };
}

/** Environment for bridge processes under test (string values, as in process.env). */
export function testEnv(prefix: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    ...bridgeBaseEnv(prefix),
    BRIDGE_ADMIN_KEY: ADMIN_KEY,
    WORKER_HEARTBEAT_MS: '500',
    // The warm pool starts CLIs nobody asked for yet: off, except in the tests about it.
    WARM_POOL_MAX: '0',
    JOB_BACKOFF_MS: '50',
    CLI_ENV_PASSTHROUGH: 'FAKE_CLI_RECORD_DIR,FAKE_CLI_MODE',
    // Tests send many requests from one address; the rate-limit test turns these back on.
    RATE_LIMIT_MAX_REQUESTS: '0',
    ADMIN_RATE_LIMIT_MAX: '0',
    AUTH_FAILURE_LIMIT: '0',
    ...overrides,
  };
}

export function testConfig(prefix: string, overrides: Record<string, string> = {}): Config {
  return loadConfig(testEnv(prefix, overrides));
}

/** A TCP port free on 127.0.0.1 right now (for a private Redis or an API under test). */
export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
