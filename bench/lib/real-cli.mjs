// Where the real `claude` and `codex` CLIs are (devDependencies of tests/), and the scratch HOME /
// CODEX_HOME each needs to run offline against bench/lib/mock-model.mjs. A small port of
// tests/helpers/real-cli.ts (see there for the reasons behind each setting).
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT } from './common.mjs';

const require = createRequire(join(ROOT, 'tests', 'package.json'));

/** The native claude binary from the platform package (no postinstall needed). glibc only. */
export function claudeBin() {
  const pkg = `@anthropic-ai/claude-code-${process.platform}-${process.arch}`;
  try {
    const native = join(dirname(require.resolve(`${pkg}/package.json`)), 'claude');
    accessSync(native, constants.X_OK);
    return native;
  } catch {
    // fall back to a post-installed wrapper
  }
  const wrapper = join(
    dirname(require.resolve('@anthropic-ai/claude-code/package.json')),
    'bin',
    'claude.exe',
  );
  if (existsSync(wrapper) && statSync(wrapper).size > 1_000_000) return wrapper;
  throw new Error(`claude native binary not found (${pkg})`);
}

/** codex's npm launcher (`#!/usr/bin/env node`, execve()s the native binary). */
export function codexBin() {
  return join(dirname(require.resolve('@openai/codex/package.json')), 'bin', 'codex.js');
}

export async function scratchHome(name) {
  const root = await mkdtemp(join(tmpdir(), `cli-bridge-bench-${name}-`));
  const home = join(root, 'home');
  await mkdir(home);
  return { root, home };
}

/** Env a claude run needs to talk to the mock (the bridge passes ANTHROPIC_* through). */
export function claudeMockEnv(mockUrl) {
  return { ANTHROPIC_BASE_URL: mockUrl, ANTHROPIC_API_KEY: 'dummy' };
}

/**
 * Writes <home>/.codex/config.toml with a `mock` provider at `mockUrl`, and a one-entry model
 * catalog for each of `models` (codex 0.171.0's built-in catalog lacks gpt-5-codex). Returns
 * the env codex needs (CODEX_HOME, and the provider's key variable MOCK_API_KEY).
 */
export async function prepareCodexHome(home, mockUrl, models) {
  const codexHome = join(home, '.codex');
  await mkdir(codexHome, { recursive: true });
  const catalog = join(codexHome, 'models.json');
  await writeFile(
    join(codexHome, 'config.toml'),
    [
      'model_provider = "mock"',
      `model_catalog_json = ${JSON.stringify(catalog)}`,
      '',
      '[model_providers.mock]',
      'name = "mock"',
      `base_url = ${JSON.stringify(`${mockUrl}/v1`)}`,
      'wire_api = "responses"',
      'env_key = "MOCK_API_KEY"',
      '',
    ].join('\n'),
  );
  await writeFile(
    catalog,
    JSON.stringify({
      models: models.map((slug, i) => ({
        slug,
        display_name: slug,
        base_instructions: 'You are Codex, a coding agent.',
        supported_reasoning_levels: [],
        shell_type: 'shell_command',
        visibility: 'list',
        supported_in_api: true,
        priority: i + 1,
        support_verbosity: false,
        truncation_policy: { mode: 'tokens', limit: 10000 },
        experimental_supported_tools: [],
      })),
    }),
  );
  return { CODEX_HOME: codexHome, MOCK_API_KEY: 'dummy' };
}
