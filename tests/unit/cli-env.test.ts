import { describe, expect, it } from 'vitest';
import { buildCliEnv } from '@cli-bridge/worker';

describe('buildCliEnv', () => {
  const base = {
    PATH: '/usr/bin',
    HOME: '/home/u',
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    TZ: 'Europe/Paris',
    ANTHROPIC_BASE_URL: 'http://x',
    CLAUDE_CONFIG_DIR: '/c',
    OPENAI_API_KEY: 'o',
    CODEX_HOME: '/h',
    BRIDGE_ADMIN_KEY: 'secret',
    REDIS_URL: 'redis://secret',
    REDIS_PREFIX: 'p',
    AWS_SECRET_ACCESS_KEY: 'aws',
    NODE_OPTIONS: '--require evil',
    MY_TOOL_VAR: 'm',
  };

  it("keeps only PATH, HOME, locale, the CLIs' own prefixes; forces TZ=UTC", () => {
    expect(buildCliEnv({ base, passthrough: [] })).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/u',
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      TZ: 'UTC',
      ANTHROPIC_BASE_URL: 'http://x',
      CLAUDE_CONFIG_DIR: '/c',
      OPENAI_API_KEY: 'o',
      CODEX_HOME: '/h',
    });
  });

  it('adds CLI_ENV_PASSTHROUGH names but never the bridge secrets', () => {
    const env = buildCliEnv({
      base,
      passthrough: ['MY_TOOL_VAR', 'BRIDGE_ADMIN_KEY', 'REDIS_URL', 'NODE_OPTIONS'],
    });
    expect(env.MY_TOOL_VAR).toBe('m');
    expect(env.BRIDGE_ADMIN_KEY).toBeUndefined();
    expect(env.REDIS_URL).toBeUndefined();
    expect(env.NODE_OPTIONS).toBeUndefined();
  });

  it('applies provider settings last', () => {
    expect(
      buildCliEnv({ base, passthrough: [], extra: { DISABLE_AUTOUPDATER: '1' } }).DISABLE_AUTOUPDATER,
    ).toBe('1');
  });
});
