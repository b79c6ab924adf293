// Helpers to run the REAL `claude` and `codex` CLIs (pinned in tests/real-clis, installed on
// demand) offline, against tests/helpers/mock-model-server.ts: where their executables are, a
// scratch HOME per run, and the exact environment each needs to start non-interactively with no
// network. The cold-start bench uses them too (compiled, see tsconfig.build.json here).
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ensureRealClis, REAL_CLIS_DIR } from './install-clis.js';
import type { Json } from './mock-model-server.js';

// The CLIs are installed on demand, apart from the bridge's own dependencies (install-clis.ts).
const require = createRequire(join(REAL_CLIS_DIR, 'package.json'));

/**
 * Absolute path of the native `claude` binary.
 *
 * @anthropic-ai/claude-code's `bin/claude.exe` is a 500-byte shell stub until its postinstall
 * (`node install.cjs`) hard-links the native binary over it; npm may block that script
 * (`npm install-scripts`, `--ignore-scripts`). The binary itself ships, executable, in the
 * platform optionalDependency (e.g. @anthropic-ai/claude-code-linux-x64/claude), so we take it
 * from there and need no install script at all.
 */
export function claudeBin(): string {
  ensureRealClis();
  const musl = process.platform === 'linux' && isMusl() ? '-musl' : '';
  const pkg = `@anthropic-ai/claude-code-${process.platform}-${process.arch}${musl}`;
  const exe = process.platform === 'win32' ? 'claude.exe' : 'claude';
  try {
    const native = join(dirname(require.resolve(`${pkg}/package.json`)), exe);
    if (isExecutable(native)) return native;
  } catch {
    /* platform package missing: try the wrapper below */
  }
  // Postinstall ran: the wrapper's bin is the real binary (the stub is tiny).
  const wrapper = join(
    dirname(require.resolve('@anthropic-ai/claude-code/package.json')),
    'bin',
    'claude.exe',
  );
  if (existsSync(wrapper) && statSync(wrapper).size > 1_000_000) return wrapper;
  throw new Error(`claude native binary not found: neither ${pkg} nor a post-installed ${wrapper}`);
}

/**
 * Absolute path of `codex`: the npm launcher bin/codex.js (a `#!/usr/bin/env node` script that
 * execve()s the native binary from @openai/codex-<platform>). @openai/codex has no install script.
 */
export function codexBin(): string {
  ensureRealClis();
  return join(dirname(require.resolve('@openai/codex/package.json')), 'bin', 'codex.js');
}

/**
 * Bridge settings for a harness whose workers run the real CLIs: their executables, no retries
 * inside the CLI or of the job (a mock's answer does not get better on a second try).
 */
export function realCliBridgeEnv(): Record<string, string> {
  return { CLAUDE_BIN: claudeBin(), CODEX_BIN: codexBin(), CLAUDE_CODE_MAX_RETRIES: '0', JOB_ATTEMPTS: '1' };
}

export interface CliSandbox {
  /** Scratch root holding home/ and cwd/; removed by cleanup(). */
  root: string;
  home: string;
  /** A fresh, empty working directory for the CLI. */
  cwd: string;
  /** The complete environment for the child (nothing else is inherited, see baseEnv). */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

export interface CodexSandbox extends CliSandbox {
  codexHome: string;
}

/** What points `claude` at the mock (a worker passes ANTHROPIC_* through to the CLI). */
export function claudeMockEnv(mockUrl: string): Record<string, string> {
  return { ANTHROPIC_BASE_URL: mockUrl, ANTHROPIC_API_KEY: 'dummy' };
}

/** Scratch HOME + env for `claude -p` talking to the mock at `mockUrl` (http://127.0.0.1:PORT). */
export async function prepareClaude(mockUrl: string): Promise<CliSandbox> {
  const s = await createScratch('claude');
  return {
    ...s,
    env: {
      ...baseEnv(s.home),
      ...claudeMockEnv(mockUrl),
      // Without this, claude resolves api.anthropic.com (telemetry/event logging) on every run.
      // It also covers the auto-updater, error reporting and feedback; the three below are the
      // individual switches, set too so a future default change cannot reopen one of them.
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
      DISABLE_TELEMETRY: '1',
      DISABLE_ERROR_REPORTING: '1',
    },
  };
}

export interface PrepareCodexOptions {
  /**
   * Model slugs to declare in a minimal `model_catalog_json`. codex 0.171.0's built-in catalog
   * has no `gpt-5-codex`, so without this every run starts with a non-fatal
   * `{"type":"item.completed","item":{"type":"error","message":"Model metadata for ... not found ..."}}`.
   */
  declareModels?: string[];
}

/** Scratch HOME + CODEX_HOME (config.toml with provider `mock`) + env for `codex exec`. */
export async function prepareCodex(mockUrl: string, opts: PrepareCodexOptions = {}): Promise<CodexSandbox> {
  const s = await createScratch('codex');
  const codexHome = join(s.home, '.codex');
  const env = await writeCodexHome(codexHome, mockUrl, opts.declareModels);
  return { ...s, codexHome, env: { ...baseEnv(s.home), ...env } };
}

/**
 * Writes `codexHome`/config.toml with the provider `mock` at `mockUrl` (and, for `declareModels`,
 * a model catalog); returns what points codex at it: CODEX_HOME and the provider's key variable.
 */
export async function writeCodexHome(
  codexHome: string,
  mockUrl: string,
  declareModels: string[] = [],
): Promise<Record<string, string>> {
  await mkdir(codexHome, { recursive: true });
  const lines = [
    'model_provider = "mock"',
    ...(declareModels.length
      ? [`model_catalog_json = ${JSON.stringify(join(codexHome, 'models.json'))}`]
      : []),
    '',
    '[model_providers.mock]',
    'name = "mock"',
    `base_url = ${JSON.stringify(`${mockUrl}/v1`)}`,
    'wire_api = "responses"',
    'env_key = "MOCK_API_KEY"',
    '',
  ];
  await writeFile(join(codexHome, 'config.toml'), lines.join('\n'));
  if (declareModels.length) {
    // The fewest fields codex 0.171.0 accepts for a catalog entry (found by trial).
    const models = declareModels.map((slug, i) => ({
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
    }));
    await writeFile(join(codexHome, 'models.json'), JSON.stringify({ models }));
  }
  return { CODEX_HOME: codexHome, MOCK_API_KEY: 'dummy' };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit, in ms. */
  ms: number;
  /** When each stdout line ended, in ms after spawn (to see whether output streamed). */
  lineTimes: number[];
}

/** Spawn `bin args` (no shell), write `stdin` and close it, collect output; kill after timeoutMs. */
export function runCli(
  bin: string,
  args: string[],
  o: { env: Record<string, string>; cwd: string; stdin?: string; timeoutMs?: number },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(bin, args, { cwd: o.cwd, env: o.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const lineTimes: number[] = [];
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      const at = performance.now() - t0;
      for (let i = d.indexOf('\n'); i >= 0; i = d.indexOf('\n', i + 1)) lineTimes.push(at);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 25_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Math.round(performance.now() - t0), lineTimes });
    });
    child.stdin.on('error', () => {}); // the CLI may exit before reading all of stdin
    child.stdin.end(o.stdin ?? '');
  });
}

/** Parse JSON-lines output, ignoring blank lines. */
export function jsonLines(text: string): Json[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

// ---- internals -------------------------------------------------------------------------------

// A minimal environment, not process.env: a developer's ANTHROPIC_*/OPENAI_*/CLAUDE_CODE_*,
// proxy or CI variables must not change what the CLIs do in tests.
function baseEnv(home: string): Record<string, string> {
  const env: Record<string, string> = {
    HOME: home,
    // node first: codex's launcher is a `#!/usr/bin/env node` script.
    PATH: [dirname(process.execPath), process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'].join(':'),
    LANG: process.env.LANG ?? 'C.UTF-8',
  };
  for (const k of ['TMPDIR', 'TZ'] as const) if (process.env[k]) env[k] = process.env[k]!;
  return env;
}

/** A fresh scratch root (`cli-bridge-<name>-…` in the temp dir) with an empty home/ and cwd/. */
export async function createScratch(name: string): Promise<Omit<CliSandbox, 'env'>> {
  const root = await mkdtemp(join(tmpdir(), `cli-bridge-${name}-`));
  const home = join(root, 'home');
  const cwd = join(root, 'cwd');
  await mkdir(home);
  await mkdir(cwd);
  return { root, home, cwd, cleanup: () => rm(root, { recursive: true, force: true }) };
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// Same test as claude-code's install.cjs: glibc builds report glibcVersionRuntime, musl ones don't.
function isMusl(): boolean {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime === undefined;
}
