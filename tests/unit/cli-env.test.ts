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

  const always = { PATH: '/usr/bin', HOME: '/home/u', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', TZ: 'UTC' };

  it("claude: keeps only PATH, HOME, locale and Claude's own prefixes; forces TZ=UTC", () => {
    expect(buildCliEnv({ provider: 'claude', base, passthrough: [] })).toEqual({
      ...always,
      ANTHROPIC_BASE_URL: 'http://x',
      CLAUDE_CONFIG_DIR: '/c',
    });
  });

  it("codex: keeps only PATH, HOME, locale and Codex's own prefixes; forces TZ=UTC", () => {
    expect(buildCliEnv({ provider: 'codex', base, passthrough: [] })).toEqual({
      ...always,
      OPENAI_API_KEY: 'o',
      CODEX_HOME: '/h',
    });
  });

  it("passes CLI_ENV_PASSTHROUGH names to either CLI, even another provider's variable", () => {
    const env = buildCliEnv({ provider: 'claude', base, passthrough: ['OPENAI_API_KEY'] });
    expect(env.OPENAI_API_KEY).toBe('o');
    expect(env.CODEX_HOME).toBeUndefined();
  });

  it('refuses a provider it does not know instead of passing everything', () => {
    expect(() => buildCliEnv({ provider: 'gemini' as never, base, passthrough: [] })).toThrow(
      /unknown provider gemini/,
    );
  });

  it('adds CLI_ENV_PASSTHROUGH names but never the bridge secrets', () => {
    const env = buildCliEnv({
      provider: 'codex',
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
      buildCliEnv({ provider: 'claude', base, passthrough: [], extra: { DISABLE_AUTOUPDATER: '1' } })
        .DISABLE_AUTOUPDATER,
    ).toBe('1');
  });
});
