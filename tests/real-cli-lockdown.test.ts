/**
 * Each lockdown flag of the CLI invocations, observed by what it prevents, with the REAL claude
 * and codex CLIs (pinned devDependencies) against the loopback mock model server.
 *
 * Every test has two halves, each in a sandbox (HOME, cwd) of its own with the same planted
 * configuration:
 * - a control: the adapter's own invocation (its `prepare()`: argv, stdin, environment) run
 *   directly, MINUS the flag under test, shows the effect happening. This proves the observation
 *   works with this CLI version, so the other half cannot pass vacuously;
 * - the real thing: the flag in place, and no effect. Where the effect can be planted in the
 *   worker's HOME this goes through the whole bridge (HTTP in, HTTP out, a worker running the
 *   CLI); effects that need files in the CLI's cwd (project settings) run the adapter's
 *   invocation directly, since a worker always starts the CLI in a fresh empty directory.
 *
 * Dropping a flag from the claude or codex adapter's argv makes the second half fail. What each
 * flag does was found by experiment with Claude Code 2.1.197 and Codex 0.171.0; what was seen is
 * written next to each test.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, createPricingStore, type GenerateJobData, type Provider } from '@cli-bridge/shared';
import { buildCliEnv, createClaudeAdapter, createCodexAdapter, type CliAdapter } from '@cli-bridge/worker';
import { ROOT, tempDir } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import {
  startMockModelServer,
  toolCallThenEcho,
  type Json,
  type MockModelServer,
  type Script,
} from './helpers/mock-model-server.js';
import {
  claudeBin,
  codexBin,
  jsonLines,
  prepareClaude,
  prepareCodex,
  realCliBridgeEnv,
  runCli,
  type CliSandbox,
  type CodexSandbox,
} from './helpers/real-cli.js';

const CODEX_MODEL = 'gpt-5-codex';
const SYSTEM_PROMPT = 'You are a terse bridge bot.';
/** A file outside every CLI's cwd that no run may read, and the MCP server script. */
const fixtures = tempDir('lockdown');
const SECRET = 'LOCKDOWN-SECRET-7f3a';
const secretFile = join(fixtures, 'secret.txt');
const mcpScript = join(fixtures, 'mcp-probe-server.mjs');

let mock: MockModelServer;
const sandboxes: CliSandbox[] = [];

// ---- a recording HTTPS proxy: every CONNECT it is asked for, always refused -----------------

const proxied: string[] = [];
const proxySockets = new Set<Socket>();
const proxy = createServer((socket) => {
  proxySockets.add(socket);
  socket.on('close', () => proxySockets.delete(socket));
  socket.on('error', () => {});
  socket.once('data', (d) => {
    proxied.push(d.toString('latin1').split('\r\n')[0]!);
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
  });
});
let proxyUrl = '';

// ---- the planted configuration -------------------------------------------------------------

/**
 * A minimal stdio MCP server: it records that it was started (a file named after it), and
 * offers one tool, `probe_tool`. Planted in ~/.claude.json (user scope) and .mcp.json (project).
 */
const MCP_SERVER = `
import fs from 'node:fs';
import { createInterface } from 'node:readline';
fs.writeFileSync(process.argv[2], 'started');
const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  let m;
  try { m = JSON.parse(line); } catch { return; }
  if (m.id === undefined) return;
  if (m.method === 'initialize')
    send({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params?.protocolVersion ?? '2024-11-05',
      capabilities: { tools: {} }, serverInfo: { name: 'probe', version: '1.0.0' } } });
  else if (m.method === 'tools/list')
    send({ jsonrpc: '2.0', id: m.id, result: { tools: [{ name: 'probe_tool', description: 'probe',
      inputSchema: { type: 'object', properties: {} } }] } });
  else send({ jsonrpc: '2.0', id: m.id, result: {} });
});
`;

/** Where a sandbox's planted hooks, MCP servers and tool calls leave their traces. */
const markersOf = (sb: CliSandbox) => join(sb.root, 'markers');
const planted = (sb: CliSandbox) => (existsSync(markersOf(sb)) ? readdirSync(markersOf(sb)).sort() : []);

/** Settings of one scope: an env variable the CLI sends as a header, and two command hooks. */
function claudeSettings(sb: CliSandbox, scope: string) {
  const touch = (what: string) => [
    { hooks: [{ type: 'command', command: `touch ${join(markersOf(sb), `${what}-${scope}`)}` }] },
  ];
  return {
    env: { ANTHROPIC_CUSTOM_HEADERS: `x-lockdown-probe: ${scope}-settings` },
    hooks: { SessionStart: touch('hook-session'), UserPromptSubmit: touch('hook-prompt') },
  };
}
const mcpServers = (sb: CliSandbox, scope: string) => ({
  mcpServers: {
    [`probe_${scope}`]: {
      type: 'stdio',
      command: process.execPath,
      args: [mcpScript, join(markersOf(sb), `mcp-${scope}`)],
    },
  },
});

/** A Claude sandbox with user-scope settings and MCP server in HOME (a worker box's own login
 * could carry them), and, with `project`, project and local scope ones in its cwd. */
async function claudeSandbox(o: { project?: boolean } = {}) {
  const sb = await sandbox(prepareClaude(mock.url));
  await mkdir(join(sb.home, '.claude'), { recursive: true });
  await writeFile(join(sb.home, '.claude', 'settings.json'), JSON.stringify(claudeSettings(sb, 'user')));
  await writeFile(join(sb.home, '.claude.json'), JSON.stringify(mcpServers(sb, 'user')));
  if (o.project) {
    await mkdir(join(sb.cwd, '.claude'));
    await writeFile(join(sb.cwd, '.claude', 'settings.json'), JSON.stringify(claudeSettings(sb, 'project')));
    await writeFile(
      join(sb.cwd, '.claude', 'settings.local.json'),
      JSON.stringify(claudeSettings(sb, 'local')),
    );
    await writeFile(join(sb.cwd, '.mcp.json'), JSON.stringify(mcpServers(sb, 'project')));
  }
  return sb;
}

/**
 * A Codex sandbox whose CODEX_HOME is as permissive as a box could have it: config.toml asking
 * for NO sandbox, and a model catalog that gives the model codex's apply_patch tool (a freeform
 * tool that writes files without any shell). HTTPS goes to the recording proxy.
 */
async function codexSandbox() {
  const sb = await sandbox(prepareCodex(mock.url, { declareModels: [CODEX_MODEL] }));
  const config = join(sb.codexHome, 'config.toml');
  await writeFile(config, `sandbox_mode = "danger-full-access"\n${readFileSync(config, 'utf8')}`);
  const catalog = join(sb.codexHome, 'models.json');
  const models = JSON.parse(readFileSync(catalog, 'utf8'));
  for (const m of models.models) m.apply_patch_tool_type = 'freeform';
  await writeFile(catalog, JSON.stringify(models));
  // A worker passes these on when CLI_ENV_PASSTHROUGH names them; so does runDirect.
  Object.assign(sb.env, { HTTPS_PROXY: proxyUrl, NO_PROXY: '127.0.0.1,localhost' });
  return sb;
}
const codexPassthrough = ['MOCK_API_KEY', 'HTTPS_PROXY', 'NO_PROXY'];

async function sandbox<T extends CliSandbox>(made: Promise<T>): Promise<T> {
  const sb = await made;
  sandboxes.push(sb);
  await mkdir(markersOf(sb), { recursive: true });
  return sb;
}

// ---- running the adapters' invocations directly --------------------------------------------

const adapters = {
  claude: createClaudeAdapter({
    bin: claudeBin(),
    timeoutMs: 30_000,
    maxBufferBytes: 10 << 20,
    maxRetries: 0,
  }),
  codex: createCodexAdapter({
    bin: codexBin(),
    timeoutMs: 30_000,
    maxBufferBytes: 10 << 20,
    pricing: createPricingStore({
      file: join(ROOT, 'codex-pricing.json'),
      logger: createLogger({ level: 'silent', name: 'test' }),
    }),
  }),
} satisfies Record<Provider, CliAdapter>;

/** `args` without `flag`, or without the pair `flag value` when a value is given. */
function without(args: string[], flag: string, value?: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === flag && (value === undefined || args[i + 1] === value)) {
      if (value !== undefined) i++;
      continue;
    }
    out.push(args[i]!);
  }
  return out;
}
const asIs = (args: string[]) => args;

/**
 * Runs the adapter's invocation, its argv passed through `edit`, in `sb.cwd`, with the worker's
 * environment filter (buildCliEnv) applied to the sandbox's environment, as a worker would.
 */
async function runDirect(
  provider: Provider,
  sb: CliSandbox,
  userPrompt: string,
  edit: (args: string[]) => string[],
) {
  const data: GenerateJobData = {
    v: 1,
    provider,
    keyName: 'direct',
    systemPrompt: SYSTEM_PROMPT,
    userPrompt,
    model: provider === 'claude' ? 'sonnet' : CODEX_MODEL,
    stream: false,
    submittedAt: Date.now(),
  };
  const inv = await adapters[provider].prepare(data, { workDir: sb.cwd, privateDir: sb.root });
  const passthrough = provider === 'codex' ? codexPassthrough : [];
  const env = buildCliEnv({ provider, base: sb.env, passthrough, extra: inv.env });
  const run = await runCli(inv.bin, edit(inv.args), {
    cwd: sb.cwd,
    env,
    stdin: inv.stdin,
    timeoutMs: 40_000,
  });
  expect(run.code, run.stderr).toBe(0);
  return run;
}

const claudeResult = (stdout: string) => String(jsonLines(stdout).at(-1)?.result);
const codexMessage = (stdout: string) =>
  String(
    stdout
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l))
      .findLast((e: Json) => e.type === 'item.completed' && e.item.type === 'agent_message')?.item.text,
  );

/** Every file under `dir` (recursively), relative to it; [] if it does not exist. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

const probeHeaders = () =>
  mock
    .modelRequests('anthropic')
    .flatMap((r) => Object.keys(r.headers).filter((k) => k.startsWith('x-lockdown')));
const toolNames = (api: 'anthropic' | 'openai') =>
  mock.modelRequests(api).flatMap((r) => (r.body?.tools ?? []).map((t: Json) => String(t.name)));

/** Forgets the model requests and the proxy's log (also between the halves of a test). */
function forgetRequests() {
  mock.requests.length = 0;
  proxied.length = 0;
}

// ---- the bridge ----------------------------------------------------------------------------

const h = createHarness('lockdown', realCliBridgeEnv());
let url = '';
let key = '';
/** The workers' HOMEs, planted like the sandboxes of the direct runs. */
let claudeBox: CliSandbox;
let codexBox: CodexSandbox;

/** One request through the bridge; returns the answer's text. */
async function viaBridge(route: '/generate' | '/generate-codex', userPrompt: string, script?: Script) {
  mock.setScript(script);
  const res = await postJson(
    `${url}${route}`,
    { systemPrompt: SYSTEM_PROMPT, userPrompt },
    { authorization: `Bearer ${key}` },
  );
  expect(res.status, res.text).toBe(200);
  return String(res.json.content[0].text);
}

beforeAll(async () => {
  mock = await startMockModelServer();
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
  await writeFile(secretFile, SECRET);
  await writeFile(mcpScript, MCP_SERVER);

  claudeBox = await claudeSandbox();
  codexBox = await codexSandbox();
  url = (await h.startApi()).url;
  await h.startWorker(['claude'], claudeBox.env);
  await h.startWorker(['codex'], { ...codexBox.env, CLI_ENV_PASSTHROUGH: codexPassthrough.join(',') });
  key = await h.createKey(url);
});
beforeEach(() => {
  mock.setScript(undefined);
  forgetRequests();
});
afterAll(async () => {
  await h.cleanup();
  await mock?.close();
  for (const s of proxySockets) s.destroy();
  await new Promise((resolve) => proxy.close(resolve));
  await Promise.all(sandboxes.map((s) => s.cleanup()));
  rmSync(fixtures, { recursive: true, force: true });
});

describe('claude lockdown flags', { timeout: 90_000 }, () => {
  // Seen: without --tools '' the model is offered Agent, Bash, Edit, Read, Write, WebFetch...
  // and print mode runs the calls that need no permission prompt: Bash `echo ...` ran and its
  // output went back to the model (so did Read of a file in the cwd). With it the request
  // carries "tools": [] and a tool call gets "No such tool available: Bash".
  it("--tools '': a Bash call the model makes runs nothing", async () => {
    const bash = toolCallThenEcho({
      anthropic: { name: 'Bash', input: { command: 'echo ran-$((1000+337))', description: 'probe' } },
    });
    mock.setScript(bash);
    const control = await runDirect('claude', await claudeSandbox(), 'run it', (a) =>
      without(a, '--tools', ''),
    );
    expect(claudeResult(control.stdout), 'control: the tool runs without the flag').toBe(
      'TOOL_RESULT is_error=false: ran-1337',
    );

    forgetRequests();
    const text = await viaBridge('/generate', 'run it', bash);
    expect(text).toMatch(/^TOOL_RESULT is_error=true: .*No such tool available: Bash/);
    expect(text).not.toContain('ran-1337');
    expect(mock.modelRequests('anthropic')[0]!.body.tools).toEqual([]);
  });

  // Seen: without --setting-sources '' the user (~/.claude/settings.json), project
  // (.claude/settings.json) and local (.claude/settings.local.json) settings all apply: their
  // SessionStart and UserPromptSubmit hooks run shell commands, and their `env` reaches the CLI
  // (ANTHROPIC_CUSTOM_HEADERS shows up as a header of the model request).
  it("--setting-sources '': no settings file applies (no hook runs, no env is taken)", async () => {
    const control = await claudeSandbox({ project: true });
    await runDirect('claude', control, 'hello', (a) => without(a, '--setting-sources', ''));
    expect(planted(control), 'control: hooks of every scope run without the flag').toEqual(
      expect.arrayContaining([
        'hook-prompt-user',
        'hook-prompt-project',
        'hook-prompt-local',
        'hook-session-user',
      ]),
    );
    expect(probeHeaders(), 'control: the settings env applies without the flag').not.toEqual([]);

    // Project and local scope: the adapter's invocation, in a cwd holding those files.
    forgetRequests();
    const locked = await claudeSandbox({ project: true });
    await runDirect('claude', locked, 'hello', asIs);
    expect(planted(locked)).toEqual([]);
    expect(probeHeaders()).toEqual([]);

    // User scope, through the bridge: the worker's HOME holds the settings.
    forgetRequests();
    expect(await viaBridge('/generate', 'hello')).toBe('Hello from mock-anthropic.');
    expect(planted(claudeBox)).toEqual([]);
    expect(probeHeaders()).toEqual([]);
  });

  // Seen: with --setting-sources '' in place, 2.1.197 starts NO MCP server from ~/.claude.json
  // or .mcp.json even without --strict-mcp-config: through the full argv the flag cannot be
  // told from its absence. It is the second lock: with setting sources on, dropping it starts
  // both planted servers and offers their tools to the model (despite --tools ''), keeping it
  // starts none. So it is tested with --setting-sources removed. (It also shuts out servers in
  // /etc/claude-code/managed-mcp.json, which no test may write.)
  it('--strict-mcp-config: no MCP server from ~/.claude.json or .mcp.json starts', async () => {
    const settingsOn = (a: string[]) => without(a, '--setting-sources', '');
    const control = await claudeSandbox({ project: true });
    await runDirect('claude', control, 'hello', (a) => without(settingsOn(a), '--strict-mcp-config'));
    expect(planted(control), 'control: both MCP servers start without the flag').toEqual(
      expect.arrayContaining(['mcp-user', 'mcp-project']),
    );
    expect(toolNames('anthropic'), 'control: their tools are offered without the flag').toEqual(
      expect.arrayContaining(['mcp__probe_user__probe_tool', 'mcp__probe_project__probe_tool']),
    );

    forgetRequests();
    const locked = await claudeSandbox({ project: true });
    await runDirect('claude', locked, 'hello', settingsOn);
    expect(planted(locked).filter((f) => f.startsWith('mcp-'))).toEqual([]);
    expect(toolNames('anthropic').filter((t) => t.startsWith('mcp__'))).toEqual([]);

    // And the bridge, whose worker HOME has the user-scope server.
    forgetRequests();
    await viaBridge('/generate', 'hello');
    expect(planted(claudeBox).filter((f) => f.startsWith('mcp-'))).toEqual([]);
    expect(toolNames('anthropic').filter((t) => t.startsWith('mcp__'))).toEqual([]);
  });

  // Seen: without --no-session-persistence every run writes its transcript (prompt and answer)
  // to ~/.claude/projects/<the cwd as a slug>/<session id>.jsonl.
  it('--no-session-persistence: no transcript is written under HOME', async () => {
    const control = await claudeSandbox();
    await runDirect('claude', control, 'remember me', (a) => without(a, '--no-session-persistence'));
    const projects = join(control.home, '.claude', 'projects');
    const transcripts = filesUnder(projects).filter((f) => f.endsWith('.jsonl'));
    expect(transcripts, 'control: a transcript is written without the flag').toHaveLength(1);
    expect(readFileSync(join(projects, transcripts[0]!), 'utf8')).toContain('remember me');

    await viaBridge('/generate', 'remember me');
    expect(filesUnder(join(claudeBox.home, '.claude', 'projects'))).toEqual([]);
    expect(filesUnder(claudeBox.home).filter((f) => f.endsWith('.jsonl'))).toEqual([]);
  });
});

describe('codex lockdown flags', { timeout: 90_000 }, () => {
  // Seen: without --disable shell_tool the model is offered exec_command and write_stdin; a
  // call runs under the read-only sandbox, which still lets it READ any file: `cat` of a file
  // outside the cwd sent its content back to the model. With it: "unsupported call:
  // exec_command".
  it('--disable shell_tool: a shell call the model makes reads nothing', async () => {
    const cat = toolCallThenEcho({ openai: { name: 'exec_command', input: { cmd: `cat ${secretFile}` } } });
    mock.setScript(cat);
    const control = await runDirect('codex', await codexSandbox(), 'read it', (a) =>
      without(a, '--disable', 'shell_tool'),
    );
    expect(codexMessage(control.stdout), 'control: the shell runs without the flag').toContain(SECRET);

    forgetRequests();
    const text = await viaBridge('/generate-codex', 'read it', cat);
    expect(text).toBe('TOOL_RESULT: unsupported call: exec_command');
    expect(text).not.toContain(SECRET);
    expect(toolNames('openai')).not.toContain('exec_command');
  });

  // Seen: `codex exec` takes its sandbox from config.toml when no --sandbox is given; with
  // sandbox_mode = "danger-full-access" there (planted), a patch from the model's apply_patch
  // tool (no shell needed) wrote its file. With --sandbox read-only the same patch is refused:
  // "patch rejected: writing is blocked by read-only sandbox".
  it('--sandbox read-only: an apply_patch from the model writes nothing, whatever config.toml says', async () => {
    const patch =
      (file: string): Script =>
      ({ toolResult }) =>
        toolResult
          ? { text: `TOOL_RESULT: ${toolResult.text}` }
          : {
              custom: {
                name: 'apply_patch',
                input: `*** Begin Patch\n*** Add File: ${file}\n+written by the model\n*** End Patch\n`,
              },
            };
    const control = await codexSandbox();
    const controlTarget = join(markersOf(control), 'patched');
    mock.setScript(patch(controlTarget));
    const run = await runDirect('codex', control, 'patch it', (a) => without(a, '--sandbox', 'read-only'));
    expect(existsSync(controlTarget), `control: ${codexMessage(run.stdout)}`).toBe(true);

    const target = join(markersOf(codexBox), 'patched');
    const text = await viaBridge('/generate-codex', 'patch it', patch(target));
    expect(text).toMatch(/^TOOL_RESULT: patch rejected: writing is blocked by read-only sandbox/);
    expect(existsSync(target)).toBe(false);
  });

  // Seen: without --ephemeral every run writes its rollout (the whole conversation) to
  // $CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<thread id>.jsonl.
  it('--ephemeral: no session rollout is written under CODEX_HOME', async () => {
    const control = await codexSandbox();
    await runDirect('codex', control, 'remember me', (a) => without(a, '--ephemeral'));
    const sessions = join(control.codexHome, 'sessions');
    const rollouts = filesUnder(sessions).filter((f) => f.endsWith('.jsonl'));
    expect(rollouts, 'control: a rollout is written without the flag').toHaveLength(1);
    expect(readFileSync(join(sessions, rollouts[0]!), 'utf8')).toContain('remember me');

    await viaBridge('/generate-codex', 'remember me');
    expect(filesUnder(join(codexBox.codexHome, 'sessions'))).toEqual([]);
    expect(filesUnder(codexBox.home).filter((f) => /rollout|\.jsonl$/.test(f))).toEqual([]);
  });

  // Seen: without --disable plugins codex syncs its plugin marketplace at start-up: it takes
  // $CODEX_HOME/.tmp/plugins.sync.lock and connects to github.com and api.github.com (here:
  // CONNECTs to an HTTPS proxy that refuses them). With it: no lock, no connection.
  it('--disable plugins: nothing is fetched from GitHub at start-up', async () => {
    const control = await codexSandbox();
    await runDirect('codex', control, 'hello', (a) => without(a, '--disable', 'plugins'));
    expect(proxied, 'control: GitHub is contacted without the flag').toContainEqual(
      expect.stringMatching(/^CONNECT github\.com:443 /),
    );
    expect(existsSync(join(control.codexHome, '.tmp', 'plugins.sync.lock')), 'control').toBe(true);

    forgetRequests();
    expect(await viaBridge('/generate-codex', 'hello')).toBe('Hello from mock-openai.');
    expect(proxied).toEqual([]);
    expect(existsSync(join(codexBox.codexHome, '.tmp', 'plugins.sync.lock'))).toBe(false);
  });
});
