/**
 * The mock model server's life in a test file that runs the real CLIs: started once, its script
 * and recorded requests reset before each test, closed (with the CLI sandboxes the file made)
 * at the end. Call at the top level of the file.
 */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { startMockModelServer, type MockModelServer } from './mock-model-server.js';
import type { CliSandbox } from './real-cli.js';

export interface MockModelContext {
  /** Set once the file's beforeAll ran. */
  mock: MockModelServer;
  /** Sandboxes to remove at the end. */
  sandboxes: CliSandbox[];
}

export function useMockModel(): MockModelContext {
  const ctx = { sandboxes: [] } as unknown as MockModelContext;
  beforeAll(async () => {
    ctx.mock = await startMockModelServer();
  });
  beforeEach(() => {
    ctx.mock.setScript(undefined);
    ctx.mock.requests.length = 0;
  });
  afterAll(async () => {
    await ctx.mock?.close();
    await Promise.all(ctx.sandboxes.map((s) => s.cleanup()));
  });
  return ctx;
}
