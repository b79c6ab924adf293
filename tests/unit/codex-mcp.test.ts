import { describe, expect, it } from 'vitest';
import { codexArgs, codexMcpServers } from '@cli-bridge/worker';

describe("codex: the operator's MCP servers are switched off", () => {
  it('finds every server a config.toml declares, however it is written', () => {
    const toml = [
      'model = "gpt-5-codex"',
      'mcp_servers.top.command = "a"',
      '[model_providers.mock]',
      'name = "mock"',
      '[mcp_servers.files]',
      'command = "npx"',
      '[mcp_servers.files.env]',
      'TOKEN = "1"',
      '[mcp_servers."my.server"]',
      "[ mcp_servers . 'literal' ] # comment",
      '[mcp_servers]',
      'inline = { command = "y" }',
      '"quoted" = { command = "z" }',
      '[[skills]]',
      'not_a_server = 1',
      '[profiles.p]',
      'mcp_servers = 1',
    ].join('\n');
    expect(codexMcpServers(toml)).toEqual(['top', 'files', 'my.server', 'literal', 'inline', 'quoted']);
    expect(codexMcpServers('model = "x"\n')).toEqual([]);
  });

  it('adds one -c mcp_servers.<name>.enabled=false per server, before the model', () => {
    const args = codexArgs('gpt-5-codex', { mcpServers: ['files', 'db'] });
    const m = args.indexOf('-m');
    expect(args.slice(m - 4, m)).toEqual([
      '-c',
      'mcp_servers.files.enabled=false',
      '-c',
      'mcp_servers.db.enabled=false',
    ]);
    expect(codexArgs('gpt-5-codex').some((a) => a.startsWith('mcp_servers.'))).toBe(false);
  });
});
