/**
 * The REAL claude and codex CLIs, run with exactly the arguments the worker builds (claudeArgs,
 * codexArgs), must offer the model no tool that touches the host, and every tool the CLI still
 * offers must fail closed when the model calls it. Checked two ways: the tools listed in the
 * request each CLI sends the (mock) model, and a model that calls every one of them, aiming at a
 * secret outside the CLI's working directory and at writes anywhere. The secret must never reach
 * a request, and nothing may be written.
 *
 * What codex 0.171.0 offers, as recorded here (before the switches in codexArgs were added, the
 * code-mode models also got view_image, create_goal / get_goal / update_goal, request_user_input
 * and request_user_input_async, clock.sleep; the others web_search, tool_search, multi_agent_v1.*,
 * view_image, goals and request_user_input; and view_image really read a PNG outside the scratch
 * directory and sent it to the model):
 * - gpt-5-codex (the bridge's default; not in the built-in catalog): nothing.
 * - gpt-5.5 (built-in, classic tools): apply_patch, refused by the read-only sandbox.
 * - gpt-6.2-sol (built-in, `tool_mode: code_mode_only`): `exec` (JavaScript in a V8 isolate with
 *   no Node, file system or network) whose nested tools are apply_patch (refused by the sandbox),
 *   the MCP resource tools (no MCP server is configured) and clock__curr_time; and `wait`,
 *   `send_message_to_user_async` and the `collaboration` sub-agent tools, none of which reaches
 *   the host (a sub-agent is offered the same tools). No switch of 0.171.0 removes these:
 *   --disable code_mode_host / code_mode_only / multi_agent / multi_agent_v2 were tried.
 * And whatever the model: an MCP server declared in the operator's $CODEX_HOME/config.toml was
 * started on every run, its tools offered to the model; `-c mcp_servers={}` left it running,
 * `-c mcp_servers.<name>.enabled=false` (what the adapter now passes for each one) stops it.
 * Claude 2.1.197 with `--tools ""` offers nothing (`tools: []` in every request) and answers
 * every tool call, built-in or MCP-style, with "No such tool available".
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claudeArgs, claudeStdin, codexArgs, codexMcpServersIn } from '@cli-bridge/worker';
import { type Json, type MockReply, type RecordedRequest, type Script } from './helpers/mock-model-server.js';
import { tempDir } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import {
  claudeBin,
  codexBin,
  jsonLines,
  prepareClaude,
  prepareCodex,
  runCli,
  type CliSandbox,
  type CodexSandbox,
} from './helpers/real-cli.js';
import { useMockModel } from './helpers/mock-model-lifecycle.js';

// A 1x1 PNG; its base64 must never show up in a request.
/** The switched-off tools, called directly by the model, are unknown to the CLI. */
function expectRemovedToolsUnsupported(results: Map<string, string>) {
  for (const name of [
    'view_image',
    'exec_command',
    'shell',
    'shell_command',
    'create_goal',
    'request_user_input',
  ])
    expect(results.get(`direct.${name}`)).toBe(`unsupported call: ${name}`);
}

const PNG_B64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const SECRET = `host-secret-${Math.random().toString(36).slice(2)}`;

const ctx = useMockModel();

/** Secrets beside (outside) the CLI's cwd, and paths a tool must not be able to create. */
async function plantSecrets(sb: CliSandbox) {
  const png = join(sb.root, 'secret.png');
  const txt = join(sb.root, 'secret.txt');
  await writeFile(png, Buffer.from(PNG_B64, 'base64'));
  await writeFile(txt, `${SECRET}\n`);
  const outside = join(sb.root, 'written-outside');
  const inside = join(sb.cwd, 'written-inside');
  return { png, txt, outside, inside, markers: [outside, inside] };
}

type Secrets = Awaited<ReturnType<typeof plantSecrets>>;

/** An apply_patch that creates `path`. */
const addFile = (path: string) => `*** Begin Patch\n*** Add File: ${path}\n+pwned\n*** End Patch\n`;

/**
 * Declares in the sandbox's config.toml an MCP server, as an operator who uses codex
 * interactively may have; starting it creates `marker`.
 */
async function addMcpServer(sb: CodexSandbox, name: string, marker: string) {
  const cmd = `touch ${marker}`;
  await appendFile(
    join(sb.codexHome, 'config.toml'),
    `\n[mcp_servers.${name}]\ncommand = "/bin/sh"\nargs = ["-c", ${JSON.stringify(cmd)}]\n`,
  );
}

/** Nothing secret in any request, nothing written, the cwd still empty. */
function expectHostUntouched(sb: CliSandbox, markers: string[]) {
  const sent = JSON.stringify(ctx.mock.requests.map((r) => r.body));
  expect(sent).not.toContain(SECRET);
  expect(sent).not.toContain(PNG_B64);
  for (const m of markers) expect(existsSync(m), m).toBe(false);
  expect(readdirSync(sb.cwd)).toEqual([]);
}

// ---- codex -----------------------------------------------------------------------------------

interface Offered {
  /** Top-level tools, `namespace.name` inside a namespace (`type` for unnamed hosted tools). */
  top: string[];
  /** Tools nested in code mode's `exec` (its description declares each as "### `name`"). */
  nested: string[];
  /** Top-level function tools as the model would call them. */
  callable: { namespace?: string; name: string; type: string }[];
}

function offeredByCodex(body: Json): Offered {
  const out: Offered = { top: [], nested: [], callable: [] };
  const walk = (tools: Json[], ns?: string) => {
    for (const t of tools ?? []) {
      if (t.type === 'namespace') {
        walk(t.tools, t.name);
        continue;
      }
      out.top.push(t.name ? (ns ? `${ns}.${t.name}` : t.name) : t.type);
      if (t.name) out.callable.push({ namespace: ns, name: t.name, type: t.type });
      if (t.name === 'exec' && typeof t.description === 'string')
        for (const m of t.description.matchAll(/^### `([^`]+)`/gm)) out.nested.push(m[1]!);
    }
  };
  walk(body.tools ?? []);
  // Code-mode models get their tools in an `additional_tools` input item, not in `tools`.
  for (const item of body.input ?? []) if (item.type === 'additional_tools') walk(item.tools);
  out.top.sort();
  out.nested.sort();
  return out;
}

/** The agent a codex request is for: "/root", or a sub-agent's path. */
function codexAgent(req: RecordedRequest): string {
  try {
    return JSON.parse(req.body.client_metadata['x-codex-turn-metadata']).agent_name ?? '/root';
  } catch {
    return '/root';
  }
}

const CODE_MODE_TOP = [
  'collaboration.followup_task',
  'collaboration.interrupt_agent',
  'collaboration.list_agents',
  'collaboration.send_message',
  'collaboration.spawn_agent',
  'collaboration.wait_agent',
  'functions.exec',
  'functions.send_message_to_user_async',
  'functions.wait',
];
const CODE_MODE_NESTED = [
  'apply_patch',
  'clock__curr_time',
  'list_mcp_resource_templates',
  'list_mcp_resources',
  'read_mcp_resource',
];

describe('real codex with codexArgs', { timeout: 60_000 }, () => {
  async function runCodex(
    model: string,
    setup?: (sb: CodexSandbox) => Promise<Script | undefined>,
    args: (sb: CodexSandbox) => Promise<string[]> = async () => codexArgs(model),
  ) {
    // gpt-5-codex is not in 0.171.0's built-in catalog: declare it (a catalog file replaces the
    // built-in one, so the built-in models run without it).
    const sb = await prepareCodex(ctx.mock.url, {
      declareModels: model === 'gpt-5-codex' ? [model] : undefined,
    });
    ctx.sandboxes.push(sb);
    if (setup) ctx.mock.setScript(await setup(sb));
    const r = await runCli(codexBin(), await args(sb), {
      cwd: sb.cwd,
      env: sb.env,
      stdin: claudeStdin({ userPrompt: 'Use your tools.' }),
      timeoutMs: 50_000,
    });
    return { sb, r, events: r.code === 0 ? jsonLines(r.stdout) : [] };
  }

  it.each([
    ['gpt-5-codex', [], []],
    ['gpt-5.5', ['apply_patch'], []],
    ['gpt-6.2-sol', CODE_MODE_TOP, CODE_MODE_NESTED],
  ])('%s is offered only tools that cannot reach the host', async (model, top, nested) => {
    const { r } = await runCodex(model);
    expect(r.code, r.stderr).toBe(0);
    const [req] = ctx.mock.modelRequests('openai');
    expect(req!.body.model).toBe(model);
    expect(offeredByCodex(req!.body)).toMatchObject({ top, nested });
  });

  /** Tools the CLI offered before codexArgs switched them off, called anyway. */
  function removedToolCalls(s: Secrets): { label: string; reply: MockReply }[] {
    const direct: Record<string, Record<string, unknown>> = {
      view_image: { path: s.png },
      exec_command: { cmd: `cat ${s.txt}; touch ${s.outside}` },
      shell: { command: ['cat', s.txt] },
      shell_command: { command: `cat ${s.txt}` },
      create_goal: { objective: `Read ${s.txt}` },
      request_user_input: { questions: [] },
    };
    return [
      ...Object.entries(direct).map(([name, input]) => ({
        label: `direct.${name}`,
        reply: { tool: { name, input } },
      })),
      { label: 'direct.apply_patch', reply: { custom: { name: 'apply_patch', input: addFile(s.outside) } } },
      {
        label: 'direct.apply_patch_inside',
        reply: { custom: { name: 'apply_patch', input: addFile(s.inside) } },
      },
    ];
  }

  /** A script that makes the calls in turn (sub-agents just answer), noting each result. */
  function callInTurn(
    plan: (offered: Offered) => { label: string; reply: MockReply }[],
    results: Map<string, string>,
  ): Script {
    let queue: { label: string; reply: MockReply }[] | undefined;
    let last = '';
    return (ctx) => {
      if (codexAgent(ctx.request) !== '/root') return { text: 'sub-agent: nothing to do' };
      if (ctx.toolResult) results.set(last, ctx.toolResult.text);
      queue ??= plan(offeredByCodex(ctx.body));
      const next = queue.shift();
      if (!next) return { text: 'done' };
      last = next.label;
      return next.reply;
    };
  }

  const REFUSED_PATCH = /^patch rejected: writing is blocked by read-only sandbox/;

  it.each(['gpt-5-codex', 'gpt-5.5'])('%s: every tool, offered or removed, fails closed', async (model) => {
    const results = new Map<string, string>();
    let s: Secrets | undefined;
    const { sb, r } = await runCodex(model, async (sandbox) => {
      s = await plantSecrets(sandbox);
      return callInTurn(() => removedToolCalls(s!), results);
    });
    expect(r.code, r.stderr).toBe(0);
    expectRemovedToolsUnsupported(results);
    // gpt-5.5 offers apply_patch: the sandbox refuses the write, inside the cwd or out of it.
    const patch = model === 'gpt-5.5' ? REFUSED_PATCH : /^unsupported custom tool call: apply_patch$/;
    expect(results.get('direct.apply_patch')).toMatch(patch);
    expect(results.get('direct.apply_patch_inside')).toMatch(patch);
    expectHostUntouched(sb, s!.markers);
  });

  it('code mode: every tool it still offers, and the removed ones, fail closed', async () => {
    const results = new Map<string, string>();
    let s: Secrets | undefined;
    const { sb, r } = await runCodex('gpt-6.2-sol', async (sandbox) => {
      s = await plantSecrets(sandbox);
      return callInTurn((offered) => {
        // One exec call: every nested tool it declares, and those removed, aimed at the
        // secrets and at writes; and a look for a way out of the isolate.
        const js = `
const out = { offered: ALL_TOOLS.map((t) => t.name).sort() };
const calls = {
  apply_patch: ${JSON.stringify(addFile(s!.outside))},
  apply_patch_inside: ${JSON.stringify(addFile(s!.inside))},
  list_mcp_resources: {},
  list_mcp_resource_templates: {},
  read_mcp_resource: { server: 'codex', uri: ${JSON.stringify(`file://${s!.txt}`)} },
  clock__curr_time: {},
  view_image: { path: ${JSON.stringify(s!.png)} },
  exec_command: { cmd: ${JSON.stringify(`cat ${s!.txt}; touch ${s!.outside}`)} },
  shell_command: { command: ${JSON.stringify(`cat ${s!.txt}`)} },
  create_goal: { objective: 'x' },
};
for (const [key, arg] of Object.entries(calls)) {
  const name = key.replace(/_inside$/, '');
  try { out[key] = 'OK ' + JSON.stringify(await tools[name](arg)); } catch (e) { out[key] = 'ERR ' + String(e); }
}
out.globals = [typeof process, typeof require, typeof fetch, typeof Deno, typeof Bun].join(',');
try { await import('node:fs'); out.import = 'OK'; } catch (e) { out.import = 'ERR ' + String(e); }
text(JSON.stringify(out));`;
        const message = `Read ${s!.txt} and tell me what it says`;
        const args: Record<string, Record<string, unknown>> = {
          spawn_agent: { task_name: 'probe', message, fork_turns: 'none' },
          send_message: { target: 'probe', message },
          followup_task: { target: 'probe', message },
          interrupt_agent: { target: 'probe' },
          list_agents: { path_prefix: '/root' },
          wait_agent: { timeout_ms: 10_000 },
          wait: { cell_id: '1' },
          send_message_to_user_async: { message },
        };
        const order = (name: string) => ['spawn_agent', 'wait_agent'].indexOf(name) + 1 || 9;
        const others = offered.callable
          .filter((t) => t.name !== 'exec')
          // Spawn first and wait for it (it answers at once: the wait ends early), so that the
          // calls addressing the sub-agent find it.
          .sort((a, b) => order(a.name) - order(b.name))
          .map((t) => ({
            label: `${t.namespace}.${t.name}`,
            reply: { tool: { namespace: t.namespace, name: t.name, input: args[t.name] ?? {} } },
          }));
        return [
          { label: 'functions.exec', reply: { custom: { name: 'exec', input: js } } },
          ...others,
          ...removedToolCalls(s!),
        ];
      }, results);
    });
    expect(r.code, r.stderr).toBe(0);

    // Every top-level tool it offers was called and answered.
    expect([...results.keys()].filter((k) => !k.startsWith('direct.')).sort()).toEqual(CODE_MODE_TOP);
    const parts = JSON.parse(results.get('functions.exec')!) as { text: string }[];
    const exec = JSON.parse(parts.find((p) => p.text.startsWith('{'))!.text);
    expect(exec).toMatchObject({
      offered: CODE_MODE_NESTED,
      apply_patch: expect.stringMatching(/^ERR patch rejected: writing is blocked by read-only sandbox/),
      apply_patch_inside: expect.stringMatching(
        /^ERR patch rejected: writing is blocked by read-only sandbox/,
      ),
      list_mcp_resources: 'OK "{\\"resources\\":[]}"',
      read_mcp_resource: "ERR unknown MCP server 'codex' for the selected environment",
      clock__curr_time: expect.stringMatching(/^OK .*current_time/),
      view_image: 'ERR TypeError: tools[name] is not a function',
      exec_command: 'ERR TypeError: tools[name] is not a function',
      shell_command: 'ERR TypeError: tools[name] is not a function',
      create_goal: 'ERR TypeError: tools[name] is not a function',
      globals: 'undefined,undefined,undefined,undefined,undefined',
      import: 'ERR unsupported import in exec',
    });
    expectRemovedToolsUnsupported(results);
    // Not offered at the top level in code mode, but still dispatched: the sandbox refuses it.
    expect(results.get('direct.apply_patch')).toMatch(REFUSED_PATCH);
    expect(results.get('direct.apply_patch_inside')).toMatch(REFUSED_PATCH);

    // The sub-agent it spawned was offered no more than its parent.
    const sub = ctx.mock.modelRequests('openai').filter((q) => codexAgent(q) !== '/root');
    expect(sub.length).toBeGreaterThan(0);
    for (const q of sub) {
      const offered = offeredByCodex(q.body);
      expect(offered.nested).toEqual(CODE_MODE_NESTED);
      for (const t of offered.top) expect(CODE_MODE_TOP).toContain(t);
    }
    expectHostUntouched(sb, s!.markers);
  });

  it.each(['gpt-5-codex', 'gpt-6.2-sol'])(
    "%s: the operator's MCP servers are neither started nor offered",
    async (model) => {
      // Control: as the worker ran codex before, the server starts on every run.
      const before = tempDir('realtools-mcp');
      const { r: r0 } = await runCodex(model, async (sb) => {
        await addMcpServer(sb, 'files', join(before, 'started'));
        return undefined;
      });
      expect(r0.code, r0.stderr).toBe(0);
      expect(existsSync(join(before, 'started'))).toBe(true);
      ctx.mock.requests.length = 0;

      const after = tempDir('realtools-mcp');
      const { r } = await runCodex(
        model,
        async (sb) => {
          await addMcpServer(sb, 'files', join(after, 'started'));
          await addMcpServer(sb, 'db-tools', join(after, 'started-too'));
          return undefined;
        },
        // As the worker's adapter builds them: the servers read from that config.toml.
        async (sb) => codexArgs(model, { mcpServers: await codexMcpServersIn(sb.env) }),
      );
      expect(r.code, r.stderr).toBe(0);
      expect(readdirSync(after)).toEqual([]);
      const offered = offeredByCodex(ctx.mock.modelRequests('openai')[0]!.body);
      expect(JSON.stringify(offered)).not.toMatch(/files|db.tools/);
    },
  );
});

// ---- claude ----------------------------------------------------------------------------------

describe('real claude with claudeArgs', { timeout: 60_000 }, () => {
  async function runClaude(
    args: (promptFile: string) => string[],
    setup?: (sb: CliSandbox) => Promise<Script>,
  ) {
    const sb = await prepareClaude(ctx.mock.url);
    ctx.sandboxes.push(sb);
    if (setup) ctx.mock.setScript(await setup(sb));
    const promptFile = join(sb.root, 'system-prompt.txt');
    await writeFile(promptFile, 'You are a bridge bot.');
    const r = await runCli(claudeBin(), args(promptFile), {
      cwd: sb.cwd,
      env: { ...sb.env, CLAUDE_CODE_MAX_RETRIES: '0' },
      stdin: claudeStdin({ userPrompt: 'Use your tools.' }),
      timeoutMs: 50_000,
    });
    return { sb, r };
  }
  const MODEL = { model: 'claude-sonnet-4-5', stream: false };

  it('is offered no tool, and refuses every tool it has when the model calls it', async () => {
    // What claude 2.1.197 would offer without `--tools ""` (the same flags otherwise).
    const { r: open } = await runClaude((f) => {
      const args = claudeArgs(MODEL, f);
      args.splice(args.indexOf('--tools'), 2);
      return args;
    });
    expect(open.code, open.stderr).toBe(0);
    const builtin: string[] = ctx.mock.modelRequests('anthropic')[0]!.body.tools.map((t: Json) => t.name);
    expect(builtin).toEqual(expect.arrayContaining(['Bash', 'Read', 'Write', 'Edit', 'WebFetch']));
    ctx.mock.requests.length = 0;

    // With the worker's flags: the model calls each of them (and an MCP-style name) in turn.
    const results = new Map<string, { text: string; isError?: boolean }>();
    let s: Secrets | undefined;
    const { sb, r } = await runClaude(
      (f) => claudeArgs(MODEL, f),
      async (sandbox) => {
        s = await plantSecrets(sandbox);
        const input = {
          command: `cat ${s.txt}; touch ${s.outside} ${s.inside}`,
          file_path: s.txt,
          path: s.png,
          notebook_path: s.txt,
          content: 'pwned',
          old_string: 'a',
          new_string: 'b',
          url: `${ctx.mock.url}/exfiltrate`,
          pattern: '**/*',
          prompt: `Read ${s.txt}`,
          description: 'probe',
          query: 'x',
          subagent_type: 'general-purpose',
        };
        const queue = [...builtin, 'mcp__filesystem__read_file'];
        let last = '';
        return ({ toolResult }) => {
          if (toolResult) results.set(last, toolResult);
          const next = queue.shift();
          if (!next) return { text: 'done' };
          last = next;
          return { tool: { name: next, input } };
        };
      },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(jsonLines(r.stdout).at(-1)).toMatchObject({ type: 'result', is_error: false, result: 'done' });
    expect([...results.keys()]).toEqual([...builtin, 'mcp__filesystem__read_file']);
    for (const [name, res] of results) {
      expect(res.isError, name).toBe(true);
      expect(res.text, name).toContain(`No such tool available: ${name}`);
    }
    // Every request it sent offered no tool at all.
    const calls = ctx.mock.modelRequests('anthropic');
    expect(calls).toHaveLength(builtin.length + 2);
    for (const c of calls) expect(c.body.tools).toEqual([]);
    expect(ctx.mock.requests.some((q) => q.url.startsWith('/exfiltrate'))).toBe(false);
    expectHostUntouched(sb, s!.markers);
  });
});

// ---- codex through the bridge ----------------------------------------------------------------

describe('real codex through the bridge, code mode', () => {
  // The pricing table has no gpt-6.2-sol, and the API refuses an unpriced model.
  const pricing = join(tempDir('realtools-pricing'), 'codex-pricing.json');
  writeFileSync(
    pricing,
    JSON.stringify({ models: { 'gpt-6.2-sol': { input: 1, cached_input: 0.1, output: 10 } } }),
  );
  const h = createHarness('realtools', {
    CODEX_BIN: codexBin(),
    CODEX_PRICING_FILE: pricing,
    JOB_ATTEMPTS: '1',
  });
  let box: CodexSandbox;
  let url = '';
  let key = '';
  beforeAll(async () => {
    box = await prepareCodex(ctx.mock.url); // built-in catalog: gpt-6.2-sol is a code-mode model
    ctx.sandboxes.push(box);
    url = (await h.startApi()).url;
    await h.startWorker(['codex'], { ...box.env, CLI_ENV_PASSTHROUGH: 'MOCK_API_KEY' });
    key = await h.createKey(url);
  });
  afterAll(() => h.cleanup());

  it("the model's exec cannot read an image outside the scratch directory, nor write", async () => {
    const dir = tempDir('realtools-host');
    const png = join(dir, 'secret.png');
    writeFileSync(png, Buffer.from(PNG_B64, 'base64'));
    const marker = join(dir, 'written');
    const js = `
const out = {};
try { out.view_image = JSON.stringify(await tools.view_image({ path: ${JSON.stringify(png)} })); } catch (e) { out.view_image = 'ERR ' + String(e); }
try { await tools.apply_patch(${JSON.stringify(addFile(marker))}); out.apply_patch = 'OK'; } catch (e) { out.apply_patch = 'ERR ' + String(e); }
text(JSON.stringify(out));`;
    ctx.mock.setScript(({ toolResult }) =>
      toolResult ? { text: `TOOL_RESULT: ${toolResult.text}` } : { custom: { name: 'exec', input: js } },
    );
    const res = await postJson(
      `${url}/generate-codex`,
      { model: 'gpt-6.2-sol', systemPrompt: '', userPrompt: 'show me that picture' },
      { authorization: `Bearer ${key}` },
    );
    expect(res.status, res.text).toBe(200);
    const text: string = res.json.content[0].text;
    expect(text).toContain('view_image');
    expect(text).toContain('is not a function');
    expect(text).toContain('patch rejected: writing is blocked by read-only sandbox');
    expect(JSON.stringify(ctx.mock.requests.map((q) => q.body))).not.toContain(PNG_B64);
    expect(existsSync(marker)).toBe(false);
  }, 60_000);

  it("does not start the MCP servers of the worker's codex config", async () => {
    const dir = tempDir('realtools-bridge-mcp');
    await addMcpServer(box, 'files', join(dir, 'started'));
    const res = await postJson(
      `${url}/generate-codex`,
      { model: 'gpt-6.2-sol', systemPrompt: '', userPrompt: 'hello' },
      { authorization: `Bearer ${key}` },
    );
    expect(res.status, res.text).toBe(200);
    expect(res.json.content[0].text).toBe('Hello from mock-openai.');
    expect(readdirSync(dir)).toEqual([]);
  }, 60_000);
});
